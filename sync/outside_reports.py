"""Households outside the roster (应纳尽纳, DOMAIN.md "Precisions": a cadre reports a household not on the list — a
一般户 near the line, a dropout, a dangerous house — and a supervisor decides on it; seeds 003, 004).

A 新发现户报告 (household_report) submission names no household number. The reconciler does not take it for a visit
to an unknown household: it keeps it as an outside report, one row per chain of edits (`refresh_reports`), found
again from the submissions by `reconcile rebuild` (`rebuild_reports`). What cannot be used (a bad ID number, a
village outside the sender's areas) is a finding on the report, which is kept all the same (nothing reported is
lost). A head whose ID number is a registered member's is flagged with that household (a possible duplicate).

A supervisor of the report's area, or an admin, decides once (`decide`): 纳入 registers the household — a new
household number after the village's last one, status 监测户 with the chosen subtype, the reporter (or a chosen
cadre) as 帮扶责任人, its head as a member — so that it is in the household list, its file and the devices'
households.csv; 不纳入 keeps the report with the reason. A decision is a row of its own, never rebuilt away.

Every read is limited to the caller's areas (any object with `filter(statement, column)`, server.scope.AreaScope);
another area's report is not found. Services flush; the request commits.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any, Iterable, Protocol

from sqlalchemy import column, delete, func, select, table, update
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement, Select

from forms.models import Form
from server.errors import DomainError
from sync import idcard
from sync.entity_list import bump_revision
from sync.facts import read_fact
from sync.forms import DEFINITIONS
from sync.forms.report import REASONS
from sync.models import Area, Household, Member, Submission
from sync.outside_models import OutsideDecision, OutsideReport
from sync.roster import queue_households
from sync.rules import EDGE_POOR, MONITORING_TYPES, SUDDEN_HARDSHIP

#: the forms whose submissions are kept as outside reports (not about a registered household)
REPORT_FORMS = tuple(form_id for form_id, d in DEFINITIONS.items() if not d.about_household)
#: who may decide on a report (a cadre reports and reads)
DECIDERS = ("admin", "supervisor")
#: reasons of sudden hardship (突发严重困难户, DOMAIN.md:91-92); near_line and the others suggest 边缘易致贫户
SUDDEN = ("illness", "disability", "schooling", "disaster", "accident")
#: the report states a list filters on
STATES = ("undecided", "registered", "declined")
#: a registered household's number: its village's area code and a 4-digit sequence (the roster's numbering)
SEQUENCE_DIGITS = 4
#: the areas a household belongs to (sync.models.AREA_LEVELS)
HOUSEHOLD_LEVELS = ("village", "group")

_USERS = table("users", column("id"), column("role"), column("username"), column("display_name"),
               column("active"))
_USER_AREAS = table("user_areas", column("user_id"), column("area_id"))


class Scope(Protocol):
    def filter(self, statement: Select, column: ColumnElement) -> Select: ...

    def allows(self, area_id: int | None) -> bool: ...


class Author(Protocol):
    id: int
    username: str
    display_name: str
    role: str


def _finding(code: str, zh: str, en: str) -> dict[str, str]:
    return {"code": code, "zh": zh, "en": en}


def report_findings(values: dict[str, Any], village: Area | None, covered: bool) -> list[dict[str, str]]:
    """What in a report cannot be used, as findings (the report is kept all the same, DOMAIN.md:95): the head's ID
    number (checked as sync/idcard.py checks it), the village (a known village or group inside the sender's
    areas: `covered`), the head's name."""
    found = []
    number = values.get("id_number") or ""
    if not idcard.check_digit_ok(number) or idcard.birth_date(number) is None:
        found.append(_finding("id_number_invalid", f"身份证号码“{number}”校验位错误或格式不对",
                              f"The ID number '{number}' fails its check digit or shape"))
    code = values.get("village_code") or ""
    if village is None or village.level not in HOUSEHOLD_LEVELS:
        found.append(_finding("village_unknown", f"行政区划代码“{code}”不是已知的村或村民小组",
                              f"The area code '{code}' is no known village or village group"))
    elif not covered:
        found.append(_finding("village_outside_areas", f"{village.name}（{code}）不在报告人负责的区域内",
                              f"{village.name} ({code}) is outside the reporter's areas"))
    if not values.get("head_name"):
        found.append(_finding("head_name_missing", "未填写户主姓名", "The head of household's name is missing"))
    return found


def suggested_type(reasons: Iterable[str]) -> str:
    """The subtype a decision starts from: sudden hardship (因病/因残/因学/因灾/因意外) without a low income →
    突发严重困难户, else 边缘易致贫户 (DOMAIN.md:91-92). The supervisor chooses in the end."""
    chosen = set(reasons)
    if chosen & set(SUDDEN) and "near_line" not in chosen:
        return SUDDEN_HARDSHIP
    return EDGE_POOR


