"""One submission as people read it, shared by the household's submission page and the review page: every answer
with the published form's labels and value labels, times in China time, people by their display name, photos as
thumbnails, ID numbers masked; and, for a visit, its evidence verdict with the reasons.
"""
from __future__ import annotations

import re
import threading
from typing import Any
from xml.etree.ElementTree import Element

from flask import url_for
from flask_babel import gettext, lazy_gettext
from sqlalchemy import select

from forms.labels import EMPTY_LABELS, FormLabels, read_labels
from forms.models import Form, FormVersion
from server.i18n import current_lang
from server.pages.common import PERSON_FIELDS, TIMESTAMP, display_names, local_time
from server.runtime import db
from sync.evidence import BAD_IMAGE
from sync.forms import DEFINITIONS, HOUSEHOLD_FIELDS, field_label, photo_role, value_label
from sync.idcard import mask_in_xml
from sync.instance import local, parse_instance
from sync.models import Submission, SubmissionAttachment
from sync.records import Visit
from sync.review import visit_reasons

META_LABELS = {"start": lazy_gettext("开始时间"), "end": lazy_gettext("结束时间"), "today": lazy_gettext("填表日期"),
               "deviceid": lazy_gettext("设备号"), "username": lazy_gettext("用户名")}


def attachment_url(form: str, instance_id: str, filename: str, size: str | None = None) -> str:
    if size:
        return url_for("api.submission_attachment", xml_form_id=form, instance_id=instance_id, filename=filename,
                       size=size)
    return url_for("api.submission_attachment", xml_form_id=form, instance_id=instance_id, filename=filename)


_labels_cache: dict[tuple[str, str], FormLabels] = {}
_labels_lock = threading.Lock()


def labels_for_versions(version_ids: dict[str, int | None]) -> dict[str, FormLabels]:
    """Labels per form id for the given form versions, cached by the XForm's hash (versions never change)."""
    lang = current_lang()
    wanted = {v for v in version_ids.values() if v is not None}
    out: dict[str, FormLabels] = {form: EMPTY_LABELS for form in version_ids}
    if not wanted:
        return out
    hashes = dict(db().execute(select(FormVersion.id, FormVersion.xform_md5).where(FormVersion.id.in_(wanted))).all())
    missing = {vid for vid in wanted if (hashes.get(vid), lang) not in _labels_cache}
    if missing:
        for vid, xform in db().execute(select(FormVersion.id, FormVersion.xform).where(FormVersion.id.in_(missing))):
            labels = read_labels(xform, lang)
            with _labels_lock:
                if len(_labels_cache) > 256:
                    _labels_cache.clear()
                _labels_cache[(hashes[vid], lang)] = labels
    for form, vid in version_ids.items():
        if vid is not None:
            out[form] = _labels_cache.get((hashes.get(vid), lang), EMPTY_LABELS)
    return out


def current_labels() -> dict[str, FormLabels]:
    rows = dict(db().execute(select(Form.xml_form_id, Form.current_version_id)
                             .where(Form.xml_form_id.in_(DEFINITIONS))).all())
    return labels_for_versions({form: rows.get(form) for form in DEFINITIONS})


def photo(form: str, instance_id: str, filename: str, role: str,
          attachments: dict[tuple[str, str], SubmissionAttachment]) -> dict[str, Any]:
    """A photo as the page shows it: a thumbnail once the worker made one, otherwise why not. `role` is the
    form's photo role (named by the form's module) or already a caption."""
    found = attachments.get((instance_id, filename))
    item = {"filename": filename, "role": photo_role(form, role, current_lang()),
            "id": "p-" + re.sub(r"[^A-Za-z0-9_-]", "-", f"{instance_id}-{filename}")}
    if found is None or found.sha256 is None:
        return {**item, "state": "missing", "note": gettext("照片尚未上传")}
    if found.thumb_sha256 is not None:
        return {**item, "state": "ready", "thumb": attachment_url(form, instance_id, filename, "thumb"),
                "preview": attachment_url(form, instance_id, filename, "preview"),
                "original": attachment_url(form, instance_id, filename)}
    if found.image_check is None:
        return {**item, "state": "processing", "note": gettext("照片处理中"),
                "original": attachment_url(form, instance_id, filename)}
    note = gettext("不是有效的图片") if found.image_check in BAD_IMAGE else gettext("无法生成缩略图")
    return {**item, "state": "invalid", "note": f"{note}（{found.image_check}）",
            "original": attachment_url(form, instance_id, filename)}


