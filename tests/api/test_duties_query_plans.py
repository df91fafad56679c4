"""The visiting duties' reads go through indexes on PostgreSQL (the check of tests/api/test_query_plans.py): the
month's visits by the households' own cadres through (area_id, month, …), the secretaries' and the work team's
visits of their periods through (area_id, visitor_duty, month, …), never every visit of the area's year."""
import json

import pytest
from sqlalchemy import text

from support import Collect, postgres_url, visit_xml
from sync.jobs import run_until_idle
from test_query_plans import BIG, caught, explain, refused

pytestmark = pytest.mark.skipif(not postgres_url(), reason="plans are PostgreSQL's; set ZOUFANG_TEST_DATABASE_URL")

HH, HH7 = "2105040010010001", "2105040010010007"


@pytest.mark.parametrize("area", ["", "210504001001"])
def test_the_duties_of_a_town_read_through_indexes(app, client, sample_district, make_user, runner, area):
    rt = app.extensions["zoufang"]
    vsec = make_user("vsec", "cadre", (sample_district["codes"]["210504001001"],))
    assert runner.invoke(args=["users", "set-duty", "vsec", "village_secretary"]).exit_code == 0
    assert Collect(client, vsec).submit(visit_xml(HH7)).status_code == 201
    assert Collect(client, sample_district["cadre1"]).submit(visit_xml(HH)).status_code == 201
    run_until_idle(rt.sessions, rt.queue, rt.store)
    statements, stop = caught(rt.engine)
    try:
        response = client.get("/api/v1/coverage/duties", query_string={"month": "2026-11", "area": area or None},
                              headers=sample_district["town1"])
        assert response.status_code == 200, response.get_data(as_text=True)
    finally:
        stop()
    visits = [(s, p) for s, p in statements.items() if "FROM visits" in s]
    assert len(visits) == 2 and any("visits.visitor_duty = " in s for s, _p in visits)
    roles = next((s, p) for s, p in visits if "visits.visitor_duty = " in s)
    with rt.engine.connect() as connection:
        connection.execute(text("SET enable_seqscan = off"))
        plan = json.dumps(explain(connection, *roles))
        connection.rollback()
    assert "ix_visits_area_duty_month" in plan, plan
    touching = [(s, p) for s, p in statements.items() if any(name in s for name in BIG)]
    problems = refused(rt.engine, touching)
    assert not problems, "\n\n".join(f"{', '.join(found)}:\n{statement}" for statement, found in problems.items())
