"""The renovation ledger is derived: `reconcile rebuild` gives the same rows (with the stages visits saw and the
sources of each stage's date), and the entries people made (payments, stages seen, mode) are inputs kept through it,
never rebuilt away.

DOMAIN.md "Precisions", line 87: renovation ends when the family has moved in and the old house is dealt with;
subsidies go to the 一卡通 account.
"""
from sqlalchemy import delete, select

from server.db import session_scope
from support import Collect, assessment_xml, income_xml, visit_xml
from sync.models import Household
from sync.rebuild import rebuild
from sync.renovation_models import Renovation, RenovationEntry

HH13, HH7 = "2105040010010013", "2105040010010007"


def ledger_now(sessions):
    with session_scope(sessions) as session:
        numbers = dict(session.execute(select(Household.id, Household.number)).all())
        columns = [c.key for c in Renovation.__table__.columns]
        return sorted((numbers[r.household_id], *(repr(getattr(r, c)) for c in columns))
                      for r in session.scalars(select(Renovation)))


def test_a_rebuild_gives_the_same_ledger_and_keeps_the_entries(app, client, sample_district, admin, sessions,
                                                                reconcile, make_user):
    rt = app.extensions["zoufang"]
    device = Collect(client, admin)
    for xml in (assessment_xml(HH13, instance_id="uuid:a1", grade="D", mode="ex_situ", end="2026-03-02T10:00:00+08:00"),
                assessment_xml(HH13, instance_id="uuid:a2", grade="D", renovation_state="moved_in", mode="ex_situ",
                               base_version=2, end="2026-07-02T10:00:00+08:00"),
                assessment_xml(HH7, instance_id="uuid:b1", grade="C", renovation_state="building", mode="repair"),
                income_xml(HH7, instance_id="uuid:i1", dibao=600),
                # a visit that saw the repaired house lived in: on the same site, the end (DOMAIN.md line 87)
                visit_xml(HH7, instance_id="uuid:v1", end="2026-11-25T10:00:00+08:00", grade="C", house_safe="no",
                          problems="housing", help_given="housing", base_version=3,
                          answers={"two_assurances/renovated": "no", "two_assurances/renovation_stage": "moved_in"})):
        assert device.submit(xml).status_code == 201
    reconcile()
    town1 = sample_district["town1"]
    finance = make_user("finance1", "finance", (sample_district["codes"]["210504001"],))
    for body, by in (({"kind": "payment", "amount": 45000, "on": "2026-07-20"}, finance),
                     ({"kind": "stage", "stage": "old_dealt", "on": "2026-08-01"}, town1),
                     ({"kind": "floor_area", "m2": 75}, town1)):
        assert client.post(f"/api/v1/renovation/{HH13}/entries", json=body, headers=by).status_code == 200
    assert client.post(f"/api/v1/renovation/{HH7}/entries", json={"kind": "mode", "mode": "rebuild"},
                       headers=town1).status_code == 200
    reference = ledger_now(sessions)
    assert [row[0] for row in reference] == [HH7, HH13]
    assert "'old_dealt'" in reference[1] and "45000.0" in reference[1]
    assert "'old_dealt'" in reference[0] and "'household_visit', 'instance_id': 'uuid:v1'" in " ".join(reference[0])

    with session_scope(sessions) as session:
        session.execute(delete(Renovation))  # whatever the derived table holds, a rebuild writes it again
    assert rebuild(rt.sessions, rt.queue, batch=10).left == 0
    assert ledger_now(sessions) == reference
    with session_scope(sessions) as session:
        assert session.scalar(select(RenovationEntry.id).order_by(RenovationEntry.id.desc()).limit(1)) == 4
