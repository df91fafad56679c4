"""An admin raises the visit form's version and adds a question: phones on the new version and phones not yet
updated are both accepted and folded, and the other forms go on as before (issue 13)."""
from sqlalchemy import select

from forms.instances import bundled, template
from forms.models import FormVersion
from server.db import session_scope
from support import Collect, assessment_xml, new_instance_id, raised_form, visit_xml
from sync.models import Submission

HH = "2105040010010001"


def test_a_raised_visit_form_changes_its_own_submissions_only(tmp_path, sample_district, publish, client, reconcile,
                                                             sessions):
    path = raised_form(tmp_path, "household_visit", "2099010101", "new_question")
    assert publish(content=path.read_bytes(), filename=path.name)["current_version"]["version"] == "2099010101"
    device = Collect(client, sample_district["cadre1"])
    updated, not_updated, assessment = new_instance_id(), new_instance_id(), new_instance_id()

    new_visit = visit_xml(HH, instance_id=updated, water="no", end="2026-11-20T10:00:00+08:00",
                          form=template(path))
    assert b"<new_question/>" in new_visit
    sent = [device.submit(new_visit),
            device.submit(visit_xml(HH, instance_id=not_updated, end="2026-11-10T10:00:00+08:00")),
            device.submit(assessment_xml(HH, instance_id=assessment, grade="B"))]
    assert [r.status_code for r in sent] == [201, 201, 201]
    reconcile()

    with session_scope(sessions) as session:
        versions = dict(session.execute(select(Submission.instance_id, FormVersion.version)
                                        .join(FormVersion, Submission.form_version_id == FormVersion.id)).all())
        states = set(session.scalars(select(Submission.reconcile_state)))
    assert versions == {updated: "2099010101", not_updated: bundled("household_visit").version,
                        assessment: bundled("housing_assessment").version}
    assert states == {"applied"}
    record = client.get(f"/api/v1/households/{HH}", headers=sample_district["cadre1"]).get_json()
    assert record["fields"]["water_safe"]["instance_id"] == updated
    assert record["fields"]["housing_grade"]["instance_id"] == assessment