def next_number(existing: Iterable[str], village_code: str) -> str:
    """The village's next household number: its area code and one more than the highest sequence it has."""
    width = len(village_code) + SEQUENCE_DIGITS
    taken = [int(n[len(village_code):]) for n in existing
             if len(n) == width and n.startswith(village_code) and n[len(village_code):].isdigit()]
    return f"{village_code}{max(taken, default=0) + 1:0{SEQUENCE_DIGITS}d}"


# --- kept from the submissions (derived) ---------------------------------------------------------------------------

def _report_submissions(session: Session, ids: list[int] | None):
    # the forms' ids first: joined to the forms, PostgreSQL could not tell how few submissions a report form has and
    # read every submission in id order (16 s of a rebuild's first chunk at a province's 14.4M submissions); by id
    # the unique index on (form_id, root_instance_id) of the current versions finds them
    forms = session.scalars(select(Form.id).where(Form.xml_form_id.in_(REPORT_FORMS))).all()
    statement = select(Submission).where(Submission.form_id.in_(forms), Submission.current.is_(True))
    if ids is not None:
        statement = statement.where(Submission.id.in_(ids))
    return session.scalars(statement.order_by(Submission.id)).all()


def _sender(session: Session, user_id: int | None) -> tuple[bool, list[str]]:
    """(an admin, the paths of their areas)."""
    role = session.scalar(select(_USERS.c.role).where(_USERS.c.id == user_id)) if user_id else None
    paths = list(session.scalars(select(Area.path).join(_USER_AREAS, _USER_AREAS.c.area_id == Area.id)
                                 .where(_USER_AREAS.c.user_id == user_id))) if user_id else []
    return role == "admin", paths


def _keep(session: Session, submission: Submission, decided: dict[str, int | None]) -> None:
    fact = read_fact(submission.xml, submission.received_at)
    values = {k: v for k, v in fact.record.items() if k != "photos"} | {"photos": fact.record.get("photos", {})}
    if values.get("id_number"):
        values["id_number"] = idcard.normalize(values["id_number"])
    code = values.get("village_code") or ""
    village = session.scalar(select(Area).where(Area.code == code)) if code else None
    admin, paths = _sender(session, submission.submitter_id)
    covered = village is not None and (admin or any(village.path.startswith(p) for p in paths))
    findings = report_findings(values, village, covered)
    findings += [_finding(f["code"], f.get("zh", ""), f.get("en", "")) for f in fact.findings]
    usable_village = village if covered and village.level in HOUSEHOLD_LEVELS else None
    root = submission.root_instance_id
    duplicate = None
    if values.get("id_number"):
        statement = (select(Household.id).join(Member, Member.household_id == Household.id)
                     .where(Member.id_number == values["id_number"]).order_by(Household.number))
        if decided.get(root) is not None:  # the household this report registered is not a duplicate of it
            statement = statement.where(Household.id != decided[root])
        duplicate = session.scalar(statement.limit(1))
    row = {"submission_id": submission.id, "instance_id": submission.instance_id,
           "reporter_id": submission.submitter_id, "reported_at": submission.received_at,
           "area_id": usable_village.id if usable_village else submission.area_id,
           "village_id": usable_village.id if usable_village else None,
           "head_name": (values.get("head_name") or "")[:100], "reasons": values.get("reasons") or [],
           "values": values, "findings": findings, "duplicate_household_id": duplicate}
    existing = session.scalar(select(OutsideReport).where(OutsideReport.root_instance_id == root))
    if existing is None:
        session.add(OutsideReport(root_instance_id=root, **row))
    else:
        for key, value in row.items():
            setattr(existing, key, value)


def _decided(session: Session) -> dict[str, int | None]:
    return dict(session.execute(select(OutsideDecision.root_instance_id, OutsideDecision.household_id)).all())


def refresh_reports(session: Session, submission_ids: Iterable[int], now: dt.datetime) -> list[int]:
    """Keep the report submissions among `submission_ids` as outside reports; the ids kept (marked `report`, so
    that they are not taken for submissions about an unknown household)."""
    submissions = _report_submissions(session, list(submission_ids))
    if not submissions:
        return []
    decided = _decided(session)
    for submission in submissions:
        _keep(session, submission, decided)
    ids = [s.id for s in submissions]
    session.execute(update(Submission).where(Submission.id.in_(ids))
                    .values(reconcile_state="report", reconciled_at=now))
    session.flush()
    return ids


