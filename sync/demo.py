"""Demo data: a fresh instance filled so that a newcomer sees every page populated.

`load_demo` imports the sample areas and roster (sync/samples/), publishes the bundled forms, has the caller
create the demo accounts (accounts live in the server shell, so a callback makes them), then submits two months
(last month and this month, China time) of generated door-to-door visits, housing assessments and income
surveys through `accept_submission`, with the cadres as senders, exactly as ODK Collect's uploads arrive, and
runs the worker until idle so that records, evidence verdicts and thumbnails exist.

The generated month is meant to look like a real one, with the problems supervisors look for: most visits have
GPS at the door and a family photo taken then and there; some were made far from the house, with a poor fix,
without a photo, with a photo taken on another day or one that never arrived; some households were not visited
at all; a few households were visited by two cadres from the same entity version who disagree (conflicts);
C/D houses with their assessments; income surveys of two years with drops, large medical spending and a
reported total that does not add up.

Deterministic: the same seed, roster and day give the same submissions, byte for byte. Every random choice about
a household comes from a generator seeded with (seed, household number), and instance IDs are derived from
(seed, household, month, what), so running it again in the same month submits the same instances (which are
then skipped). The photos are small real JPEGs drawn with Pillow, with EXIF capture time and GPS.
"""
from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import math
import random
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path
from typing import Callable, Iterable

from PIL import ExifTags, Image, ImageDraw, TiffImagePlugin
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from forms.instances import bundled
from forms.models import Form
from forms.service import publish_bundled_forms
from media.store import Store
from server.db import session_scope, utcnow
from server.errors import DomainError
from sync.areas import import_areas
from sync.jobs import QueueSettings, run_image_jobs, run_until_idle
from sync.demo_outside import decide_reports, outside_reports
from sync.models import Area, Household, Submission, SubmissionAttachment
from sync.monitoring import DISMISS, INCLUDE, MEASURE
from sync.monitoring_cases import enter_decision
from sync.monitoring_models import MonitoringCase, MonitoringDecision
from sync.outside_models import OutsideDecision
from sync.roster import HEADERS, OPTIONAL, import_roster
from sync.rules import SAFE_RENOVATION, UNSTABLE_EXITED, renovation_progress
from sync.submissions import IncomingFile, Sender, accept_submission
from sync.tables import Row, read_table
from sync.visitor_roles import OTHER, PAIRED

SAMPLES = Path(__file__).resolve().parent / "samples"
CHINA = dt.timezone(dt.timedelta(hours=8))
SEED = 2026
ADMIN_PASSWORD = "admin-demo-pw"
DEMO_PASSWORD = "demo-password"
VISIT, ASSESSMENT, INCOME = "household_visit", "housing_assessment", "income_survey"
#: instance IDs are uuid5 names under this namespace
NAMESPACE = uuid.UUID("6f1d4f0e-8a51-4c31-9a57-2d5b8f1c0a66")
CADRE_NAMES = ["王建国", "李秀英", "张伟", "刘洋", "陈静", "杨帆", "赵磊", "黄丽", "周强", "吴敏", "孙志刚", "马兰"]

# how a visit's evidence turns out, with weights: most are fine, the rest is what supervisors look for
EVIDENCE = [("verified", 80), ("gps_far", 5), ("no_photo", 3), ("photo_other_day", 4), ("photo_not_sent", 3),
            ("gps_inaccurate", 3), ("no_evidence", 2), ("not_home", 2)]
# share of households visited in a month (this month is still running)
VISITED_LAST_MONTH, VISITED_THIS_MONTH = 0.9, 0.75
NEVER_VISITED_SHARE = 0.05
GRADES = [("A", 55), ("B", 33), ("C", 7), ("D", 5)]
CONFLICTS = 4
INCOME_SURVEYED = 0.7
TWO_YEARS_SURVEYED = 0.25
INCOME_DROPS = 6
# how many households have each of the rarer problems
RARE = {"water_problem": 9, "out_of_school": 2, "children_miscounted": 2, "large_medical_spending": 3,
        "income_total_misreported": 2}
# per-capita net income drawn for each registered status (yuan per person per year)
INCOME_RANGE = {"未脱贫": (4200, 7400), "已脱贫": (8500, 16000), "监测户": (7400, 10500), "返贫": (4000, 7000)}
#: the statuses of the poverty-alleviation years only (DOMAIN.md "Precisions")
POVERTY_PERIOD_STATUSES = ("未脱贫", "返贫")


@dataclasses.dataclass(frozen=True)
class DemoUser:
    username: str
    role: str
    #: area codes the account may see
    area_codes: tuple[str, ...]
    display_name: str
    password: str
    #: visiting duty role (sync/visitor_roles.py): the roster's cadres are paired cadres
    duty: str = OTHER


@dataclasses.dataclass(frozen=True)
class MemberInfo:
    name: str
    relation: str
    birth_date: dt.date
    insured: bool


@dataclasses.dataclass(frozen=True)
class HouseholdInfo:
    """What the generator needs to know of a registered household."""
    number: str
    area_code: str
    head_name: str
    latitude: float
    longitude: float
    cadre: str
    status: str
    members: tuple[MemberInfo, ...]


@dataclasses.dataclass(frozen=True)
class DemoSubmission:
    """One generated upload: the instance XML, the files sent with it, and the account that sends it."""
    form: str
    household: str
    instance_id: str
    sender: str
    observed_at: dt.datetime
    xml: bytes
    files: dict[str, bytes]


@dataclasses.dataclass
class DemoReport:
    users: list[DemoUser]
    created_users: list[str]
    households: int
    submitted: Counter
    skipped: int
    jobs_done: int
    seconds: float


