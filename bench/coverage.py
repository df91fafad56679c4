"""Coverage benchmark: how fast the coverage page and API answer on a county's and on a city's data.

    python bench/coverage.py                        # SQLite county, under a minute
    python bench/coverage.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test
                                                    # then a PostgreSQL city in a schema of its own, a few minutes

1. SQLite, a county: 12 towns, 120 villages, 5,000 households, 625 cadres, 60,000 visits over 12 months (the
   current month only up to today), inserted straight into a fresh, migrated database. Times the coverage page
   (`GET /coverage/`, this month, as the county supervisor; Flask test client, logged in, warm) and the pages one
   taps to from it. Target: the coverage page < 300 ms p95.
2. PostgreSQL (with --database-url), a city: 10 counties, 80 towns, 860 villages, 120,000 households, 15,000 cadres,
   1,500,000 visits (and their submission rows), loaded with COPY into a schema `zoufang_bench_<random>` that is
   created for the run, selected with search_path, and DROPPED at the end (also on failure or Ctrl-C); `public` is
   never touched. Times `GET /api/v1/coverage` city-wide as the admin, and for a county, a town and a village.
   Target: city-wide < 300 ms p95.

Visits are loaded straight into `visits`, so the coverage cache starts empty. Every case is timed three ways:
with a warm cache (filled first as a starting worker fills it; what nearly every request meets, and what the targets
apply to), with this month stale in some villages before each request (20 of 120, 100 of 860: a stream of visits
reconciled between two requests, counted live until the worker's refill), and with the cache emptied before each
request (after a rebuild, until the worker has counted again).

3. The home pages "/" (issue 15), on the same data with, added in SQL, C/D houses not yet renovated (1 household of
   20), the re-check list (1 of 13), 监测户 kinds (1 of 15), open conflicts (1 of 200) and problem cases (5 of 6: a
   city's 100,000, 3 of 5 open, of every kind and age) and returned submissions (1 visit in 30 marked 有问题 or
   退回 with a comment, a third of them answered by a reply; many are answered by a later visit): the supervisor's home as
   the admin (everything), a county and a town supervisor, and a cadre's home (and a search on it). Targets on the
   PostgreSQL city: the supervisor's home < 300 ms p95, a cadre's < 100 ms p95; the coverage page measured in the
   same run is the baseline to read them against. `--city-households` and `--city-visits` size the city down
   where the full one takes too long to fill.

It prints p50/p95 per request kind and the ratio to the target, and exits 2 when a target is missed.
Generated data: each cadre has a diligence (most visit nearly all their households every month, some about half,
a few rarely) and an honesty (most visits are verified, some cadres' mostly questionable: paper visits), so rows
differ; 10% of visits are made by the village's secretary instead of the cadre.
"""
from __future__ import annotations

import argparse
import array
import calendar
import datetime as dt
import json
import math
import os
import random
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterable, Iterator

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO)]

from sqlalchemy import JSON, text  # noqa: E402

import server.schema  # noqa: E402,F401  (every model, so the mappers configure)
from server.app import create_app  # noqa: E402
from server.auth import password_marker  # noqa: E402
from server.login_sessions import open_session  # noqa: E402
from server.bootstrap import migrate  # noqa: E402
from server.config import load_settings  # noqa: E402
from server.models import User  # noqa: E402
from server.passwords import hash_password  # noqa: E402
from server.schema import metadata  # noqa: E402
from sync.cases import KINDS as CASE_KINDS  # noqa: E402
from pgschema import PostgresSchema  # noqa: E402

CHINA = dt.timezone(dt.timedelta(hours=8))
TARGET_MS = 300.0
#: a cadre's home, on a phone: p95 target
CADRE_TARGET_MS = 100.0


@dataclass(frozen=True)
class Spec:
    name: str
    counties: int
    towns: int
    villages: int
    households: int
    visits: int
    months: int = 12
    households_per_cadre: int = 8


COUNTY = Spec("county", counties=1, towns=12, villages=120, households=5_000, visits=60_000)
CITY = Spec("city", counties=10, towns=80, villages=860, households=120_000, visits=1_500_000)


# ---- data -------------------------------------------------------------------------------------------------------

@dataclass
class Data:
    areas: list[tuple]
    users: list[tuple]
    user_areas: list[tuple]
    households: list[tuple]
    #: one entry per visit, parallel arrays: household id, its village id, submitter id, date ordinal, verdict
    v_household: array.array
    v_area: array.array
    v_submitter: array.array
    v_day: array.array
    v_verdict: array.array
    #: ids of one county, town and village, and the users to call as
    sample: dict[str, object]


VERDICTS = ("verified", "questionable", "no_evidence")


