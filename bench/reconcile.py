"""Reconciler benchmark: rebuild throughput on a county's data, and receipt→record latency under a stream.

    python bench/reconcile.py                                   # SQLite in a temporary folder
    python bench/reconcile.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test
                                        # runs in a schema of its own, dropped at the end

1. Generates a county: 100 villages, 5,000 households (2–5 members each) and 60,000 submissions of the three
   bundled forms (per household: 10 monthly visits, an assessment, an income survey; some visits from the same
   entity version disagree, so conflicts are found too), inserted straight into the database.
2. Times `reconcile rebuild` (every XML re-read, every household folded and written) in this one process:
   submissions/s on one core. Target: ≥ 2,000/s per core.
3. Starts the server under gunicorn (its in-process reconcile workers on), streams visit submissions at a steady
   rate over HTTP, and reads each one's receipt→record latency from the database (received_at → reconciled_at).
   Target: p95 < 1 s.
"""
from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
from sqlalchemy import insert, select

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from forms.models import Form  # noqa: E402
from pgschema import PostgresSchema  # noqa: E402
from server.app import create_app  # noqa: E402
from server.config import load_settings  # noqa: E402
from server.db import make_engine, session_scope  # noqa: E402
from server.models import User  # noqa: E402
from server.passwords import hash_password  # noqa: E402
from support import assessment_xml, income_xml, visit_xml  # noqa: E402
from sync.rebuild import rebuild  # noqa: E402
from sync.models import Area, Household, Member, Submission  # noqa: E402

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
RELATIONS = ("配偶", "之子", "之女", "之父", "之母")


def id_number(region: str, birth: dt.date, serial: int) -> str:
    body = f"{region}{birth:%Y%m%d}{serial % 1000:03d}"
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, WEIGHTS)) % 11]


def generate(rt, households: int, per_household: int, rng: random.Random) -> int:
    """Areas, households with members, and submissions, written in bulk."""
    now = dt.datetime.now(dt.timezone.utc)
    with session_scope(rt.sessions) as session:
        county = Area(code="610700", name="汉中测试县", level="county", path="")
        session.add(county)
        session.flush()
        county.path = f"/{county.id}/"
        villages = []
        for t in range(10):
            town = Area(code=f"610700{t + 1:03d}", name=f"镇{t + 1}", level="town", parent=county, path="")
            session.add(town)
            session.flush()
            town.path = f"{county.path}{town.id}/"
            for v in range(10):
                village = Area(code=f"{town.code}{v + 1:03d}", name=f"村{t + 1}-{v + 1}", level="village",
                               parent=town, path="")
                session.add(village)
                session.flush()
                village.path = f"{town.path}{village.id}/"
                villages.append(village)
        session.add(User(username="bench", role="admin", display_name="bench",
                         password_hash=hash_password("bench-password")))
        forms = {f.xml_form_id: (f.id, f.current_version_id) for f in session.scalars(select(Form))}
        numbers = []
        member_rows = []
        for i in range(households):
            village = villages[i % len(villages)]
            number = f"{village.code}{i:04d}"
            numbers.append((number, village))
        session.execute(insert(Household), [
            {"number": n, "area_id": v.id, "head_name": f"户主{n[-4:]}", "latitude": 33.0 + rng.random() / 10,
             "longitude": 107.0 + rng.random() / 10, "status": rng.choice(["未脱贫", "已脱贫", "监测户"]),
             "cadre": f"cadre{int(n[-4:]) % 50:03d}", "roster_version": 1, "roster_fingerprint": "",
             "created_at": now, "updated_at": now} for n, v in numbers])
        ids = dict(session.execute(select(Household.number, Household.id)).all())
        for number, _village in numbers:
            for position in range(rng.randint(2, 5)):
                birth = dt.date(rng.randint(1940, 2020), rng.randint(1, 12), rng.randint(1, 28))
                member_rows.append({
                    "household_id": ids[number], "position": position, "name": f"成员{position}",
                    "id_number": id_number("610700", birth, int(number[-4:]) * 7 + position),
                    "relation": "户主" if position == 0 else rng.choice(RELATIONS), "sex": "男",
                    "birth_date": birth, "schooling": "非在校生", "insured": True, "health": "健康",
                    "labour": "普通劳动力"})
        session.execute(insert(Member), member_rows)

    count = 0
    batch = []
    with session_scope(rt.sessions) as session:
        for number, village in numbers:
            for xml, form in submissions_for(number, per_household, rng):
                form_id, version_id = forms[form]
                batch.append({"form_id": form_id, "form_version_id": version_id, "instance_id": f"uuid:{count:08d}",
                              "current": True, "xml": xml, "xml_sha256": hashlib.sha256(xml).hexdigest(),
                              "household_number": number, "area_id": village.id, "received_at": now,
                              "review_state": "received", "reconcile_state": "pending"})
                count += 1
                if len(batch) >= 5000:
                    session.execute(insert(Submission), batch)
                    batch = []
        if batch:
            session.execute(insert(Submission), batch)
    return count


