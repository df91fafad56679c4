"""The real server process spoken to over HTTP exactly as ODK Collect speaks to it.

Form list → form → manifest → media → HEAD /submission → split multipart upload → identical resend →
conflicting resend; authentication failures; a request over the size limit answered from its headers alone.
"""
from __future__ import annotations

import base64
import email.utils
import hashlib
import http.client
import io
import xml.etree.ElementTree as ET

import pytest
import requests
from PIL import Image

from support import jpeg, new_instance_id, submission_xml, xlsform

pytestmark = pytest.mark.e2e

XFORMS_LIST = "{http://openrosa.org/xforms/xformsList}"
MANIFEST = "{http://openrosa.org/xforms/xformsManifest}"
RESPONSE = "{http://openrosa.org/http/response}"
XML_CONTENT_TYPE = "text/xml; charset=utf-8"


class CollectClient:
    """What ODK Collect sends on every request: X-OpenRosa-Version, a Date header and Basic credentials."""

    def __init__(self, base_url: str, auth: tuple[str, str] | None):
        self.base_url = base_url
        self.http = requests.Session()
        self.http.auth = auth

    def request(self, method: str, url: str, headers: dict[str, str] | None = None, **kwargs) -> requests.Response:
        if not url.startswith("http"):
            url = self.base_url + url
        sent = {"X-OpenRosa-Version": "1.0", "Date": email.utils.formatdate(usegmt=True), **(headers or {})}
        return self.http.request(method, url, headers=sent, timeout=60, **kwargs)

    def submit(self, xml: bytes, files: dict[str, bytes] | None = None) -> requests.Response:
        parts = [("xml_submission_file", ("submission.xml", xml, "text/xml"))]
        parts += [(name, (name, body, "image/jpeg")) for name, body in (files or {}).items()]
        return self.request("POST", "/submission", files=parts)

    def close(self) -> None:
        self.http.close()


@pytest.fixture
def collect(server):
    client = CollectClient(server.base_url, server.admin)
    yield client
    client.close()


def png(seed: int = 3) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 32), (seed * 40 % 256, 120, 200)).save(out, "PNG")
    return out.getvalue()