def generate(spec: Spec, today: dt.date, rng: random.Random) -> Data:
    now = dt.datetime.now(dt.timezone.utc)
    areas, users, user_areas, households = [], [], [], []
    password = hash_password("bench-password")  # one argon2 hash for every account: hashing 15,000 takes minutes

    def user(username: str, role: str, display: str) -> int:
        users.append((len(users) + 1, username, display, role, password, True, now))
        return len(users)

    admin = user("bench", "admin", "管理员")
    area_id = 0
    villages: list[tuple[int, int, str]] = []  # (id, town id, code)
    county_ids, town_ids = [], []
    towns_per_county = spec.towns // spec.counties
    for c in range(spec.counties):
        area_id += 1
        county, county_code = area_id, f"61{c + 1:02d}00"
        areas.append((county, county_code, f"测试县{c + 1}", "county", None, f"/{county}/"))
        county_ids.append(county)
        user_areas.append((user(f"county{c + 1}", "supervisor", f"县督导{c + 1}"), county))
        for t in range(towns_per_county):
            area_id += 1
            town, town_code = area_id, f"{county_code}{t + 1:03d}"
            areas.append((town, town_code, f"镇{c + 1}-{t + 1}", "town", county, f"/{county}/{town}/"))
            town_ids.append(town)
            user_areas.append((user(f"town{c + 1}_{t + 1}", "supervisor", f"镇督导{c + 1}-{t + 1}"), town))
    for v in range(spec.villages):
        town = town_ids[v % len(town_ids)]
        county = next(a[4] for a in areas if a[0] == town)
        area_id += 1
        code = f"{next(a[1] for a in areas if a[0] == town)}{v // len(town_ids) + 1:03d}"
        areas.append((area_id, code, f"村{v + 1}", "village", town, f"/{county}/{town}/{area_id}/"))
        villages.append((area_id, town, code))

    # households spread over villages, unevenly (60–140% of the mean), cadres of ~8 households within a village
    weights = [rng.uniform(0.6, 1.4) for _ in villages]
    scale = spec.households / sum(weights)
    sizes = [max(1, round(w * scale)) for w in weights]
    sizes[-1] += spec.households - sum(sizes)
    cadre_of: list[int] = []            # per household (index = id - 1): the cadre's user id
    diligence: dict[int, float] = {}    # cadre user id → probability of visiting a household in a month
    honesty: dict[int, float] = {}      # cadre user id → probability a visit is verified
    secretary: dict[int, int] = {}      # village id → the village secretary's user id
    village_of: list[int] = []
    cadre_number = 0
    for (village, _town, code), size in zip(villages, sizes):
        secretary[village] = user(f"sec{code}", "cadre", f"村书记{code[-6:]}")
        user_areas.append((secretary[village], village))
        cadres = []
        for _ in range(max(1, math.ceil(size / spec.households_per_cadre))):
            cadre_number += 1
            uid = user(f"cadre{cadre_number:05d}", "cadre", f"干部{cadre_number}")
            user_areas.append((uid, village))
            roll = rng.random()
            diligence[uid] = rng.uniform(0.9, 1.0) if roll < 0.7 else rng.uniform(0.6, 0.9) if roll < 0.9 \
                else rng.uniform(0.2, 0.6)
            roll = rng.random()
            honesty[uid] = 0.9 if roll < 0.8 else 0.5 if roll < 0.95 else 0.15
            cadres.append(uid)
        for i in range(size):
            hid = len(households) + 1
            cadre = cadres[i // spec.households_per_cadre]
            households.append((hid, f"{code}{i + 1:04d}", village, f"户主{hid}", 33.0 + rng.random(),
                               107.0 + rng.random(), rng.choice(("未脱贫", "已脱贫", "监测户")), "因病",
                               users[cadre - 1][1], 1, "", now, now))
            cadre_of.append(cadre)
            village_of.append(village)

    # visits: months ending with this one (only up to today in it), calibrated to about spec.visits in all
    this_month = today.year * 12 + today.month - 1
    months = [this_month - k for k in range(spec.months - 1, -1, -1)]
    month_share = [1.0] * (spec.months - 1) + [today.day / calendar.monthrange(today.year, today.month)[1]]
    expected_first = sum(diligence[c] for c in cadre_of) * sum(month_share)
    extra = max(0.0, spec.visits / expected_first - 1.0)  # further visits per visited household-month
    v_household, v_area, v_submitter = array.array("i"), array.array("i"), array.array("i")
    v_day, v_verdict = array.array("i"), array.array("b")
    calendar_months = []
    for month, share in zip(months, month_share):
        year, m = divmod(month, 12)
        last_day = today.day if month == this_month else calendar.monthrange(year, m + 1)[1]
        calendar_months.append((dt.date(year, m + 1, 1).toordinal(), last_day, share))
    # household by household, as the reconciler leaves the table: it rewrites all of a household's visits together
    for index, cadre in enumerate(cadre_of):
        for first, last_day, share in calendar_months:
            if rng.random() >= diligence[cadre] * share:
                continue
            count = 1 + int(extra) + (rng.random() < extra - int(extra))
            for _ in range(count):
                by_cadre = rng.random() < 0.9
                submitter = cadre if by_cadre else secretary[village_of[index]]
                roll = rng.random()
                verdict = 0 if roll < (honesty[cadre] if by_cadre else 0.9) else 1 if rng.random() < 0.7 else 2
                v_household.append(index + 1)
                v_area.append(village_of[index])
                v_submitter.append(submitter)
                v_day.append(first + rng.randrange(last_day))
                v_verdict.append(verdict)
    town = town_ids[0]
    village = next(a for a in areas if a[4] == town and a[3] == "village")
    sample = {"admin": admin, "county": areas[0][1], "county_user": "county1",
              "town": next(a[1] for a in areas if a[0] == town), "town_user": "town1_1", "village": village[1]}
    return Data(areas, users, user_areas, households, v_household, v_area, v_submitter, v_day, v_verdict, sample)


def table_rows(data: Data, now: dt.datetime) -> Iterator[tuple[str, list[str], Iterable[tuple]]]:
    """(table, columns, rows) in the order foreign keys need."""
    yield "areas", ["id", "code", "name", "level", "parent_id", "path"], data.areas
    yield "users", ["id", "username", "display_name", "role", "password_hash", "active", "created_at"], data.users
    yield "user_areas", ["user_id", "area_id"], data.user_areas
    yield "forms", ["id", "xml_form_id", "state", "created_at"], [(1, "household_visit", "open", now)]
    yield ("form_versions", ["id", "form_id", "version", "title", "xform", "xform_md5", "binary_paths", "datasets",
                             "warnings", "published_at"],
           [(1, 1, "1", "入户走访", b"<h:html/>", "0" * 32, [], ["households"], [], now)])
    yield ("households", ["id", "number", "area_id", "head_name", "latitude", "longitude", "status", "poverty_cause",
                          "cadre", "roster_version", "roster_fingerprint", "created_at", "updated_at"],
           data.households)
    numbers = {h[0]: h[1] for h in data.households}
    xml, digest = b"<data id=\"household_visit\"/>", "0" * 64

    def submissions():
        for i in range(len(data.v_household)):
            yield (i + 1, 1, 1, f"uuid:bench-{i + 1}", f"uuid:bench-{i + 1}", True, xml, digest,
                   numbers[data.v_household[i]], data.v_area[i], data.v_submitter[i], False, "received", now,
                   "applied", now)

    # COPY leaves out the models' Python-side defaults: every NOT NULL column is named
    yield ("submissions", ["id", "form_id", "form_version_id", "instance_id", "root_instance_id", "current", "xml",
                           "xml_sha256",
                           "household_number", "area_id", "submitter_id", "out_of_area", "review_state", "received_at",
                           "reconcile_state", "reconciled_at"], submissions())
    reasons = ([], ["gps_far"], ["no_evidence"])

    def visits():
        for i in range(len(data.v_household)):
            day = dt.date.fromordinal(data.v_day[i])
            verdict = data.v_verdict[i]
            yield (i + 1, i + 1, data.v_household[i], data.v_area[i], data.v_submitter[i], day, f"{day:%Y-%m}",
                   33.5, 107.5, 8.0, VERDICTS[verdict], reasons[verdict])

    yield ("visits", ["id", "submission_id", "household_id", "area_id", "submitter_id", "visit_date", "month",
                      "latitude", "longitude", "accuracy", "verdict", "reasons"], visits())


def load(engine, data: Data) -> None:
    now = dt.datetime.now(dt.timezone.utc)
    postgres = engine.dialect.name == "postgresql"
    for name, columns, rows in table_rows(data, now):
        table = metadata.tables[name]
        if postgres:
            json_columns = [i for i, c in enumerate(columns) if isinstance(table.c[c].type, JSON)]
            raw = engine.raw_connection()
            try:
                with raw.driver_connection.cursor() as cursor:
                    with cursor.copy(f"COPY {name} ({', '.join(columns)}) FROM STDIN") as copy:
                        for row in rows:
                            if json_columns:
                                row = tuple(json.dumps(v) if i in json_columns else v for i, v in enumerate(row))
                            copy.write_row(row)
                    if "id" in columns:
                        cursor.execute(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                                       f"(SELECT max(id) FROM {name}))")
                raw.commit()
            finally:
                raw.close()
        else:
            with engine.begin() as connection:
                batch = []
                for row in rows:
                    batch.append(dict(zip(columns, row)))
                    if len(batch) == 20_000:
                        connection.execute(table.insert(), batch)
                        batch = []
                if batch:
                    connection.execute(table.insert(), batch)
    with engine.begin() as connection:
        connection.execute(text("UPDATE forms SET current_version_id = 1"))
    if postgres:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))