def submissions_for(number: str, per_household: int, rng: random.Random):
    visits = per_household - 2
    for month in range(visits):
        day = dt.date(2025, 12, 1) + dt.timedelta(days=30 * month + rng.randint(0, 20))
        yield visit_xml(number, instance_id=f"uuid:{number}-v{month}", end=f"{day.isoformat()}T10:00:00+08:00",
                        water=rng.choice(["yes", "yes", "no"]), grade=rng.choice("AABC"),
                        base_version=1 + month - (month % 3 == 2), children=rng.randint(0, 1)), "household_visit"
    yield assessment_xml(number, instance_id=f"uuid:{number}-a", grade=rng.choice("ABCD"),
                         renovation_state=rng.choice(["planned", "building", "moved_in"])), "housing_assessment"
    yield income_xml(number, instance_id=f"uuid:{number}-i", year=2025, size=rng.randint(2, 5),
                     wage=rng.randint(0, 40000), medical=rng.choice([0, 0, 30000])), "income_survey"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def stream(env: dict[str, str], households: list[str], rate: float, seconds: float, workdir: Path):
    """Post visits at a steady rate to a gunicorn server; return the streamed instance ids."""
    port = free_port()
    log = open(workdir / "gunicorn.log", "w")
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-w", "2", "--worker-class", "gthread",
                               "--threads", "4", "-b", f"127.0.0.1:{port}", "wsgi:app"], cwd=REPO,
                              env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                requests.get(f"{base}/login", timeout=1)
                break
            except requests.RequestException:
                time.sleep(0.1)
        http = requests.Session()
        http.auth = ("bench", "bench-password")
        http.headers["X-OpenRosa-Version"] = "1.0"
        sent, interval, start = [], 1.0 / rate, time.monotonic()
        rng = random.Random(7)
        while time.monotonic() - start < seconds:
            due = start + len(sent) * interval
            time.sleep(max(0.0, due - time.monotonic()))
            instance_id = f"uuid:stream-{len(sent):06d}"
            xml = visit_xml(rng.choice(households), instance_id=instance_id, end="2026-11-20T10:00:00+08:00",
                            base_version=50)
            response = http.post(f"{base}/submission", files={"xml_submission_file": ("submission.xml", xml,
                                                                                       "text/xml")})
            if response.status_code != 201:
                raise SystemExit(f"stream: {response.status_code} {response.text[:300]}")
            sent.append(instance_id)
        time.sleep(2.0)  # let the last ones through
        return sent, time.monotonic() - start
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(10)
        log.close()
        errors = [line for line in (workdir / "gunicorn.log").read_text().splitlines() if "ERROR" in line]
        if errors:
            print(f"server logged {len(errors)} errors, first: {errors[0]}")
            shutil.copy(workdir / "gunicorn.log", "/tmp/zoufang-bench-gunicorn.log")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--households", type=int, default=5000)
    parser.add_argument("--per-household", type=int, default=12)
    parser.add_argument("--database-url", help="PostgreSQL URL instead of SQLite (a schema of its own is used)")
    parser.add_argument("--rate", type=float, default=20.0, help="streamed submissions per second")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long to stream")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="zoufang-bench-reconcile-"))
    schema = PostgresSchema(args.database_url) if args.database_url else None
    url = schema.url if schema else f"sqlite:///{workdir / 'zoufang.sqlite3'}"
    if schema:
        print(f"PostgreSQL: running in schema {schema.name!r}, dropped at the end")
    env = {"ZOUFANG_DATA_DIR": str(workdir), "ZOUFANG_DATABASE_URL": url, "ZOUFANG_SECRET_KEY": "bench"}
    try:
        app = create_app(load_settings(env=env, worker="off"))
        rt = app.extensions["zoufang"]
        database = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
        rng = random.Random(2026)
        started = time.perf_counter()
        count = generate(rt, args.households, args.per_household, rng)
        print(f"generated {args.households} households and {count} submissions on {database} "
              f"in {time.perf_counter() - started:.1f} s")

        started, cpu_started = time.perf_counter(), time.process_time()
        rebuilt = rebuild(rt.sessions, rt.queue).households
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        # the rebuild is one thread; on PostgreSQL the database server works on the other core meanwhile, so
        # the CPU time of this process is what one core of the reconciler achieves
        print(f"rebuild: {rebuilt} households, {count} submissions in {elapsed:.1f} s wall = "
              f"{count / elapsed:,.0f} submissions/s; {cpu:.1f} s CPU in the reconciler = "
              f"{count / cpu:,.0f} submissions/s per core (target ≥ 2,000)")

        with session_scope(rt.sessions) as session:
            numbers = list(session.scalars(select(Household.number)))
        rt.engine.dispose()
        sent, took = stream(env, numbers, args.rate, args.seconds, workdir)
        engine = make_engine(url)
        with engine.connect() as connection:
            rows = connection.execute(select(Submission.received_at, Submission.reconciled_at, Submission.reconcile_state)
                                      .where(Submission.instance_id.in_(sent))).all()
        engine.dispose()
        latencies = [(r.reconciled_at - r.received_at).total_seconds() for r in rows if r.reconciled_at]
        pending = len(sent) - len(latencies)
        print(f"stream: {len(sent)} visits at {len(sent) / took:.1f}/s over HTTP (gunicorn -w 2 gthread 4); "
              f"{pending} not reconciled")
        print(f"receipt→record latency: p50 {percentile(latencies, 0.5) * 1000:.0f} ms, "
              f"p95 {percentile(latencies, 0.95) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms "
              f"(target p95 < 1000 ms); mean {statistics.mean(latencies) * 1000:.0f} ms")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        if schema:
            schema.drop()


if __name__ == "__main__":
    main()
