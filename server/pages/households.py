"""One file per household (一户一档): the list of the caller's households, a household's file (status at a glance,
members, the timeline of everything recorded, photos) and the submissions behind each value (数出有源).

Everything is read within the caller's areas; another area's household or submission is 404, as if it did
not exist. The read transaction ends before rendering (on SQLite every transaction holds the write lock).
"""
from __future__ import annotations

import dataclasses
import math
import re
import threading
from typing import Any
from xml.etree.ElementTree import Element

from defusedxml.ElementTree import fromstring
from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext, lazy_gettext
from sqlalchemy import func, or_, select

from forms.models import Form, FormVersion
from server import audit
from server.readmodels import COLORS, STATES, household_conditions, metres, month_state, resolve_area
from server.errors import Problem
from server.i18n import current_lang
from server.models import User
from server.pages.common import (PERSON_FIELDS, TIMESTAMP, current_principal, display_names, local_time,
                                 month_arg, page, page_number, this_month)
from server.scope import scoped_household
from server.runtime import db, runtime
from sync.conflicts import LOCATION_CONFIRMERS, confirm_location
from sync.evidence import BAD_IMAGE
from sync.idcard import mask, mask_in_xml
from sync.instance import local, parse_instance
from sync.models import HOUSEHOLD_STATUSES, Area, Household, Submission, SubmissionAttachment
from sync.records import Conflict, Finding, HouseholdRecord, Visit

bp = Blueprint("households", __name__, url_prefix="/households")

PER_PAGE = 50
FORMS = ("household_visit", "housing_assessment", "income_survey")
FORM_TITLES = {"household_visit": lazy_gettext("入户走访"), "housing_assessment": lazy_gettext("住房安全鉴定"),
               "income_survey": lazy_gettext("家庭收入调查")}
STATE_LABELS = {"verified": lazy_gettext("已走访（证据核实）"), "questionable": lazy_gettext("走访存疑"),
                "not_visited": lazy_gettext("未走访")}
VERDICT_LABELS = {"verified": lazy_gettext("证据核实"), "questionable": lazy_gettext("存疑"),
                  "no_evidence": lazy_gettext("无证据"), None: lazy_gettext("待核验")}
#: household fields as the file and conflicts name them
FIELD_LABELS = {
    "status": lazy_gettext("户类型"), "food_secure": lazy_gettext("不愁吃"), "clothing_secure": lazy_gettext("不愁穿"),
    "education_secure": lazy_gettext("义务教育有保障"), "medical_secure": lazy_gettext("基本医疗有保障"),
    "housing_safe": lazy_gettext("住房安全有保障"), "water_safe": lazy_gettext("饮水安全有保障"),
    "housing_grade": lazy_gettext("住房安全等级"), "renovation_state": lazy_gettext("危房改造进度"),
    "income_per_capita": lazy_gettext("人均纯收入"), "income_year": lazy_gettext("收入年度"),
    "last_visit": lazy_gettext("最近走访日期"), "housing_assessed": lazy_gettext("最近鉴定日期"),
    "water_quantity": lazy_gettext("水量"), "water_quality": lazy_gettext("水质"),
    "water_convenience": lazy_gettext("用水方便程度"), "water_reliability": lazy_gettext("供水保证率"),
    "housing_sign_present": lazy_gettext("住房安全等级标识牌"), "water_sign_present": lazy_gettext("饮水安全标识牌"),
}
RENOVATION_LABELS = {"planned": lazy_gettext("计划"), "building": lazy_gettext("在建"), "finished": lazy_gettext("竣工"),
                     "moved_in": lazy_gettext("已入住"), "old_dealt": lazy_gettext("旧房已处置")}