def add_home_work(engine) -> dict[str, int]:
    """What the supervisor's home counts besides coverage, in SQL over the loaded households (portable to SQLite):
    a C/D house not yet renovated in 1 household of 20 (at every stage), the re-check list in 1 of 13, a 监测户
    kind in 1 of 15, an open conflict in 1 of 200, a problem case in 5 of 6. Returns how many of each."""
    statements = {
        **{f"dangerous houses {stage or 'not started'}": f"""INSERT INTO findings (household_id, area_id, kind, code,
                                                                      message_zh, message_en, details)
            SELECT id, area_id, 'monitoring', 'dangerous_house', 'C 级危房，改造未完成', 'Grade C house',
                   '{{"grade": "C", "renovation_state": "{stage}"}}' FROM households WHERE id % 60 = {rest}"""
           for rest, stage in ((0, ""), (20, "building"), (40, "moved_in"))},
        "re-check list": """INSERT INTO findings (household_id, area_id, kind, code, message_zh, message_en, details)
            SELECT id, area_id, 'monitoring', 'screening_income', '排查', 'Re-check', '{}'
            FROM households WHERE id % 13 = 1""",
        "monitoring households": """UPDATE households SET monitoring_type = CASE id % 3 WHEN 0 THEN '脱贫不稳定户'
            WHEN 1 THEN '边缘易致贫户' ELSE '突发严重困难户' END WHERE id % 15 = 2""",
        "open conflicts": """INSERT INTO conflicts (key, household_id, area_id, field, base_version, state, entries,
                                                    "current")
            SELECT 'bench' || id, id, area_id, 'phone', 1, 'open', '[]', '"1"' FROM households WHERE id % 200 = 3""",
    }
    # problem cases (问题清单) in 5 households of 6 (a city's 120,000 households: 100,000 cases): kinds in turn, 3 of
    # 5 open or reopened, opened over the last 200 days
    days_ago = ("now() - (id % 200) * interval '1 day'" if engine.dialect.name == "postgresql"
                else "datetime('now', '-' || (id % 200) || ' days')")
    kind = " ".join(f"WHEN {n} THEN '{k}'" for n, k in enumerate(CASE_KINDS))
    statements["problem cases"] = f"""INSERT INTO cases (key, household_id, area_id, kind, subject, state, opened_at,
                                                         source_instance_id, cadre, history)
        SELECT 'bench' || id, id, area_id, CASE id % {len(CASE_KINDS)} {kind} END, '',
               CASE id % 5 WHEN 0 THEN 'closed' WHEN 1 THEN 'signed_off' WHEN 2 THEN 'reopened' ELSE 'open' END,
               {days_ago}, 'uuid:bench', cadre, '[]'
        FROM households WHERE id % 6 <> 5"""
    # returned submissions (退回/有问题, the cadre's home lists them): 1 visit in 30, each with its supervisor's
    # comment a day after it arrived (by the first account, an admin); every third one since answered by a reply
    day_later = ("received_at + interval '1 day'" if engine.dialect.name == "postgresql"
                 else "datetime(received_at, '+1 day')")
    two_days_later = day_later.replace("1 day", "2 days")
    statements["returned submissions"] = """UPDATE submissions SET review_state =
        CASE WHEN id % 60 = 7 THEN 'rejected' ELSE 'has_issues' END WHERE id % 30 = 7"""
    statements["their comments"] = f"""INSERT INTO review_comments (submission_id, author_id, author_name, body,
                                                                   review_state, from_submitter, created_at)
        SELECT id, (SELECT min(id) FROM users), 'bench', '照片时间与走访时间不符，请重新入户拍照', review_state,
               false, {day_later} FROM submissions WHERE id % 30 = 7"""
    statements["replies"] = f"""INSERT INTO review_comments (submission_id, author_id, author_name, body,
                                                            review_state, from_submitter, created_at)
        SELECT id, submitter_id, 'bench', '已重新入户', NULL, true, {two_days_later}
        FROM submissions WHERE id % 90 = 7 AND submitter_id IS NOT NULL"""
    counts = {}
    with engine.begin() as connection:
        for name, statement in statements.items():
            counts[name] = connection.execute(text(statement)).rowcount
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("ANALYZE findings, households, conflicts, cases, submissions, review_comments"))
    # the returned submissions' feedback states, decided once as a starting worker does for rows returned before
    # they were kept (sync/feedback_state.py); then every request reads them
    from sqlalchemy.orm import Session

    from sync.feedback_state import refresh_unset
    began = time.perf_counter()
    with Session(engine) as session:
        counts["feedback states decided"] = refresh_unset(session)
        session.commit()
    counts["... in ms"] = round((time.perf_counter() - began) * 1000)
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("ANALYZE submissions"))
    return counts


