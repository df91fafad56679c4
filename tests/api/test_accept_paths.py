"""One accept path for new submissions, continuations and edits: the cases where they meet, and the jobs each
queues (an image check per photo that arrived, one reconcile per submission while one is waiting)."""
from sqlalchemy import select

from server.db import session_scope
from support import jpeg, new_instance_id, submission_xml
from sync.models import Job, Submission, SubmissionAttachment


def jobs(sessions, instance_id) -> list[tuple[str, str | None]]:
    """(kind, file name) of the jobs queued for a submission, sorted."""
    with session_scope(sessions) as session:
        rows = session.execute(select(Job.kind, Job.payload).join(Submission, Submission.id == Job.submission_id)
                               .where(Submission.instance_id == instance_id)).all()
        return sorted((kind, payload.get("filename")) for kind, payload in rows)


def files(sessions, instance_id) -> dict[str, str | None]:
    """File name → sha256 (None while expected) of a submission's attachments."""
    with session_scope(sessions) as session:
        rows = session.execute(select(SubmissionAttachment.filename, SubmissionAttachment.sha256)
                               .join(Submission).where(Submission.instance_id == instance_id)).all()
        return dict(rows)


def stored(sessions, instance_id) -> Submission:
    with session_scope(sessions) as session:
        return session.scalar(select(Submission).where(Submission.instance_id == instance_id))


def finish_jobs(sessions) -> None:
    """As if the worker had done every queued job."""
    with session_scope(sessions) as session:
        for job in session.scalars(select(Job)):
            session.delete(job)


def test_a_new_submission_queues_one_image_check_per_photo_and_one_reconcile(collect, sessions):
    instance_id = new_instance_id()
    xml = submission_xml(instance_id=instance_id, photo_family="a.jpg", photo_sign="b.jpg")
    assert collect.submit(xml, {"a.jpg": jpeg(seed=1), "b.jpg": jpeg(seed=2)}).status_code == 201
    assert jobs(sessions, instance_id) == [("image", "a.jpg"), ("image", "b.jpg"), ("reconcile", None)]


def test_a_continuation_queues_its_photo_and_no_second_reconcile_while_one_waits(collect, sessions):
    instance_id = new_instance_id()
    xml = submission_xml(instance_id=instance_id, photo_family="a.jpg", photo_sign="b.jpg")
    assert collect.submit(xml, {"a.jpg": jpeg(seed=1)}).status_code == 201
    assert collect.submit(xml, {"b.jpg": jpeg(seed=2)}).status_code == 201
    assert jobs(sessions, instance_id) == [("image", "a.jpg"), ("image", "b.jpg"), ("reconcile", None)]


def test_a_continuation_after_the_reconcile_ran_queues_one_again(collect, sessions):
    instance_id = new_instance_id()
    xml = submission_xml(instance_id=instance_id, photo_family="a.jpg", photo_sign="b.jpg")
    assert collect.submit(xml, {"a.jpg": jpeg(seed=1)}).status_code == 201
    finish_jobs(sessions)
    assert collect.submit(xml, {"b.jpg": jpeg(seed=2)}).status_code == 201
    assert jobs(sessions, instance_id) == [("image", "b.jpg"), ("reconcile", None)]


def test_a_duplicate_queues_nothing_and_changes_nothing(collect, sessions):
    instance_id = new_instance_id()
    xml = submission_xml(instance_id=instance_id, photo_family="a.jpg")
    assert collect.submit(xml, {"a.jpg": jpeg(seed=1)}).status_code == 201
    before = files(sessions, instance_id)
    finish_jobs(sessions)
    again = collect.submit(xml, {"a.jpg": jpeg(seed=1)})
    assert again.status_code == 201 and "Submission received." in again.get_data(as_text=True)
    assert jobs(sessions, instance_id) == []
    assert files(sessions, instance_id) == before