FLAG_LABELS = {
    "income_drop": lazy_gettext("收入骤降"), "spending_jump": lazy_gettext("大额支出"),
    "exited_under_line": lazy_gettext("已脱贫户低于标准"), "near_poor": lazy_gettext("边缘易致贫"),
    "dangerous_house": lazy_gettext("危房未改造"), "size_mismatch": lazy_gettext("人口数不符"),
    "income_total_mismatch": lazy_gettext("收入合计不符"), "school_age_not_in_school": lazy_gettext("适龄儿童未在校"),
    "schooling_vs_age": lazy_gettext("在校状况与年龄不符"), "children_count_mismatch": lazy_gettext("适龄儿童数不符"),
    "member_change_unknown": lazy_gettext("成员变动对不上"),
}
PHOTO_ROLES = {"family": lazy_gettext("与户内成员合影"), "housing_sign": lazy_gettext("住房安全等级标识牌"),
               "water_sign": lazy_gettext("饮水安全标识牌"), "photo_house": lazy_gettext("房屋全景"),
               "photo_house_2": lazy_gettext("其他角度"), "photo_damage": lazy_gettext("损坏部位"),
               "photo_sign": lazy_gettext("住房安全等级标识牌")}
EVENT_TITLES = {"household_visit": lazy_gettext("入户走访"), "housing_assessment": lazy_gettext("住房安全鉴定"),
                "income_survey": lazy_gettext("家庭收入调查"), "member_added": lazy_gettext("成员增加"),
                "member_removed": lazy_gettext("成员减少"), "income_above_line": lazy_gettext("收入高于标准线"),
                "income_below_line": lazy_gettext("收入低于标准线"), "conflict_resolved": lazy_gettext("冲突已裁定")}
META_LABELS = {"start": lazy_gettext("开始时间"), "end": lazy_gettext("结束时间"), "today": lazy_gettext("填表日期"),
               "deviceid": lazy_gettext("设备号"), "username": lazy_gettext("用户名")}


# ---- small value helpers ------------------------------------------------------------------------------------

def yes_no(value: Any) -> tuple[str, str]:
    """(text, tone) for a yes/no field."""
    if value == "yes":
        return gettext("是"), "ok"
    if value == "no":
        return gettext("否"), "bad"
    return gettext("未记录"), "unknown"


def money(value: Any) -> str:
    return "" if value is None else f"{value:,.2f}".rstrip("0").rstrip(".")


def submission_url(number: str, form: str | None, instance_id: str | None) -> str | None:
    if not form or not instance_id:
        return None
    return url_for("households.submission_page", number=number, form_id=form, instance_id=instance_id)


def attachment_url(form: str, instance_id: str, filename: str, size: str | None = None) -> str:
    if size:
        return url_for("api.submission_attachment", xml_form_id=form, instance_id=instance_id, filename=filename,
                       size=size)
    return url_for("api.submission_attachment", xml_form_id=form, instance_id=instance_id, filename=filename)


# ---- labels from the published XForms ------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class FormLabels:
    """Question, group and choice labels of one XForm in one language, by path relative to the instance root."""

    questions: dict[str, str]
    choices: dict[str, dict[str, str]]
    binary: frozenset[str]
    repeats: frozenset[str]

    def choice(self, path: str, value: Any) -> str:
        options = self.choices.get(path)
        if not options or value in (None, ""):
            return "" if value is None else str(value)
        return "、".join(options.get(part, part) for part in str(value).split())


EMPTY_LABELS = FormLabels({}, {}, frozenset(), frozenset())
_labels_cache: dict[tuple[str, str], FormLabels] = {}
_labels_lock = threading.Lock()


