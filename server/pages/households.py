"""One file per household (一户一档): the list of the caller's households, a household's file (status at a glance,
members, the timeline of everything recorded, photos) and the submissions behind each value (数出有源).

Everything is read within the caller's areas; another area's household or submission is 404, as if it did
not exist. The read transaction ends before rendering (on SQLite every transaction holds the write lock).
"""
from __future__ import annotations

import datetime as dt

import math
from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext, lazy_gettext
from sqlalchemy import func, select

from forms.labels import EMPTY_LABELS, FormLabels
from forms.models import Form, FormVersion
from server import audit
from server.readmodels import (COLORS, STATES, HouseholdFilters, HouseholdList, household_month_state, metres,
                              resolve_area)
from server.db import utcnow
from server.errors import Problem
from server.i18n import current_lang
from server.models import VISIT_ROLES, User
from server.pages.common import (current_principal, display_names, local_time, month_arg, page, page_number,
                                 this_month)
from server.pages.cases import case_permissions, case_views
from server.pages.feedback import household_feedback, submission_feedback
from server.pages.exits import exit_view
from server.pages.monitoring import monitoring_section
from server.pages.fill import edit_link
from server.pages.renovation import renovation_forms, renovation_view
from server.pages.submission_view import answers, current_labels, display_value, photo, yes_no
from server.scope import scoped_household
from server.runtime import db, runtime
from sync.case_lists import household_cases
from sync.outside_reports import registered_from
from sync.renovation_ledger import china_today, household_renovation
from sync.conflicts import LOCATION_CONFIRMERS, confirm_location
from sync.forms import DEFINITIONS, definition, field_label, form_title
from sync.forms.base import Detail, FormDefinition
from sync.fold import LINE_CROSSINGS
from sync.forms.visit import CHANGES
from sync.idcard import mask
from sync.models import HOUSEHOLD_STATUSES, Area, Household, Submission, SubmissionAttachment
from sync.records import Conflict, Finding, HouseholdRecord, Visit
from sync.rules import MONITORING_TYPES

#: the line crossings of the monitoring period (from 2021)
MONITORING_CROSSINGS = (LINE_CROSSINGS[(True, True)], LINE_CROSSINGS[(True, False)])

bp = Blueprint("households", __name__, url_prefix="/households")

PER_PAGE = 50
STATE_LABELS = {"verified": lazy_gettext("已走访（证据核实）"), "questionable": lazy_gettext("走访存疑"),
                "not_visited": lazy_gettext("未走访")}
VERDICT_LABELS = {"verified": lazy_gettext("证据核实"), "questionable": lazy_gettext("存疑"),
                  "no_evidence": lazy_gettext("无证据"), "attempt": lazy_gettext("走访未遇，不计为走访"),
                  None: lazy_gettext("待核验")}