# ---- accounts ---------------------------------------------------------------------------------------------

def plan_users(session: Session, roster: list[Row]) -> list[DemoUser]:
    """admin, a county supervisor, one supervisor per town, an assessor, the county's finance staff (财务人员, who
    enter the renovation ledger's payments), and the roster's cadres (帮扶责任人)
    with the villages of the households they are paired with. Planned from the roster file before it is
    imported: the import accepts only 帮扶责任人 who have an account."""
    county = session.scalar(select(Area).where(Area.level == "county").order_by(Area.code))
    towns = session.scalars(select(Area).where(Area.level == "town").order_by(Area.code)).all()
    users = [DemoUser("admin", "admin", (), "信息员（管理员）", ADMIN_PASSWORD)]
    if county is not None:
        users.append(DemoUser("county", "supervisor", (county.code,), f"{county.name}扶贫办", DEMO_PASSWORD))
        users.append(DemoUser("assessor1", "supervisor", (county.code,), "住建局鉴定员 孙工", DEMO_PASSWORD))
        users.append(DemoUser("finance1", "finance", (county.code,), "财政局 钱会计", DEMO_PASSWORD))
    for index, town in enumerate(towns, start=1):
        users.append(DemoUser(f"town{index}", "supervisor", (town.code,), f"{town.name}督导", DEMO_PASSWORD))
    villages: dict[str, set[str]] = defaultdict(set)
    for row in roster:
        if row.values.get("cadre"):
            villages[row.values["cadre"]].add(row.values["area_code"])
    for index, cadre in enumerate(sorted(villages)):
        users.append(DemoUser(cadre, "cadre", tuple(sorted(villages[cadre])), CADRE_NAMES[index % len(CADRE_NAMES)],
                              DEMO_PASSWORD, PAIRED))
    return users


def demo_roster(monitoring_period: bool) -> bytes:
    """The sample roster as the demo imports it. The sample describes the poverty-alleviation years; in the
    consolidation period (from 2021: the rules' figure is a monitoring range) nobody is 未脱贫 or 返贫 any more
    (DOMAIN.md "Precisions": statuses 未脱贫/返贫 belong to 2020 and before), so a demo of those years registers
    them as monitored households at risk of falling back (脱贫不稳定户)."""
    text = (SAMPLES / "roster.csv").read_text(encoding="utf-8")
    if not monitoring_period:
        return text.encode("utf-8")
    rows = list(csv.reader(io.StringIO(text)))
    column = rows[0].index("户类型")
    for row in rows[1:]:
        if row[column] in POVERTY_PERIOD_STATUSES:
            row[column] = UNSTABLE_EXITED
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode("utf-8")


# ---- the generator (pure) ---------------------------------------------------------------------------------

@dataclasses.dataclass
class _Planned:
    """A submission before its entity base version is known (that needs the household's order of events)."""
    form: str
    household: HouseholdInfo
    at: dt.datetime
    sender: str
    tag: str
    args: dict
    #: a conflicting visit shares its partner's base version
    same_base_as: "_Planned | None" = None
    base_version: int = 0


def generate(households: Iterable[HouseholdInfo], now: dt.datetime, seed: int = SEED) -> list[DemoSubmission]:
    """Two months of submissions for these households, in the order they were filled."""
    households = sorted(households, key=lambda h: h.number)
    now = now.astimezone(CHINA)
    this_month = now.date().replace(day=1)
    last_month = (this_month - dt.timedelta(days=1)).replace(day=1)
    survey_year = now.year - 1
    chooser = random.Random(f"{seed}:choices")
    never = set(chooser.sample([h.number for h in households], max(1, round(len(households) * NEVER_VISITED_SHARE))))
    colleagues: dict[str, list[str]] = defaultdict(list)
    for h in households:
        if h.cadre and h.cadre not in colleagues[h.area_code]:
            colleagues[h.area_code].append(h.cadre)

    planned: dict[str, list[_Planned]] = defaultdict(list)
    profiles = _profiles(households, chooser, seed, now.date())
    two_years: list[tuple[_Planned, _Planned]] = []
    for h in households:
        rng = random.Random(f"{seed}:{h.number}")
        profile = profiles[h.number]
        if h.number not in never:
            for month, share in ((last_month, VISITED_LAST_MONTH), (this_month, VISITED_THIS_MONTH)):
                if rng.random() < share:
                    at = _work_time(rng, month, now)
                    planned[h.number].append(_Planned(VISIT, h, at, h.cadre, f"visit:{month:%Y-%m}",
                                                      {"evidence": "verified", **profile,
                                                       # after last month's assessment: on the ledger
                                                       "sees_stage": month == this_month}))
        if profile["grade"] in ("C", "D") or rng.random() < 0.1:
            at = _work_time(rng, last_month, now)
            planned[h.number].append(_Planned(ASSESSMENT, h, at, "assessor1", f"assessment:{last_month:%Y-%m}",
                                              {"grade": profile["grade"], "renovation": profile["renovation"],
                                               "mode": profile["mode"]}))
        if rng.random() < INCOME_SURVEYED:
            at = _work_time(rng, last_month, now)
            latest = _Planned(INCOME, h, at, h.cadre, f"income:{survey_year}",
                              {"year": survey_year, "per_capita": profile["per_capita"],
                               "medical": profile["medical"], "misreported": profile["misreported"]})
            planned[h.number].append(latest)
            if rng.random() < TWO_YEARS_SURVEYED:  # the year before too, filled in the same sitting
                earlier = _Planned(INCOME, h, at - dt.timedelta(hours=1), h.cadre, f"income:{survey_year - 1}",
                                   {"year": survey_year - 1, "medical": 0, "misreported": False,
                                    "per_capita": round(profile["per_capita"] * rng.uniform(0.85, 1.0), -1)})
                planned[h.number].append(earlier)
                two_years.append((earlier, latest))
    for earlier, latest in chooser.sample(two_years, min(INCOME_DROPS, len(two_years))):
        # this year's income fell sharply (防止返贫监测)
        earlier.args["per_capita"] = latest.args["per_capita"]
        latest.args["per_capita"] = round(latest.args["per_capita"] * chooser.uniform(0.45, 0.62), -1)
    _assign_evidence(chooser, [p for items in planned.values() for p in items if p.form == VISIT])

    _add_conflicts(chooser, planned, colleagues, this_month, now)
    _add_member_changes(chooser, planned, now)
    _add_out_of_area(chooser, planned, colleagues, this_month, now)

    out: list[DemoSubmission] = []
    for number in sorted(planned):
        items = sorted(planned[number], key=lambda p: p.at)
        version = 1
        for item in items:
            if item.same_base_as is not None:
                item.base_version = item.same_base_as.base_version
            else:
                item.base_version = version
            version += 1
        out.extend(_render(item, seed) for item in items)
    out.sort(key=lambda s: (s.observed_at, s.instance_id))
    return out


