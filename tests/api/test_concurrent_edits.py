"""One current version per chain of edits, whatever arrives at once: the database keeps it (on PostgreSQL the
requests below really run concurrently, each on a connection of its own)."""
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError

from server.db import session_scope
from support import Collect, new_instance_id, submission_xml
from sync.models import Submission

EDITS = 10


def current_versions(sessions, original) -> int:
    with session_scope(sessions) as session:
        return session.scalar(select(func.count(Submission.id)).where(
            Submission.current.is_(True),
            or_(Submission.instance_id == original, Submission.deprecated_id == original)))


def test_concurrent_different_edits_of_one_version_leave_one_current_version(app, collect, sessions):
    original = new_instance_id()
    assert collect.submit(submission_xml(instance_id=original)).status_code == 201
    start = threading.Barrier(EDITS)

    def edit(i: int):
        device = Collect(app.test_client(), collect.headers)
        xml = submission_xml(household=str(i), deprecated_id=original)
        start.wait()
        response = device.submit(xml)
        return response.status_code, response.get_data(as_text=True)

    with ThreadPoolExecutor(EDITS) as pool:
        answers = list(pool.map(edit, range(EDITS)))
    assert sorted(status for status, _body in answers) == [201] + [409] * (EDITS - 1), answers
    assert all("already been replaced" in body for status, body in answers if status == 409)
    assert current_versions(sessions, original) == 1


def test_the_same_edit_sent_twice_at_once_is_stored_once(app, collect, sessions):
    original = new_instance_id()
    assert collect.submit(submission_xml(instance_id=original)).status_code == 201
    xml = submission_xml(household="7", deprecated_id=original)
    start = threading.Barrier(2)

    def send(_i: int) -> int:
        device = Collect(app.test_client(), collect.headers)
        start.wait()
        return device.submit(xml).status_code

    with ThreadPoolExecutor(2) as pool:
        assert list(pool.map(send, range(2))) == [201, 201]
    assert current_versions(sessions, original) == 1


def test_the_database_refuses_a_second_current_version_in_a_chain(collect, sessions):
    original = new_instance_id()
    assert collect.submit(submission_xml(instance_id=original)).status_code == 201
    with pytest.raises(IntegrityError):
        with session_scope(sessions) as session:
            first = session.scalar(select(Submission).where(Submission.instance_id == original))
            session.add(Submission(form_id=first.form_id, form_version_id=first.form_version_id,
                                   instance_id=new_instance_id(), deprecated_id=original,
                                   root_instance_id=original, current=True, xml=b"<data/>",
                                   xml_sha256="0" * 64))
            session.flush()
