"""POST /submission: every decision ODK Collect and Enketo depend on, with status, headers and message."""
import io

import pytest
from sqlalchemy import func, select

from server.db import session_scope
from support import Collect, jpeg, new_instance_id, submission_xml, uploads_left
from sync.models import Job, Submission, SubmissionAttachment


def count(sessions, model, *where):
    with session_scope(sessions) as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def submission(sessions, instance_id):
    with session_scope(sessions) as session:
        row = session.scalar(select(Submission).where(Submission.instance_id == instance_id))
        row.attachments  # load before the session closes
        return row


def message(response) -> str:
    return response.get_data(as_text=True)


def test_head_submission_is_204_with_size_limit(client, admin):
    response = client.head("/submission", headers=admin)
    assert response.status_code == 204
    assert response.headers["X-OpenRosa-Accept-Content-Length"] == str(100 * 1024 * 1024)
    assert response.headers["X-OpenRosa-Version"] == "1.0"


def test_new_submission_is_201_with_openrosa_response(collect, sessions, store):
    photo = jpeg()
    instance_id = new_instance_id()
    response = collect.submit(submission_xml(instance_id=instance_id, photo_family="a.jpg"), {"a.jpg": photo})
    assert response.status_code == 201
    assert response.headers["Content-Type"] == "text/xml; charset=utf-8"
    assert response.headers["X-OpenRosa-Version"] == "1.0"
    body = message(response)
    assert body.startswith('<OpenRosaResponse xmlns="http://openrosa.org/http/response"')
    assert 'nature="submit_success"' in body
    stored = submission(sessions, instance_id)
    assert stored.xml == submission_xml(instance_id=instance_id, photo_family="a.jpg")
    [attachment] = stored.attachments
    assert attachment.filename == "a.jpg" and attachment.size == len(photo)
    assert store.read_bytes(attachment.sha256) == photo
    assert count(sessions, Job, Job.submission_id == stored.id, Job.kind == "reconcile") == 1
    assert "Set-Cookie" not in response.headers  # a device gets no browser session


def test_named_files_that_did_not_arrive_are_recorded_as_missing(collect, sessions):
    instance_id = new_instance_id()
    response = collect.submit(submission_xml(instance_id=instance_id, photo_family="a.jpg", photo_sign="b.jpg"),
                              {"a.jpg": jpeg()})
    assert response.status_code == 201
    assert "b.jpg" in message(response)
    states = {a.filename: a.state for a in submission(sessions, instance_id).attachments}
    assert states == {"a.jpg": "received", "b.jpg": "missing"}


def test_split_upload_completes_over_two_posts(collect, sessions):
    instance_id = new_instance_id()
    xml = submission_xml(instance_id=instance_id, photo_family="a.jpg", photo_sign="b.jpg")
    first = collect.submit(xml, {"a.jpg": jpeg(seed=1)}, headers={}, query="?deviceID=collect:abc")
    assert first.status_code == 201
    second = collect.submit(xml, {"b.jpg": jpeg(seed=2)})
    assert second.status_code == 201
    stored = submission(sessions, instance_id)
    assert {a.filename: a.state for a in stored.attachments} == {"a.jpg": "received", "b.jpg": "received"}
    assert stored.client_device_id == "collect:abc"
    assert count(sessions, Submission) == 1


def test_identical_resend_is_201_and_changes_nothing(collect, sessions):
    instance_id = new_instance_id()
    xml = submission_xml(instance_id=instance_id, photo_family="a.jpg")
    photo = jpeg()
    assert collect.submit(xml, {"a.jpg": photo}).status_code == 201
    again = collect.submit(xml, {"a.jpg": jpeg(seed=9)})  # a different file under a name already received
    assert again.status_code == 201
    [attachment] = submission(sessions, instance_id).attachments
    assert attachment.size == len(photo)
    assert count(sessions, Submission) == 1


def test_same_instance_id_with_different_xml_is_409(collect, sessions):
    instance_id = new_instance_id()
    assert collect.submit(submission_xml(instance_id=instance_id, household="1")).status_code == 201
    response = collect.submit(submission_xml(instance_id=instance_id, household="2"))
    assert response.status_code == 409
    assert "A submission already exists with this ID, but with different XML" in message(response)
    assert response.headers["X-OpenRosa-Version"] == "1.0"
    assert submission(sessions, instance_id).household_number == "1"


def test_files_the_xml_does_not_name_are_ignored(collect, sessions):
    instance_id = new_instance_id()
    response = collect.submit(submission_xml(instance_id=instance_id), {"stray.jpg": jpeg()})
    assert response.status_code == 201
    assert submission(sessions, instance_id).attachments == []


def test_unknown_form_is_404(collect):
    response = collect.submit(submission_xml(form_id="no_such_form"))
    assert response.status_code == 404
    assert "no_such_form" in message(response)