def rebuild_reports(session: Session, now: dt.datetime) -> int:
    """Every outside report again from the submissions (`reconcile rebuild`); the decisions are kept."""
    submissions = _report_submissions(session, None)
    current = {s.root_instance_id for s in submissions}
    session.execute(delete(OutsideReport).where(OutsideReport.root_instance_id.not_in(current))
                    if current else delete(OutsideReport))
    decided = _decided(session)
    for submission in submissions:
        _keep(session, submission, decided)
    if submissions:
        session.execute(update(Submission).where(Submission.id.in_([s.id for s in submissions]),
                                                 Submission.reconcile_state != "report")
                        .values(reconcile_state="report", reconciled_at=now))
    session.flush()
    return len(submissions)


# --- read and decided by people ------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class ReportRow:
    report: OutsideReport
    decision: OutsideDecision | None
    village: str | None
    reporter: str | None
    duplicate: str | None

    @property
    def state(self) -> str:
        if self.decision is None:
            return "undecided"
        return "registered" if self.decision.decision == "register" else "declined"

    @property
    def suggested_type(self) -> str:
        return suggested_type(self.report.reasons)


@dataclasses.dataclass
class Page:
    total: int
    items: list[ReportRow]


_VILLAGE = Area.__table__.alias("report_village")
_DUPLICATE = Household.__table__.alias("duplicate_household")


def _rows(scope: Scope) -> Select:
    statement = (select(OutsideReport, OutsideDecision, _VILLAGE.c.name,
                        func.coalesce(func.nullif(_USERS.c.display_name, ""), _USERS.c.username), _DUPLICATE.c.number)
                 .outerjoin(OutsideDecision, OutsideDecision.root_instance_id == OutsideReport.root_instance_id)
                 .outerjoin(_VILLAGE, _VILLAGE.c.id == OutsideReport.village_id)
                 .outerjoin(_USERS, _USERS.c.id == OutsideReport.reporter_id)
                 .outerjoin(_DUPLICATE, _DUPLICATE.c.id == OutsideReport.duplicate_household_id))
    return scope.filter(statement, OutsideReport.area_id)


def list_reports(session: Session, scope: Scope, *, state: str | None = None, area: Area | None = None,
                 reason: str | None = None, limit: int = 50, offset: int = 0) -> Page:
    """Reports in the caller's areas, newest first, decided ones with their decision."""
    statement = _rows(scope)
    if state == "undecided":
        statement = statement.where(OutsideDecision.id.is_(None))
    elif state in ("registered", "declined"):
        statement = statement.where(OutsideDecision.decision == ("register" if state == "registered" else "decline"))
    if area is not None:
        statement = statement.where(OutsideReport.area_id.in_(select(Area.id).where(Area.path.startswith(area.path))))
    statement = statement.order_by(OutsideReport.reported_at.desc(), OutsideReport.id.desc())
    if reason:  # the reasons are a JSON list: filtered here (the reports of one's areas are few)
        items = [row for row in (ReportRow(*r) for r in session.execute(statement)) if reason in row.report.reasons]
        return Page(len(items), items[offset:offset + limit])
    total = session.scalar(select(func.count()).select_from(statement.order_by(None).subquery())) or 0
    return Page(total, [ReportRow(*row) for row in session.execute(statement.limit(limit).offset(offset))])


def undecided_count(session: Session, scope: Scope) -> int:
    """The supervisor's home: reports in the caller's areas waiting for a decision."""
    statement = (select(func.count()).select_from(OutsideReport)
                 .outerjoin(OutsideDecision, OutsideDecision.root_instance_id == OutsideReport.root_instance_id)
                 .where(OutsideDecision.id.is_(None)))
    return session.scalar(scope.filter(statement, OutsideReport.area_id)) or 0


def find_report(session: Session, scope: Scope, report_id: int) -> ReportRow:
    row = session.execute(_rows(scope).where(OutsideReport.id == report_id)).first()
    if row is None:
        raise DomainError("not_found", "outside.not_found", f"没有编号为 {report_id} 的新发现户报告。",
                          f"There is no outside report {report_id}.")
    return ReportRow(*row)


def registered_from(session: Session, household_id: int) -> tuple[int, OutsideDecision] | None:
    """(the report, the decision) a household was registered from, for its file; None for a roster household."""
    row = session.execute(select(OutsideReport.id, OutsideDecision)
                          .join(OutsideReport, OutsideReport.root_instance_id == OutsideDecision.root_instance_id)
                          .where(OutsideDecision.household_id == household_id)).first()
    return (row[0], row[1]) if row else None