def test_a_continuation_then_an_edit_keeps_the_files_and_checks_only_the_new_photo(collect, sessions):
    original = new_instance_id()
    xml = submission_xml(instance_id=original, household="1", photo_family="a.jpg", photo_sign="b.jpg")
    assert collect.submit(xml, {"a.jpg": jpeg(seed=1)}).status_code == 201
    assert collect.submit(xml, {"b.jpg": jpeg(seed=2)}).status_code == 201
    with session_scope(sessions) as session:  # as the worker leaves a checked photo
        for attachment in session.scalars(select(SubmissionAttachment)):
            attachment.image_check = "ok"
    finish_jobs(sessions)
    edit = new_instance_id()
    response = collect.submit(submission_xml(instance_id=edit, household="2", photo_family="a.jpg",
                                             photo_sign="c.jpg", deprecated_id=original), {"c.jpg": jpeg(seed=3)})
    assert response.status_code == 201
    kept, new = files(sessions, original), files(sessions, edit)
    assert new["a.jpg"] == kept["a.jpg"] and new["c.jpg"] not in kept.values()
    with session_scope(sessions) as session:
        checks = dict(session.execute(select(SubmissionAttachment.filename, SubmissionAttachment.image_check)
                                      .join(Submission).where(Submission.instance_id == edit)).all())
    assert checks == {"a.jpg": "ok", "c.jpg": None}
    assert jobs(sessions, edit) == [("image", "c.jpg"), ("reconcile", None)]
    assert jobs(sessions, original) == []
    assert stored(sessions, original).current is False and stored(sessions, edit).current is True


def test_an_edit_that_names_a_photo_not_sent_before_or_now_expects_it_then_takes_it(collect, sessions):
    original = new_instance_id()
    assert collect.submit(submission_xml(instance_id=original, photo_family="a.jpg"),
                          {"a.jpg": jpeg(seed=1)}).status_code == 201
    edit = new_instance_id()
    xml = submission_xml(instance_id=edit, photo_family="a.jpg", photo_sign="b.jpg", deprecated_id=original)
    first = collect.submit(xml)
    assert first.status_code == 201 and "b.jpg" in first.get_data(as_text=True)
    assert files(sessions, edit)["b.jpg"] is None
    assert collect.submit(xml, {"b.jpg": jpeg(seed=2)}).status_code == 201  # the edit's own continuation
    assert files(sessions, edit)["b.jpg"] is not None
    assert jobs(sessions, edit) == [("image", "b.jpg"), ("reconcile", None)]


def test_an_edit_of_an_edit_stays_in_the_chain_and_the_replaced_versions_are_outdated(collect, sessions):
    original, first, second = new_instance_id(), new_instance_id(), new_instance_id()
    assert collect.submit(submission_xml(instance_id=original, household="1")).status_code == 201
    assert collect.submit(submission_xml(instance_id=first, household="2", deprecated_id=original)).status_code == 201
    assert collect.submit(submission_xml(instance_id=second, household="3", deprecated_id=first)).status_code == 201
    assert [stored(sessions, i).current for i in (original, first, second)] == [False, False, True]
    assert stored(sessions, second).root_instance_id == original
    for replaced in (original, first):
        late = collect.submit(submission_xml(household="4", deprecated_id=replaced))
        assert late.status_code == 409 and "already been replaced" in late.get_data(as_text=True)
    assert jobs(sessions, second) == [("reconcile", None)]


def test_a_resent_edit_is_its_own_continuation_and_queues_nothing_more(collect, sessions):
    original, edit = new_instance_id(), new_instance_id()
    assert collect.submit(submission_xml(instance_id=original)).status_code == 201
    xml = submission_xml(instance_id=edit, household="5", deprecated_id=original)
    assert collect.submit(xml).status_code == 201
    assert collect.submit(xml).status_code == 201
    assert [stored(sessions, i).current for i in (original, edit)] == [False, True]
    assert jobs(sessions, edit) == [("reconcile", None)]
