"""Exports at size (issue 16): rows/s and peak memory of the streamed CSV and XLSX exports.

    python bench/export.py [--rows 1000000] [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/test]

Fills a database by SQL (SQLite in a temporary data dir, or a PostgreSQL schema of its own, dropped at the end)
with the sample district (113 households) and `--rows` door-to-door visit submissions made from the bundled
form's instance, then in a fresh child process per measurement, through the app's own handler
(`GET /api/v1/exports/submissions/household_visit.csv|.xlsx` with the Flask test client, the body read chunk by
chunk and thrown away, as a browser saves it):

- the export of every row: rows/s and the child's peak RSS;
- the same export of a tenth of the rows (`?to=` cuts them): peak RSS again — flat memory means the two peaks are
  nearly equal (ratio full/tenth ≈ 1);
- the ceiling: the same child reading the same rows' XML with the same server-side cursor and doing nothing
  with them: rows/s, so that our rate is also given as a share of what the database alone allows.

Targets: peak RSS < 200 MB for CSV and XLSX at 1,000,000 rows. Prints each figure; exits 2 when a target is missed.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import select, text

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from pgschema import PostgresSchema  # noqa: E402
from server.app import create_app  # noqa: E402
from server.config import load_settings  # noqa: E402
from server.db import session_scope  # noqa: E402
from server.models import User  # noqa: E402
from server.passwords import hash_password  # noqa: E402
from support import basic, visit_xml  # noqa: E402
from sync.areas import import_areas  # noqa: E402
from sync.roster import import_roster  # noqa: E402

SAMPLES = REPO / "sync" / "samples"
TEMPLATE = visit_xml("__HH__", instance_id="__ID__", end="2026-11-20T10:00:00+08:00").decode()
PASSWORD = "bench-password"
TARGET_MB = 200
#: a day after every filled row was received, and one that keeps a tenth of them (rows are received a second apart)
FILL = {
    "postgresql": """
        INSERT INTO submissions (form_id, form_version_id, instance_id, current, root_instance_id, xml, xml_sha256,
                                 household_number, area_id, out_of_area, review_state, received_at, reconcile_state)
        SELECT f.id, f.current_version_id, i.i, true, i.i, x.x, encode(sha256(x.x), 'hex'), h.number, h.area_id,
               false, 'received', timestamp '2026-01-01' + n * interval '1 second', 'applied'
        FROM forms f, generate_series(1, :rows) n,
             LATERAL (SELECT number, area_id FROM households ORDER BY id OFFSET (n % :households) LIMIT 1) h,
             LATERAL (SELECT 'uuid:bench-' || n AS i) i,
             LATERAL (SELECT convert_to(replace(replace(:template, '__HH__', h.number), '__ID__', i.i), 'UTF8')
                      AS x) x
        WHERE f.xml_form_id = 'household_visit'""",
    "sqlite": """
        WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < :rows),
             numbered AS (SELECT number, area_id, row_number() OVER (ORDER BY id) - 1 AS k FROM households)
        INSERT INTO submissions (form_id, form_version_id, instance_id, current, root_instance_id, xml, xml_sha256,
                                 household_number, area_id, out_of_area, review_state, received_at, reconcile_state)
        SELECT f.id, f.current_version_id, 'uuid:bench-' || n, 1, 'uuid:bench-' || n,
               CAST(replace(replace(:template, '__HH__', h.number), '__ID__', 'uuid:bench-' || n) AS BLOB),
               printf('%064d', n), h.number, h.area_id, 0, 'received',
               datetime('2026-01-01', '+' || n || ' seconds'), 'applied'
        FROM seq JOIN numbered h ON h.k = seq.n % :households, forms f
        WHERE f.xml_form_id = 'household_visit'""",
}


def environment(data_dir: Path, url: str | None) -> dict[str, str]:
    env = {"ZOUFANG_DATA_DIR": str(data_dir), "ZOUFANG_SECRET_KEY": "bench"}
    if url:
        env["ZOUFANG_DATABASE_URL"] = url
    return env


def fill(env: dict[str, str], rows: int) -> None:
    from forms.service import publish_bundled_forms
    rt = create_app(load_settings(env=env, worker="off")).extensions["zoufang"]
    with session_scope(rt.sessions) as session:
        import_areas(session, (SAMPLES / "areas.csv").read_bytes(), "areas.csv")
        # the roster names each household's cadre by an account: they exist first
        cadres = {row["帮扶责任人"] for row in csv.DictReader(io.StringIO((SAMPLES / "roster.csv").read_text("utf-8")))}
        session.add_all(User(username=name, role="cadre", display_name=name) for name in sorted(cadres))
        session.flush()
        import_roster(session, (SAMPLES / "roster.csv").read_bytes(), "roster.csv")
        publish_bundled_forms(session, rt.store)
        session.add(User(username="bench-admin", role="admin", display_name="bench",
                         password_hash=hash_password(PASSWORD)))
    started = time.perf_counter()
    with rt.engine.begin() as connection:
        households = connection.scalar(text("SELECT count(*) FROM households"))
        connection.execute(text(FILL[rt.engine.dialect.name]),
                           {"rows": rows, "households": households, "template": TEMPLATE})
    print(f"filled {rows:,} submissions ({rt.engine.dialect.name}) in {time.perf_counter() - started:.0f} s")
    rt.engine.dispose()


def measure(env: dict[str, str], what: str, query: str) -> dict:
    """In this (child) process: one export or the ceiling, timed; the peak RSS of the process."""
    app = create_app(load_settings(env=env, worker="off"))
    rt = app.extensions["zoufang"]
    started = time.perf_counter()
    size = 0
    if what == "ceiling":
        from sync.models import Submission
        with rt.sessions() as session:
            result = session.execute(select(Submission.xml).order_by(Submission.id)
                                     .execution_options(yield_per=500))
            rows = 0
            for (xml,) in result:
                size += len(xml)
                rows += 1
    else:
        response = app.test_client().get(f"/api/v1/exports/submissions/household_visit.{what}{query}",
                                         headers=basic("bench-admin", PASSWORD), buffered=False)
        assert response.status_code == 200, response.status_code
        for chunk in response.response:
            size += len(chunk)
        response.close()
        rows = None
    took = time.perf_counter() - started
    return {"seconds": took, "bytes": size, "rows": rows,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def in_child(env: dict[str, str], what: str, query: str = "") -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", json.dumps([env, what, query])],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--database-url", help="PostgreSQL (a schema of its own is used); SQLite if not given")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(*json.loads(args.child))))
        return 0
    schema = PostgresSchema(args.database_url) if args.database_url else None
    try:
        with tempfile.TemporaryDirectory(prefix="zoufang-bench-export-") as workdir:
            env = environment(Path(workdir), schema.url if schema else None)
            fill(env, args.rows)
            # rows were received a second apart from 2026-01-01 00:00 UTC: `to` keeps the first tenth or so
            tenth_day = f"2026-01-{1 + args.rows // 10 // 86400:02d}"
            ceiling = in_child(env, "ceiling")
            rate_ceiling = ceiling["rows"] / ceiling["seconds"]
            print(f"ceiling (read the rows' XML, nothing else): {rate_ceiling:,.0f} rows/s, "
                  f"peak {ceiling['peak_mb']:.0f} MB")
            missed = False
            for kind in ("csv", "xlsx"):
                full = in_child(env, kind)
                part = in_child(env, kind, f"?to={tenth_day}")
                rate = args.rows / full["seconds"]
                print(f"{kind}: {args.rows:,} rows in {full['seconds']:.1f} s = {rate:,.0f} rows/s "
                      f"({rate / rate_ceiling:.2f}× the ceiling), {full['bytes'] / 1e6:,.0f} MB out; "
                      f"peak RSS {full['peak_mb']:.0f} MB, with a tenth of the rows {part['peak_mb']:.0f} MB "
                      f"(ratio {full['peak_mb'] / part['peak_mb']:.2f})")
                missed |= full["peak_mb"] >= TARGET_MB
            print(f"target: peak RSS < {TARGET_MB} MB for both: {'missed' if missed else 'met'}")
            return 2 if missed else 0
    finally:
        if schema:
            schema.drop()


if __name__ == "__main__":
    sys.exit(main())