def yes_no(value: Any) -> tuple[str, str]:
    """(text, tone) for a yes/no field."""
    if value == "yes":
        return gettext("是"), "ok"
    if value == "no":
        return gettext("否"), "bad"
    return gettext("未记录"), "unknown"


def display_value(value: Any, field: str | None = None) -> str:
    """A household field's value as people read it: its value label, yes/no in words, else as it is."""
    named = value_label(field, value, current_lang()) if field else None
    if named is not None:
        return named
    if value in ("yes", "no"):
        return yes_no(value)[0]
    return "" if value is None else str(value)


def answers(submission: Submission, xml_form_id: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(the answers in form order with group headings, the files no answer names) of one submission."""
    labels = labels_for_versions({xml_form_id: submission.form_version_id})[xml_form_id]
    attachments = {(submission.instance_id, a.filename): a for a in submission.attachments}
    parsed = parse_instance(mask_in_xml(submission.xml), stored=True)
    rows = list(_instance_rows(parsed.root, labels))
    _name_people(rows)
    for item in rows:
        if item.get("binary") and item["raw"]:
            item["photo"] = photo(xml_form_id, submission.instance_id, item["raw"], item["label"], attachments)
    shown = {item["raw"] for item in rows if item.get("photo")}
    files = [photo(xml_form_id, submission.instance_id, a.filename, a.filename, attachments)
             for a in submission.attachments if a.filename not in shown]
    return rows, files


def visit_evidence(submission: Submission) -> dict[str, Any] | None:
    """A visit's evidence verdict as the household file shows it, with its reasons worded (the household record
    keeps the words with their figures; the visits table only the codes). None for any other submission."""
    found = db().execute(select(Visit.household_id, Visit.verdict, Visit.reasons)
                         .where(Visit.submission_id == submission.id)).first()
    if found is None:
        return None
    lang = current_lang()
    worded = visit_reasons(db(), [found.household_id]).get(submission.instance_id, [])
    return {"verdict": found.verdict,
            "reasons": [r.get("message_en") if lang == "en" else r.get("message_zh") for r in worded]
            or [str(code) for code in found.reasons or []]}


def _instance_rows(root: Element, labels: FormLabels):
    """The instance's answered leaves in document order, with group headings; meta is shown apart."""
    counts: dict[str, int] = {}

    def walk(element: Element, path: str, depth: int):
        for child in element:
            name = local(child.tag)
            child_path = f"{path}{name}"
            if depth == 0 and name == "meta":
                continue
            if len(child):
                counts[child_path] = counts.get(child_path, 0) + 1
                heading = labels.questions.get(child_path) or name
                if child_path in labels.repeats or sum(1 for c in element if local(c.tag) == name) > 1:
                    heading = f"{heading} #{counts[child_path]}"
                yield {"heading": heading, "depth": depth}
                yield from walk(child, child_path + "/", depth + 1)
                continue
            value = (child.text or "").strip()
            if not value:
                continue
            label = labels.questions.get(child_path)
            shown = labels.choice(child_path, value)
            if not label and name in HOUSEHOLD_FIELDS:  # a calculation that sets a household field
                label = field_label(name, current_lang())
                shown = display_value(value, name)
            elif not label and name in META_LABELS:
                label = str(META_LABELS[name])
            code = shown != value  # a choice: its label, with the stored code beside it
            if TIMESTAMP.match(value):
                shown, code = local_time(value), False
            yield {"heading": None, "name": name, "path": child_path, "label": label or name, "raw": value,
                   "value": shown, "code": code, "binary": child_path in labels.binary, "depth": depth}

    yield from walk(root, "", 0)


def _name_people(rows: list[dict[str, Any]]) -> None:
    """Answers that name a user (the visitor, Collect's user name…) show the user's display name."""
    people = [item for item in rows if item.get("name") in PERSON_FIELDS]
    names = display_names(item["raw"] for item in people)
    for item in people:
        item["value"] = names.get(item["raw"], item["value"])
