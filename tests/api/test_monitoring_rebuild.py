"""Monitoring cases are derived: `reconcile rebuild` gives the same cases, and the decisions people made (纳入, 不纳入,
measures) are inputs kept through it, never rebuilt away.

DOMAIN.md "Precisions", line 91: a monitoring case goes 识别/纳入 → 帮扶措施 → 风险消除, each a dated decision by
someone.
"""
from sqlalchemy import delete, select

from server.db import session_scope
from support import Collect, income_xml, visit_xml
from sync.models import Household
from sync.monitoring import case_key
from sync.monitoring_models import MonitoringCase, MonitoringDecision
from sync.rebuild import rebuild

HH73, HH7 = "2105040010010073", "2105040010010007"


def cases_now(sessions):
    with session_scope(sessions) as session:
        numbers = dict(session.execute(select(Household.id, Household.number)).all())
        columns = [c.key for c in MonitoringCase.__table__.columns]
        return sorted((numbers[c.household_id], *(repr(getattr(c, name)) for name in columns))
                      for c in session.scalars(select(MonitoringCase)))


def test_a_rebuild_gives_the_same_cases_and_keeps_the_decisions(app, client, sample_district, admin, sessions,
                                                                reconcile):
    rt = app.extensions["zoufang"]
    device = Collect(client, admin)
    for xml in (visit_xml(HH73, instance_id="uuid:v1", problems="illness", end="2026-10-02T10:00:00+08:00"),
                visit_xml(HH73, instance_id="uuid:v2", help_given="job", base_version=2,
                          end="2026-12-06T10:00:00+08:00"),
                income_xml(HH7, year=2024, wage=30000, instance_id="uuid:i1", end="2026-03-02T10:00:00+08:00"),
                income_xml(HH7, year=2025, wage=2000, instance_id="uuid:i2", base_version=2,
                           end="2026-04-02T10:00:00+08:00")):
        assert device.submit(xml).status_code == 201
    reconcile()
    town1 = sample_district["town1"]
    key73, key7 = case_key(HH73, "uuid:v1"), case_key(HH7, "uuid:i2")
    assert client.post(f"/api/v1/monitoring/{key73}/decisions", headers=town1,
                       json={"kind": "include", "subtype": "脱贫不稳定户", "risks": ["illness"], "text": "因病"}
                       ).status_code == 200
    assert client.post(f"/api/v1/monitoring/{key73}/measures", headers=town1,
                       json={"text": "申请临时救助", "codes": ["aid"]}).status_code == 200
    assert client.post(f"/api/v1/monitoring/{key7}/decisions", headers=town1,
                       json={"kind": "dismiss", "text": "务工收入未计入"}).status_code == 200
    reference = cases_now(sessions)
    assert [row[0] for row in reference] == [HH7, HH73]
    assert "'dismissed'" in reference[0] and "'helped'" in reference[1]

    with session_scope(sessions) as session:
        session.execute(delete(MonitoringCase))  # whatever the derived table holds, a rebuild writes it again
    assert rebuild(rt.sessions, rt.queue, batch=10).left == 0
    assert cases_now(sessions) == reference
    with session_scope(sessions) as session:
        assert session.scalar(select(MonitoringDecision.id).order_by(MonitoringDecision.id.desc()).limit(1)) == 3
