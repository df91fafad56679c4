"""Ingest benchmark: how many ODK Collect submissions (XML + one ~200 KB photo) per second the real server takes.

    python bench/ingest.py [--n 500] [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/test]

A program, not a test. It starts the server under gunicorn in a temporary data dir, publishes a test form,
posts N submissions at 1 and at 8 concurrent clients (keep-alive sessions), authenticated once with device
tokens (/key/<token>/submission, one device per client) and once with HTTP Basic, then the same kind of bodies
to a minimal WSGI app that only streams the body to disk and fsyncs it (the stack's ceiling), and prints the
real server's figures against the ceiling's. It also times argon2 in-process, runs Basic auth with the
credential cache off, and checks that a 50 MB upload does not raise a worker's peak memory.
See bench/README.md.

With --database-url pointing at PostgreSQL it creates a schema of its own in that database (search_path),
runs there, and drops that schema at the end; nothing else in the database is touched.
"""
from __future__ import annotations

import argparse
import base64
import os
import re
import secrets
import shutil
import signal
import statistics
import sys
import tempfile
import time
import traceback
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import requests

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent / "tests"))  # support.py: xlsform(), submission_xml(), jpeg()
sys.path.insert(0, str(BENCH.parent))  # server.* for the in-process argon2 timing and the device fallback
sys.path.insert(0, str(BENCH))

import support  # noqa: E402
from common import CpuMeter, LoadResult, Server, WorkerSettings, memory_kib, multipart, run_load  # noqa: E402
from pgschema import PostgresSchema  # noqa: E402

ADMIN_USER = "bench-admin"
ADMIN_PASSWORD = "bench-" + secrets.token_hex(8)
FORM_ID = "bench_visit"
MB = 1024 * 1024
TARGET_RATIO = 0.5
#: ODK Central measured on this machine (token auth, one 200 KB photo a submission), sub/s by clients; ours must
#: take at least CENTRAL_FACTOR times as many
CENTRAL = {1: 54, 4: 118}
CENTRAL_FACTOR = 3


class Bodies:
    """Submission bodies, each with a new instanceID and a photo of its own (the store deduplicates by content)."""

    def __init__(self):
        self.seed = 0

    def make(self, count: int, photo_bytes: int = 200_000) -> list[tuple[bytes, str]]:
        out = []
        for _ in range(count):
            self.seed += 1
            xml = support.submission_xml(form_id=FORM_ID, photo_family="a.jpg",
                                         instance_id=f"uuid:{uuid.uuid4()}")
            out.append(multipart(xml, {"a.jpg": support.jpeg(photo_bytes, seed=self.seed)}))
        return out


# ---- setting up -------------------------------------------------------------------------------------------

def argon2_cost(rounds: int = 10) -> dict[str, float]:
    from argon2 import extract_parameters

    from server.passwords import hash_password, verify_password
    began = time.perf_counter()
    stored = hash_password("correct horse battery staple")
    hash_ms = (time.perf_counter() - began) * 1000
    times = []
    for _ in range(rounds):
        began = time.perf_counter()
        assert verify_password(stored, "correct horse battery staple")
        times.append((time.perf_counter() - began) * 1000)
    params = extract_parameters(stored)  # what the server's hashes use, read from the hash itself
    return {"hash_ms": hash_ms, "verify_ms": statistics.median(times), "verify_min_ms": min(times),
            "params": f"argon2{params.type.name.lower()} t={params.time_cost} m={params.memory_cost} KiB "
                      f"p={params.parallelism}"}