def area_cadres(session: Session, area_id: int) -> list[tuple[str, str]]:
    """(user name, display name) of the active accounts whose areas hold the area: who may be 帮扶责任人."""
    path = session.scalar(select(Area.path).where(Area.id == area_id))
    if path is None:
        return []
    held = select(Area.id).where(func.substr(path, 1, func.length(Area.path)) == Area.path)
    rows = session.execute(select(_USERS.c.username, _USERS.c.display_name).distinct()
                           .join(_USER_AREAS, _USER_AREAS.c.user_id == _USERS.c.id)
                           .where(_USER_AREAS.c.area_id.in_(held), _USERS.c.active.is_(True))
                           .order_by(_USERS.c.username)).all()
    return [(username, display or username) for username, display in rows]


def _refuse(code: str, zh: str, en: str, kind: str = "invalid") -> DomainError:
    return DomainError(kind, f"outside.{code}", zh, en)


def decide(session: Session, row: ReportRow, user: Author, decision: str, *, monitoring_type: str | None = None,
           cadre: str | None = None, reason: str | None = None, now: dt.datetime) -> OutsideDecision:
    """Register (纳入) or decline (不纳入) a report the caller's scope found; once."""
    if user.role not in DECIDERS:
        raise _refuse("not_allowed", "只有审核人员或管理员可以决定是否纳入。",
                      "Only a supervisor or an admin may decide on a report.", "forbidden")
    if row.decision is not None:
        raise _refuse("decided", "这份报告已经决定过，不能再次决定。", "This report has been decided already.",
                      "conflict")
    report = row.report
    reason = (reason or "").strip() or None
    made = OutsideDecision(root_instance_id=report.root_instance_id, decision=decision, reason=reason,
                           by_id=user.id, by_name=(user.display_name or user.username)[:100], at=now)
    if decision == "decline":
        if reason is None:
            raise _refuse("reason_required", "不纳入须写明理由。", "Give the reason for not registering it.")
    elif decision == "register":
        made.monitoring_type = monitoring_type or suggested_type(report.reasons)
        if made.monitoring_type not in MONITORING_TYPES:
            raise _refuse("type_unknown", "监测对象类型不对。", "Unknown monitoring type.")
        blocking = [f for f in report.findings if f["code"] in ("id_number_invalid", "village_unknown",
                                                                "village_outside_areas", "head_name_missing")]
        if blocking or report.village_id is None:
            raise _refuse("unusable", "报告中的户主、身份证号码或所在村不可用，不能纳入；可不纳入，或请报告人修改后重新提交。",
                          "The report's head, ID number or village cannot be used, so it cannot be registered; "
                          "decline it, or have the reporter correct and resend it.", "conflict")
        made.cadre = _cadre(session, report, cadre)
        household = _register(session, report, made.monitoring_type, made.cadre, now)
        made.household_id, made.household_number = household.id, household.number
    else:
        raise _refuse("decision_unknown", "决定只能是纳入或不纳入。", "The decision is register or decline.")
    session.add(made)
    session.flush()
    return made


def _cadre(session: Session, report: OutsideReport, chosen: str | None) -> str | None:
    """The chosen cadre, who must be an account of the report's village; else the reporter."""
    accounts = dict(area_cadres(session, report.village_id))
    if chosen:
        if chosen not in accounts:
            raise _refuse("cadre_unknown", f"“{chosen}”不是该村的账号。", f"'{chosen}' is no account of the village.")
        return chosen
    return session.scalar(select(_USERS.c.username).where(_USERS.c.id == report.reporter_id))


def _register(session: Session, report: OutsideReport, monitoring_type: str, cadre: str | None,
              now: dt.datetime) -> Household:
    values = report.values
    village = session.get(Area, report.village_id)
    number = next_number(session.scalars(select(Household.number).where(Household.number.startswith(village.code))),
                         village.code)
    gps = values.get("gps") or {}
    reasons = [REASONS[r].zh for r in report.reasons if r in REASONS and r not in ("near_line", "other")]
    household = Household(number=number, area_id=village.id, head_name=report.head_name, status="监测户",
                          monitoring_type=monitoring_type, poverty_cause=(reasons[0] if reasons else None),
                          phone=values.get("phone") or None, cadre=cadre, latitude=gps.get("latitude"),
                          longitude=gps.get("longitude"), roster_version=1,
                          roster_fingerprint=f"outside:{report.root_instance_id}"[:64], created_at=now,
                          updated_at=now)
    id_number = values["id_number"]
    household.members.append(Member(position=0, name=report.head_name, id_number=id_number, relation="户主",
                                    sex=idcard.sex(id_number), birth_date=idcard.birth_date(id_number),
                                    schooling="", insured=False, health="", labour=""))
    session.add(household)
    session.flush()
    bump_revision(session, "households")
    queue_households(session, [number])
    return household