def test_unknown_version_is_404(collect):
    response = collect.submit(submission_xml(version="99"))
    assert response.status_code == 404
    assert "has no version '99'" in message(response)


def test_closed_form_is_409_and_closing_form_still_accepts(collect, client, admin):
    client.patch("/api/v1/forms/test_visit", json={"state": "closing"}, headers=admin)
    assert collect.submit(submission_xml()).status_code == 201
    client.patch("/api/v1/forms/test_visit", json={"state": "closed"}, headers=admin)
    response = collect.submit(submission_xml())
    assert response.status_code == 409
    assert "closed" in message(response)


def test_missing_xml_part_is_400(collect, client):
    response = client.post("/submission", data={"a.jpg": (io.BytesIO(jpeg()), "a.jpg")},
                           content_type="multipart/form-data", headers=collect.headers)
    assert response.status_code == 400
    assert "xml_submission_file" in message(response)


@pytest.mark.parametrize("body, expected", [
    (b"<data id='test_visit'><unclosed></data>", "could not be parsed"),
    (b"not xml at all", "could not be parsed"),
    (b'<!DOCTYPE d [<!ENTITY e "x">]><data id="test_visit"/>', "DOCTYPE"),
    (b'<!DOCTYPE d SYSTEM "file:///etc/passwd"><data id="test_visit" version="1"><meta><instanceID>uuid:d</instanceID>'
     b'</meta></data>', "DOCTYPE"),
    (b"<data><meta><instanceID>uuid:1</instanceID></meta></data>", "no id attribute"),
    (b'<data id="test_visit" version="1"><meta/></data>', "no meta/instanceID"),
])
def test_malformed_xml_is_400(collect, sessions, body, expected):
    response = collect.submit(body)
    assert response.status_code == 400
    assert expected in message(response)
    assert count(sessions, Submission) == 0


def test_not_multipart_is_400(client, admin):
    response = client.post("/submission", data=b"<data/>", content_type="text/xml", headers=admin)
    assert response.status_code == 400
    assert "multipart/form-data" in message(response)


def test_truncated_multipart_is_400_and_stores_nothing(client, collect, sessions, app):
    boundary = "xyz"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"xml_submission_file\"; "
            f"filename=\"submission.xml\"\r\nContent-Type: text/xml\r\n\r\n").encode() + submission_xml()[:40]
    response = client.post("/submission", data=body, headers=collect.headers,
                           content_type=f"multipart/form-data; boundary={boundary}")
    assert response.status_code == 400
    assert count(sessions, Submission) == 0
    tmp = app.extensions["zoufang"].settings.tmp_dir
    assert uploads_left(tmp) == []  # the partial upload was removed


class ExplodingStream:
    """A request body that fails the test if anybody reads it."""

    def read(self, *args):
        raise AssertionError("the body was read")

    readline = read


@pytest.mark.parametrize("settings_overrides", [{"max_submission_bytes": 1000}])
def test_oversized_submission_is_413_from_headers_alone(client, admin, settings_overrides):
    response = client.post("/submission", headers=admin, environ_overrides={
        "wsgi.input": ExplodingStream(), "CONTENT_LENGTH": "5000", "CONTENT_TYPE": "multipart/form-data; boundary=x"})
    assert response.status_code == 413
    assert "limit is 1000 bytes" in message(response)
    assert response.headers["X-OpenRosa-Accept-Content-Length"] == "1000"


@pytest.mark.parametrize("settings_overrides", [{"max_submission_bytes": 100_000}])
def test_a_chunked_upload_past_the_limit_is_413_and_stores_nothing(client, collect, sessions, app,
                                                                   settings_overrides):
    """Without a Content-Length (chunked transfer) the limit is enforced while the body streams in."""
    boundary = "xyz"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"xml_submission_file\"; "
            f"filename=\"submission.xml\"\r\n\r\n").encode() + submission_xml(photo_family="a.jpg") + (
        f"\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"a.jpg\"; filename=\"a.jpg\"\r\n"
        f"Content-Type: image/jpeg\r\n\r\n").encode() + jpeg(150_000) + f"\r\n--{boundary}--\r\n".encode()
    response = client.post("/submission", headers=collect.headers, environ_overrides={
        "wsgi.input": io.BytesIO(body), "wsgi.input_terminated": True, "CONTENT_LENGTH": "",
        "CONTENT_TYPE": f"multipart/form-data; boundary={boundary}"})
    assert response.status_code == 413
    assert "larger than 100000 bytes" in message(response)
    assert count(sessions, Submission) == 0
    assert uploads_left(app.extensions["zoufang"].settings.tmp_dir) == []


