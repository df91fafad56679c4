"""Background work whose cost does not grow with the database (issue 18): every statement the worker, the
reconciler and `reconcile rebuild` send is planned by PostgreSQL through an index.

The statements are caught as they are sent, then EXPLAINed with sequential scans disabled. With the test's few
rows PostgreSQL would choose a sequential scan whatever the indexes; with `enable_seqscan = off` it still does
where no index can serve the statement, and where only a whole index could (a hashed NOT IN subplan, a merge
join), it reads the whole index instead. So a plan is refused when it reads a big table in full (a sequential
scan, or an index scan with no condition on the index's leading column and no LIMIT right above), or has a
subplan, evaluated per row, that reads any table in full.
"""
from __future__ import annotations

import dataclasses
import re

import pytest
from sqlalchemy import event, select, text, update

from server.db import session_scope
from support import Collect, login, make_jpeg, new_instance_id, postgres_url, visit_xml
from sync.jobs import queue_refolds, queue_start_work, run_until_idle
from sync.models import Household, Submission
from sync.rebuild import rebuild, start_rebuild
from sync.reconcile import stale_records
from sync.rules import BUNDLED_RULES, load_rules

PG_URL = postgres_url()

pytestmark = pytest.mark.skipif(not PG_URL, reason="plans are PostgreSQL's; set ZOUFANG_TEST_DATABASE_URL")

#: the tables that grow with the province: households and their members, submissions and everything derived
BIG = {"households", "members", "submissions", "submission_attachments", "visits", "household_records",
       "record_members", "conflicts", "findings", "resolutions"}
SCANS = {"Seq Scan", "Index Scan", "Index Only Scan", "Bitmap Heap Scan"}
#: leading columns with a handful of values (a few forms): a condition on them alone still reads a big share of
#: the table, so in a subplan (once per row) an index led by one bounds a scan only with a condition on its second
#: column too. (A statement's own scan along it is left to the planner: with the test's few rows any index will do.)
FEW_VALUES = {"form_id"}

HH, HH7, OTHER, UNKNOWN = "2105040010010001", "2105040010010007", "2105040010020002", "2105049990010001"


def plan_problems(plan: dict, indexes: dict[str, tuple[str, str, str | None, bool]]) -> list[str]:
    """What in a JSON plan reads a big table in full, or any table in full for each row. `indexes`: index name →
    (its table, its leading column, its second column, whether it is partial: a partial index holds only the rows
    its predicate keeps, such as the few submissions sent back to their sender, so reading all of it is not reading
    the table)."""
    problems = []

    def unbounded(node: dict, parent: str, per_row: bool = False) -> str | None:
        """The table a scan reads in full: sequentially, or along an index with no condition on the index's
        leading column (`month IS NOT NULL` on (area_id, month, …) is a condition, but reads every entry), and
        no LIMIT right above it."""
        if node["Node Type"] == "Seq Scan":
            return node["Relation Name"]
        if "Index Name" not in node or parent == "Limit" or node["Index Name"] not in indexes:
            return None  # (not in `indexes`: a system catalog's, such as pg_class's for a table's size estimate)
        table, leading, second, partial = indexes[node["Index Name"]]
        condition = node.get("Index Cond", "")

        def conditioned(column: str | None) -> bool:
            return bool(column and re.search(rf"\b{column}\b[^=<>(]*?(=|<|>|IS NULL)", condition))
        bounded = partial or (conditioned(leading)
                              and (not per_row or leading not in FEW_VALUES or conditioned(second)))
        return None if bounded else table

    def walk(node: dict, parent: str, per_row: bool) -> None:
        if node.get("Parent Relationship") == "SubPlan":
            # a subplan is evaluated for each row: fine as an index lookup, not as a read of a whole table
            # (NOT IN (SELECT …): hashed, it reads the table once per statement; at scale, once per row)
            for inner, inner_parent in descendants(node, parent):
                if table := unbounded(inner, inner_parent, per_row=True):
                    problems.append(f"{node.get('Subplan Name', 'SubPlan')} reads {table} in full")
        if (table := unbounded(node, parent, per_row)) in BIG:
            problems.append(f"{node['Node Type']} of the whole of {table}"
                            + (f" along {node['Index Name']}" if "Index Name" in node else "")
                            + (" for each row" if per_row else ""))
        outer_rows = max((c.get("Plan Rows", 0) for c in node.get("Plans", [])
                          if c.get("Parent Relationship") == "Outer"), default=0)
        for child in node.get("Plans", []):
            # a nested loop's inner side, like a subplan, runs again for each row of its outer side (once for the
            # one form a filter names)
            again = child.get("Parent Relationship") == "SubPlan" or (
                node["Node Type"] == "Nested Loop" and child.get("Parent Relationship") == "Inner" and outer_rows > 1)
            walk(child, node["Node Type"], per_row or again)

    walk(plan["Plan"], "", False)
    return problems


