"""The exit procedure (退出程序) of a household proposed to exit. DOMAIN.md "Precisions": "Exit follows a procedure:
民主评议 → 村两委和驻村工作队核实 → 村内公示 → 镇核查 → 县抽查 → 批准公告 → 备案标注" (seed 001: 贫困户退出按照村民代表
会议民主评议、村两委和驻村工作队组织核实认定、村内公示、镇办核查、县级抽查、批准公告、备案标注的程序进行).

Each step is a fact a person enters: the day it took place, who entered it, an optional note. Steps follow the order;
a step's day is neither in the future nor before the previous step's. Who may enter a step follows the level it
belongs to: the village's three steps a supervisor of the village or above, 镇核查 one of the town or above, the
county's three a supervisor of the county or an admin. A cadre reads, never writes.

The exit standard (sync.rules.exit_standard, the household record's exit_eligible) is shown beside the steps and kept
with each step as the record judged it; it does not refuse a step: the procedure's own steps (核实, 镇核查, 县抽查)
are where people check it, and the record often cannot judge it (no income surveyed).

Every read is limited to the caller's areas (any object with `filter(statement, column)`); another area's household
is not found. Services flush; the request commits.
"""
from __future__ import annotations

import dataclasses
import hashlib
import datetime as dt
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement, Select

from media.images import SERVED_TYPES, inspect_image
from server.errors import DomainError
from sync.exit_models import ExitStep
from sync.models import Area, Household
from sync.records import HouseholdRecord

#: step code → (Chinese, English, the lowest area level whose supervisor may enter it)
STEPS: dict[str, tuple[str, str, str]] = {
    "appraisal": ("民主评议", "democratic appraisal", "village"),
    "verification": ("村两委和驻村工作队核实", "verification by the village committees and work team", "village"),
    "publicity": ("村内公示", "public notice in the village", "village"),
    "town_check": ("镇核查", "town check", "town"),
    "county_check": ("县抽查", "county spot check", "county"),
    "announcement": ("批准公告", "approval announced", "county"),
    "filing": ("备案标注", "filed and marked", "county"),
}
ORDER = tuple(STEPS)
#: area levels from the top; a supervisor's level for a household is that of their highest area above it
LEVELS = ("county", "town", "village", "group")
MAX_NOTE = 2000
#: the largest document photo taken, bytes
MAX_PHOTO = 20 * 1024 * 1024
#: who may enter the steps of a level, for the refusal's message
WHO = {"village": ("村级及以上审核人员", "a supervisor of the village or above"),
       "town": ("乡镇级及以上审核人员", "a supervisor of the town or above"),
       "county": ("县级审核人员或管理员", "a county supervisor or an admin")}


class Scope(Protocol):
    def filter(self, statement: Select, column: ColumnElement) -> Select: ...


class Author(Protocol):
    id: int
    username: str
    display_name: str
    role: str


def _refuse(code: str, zh: str, en: str, kind: str = "invalid") -> DomainError:
    return DomainError(kind, f"exit.{code}", zh, en)


def next_step(done: list[str]) -> str | None:
    """The step that comes after those done (in order), None when the procedure is complete."""
    return ORDER[len(done)] if len(done) < len(ORDER) else None


def may_enter(step: str, role: str, level: str | None) -> bool:
    """Whether an account of `role` whose highest area above the household is at `level` may enter `step`: admins
    every step; supervisors the steps of their level and below (a county supervisor every step, a town one up to
    镇核查, a village one the village's three); cadres none."""
    if role == "admin":
        return True
    if role != "supervisor" or level not in LEVELS:
        return False
    return LEVELS.index(level) <= LEVELS.index(STEPS[step][2])


def check_step(done: list[tuple[str, dt.date]], step: str, on: Any, today: dt.date) -> None:
    """Refuse a step that is not the next one (409), or dated in the future or before the previous step (400)."""
    if step not in STEPS:
        raise _refuse("step_unknown", "退出程序没有这一步。", "The exit procedure has no such step.")
    expected = next_step([s for s, _ in done])
    if step != expected:
        zh, en = (STEPS[expected][0], STEPS[expected][1]) if expected else ("退出程序已完成", "the procedure is complete")
        raise _refuse("out_of_order", f"退出程序须按顺序登记：下一步是“{zh}”。",
                      f"Exit steps are entered in order: the next one is “{en}”.", "conflict")
    if not isinstance(on, dt.date):
        raise _refuse("date_required", "请填写日期。", "Give the date.")
    if on > today:
        raise _refuse("date_in_future", "日期不能晚于今天。", "The date cannot be after today.")
    if done and on < done[-1][1]:
        raise _refuse("date_before_previous", f"日期不能早于上一步（{done[-1][1].isoformat()}）。",
                      f"The date cannot be before the previous step's ({done[-1][1].isoformat()}).")


def document_photo(data: bytes, filename: str | None, content_type: str | None) -> tuple[str, str]:
    """A document photo's sha256 and the image type it is stored and served as, found by decoding it
    (media.images); a file that is not a sound JPEG, PNG, WebP or GIF of the type it claims is refused."""
    if len(data) > MAX_PHOTO:
        raise _refuse("photo_too_large", f"照片不能超过 {MAX_PHOTO // 1024 // 1024} MB。",
                      f"A photo may be at most {MAX_PHOTO // 1024 // 1024} MB.", "too_large")
    check = inspect_image(data, filename, content_type)
    if not check.ok or check.format not in SERVED_TYPES:
        raise _refuse("photo_invalid", "照片不是有效的图片（JPEG、PNG、WebP 或 GIF）。",
                      "The photo is not a valid image (JPEG, PNG, WebP or GIF).")
    return hashlib.sha256(data).hexdigest(), SERVED_TYPES[check.format]