def basic_header() -> dict[str, str]:
    token = base64.b64encode(f"{ADMIN_USER}:{ADMIN_PASSWORD}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def publish_form(server: Server) -> None:
    response = requests.post(server.url + "/api/v1/forms", headers=basic_header(), timeout=60,
                             files={"xlsform": ("bench.xlsx", support.xlsform(form_id=FORM_ID, version="1"))})
    if response.status_code != 201:
        raise RuntimeError(f"publishing the test form failed: {response.status_code} {response.text[:500]}")


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    if match is None:
        raise RuntimeError("no csrf_token on the page")
    return match.group(1)


def device_tokens(server: Server, database_url: str, count: int) -> tuple[list[str], str]:
    """Set phones up as an admin would: log in, open the user's devices page, create `count` devices.

    Returns (tokens, how they were obtained). The page shows the new server URL (…/key/<token>) once, after
    the device is created; when it does not (it used to show it only inside the QR code's SVG), a Device row
    is added directly to the database with the token's sha256, exactly as the page stores it.
    """
    tokens = []
    with requests.Session() as browser:
        page = browser.get(server.url + "/login", timeout=30)
        home = browser.post(server.url + "/login", timeout=30, data={
            "username": ADMIN_USER, "password": ADMIN_PASSWORD, "csrf_token": _csrf(page.text)})
        match = re.search(r"/users/(\d+)/devices", home.text)
        if home.status_code != 200 or match is None:
            raise RuntimeError(f"logging in through /login failed: {home.status_code} {home.text[:300]}")
        user_id = int(match.group(1))
        devices_url = f"{server.url}/users/{user_id}/devices"
        for number in range(1, count + 1):
            page = browser.get(devices_url, timeout=30)
            name = f"bench phone {number}"
            created = browser.post(devices_url, data={"name": name, "csrf_token": _csrf(page.text)}, timeout=30)
            if created.status_code != 200 or name not in created.text:
                raise RuntimeError(f"creating a device failed: {created.status_code} {created.text[:300]}")
            found = re.search(r"/key/([A-Za-z0-9_\-]{20,})", created.text)
            if found is None:
                break
            tokens.append(found.group(1))
    if len(tokens) == count:
        return tokens, f"{count} device(s) created on the devices page, server URLs read from it"
    tokens = [secrets.token_urlsafe(32) for _ in range(count)]
    _insert_devices(database_url, user_id, tokens)
    return tokens, ("the devices page did not show the server URL as text (only inside the QR code): "
                    f"{count} Device row(s) inserted with server.auth.token_sha256 instead")


def _insert_devices(database_url: str, user_id: int, tokens: list[str]) -> None:
    import server.schema  # noqa: F401  (every model, so the relationships resolve)
    from server.auth import token_sha256
    from server.db import make_engine, make_session_factory, session_scope
    from server.models import Device

    engine = make_engine(database_url)
    try:
        with session_scope(make_session_factory(engine)) as session:
            for number, token in enumerate(tokens, 1):
                session.add(Device(user_id=user_id, token_sha256=token_sha256(token), name=f"bench phone {number}*"))
    finally:
        engine.dispose()


class Against:
    """The server of another checkout (--against), on SQLite in a data dir of its own, measured in the same
    alternation as ours with the same kind of bodies and clients: the direct comparison of a variant."""

    def __init__(self, checkout: Path, env: dict, workers: WorkerSettings, tmp: Path, clients: int, bodies: Bodies):
        self.checkout, self.workers, self.tmp = checkout.resolve(), workers, tmp
        self.clients, self.bodies = clients, bodies
        data = tmp / "against-data"
        self.database_url = f"sqlite:///{data / 'zoufang.sqlite3'}"
        self.env = env | {"ZOUFANG_DATA_DIR": str(data), "ZOUFANG_DATABASE_URL": self.database_url}
        self.server: Server | None = None
        self.queue: JobQueue | None = None
        self.tokens: list[str] = []

    def start(self, worker: str) -> None:
        """Its server with the background worker off or on ("thread"); the form and devices made the first time."""
        self.stop()
        self.server = start_server(self.env | {"ZOUFANG_WORKER": worker}, self.workers, self.tmp,
                                   f"against-{worker}", checkout=self.checkout)
        if not self.tokens:
            publish_form(self.server)
            self.tokens, _how = device_tokens(self.server, self.database_url, self.clients)
            self.queue = JobQueue(self.database_url)
            QUEUES.append(self.queue)
        elif self.queue.pending():
            self.queue.drain(300)
        measure("warm-up against", self.server, self.urls(), self.bodies.make(16), self.clients, show=False)

    def urls(self) -> list[str]:
        return [f"{self.server.url}/key/{t}/submission" for t in self.tokens]

    def block(self, concurrency: int):
        """A block of `size` submissions at `concurrency` clients, draining its background work when it has any."""
        def run(size: int) -> LoadResult:
            queue = self.queue if "thread" in self.server.name else None
            return measure("against", self.server, self.urls(), self.bodies.make(size), concurrency,
                           queue=queue, show=False)
        return run

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None


# ---- phases -----------------------------------------------------------------------------------------------

class JobQueue:
    """How much background work (reconcile and image jobs, run by the worker threads in the web processes) is
    due and not done yet, read straight from the server's database. None when there is no jobs table."""

    def __init__(self, database_url: str):
        from sqlalchemy import create_engine
        self.engine = create_engine(database_url)

    def pending(self) -> int | None:
        try:
            import server.schema  # noqa: F401  (every model, so the mappers configure)
            from sqlalchemy import and_, func, or_, select

            from server.db import utcnow
            from sync.models import Job
            with self.engine.connect() as connection:
                # a running (image) job's run_after is its lease end; a queued one's is when it is due
                return connection.execute(select(func.count()).select_from(Job).where(or_(
                    Job.state == "running", and_(Job.state == "queued", Job.run_after <= utcnow())))).scalar()
        except Exception:  # noqa: BLE001  (no jobs table in this version of the schema)
            return None

    def drain(self, timeout: float) -> tuple[float, int | None]:
        """Wait until no job is queued or running; (seconds waited, jobs still pending at the end)."""
        began = time.perf_counter()
        left = self.pending()
        while left and time.perf_counter() - began < timeout:
            time.sleep(0.1)
            left = self.pending()
        return time.perf_counter() - began, left

    def close(self) -> None:
        self.engine.dispose()


def measure(label: str, server: Server, url: str | list[str], bodies, concurrency: int, headers=None,
            queue: JobQueue | None = None, drain_timeout: float = 120.0, show: bool = True) -> LoadResult:
    """One run: post the bodies, then wait for the background work they caused (when there is a queue)."""
    postgres = server.env.get("ZOUFANG_DATABASE_URL", "").startswith("postgresql")
    pids = [server.proc.pid, *server.worker_pids()]
    with CpuMeter(pids, postgres) as all_in:
        with CpuMeter(pids, postgres) as cpu:
            result = run_load(url, bodies, concurrency, headers)
        result.drain_seconds, result.jobs_left = queue.drain(drain_timeout) if queue else (0.0, None)

    def per_sub(used: dict) -> dict:
        return {k: v / result.count * 1000 for k, v in used.items() if k not in ("busy", "total")}

    result.cpu = per_sub(cpu.used)
    result.cpu["machine_busy_pct"] = 100 * cpu.used["busy"] / cpu.used["total"] if cpu.used["total"] else 0.0
    result.cpu_all_in = per_sub(all_in.used)
    if show:
        show_result(label, concurrency, result, queue is not None)
    return result


def show_result(label: str, concurrency: int, result: LoadResult, background: bool) -> None:
    status = "ok" if not result.failures else f"{len(result.failures)} FAILED"
    print(f"  {label:<24} c={concurrency}  {result.rate:7.1f}/s  p50 {result.percentile(50):7.1f} ms  "
          f"p95 {result.percentile(95):7.1f} ms  ({result.count} in {result.seconds:.1f}s, {status}; "
          f"CPU ms/sub: server {result.cpu['server']:.1f}, client {result.cpu['client']:.1f}, "
          f"postgres {result.cpu['postgres']:.1f}, other processes {result.cpu['other']:.1f}; "
          f"machine {result.cpu['machine_busy_pct']:.0f}% busy)", flush=True)
    if background:
        left = "" if not result.jobs_left else f", {result.jobs_left} job(s) STILL PENDING"
        print(f"  {'':<24}      background jobs drained {result.drain_seconds:.1f}s after the last answer{left}; "
              f"all-in server CPU {result.cpu_all_in['server']:.1f} ms/sub, "
              f"sustained {result.sustained:.1f}/s", flush=True)
    for failure in result.failures[:10]:
        print(f"    ! {failure}")


def memory_check(env: dict, workers: WorkerSettings, tmp: Path, bodies: Bodies, big_mb: int, url_path: str,
                 headers: dict | None, queue: JobQueue) -> dict:
    server = start_server(env | {"ZOUFANG_MAX_SUBMISSION_BYTES": str((big_mb + 50) * MB)}, workers, tmp, "memory")
    pids = server.worker_pids()
    samples = {"started": {pid: memory_kib(pid) for pid in pids}}
    # small submissions on separate connections first, so that each worker has served some and what a first
    # request allocates is not counted as the upload's
    warm = run_load(server.url + url_path, bodies.make(4 * workers.workers), 4 * workers.workers, headers)
    queue.drain(120)  # their background work (image checks, reconcile) too
    samples["warmed"] = {pid: memory_kib(pid) for pid in pids}
    xml = support.submission_xml(form_id=FORM_ID, photo_family="a.jpg", instance_id=f"uuid:{uuid.uuid4()}")
    body, content_type = multipart(xml, {"a.jpg": os.urandom(big_mb * MB)})
    began = time.perf_counter()
    response = requests.post(server.url + url_path, data=body, timeout=300,
                             headers={**(headers or {}), "Content-Type": content_type, "X-OpenRosa-Version": "1.0"})
    seconds = time.perf_counter() - began
    drained, _left = queue.drain(120)  # the worker looks at the "photo" too: count its peak as well
    samples["uploaded"] = {pid: memory_kib(pid) for pid in pids}
    server.stop()
    return {"status": response.status_code, "text": response.text[:300], "seconds": seconds, "bytes": len(body),
            "samples": samples, "warm_failures": warm.failures, "drained": drained}


def worker_peaks(server: Server) -> str:
    return ", ".join(f"{memory_kib(pid)['VmHWM'] / 1024:.0f}" for pid in server.worker_pids()) + " MiB"


SERVERS: list[Server] = []
QUEUES: list[JobQueue] = []


def start_server(env: dict, workers: WorkerSettings, tmp: Path, name: str, app: str = "wsgi:app",
                 checkout: Path | None = None) -> Server:
    server = Server(app, env, workers, tmp, name, **({"checkout": checkout} if checkout else {}))
    SERVERS.append(server)
    return server.start()


def _terminate(signum, _frame):
    raise SystemExit(128 + signum)  # so that the finally below stops the servers and removes the folder


def main() -> int:
    signal.signal(signal.SIGTERM, _terminate)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=500, help="submissions per measured row (default 500)")
    parser.add_argument("--n-nocache", type=int, default=None,
                        help="submissions for the credential-cache-off row (default: min(n, 80))")
    parser.add_argument("--database-url", help="PostgreSQL URL; default: SQLite in the temporary data dir")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2: one per core)")
    parser.add_argument("--threads", type=int, default=4, help="gthread threads per worker (default 4)")
    parser.add_argument("--concurrency", default="1,8", help="client counts to measure (default 1,8)")
    parser.add_argument("--big-mb", type=int, default=50, help="size of the memory-check upload (default 50)")
    parser.add_argument("--rounds", type=int, default=5,
                        help="blocks each row is measured in, alternating with the ceiling (default 5)")
    parser.add_argument("--skip-nocache", action="store_true", help="leave out the credential-cache-off row")
    parser.add_argument("--skip-memory", action="store_true", help="leave out the big-upload memory check")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, media, database)")
    parser.add_argument("--server", choices=("gunicorn", "wsgi"), default="gunicorn",
                        help="start the real server as `gunicorn -c bench/gunicorn_conf.py … wsgi:app` (default) or "
                             "with the README's `python wsgi.py --workers W --threads T`; the ceiling always runs "
                             "under plain gunicorn")
    parser.add_argument("--against", type=Path, help="another checkout of the project (SQLite only): its server "
                        "is measured in the same alternation, and each row also gives ours/theirs")
    args = parser.parse_args()
    if args.against and args.database_url:
        parser.error("--against runs both servers on SQLite")
    concurrencies = [int(c) for c in args.concurrency.split(",")]
    n_nocache = args.n_nocache or min(args.n, 80)
    workers = WorkerSettings(workers=args.workers, threads=args.threads, via=args.server)

    tmp = Path(tempfile.mkdtemp(prefix="zoufang-bench-"))
    pg: PostgresSchema | None = None
    began = time.monotonic()
    try:
        print(f"Zoufang ingest benchmark — {os.cpu_count()} CPU(s), python {sys.version.split()[0]}")
        print(f"server: {workers.describe()} — one worker per core (the GIL makes a worker use one core at most); "
              f"threads overlap fsync, database and network waits")
        print(f"load: N={args.n} per row, clients {concurrencies}, one keep-alive requests.Session per client, "
              f"~200 KB JPEG per submission; the load generator runs on the same 2 cores")
        if args.database_url and args.database_url.startswith("postgresql"):
            pg = PostgresSchema(args.database_url)
            database_url = pg.url
            given = urlsplit(args.database_url)
            where = f"database {given.path.lstrip('/')!r} at {given.hostname}"
            print("!" * 100)
            print(f"!! PostgreSQL: creating schema {pg.name!r} in {where}; the benchmark runs in it")
            print("!! and DROPS that schema (CASCADE) at the end. Other schemas, public included, are not touched.")
            print("!" * 100)
        elif args.database_url:
            database_url = args.database_url
            print(f"database: {database_url}  (used as given — it should be empty)")
        else:
            database_url = f"sqlite:///{tmp / 'data' / 'zoufang.sqlite3'}"
            print(f"database: SQLite (WAL) in {tmp / 'data'}")
        print(f"temporary folder: {tmp}\n", flush=True)

        results: dict[tuple[str, int], LoadResult] = {}
        argon = argon2_cost()
        print(f"argon2 in-process: hash {argon['hash_ms']:.0f} ms, verify {argon['verify_ms']:.0f} ms median "
              f"({argon['verify_min_ms']:.0f} ms min), {argon['params']}\n", flush=True)

        # the ceiling runs all along: each row is measured between two ceiling runs at the same concurrency, so
        # that a ratio compares the two under the same conditions on a machine whose speed drifts
        print("ceiling (bench/ceiling_app.py: stream the body to a file + fsync, nothing else):", flush=True)
        (tmp / "ceiling").mkdir()
        ceiling_server = start_server({"BENCH_CEILING_DIR": str(tmp / "ceiling")}, workers, tmp, "ceiling",
                                      app="bench.ceiling_app:app")
        # the same kind of multipart bodies as the real rows (the ceiling keeps nothing, so they can be posted again)
        ceiling_bodies = Bodies().make(2 * max(args.n // args.rounds, max(concurrencies), 16))
        ceiling_url = ceiling_server.url + "/submission"
        measure("warm-up ceiling", ceiling_server, ceiling_url, ceiling_bodies[:16], max(concurrencies))
        ceilings: dict[tuple[str, int], LoadResult] = {}
        theirs: dict[tuple[str, int], LoadResult] = {}

        def alternating(key: tuple[str, int], run_block, background: bool = False, their_block=None) -> None:
            """The row and the ceiling in turns, in short blocks: ceiling, ours, ceiling, …, ours, ceiling. Both
            then see the same machine, whose speed drifts by ±30 % within minutes. With --against, the other
            checkout's block follows each of ours (the same work: ours/theirs is the fairest comparison)."""
            label, concurrency = key
            size = max(args.n // args.rounds, concurrency)
            ours, ceiling, other = [], [], []
            for round_ in range(args.rounds + 1):
                start = (round_ % 2) * size
                ceiling.append(measure("ceiling", ceiling_server, ceiling_url,
                                       ceiling_bodies[start:start + size], concurrency, show=False))
                if round_ < args.rounds:
                    ours.append(run_block(size))
                    if their_block:
                        other.append(their_block(size))
            results[key], ceilings[key] = LoadResult.combined(ours), LoadResult.combined(ceiling)
            show_result(f"ceiling ({args.rounds + 1} blocks)", concurrency, ceilings[key], False)
            show_result(f"{label} ({args.rounds} blocks)", concurrency, results[key], background)
            if other:
                theirs[key] = LoadResult.combined(other)
                show_result(f"{label}, against", concurrency, theirs[key], background)

        env = {"ZOUFANG_DATA_DIR": str(tmp / "data"), "ZOUFANG_DATABASE_URL": database_url,
               "ZOUFANG_ADMIN_USER": ADMIN_USER, "ZOUFANG_ADMIN_PASSWORD": ADMIN_PASSWORD,
               "ZOUFANG_PUBLISH_BUNDLED_FORMS": "0", "ZOUFANG_SECRET_KEY": secrets.token_urlsafe(32)}
        bodies = Bodies()
        peaks: dict[str, str] = {}
        top_c = max(concurrencies)

        # 1. ingest alone: the background worker off (ZOUFANG_WORKER=off), so only accepting submissions counts
        print("server (ZOUFANG_WORKER=off: no background reconcile/image work):", flush=True)
        server = start_server(env | {"ZOUFANG_WORKER": "off"}, workers, tmp, "ingest-only")
        publish_form(server)
        tokens, how = device_tokens(server, database_url, top_c)
        print(f"  device tokens: {how}; client i uses token i (one phone each)")
        token_urls = [f"{server.url}/key/{t}/submission" for t in tokens]
        measure("warm-up token", server, token_urls, bodies.make(16), top_c)
        against = Against(args.against, env, workers, tmp, top_c, bodies) if args.against else None
        if against:
            against.start("off")
        for concurrency in concurrencies:
            alternating(("token, worker off", concurrency), lambda size: measure(
                "token, worker off", server, token_urls, bodies.make(size), concurrency, show=False),
                their_block=against and against.block(concurrency))
        server.stop()
        queue = JobQueue(database_url)
        QUEUES.append(queue)

        # 2. the server as deployed: credential cache on, background worker threads on
        print("server (as deployed: credential cache on, background worker on):", flush=True)
        server = start_server(env, workers, tmp, "zoufang")
        backlog = queue.pending()
        if backlog:
            with CpuMeter([server.proc.pid, *server.worker_pids()], bool(pg)) as cpu:
                waited, left = queue.drain(300)
            print(f"  backlog from the worker-off run: {backlog} job(s) done in {waited:.1f}s "
                  f"({cpu.used['server'] / max(waited, 1e-9) * 100:.0f}% of a core)"
                  + (f", {left} STILL PENDING" if left else ""), flush=True)
        routes = {"token": ([f"{server.url}/key/{t}/submission" for t in tokens], None),
                  "basic": ([f"{server.url}/submission"], basic_header())}
        for auth, (urls, headers) in routes.items():
            measure(f"warm-up {auth}", server, urls, bodies.make(16), top_c, headers, queue)
        if against:
            against.start("thread")
        for auth, (urls, headers) in routes.items():
            for concurrency in concurrencies:
                alternating((auth, concurrency), lambda size: measure(auth, server, urls, bodies.make(size),
                                                                      concurrency, headers, queue, show=False),
                            background=True,
                            their_block=against and auth == "token" and against.block(concurrency))
        if against:
            against.stop()
        peaks["credential cache on"] = worker_peaks(server)
        server.stop()

        # 3. Basic auth with the credential cache off: argon2 on every request
        if not args.skip_nocache:
            print("server (ZOUFANG_CREDENTIAL_CACHE_SECONDS=0):", flush=True)
            server = start_server(env | {"ZOUFANG_CREDENTIAL_CACHE_SECONDS": "0"}, workers, tmp, "nocache")
            url = server.url + "/submission"
            measure("warm-up basic, no cache", server, url, bodies.make(8), top_c, basic_header(), queue)
            results[("basic, no cache", top_c)] = measure("basic, no cache", server, url, bodies.make(n_nocache),
                                                          top_c, basic_header(), queue)
            peaks["credential cache off"] = worker_peaks(server)
            server.stop()

        ceiling_server.stop()
        shutil.rmtree(tmp / "ceiling", ignore_errors=True)

        # 5. a worker's peak memory for a big upload, on a fresh server
        memory = None
        if not args.skip_memory:
            print(f"memory ({args.big_mb} MB upload on a fresh server, device token):", flush=True)
            memory = memory_check(env, workers, tmp, bodies, args.big_mb, f"/key/{tokens[0]}/submission", None, queue)

        return report(args, workers, database_url, pg, argon, results, ceilings, top_c, peaks, memory, began,
                      theirs)
    except Exception:
        traceback.print_exc()
        for server in SERVERS:
            if server.proc is not None:
                print(f"--- {server.name} log tail ---\n{server.log_tail()}")
        return 1
    finally:
        for server in SERVERS:
            try:
                server.stop()
            except Exception:  # noqa: BLE001  (keep cleaning up)
                traceback.print_exc()
        for queue in QUEUES:
            queue.close()
        if pg is not None:
            try:
                pg.drop()
                print(f"dropped PostgreSQL schema {pg.name!r}")
            except Exception:  # noqa: BLE001
                traceback.print_exc()
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def report(args, workers, database_url, pg, argon, results, ceilings, top_c, peaks, memory, began, theirs) -> int:
    """Print the tables; 0 when everything passed, 1 when a request failed, 2 when a target was missed."""
    exit_code = 0
    failures = sum(len(r.failures) for r in [*results.values(), *ceilings.values()])
    database = "PostgreSQL" if pg else database_url.split(":")[0]
    order = sorted(results, key=lambda key: (key[0] != "token, worker off", key[0].endswith("no cache")))  # stable
    print()
    print("=" * 124)
    print(f"RESULTS  {workers.describe()}  |  database: {database}  |  N={args.n} per row")
    print(f"{'auth':<18}{'clients':>7}{'sub/s':>8}{'p50 ms':>8}{'p95 ms':>8}  |{'drain s':>8}{'sustained':>10}  |"
          f"{'ceiling/s':>10}{'p50 ms':>8}{'p95 ms':>8}  |{'ours/ceiling':>13}{'fail':>5}")
    for key in order:
        (auth, concurrency), result = key, results[key]
        top = ceilings.get(key) or ceilings.get(("token, worker off", concurrency))
        ratio = result.rate / top.rate if top and top.rate else float("nan")
        verdict = "" if auth.endswith("no cache") else ("ok" if ratio >= TARGET_RATIO else "BELOW 0.5")
        if verdict == "BELOW 0.5":
            exit_code = max(exit_code, 2)
        background = (f"{result.drain_seconds:8.1f}{result.sustained:10.1f}" if auth != "token, worker off"
                      else f"{'-':>8}{'-':>10}")
        ceiling_cols = f"{top.rate:10.1f}{top.percentile(50):8.1f}{top.percentile(95):8.1f}" if top else " " * 26
        print(f"{auth:<18}{concurrency:>7}{result.rate:8.1f}{result.percentile(50):8.1f}{result.percentile(95):8.1f}"
              f"  |{background}  |{ceiling_cols}  |{ratio:13.2f}{len(result.failures):>5}  {verdict}")
    print(f"target: ours >= {TARGET_RATIO}x ceiling in sub/s (the no-cache row is for comparison). sub/s and latencies "
          f"are while the clients post; 'drain s' is how long the background jobs (reconcile, image checks) took to "
          f"finish after the last answer, and 'sustained' counts that time too.")
    for key, other in theirs.items():
        print(f"against {args.against}: {key[0]}, {key[1]} client(s): ours {results[key].rate:.1f} sub/s, theirs "
              f"{other.rate:.1f} sub/s, ours/theirs {results[key].rate / max(other.rate, 1e-9):.2f} (server CPU "
              f"{results[key].cpu['server']:.1f} against {other.cpu['server']:.1f} ms/sub)")
    exit_code = max(exit_code, report_central(results))
    print(f"argon2: {argon['verify_ms']:.0f} ms per verification in-process ({argon['params']})", end="")
    if ("basic", top_c) in results and ("basic, no cache", top_c) in results:
        gain = results[("basic", top_c)].rate / max(results[("basic, no cache", top_c)].rate, 1e-9)
        print(f"; Basic auth at {top_c} clients is {gain:.1f}x faster with the credential cache than without")
    else:
        print()

    print()
    print("where the CPU goes (ms of CPU per submission; the machine has 2 cores = 2000 ms of CPU per second)")
    print(f"{'row':<28}{'server':>8}{'client':>8}{'postgres':>9}{'others':>8}{'machine busy':>14}"
          f"   {'server incl. background work':>30}")
    rows = [(f"{auth} c={c}", results[(auth, c)]) for auth, c in order]
    for concurrency in sorted({c for _auth, c in ceilings}):
        rows.append((f"ceiling c={concurrency}",
                     LoadResult.combined([r for (_auth, c), r in ceilings.items() if c == concurrency])))
    for label, r in rows:
        all_in = r.cpu_all_in.get("server") if r.drain_seconds or r.jobs_left is not None else None
        print(f"{label:<28}{r.cpu['server']:8.1f}{r.cpu['client']:8.1f}{r.cpu['postgres']:9.1f}"
              f"{r.cpu['other']:8.1f}{r.cpu['machine_busy_pct']:13.0f}%"
              f"   {'' if all_in is None else f'{all_in:30.1f}'}")
    print("(server = the gunicorn master and workers, while the clients post; client = this load generator; others ="
          " anything else on the machine meanwhile — when it is more than ~1 ms, the figures are disturbed: run again"
          " on a quiet machine)")
    print("worker peak RSS (VmHWM) at the end of each server run: "
          + "; ".join(f"{k}: {v}" for k, v in peaks.items()))

    if memory is not None:
        exit_code = max(exit_code, report_memory(args, memory))
        failures += len(memory["warm_failures"]) + (memory["status"] != 201)
    if failures:
        print(f"\n{failures} request(s) did not answer 201")
        exit_code = 1
    print(f"\ntotal time {time.monotonic() - began:.0f}s")
    return exit_code


def report_central(results) -> int:
    """The token rows as deployed against ODK Central's rates on this machine; 2 when one is below the factor.
    Absolute rates follow the machine's load (the ceiling ratios do not): only a quiet run compares fairly."""
    exit_code = 0
    for concurrency, central in sorted(CENTRAL.items()):
        result = results.get(("token", concurrency))
        if result is None:
            continue
        times = result.rate / central
        verdict = "ok" if times >= CENTRAL_FACTOR else f"BELOW {CENTRAL_FACTOR}x"
        exit_code = 2 if verdict != "ok" else exit_code
        print(f"vs ODK Central at {concurrency} client(s): token {result.rate:.1f} sub/s = {times:.1f}x Central's "
              f"{central} (target {CENTRAL_FACTOR}x = {CENTRAL_FACTOR * central} sub/s)  {verdict}")
    return exit_code


def report_memory(args, memory) -> int:
    print()
    print(f"peak memory of the workers, one {args.big_mb} MB upload ({memory['bytes'] / MB:.1f} MB body, answered "
          f"{memory['status']} in {memory['seconds']:.2f}s; background work on it done "
          f"{memory['drained']:.1f}s later), "
          f"VmHWM from /proc/<pid>/status:")
    growth = 0
    samples = memory["samples"]
    for pid in samples["started"]:
        started, warmed, uploaded = (samples[k][pid] for k in ("started", "warmed", "uploaded"))
        delta = uploaded["VmHWM"] - warmed["VmHWM"]
        growth = max(growth, delta)
        print(f"  worker {pid}: started {started['VmHWM'] / 1024:6.1f} MiB, after warm-up "
              f"{warmed['VmHWM'] / 1024:6.1f}, after the upload {uploaded['VmHWM'] / 1024:6.1f} "
              f"(+{delta / 1024:.1f}); VmRSS now {uploaded['VmRSS'] / 1024:.1f} MiB")
    flat = memory["status"] == 201 and growth < 10 * 1024
    print(f"  largest growth of a worker's peak: {growth / 1024:.1f} MiB — "
          f"{'flat (ok)' if flat else 'NOT FLAT'} (limit 10 MiB)")
    if memory["status"] != 201:
        print(f"  ! {memory['status']} {memory['text']}")
    return 0 if flat else 2


if __name__ == "__main__":
    sys.exit(main())
