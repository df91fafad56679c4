"""The submission's XML part is capped (ZOUFANG_MAX_XML_BYTES), also in a body without a Content-Length, and its
markup bounded: parsed XML takes several times its size in memory, and a 73 MB part took a gigabyte."""
import io

import pytest
from sqlalchemy import func, select

from server.config import load_settings
from server.db import session_scope
from support import jpeg, submission_xml, uploads_left
from sync.instance import MAX_MARKUP
from sync.models import Submission

CAP = 50_000


def padded(size: int) -> bytes:
    """A valid submission of about `size` bytes (a long text answer)."""
    xml = submission_xml()
    return xml.replace(b"</data>", b"<remarks>" + b"x" * (size - len(xml) - 20) + b"</remarks></data>")


def submissions(sessions) -> int:
    with session_scope(sessions) as session:
        return session.scalar(select(func.count()).select_from(Submission))


@pytest.mark.parametrize("settings_overrides", [{"max_xml_bytes": CAP}])
def test_an_xml_part_past_the_cap_is_413_in_both_languages(collect, sessions, app, settings_overrides):
    response = collect.submit(padded(CAP + 1000), {"a.jpg": jpeg(300_000)})
    assert response.status_code == 413
    text = response.get_data(as_text=True)
    assert "<OpenRosaResponse" in text and f"{CAP}" in text
    assert "XML 超过" in text and "larger than the limit" in text
    assert submissions(sessions) == 0
    assert uploads_left(app.extensions["zoufang"].store.tmp_dir) == []


@pytest.mark.parametrize("settings_overrides", [{"max_xml_bytes": CAP}])
def test_the_cap_holds_without_a_content_length(client, collect, sessions, settings_overrides):
    boundary = "xyz"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"xml_submission_file\"; "
            f"filename=\"submission.xml\"\r\nContent-Type: text/xml\r\n\r\n").encode() + padded(CAP * 3)
    body += f"\r\n--{boundary}--\r\n".encode()
    response = client.post("/submission", headers=collect.headers, environ_overrides={
        "wsgi.input": io.BytesIO(body), "CONTENT_TYPE": f"multipart/form-data; boundary={boundary}",
        "wsgi.input_terminated": True})
    assert response.status_code == 413 and "larger than the limit" in response.get_data(as_text=True)
    assert submissions(sessions) == 0


@pytest.mark.parametrize("settings_overrides", [{"max_xml_bytes": CAP}])
def test_an_xml_part_at_the_cap_is_accepted(collect, sessions, settings_overrides):
    assert collect.submit(padded(CAP)).status_code == 201
    assert submissions(sessions) == 1


def test_an_xml_with_too_much_markup_is_413(collect, sessions):
    xml = submission_xml().replace(b"</data>", b"<a/>" * (MAX_MARKUP + 1) + b"</data>")
    response = collect.submit(xml)
    assert response.status_code == 413 and "too many elements" in response.get_data(as_text=True)
    assert submissions(sessions) == 0


def test_the_cap_is_ten_megabytes_unless_set(tmp_path):
    assert load_settings(env={}, data_dir=tmp_path, secret_key="k").max_xml_bytes == 10 * 1024 * 1024
    assert load_settings(env={"ZOUFANG_MAX_XML_BYTES": "123"}, data_dir=tmp_path, secret_key="k").max_xml_bytes == 123