def _profiles(households: list[HouseholdInfo], chooser: random.Random, seed: int,
              today: dt.date) -> dict[str, dict]:
    """What stays true of each household across its visits: house grade, water, schooling, income level. The
    rare cases are dealt out in fixed numbers, so that every one of them is there whatever the seed."""
    numbers = [h.number for h in households]
    grades = dict(zip(numbers, _deal(chooser, numbers, GRADES)))
    with_pupils = [h.number for h in households if any(6 <= _age(m.birth_date, today) <= 15 for m in h.members)]
    special = {}
    for name, count in RARE.items():
        pool = with_pupils if name == "out_of_school" else numbers
        special[name] = set(chooser.sample(pool, min(count, len(pool))))
    profiles = {}
    for h in households:
        rng = random.Random(f"{seed}:{h.number}:profile")
        grade = grades[h.number]
        low, high = INCOME_RANGE.get(h.status, (6000, 12000))
        profiles[h.number] = {
            "grade": grade,
            "renovation": rng.choice(["planned", "building", "building", "moved_in", "old_dealt"])
            if grade in ("C", "D") else "",
            # 改造方式: on the same site moving in finishes it; elsewhere the old house must be dealt with too
            "mode": rng.choice(["rebuild", "repair", "relocate", "ex_situ"]) if grade in ("C", "D") else "",
            "water_ok": h.number not in special["water_problem"],
            "water_source": rng.choice(["central_tap"] * 6 + ["central", "scattered_tap", "scattered"]),
            "out_of_school": h.number in special["out_of_school"],
            # the cadre miscounts the children: a data-quality finding
            "children_off": h.number in special["children_miscounted"],
            "per_capita": round(rng.uniform(low, high), -1),
            "medical": rng.choice([26000, 32000]) if h.number in special["large_medical_spending"] else 0,
            "misreported": h.number in special["income_total_misreported"],
        }
    return profiles


def _deal(chooser: random.Random, items: list, shares: list[tuple[str, int]]) -> list[str]:
    """A value for each item (in the items' order), in the proportions of `shares`, each at least once."""
    total = sum(weight for _value, weight in shares)
    hand: list[str] = []
    for value, weight in shares[1:]:
        hand += [value] * max(1, round(len(items) * weight / total))
    hand = hand[:len(items)]
    hand += [shares[0][0]] * (len(items) - len(hand))
    chooser.shuffle(hand)
    return hand


def _assign_evidence(chooser: random.Random, visits: list[_Planned]) -> None:
    visits = sorted(visits, key=lambda p: (p.household.number, p.tag))
    for visit, evidence in zip(visits, _deal(chooser, visits, EVIDENCE)):
        visit.args["evidence"] = evidence


def _work_time(rng: random.Random, month: dt.date, now: dt.datetime) -> dt.datetime:
    """A working-hours moment in that month, never in the future."""
    next_month = (month + dt.timedelta(days=32)).replace(day=1)
    last_day = min((next_month - dt.timedelta(days=1)).day, now.day if month == now.date().replace(day=1) else 31)
    at = dt.datetime(month.year, month.month, rng.randint(1, last_day), rng.randint(8, 17), rng.randint(0, 59),
                     rng.randint(0, 59), tzinfo=CHINA)
    if at > now - dt.timedelta(minutes=20):
        start = dt.datetime(month.year, month.month, 1, tzinfo=CHINA)
        at = max(start + dt.timedelta(minutes=1), now - dt.timedelta(minutes=rng.randint(20, 240)))
    return at


def _add_conflicts(chooser: random.Random, planned: dict[str, list[_Planned]], colleagues: dict[str, list[str]],
                   this_month: dt.date, now: dt.datetime) -> None:
    """A colleague visits the same household the same day, from the same version of the household list, and
    records something else: the household gets an open conflict for a supervisor to resolve."""
    candidates = []
    for number, items in sorted(planned.items()):
        visits = [p for p in items if p.form == VISIT and p.tag == f"visit:{this_month:%Y-%m}"]
        if visits and len(colleagues[visits[0].household.area_code]) > 1:
            candidates.append(visits[0])
    for index, visit in enumerate(chooser.sample(candidates, min(CONFLICTS, len(candidates)))):
        h = visit.household
        other = next(c for c in colleagues[h.area_code] if c != h.cadre)
        visit.args["evidence"] = "verified"
        grade = visit.args["grade"]
        if index % 2 == 0:
            changed = {"grade": "C" if grade in ("A", "B") else "B"}
        else:
            changed = {"water_ok": not visit.args["water_ok"]}
        planned[h.number].append(_Planned(
            VISIT, h, visit.at + min(dt.timedelta(minutes=40), (now - visit.at) / 2), other, f"{visit.tag}:colleague",
            {**visit.args, **changed, "evidence": "verified"}, same_base_as=visit))