#: the monthly report (月调度) of a city, as a town or county office downloads it: target (issue 16)
REPORT_TARGET_MS = 10_000


def add_records(engine) -> int:
    """A household record for every household, in SQL, as the reconciler leaves one after a visit: the six
    guarantees (one in 17 households with a "no"), the water indicators and supply (kinds in turn), and a C house in
    1 of 20 with its renovation progress — what the monthly report reads. Returns how many."""
    def entry(value_sql: str) -> str:
        return ("'{\"value\": \"' || " + value_sql + " || '\", \"source\": \"submission\", "
                "\"instance_id\": \"uuid:bench-' || id || '\", \"form\": \"household_visit\", "
                "\"by\": \"bench\", \"at\": \"2026-11-20T10:00:00+08:00\"}'")
    yes_no = "CASE WHEN id % 17 = {n} THEN 'no' ELSE 'yes' END"
    fields = {name: yes_no.format(n=n) for n, name in enumerate(
        ("food_secure", "clothing_secure", "education_secure", "medical_secure", "housing_safe", "water_safe",
         "water_quantity", "water_quality", "water_convenience", "water_reliability"))}
    fields["water_source"] = ("CASE id % 10 WHEN 0 THEN 'central' WHEN 1 THEN 'scattered_tap' WHEN 2 THEN "
                              "'scattered' ELSE 'central_tap' END")
    fields["housing_grade"] = "CASE WHEN id % 20 = 0 THEN 'C' ELSE 'A' END"
    fields["renovation_state"] = "CASE id % 3 WHEN 0 THEN 'planned' WHEN 1 THEN 'building' ELSE 'moved_in' END"
    def as_json(expression: str) -> str:  # PostgreSQL's json columns take no text; SQLite keeps JSON as text
        return f"CAST({expression} AS json)" if engine.dialect.name == "postgresql" else expression
    body = " || ', ' || ".join(f"'\"{name}\": ' || {entry(sql)}" for name, sql in fields.items())
    record, empty = as_json("'{' || " + body + " || '}'"), as_json("'[]'")
    statement = f"""INSERT INTO household_records (household_id, fields, members, visits, assessments, incomes, events,
                                                   version, size, exit_eligible, open_conflicts, updated_at)
        SELECT id, {record}, {empty}, {empty}, {empty}, {empty}, {empty}, 1, 3, NULL, 0, updated_at FROM households"""
    with engine.begin() as connection:
        count = connection.execute(text(statement)).rowcount
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("ANALYZE household_records"))
    return count