def read_labels(xform: bytes, lang: str) -> FormLabels:
    """Pure: the XForm's labels in `lang` ("en" picks an English translation, anything else the default)."""
    root = fromstring(xform)
    translations = [e for e in root.iter() if local(e.tag) == "translation"]
    chosen = None
    if lang == "en":
        chosen = next((t for t in translations if re.search(r"\(en\)|english", t.get("lang", ""), re.I)), None)
    if chosen is None:
        chosen = next((t for t in translations if t.get("default")), translations[0] if translations else None)
    texts: dict[str, str] = {}
    if chosen is not None:
        for text in chosen:
            values = [v for v in text if local(v.tag) == "value"]
            plain = next((v for v in values if not v.get("form")), values[0] if values else None)
            if plain is not None:
                texts[text.get("id", "")] = "".join(plain.itertext()).strip()

    def label_of(element: Element) -> str:
        label = next((c for c in element if local(c.tag) == "label"), None)
        if label is None:
            return ""
        match = re.match(r"jr:itext\('([^']+)'\)", label.get("ref", ""))
        return texts.get(match.group(1), "") if match else "".join(label.itertext()).strip()

    instances: dict[str, dict[str, str]] = {}
    for instance in (e for e in root.iter() if local(e.tag) == "instance" and e.get("id")):
        items = {}
        for item in (e for e in instance.iter() if local(e.tag) == "item"):
            fields_ = {local(c.tag): (c.text or "").strip() for c in item}
            if "name" in fields_:
                items[fields_["name"]] = texts.get(fields_.get("itextId", ""), fields_.get("label", fields_["name"]))
        instances[instance.get("id")] = items

    questions: dict[str, str] = {}
    choices: dict[str, dict[str, str]] = {}
    binary: set[str] = set()
    repeats: set[str] = set()
    for element in root.iter():
        ref = element.get("ref") or element.get("nodeset")
        tag = local(element.tag)
        if not ref or not ref.startswith("/") or tag not in ("input", "select1", "select", "upload", "group",
                                                             "repeat", "trigger", "range", "rank"):
            continue
        path = "/".join(ref.split("/")[2:])
        if tag != "repeat" or path not in questions:
            questions[path] = label_of(element) or questions.get(path, "")
        if tag == "upload":
            binary.add(path)
        if tag == "repeat":
            repeats.add(path)
        itemset = next((c for c in element if local(c.tag) == "itemset"), None)
        if itemset is not None:
            match = re.match(r"instance\('([^']+)'\)", itemset.get("nodeset", ""))
            if match and instances.get(match.group(1)):
                choices[path] = instances[match.group(1)]
        static = [c for c in element if local(c.tag) == "item"]
        if static:
            choices[path] = {next((v.text or "" for v in item if local(v.tag) == "value"), ""): label_of(item)
                             for item in static}
    return FormLabels(questions, choices, frozenset(binary), frozenset(repeats))


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
                             .where(Form.xml_form_id.in_(FORMS))).all())
    return labels_for_versions({form: rows.get(form) for form in FORMS})


# ---- the household, within the caller's areas --------------------------------------------------------------

def _household(number: str) -> tuple[Household, Area, HouseholdRecord | None]:
    return scoped_household(db(), current_principal().scope, number)


def _photos(number: str) -> dict[tuple[str, str], SubmissionAttachment]:
    """The household's current submissions' files, by (instance id, file name)."""
    rows = db().execute(select(Submission.instance_id, SubmissionAttachment)
                        .join(SubmissionAttachment, SubmissionAttachment.submission_id == Submission.id)
                        .where(Submission.household_number == number, Submission.current.is_(True))).all()
    return {(instance_id, a.filename): a for instance_id, a in rows}