def _add_out_of_area(chooser: random.Random, planned: dict[str, list[_Planned]], colleagues: dict[str, list[str]],
                     this_month: dt.date, now: dt.datetime) -> None:
    """A cadre visits a household of another village, covering for its own cadre: stored, but held out of the
    household's record (超出辖区) until a supervisor of that village's town accepts it."""
    visits = sorted((p for items in planned.values() for p in items
                     if p.form == VISIT and p.tag == f"visit:{this_month:%Y-%m}" and p.same_base_as is None),
                    key=lambda p: p.household.number)
    visit = chooser.choice(visits)
    h = visit.household
    strangers = sorted({c for code, cadres in colleagues.items() if code != h.area_code for c in cadres}
                       - set(colleagues[h.area_code]))
    planned[h.number].append(_Planned(
        VISIT, h, visit.at + min(dt.timedelta(days=1), (now - visit.at) / 2), chooser.choice(strangers),
        f"{visit.tag}:covering", {**visit.args, "evidence": "verified"}))


def _add_member_changes(chooser: random.Random, planned: dict[str, list[_Planned]], now: dt.datetime) -> None:
    """A death in one household, a birth in another, reported on a visit."""
    today = now.date()
    visits = [p for _n, items in sorted(planned.items()) for p in items
              if p.form == VISIT and p.same_base_as is None
              and not any(q.same_base_as is not None for q in items)]
    elderly = [v for v in visits if any(m.relation != "户主" and _age(m.birth_date, today) >= 75
                                        for m in v.household.members)]
    young = [v for v in visits if any(m.relation == "户主" and _age(m.birth_date, today) <= 45
                                      for m in v.household.members)]
    if elderly:
        visit = chooser.choice(elderly)
        person = next(m for m in visit.household.members
                      if m.relation != "户主" and _age(m.birth_date, today) >= 75)
        visit.args["changes"] = [{"type": "death", "name": person.name, "relation": "other",
                                  "date": (visit.at - dt.timedelta(days=9)).date().isoformat()}]
    young = [v for v in young if "changes" not in v.args]
    if young:
        visit = chooser.choice(young)
        head = next(m for m in visit.household.members if m.relation == "户主")
        visit.args["changes"] = [{"type": "birth", "name": head.name[0] + "小宝", "relation": "son",
                                  "date": (visit.at - dt.timedelta(days=20)).date().isoformat()}]


