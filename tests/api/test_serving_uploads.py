"""Uploads are served as what the server found them to be, never as what the sender said: an HTML page named
f.jpg and sent as text/html, or an SVG, is a sandboxed download; every answer says nosniff; pages carry a CSP."""
import io
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from server.db import session_scope
from support import Collect, login, make_jpeg, make_png, visit_xml
from sync.models import SubmissionAttachment

HH = "2105040010010001"
HTML = b"<html><body><script>fetch('/api/v1/users', {method: 'POST'})</script></body></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script></svg>'


@pytest.fixture
def device(client, sample_district):
    return Collect(client, sample_district["cadre1"])


def submit_as(device, instance: str, filename: str, content: bytes, content_type: str):
    """Collect.submit, but with the part's content type chosen by the sender."""
    data = {"xml_submission_file": (io.BytesIO(visit_xml(HH, instance_id=instance, photo=filename)),
                                    "submission.xml", "text/xml"),
            filename: (io.BytesIO(content), filename, content_type)}
    response = device.client.post("/submission", data=data, content_type="multipart/form-data",
                                   headers={"X-OpenRosa-Version": "1.0", **device.headers})
    assert response.status_code == 201, response.get_data(as_text=True)


def fetch(client, url, headers):
    with client.get(url, headers=headers) as response:
        response.body = response.get_data()
    return response


def assert_download(response, filename):
    assert response.status_code == 200
    assert response.mimetype == "application/octet-stream"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert filename in response.headers["Content-Disposition"]
    assert_sandboxed(response)


def assert_sandboxed(response):
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    policy = response.headers["Content-Security-Policy"]
    assert "sandbox" in policy and "default-src 'none'" in policy


@pytest.mark.parametrize("filename, content, declared", [
    ("f.jpg", HTML, "text/html"),
    ("f.svg", SVG, "image/svg+xml"),
    ("g.jpg", HTML, "image/jpeg"),
])
def test_an_upload_that_is_not_an_image_is_only_ever_a_sandboxed_download(
        device, client, sample_district, work, filename, content, declared):
    submit_as(device, "uuid:hostile", filename, content, declared)
    url = f"/api/v1/submissions/household_visit/uuid:hostile/attachments/{filename}"
    headers = sample_district["town1"]
    assert_download(fetch(client, url, headers), filename)   # before the worker has looked at it
    work()
    after = fetch(client, url, headers)
    assert_download(after, filename)
    assert after.body == content
    info = client.get("/api/v1/submissions/household_visit/uuid:hostile", headers=headers).get_json()
    assert info["attachments"][0]["image_check"] == "not_an_image"


def test_a_photo_is_a_download_until_checked_then_shown_as_the_image_it_is(device, client, sample_district, work):
    submit_as(device, "uuid:photo", "family.jpg", make_jpeg((600, 400)), "text/html")
    url = "/api/v1/submissions/household_visit/uuid:photo/attachments/family.jpg"
    headers = sample_district["town1"]
    unchecked = fetch(client, url, headers)
    assert_download(unchecked, "family.jpg")
    # the browser must ask again rather than keep the download for a year: the check may make it an image
    assert "immutable" not in unchecked.headers["Cache-Control"] and "no-cache" in unchecked.headers["Cache-Control"]
    work()
    shown = fetch(client, url, {**headers, "If-None-Match": unchecked.headers["ETag"]})
    assert shown.status_code == 200, "the download's tag must not match the image it became"
    assert shown.mimetype == "image/jpeg" and shown.headers["Content-Disposition"].startswith("inline;")
    assert "immutable" in shown.headers["Cache-Control"]
    assert_sandboxed(shown)
    thumb = fetch(client, url + "/thumb", headers)
    assert thumb.mimetype == "image/jpeg" and thumb.headers["Content-Disposition"].startswith("inline;")
    assert_sandboxed(thumb)
    assert_sandboxed(fetch(client, url, {**headers, "If-None-Match": shown.headers["ETag"]}))  # 304 too


def test_a_png_sent_as_jpeg_is_served_as_png(device, client, sample_district, work):
    submit_as(device, "uuid:png", "family.jpg", make_png(), "image/jpeg")
    work()
    shown = fetch(client, "/api/v1/submissions/household_visit/uuid:png/attachments/family.jpg",
                  sample_district["town1"])
    assert shown.mimetype == "image/png"


def test_every_answer_says_nosniff_and_pages_carry_a_policy(client, sample_district, collect):
    login(client, "town1")
    answers = {
        "page": client.get("/households/"),
        "login page": client.get("/login"),
        "error page": client.get("/households/nope"),
        "api": client.get("/api/v1/households", headers=sample_district["town1"]),
        "api error": client.get("/api/v1/households/nope", headers=sample_district["town1"]),
        "openrosa": client.get("/formList", headers=sample_district["town1"]),
        "openrosa error": client.post("/submission", data=b"x", content_type="text/plain",
                                      headers=sample_district["town1"]),
        "static": client.get("/static/app.css"),
        "redirect": client.get("/review/", headers={"Cookie": ""}),
    }
    for name, response in answers.items():
        assert response.headers.get("X-Content-Type-Options") == "nosniff", name
        assert "Content-Security-Policy" in response.headers, name
        response.close()
    for name in ("page", "login page", "error page"):
        policy = answers[name].headers["Content-Security-Policy"]
        assert answers[name].mimetype == "text/html"
        for directive in ("default-src 'self'", "object-src 'none'", "frame-ancestors 'none'",
                          "img-src 'self' data:"):
            assert directive in policy, (name, directive)
        assert "unsafe-inline" not in policy


def test_the_page_policy_names_the_tile_server(app, client, sample_district):
    app.config["ZOUFANG_TILE_URL"] = "https://{s}.tile.example.org/{z}/{x}/{y}.png"
    login(client, "town1")
    policy = client.get("/map/").headers["Content-Security-Policy"]
    assert "img-src 'self' data: https://*.tile.example.org;" in policy


def test_templates_have_no_inline_script_or_style():
    """The page policy refuses them; a template that used one would break in the browser, not here."""
    templates = Path(__file__).resolve().parents[2] / "server" / "templates"
    for path in templates.rglob("*.html"):
        html = path.read_text(encoding="utf-8")
        scripts = re.findall(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", html)
        assert not scripts, (path.name, scripts)
        assert not re.search(r"\sstyle=|\son[a-z]+=|javascript:", html), path.name


def test_a_check_recorded_with_a_server_path_is_shown_without_it(device, client, sample_district, work, sessions):
    submit_as(device, "uuid:old", "f.jpg", HTML, "image/jpeg")
    work()
    with session_scope(sessions) as session:
        attachment = session.scalar(select(SubmissionAttachment))
        attachment.image_info = {**attachment.image_info, "detail": "UnidentifiedImageError: cannot identify image "
                                 "file <_io.BufferedReader name='/srv/zoufang/media/ab/cd/abcd'>"}
    info = client.get("/api/v1/submissions/household_visit/uuid:old", headers=sample_district["town1"]).get_json()
    detail = info["attachments"][0]["image_info"]["detail"]
    assert "/srv/zoufang" not in detail and "cannot identify image file the file" in detail