FLAG_LABELS = {
    "income_drop": lazy_gettext("收入骤降"), "spending_jump": lazy_gettext("大额支出"),
    "exited_under_line": lazy_gettext("已脱贫户低于贫困标准"), "near_poor": lazy_gettext("边缘易致贫"),
    "unstable_exit": lazy_gettext("脱贫不稳定"), "risk_education": lazy_gettext("风险：义务教育"),
    "risk_medical": lazy_gettext("风险：基本医疗"), "risk_housing": lazy_gettext("风险：住房安全"),
    "risk_water": lazy_gettext("风险：饮水安全"), "screening_income": lazy_gettext("排查：收入偏低"),
    "screening_dibao": lazy_gettext("排查：低保金偏低"), "relation_vs_sex": lazy_gettext("与户主关系和性别不符"),
    "dangerous_house": lazy_gettext("危房未改造"), "size_mismatch": lazy_gettext("人口数不符"),
    "income_total_mismatch": lazy_gettext("收入合计不符"), "school_age_not_in_school": lazy_gettext("适龄儿童未在校"),
    "schooling_vs_age": lazy_gettext("在校状况与年龄不符"), "children_count_mismatch": lazy_gettext("适龄儿童数不符"),
    "member_change_unknown": lazy_gettext("成员变动对不上"),
    # a form's own filling and the visit's insurance answer (sync/checks.py), photos used twice (sync/photo_reuse.py)
    "fill_too_short": lazy_gettext("填表用时过短"), "fill_times_inverted": lazy_gettext("填表时间颠倒"),
    "start_far_from_date": lazy_gettext("填表日期与表上日期不符"), "username_mismatch": lazy_gettext("用户名与账号不符"),
    "insurance_mismatch": lazy_gettext("参保情况不符"), "photo_other_household": lazy_gettext("照片用于其他户"),
    "photo_other_month": lazy_gettext("照片跨月重复使用"),
    # an assessment's or income survey's evidence, worded as the map words the visits' reasons (sync/evidence.py)
    "gps_far": lazy_gettext("定位离该户太远"), "photo_missing": lazy_gettext("缺少照片"),
    "photo_invalid": lazy_gettext("照片无效"), "photo_time_mismatch": lazy_gettext("照片拍摄时间不符"),
    "photo_gps_mismatch": lazy_gettext("照片拍摄位置不符"),
}
#: timeline events that are not a form's own (the fold's consequences and a supervisor's resolution)
EVENT_TITLES = {"member_added": lazy_gettext("成员增加"), "member_removed": lazy_gettext("成员减少"),
                "income_above_line": lazy_gettext("收入高于贫困标准"), "income_below_line": lazy_gettext("收入低于贫困标准"),
                "income_out_of_monitoring_range": lazy_gettext("收入超出监测范围"),
                "income_into_monitoring_range": lazy_gettext("收入进入监测范围"),
                "conflict_resolved": lazy_gettext("冲突已裁定")}


# ---- small value helpers ------------------------------------------------------------------------------------

def money(value: Any) -> str:
    return "" if value is None else f"{value:,.2f}".rstrip("0").rstrip(".")


def submission_url(number: str, form: str | None, instance_id: str | None) -> str | None:
    if not form or not instance_id:
        return None
    return url_for("households.submission_page", number=number, form_id=form, instance_id=instance_id)


# ---- the household, within the caller's areas --------------------------------------------------------------

def _household(number: str) -> tuple[Household, Area, HouseholdRecord | None]:
    return scoped_household(db(), current_principal().scope, number)