def _age(birth: dt.date, day: dt.date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def instance_id(seed: int, household: str, tag: str) -> str:
    return f"uuid:{uuid.uuid5(NAMESPACE, f'{seed}:{household}:{tag}')}"


def _render(item: _Planned, seed: int) -> DemoSubmission:
    rng = random.Random(f"{seed}:{item.household.number}:{item.tag}")
    iid = instance_id(seed, item.household.number, item.tag)
    if item.form == VISIT:
        xml, files = _visit(rng, item, iid)
    elif item.form == ASSESSMENT:
        xml, files = _assessment(rng, item, iid)
    else:
        xml, files = _income(rng, item, iid)
    return DemoSubmission(item.form, item.household.number, iid, item.sender, item.at, xml, files)


def _near(rng: random.Random, lat: float, lon: float, metres: float) -> tuple[float, float]:
    """A point about `metres` away in a random direction."""
    angle = rng.uniform(0, 2 * math.pi)
    dlat = metres * math.cos(angle) / 111_320
    dlon = metres * math.sin(angle) / (111_320 * math.cos(math.radians(lat)))
    return round(lat + dlat, 6), round(lon + dlon, 6)


def _stamp(at: dt.datetime) -> str:
    return at.astimezone(CHINA).isoformat(timespec="milliseconds")


def _fill(form: str, item: _Planned, iid: str, name: str, values: dict) -> bytes:
    """The instance of the bundled `form`, sent by the item's cadre from the household's entity version."""
    device = {"deviceid": f"collect:demo-{item.sender}", "username": item.sender}
    meta = {"meta/instanceID": iid, "meta/instanceName": name}
    entity = {"id": item.household.number, "baseVersion": item.base_version}
    return bundled(form).fill({**device, **values, **meta}, entity=entity)


def _yes(value: bool) -> str:
    return "yes" if value else "no"


def _seen_stage(args: dict) -> str:
    """The stage a visitor sees: the form offers "old house dealt with" where there is an old house, as the
    assessment does."""
    stage = args["renovation"]
    return "moved_in" if stage == SAFE_RENOVATION and args["mode"] == "repair" else stage


def _renovation(args: dict) -> str:
    """The renovation progress as the rules read it (sync/rules.py)."""
    return renovation_progress(args["renovation"], args["mode"]) if args["grade"] in ("C", "D") else ""


def _visit(rng: random.Random, item: _Planned, iid: str) -> tuple[bytes, dict[str, bytes]]:
    h, args, at = item.household, item.args, item.at
    evidence = args["evidence"]
    day = at.date().isoformat()
    start = at - dt.timedelta(minutes=rng.randint(12, 35))
    if evidence == "not_home":
        # nobody at home: an attempt, recorded as such, with GPS at the door and no photo
        point = _near(rng, h.latitude, h.longitude, rng.uniform(3, 30))
        return _fill(VISIT, item, iid, f"{h.head_name} {day}", {
            "start": _stamp(start), "end": _stamp(at), "today": day, "visit_date": day, "household": h.number,
            "visit_outcome": rng.choice(["not_home", "not_home", "lost_contact"]),
            "absent_note": rng.choice(["全家外出务工，已电话联系户主", "户主住院，家中无人", "电话无人接听，已托邻居转告"]),
            "gps": f"{point[0]} {point[1]} {rng.uniform(150, 400):.1f} {rng.uniform(3, 15):.1f}"}), {}
    # GPS at the door
    if evidence == "no_evidence":
        gps_text, point = "", None
    else:
        distance = rng.uniform(900, 4000) if evidence == "gps_far" else rng.uniform(3, 45)
        point = _near(rng, h.latitude, h.longitude, distance)
        accuracy = rng.uniform(60, 150) if evidence == "gps_inaccurate" else rng.uniform(3, 15)
        gps_text = f"{point[0]} {point[1]} {rng.uniform(150, 400):.1f} {accuracy:.1f}"
    # photos
    files: dict[str, bytes] = {}
    family = housing_sign = water_sign = ""
    if evidence not in ("no_photo", "no_evidence"):
        family = f"{_photo_stamp(at)}_family.jpg"
        taken = at - dt.timedelta(minutes=rng.randint(2, 10))
        if evidence == "photo_other_day":
            taken -= dt.timedelta(days=rng.randint(2, 6), hours=rng.randint(0, 3))
        if evidence != "photo_not_sent":
            files[family] = scene_jpeg(rng, "family", taken, point and _near(rng, *point, 8), h.number)
        if evidence == "verified" and rng.random() < 0.25:
            housing_sign = f"{_photo_stamp(at)}_housing_sign.jpg"
            files[housing_sign] = scene_jpeg(rng, "sign", taken + dt.timedelta(minutes=1),
                                             point and _near(rng, *point, 6), args["grade"])
        if evidence == "verified" and rng.random() < 0.12:
            water_sign = f"{_photo_stamp(at)}_water_sign.jpg"
            files[water_sign] = scene_jpeg(rng, "water", taken + dt.timedelta(minutes=2),
                                           point and _near(rng, *point, 6), "W")
    # what the cadre checked
    today = at.date()
    children = sum(1 for m in h.members if 6 <= _age(m.birth_date, today) <= 15)
    if args.get("children_off"):
        children += 1
    out_of_school = 1 if args.get("out_of_school") and children else 0
    insured = all(m.insured for m in h.members)
    grade = args["grade"]
    renovated = _renovation(args) == SAFE_RENOVATION
    house_safe = grade in ("A", "B") or renovated
    water_ok = args["water_ok"]
    problems = [p for p, bad in (("education", out_of_school), ("medical", not insured),
                                 ("housing", not house_safe), ("water", not water_ok)) if bad]
    if h.status in ("未脱贫", "监测户") and rng.random() < 0.3:
        problems.append(rng.choice(["income", "employment", "illness"]))
    notes = {"education": "孩子在县城打工，已联系学校劝返", "medical": "一人未参保，已协助办理",
             "housing": "危房改造尚未完成", "water": "井水浑浊，已报水利站", "income": "收入不稳定",
             "employment": "希望就近务工", "illness": "慢病用药支出较大"}
    # help is a concrete measure for what was found, never a gift (DOMAIN.md Precisions: "A visit is not help")
    measures = {"education": "policy", "medical": "aid", "housing": "housing", "water": "other", "income": "industry",
                "employment": "job", "illness": "aid"}
    help_given = sorted({measures[p] for p in problems})
    help_notes = {"education": "讲解教育资助政策，与学校共同劝返", "medical": "协助申请医疗救助", "housing": "已报镇危改办",
                  "water": "已报水利站维修", "income": "推荐加入养殖合作社", "employment": "推荐到县城就业",
                  "illness": "协助申请大病救助"}
    changes = [{"change_type": c["type"], "person_name": c["name"], "relation": c["relation"],
                "change_date": c["date"]} for c in args.get("changes", [])]
    water = _yes(water_ok)
    xml = _fill(VISIT, item, iid, f"{h.head_name} {day}", {
        "start": _stamp(start), "end": _stamp(at), "today": day, "visit_date": day, "household": h.number,
        "visit_outcome": "visited", "gps": gps_text, "photo_family": family,
        "two_assurances/food_secure": "yes", "two_assurances/clothing_secure": "yes",
        "two_assurances/children_6_15": children, "two_assurances/out_of_school": out_of_school,
        "two_assurances/out_of_school_note": notes["education"] if out_of_school else "",
        "two_assurances/education_secure": _yes(not out_of_school), "two_assurances/all_insured": _yes(insured),
        "two_assurances/not_insured_count": "" if insured else sum(1 for m in h.members if not m.insured),
        "two_assurances/chronic_signed": "na", "two_assurances/medical_secure": _yes(insured),
        "two_assurances/housing_grade": grade,
        "two_assurances/renovated": _yes(renovated) if grade in ("C", "D") else "",
        "two_assurances/house_safe": _yes(house_safe),
        # the renovation stage seen at the door (version 2026120701), which the ledger takes like an assessment's
        "two_assurances/renovation_stage": _seen_stage(args) if grade in ("C", "D") and args.get("sees_stage") else "",
        "water/water_quantity": "yes", "water/water_quality": water, "water/water_convenience": "yes",
        "water/water_reliability": "yes", "water/water_safe": water,
        "water/water_source": args["water_source"],
        "signs/housing_sign_present": "yes", "signs/photo_housing_sign": housing_sign,
        "signs/water_sign_present": "yes", "signs/photo_water_sign": water_sign,
        "findings/problems": " ".join(problems) or "none",
        "findings/problems_note": "；".join(notes[p] for p in problems), "findings/help_given": " ".join(help_given),
        "findings/help_other": "联系水利站" if "other" in help_given else "",
        "findings/help_note": "；".join(help_notes[p] for p in problems),
        "has_member_changes": _yes(bool(changes)), "member_change": changes})
    return xml, files


def _assessment(rng: random.Random, item: _Planned, iid: str) -> tuple[bytes, dict[str, bytes]]:
    h, at = item.household, item.at
    grade = item.args["grade"]
    renovation = item.args["renovation"] if grade in ("C", "D") else ""
    mode = item.args["mode"] if renovation else ""
    if renovation == SAFE_RENOVATION and mode == "repair":
        renovation = "moved_in"  # the form offers "old house dealt with" only where there is an old house
    saved = _renovation(item.args)
    safe = grade in ("A", "B") or saved == SAFE_RENOVATION
    point = _near(rng, h.latitude, h.longitude, rng.uniform(2, 25))
    state = {"A": "intact", "B": "minor", "C": "severe", "D": "dangerous"}[grade]
    house, sign = f"{_photo_stamp(at)}_house.jpg", f"{_photo_stamp(at)}_sign.jpg"
    taken = at - dt.timedelta(minutes=rng.randint(3, 15))
    files = {house: scene_jpeg(rng, "house", taken, point, grade),
             sign: scene_jpeg(rng, "sign", taken + dt.timedelta(minutes=2), point, grade)}
    day = at.date().isoformat()
    xml = _fill(ASSESSMENT, item, iid, f"{h.head_name} {day}", {
        "start": _stamp(at - dt.timedelta(minutes=40)), "end": _stamp(at), "today": day,
        "assess_date": day, "household": h.number,
        "gps": f"{point[0]} {point[1]} {rng.uniform(150, 400):.1f} {rng.uniform(3, 12):.1f}",
        "structure": rng.choice(["brick_wood", "brick_concrete", "earth_wood"]),
        "parts/foundation": "minor" if grade != "A" else "intact", "parts/walls": state, "parts/roof": state,
        "parts/load_bearing": "minor" if grade in ("A", "B") else state, "grade": grade,
        "renovation/renovation_mode": mode, "renovation/renovation_state": renovation, "renovation_saved": saved,
        "housing_safe": _yes(safe), "unsafe_note": "" if safe else "墙体开裂，屋顶漏雨",
        "photos/photo_house": house, "photos/sign_present": "yes", "photos/photo_sign": sign})
    return xml, files


def _income(rng: random.Random, item: _Planned, iid: str) -> tuple[bytes, dict[str, bytes]]:
    h, at, args = item.household, item.at, item.args
    size = len(h.members)
    total = round(args["per_capita"] * size, -1)
    today = at.date()
    elderly = sum(1 for m in h.members if _age(m.birth_date, today) >= 60)
    pension = 1500.0 * elderly
    dibao = 3600.0 if h.status == "未脱贫" else 0.0
    subsidies = float(rng.choice([0, 500, 800, 1200]))
    dividends = float(rng.choice([0, 0, 300, 600]))
    rest = max(total - pension - dibao - subsidies - dividends, 0.0)
    business_net = round(rest * rng.uniform(0.1, 0.4), -1)
    business_cost = round(business_net * rng.uniform(0.2, 0.6), -1)
    wage = round(rest - business_net, 2)
    computed = wage + business_net + pension + dibao + subsidies + dividends
    reported = computed + 2000 if args["misreported"] else computed
    transfers = dibao + pension + subsidies
    day = today.isoformat()
    xml = _fill(INCOME, item, iid, f"{h.head_name} {args['year']}", {
        "start": _stamp(at - dt.timedelta(minutes=30)), "end": _stamp(at), "today": day,
        "survey_date": day, "household": h.number, "survey_year": args["year"], "household_size": size,
        "income/wage_income": f"{wage:g}", "income/business_gross": f"{business_net + business_cost:g}",
        "income/business_cost": f"{business_cost:g}", "income/business_net": f"{business_net:g}",
        "income/property_income": 0, "income/dividends": f"{dividends:g}", "income/property_total": f"{dividends:g}",
        "transfer/dibao": f"{dibao:g}", "transfer/pension": f"{pension:g}", "transfer/subsidies": f"{subsidies:g}",
        "transfer/other_transfer": 0, "transfer_total": f"{transfers:g}", "total_net": f"{reported:g}",
        "per_capita": f"{round(reported / size, 2):g}", "spending/spend_medical": args["medical"],
        "spending/spend_education": 0, "spending/spend_disaster": 0,
        "spending/spending_note": "住院治疗" if args["medical"] else "", "spend_total": args["medical"],
        "confirmed": "OK"})
    return xml, {}


def _photo_stamp(at: dt.datetime) -> str:
    return at.astimezone(CHINA).strftime("%Y%m%d_%H%M%S")


# ---- photos -----------------------------------------------------------------------------------------------

def _rational(value: float, denominator: int = 10000) -> TiffImagePlugin.IFDRational:
    return TiffImagePlugin.IFDRational(round(value * denominator), denominator)


def _dms(decimal: float) -> tuple:
    decimal = abs(decimal)
    degrees = int(decimal)
    minutes = int((decimal - degrees) * 60)
    seconds = (decimal - degrees - minutes / 60) * 3600
    return _rational(degrees, 1), _rational(minutes, 1), _rational(seconds)


def scene_jpeg(rng: random.Random, kind: str, taken: dt.datetime, gps: tuple[float, float] | None,
               label: str, size: tuple[int, int] = (480, 360)) -> bytes:
    """A small drawn "photo" (a house, people, or a sign) with EXIF capture time (China time) and GPS."""
    width, height = size
    image = Image.new("RGB", size, (135, 190, 235))
    draw = ImageDraw.Draw(image)
    horizon = int(height * 0.62)
    for y in range(0, horizon, 8):  # sky getting lighter towards the horizon
        shade = int(40 * y / horizon)
        draw.rectangle([0, y, width, y + 8], fill=(120 + shade, 175 + shade, 230))
    draw.rectangle([0, horizon, width, height], fill=(110 + rng.randint(-15, 15), 150, 80))
    wall = rng.choice([(225, 215, 190), (200, 170, 140), (235, 235, 225), (190, 120, 90)])
    x0 = rng.randint(40, 120)
    x1 = x0 + rng.randint(200, 260)
    top = horizon - rng.randint(90, 120)
    draw.rectangle([x0, top, x1, horizon + 20], fill=wall, outline=(90, 80, 70))
    draw.polygon([(x0 - 15, top), ((x0 + x1) // 2, top - 60), (x1 + 15, top)], fill=rng.choice(
        [(150, 60, 50), (80, 80, 90), (60, 90, 130)]))
    draw.rectangle([(x0 + x1) // 2 - 18, horizon - 40, (x0 + x1) // 2 + 18, horizon + 20], fill=(110, 70, 40))
    if kind == "family":
        for i in range(rng.randint(2, 4)):
            cx = 60 + i * 55 + rng.randint(-5, 5)
            cy = height - 95
            colour = rng.choice([(200, 40, 40), (40, 60, 160), (60, 60, 60), (220, 160, 40)])
            draw.ellipse([cx - 13, cy - 13, cx + 13, cy + 13], fill=(235, 200, 170))
            draw.rectangle([cx - 18, cy + 14, cx + 18, cy + 80], fill=colour)
    elif kind in ("sign", "water"):
        colour = (30, 110, 60) if kind == "water" else {"A": (30, 120, 60), "B": (60, 120, 200),
                                                         "C": (230, 160, 30), "D": (200, 40, 40)}.get(label,
                                                                                                   (80, 80, 80))
        draw.rectangle([width // 2 - 110, 70, width // 2 + 110, 230], fill=(250, 250, 245), outline=colour, width=8)
        draw.text((width // 2 - 10, 140), label[:1], fill=colour)
        draw.rectangle([width // 2 - 80, 190, width // 2 + 80, 200], fill=colour)
    draw.text((8, height - 16), f"{label}  {taken.astimezone(CHINA):%Y-%m-%d %H:%M}", fill=(255, 255, 255))
    exif = Image.Exif()
    local = taken.astimezone(CHINA)
    exif[ExifTags.Base.Make] = "Demo"
    exif[ExifTags.Base.Model] = "Zoufang demo camera"
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    sub[ExifTags.Base.DateTimeOriginal] = local.strftime("%Y:%m:%d %H:%M:%S")
    sub[ExifTags.Base.OffsetTimeOriginal] = "+08:00"
    if gps is not None:
        lat, lon = gps
        ifd = exif.get_ifd(ExifTags.IFD.GPSInfo)
        ifd[ExifTags.GPS.GPSLatitudeRef] = "N" if lat >= 0 else "S"
        ifd[ExifTags.GPS.GPSLatitude] = _dms(lat)
        ifd[ExifTags.GPS.GPSLongitudeRef] = "E" if lon >= 0 else "W"
        ifd[ExifTags.GPS.GPSLongitude] = _dms(lon)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=72, exif=exif)
    return out.getvalue()


# ---- loading ----------------------------------------------------------------------------------------------

def load_reference_data(session: Session, store: Store, roster: bytes,
                        create_users: Callable[[Session, list[DemoUser]], tuple[dict[str, int], list[str]]]
                        ) -> tuple[list[DemoUser], dict[str, int], list[str]]:
    """Areas, the accounts (the roster's cadres among them), roster and bundled forms; each step leaves what is
    already there as it is."""
    import_areas(session, (SAMPLES / "areas.csv").read_bytes(), "areas.csv")
    users = plan_users(session, read_table(roster, "roster.csv", HEADERS, OPTIONAL))
    user_ids, created = create_users(session, users)
    import_roster(session, roster, "roster.csv")
    publish_bundled_forms(session, store)
    return users, user_ids, created


def household_infos(session: Session) -> list[HouseholdInfo]:
    """The roster's households the generator plans forms for (not one a supervisor registered from a report
    outside the roster: the demo's own, added after, so that a second run plans the same forms)."""
    registered = select(OutsideDecision.household_id).where(OutsideDecision.household_id.is_not(None))
    rows = session.execute(select(Household, Area.code).join(Area, Household.area_id == Area.id)
                           .where(Household.id.not_in(registered))
                           .options(selectinload(Household.members)).order_by(Household.number)).all()
    return [HouseholdInfo(number=h.number, area_code=code, head_name=h.head_name, latitude=h.latitude,
                          longitude=h.longitude, cadre=h.cadre or "", status=h.status,
                          members=tuple(MemberInfo(m.name, m.relation, m.birth_date, m.insured) for m in h.members))
            for h, code in rows if h.latitude is not None and h.longitude is not None]


def load_demo(sessions: sessionmaker[Session], store: Store, queue: QueueSettings,
              create_users: Callable[[Session, list[DemoUser]], tuple[dict[str, int], list[str]]],
              now: dt.datetime | None = None, seed: int = SEED, force: bool = False,
              progress: Callable[[str], None] | None = None) -> DemoReport:
    """Fill the instance. `create_users(session, users)` makes the accounts that do not exist yet and returns
    (user id by name for all of them, names created). Refuses an instance that already has households unless
    `force`; with `force`, whatever exists already (areas, households, accounts, demo submissions) is kept."""
    started = time.monotonic()
    say = progress or (lambda _text: None)
    now = now or utcnow()
    with session_scope(sessions) as session:
        existing = session.scalar(select(func.count(Household.id)))
        if existing and not force:
            raise DomainError("conflict", "demo.not_empty",
                              f"这个实例已有 {existing} 户数据，演示数据只装入全新的实例。"
                              "请换一个空的数据目录（ZOUFANG_DATA_DIR），或加 --force 在现有数据上补充。",
                              f"This instance already has {existing} households; demo data is only loaded into a "
                              "fresh instance. Use an empty data dir (ZOUFANG_DATA_DIR), or --force to add it anyway.")
        say("areas, roster and forms")
        roster = demo_roster(queue.rules.monitoring_range(now.astimezone(CHINA).year))
        users, user_ids, created = load_reference_data(session, store, roster, create_users)
        infos = household_infos(session)

    say("generating submissions")
    submissions = generate(infos, now, seed)
    with session_scope(sessions) as session:  # households outside the roster (应纳尽纳) reported by a cadre
        submissions += outside_reports(session, user_ids, now, seed)
    say(f"submitting {len(submissions)} forms")
    submitted: Counter = Counter()
    skipped = 0
    for start in range(0, len(submissions), 100):
        with session_scope(sessions) as session:
            for item in submissions[start:start + 100]:
                if _already_there(session, item):
                    skipped += 1
                    continue
                _submit(session, store, item, user_ids.get(item.sender))
                submitted[item.form] += 1

    say("reconciling and making thumbnails")
    jobs = 0
    # photos first, then every reconcile job in large batches (run_until_idle alone would reconcile after each
    # photo); the result is the same, it is just quicker
    while run_image_jobs(sessions, store, queue):
        jobs += 1
    jobs += run_until_idle(sessions, queue, store)
    with session_scope(sessions) as session:  # a supervisor registers one report and declines another
        decide_reports(session, user_ids, now)
    jobs += run_until_idle(sessions, queue, store)
    say("monitoring decisions")
    with session_scope(sessions) as session:
        decide_monitoring(session, queue, user_ids, now)
    with session_scope(sessions) as session:
        households = session.scalar(select(func.count(Household.id)))
    return DemoReport(users=users, created_users=created, households=households, submitted=submitted,
                      skipped=skipped, jobs_done=jobs, seconds=time.monotonic() - started)


@dataclasses.dataclass(frozen=True)
class _Decider:
    """The county supervisor as sync.monitoring_cases takes an author."""
    id: int
    username: str = "county"
    display_name: str = "扶贫办"
    role: str = "supervisor"


def decide_monitoring(session: Session, queue: QueueSettings, user_ids: dict[str, int], now: dt.datetime) -> int:
    """A few of the monitoring proposals the demo's submissions made, decided by the county supervisor, so that the
    monitoring list shows every state: the first two (by household number) 纳入 with the subtype and risks they
    suggest, the first of them with a measure entered by hand; the third 不纳入. Nothing when decisions exist (a
    second load with --force) or the county supervisor does not."""
    if "county" not in user_ids or session.scalar(select(func.count(MonitoringDecision.id))):
        return 0
    author, options = _Decider(user_ids["county"]), queue.options(now)
    proposals = session.execute(select(MonitoringCase.key, MonitoringCase.suggested_subtype,
                                       MonitoringCase.suggested_risks)
                                .join(Household, Household.id == MonitoringCase.household_id)
                                .where(MonitoringCase.state == "proposed")
                                .order_by(Household.number, MonitoringCase.key).limit(3)).all()
    for index, (key, subtype, risks) in enumerate(proposals):
        if index < 2:
            enter_decision(session, key, INCLUDE, {"subtype": subtype, "risks": list(risks) or ["other"]},
                           "经入户核实，存在返贫致贫风险，纳入监测", author, options)
            if index == 0:
                enter_decision(session, key, MEASURE, {"codes": ["job"]}, "推荐到县城工业园区就业", author, options)
        else:
            enter_decision(session, key, DISMISS, {}, "经核实收入稳定，暂无风险", author, options)
    return len(proposals)


def _already_there(session: Session, item: DemoSubmission) -> bool:
    return session.scalar(select(Submission.id).join(Form, Submission.form_id == Form.id)
                          .where(Form.xml_form_id == item.form, Submission.instance_id == item.instance_id)) is not None


def _submit(session: Session, store: Store, item: DemoSubmission, user_id: int | None) -> None:
    uploads = {}
    try:
        for name, content in item.files.items():
            upload = store.new_upload()
            upload.write(content)
            upload.flush()
            uploads[name] = IncomingFile(filename=name, content_type="image/jpeg", upload=upload)
        sender = Sender(user_id=user_id, client_device_id=f"collect:demo-{item.sender}")
        accept_submission(session, store, item.xml, uploads, sender)
    finally:
        for incoming in uploads.values():
            incoming.upload.discard()


def thumbnails_made(session: Session) -> int:
    return session.scalar(select(func.count(SubmissionAttachment.id))
                          .where(SubmissionAttachment.thumb_sha256.is_not(None))) or 0