def publish_test_form(server, logo: bytes) -> None:
    response = requests.post(
        f"{server.base_url}/api/v1/forms", auth=server.admin, timeout=60,
        files=[("xlsform", ("test_visit.xlsx", xlsform(media_image="logo.png"),
                            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")),
               ("logo.png", ("logo.png", logo, "image/png"))])
    assert response.status_code == 201, response.text
    assert response.json()["form_id"] == "test_visit"


def assert_openrosa_headers(response: requests.Response, xml: bool = True) -> None:
    raw = response.raw.headers  # the headers as sent, before requests folds repeated ones into one
    assert raw.getlist("X-OpenRosa-Version") == ["1.0"]
    dates = raw.getlist("Date")
    assert len(dates) == 1, f"expected exactly one Date header, got {dates}"
    assert email.utils.parsedate_to_datetime(dates[0]).tzinfo is not None
    if xml:
        assert raw.getlist("Content-Type") == [XML_CONTENT_TYPE]


def openrosa_message(response: requests.Response) -> tuple[str, str]:
    root = ET.fromstring(response.content)
    assert root.tag == f"{RESPONSE}OpenRosaResponse"
    message = root.find(f"{RESPONSE}message")
    return message.get("nature"), message.text or ""


def test_collect_downloads_form_and_media_then_uploads_in_two_parts(server, collect):
    logo = png()
    publish_test_form(server, logo)

    # -- form list
    form_list = collect.request("GET", "/formList")
    assert form_list.status_code == 200, form_list.text
    assert_openrosa_headers(form_list)
    [xform] = ET.fromstring(form_list.content).findall(f"{XFORMS_LIST}xform")
    assert xform.findtext(f"{XFORMS_LIST}formID") == "test_visit"
    assert xform.findtext(f"{XFORMS_LIST}version") == "1"
    listed_hash = xform.findtext(f"{XFORMS_LIST}hash")
    download_url = xform.findtext(f"{XFORMS_LIST}downloadUrl")
    manifest_url = xform.findtext(f"{XFORMS_LIST}manifestUrl")
    assert listed_hash.startswith("md5:")
    assert download_url == f"{server.base_url}/forms/test_visit.xml"
    assert manifest_url == f"{server.base_url}/forms/test_visit/manifest"

    # -- the form: its md5 is the listed hash
    form = collect.request("GET", download_url)
    assert form.status_code == 200
    assert_openrosa_headers(form)
    assert f"md5:{hashlib.md5(form.content).hexdigest()}" == listed_hash
    assert b'id="test_visit"' in form.content

    # -- the manifest and every media file: md5 equals the manifest hash
    manifest = collect.request("GET", manifest_url)
    assert manifest.status_code == 200
    assert_openrosa_headers(manifest)
    media_files = ET.fromstring(manifest.content).findall(f"{MANIFEST}mediaFile")
    assert [m.findtext(f"{MANIFEST}filename") for m in media_files] == ["logo.png"]
    for media_file in media_files:
        media = collect.request("GET", media_file.findtext(f"{MANIFEST}downloadUrl"))
        assert media.status_code == 200
        assert_openrosa_headers(media, xml=False)
        assert f"md5:{hashlib.md5(media.content).hexdigest()}" == media_file.findtext(f"{MANIFEST}hash")
        assert media.content == logo

    # -- HEAD /submission: the size limit and the auth check before uploading
    probe = collect.request("HEAD", "/submission")
    assert probe.status_code == 204
    assert_openrosa_headers(probe, xml=False)
    assert probe.headers["X-OpenRosa-Accept-Content-Length"] == str(100 * 1024 * 1024)

    # -- first POST: the XML names two photos, only a.jpg comes along
    instance_id = new_instance_id()
    xml = submission_xml(instance_id=instance_id, household="2105040010010001", photo_family="a.jpg",
                         photo_sign="b.jpg")
    photo_a, photo_b = jpeg(seed=1), jpeg(seed=2)
    assert len(photo_a) > 150_000
    first = collect.submit(xml, {"a.jpg": photo_a})
    assert first.status_code == 201, first.text
    assert_openrosa_headers(first)
    nature, text = openrosa_message(first)
    assert nature == "submit_success"
    assert "b.jpg" in text and "1 file(s) still expected" in text

    # -- second POST: identical XML with the other photo (Collect's split upload)
    second = collect.submit(xml, {"b.jpg": photo_b})
    assert second.status_code == 201, second.text
    assert_openrosa_headers(second)
    assert openrosa_message(second) == ("submit_success", "提交成功。 / Submission received.")

    # -- both files arrived intact, as the admin API shows
    api = requests.get(f"{server.base_url}/api/v1/submissions/test_visit/{instance_id}", auth=server.admin,
                       timeout=30)
    assert api.status_code == 200, api.text
    stored = api.json()
    assert stored["instance_id"] == instance_id and stored["household_number"] == "2105040010010001"
    assert {a["filename"]: (a["state"], a["size"]) for a in stored["attachments"]} == {
        "a.jpg": ("received", len(photo_a)), "b.jpg": ("received", len(photo_b))}
    for name, content in (("a.jpg", photo_a), ("b.jpg", photo_b)):
        got = requests.get(f"{server.base_url}/api/v1/submissions/test_visit/{instance_id}/attachments/{name}",
                           auth=server.admin, timeout=30)
        assert got.status_code == 200
        assert got.content == content
    raw_xml = requests.get(f"{server.base_url}/api/v1/submissions/test_visit/{instance_id}/xml",
                           auth=server.admin, timeout=30)
    assert raw_xml.content == xml  # kept byte-exact

    # -- an identical resend (Collect retrying after a lost answer) is a success and changes nothing
    again = collect.submit(xml, {"a.jpg": photo_a, "b.jpg": photo_b})
    assert again.status_code == 201, again.text
    assert_openrosa_headers(again)
    listed = requests.get(f"{server.base_url}/api/v1/submissions", params={"form_id": "test_visit"},
                          auth=server.admin, timeout=30)
    assert [s["instance_id"] for s in listed.json()] == [instance_id]

    # -- the same instanceID with different XML is a conflict the person is told about
    conflict = collect.submit(submission_xml(instance_id=instance_id, household="2105040010010002",
                                             photo_family="a.jpg", photo_sign="b.jpg"))
    assert conflict.status_code == 409
    assert_openrosa_headers(conflict)
    nature, text = openrosa_message(conflict)
    assert nature == "error"
    assert "A submission already exists with this ID, but with different XML." in text
    after = requests.get(f"{server.base_url}/api/v1/submissions/test_visit/{instance_id}", auth=server.admin,
                         timeout=30)
    assert after.json()["household_number"] == "2105040010010001"
    assert len(requests.get(f"{server.base_url}/api/v1/submissions", auth=server.admin, timeout=30).json()) == 1


def test_wrong_or_missing_credentials_are_401_with_a_basic_challenge(server):
    wrong = CollectClient(server.base_url, (server.admin[0], "not-the-password"))
    anonymous = CollectClient(server.base_url, None)
    right = CollectClient(server.base_url, server.admin)
    try:
        for client in (wrong, anonymous):
            for method, path in (("GET", "/formList"), ("HEAD", "/submission")):
                response = client.request(method, path)
                assert response.status_code == 401, (method, path)
                assert response.headers["WWW-Authenticate"].startswith('Basic realm="Zoufang"')
                assert_openrosa_headers(response)
        # a POST with a body and bad credentials: refused before the body is used, nothing stored
        refused = wrong.submit(submission_xml(photo_family="a.jpg"), {"a.jpg": jpeg(20_000)})
        assert refused.status_code == 401
        assert refused.headers["WWW-Authenticate"].startswith('Basic realm="Zoufang"')
        nature, text = openrosa_message(refused)
        assert nature == "error" and "Wrong user name or password" in text
        # the server goes on answering, and the right password works
        assert right.request("HEAD", "/submission").status_code == 204
        assert requests.get(f"{server.base_url}/api/v1/submissions", auth=server.admin, timeout=30).json() == []
    finally:
        for client in (wrong, anonymous, right):
            client.close()


def test_submission_over_the_limit_is_413_from_the_headers_alone(start_server):
    limit = 200_000
    server = start_server(ZOUFANG_MAX_SUBMISSION_BYTES=str(limit))
    publish_test_form(server, png())
    collect = CollectClient(server.base_url, server.admin)
    try:
        probe = collect.request("HEAD", "/submission")
        assert probe.status_code == 204
        assert probe.headers["X-OpenRosa-Accept-Content-Length"] == str(limit)

        # Announce a 5 MB body, send only the headers, then wait: the answer must come without the body.
        token = base64.b64encode(f"{server.admin[0]}:{server.admin[1]}".encode()).decode()
        connection = http.client.HTTPConnection(server.host, server.port, timeout=15)
        try:
            connection.putrequest("POST", "/submission")
            for name, value in (("Content-Type", "multipart/form-data; boundary=zoufang-e2e"),
                                ("Content-Length", str(5_000_000)),
                                ("Authorization", f"Basic {token}"),
                                ("X-OpenRosa-Version", "1.0"),
                                ("Date", email.utils.formatdate(usegmt=True))):
                connection.putheader(name, value)
            connection.endheaders()  # no body follows
            answer = connection.getresponse()  # a timeout here means the server waited for the body
            body = answer.read()
            assert answer.status == 413
            assert answer.getheader("X-OpenRosa-Version") == "1.0"
            assert answer.getheader("X-OpenRosa-Accept-Content-Length") == str(limit)
            assert answer.getheader("Content-Type") == XML_CONTENT_TYPE
            assert len(answer.msg.get_all("Date")) == 1
            root = ET.fromstring(body)
            assert root.tag == f"{RESPONSE}OpenRosaResponse"
            assert f"the limit is {limit} bytes" in root.findtext(f"{RESPONSE}message")
            # the unread body is never taken for a next request: gunicorn discards at most 64 KiB of it within
            # 5 s, then closes the connection (here no body comes at all)
            connection.sock.settimeout(15)
            assert connection.sock.recv(1) == b""
        finally:
            connection.close()

        # a submission under the limit still goes through on the same server
        instance_id = new_instance_id()
        small = collect.submit(submission_xml(instance_id=instance_id, photo_family="a.jpg"),
                               {"a.jpg": jpeg(50_000)})
        assert small.status_code == 201, small.text
        listed = requests.get(f"{server.base_url}/api/v1/submissions", auth=server.admin, timeout=30).json()
        assert [s["instance_id"] for s in listed] == [instance_id]
    finally:
        collect.close()


def test_a_chunked_upload_without_content_length_is_taken_whole(server, collect):
    """Some HTTP stacks stream a body in chunks without announcing its length: the parser reads it as it comes."""
    publish_test_form(server, png())
    instance_id = new_instance_id()
    xml = submission_xml(instance_id=instance_id, photo_family="a.jpg")
    photo = jpeg(300_000)
    boundary = "zoufang-chunked-e2e"
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="xml_submission_file"; '
            f'filename="submission.xml"\r\nContent-Type: text/xml\r\n\r\n').encode() + xml + (
        f'\r\n--{boundary}\r\nContent-Disposition: form-data; name="a.jpg"; filename="a.jpg"\r\n'
        f"Content-Type: image/jpeg\r\n\r\n").encode() + photo + f"\r\n--{boundary}--\r\n".encode()

    def chunks(size=7_919):  # odd-sized pieces, so that boundaries fall across them
        for start in range(0, len(body), size):
            yield body[start:start + size]

    response = collect.request("POST", "/submission", data=chunks(),
                               headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert response.request.headers.get("Transfer-Encoding") == "chunked"
    assert response.status_code == 201, response.text
    got = requests.get(f"{server.base_url}/api/v1/submissions/test_visit/{instance_id}/attachments/a.jpg",
                       auth=server.admin, timeout=30)
    assert got.content == photo


def _downloads(server, collect) -> dict[str, requests.Response]:
    """Every GET/HEAD Collect makes before submitting, by name."""
    publish_test_form(server, png())
    form_list = collect.request("GET", "/formList")
    xform = ET.fromstring(form_list.content).find(f"{XFORMS_LIST}xform")
    manifest = collect.request("GET", xform.findtext(f"{XFORMS_LIST}manifestUrl"))
    media_url = ET.fromstring(manifest.content).find(f"{MANIFEST}mediaFile").findtext(f"{MANIFEST}downloadUrl")
    return {
        "formList": form_list,
        "form": collect.request("GET", xform.findtext(f"{XFORMS_LIST}downloadUrl")),
        "manifest": manifest,
        "media": collect.request("GET", media_url),
        "HEAD /submission": collect.request("HEAD", "/submission"),
        "POST /submission": collect.submit(submission_xml()),
        "POST /submission (error)": collect.submit(b"not xml"),
    }


def test_form_list_manifest_and_submission_answers_carry_exactly_one_date_header(server, collect):
    answers = _downloads(server, collect)
    for name in ("formList", "manifest", "HEAD /submission", "POST /submission", "POST /submission (error)"):
        assert len(answers[name].raw.headers.getlist("Date")) == 1, name


def test_form_and_media_downloads_carry_exactly_one_date_header(server, collect):
    answers = _downloads(server, collect)
    for name in ("form", "media"):
        assert answers[name].status_code == 200, name
    for name in ("form", "media"):
        dates = answers[name].raw.headers.getlist("Date")
        assert len(dates) == 1, f"{name}: {dates}"