def _photos(number: str) -> dict[tuple[str, str], SubmissionAttachment]:
    """The household's current submissions' files, by (instance id, file name)."""
    rows = db().execute(select(Submission.instance_id, SubmissionAttachment)
                        .join(SubmissionAttachment, SubmissionAttachment.submission_id == Submission.id)
                        .where(Submission.household_number == number, Submission.current.is_(True))).all()
    return {(instance_id, a.filename): a for instance_id, a in rows}


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
        form = entry.get("form") or _form_of_instance(entry.get("instance_id"))
        found = definition(form)
        title = found.title(current_lang()) if found else form
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
    q = (args.get("q") or "").strip()[:100]  # as the API's q: a number's start or part of a name
    status = args.get("status") or None
    monitoring_type = args.get("monitoring_type") if args.get("monitoring_type") in MONITORING_TYPES else None
    screening = args.get("screening") == "1"
    flag = args.get("flag") or None
    state = args.get("state") or None
    cadre = args.get("cadre") or None
    location = args.get("location") or None
    if status is not None and status not in HOUSEHOLD_STATUSES:
        status = None
    if state is not None and state not in STATES:
        state = None
    number = page_number()
    filters = HouseholdFilters(area=resolve_area(db(), principal.scope, args.get("area")), status=status,
                               monitoring_type=monitoring_type, screening=screening, flag=flag, cadre=cadre,
                               text=q or None, location=location, state=state, month=month)
    listing = HouseholdList(db(), principal.scope, filters)
    total = listing.count()
    pages = max(1, math.ceil(total / PER_PAGE))
    number = min(number, pages)
    rows = listing.rows(PER_PAGE, (number - 1) * PER_PAGE)
    ids = [r.household.id for r in rows]
    last_visits = dict(db().execute(select(Visit.household_id, func.max(Visit.visit_date))
                                    .where(Visit.household_id.in_(ids)).group_by(Visit.household_id)).all()) \
        if ids else {}
    options = _filter_options(principal.scope)
    people = display_names([r.household.cadre for r in rows] + [cadre])
    db().commit()
    items = [{"number": r.household.number, "head": r.household.head_name, "status": r.household.status,
              "monitoring_type": r.household.monitoring_type,
              "cadre": r.household.cadre, "cadre_name": people.get(r.household.cadre, r.household.cadre),
              "village": r.area.name, "size": r.record.size if r.record else None,
              "exit_eligible": bool(r.record and r.record.exit_eligible),
              "open_conflicts": (r.record.open_conflicts if r.record else 0) or 0, "state": r.state,
              "last_visit": last_visits.get(r.household.id),
              "flags": [FLAG_LABELS.get(c, c) for c in dict.fromkeys(f.code for f in r.findings)]} for r in rows]
    shown = {"q": q, "area": filters.area.code if filters.area else "", "status": status or "",
             "monitoring_type": monitoring_type or "", "screening": screening, "flag": flag or "",
             "state": state or "", "cadre": cadre or "", "cadre_name": people.get(cadre, cadre or ""),
             "location": location or "", "month": month}
    export = {"q": q, "area": shown["area"], "status": status, "monitoring_type": monitoring_type,
              "screening": "1" if screening else None, "flag": flag, "state": state, "cadre": cadre,
              "location": location, "month": month}
    return render_template("households/list.html", items=items, total=total, page=number, pages=pages,
                           filters_for_export={k: v for k, v in export.items() if v}, filters=shown, options=options,
                           statuses=HOUSEHOLD_STATUSES, monitoring_types=MONITORING_TYPES,
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
    attachments = _photos(number)
    labels = current_labels()
    g.people = display_names(_people_in(record, conflicts))
    g.forms_of = _forms_of(record)
    roster_members = [] if record else [
        {"name": m.name, "id_number": m.id_number, "relation": m.relation, "sex": m.sex,
         "birth_date": m.birth_date.isoformat(), "schooling": m.schooling, "insured": m.insured, "health": m.health,
         "labour": m.labour, "source": "roster"} for m in household.members]
    cadre_name = db().scalar(select(User.display_name).where(User.username == household.cadre)) \
        if household.cadre else None
    lang = current_lang()
    view = {
        "household": {"number": household.number, "head": household.head_name, "status": household.status,
                      "monitoring_type": household.monitoring_type, "phone": household.phone,
                      "poverty_cause": household.poverty_cause, "cadre": household.cadre,
                      "cadre_name": cadre_name if cadre_name and cadre_name != household.cadre else None,
                      "village": area.name, "village_code": area.code,
                      "location": None if household.latitude is None else (household.latitude, household.longitude),
                      "version": record.version if record else household.roster_version,
                      "updated": local_time(record.updated_at) if record else None},
        "month": month,
        "month_state": household_month_state(db(), current_principal().scope, household.id, month),
        "glance": _glance(number, fields_, record),
        "flags": [{"code": f.code, "label": FLAG_LABELS.get(f.code, f.code),
                   "message": f.message_en if lang == "en" else f.message_zh} for f in findings
                  if f.kind == "monitoring"],
        "findings": [{"code": f.code, "label": FLAG_LABELS.get(f.code, f.code),
                      "message": f.message_en if lang == "en" else f.message_zh} for f in findings
                     if f.kind == "quality"],
        "conflicts": [{"field": field_label(c.field, lang), "current": c.current,
                       "entries": [{"value": display_value(e.get("value"), c.field), "by": _person(e.get("by")),
                                    "at": local_time(e.get("at")),
                                    "url": _entry_url(number, e.get("instance_id"))}
                                   for e in c.entries]} for c in conflicts],
        "members": _members(number, record.members if record else roster_members, labels),
        "timeline": _timeline(number, household, record, attachments, labels),
        "proposed_location": _proposed(number, fields_.get("proposed_location")),
        "can_confirm_location": current_principal().user.role in LOCATION_CONFIRMERS,
        # finance staff read the file to pay; the map, the cases and the reports it links to are not theirs
        "sees_visits": current_principal().user.role in VISIT_ROLES,
        "cases": case_views(household_cases(db(), household.id), lambda iid: _entry_url(number, iid)),
        "case_permissions": case_permissions(current_principal().user, household),
        "returned": household_feedback(number),
        "renovation": _renovation(household.id, number),
        "renovation_forms": renovation_forms(current_principal().user),
        "exit": exit_view(household, area, record.exit_eligible if record else None),
        "outside_origin": _outside_origin(household.id),
        "monitoring": monitoring_section(household.id, number),
    }
    view["returned_states"] = {item.submission.instance_id: item.state for item in view["returned"]}
    db().commit()
    return render_template("households/file.html", **view, state_labels=STATE_LABELS, colors=COLORS,
                           printed_at=local_time(dt.datetime.now(dt.timezone.utc)))


def _outside_origin(household_id: int) -> dict[str, Any] | None:
    """The report of a household outside the roster it was registered from (应纳尽纳), if any."""
    found = registered_from(db(), household_id)
    if found is None:
        return None
    report_id, decision = found
    return {"url": url_for("outside.report_page", report_id=report_id), "by": decision.by_name,
            "at": local_time(decision.at)}


def _renovation(household_id: int, number: str) -> dict[str, Any] | None:
    """The household's renovation ledger row (危房改造台账), when its house was graded C or D."""
    row = household_renovation(db(), household_id)
    return renovation_view(row, number, china_today(utcnow())) if row else None


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


def _forms_of(record: HouseholdRecord | None) -> dict[str, str]:
    """The form of each submission the household's file names, from the submission's own timeline event."""
    if record is None:
        return {}
    return {e["instance_id"]: e["kind"] for e in record.events if e.get("instance_id") and definition(e["kind"])}


def _form_of_instance(instance_id: str | None) -> str | None:
    return g.get("forms_of", {}).get(instance_id) if instance_id else None


def _entry_url(number: str, instance_id: str | None) -> str | None:
    """The submission page of a submission the file names (a conflict entry, a member change, a proposal)."""
    return submission_url(number, _form_of_instance(instance_id), instance_id)


def _glance(number: str, fields_: dict[str, dict[str, Any]], record: HouseholdRecord | None) -> list[dict]:
    """两不愁三保障 + 饮水安全, the house, the income and the exit standard, each with its source."""
    items = []
    lang = current_lang()

    def label(name: str) -> str:
        return field_label(name, lang)

    def value(name: str) -> Any:
        entry = fields_.get(name)
        return entry.get("value") if entry else None

    def detail(name: str, text: Any, main: str) -> tuple[Any, Any, dict | None]:
        """(label, value, its source when another record than the item's own set it)."""
        mine, theirs = fields_.get(name) or {}, fields_.get(main) or {}
        same = all(mine.get(k) == theirs.get(k) for k in ("source", "instance_id", "conflict"))
        return label(name), text, None if same else source(number, mine)

    for name in ("food_secure", "clothing_secure", "education_secure", "medical_secure"):
        text, tone = yes_no(value(name))
        items.append({"key": name, "label": label(name), "value": text, "tone": tone, "details": [],
                      "source": source(number, fields_.get(name))})
    text, tone = yes_no(value("housing_safe"))
    details = []
    if value("housing_grade"):
        details.append(detail("housing_grade", value("housing_grade"), "housing_safe"))
    if value("renovation_state"):
        details.append(detail("renovation_state", display_value(value("renovation_state"), "renovation_state"),
                              "housing_safe"))
    items.append({"key": "housing_safe", "label": label("housing_safe"), "value": text, "tone": tone,
                  "details": details, "source": source(number, fields_.get("housing_safe"))})
    text, tone = yes_no(value("water_safe"))
    details = [detail(n, yes_no(value(n))[0], "water_safe") for n in
               ("water_quantity", "water_quality", "water_convenience", "water_reliability") if value(n)]
    items.append({"key": "water_safe", "label": label("water_safe"), "value": text, "tone": tone,
                  "details": details, "source": source(number, fields_.get("water_safe"))})
    income = value("income_per_capita")
    details, tone = [], "unknown"
    if income is not None:
        year = value("income_year")
        rules = runtime().queue.rules
        line = rules.poverty_line(int(year)) if year and str(year).isdigit() else None
        if year:
            details.append((label("income_year"), year, None))
        if line is not None:
            tone = "ok" if income > line else "bad"
            details.append((_line_label(rules.monitoring_range(int(year))), gettext("%(amount)s 元", amount=money(line)),
                            None))
    items.append({"key": "income_per_capita", "label": label("income_per_capita"),
                  "value": gettext("%(amount)s 元", amount=money(income)) if income is not None else gettext("未记录"),
                  "tone": tone, "details": details,
                  "source": source(number, fields_.get("income_per_capita"))})
    eligible = record.exit_eligible if record else None
    # no income surveyed: the standard cannot be judged, which is not a "no" (DOMAIN.md "The rules": exit standard)
    text = gettext("无法判断（未调查收入）") if eligible is None else gettext("是") if eligible else gettext("否")
    items.append({"key": "exit_eligible", "label": gettext("符合脱贫标准"), "value": text,
                  "tone": "unknown" if eligible is None else "ok" if eligible else "info", "details": [],
                  "source": None})
    return items


def _line_label(monitoring_range: bool) -> str:
    """Up to 2020 the year's figure is the poverty line; from 2021 it is the monitoring range (DOMAIN.md
    "Precisions": the lines change meaning)."""
    return gettext("监测范围") if monitoring_range else gettext("贫困标准")


def _members(number: str, members: list[dict[str, Any]], labels: dict[str, FormLabels]) -> list[dict[str, Any]]:
    out = []
    for m in members:
        relation = m.get("relation") or ""
        if m.get("source") != "roster":  # a member change's relation is a code of the form that reported it
            form = _form_of_instance(m.get("source"))
            relation = labels.get(form, EMPTY_LABELS).choice(f"{CHANGES}/relation", relation)
        out.append({"name": m.get("name"), "id_number": mask(m["id_number"]) if m.get("id_number") else "",
                    "relation": relation, "sex": m.get("sex") or "", "birth_date": m.get("birth_date") or "",
                    "schooling": m.get("schooling") or "", "insured": m.get("insured"),
                    "health": m.get("health") or "", "labour": m.get("labour") or "", "since": m.get("since"),
                    "source_url": _entry_url(number, m.get("source"))
                    if m.get("source") not in (None, "roster") else None})
    return out


def _proposed(number: str, entry: dict[str, Any] | None) -> dict[str, Any] | None:
    if not entry:
        return None
    value = entry.get("value") or {}
    return {"latitude": value.get("latitude"), "longitude": value.get("longitude"),
            "accuracy": value.get("accuracy"), "url": _entry_url(number, entry.get("instance_id"))}


def _timeline(number: str, household: Household, record: HouseholdRecord | None,
              attachments: dict[tuple[str, str], SubmissionAttachment],
              labels: dict[str, FormLabels]) -> list[dict[str, Any]]:
    """The household's file, newest first; each item links to the submission that recorded it."""
    if record is None:
        return []
    # every form's kept entries by instance id: what its module says the file shows of them
    entries = {entry["instance_id"]: entry for form in DEFINITIONS.values() if form.collection
               for entry in getattr(record, form.collection) or []}
    home = None if household.latitude is None else (household.latitude, household.longitude)
    lang = current_lang()
    items = []
    for index, event in enumerate(record.events):
        kind = event["kind"]
        instance_id = event.get("instance_id")
        summary = event.get("summary") or {}
        form = definition(kind)
        item = {"id": f"ev-{index}", "kind": kind, "title": form.title(lang) if form else EVENT_TITLES.get(kind, kind),
                "at": local_time(event.get("at")), "by": _person(event.get("by")), "details": [], "photos": [],
                "url": _entry_url(number, instance_id), "instance_id": instance_id, "verdict": None, "reasons": [],
                "is_visit": bool(form and form.counts_as_visit)}
        if form is not None:
            entry = event.get("record") or entries.get(instance_id)
            _form_item(item, form, entry, summary, labels.get(kind, EMPTY_LABELS), home, attachments, lang)
        elif kind in ("member_added", "member_removed"):
            reported = labels.get(_form_of_instance(instance_id), EMPTY_LABELS)
            change = reported.choice(f"{CHANGES}/change_type", summary.get("type"))
            relation = reported.choice(f"{CHANGES}/relation", summary.get("relation"))
            item["details"].append((gettext("成员"), " · ".join(p for p in (summary.get("name"), relation) if p)))
            item["details"].append((gettext("变动"), " · ".join(p for p in (change, summary.get("date")) if p)))
        elif kind in LINE_CROSSINGS.values():
            item["details"].append((field_label("income_year", lang), str(summary.get("year"))))
            item["details"].append((field_label("income_per_capita", lang),
                                    gettext("%(amount)s 元", amount=money(summary.get("per_capita")))))
            item["details"].append((_line_label(kind in MONITORING_CROSSINGS),
                                    gettext("%(amount)s 元", amount=money(summary.get("line")))))
        elif kind == "conflict_resolved":
            field = summary.get("field")
            item["details"].append((gettext("字段"), field_label(field, lang)))
            item["details"].append((gettext("裁定值"), display_value(summary.get("value"), field)))
        items.append(item)
    items.reverse()
    return items


def _form_item(item: dict[str, Any], form: FormDefinition, entry: dict[str, Any] | None, summary: dict[str, Any],
               labels: FormLabels, home: tuple[float, float] | None,
               attachments: dict[tuple[str, str], SubmissionAttachment], lang: str) -> None:
    """A form's timeline item as its module declares it: its details, photos and, for a visit, the verdict."""
    if form.counts_as_visit:
        verdict = (entry or {}).get("verdict")
        item["verdict"] = verdict
        item["verdict_label"] = VERDICT_LABELS.get(verdict, verdict)
        item["reasons"] = [r.get("message_en") if lang == "en" else r.get("message_zh")
                           for r in (entry or {}).get("reasons") or []]
    shown = entry if entry is not None else summary
    for detail in form.details:
        text = _detail_text(detail, shown.get(detail.key), labels, home)
        if text:
            item["details"].append((detail.label(lang), text))
    if entry is None and form.collection and form.superseded:
        item["details"].append((gettext("说明"), form.superseded(lang)))
    for role, filename in ((entry or {}).get("photos") or {}).items():
        if filename:
            item["photos"].append(photo(form.form_id, entry["instance_id"], filename, role, attachments))


def _detail_text(detail: Detail, value: Any, labels: FormLabels, home: tuple[float, float] | None) -> str | None:
    if value in (None, "", []):
        return None
    if detail.show == "money":
        return gettext("%(amount)s 元", amount=money(value))
    if detail.show == "choice":
        codes = [code for code in (value if isinstance(value, list) else str(value).split()) if code not in detail.skip]
        return labels.choice(detail.path, " ".join(codes)) if codes else None
    if detail.show == "field":
        return display_value(value, detail.path)
    if detail.show == "gps":
        where = f"{value['latitude']:.6f}, {value['longitude']:.6f}"
        if value.get("accuracy") is not None:
            where += " ± " + gettext("%(m)s 米", m=f"{value['accuracy']:g}")
        if home:
            where += " · " + gettext("距该户 %(m)s 米", m=round(metres((value["latitude"], value["longitude"]), home)))
        return where
    return str(value)


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
    rows, files = answers(submission, xml_form_id)
    meta = {"form_title": form_title(xml_form_id, title, current_lang()), "form_id": xml_form_id, "version": version, "instance_id": submission.instance_id,
            "instance_name": submission.instance_name, "deprecated_id": submission.deprecated_id,
            "current": submission.current, "received_at": local_time(submission.received_at),
            "submitter": display_name or username, "review_state": submission.review_state,
            "reconcile_state": submission.reconcile_state,
            "xml_url": url_for("api.submission_xml", xml_form_id=xml_form_id, instance_id=submission.instance_id),
            "json_url": url_for("api.get_submission", xml_form_id=xml_form_id, instance_id=submission.instance_id),
            "edit_url": edit_link(xml_form_id, submission)}
    feedback = submission_feedback(submission, xml_form_id)
    db().commit()
    return render_template("households/submission.html", number=number, head=household.head_name, meta=meta,
                           rows=rows, files=files, **feedback)