@pytest.mark.parametrize("where", ["spooling", "storing"])
def test_a_full_disk_is_507_and_records_nothing(collect, sessions, monkeypatch, where):
    import errno

    from media.store import SpooledUpload

    def full(*_args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(SpooledUpload, "_spill" if where == "spooling" else "sync", full)
    response = collect.submit(submission_xml(photo_family="a.jpg"), {"a.jpg": jpeg(100_000)})
    assert response.status_code == 507
    assert "storage is full" in message(response)
    assert response.headers["X-OpenRosa-Version"] == "1.0"
    assert count(sessions, Submission) == 0


def _sqlite_full() -> Exception:
    """The error SQLite raises when the database cannot grow: made by SQLite itself, on a database held to two
    pages."""
    import sqlite3

    connection = sqlite3.connect(":memory:")
    try:
        connection.execute("CREATE TABLE t (x)")
        connection.execute("PRAGMA max_page_count = 2")
        connection.execute("INSERT INTO t VALUES (zeroblob(100000))")
    except sqlite3.OperationalError as exc:
        assert "database or disk is full" in str(exc)
        return exc
    finally:
        connection.close()
    raise AssertionError("SQLite took 100 kB into two pages")


def _postgresql_full() -> Exception:
    from psycopg.errors import DiskFull

    return DiskFull('could not extend file "base/16384/16385": No space left on device')


@pytest.mark.parametrize("full", [_sqlite_full, _postgresql_full])
@pytest.mark.parametrize("path", ["new", "edit"])
def test_a_full_disk_during_the_database_write_is_507_and_records_nothing(collect, sessions, monkeypatch, full,
                                                                          path):
    """Every path writes on the driver's connection, whose errors arrive raw: the documented 507, and the
    transaction, an edit's retirement of its version included, is rolled back."""
    from server.db.prepared import DirectConnection

    original = new_instance_id()
    assert collect.submit(submission_xml(instance_id=original)).status_code == 201
    error = full()

    def refuse(*_args, **_kwargs):
        raise error

    monkeypatch.setattr(DirectConnection, "execute", refuse)  # the row is in; its files and jobs are not
    deprecated_id = original if path == "edit" else None
    xml = submission_xml(deprecated_id=deprecated_id, photo_family="a.jpg")
    response = collect.submit(xml, {"a.jpg": jpeg()})
    assert response.status_code == 507, response.get_data(as_text=True)
    assert "storage is full" in message(response)
    assert count(sessions, Submission) == 1 and count(sessions, SubmissionAttachment) == 0
    assert count(sessions, Job) == 1
    assert submission(sessions, original).current is True


def test_edit_replaces_current_version(collect, sessions):
    original = new_instance_id()
    photo = jpeg()
    collect.submit(submission_xml(instance_id=original, household="1", photo_family="a.jpg"), {"a.jpg": photo})
    edit = new_instance_id()
    response = collect.submit(submission_xml(instance_id=edit, household="2", photo_family="a.jpg",
                                             deprecated_id=original))
    assert response.status_code == 201
    assert submission(sessions, original).current is False
    edited = submission(sessions, edit)
    assert edited.current is True and edited.deprecated_id == original
    [attachment] = edited.attachments  # the photo was not resent: it carries over
    assert attachment.state == "received" and attachment.size == len(photo)


def test_edit_of_unknown_submission_is_404(collect):
    response = collect.submit(submission_xml(deprecated_id="uuid:never-seen"))
    assert response.status_code == 404
    assert "does not exist" in message(response)


def test_edit_of_a_replaced_version_is_409(collect):
    original = new_instance_id()
    collect.submit(submission_xml(instance_id=original))
    assert collect.submit(submission_xml(deprecated_id=original)).status_code == 201
    response = collect.submit(submission_xml(deprecated_id=original))
    assert response.status_code == 409
    assert "already been replaced" in message(response)


def test_submission_takes_the_households_area(collect, client, areas, make_household, sessions):
    make_household("2105040010010001", areas["village11"])
    instance_id = new_instance_id()
    collect.submit(submission_xml(instance_id=instance_id, household="2105040010010001"))
    assert submission(sessions, instance_id).area_id == areas["village11"]


def test_a_submission_without_a_known_household_falls_to_the_senders_only_area(
        client, areas, make_user, publish, sessions):
    publish()
    one = Collect(client, make_user("one-village", "cadre", (areas["village12"],)))
    two = Collect(client, make_user("two-villages", "cadre", (areas["village11"], areas["village12"])))
    first, second = new_instance_id(), new_instance_id()
    assert one.submit(submission_xml(instance_id=first, household="9999")).status_code == 201
    assert two.submit(submission_xml(instance_id=second)).status_code == 201
    assert submission(sessions, first).area_id == areas["village12"]
    assert submission(sessions, second).area_id is None  # two areas: nobody can tell which


def test_same_photo_in_two_submissions_is_stored_once(collect, sessions, store):
    photo = jpeg()
    for _ in range(2):
        collect.submit(submission_xml(photo_family="a.jpg"), {"a.jpg": photo})
    with session_scope(sessions) as session:
        hashes = session.scalars(select(SubmissionAttachment.sha256)).all()
    assert len(hashes) == 2 and len(set(hashes)) == 1
    assert store.exists(hashes[0])