def run_report(app, month: str, rounds: int, target: float | None) -> bool:
    """The month's report for everything (the admin): every village's rows, streamed as XLSX and read to the end."""
    print(f"  household records for the report: {add_records(app.extensions['zoufang'].engine):,}", flush=True)
    client = logged_in(app, "bench")
    url = f"/api/v1/reports/monthly.xlsx?month={month}"
    took = []
    for round_ in range(rounds + 1):  # the first one warms up
        began = time.perf_counter()
        response = client.get(url)
        size = len(response.get_data())  # a streamed body: each response read to its end and closed
        response.close()
        if response.status_code != 200:
            raise SystemExit(f"{url}: {response.status_code}")
        if round_:
            took.append((time.perf_counter() - began) * 1000)
    return report(f"GET {url} (admin, everything; {size:,} bytes)", took, target)


def home_cases(data: Data, target: bool) -> list[tuple[str, str, str, float | None]]:
    """The two home pages: a supervisor's for everything (admin), a county's and a town's, and a cadre's (with a
    search). Targets (when `target`): the supervisor's home 300 ms p95, the cadre's 100 ms."""
    s, cadre = data.sample, data.households[0][8]
    supervisor, own = (TARGET_MS, CADRE_TARGET_MS) if target else (None, None)
    return [("GET / (supervisor's home, admin: everything)", "bench", "/", supervisor),
            ("GET / (supervisor's home, a county supervisor)", s["county_user"], "/", supervisor),
            ("GET / (supervisor's home, a town supervisor: villages)", s["town_user"], "/", supervisor),
            (f"GET / (a cadre's home, {cadre})", cadre, "/", own),
            (f"GET /?q=户主 (a cadre's search, {cadre})", cadre, "/?q=%E6%88%B7%E4%B8%BB", own)]


# ---- timing -----------------------------------------------------------------------------------------------------

def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, math.ceil(share * len(ordered)) - 1))]


