"""Province scale (issue 18): does background work cost the same on a large database as on a small one?

    python bench/scale.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/scale_bench \\
        [--households 1200000] [--per-household 12] [--small 1000] [--full-rebuild]

Fills two databases by SQL (each a schema of its own, dropped at the end): a small one (`--small` households)
and a large one (default: a province, 1.2M households, 4 members each, 12 visit submissions each = 14.4M; a
size this machine's disk holds is given with --households). Then measures, on each, in the same run:

1. the two statements issue 18 found, as they were (NOT IN a subquery) and as they are: EXPLAIN ANALYZE (and the
   plan in a line), in a transaction rolled back;
2. a burst of visit submissions (rows and reconcile jobs written by SQL, as the accept path writes them) drained
   by the worker's `run_pending`: the drain time and each batch's time;
3. `reconcile rebuild`: how long until the first chunk starts (planning), then households/s in one process and
   in two (`--workers 2`), over the same number of chunks on both databases; with --full-rebuild, the whole large
   database in two processes, to completion;
4. ingest: visit submissions with a ~200 KB photo, each naming a household of the database, posted to the real
   server (gunicorn, 2 workers, its background worker on, as deployed) through device tokens by 1 and by 4 clients;
5. the pages: the coverage page and the county supervisor's home, warm (the coverage cache filled, as a running
   worker keeps it) and cold (the cache emptied before each request, as after a rebuild), p50 and p95. For them
   the fill also writes the derived rows by SQL: a visit per submission (months up to this one) and a household
   record per household, as the reconciler leaves them.

Prints each figure and the ratio large/small (rates: ≥ 0.8 is the target; times: ≤ 1.25; the coverage page's
warm p95 has its own target, < 300 ms).
"""
from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import multiprocessing
import re
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import func, select, text, update

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]


import ingest as BENCH_INGEST  # noqa: E402
from common import WorkerSettings, multipart, run_load  # noqa: E402
from pgschema import PostgresSchema  # noqa: E402
from server.app import create_app  # noqa: E402
from server.config import load_settings  # noqa: E402
from server.db import session_scope, utcnow  # noqa: E402
from server.models import User, UserArea  # noqa: E402
from server.passwords import hash_password  # noqa: E402
from support import jpeg, visit_xml  # noqa: E402
from sync.coverage import count_uncounted_once, mark_uncounted, refill_stale  # noqa: E402
from sync.entity_list import bump_revision  # noqa: E402
from sync.jobs import run_pending  # noqa: E402
from sync.models import Area, Household, Submission  # noqa: E402
from sync.rebuild import rebuild, run_chunks, start_rebuild  # noqa: E402
from sync.reconcile import mark_unattached  # noqa: E402
from sync.records import HouseholdRecord  # noqa: E402