@dataclasses.dataclass(frozen=True)
class ExitRow:
    """A household in the exit procedure with what a list shows."""
    household: str
    head_name: str
    village: str
    status: str
    standard_met: bool | None
    #: how many steps are done (1..7)
    reached: int
    last_on: dt.date

    @property
    def step(self) -> str:
        return ORDER[self.reached - 1]

    @property
    def done(self) -> bool:
        return self.reached == len(ORDER)


@dataclasses.dataclass
class Page:
    total: int
    items: list[ExitRow]


def _rows(scope: Scope) -> Select:
    return scope.filter(
        select(Household.number, Household.head_name, Area.name, Household.status, HouseholdRecord.exit_eligible,
               func.max(ExitStep.position), func.max(ExitStep.on))
        .join(Household, Household.id == ExitStep.household_id).join(Area, Area.id == Household.area_id)
        .outerjoin(HouseholdRecord, HouseholdRecord.household_id == Household.id)
        .group_by(Household.id, Area.name, HouseholdRecord.exit_eligible), Household.area_id)


def list_exits(session: Session, scope: Scope, *, area: Area | None = None, step: str | None = None,
               done: bool | None = None, limit: int = 50, offset: int = 0) -> Page:
    """Households in the exit procedure in the caller's areas, by household number. Filters: an area and below,
    the last step reached, done (备案标注 entered) or not."""
    statement = _rows(scope)
    if area is not None:
        statement = statement.where(Area.path.startswith(area.path))
    if step is not None:
        statement = statement.having(func.max(ExitStep.position) == ORDER.index(step) + 1)
    if done is not None:
        statement = statement.having((func.max(ExitStep.position) == len(ORDER)) == done)
    total = session.scalar(select(func.count()).select_from(statement.subquery())) or 0
    rows = session.execute(statement.order_by(Household.number).limit(limit).offset(offset)).all()
    return Page(total, [ExitRow(*row) for row in rows])


def open_count(session: Session, scope: Scope) -> int:
    """The supervisor's home: households in the exit procedure in the caller's areas not yet 备案标注."""
    statement = scope.filter(select(ExitStep.household_id).join(Household, Household.id == ExitStep.household_id)
                             .group_by(ExitStep.household_id)
                             .having(func.max(ExitStep.position) < len(ORDER)), Household.area_id)
    return session.scalar(select(func.count()).select_from(statement.subquery())) or 0


def household_step(session: Session, household_id: int, step: str) -> ExitStep | None:
    return session.scalar(select(ExitStep).where(ExitStep.household_id == household_id, ExitStep.step == step))


def household_steps(session: Session, household_id: int) -> list[ExitStep]:
    return list(session.scalars(select(ExitStep).where(ExitStep.household_id == household_id)
                                .order_by(ExitStep.position)))


def enter_step(session: Session, household: Household, step: str, on: Any, note: str | None, user: Author,
               level: str | None, now: dt.datetime, today: dt.date,
               photo: tuple[str, str] | None = None) -> ExitStep:
    """Keep a step entered by `user` (whose highest area above the household is at `level`, server.scope.level_for),
    with its document photo (sha256 in the media store, image type from `document_photo`) when one was given,
    after the refusals: an unknown step (invalid), a role or level that may not enter it (forbidden), a step
    out of order (conflict), a day in the future or before the previous step's (invalid). The household is locked
    first so that two steps entered at once are checked one after the other."""
    if step not in STEPS:
        raise _refuse("step_unknown", "退出程序没有这一步。", "The exit procedure has no such step.")
    if not may_enter(step, user.role, level):
        zh, en = WHO[STEPS[step][2]]
        raise _refuse("not_allowed", f"这一步只能由{zh}登记。", f"Only {en} may enter this step.", "forbidden")
    body = (note or "").strip()
    if len(body) > MAX_NOTE:
        raise _refuse("note_too_long", f"备注最多 {MAX_NOTE} 个字。", f"A note may have at most {MAX_NOTE} characters.")
    session.execute(select(Household.id).where(Household.id == household.id).with_for_update())
    done = [(s.step, s.on) for s in household_steps(session, household.id)]
    check_step(done, step, on, today)
    standard = session.scalar(select(HouseholdRecord.exit_eligible)
                              .where(HouseholdRecord.household_id == household.id))
    entered = ExitStep(household_id=household.id, step=step, position=ORDER.index(step) + 1, on=on,
                       note=body or None, standard_met=standard, photo_sha256=photo[0] if photo else None,
                       photo_type=photo[1] if photo else None, by_id=user.id,
                       by_name=(user.display_name or user.username)[:100], at=now)
    session.add(entered)
    session.flush()
    return entered


def exit_detail(session: Session, household: Household, village: str, standard_met: bool | None, role: str,
                level: str | None) -> dict[str, Any]:
    """A household's exit procedure as the file and the API show it: the steps done, the next one and whether the
    caller may enter it, and the exit standard as the household's record judges it now (shown beside the steps)."""
    steps = household_steps(session, household.id)
    following = next_step([s.step for s in steps])
    return {"household": household.number, "head_name": household.head_name, "village": village,
            "status": household.status, "standard_met": standard_met, "steps": steps,
            "next_step": following, "done": following is None,
            "may_enter_next": following is not None and may_enter(following, role, level)}