def logged_in(app, username: str):
    """A test client with a login session, as /login opens one (server-side session, its id in the cookie)."""
    client = app.test_client()
    rt = app.extensions["zoufang"]
    with rt.sessions() as session:
        user = session.query(User).filter_by(username=username).one()
        sid, marker = open_session(session, user), password_marker(user)
        session.commit()
    with client.session_transaction() as cookie:
        cookie["sid"] = sid
        cookie["pw"] = marker
    return client


def time_requests(client, url: str, rounds: int, warm: int = 3, before=None) -> list[float]:
    """`before`, when given, runs (untimed) ahead of every request, the warm-up ones included."""
    for _ in range(warm):
        if before:
            before()
        response = client.get(url)
        if response.status_code != 200:
            raise SystemExit(f"{url}: {response.status_code} {response.get_data(as_text=True)[:500]}")
    took = []
    for _ in range(rounds):
        if before:
            before()
        began = time.perf_counter()
        response = client.get(url)
        response.get_data()
        took.append((time.perf_counter() - began) * 1000)
        assert response.status_code == 200, url
    return took


def report(label: str, took: list[float], target: float | None = None) -> bool:
    p50, p95 = percentile(took, 0.5), percentile(took, 0.95)
    verdict = ""
    if target:
        verdict = f"  p95/target {p95 / target:.2f} {'ok' if p95 < target else 'MISSED'}"
    print(f"  {label:<58} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  (n={len(took)}){verdict}", flush=True)
    return target is None or p95 < target


def make_app(workdir: Path, url: str):
    settings = load_settings(env={}, data_dir=workdir, database_url=url, publish_bundled_forms=False,
                             migrate_on_start=False, secret_key="bench", worker="off")
    app = create_app(settings)
    migrate(app.extensions["zoufang"])
    return app


def load_average() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} / {five:.1f} (1 / 5 min) on {os.cpu_count()} cores"


def describe(data: Data, spec: Spec, seconds: float) -> None:
    counts = [0, 0, 0]
    for verdict in data.v_verdict:
        counts[verdict] += 1
    total = len(data.v_household)
    mix = ", ".join(f"{VERDICTS[i]} {100 * counts[i] / total:.0f}%" for i in range(3))
    print(f"  generated and loaded {len(data.areas)} areas, {len(data.households):,} households, "
          f"{len(data.users):,} users, {total:,} visits and as many submissions over {spec.months} months "
          f"in {seconds:.1f} s ({mix})", flush=True)


def run_cases(app, cases: list[tuple[str, str, str, float | None]], rounds: int, before=None) -> bool:
    """(label, user name, URL, target p95 in ms or None) → timed; False when a target was missed."""
    clients: dict[str, object] = {}
    ok = True
    for label, username, url, target in cases:
        client = clients.setdefault(username, logged_in(app, username))
        ok &= report(label, time_requests(client, url, rounds, before=before), target)
    return ok


def clear_cache(app):
    """Before each request: an empty coverage cache, as after `reconcile rebuild` or the upgrade that adds it."""
    from server.db import session_scope
    from sync.coverage import clear_cache as clear
    sessions = app.extensions["zoufang"].sessions

    def run():
        with session_scope(sessions) as session:
            clear(session)
    return run


def fill_cache(app) -> None:
    """What a worker does when it starts: mark the months the cache has no count of, and count them."""
    from server.db import session_scope
    from sync.coverage import mark_uncounted, refill_stale
    with session_scope(app.extensions["zoufang"].sessions) as session:
        mark_uncounted(session)
        refill_stale(session)


def mark_villages_stale(app, villages: int, month: str, rng: random.Random):
    """Before each request: `villages` villages' month marked stale, as a stream of visits reconciled between two
    requests leaves them (requests count those villages' month live until the worker refills them)."""
    from sqlalchemy import insert, select

    from server.db import session_scope
    from sync.models import Area
    from sync.records import CoverageStale
    sessions = app.extensions["zoufang"].sessions
    with session_scope(sessions) as session:
        ids = list(session.scalars(select(Area.id).where(Area.level == "village")))

    def run():
        with session_scope(sessions) as session:
            session.execute(insert(CoverageStale), [{"area_id": a, "month": month}
                                                    for a in rng.sample(ids, min(villages, len(ids)))])
    return run


def run_cache_states(app, cases, more, rounds: int, stale_villages: int, today: dt.date) -> bool:
    """The cases with a warm cache (what nearly every request meets; the targets apply), then the main ones with
    this month's counts stale in `stale_villages` villages, and with an empty cache (once after a rebuild)."""
    fill_cache(app)
    print(f"  warm cache ({load_average()}):", flush=True)
    ok = run_cases(app, cases + more, rounds)
    print(f"  {stale_villages} villages' {today:%Y-%m} stale before each request ({load_average()}):", flush=True)
    run_cases(app, [(label, user, url, None) for label, user, url, _ in cases], rounds,
              before=mark_villages_stale(app, stale_villages, f"{today:%Y-%m}", random.Random(7)))
    print(f"  cold cache: emptied before each request ({load_average()}):", flush=True)
    run_cases(app, [(label, user, url, None) for label, user, url, _ in cases], rounds, before=clear_cache(app))
    return ok