def descendants(node: dict, parent: str):
    yield node, parent
    for child in node.get("Plans", []):
        yield from descendants(child, node["Node Type"])


def explain(connection, statement: str, parameters) -> dict:
    cursor = connection.connection.dbapi_connection.cursor()
    cursor.execute("EXPLAIN (FORMAT JSON) " + statement, parameters)
    return cursor.fetchone()[0][0]


INDEXES = text("""
    SELECT ci.relname, ct.relname, a.attname, b.attname, i.indpred IS NOT NULL
    FROM pg_index i JOIN pg_class ci ON ci.oid = i.indexrelid JOIN pg_class ct ON ct.oid = i.indrelid
    JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
    LEFT JOIN pg_attribute b ON b.attrelid = i.indrelid AND i.indnatts > 1 AND b.attnum = i.indkey[1]
    WHERE ct.relnamespace = 'public'::regnamespace""")


def refused(engine, statements: list[tuple[str, object]]) -> dict[str, list[str]]:
    """Statement → its plan's problems, for the statements whose plan has some."""
    out = {}
    with engine.connect() as connection:
        connection.execute(text("SET enable_seqscan = off"))
        indexes = {index: (table, leading, second, partial)
                   for index, table, leading, second, partial in connection.execute(INDEXES)}
        for statement, parameters in statements:
            problems = plan_problems(explain(connection, statement, parameters), indexes)
            if problems:
                out[statement] = problems
        connection.rollback()
    return out


def caught(engine):
    """Collect every statement sent on `engine` (with its first parameter set) from now on, once each."""
    statements: dict[str, object] = {}

    def before(_connection, _cursor, statement, parameters, _context, executemany):
        if not statement.lstrip().upper().startswith(("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")):
            return
        statements.setdefault(statement, parameters[0] if executemany else parameters)

    event.listen(engine, "before_cursor_execute", before)
    return statements, lambda: event.remove(engine, "before_cursor_execute", before)


@pytest.fixture
def engine(app):
    return app.extensions["zoufang"].engine


def _submit_everything(client, sample_district):
    device = Collect(client, sample_district["cadre1"])
    town = Collect(client, sample_district["town1"])
    photo = make_jpeg()
    for xml, files in (
            (visit_xml(HH, water="no", base_version=1, end="2026-11-20T09:00:00+08:00"), {"family.jpg": photo}),
            (visit_xml(HH, water="yes", base_version=1, end="2026-11-20T11:00:00+08:00"), None),
            (visit_xml(HH7, instance_id=new_instance_id(), branch_id="uuid:b1", base_version=3, trunk_version=1),
             None),
            (visit_xml(UNKNOWN), None)):
        assert device.submit(xml, files).status_code == 201
    # the same photo for another household: looked up by its hash, and the other household told
    assert town.submit(visit_xml(OTHER), {"family.jpg": photo}).status_code == 201