def _load_bench_module(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", REPO / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # (dataclasses look their module up there)
    spec.loader.exec_module(module)
    return module


#: bench/coverage.py, loaded under another name (the coverage package is another module)
BENCH_COVERAGE = _load_bench_module("coverage")
PASSWORD = "bench-" + secrets.token_hex(8)
#: this run's mark on the submissions it adds (a kept database is measured again)
RUN = secrets.token_hex(4)
#: households per village, villages per town, towns per county: a county of 20,000 registered households, a
#: province of 60 such counties
VILLAGE, TOWN, COUNTY = 100, 20, 10
TEMPLATE = visit_xml("__HH__", instance_id="__ID__", end="__DAY__T10:00:00+08:00", visit_date="__DAY__",
                     gps="__GPS__").decode()
#: a visit's GPS: at the household's door, within ~30 m (as the evidence check expects of a real visit)
GPS = "(h.latitude + (random() - 0.5) / 2000)::text || ' ' || (h.longitude + (random() - 0.5) / 2000)::text || ' 100 5'"

FILL = [
    # areas: the province's counties, their towns and villages (paths as the app keeps them: /county/town/village/)
    """INSERT INTO areas (code, name, level, path)
       SELECT '61' || lpad(c::text, 4, '0'), '测试县' || c, 'county', '' FROM generate_series(1, :counties) c""",
    """UPDATE areas SET path = '/' || id || '/' WHERE level = 'county'""",
    """INSERT INTO areas (code, name, level, parent_id, path)
       SELECT c.code || lpad(t::text, 3, '0'), c.name || '镇' || t, 'town', c.id, c.path
       FROM areas c, generate_series(1, :per_county) t WHERE c.level = 'county'""",
    """UPDATE areas SET path = path || id || '/' WHERE level = 'town'""",
    """INSERT INTO areas (code, name, level, parent_id, path)
       SELECT t.code || lpad(v::text, 3, '0'), t.name || '村' || v, 'village', t.id, t.path
       FROM areas t, generate_series(1, :per_town) v WHERE t.level = 'town'""",
    """UPDATE areas SET path = path || id || '/' WHERE level = 'village'""",
    """INSERT INTO households (number, area_id, head_name, latitude, longitude, status, cadre, roster_version,
                              roster_fingerprint, created_at, updated_at)
       SELECT v.code || lpad(h::text, 5, '0'), v.id, '户主' || h, 33 + random() / 10, 107 + random() / 10,
              '监测户', 'cadre' || lpad((h % 50)::text, 3, '0'), 1, '', now(), now()
       FROM (SELECT * FROM areas WHERE level = 'village' ORDER BY code LIMIT :villages) v,
            generate_series(1, :per_village) h
       LIMIT :households""",
    """INSERT INTO members (household_id, position, name, id_number, relation, sex, birth_date, schooling,
                           insured, health, labour)
       SELECT h.id, p, '成员' || p, lpad((h.id * 4 + p)::text, 18, '0'), CASE p WHEN 0 THEN '户主' ELSE '之子' END,
              '男', date '1970-01-01' + (h.id % 15000), '非在校生', true, '健康', '普通劳动力'
       FROM households h, generate_series(0, 3) p""",
    """INSERT INTO submissions (form_id, form_version_id, instance_id, current, root_instance_id, xml, xml_sha256,
                               household_number, area_id, out_of_area, review_state, received_at, reconcile_state,
                               reconciled_at)
       SELECT f.id, f.current_version_id, i, true, i, x, encode(sha256(x), 'hex'), h.number, h.area_id, false,
              'received', now(), 'applied', now()
       FROM forms f, households h, generate_series(1, :per_household) k,
            LATERAL (SELECT 'uuid:' || h.number || '-' || k AS i) i,
            LATERAL (SELECT convert_to(replace(replace(replace(replace(:template, '__HH__', h.number), '__ID__', i.i),
                                                       '__DAY__', (current_date - (:per_household - k) * 28)::text),
                                               '__GPS__', """ + GPS + """), 'UTF8') AS x) x
       WHERE f.xml_form_id = 'household_visit'""",
]

#: the rows the reconciler derives from those submissions, written by SQL so that the pages have a province to read
DERIVED = [
    """INSERT INTO visits (submission_id, household_id, area_id, visit_date, month, latitude, longitude, accuracy,
                          verdict, reasons)
       SELECT s.id, h.id, h.area_id, d.day, to_char(d.day, 'YYYY-MM'), h.latitude, h.longitude, 5,
              CASE WHEN s.id % 10 = 0 THEN 'questionable' ELSE 'verified' END, CAST('[]' AS json)
       FROM submissions s JOIN households h ON h.number = s.household_number,
            LATERAL (SELECT current_date - (:per_household - split_part(s.instance_id, '-', 2)::int) * 28 AS day) d""",
]

BURST = """
    WITH picked AS (SELECT number, area_id, latitude, longitude FROM households WHERE id IN (
                        SELECT (1 + floor(random() * (SELECT max(id) FROM households)))::int
                        FROM generate_series(1, :count))),
         added AS (
        INSERT INTO submissions (form_id, form_version_id, instance_id, current, root_instance_id, xml, xml_sha256,
                                 household_number, area_id, out_of_area, review_state, received_at, reconcile_state)
        SELECT f.id, f.current_version_id, 'uuid:burst-' || :run || '-' || p.number, true, 'uuid:burst-' || :run || '-' || p.number, x,
               encode(sha256(x), 'hex'), p.number, p.area_id, false, 'received', now(), 'pending'
        FROM forms f, picked p,
             LATERAL (SELECT convert_to(replace(replace(replace(replace(:template, '__HH__', p.number), '__ID__',
                                                        'uuid:burst-' || :run || '-' || p.number), '__DAY__', '2026-11-20'),
                                                '__GPS__', """ + GPS.replace("h.", "p.") + """), 'UTF8') AS x) x
        WHERE f.xml_form_id = 'household_visit'
        RETURNING id)
    INSERT INTO jobs (kind, submission_id, payload, state, attempts, run_after, created_at)
    SELECT 'reconcile', id, '{}', 'queued', 0, now(), now() FROM added"""

OLD = "NOT IN (SELECT number FROM households)"


class Database:
    def __init__(self, url: str, households: int, per_household: int, workdir: Path, name: str,
                 schema: str | None = None):
        """A database of `households` households, filled by SQL; in the schema named `schema` if given (kept at the
        end), which is filled only if it holds no household yet: a province is filled once and measured again."""
        self.schema = PostgresSchema(url, schema)
        self.name, self.households, self.keep = name, households, schema is not None
        env = {"ZOUFANG_DATA_DIR": str(workdir / name), "ZOUFANG_DATABASE_URL": self.schema.url,
               "ZOUFANG_SECRET_KEY": "bench"}
        self.app = create_app(load_settings(env=env, worker="off"))
        self.rt = self.app.extensions["zoufang"]
        started = time.perf_counter()
        with self.rt.engine.connect() as connection:
            filled = connection.scalar(select(func.count()).select_from(select(Household.id).limit(1).subquery()))
        if not filled:
            self._fill(households, per_household)
        self.users = add_users(self.rt.sessions)
        with self.rt.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE" if not filled else "ANALYZE"))
            size = connection.scalar(text("SELECT pg_size_pretty(sum(pg_total_relation_size(c.oid))) FROM pg_class c"
                                          " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = :s"),
                                     {"s": self.schema.name})
            # a kept database's counts are PostgreSQL's estimates: counting 14M submissions read 20 GB, emptying
            # the caches the measurements then ran in
            count = (lambda t: f"SELECT count(*) FROM {t}") if not filled else (
                lambda t: f"SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass('{t}')")
            counts = [connection.scalar(text(count(t))) for t in ("households", "members", "submissions")]
        print(f"{name} (schema {self.schema.name}): {counts[0]:,} households, {counts[1]:,} members, "
              f"{counts[2]:,} submissions, {size}, {'filled' if not filled else 'found'} in "
              f"{time.perf_counter() - started:.0f} s", flush=True)

    def _fill(self, households: int, per_household: int) -> None:
        villages = -(-households // VILLAGE)
        towns = -(-villages // TOWN)
        with self.rt.engine.begin() as connection:
            for statement in FILL + DERIVED:
                connection.execute(text(statement), {
                    "counties": -(-towns // COUNTY), "per_county": COUNTY, "per_town": TOWN, "villages": villages,
                    "per_village": VILLAGE, "households": households, "per_household": per_household,
                    "template": TEMPLATE})
        BENCH_COVERAGE.add_records(self.rt.engine)
        with session_scope(self.rt.sessions) as session:
            # folded with these rules (a starting worker would refold every record otherwise), and the coverage
            # cache kept the way this version keeps it, its months counted
            session.execute(update(HouseholdRecord).values(rules_digest=self.rt.queue.rules.digest))
            bump_revision(session, "households")  # as the roster import that would have made them
            count_uncounted_once(session)
        with session_scope(self.rt.sessions) as session:
            refill_stale(session)

    def close(self) -> None:
        self.rt.engine.dispose()
        if not self.keep:
            self.schema.drop()


def statements_of_issue_18(db: Database, burst: list[int]) -> dict[str, float]:
    """ms of the worker's marking of unknown households (for the burst's ids) and of the rebuild's search for
    unattached submissions: as they were (NOT IN a subquery; the rebuild's over every submission) and as they
    are (the worker's: `mark_unattached`, lookups by id and number; the rebuild's: over one chunk's range of
    household numbers, against the chunk's own numbers), each in a transaction rolled back."""
    ids = ",".join(map(str, burst))
    old = {"worker UPDATE, old": f"UPDATE submissions s SET reconcile_state = 'unknown_household' WHERE s.id IN "
                                 f"({ids}) AND s.household_number IS NOT NULL AND s.household_number {OLD}",
           "rebuild unattached, old": f"SELECT s.id FROM submissions s WHERE s.household_number IS NULL OR "
                                      f"s.household_number {OLD}",
           "rebuild unattached, new (a chunk)": "SELECT s.id FROM submissions s WHERE s.household_number > :low AND "
                                                "s.household_number <= :high AND s.household_number <> ALL(:numbers)"}
    out = {}
    for what, statement in old.items():
        with db.rt.engine.connect() as connection:
            connection.execute(text("SET statement_timeout = '60s'"))
            numbers = list(connection.scalars(select(Household.number).order_by(Household.number).limit(101)))
            try:
                plan = connection.execute(text("EXPLAIN (ANALYZE, FORMAT JSON) " + statement),
                                          {"low": numbers[0], "high": numbers[-1], "numbers": numbers[1:]}).scalar()
                out[f"{what} ms"] = plan[0]["Execution Time"]
                print(f"  {db.name}: {what}: {shape(plan[0]['Plan'])}")
            except Exception as error:  # the old search may run past the timeout: that is the finding
                out[f"{what} ms"] = float("inf")
                print(f"  {db.name}: {what} did not finish: {type(error).__name__}")
            connection.rollback()
    for _warm_then_timed in range(2):  # the old statement read these rows first: the same warm cache for both
        with db.rt.sessions() as session:
            started = time.perf_counter()
            mark_unattached(session, burst, utcnow())
            out["worker mark_unattached, new ms"] = (time.perf_counter() - started) * 1000
            session.rollback()
    return out


def shape(node: dict) -> str:
    """A plan in a line: its nodes, depth first, with the tables and indexes they read."""
    where = " ".join(filter(None, (node.get("Relation Name"), node.get("Index Name"))))
    own = f"{node['Node Type']}{f' ({where})' if where else ''}"
    children = [shape(child) for child in node.get("Plans", [])]
    return own + (f" [{'; '.join(children)}]" if children else "")


def add_users(sessions) -> dict[str, int]:
    """The accounts the measurements use: an admin (whose devices post the ingest, and who sees the province) and
    the first county's supervisor; one argon2 hash for both. A kept database has them already."""
    password = hash_password(PASSWORD)
    with session_scope(sessions) as session:
        county = session.scalar(select(Area.id).where(Area.level == "county").order_by(Area.code).limit(1))
        users = {name: session.scalar(select(User).where(User.username == name)) for name in ("bench", "county")}
        if users["bench"] is None:
            users["bench"] = User(username="bench", role="admin", display_name="bench")
            users["county"] = User(username="county", role="supervisor", display_name="县级督导",
                                   areas=[UserArea(area_id=county)])
            session.add_all(users.values())
        for user in users.values():
            user.password_hash = password
        session.flush()
        return {name: user.id for name, user in users.items()}


def pages(db: Database, rounds: int) -> dict[str, float]:
    """The coverage page (this month) and the supervisor's home, warm and cold, as the first county's supervisor
    sees them (one county, whatever the size of the province), then warm as the admin sees them (the whole
    province: one county in the small database)."""
    out = {}
    coverage = f"/coverage/?month={dt.date.today():%Y-%m}"
    for who, states in (("county", ("warm", "cold")), ("bench", ("warm",))):
        refill(db)  # warm: the cache as a running worker keeps it (the cold requests before emptied it)
        client = BENCH_COVERAGE.logged_in(db.app, who)
        for label, url in (("coverage page", coverage), ("supervisor's home", "/")):
            for state in states:
                before = BENCH_COVERAGE.clear_cache(db.app) if state == "cold" else None
                took = BENCH_COVERAGE.time_requests(client, url, rounds, before=before)
                name = f"{label}, {state}" if who == "county" else f"admin: {label}, {state}"
                out[f"{name}, p50 ms"] = BENCH_COVERAGE.percentile(took, 0.5)
                out[f"{name}, p95 ms"] = BENCH_COVERAGE.percentile(took, 0.95)
    refill(db)
    return out


def refill(db: Database) -> None:
    """The coverage cache counted again, as the worker does after a rebuild: every month marked, then counted."""
    with session_scope(db.rt.sessions) as session:
        mark_uncounted(session)
    with session_scope(db.rt.sessions) as session:
        refill_stale(session)


def ingest(db: Database, workdir: Path, count: int, concurrencies: tuple[int, ...]) -> dict[str, float]:
    """Visit submissions of the database's households, with a photo each, posted to the real server as phones
    post them (device tokens), by 1 and by 4 clients; submissions per second."""
    with db.rt.engine.connect() as connection:
        numbers = list(connection.scalars(text(
            "SELECT number FROM households TABLESAMPLE SYSTEM (1) LIMIT :n"), {"n": count * len(concurrencies)}))
    if len(numbers) < count * len(concurrencies):   # a small database: a share of its pages may hold too few
        with db.rt.engine.connect() as connection:
            numbers = list(connection.scalars(text("SELECT number FROM households ORDER BY random() LIMIT :n"),
                                              {"n": count * len(concurrencies)}))
    tokens = [secrets.token_urlsafe(32) for _ in range(max(concurrencies))]
    BENCH_INGEST._insert_devices(db.schema.url, db.users["bench"], tokens)
    env = {"ZOUFANG_DATA_DIR": str(workdir / f"{db.name}-server"), "ZOUFANG_DATABASE_URL": db.schema.url,
           "ZOUFANG_PUBLISH_BUNDLED_FORMS": "0", "ZOUFANG_SECRET_KEY": secrets.token_urlsafe(32)}
    server = BENCH_INGEST.start_server(env, WorkerSettings(workers=2, threads=4), workdir, f"{db.name}-ingest")
    queue = BENCH_INGEST.JobQueue(db.schema.url)
    out = {}
    try:
        for concurrency in concurrencies:
            bodies = [multipart(visit_xml(number, instance_id=f"uuid:{uuid.uuid4()}", username="bench"),
                              {"family.jpg": jpeg(200_000, seed=index)})
                      for index, number in enumerate(numbers[:count])]
            numbers = numbers[count:]
            result = run_load([f"{server.url}/key/{token}/submission" for token in tokens[:concurrency]], bodies,
                              concurrency)
            if result.failures:
                raise RuntimeError(f"{db.name}: {len(result.failures)} submissions refused: {result.failures[:3]}")
            out[f"ingest, {concurrency} client(s), submissions/s"] = result.rate
            # the server's worker reconciles them and checks their photos: the time it needs after the last answer
            drained, left = queue.drain(timeout=900)
            if left:
                raise RuntimeError(f"{db.name}: {left} jobs still pending 900 s after the ingest")
            out[f"ingest, {concurrency} client(s), drained after s"] = drained
    finally:
        queue.close()
        server.stop()
    return out


def drain(db: Database, count: int) -> tuple[dict[str, float], list[int]]:
    with db.rt.engine.begin() as connection:
        connection.execute(text(BURST), {"count": count, "template": TEMPLATE, "run": RUN})
    with db.rt.engine.connect() as connection:
        burst = list(connection.scalars(select(Submission.id).where(
            Submission.instance_id.like(f"uuid:burst-{RUN}-%"))))
    times, started = [], time.perf_counter()
    while True:
        batch_started = time.perf_counter()
        if not run_pending(db.rt.sessions, db.rt.queue):
            break
        times.append(time.perf_counter() - batch_started)
    return {"drain s": time.perf_counter() - started, "batch s (median)": statistics.median(times)}, burst


def rebuild_rates(db: Database, chunks: int, batch: int) -> dict[str, float]:
    started = time.perf_counter()
    start_rebuild(db.rt.sessions, batch)
    out = {"rebuild planned s": time.perf_counter() - started}
    started = time.perf_counter()
    done = run_chunks(db.rt.sessions, db.rt.queue, limit=chunks).households
    out["rebuild households/s (1 process)"] = done / (time.perf_counter() - started)
    db.rt.engine.dispose()
    context = multiprocessing.get_context("fork")
    results = context.SimpleQueue()
    processes = [context.Process(target=_chunks_in_child, args=(db, chunks // 2, results)) for _ in range(2)]
    started = time.perf_counter()
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    done = sum(results.get() for _ in processes)
    out["rebuild households/s (2 processes)"] = done / (time.perf_counter() - started)
    return out


def _chunks_in_child(db: Database, chunks: int, results) -> None:
    db.rt.engine.dispose(close=False)
    results.put(run_chunks(db.rt.sessions, db.rt.queue, limit=chunks).households)


class Progress:
    """The full rebuild's progress, a line a minute (it runs for hours at a province's size): done / total, the
    rate since the start and the time left at that rate. Every ANALYZE_EVERY seconds it has PostgreSQL's statistics
    brought up to date, as autovacuum does where it runs (not on this machine): the fill leaves the derived tables
    the rebuild writes (findings, cases, …) empty when analysed, and planned as empty their per-chunk deletes read
    whole tables, slower with every chunk."""

    ANALYZE_EVERY = 300

    def __init__(self, started: float, engine=None):
        self.started, self.printed, self.first = started, started, None
        self.engine, self.analysed = engine, started

    def __call__(self, done: int, total: int) -> None:
        now = time.perf_counter()
        if self.first is None:
            self.first = done  # what earlier runs of an interrupted rebuild did
        if self.engine is not None and now - self.analysed >= self.ANALYZE_EVERY:
            self.analysed = now
            with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.execute(text("ANALYZE"))
        if now - self.printed < 60:
            return
        self.printed = now
        rate = (done - self.first) / (now - self.started)
        left = (total - done) / rate if rate else float("inf")
        print(f"  rebuild: {done:,} / {total:,} households, {rate:,.0f}/s, {left / 60:,.0f} min left "
              f"({time.strftime('%H:%M:%S')})", flush=True)


#: what a run measures (--only)
PARTS = ("pages", "ingest", "drain", "rebuild")


def schema_name(value: str) -> str:
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,40}", value):
        raise argparse.ArgumentTypeError("a schema name: lower-case letters, digits and _")
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True, help="PostgreSQL (two schemas of their own are used)")
    parser.add_argument("--households", type=int, default=1_200_000)
    parser.add_argument("--per-household", type=int, default=12, help="visit submissions per household")
    parser.add_argument("--small", type=int, default=2000,
                        help="households of the small database (the timed chunks need 2 × --chunks × --batch)")
    parser.add_argument("--burst", type=int, default=400, help="visits in the burst the worker drains")
    parser.add_argument("--chunks", type=int, default=8, help="rebuild chunks timed (per way of running)")
    parser.add_argument("--batch", type=int, default=100, help="households per rebuild chunk")
    parser.add_argument("--full-rebuild", action="store_true", help="then rebuild all of the large database")
    parser.add_argument("--ingest", type=int, default=200, help="submissions posted per client count (0: none)")
    parser.add_argument("--rounds", type=int, default=10, help="timed requests per page and state")
    parser.add_argument("--keep", metavar="NAME", type=schema_name,
                        help="keep the databases in the schemas NAME_small and NAME_large; a schema that already "
                             "holds households is measured as it is, not filled again")
    parser.add_argument("--fill-only", action="store_true", help="fill the databases (with --keep) and stop")
    parser.add_argument("--only", type=lambda value: set(value.split(",")), default=set(PARTS),
                        help=f"measure only these, comma-separated: {','.join(PARTS)} (the statements of issue 18 "
                             "come with the drain)")
    args = parser.parse_args()
    if args.fill_only and not args.keep:
        parser.error("--fill-only needs --keep")
    if args.only - set(PARTS):
        parser.error(f"--only: one or more of {','.join(PARTS)}")
    workdir = Path(tempfile.mkdtemp(prefix="zoufang-bench-scale-"))
    figures: dict[str, dict[str, float]] = {}
    databases = []
    try:
        for name, households in (("small", args.small), ("large", args.households)):
            db = Database(args.database_url, households, args.per_household, workdir, name,
                          f"{args.keep}_{name}" if args.keep else None)
            databases.append(db)
            if args.fill_only:
                continue
            figures[name] = pages(db, args.rounds) if "pages" in args.only else {}
            if args.ingest and "ingest" in args.only:
                figures[name] |= ingest(db, workdir, args.ingest, (1, 4))
            if "drain" in args.only:
                drained, burst = drain(db, args.burst)
                figures[name] |= drained
            if "rebuild" in args.only:
                figures[name] |= rebuild_rates(db, args.chunks, args.batch)
            if "drain" in args.only:  # last: the old statements read every submission, emptying the caches
                figures[name] |= statements_of_issue_18(db, burst)
        if args.fill_only:
            return
        print(f"\n{'':42} {'small':>10} {'large':>10} {'large/small':>12}")
        for key, small in figures["small"].items():
            large = figures["large"][key]
            print(f"{key:42} {small:10.3f} {large:10.3f} {large / small if small else float('nan'):12.2f}")
        if args.full_rebuild:
            large = databases[-1]
            large.rt.engine.dispose()
            started = time.perf_counter()
            rebuilt = rebuild(large.rt.sessions, large.rt.queue, progress=Progress(started, large.rt.engine),
                              batch=args.batch, workers=2)
            took = time.perf_counter() - started
            print(f"\nfull rebuild of the large database, 2 processes: {rebuilt.households:,} households (the rest "
                  f"of those timed above) in {took:.0f} s = {rebuilt.households / took:,.0f} households/s, "
                  f"{rebuilt.left} chunks left")
    finally:
        for db in databases:
            db.close()


if __name__ == "__main__":
    main()