def run_county(workdir: Path, rounds: int, today: dt.date) -> bool:
    print(f"SQLite, a county ({COUNTY.households:,} households, {COUNTY.visits:,} visits)", flush=True)
    url = f"sqlite:///{workdir / 'county.sqlite3'}"
    app = make_app(workdir / "county", url)
    began = time.perf_counter()
    data = generate(COUNTY, today, random.Random(2026))
    load(app.extensions["zoufang"].engine, data)
    describe(data, COUNTY, time.perf_counter() - began)
    print(f"  and for the homes: {add_home_work(app.extensions['zoufang'].engine)}", flush=True)
    s = data.sample
    last_month = f"{(today.replace(day=1) - dt.timedelta(days=1)):%Y-%m}"
    main = [("GET /coverage/ (county supervisor, this month: towns)", s["county_user"], "/coverage/", TARGET_MS),
            (f"GET /coverage/?month={last_month} (county, a full month)", s["county_user"],
             f"/coverage/?month={last_month}", TARGET_MS),
            ("GET /api/v1/coverage (county supervisor)", s["county_user"], "/api/v1/coverage", None),
            *home_cases(data, target=False)]
    more = [("GET /coverage/?by=cadre (county, all 625 cadres)", s["county_user"], "/coverage/?by=cadre", None),
            ("GET /api/v1/coverage?by=cadre (county, all 625 cadres)", s["county_user"], "/api/v1/coverage?by=cadre",
             None),
            (f"GET /coverage/?area={s['town']} (town supervisor: villages)", s["town_user"],
             f"/coverage/?area={s['town']}", None),
            (f"GET /coverage/?area={s['village']} (a village: cadres)", s["town_user"],
             f"/coverage/?area={s['village']}", None),
            (f"GET /coverage/not-visited?area={s['town']} (town)", s["town_user"],
             f"/coverage/not-visited?area={s['town']}", None),
            ("GET /coverage/not-visited (whole county, first 500)", s["county_user"], "/coverage/not-visited", None)]
    ok = run_cache_states(app, main, more, rounds, 20, today)
    ok = run_report(app, f"{today:%Y-%m}", min(rounds, 5), None) and ok
    app.extensions["zoufang"].engine.dispose()
    return ok


def run_city(workdir: Path, database_url: str, rounds: int, today: dt.date, explain: bool, spec: Spec = CITY) -> bool:
    print(f"PostgreSQL, a city ({spec.households:,} households, {spec.visits:,} visits)", flush=True)
    schema = PostgresSchema(database_url)
    print(f"  !! created schema {schema.name!r}; it is DROPPED at the end. public and other schemas are not "
          f"touched.", flush=True)
    app = None
    try:
        app = make_app(workdir / "city", schema.url)
        began = time.perf_counter()
        data = generate(spec, today, random.Random(2026))
        generated = time.perf_counter() - began
        load(app.extensions["zoufang"].engine, data)
        describe(data, spec, time.perf_counter() - began)
        print(f"  (generating took {generated:.1f} s of that; COPY and VACUUM ANALYZE the rest)", flush=True)
        print(f"  and for the homes: {add_home_work(app.extensions['zoufang'].engine)}", flush=True)
        s = data.sample
        if explain:
            explain_main_query(app, today)
            explain_request(app, data.households[0][8], "/")
            explain_request(app, "bench", "/")
        last_month = f"{(today.replace(day=1) - dt.timedelta(days=1)):%Y-%m}"
        main = [("GET /api/v1/coverage (admin, whole city: 10 counties)", "bench", "/api/v1/coverage", TARGET_MS),
                (f"GET /api/v1/coverage?month={last_month} (whole city, a full month)", "bench",
                 f"/api/v1/coverage?month={last_month}", TARGET_MS),
                ("GET /api/v1/coverage (county supervisor: towns)", s["county_user"], "/api/v1/coverage", None),
                ("GET /coverage/ (the page, admin, whole city)", "bench", "/coverage/", None),
                ("GET /api/v1/coverage/not-visited (whole city, first 500)", "bench",
                 "/api/v1/coverage/not-visited?limit=500", None),
                *home_cases(data, target=True)]
        more = [(f"GET /api/v1/coverage?area={s['town']} (a town: villages)", "bench",
                 f"/api/v1/coverage?area={s['town']}", None),
                (f"GET /api/v1/coverage?area={s['village']} (a village: cadres)", "bench",
                 f"/api/v1/coverage?area={s['village']}", None),
                (f"GET /api/v1/coverage/not-visited?area={s['town']} (a town)", "bench",
                 f"/api/v1/coverage/not-visited?area={s['town']}", None)]
        ok = run_cache_states(app, main, more, rounds, 100, today)
        return run_report(app, f"{today:%Y-%m}", min(rounds, 5), REPORT_TARGET_MS) and ok
    finally:
        if app is not None:
            app.extensions["zoufang"].engine.dispose()
        schema.drop()
        print(f"  dropped schema {schema.name!r}", flush=True)