def test_every_statement_of_the_worker_and_the_rebuild_reads_through_an_index(app, client, sample_district,
                                                                               engine, tmp_path):
    """The worker's rounds (reconciles, photos, coverage counts, a refold after a change of rules), a rebuild, a
    worker's start and the admin page's refold progress. Not the first start after the coverage cache's format
    changed: `mark_uncounted` then reads the (area, month) pairs of every visit, once."""
    rt = app.extensions["zoufang"]
    changed = tmp_path / "rules.toml"
    changed.write_text(BUNDLED_RULES.read_text(encoding="utf-8").replace("school_age_max = 15", "school_age_max = 16"),
                       encoding="utf-8")
    other_rules = load_rules(changed)
    run_until_idle(rt.sessions, rt.queue, rt.store)  # the roster import's jobs
    _submit_everything(client, sample_district)
    queue_start_work(rt.sessions, rt.queue)  # the first start: the cache's format is written
    statements, stop = caught(engine)
    try:
        assert run_until_idle(rt.sessions, rt.queue, rt.store) > 0
        assert queue_refolds(rt.sessions, dataclasses.replace(rt.queue, rules=other_rules)) == 113
        assert run_until_idle(rt.sessions, dataclasses.replace(rt.queue, rules=other_rules), rt.store) == 1
    finally:
        stop()
    # the rebuild's start counts the households of a small database (on a large one it takes PostgreSQL's estimate
    # instead: tests/api/test_rebuild.py), so it is left out; the rebuild's chunks, planning included, are not
    assert start_rebuild(rt.sessions, batch=10)
    more, stop = caught(engine)
    try:
        rebuilt = rebuild(rt.sessions, rt.queue, batch=10)
        run_until_idle(rt.sessions, rt.queue, rt.store)  # the counts the rebuild marked
        queue_start_work(rt.sessions, rt.queue)
        with session_scope(rt.sessions) as session:
            assert stale_records(session, rt.queue.rules.digest) == (0, 0)
            assert stale_records(session, other_rules.digest) == (113, 113)
    finally:
        stop()
    statements.update((s, p) for s, p in more.items() if s not in statements)
    assert rebuilt.households == 113 and rebuilt.left == 0
    with session_scope(rt.sessions) as session:
        assert session.scalar(select(Submission.reconcile_state).where(Submission.household_number == UNKNOWN)) \
            == "unknown_household"
    touching = [(s, p) for s, p in statements.items() if any(name in s for name in BIG)]
    assert len(touching) > 30  # the paths were really taken: claims, loads, writes, unattached, chunks
    # ... and the same photo's: its uses by hash, the households told
    assert any("submission_attachments.sha256 IN" in s for s in statements)
    assert any("JOIN findings" in s and "households.number IN" in s for s in statements)
    problems = refused(engine, list(statements.items()))
    assert not problems, "\n\n".join(f"{', '.join(found)}:\n{statement}" for statement, found in problems.items())


def test_the_check_refuses_the_not_in_statements_issue_18_found(app, sample_district, sessions, engine):
    """The statements before issue 18: NOT IN (SELECT number FROM households) in the worker's marking of
    unattached submissions and in the rebuild's search for them."""
    known = select(Household.number)
    worker = (update(Submission).where(Submission.id.in_([1, 2]), Submission.household_number.is_not(None),
                                       Submission.household_number.not_in(known))
              .values(reconcile_state="unknown_household"))
    loose = select(Submission.id).where(Submission.household_number.is_(None)
                                        | Submission.household_number.not_in(known))
    with engine.connect() as connection:
        statements = []
        for statement in (worker, loose):
            compiled = statement.compile(connection, compile_kwargs={"render_postcompile": True})
            statements.append((str(compiled), compiled.params))
    problems = refused(engine, statements)
    assert len(problems) == 2
    assert all("SubPlan 1 reads households in full" in found for found in problems.values()), problems


@pytest.mark.parametrize("query", ["", "verdict=questionable", "verdict=none", "state=received&form=household_visit",
                                   "area=210504001001", "month=2026-11", "household=" + HH])
def test_the_submissions_page_of_a_town_supervisor_reads_through_an_index(app, client, sample_district, engine,
                                                                          query):
    """The review page's list (issue 17 item 9), with each filter: the count and the page read the town's
    submissions through (area_id, received_at) and join households, visits, areas and forms by index; so do the
    page's feedback states."""
    rt = app.extensions["zoufang"]
    _submit_everything(client, sample_district)
    run_until_idle(rt.sessions, rt.queue, rt.store)
    login(client, "town1")
    statements, stop = caught(engine)
    try:
        assert client.get(f"/review/?{query}").status_code == 200
    finally:
        stop()
    touching = [(s, p) for s, p in statements.items() if "FROM submissions" in s]
    states = [s for s, _p in touching if s.startswith("SELECT submissions.id, submissions.feedback_state")]
    # the count and the page, and when the page has rows their feedback states (待整改/已答复, sync.feedback)
    assert len(touching) - len(states) == 2 and len(states) <= 1
    problems = refused(engine, touching)
    assert not problems, "\n\n".join(f"{', '.join(found)}:\n{statement}" for statement, found in problems.items())