def photo(form: str, instance_id: str, filename: str, role: str,
          attachments: dict[tuple[str, str], SubmissionAttachment]) -> dict[str, Any]:
    """A photo as the page shows it: a thumbnail once the worker made one, otherwise why not."""
    found = attachments.get((instance_id, filename))
    item = {"filename": filename, "role": PHOTO_ROLES.get(role, role),
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


def _person(username: str | None) -> str | None:
    """Who set a value or made a visit, by display name: the names `file_page` looked up for its record."""
    return g.get("people", {}).get(username, username)


def _people_in(record: HouseholdRecord | None, conflicts) -> set[str]:
    """The user names a household's file mentions."""
    if record is None:
        return set()
    named = [entry.get("by") for entry in record.fields.values() if isinstance(entry, dict)]
    named += [event.get("by") for event in record.events]
    named += [entry.get("by") for conflict in conflicts for entry in conflict.entries]
    return {name for name in named if name}


def source(number: str, entry: dict[str, Any] | None) -> dict[str, Any] | None:
    """Where a value came from (数出有源): the submission, the roster or a supervisor's resolution."""
    if not entry:
        return None
    kind = entry.get("source")
    if kind == "submission":
        form = entry.get("form")
        title = FORM_TITLES.get(form, form)
        text = " · ".join(str(p) for p in (title, _person(entry.get("by")), local_time(entry.get("at"))) if p)
        return {"kind": kind, "text": text, "url": submission_url(number, form, entry.get("instance_id"))}
    if kind == "resolution":
        text = " · ".join(p for p in (gettext("督导裁定"), _person(entry.get("by")), local_time(entry.get("at"))) if p)
        return {"kind": kind, "text": text, "url": None}
    return {"kind": kind or "roster", "text": gettext("建档立卡名单"), "url": None}


# ---- list ---------------------------------------------------------------------------------------------------

@bp.get("/")
@page()
def list_page():
    principal = current_principal()
    args = request.args
    month = month_arg()
    q = (args.get("q") or "").strip()
    status = args.get("status") or None
    flag = args.get("flag") or None
    state = args.get("state") or None
    cadre = args.get("cadre") or None
    location = args.get("location") or None
    if status is not None and status not in HOUSEHOLD_STATUSES:
        status = None
    if state is not None and state not in STATES:
        state = None
    number = page_number()
    area = resolve_area(db(), principal.scope, args.get("area"))
    conditions = household_conditions(principal.scope, area, cadre)
    if q:
        conditions.append(or_(Household.number.startswith(q, autoescape=True),
                              Household.head_name.contains(q, autoescape=True)))
    if status:
        conditions.append(Household.status == status)
    if flag:
        conditions.append(Household.id.in_(select(Finding.household_id).where(Finding.code == flag)))
    if location == "missing":
        conditions.append(or_(Household.latitude.is_(None), Household.longitude.is_(None)))
    visits, state_expr = month_state(month, principal.scope, cadre)
    if state:
        conditions.append(state_expr == state)
    base = (select(Household.id, Household.number, Household.head_name, Household.status, Household.cadre,
                   Area.name.label("village"), HouseholdRecord.size, HouseholdRecord.exit_eligible,
                   HouseholdRecord.open_conflicts, state_expr.label("state"))
            .join(Area, Household.area_id == Area.id)
            .outerjoin(HouseholdRecord, HouseholdRecord.household_id == Household.id)
            .outerjoin(visits, visits.c.household_id == Household.id)
            .where(*conditions))
    total = db().scalar(select(func.count()).select_from(base.subquery()))
    pages = max(1, math.ceil(total / PER_PAGE))
    number = min(number, pages)
    rows = db().execute(base.order_by(Household.number).limit(PER_PAGE)
                        .offset((number - 1) * PER_PAGE)).all()
    ids = [r.id for r in rows]
    last_visits = dict(db().execute(select(Visit.household_id, func.max(Visit.visit_date))
                                    .where(Visit.household_id.in_(ids)).group_by(Visit.household_id)).all()) \
        if ids else {}
    flags: dict[int, list[str]] = {}
    if ids:
        for household_id, code in db().execute(select(Finding.household_id, Finding.code)
                                               .where(Finding.household_id.in_(ids)).order_by(Finding.id)):
            flags.setdefault(household_id, []).append(code)
    options = _filter_options(principal.scope)
    db().commit()
    items = [{"number": r.number, "head": r.head_name, "status": r.status, "cadre": r.cadre, "village": r.village,
              "size": r.size, "exit_eligible": bool(r.exit_eligible), "open_conflicts": r.open_conflicts or 0,
              "state": r.state, "last_visit": last_visits.get(r.id),
              "flags": [FLAG_LABELS.get(c, c) for c in dict.fromkeys(flags.get(r.id, []))]} for r in rows]
    filters = {"q": q, "area": area.code if area else "", "status": status or "", "flag": flag or "",
               "state": state or "", "cadre": cadre or "", "location": location or "", "month": month}
    return render_template("households/list.html", items=items, total=total, page=number, pages=pages,
                           filters=filters, options=options, statuses=HOUSEHOLD_STATUSES,
                           states=STATES, state_labels=STATE_LABELS, colors=COLORS,
                           default_month=month == this_month())


def _filter_options(scope) -> dict[str, Any]:
    areas = scope.filter(select(Area.code, Area.name, Area.level).where(Area.level.in_(("town", "village"))),
                         Area.id)
    flag_codes = db().scalars(scope.filter(select(Finding.code).distinct(), Finding.area_id)
                              .order_by(Finding.code)).all()
    return {"areas": db().execute(areas.order_by(Area.code)).all(),
            "flags": [(code, FLAG_LABELS.get(code, code)) for code in flag_codes]}


# ---- the file -------------------------------------------------------------------------------------------------

@bp.get("/<number>")
@page()
def file_page(number: str):
    household, area, record = _household(number)
    month = this_month()
    fields_ = record.fields if record else {"status": {"value": household.status, "source": "roster"}}
    findings = db().scalars(select(Finding).where(Finding.household_id == household.id).order_by(Finding.id)).all()
    conflicts = db().scalars(select(Conflict).where(Conflict.household_id == household.id,
                                                    Conflict.state == "open").order_by(Conflict.field)).all()
    month_verdicts = db().scalars(select(Visit.verdict).where(Visit.household_id == household.id,
                                                              Visit.month == month)).all()
    attachments = _photos(number)
    labels = current_labels()
    g.people = display_names(_people_in(record, conflicts))
    roster_members = [] if record else [
        {"name": m.name, "id_number": m.id_number, "relation": m.relation, "sex": m.sex,
         "birth_date": m.birth_date.isoformat(), "schooling": m.schooling, "insured": m.insured, "health": m.health,
         "labour": m.labour, "source": "roster"} for m in household.members]
    cadre_name = db().scalar(select(User.display_name).where(User.username == household.cadre)) \
        if household.cadre else None
    lang = current_lang()
    view = {
        "household": {"number": household.number, "head": household.head_name, "status": household.status,
                      "poverty_cause": household.poverty_cause, "cadre": household.cadre,
                      "cadre_name": cadre_name if cadre_name and cadre_name != household.cadre else None,
                      "village": area.name, "village_code": area.code,
                      "location": None if household.latitude is None else (household.latitude, household.longitude),
                      "version": record.version if record else household.roster_version,
                      "updated": local_time(record.updated_at) if record else None},
        "month": month,
        "month_state": _month_state(month_verdicts),
        "glance": _glance(number, fields_, record),
        "flags": [{"code": f.code, "label": FLAG_LABELS.get(f.code, f.code),
                   "message": f.message_en if lang == "en" else f.message_zh} for f in findings
                  if f.kind == "monitoring"],
        "findings": [{"code": f.code, "label": FLAG_LABELS.get(f.code, f.code),
                      "message": f.message_en if lang == "en" else f.message_zh} for f in findings
                     if f.kind == "quality"],
        "conflicts": [{"field": FIELD_LABELS.get(c.field, c.field), "current": c.current,
                       "entries": [{"value": _display(e.get("value")), "by": _person(e.get("by")),
                                    "at": local_time(e.get("at")),
                                    "url": _entry_url(number, e.get("instance_id"), record)}
                                   for e in c.entries]} for c in conflicts],
        "members": _members(number, record.members if record else roster_members, labels["household_visit"]),
        "timeline": _timeline(number, household, record, attachments, labels),
        "proposed_location": _proposed(number, fields_.get("proposed_location")),
        "can_confirm_location": current_principal().user.role in LOCATION_CONFIRMERS,
    }
    db().commit()
    return render_template("households/file.html", **view, state_labels=STATE_LABELS, colors=COLORS)


@bp.post("/<number>/location")
@page(*LOCATION_CONFIRMERS)
def confirm_location_page(number: str):
    """A supervisor confirms the proposed location the file shows, as PUT /api/v1/households/<number>/location
    would; the file then shows it as the house's location."""
    household, _area, record = _household(number)
    proposal = _proposed(number, record.fields.get("proposed_location") if record else None)
    back = redirect(url_for("households.file_page", number=number))
    # the form carries the point the supervisor saw (as the page printed it): if it was confirmed meanwhile or a
    # newer visit proposes another point, they should look again rather than confirm what they did not see
    shown = (request.form.get("latitude"), request.form.get("longitude"))
    if proposal is None or shown != (str(proposal["latitude"]), str(proposal["longitude"])):
        db().rollback()
        flash(gettext("建议位置已经变化，请查看后再确认。"), "error")
        return back
    audit.record(db(), "household.location", f"household:{number}", {
        "from": [household.latitude, household.longitude], "to": [proposal["latitude"], proposal["longitude"]]})
    confirm_location(db(), household, proposal["latitude"], proposal["longitude"], runtime().queue.options())
    db().commit()
    flash(gettext("已确认该户位置。"), "ok")
    return back


def _entry_url(number: str, instance_id: str | None, record: HouseholdRecord | None) -> str | None:
    """The submission page of a conflict entry: its form is found from the household's file."""
    if not instance_id or record is None:
        return None
    form = next((e["kind"] for e in record.events if e.get("instance_id") == instance_id and e["kind"] not in
                 ("member_added", "member_removed", "income_above_line", "income_below_line")), None)
    return submission_url(number, form, instance_id)


def _month_state(verdicts: list[str | None]) -> str:
    if "verified" in verdicts:
        return "verified"
    return "questionable" if verdicts else "not_visited"


def _glance(number: str, fields_: dict[str, dict[str, Any]], record: HouseholdRecord | None) -> list[dict]:
    """两不愁三保障 + 饮水安全, the house, the income and the exit standard, each with its source."""
    items = []

    def value(name: str) -> Any:
        entry = fields_.get(name)
        return entry.get("value") if entry else None

    def detail(name: str, text: Any, main: str) -> tuple[Any, Any, dict | None]:
        """(label, value, its source when another record than the item's own set it)."""
        mine, theirs = fields_.get(name) or {}, fields_.get(main) or {}
        same = all(mine.get(k) == theirs.get(k) for k in ("source", "instance_id", "conflict"))
        return FIELD_LABELS[name], text, None if same else source(number, mine)

    for name in ("food_secure", "clothing_secure", "education_secure", "medical_secure"):
        text, tone = yes_no(value(name))
        items.append({"key": name, "label": FIELD_LABELS[name], "value": text, "tone": tone, "details": [],
                      "source": source(number, fields_.get(name))})
    text, tone = yes_no(value("housing_safe"))
    details = []
    if value("housing_grade"):
        details.append(detail("housing_grade", value("housing_grade"), "housing_safe"))
    if value("renovation_state"):
        details.append(detail("renovation_state", RENOVATION_LABELS.get(value("renovation_state"),
                                                                        value("renovation_state")), "housing_safe"))
    items.append({"key": "housing_safe", "label": FIELD_LABELS["housing_safe"], "value": text, "tone": tone,
                  "details": details, "source": source(number, fields_.get("housing_safe"))})
    text, tone = yes_no(value("water_safe"))
    details = [detail(n, yes_no(value(n))[0], "water_safe") for n in
               ("water_quantity", "water_quality", "water_convenience", "water_reliability") if value(n)]
    items.append({"key": "water_safe", "label": FIELD_LABELS["water_safe"], "value": text, "tone": tone,
                  "details": details, "source": source(number, fields_.get("water_safe"))})
    income = value("income_per_capita")
    details, tone = [], "unknown"
    if income is not None:
        year = value("income_year")
        line = runtime().queue.rules.poverty_line(int(year)) if year and str(year).isdigit() else None
        if year:
            details.append((FIELD_LABELS["income_year"], year, None))
        if line is not None:
            tone = "ok" if income > line else "bad"
            details.append((gettext("标准线"), gettext("%(amount)s 元", amount=money(line)), None))
    items.append({"key": "income_per_capita", "label": FIELD_LABELS["income_per_capita"],
                  "value": gettext("%(amount)s 元", amount=money(income)) if income is not None else gettext("未记录"),
                  "tone": tone, "details": details,
                  "source": source(number, fields_.get("income_per_capita"))})
    eligible = bool(record and record.exit_eligible)
    items.append({"key": "exit_eligible", "label": gettext("符合脱贫标准"),
                  "value": gettext("是") if eligible else gettext("否"), "tone": "ok" if eligible else "info",
                  "details": [], "source": None})
    return items


def _members(number: str, members: list[dict[str, Any]], labels: FormLabels) -> list[dict[str, Any]]:
    out = []
    for m in members:
        relation = m.get("relation") or ""
        if m.get("source") != "roster":
            relation = labels.choice("member_change/relation", relation)
        out.append({"name": m.get("name"), "id_number": mask(m["id_number"]) if m.get("id_number") else "",
                    "relation": relation, "sex": m.get("sex") or "", "birth_date": m.get("birth_date") or "",
                    "schooling": m.get("schooling") or "", "insured": m.get("insured"),
                    "health": m.get("health") or "", "labour": m.get("labour") or "", "since": m.get("since"),
                    "source_url": submission_url(number, "household_visit", m.get("source"))
                    if m.get("source") not in (None, "roster") else None})
    return out


def _proposed(number: str, entry: dict[str, Any] | None) -> dict[str, Any] | None:
    if not entry:
        return None
    value = entry.get("value") or {}
    return {"latitude": value.get("latitude"), "longitude": value.get("longitude"),
            "accuracy": value.get("accuracy"), "url": submission_url(number, "household_visit",
                                                                     entry.get("instance_id"))}


def _timeline(number: str, household: Household, record: HouseholdRecord | None,
              attachments: dict[tuple[str, str], SubmissionAttachment],
              labels: dict[str, FormLabels]) -> list[dict[str, Any]]:
    """The household's file, newest first; each item links to the submission that recorded it."""
    if record is None:
        return []
    visits = {v["instance_id"]: v for v in record.visits}
    assessments = {a["instance_id"]: a for a in record.assessments}
    incomes = {i["instance_id"]: i for i in record.incomes}
    home = None if household.latitude is None else (household.latitude, household.longitude)
    lang = current_lang()
    items = []
    for index, event in enumerate(record.events):
        kind = event["kind"]
        instance_id = event.get("instance_id")
        summary = event.get("summary") or {}
        if kind in ("member_added", "member_removed"):
            form = "household_visit"
        elif kind in ("income_above_line", "income_below_line"):
            form = "income_survey"
        else:
            form = None if kind == "conflict_resolved" else kind
        item = {"id": f"ev-{index}", "kind": kind, "title": EVENT_TITLES.get(kind, kind),
                "at": local_time(event.get("at")), "by": _person(event.get("by")), "details": [], "photos": [],
                "url": submission_url(number, form, instance_id), "verdict": None, "reasons": []}
        if kind == "household_visit":
            visit = visits.get(instance_id, {})
            item["verdict"] = visit.get("verdict")
            item["verdict_label"] = VERDICT_LABELS.get(visit.get("verdict"), visit.get("verdict"))
            item["reasons"] = [r.get("message_en") if lang == "en" else r.get("message_zh")
                               for r in visit.get("reasons") or []]
            if visit.get("date"):
                item["details"].append((gettext("走访日期"), visit["date"]))
            gps = visit.get("gps")
            if gps:
                where = f"{gps['latitude']:.6f}, {gps['longitude']:.6f}"
                if gps.get("accuracy") is not None:
                    where += " ± " + gettext("%(m)s 米", m=f"{gps['accuracy']:g}")
                if home:
                    where += " · " + gettext("距该户 %(m)s 米", m=round(metres((gps["latitude"], gps["longitude"]),
                                                                            home)))
                item["details"].append((gettext("户门口定位"), where))
            problems = [p for p in visit.get("problems") or [] if p != "none"]
            if problems:
                item["details"].append((gettext("发现的问题"),
                                        labels["household_visit"].choice("findings/problems", " ".join(problems))))
            for key, label in (("problems_note", gettext("问题说明")), ("help_given", gettext("帮扶措施")),
                               ("remarks", gettext("备注"))):
                if visit.get(key):
                    item["details"].append((label, visit[key]))
            for role, filename in (visit.get("photos") or {}).items():
                if filename:
                    item["photos"].append(photo(kind, instance_id, filename, role, attachments))
        elif kind == "housing_assessment":
            assessment = assessments.get(instance_id, {})
            grade = assessment.get("grade") or summary.get("grade")
            if grade:
                item["details"].append((FIELD_LABELS["housing_grade"], grade))
            state = assessment.get("renovation_state") or summary.get("renovation_state")
            if state:
                item["details"].append((FIELD_LABELS["renovation_state"], RENOVATION_LABELS.get(state, state)))
            if assessment.get("structure"):
                item["details"].append((gettext("结构类型"),
                                        labels["housing_assessment"].choice("structure", assessment["structure"])))
            if assessment.get("notes"):
                item["details"].append((gettext("鉴定意见"), assessment["notes"]))
            for role, filename in (assessment.get("photos") or {}).items():
                if filename:
                    item["photos"].append(photo(kind, instance_id, filename, role, attachments))
        elif kind == "income_survey":
            income = incomes.get(instance_id)
            year = (income or {}).get("year") or summary.get("year")
            if year:
                item["details"].append((gettext("收入年度"), str(year)))
            if income:
                item["details"].append((gettext("家庭纯收入"), gettext("%(amount)s 元", amount=money(income["total_net"]))))
                if income.get("per_capita") is not None:
                    item["details"].append((FIELD_LABELS["income_per_capita"],
                                            gettext("%(amount)s 元", amount=money(income["per_capita"]))))
                if income.get("household_size"):
                    item["details"].append((gettext("家庭人口"), str(income["household_size"])))
            else:
                item["details"].append((gettext("说明"), gettext("同一年度有更新的调查，以更新的为准")))
        elif kind in ("member_added", "member_removed"):
            change = labels["household_visit"].choice("member_change/change_type", summary.get("type"))
            relation = labels["household_visit"].choice("member_change/relation", summary.get("relation"))
            item["details"].append((gettext("成员"), " · ".join(p for p in (summary.get("name"), relation) if p)))
            item["details"].append((gettext("变动"), " · ".join(p for p in (change, summary.get("date")) if p)))
        elif kind in ("income_above_line", "income_below_line"):
            item["details"].append((gettext("收入年度"), str(summary.get("year"))))
            item["details"].append((FIELD_LABELS["income_per_capita"],
                                    gettext("%(amount)s 元", amount=money(summary.get("per_capita")))))
            item["details"].append((gettext("标准线"), gettext("%(amount)s 元", amount=money(summary.get("line")))))
        elif kind == "conflict_resolved":
            field = summary.get("field")
            item["details"].append((gettext("字段"), str(FIELD_LABELS.get(field, field))))
            item["details"].append((gettext("裁定值"), _display(summary.get("value"))))
        items.append(item)
    items.reverse()
    return items


def _display(value: Any) -> str:
    if value in ("yes", "no"):
        return yes_no(value)[0]
    if value in RENOVATION_LABELS:
        return str(RENOVATION_LABELS[value])
    return "" if value is None else str(value)


# ---- the submission behind a value ------------------------------------------------------------------------------

@bp.get("/<number>/submissions/<form_id>/<path:instance_id>")
@page()
def submission_page(number: str, form_id: str, instance_id: str):
    """What a submission says, question by question with the form's labels, and its files."""
    principal = current_principal()
    household, _area, _record = _household(number)
    row = db().execute(principal.scope.filter(
        select(Submission, Form.xml_form_id, FormVersion.version, FormVersion.title, User.username,
               User.display_name)
        .join(Form, Submission.form_id == Form.id)
        .join(FormVersion, Submission.form_version_id == FormVersion.id)
        .outerjoin(User, Submission.submitter_id == User.id)
        .where(Form.xml_form_id == form_id, Submission.instance_id == instance_id,
               Submission.household_number == household.number), Submission.area_id)).first()
    if row is None:
        raise Problem(404, "submission.not_found", "没有这份提交。", "There is no such submission.")
    submission, xml_form_id, version, title, username, display_name = row
    labels = labels_for_versions({xml_form_id: submission.form_version_id})[xml_form_id]
    attachments = {(submission.instance_id, a.filename): a for a in submission.attachments}
    parsed = parse_instance(mask_in_xml(submission.xml), stored=True)  # ID numbers masked, as in the household file
    rows = list(_instance_rows(parsed.root, labels))
    _name_people(rows)
    for item in rows:
        if item.get("binary") and item["raw"]:
            item["photo"] = photo(xml_form_id, submission.instance_id, item["raw"], item["label"], attachments)
    shown = {item["raw"] for item in rows if item.get("photo")}
    files = [photo(xml_form_id, submission.instance_id, a.filename, a.filename, attachments)
             for a in submission.attachments if a.filename not in shown]
    meta = {"form_title": title, "form_id": xml_form_id, "version": version, "instance_id": submission.instance_id,
            "instance_name": submission.instance_name, "deprecated_id": submission.deprecated_id,
            "current": submission.current, "received_at": local_time(submission.received_at),
            "submitter": display_name or username, "review_state": submission.review_state,
            "reconcile_state": submission.reconcile_state,
            "xml_url": url_for("api.submission_xml", xml_form_id=xml_form_id, instance_id=submission.instance_id),
            "json_url": url_for("api.get_submission", xml_form_id=xml_form_id, instance_id=submission.instance_id)}
    db().commit()
    return render_template("households/submission.html", number=number, head=household.head_name, meta=meta,
                           rows=rows, files=files)


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
            if not label and name in FIELD_LABELS:  # a calculation that sets a household field
                label = str(FIELD_LABELS[name])
                shown = _display(value)
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