def explain_main_query(app, today: dt.date) -> None:
    """EXPLAIN ANALYZE of the per-area, per-month count a cold cache runs for the whole city, and of the supervisor's
    home's count of 监测户 by kind (long lines cut)."""
    from sqlalchemy import select

    from sync.coverage import shift_month, visit_count_statement
    from sync.models import Area
    month = f"{today:%Y-%m}"
    engine = app.extensions["zoufang"].engine
    with engine.connect() as connection:
        ids = sorted(connection.execute(select(Area.id)).scalars())
        statement = visit_count_statement(ids, shift_month(month, -5), month)
        compiled = statement.compile(engine, compile_kwargs={"literal_binds": True})
        plan = connection.execute(text(f"EXPLAIN (ANALYZE, BUFFERS) {compiled}")).scalars().all()
    print("  " + "\n  ".join(line if len(line) < 160 else line[:157] + "..." for line in plan), flush=True)
    # the supervisor's home counts 监测户 by kind: through ix_households_monitoring_type, not a scan of every household
    from sqlalchemy import func

    from sync.models import Household
    from sync.rules import MONITORING_TYPES
    statement = (select(Household.monitoring_type, func.count())
                 .where(Household.monitoring_type.in_(MONITORING_TYPES)).group_by(Household.monitoring_type))
    with engine.connect() as connection:
        compiled = statement.compile(engine, compile_kwargs={"literal_binds": True})
        plan = connection.execute(text(f"EXPLAIN (ANALYZE, BUFFERS) {compiled}")).scalars().all()
    print("  " + "\n  ".join(line if len(line) < 160 else line[:157] + "..." for line in plan), flush=True)


def explain_request(app, username: str, url: str, top: int = 4) -> None:
    """The slowest statements of one request (after a warm-up one), each with its time and EXPLAIN ANALYZE: where a
    page's time goes when it misses its target."""
    from sqlalchemy import event
    engine = app.extensions["zoufang"].engine
    client = logged_in(app, username)
    client.get(url)
    timings: list[tuple[float, str, object]] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        conn.info["bench_began"] = time.perf_counter()

    def after(conn, cursor, statement, parameters, context, executemany):
        timings.append((time.perf_counter() - conn.info.pop("bench_began"), statement, parameters))

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        began = time.perf_counter()
        client.get(url)
        total = time.perf_counter() - began
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)
    print(f"  {url} as {username}: {total * 1000:.0f} ms, {len(timings)} statements, "
          f"{sum(t for t, _, _ in timings) * 1000:.0f} ms in the database; the slowest:", flush=True)
    with engine.connect() as connection:
        for seconds, statement, parameters in sorted(timings, key=lambda t: t[0], reverse=True)[:top]:
            print(f"  -- {seconds * 1000:.1f} ms: {' '.join(statement.split())[:300]}", flush=True)
            plan = connection.exec_driver_sql(f"EXPLAIN (ANALYZE, BUFFERS) {statement}", parameters).scalars().all()
            print("    " + "\n    ".join(line if len(line) < 160 else line[:157] + "..." for line in plan), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", help="PostgreSQL URL: also run the city there, in a schema of its own")
    parser.add_argument("--rounds", type=int, default=20, help="timed requests per row (after 3 warm-up ones)")
    parser.add_argument("--skip-sqlite", action="store_true", help="only the PostgreSQL city")
    parser.add_argument("--explain", action="store_true", help="print the PostgreSQL plan of the main count")
    parser.add_argument("--city-households", type=int, default=CITY.households,
                        help="households of the PostgreSQL city (default %(default)s)")
    parser.add_argument("--city-visits", type=int, default=CITY.visits,
                        help="visits of the PostgreSQL city (default %(default)s)")
    args = parser.parse_args()
    city = replace(CITY, households=args.city_households, visits=args.city_visits)
    today = dt.datetime.now(CHINA).date()
    workdir = Path(tempfile.mkdtemp(prefix="zoufang-bench-coverage-"))
    ok = True
    try:
        if not args.skip_sqlite:
            ok &= run_county(workdir, args.rounds, today)
        if args.database_url:
            ok &= run_city(workdir, args.database_url, args.rounds, today, args.explain, city)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    sys.exit(0 if ok else 2)


if __name__ == "__main__":
    main()