def test_the_homes_and_the_feedback_page_read_through_an_index(app, client, sample_district, engine):
    """What was sent back to a cadre and whether they answered it (issue 15), as a review step, the worker and the
    homes read and keep it: each returned submission's answer (an edit of it, or a new visit of the household by
    its sender) is looked up by the edit chain and by the household, never along every submission received
    since its return, which at a city's size made the cadre's home miss its 100 ms (bench/coverage.py); the lists
    and counts read the kept states."""
    rt = app.extensions["zoufang"]
    _submit_everything(client, sample_district)
    run_until_idle(rt.sessions, rt.queue, rt.store)
    with session_scope(rt.sessions) as session:
        first, second = session.scalars(select(Submission.instance_id).where(Submission.household_number == HH)
                                        .order_by(Submission.id)).all()
    statements, stop = caught(engine)
    try:
        for instance_id, state in ((first, "has_issues"), (second, "rejected")):
            response = client.post(f"/api/v1/submissions/household_visit/{instance_id}/review",
                                   json={"state": state, "comment": "请重新入户拍照"},
                                   headers=sample_district["town1"])
            assert response.status_code == 200, response.get_data(as_text=True)
        assert Collect(client, sample_district["cadre1"]).submit(
            visit_xml(HH, end="2026-11-25T10:00:00+08:00")).status_code == 201
        run_until_idle(rt.sessions, rt.queue, rt.store)
        login(client, "cadre001")
        page = client.get("/").get_data(as_text=True)
        assert "请重新入户拍照" in page and "已答复" in page
        assert client.get("/feedback/").status_code == 200
        login(client, "town1")
        assert client.get("/").status_code == 200
        assert client.get("/feedback/").status_code == 200
    finally:
        stop()
    touching = [(s, p) for s, p in statements.items() if "FROM submissions" in s and any(
        mark in s for mark in ("review_comments", "feedback_state IS NOT NULL", "returned.id"))]
    # deciding (after the review steps and in the worker), then the lists and the counts of both sides
    assert len(touching) >= 6
    problems = refused(engine, touching)
    assert not problems, "\n\n".join(f"{', '.join(found)}:\n{statement}" for statement, found in problems.items())


def test_the_supervisors_home_counts_its_findings_and_questionable_visits_through_an_index(app, client, admin,
                                                                                          sample_district, engine):
    """The home's C/D-house and 排查 counts read the findings of the caller's areas through (code, area_id): joined
    to the households, PostgreSQL read every finding of the province (462 ms of a county supervisor's home at
    1.2M households, bench/scale.py). The month's questionable visits are counted through the partial index of
    questionable visits, the admin's too (for everything, the index on (area_id, month, …) was read whole: 434 ms
    of the admin's home over a province)."""
    rt = app.extensions["zoufang"]
    _submit_everything(client, sample_district)
    run_until_idle(rt.sessions, rt.queue, rt.store)
    statements, stop = caught(engine)
    try:
        for who in ("town1", "admin"):
            login(client, who)
            assert client.get("/").status_code == 200
    finally:
        stop()
    counting = [(s, p) for s, p in statements.items() if "FROM findings" in s and "dangerous_house" in str(p)]
    assert len(counting) >= 2  # the C/D houses with the 排查 list, and the houses by renovation stage
    questionable = [(s, p) for s, p in statements.items()
                    if "FROM visits" in s and "IN ('questionable', 'no_evidence')" in s]
    assert len(questionable) == 2  # the town's and the admin's (no area condition)
    problems = refused(engine, counting + questionable)
    assert not problems, "\n\n".join(f"{', '.join(found)}:\n{statement}" for statement, found in problems.items())
