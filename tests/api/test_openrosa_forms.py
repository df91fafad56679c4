"""Form list, form download, manifest and media as ODK Collect and Enketo fetch them."""
import hashlib
import re

import pytest

FORMLIST_NS = "http://openrosa.org/xforms/xformsList"


def openrosa_headers_ok(response):
    assert response.headers["X-OpenRosa-Version"] == "1.0"
    assert response.headers["Content-Type"] == "text/xml; charset=utf-8"


def test_form_list_lists_published_form_with_hash_of_served_xform(client, collect):
    response = client.get("/formList", headers=collect.headers)
    assert response.status_code == 200
    openrosa_headers_ok(response)
    body = response.get_data(as_text=True)
    assert f'<xforms xmlns="{FORMLIST_NS}">' in body
    assert "<formID>test_visit</formID>" in body and "<version>1</version>" in body
    assert "<name>测试走访</name>" in body
    download_url = re.search(r"<downloadUrl>(.*?)</downloadUrl>", body).group(1)
    assert download_url == "http://localhost/forms/test_visit.xml"
    xform = client.get(download_url, headers=collect.headers)
    assert xform.status_code == 200
    openrosa_headers_ok(xform)
    assert f"<hash>md5:{hashlib.md5(xform.data).hexdigest()}</hash>" in body
    assert "<manifestUrl>" not in body  # this form has no media


def test_form_list_filters_by_form_id_and_answers_head(client, collect, publish):
    publish(form_id="other_form")
    both = client.get("/formList", headers=collect.headers).get_data(as_text=True)
    assert "other_form" in both and "test_visit" in both
    one = client.get("/formList?formID=other_form", headers=collect.headers).get_data(as_text=True)
    assert "other_form" in one and "test_visit" not in one
    head = client.head("/formList?formID=other_form", headers=collect.headers)
    assert head.status_code == 200
    assert head.headers["X-OpenRosa-Version"] == "1.0"


def test_closed_and_closing_forms_are_not_listed(client, collect, admin):
    response = client.patch("/api/v1/forms/test_visit", json={"state": "closing"}, headers=admin)
    assert response.status_code == 200 and response.get_json()["state"] == "closing"
    assert "test_visit" not in client.get("/formList", headers=admin).get_data(as_text=True)


def test_manifest_lists_media_with_md5_and_media_downloads(client, publish, admin):
    logo = b"\x89PNG\r\n\x1a\n fake but bytes are bytes"
    publish(media_image="logo.png", media={"logo.png": logo})
    body = client.get("/formList", headers=admin).get_data(as_text=True)
    manifest_url = re.search(r"<manifestUrl>(.*?)</manifestUrl>", body).group(1)
    manifest = client.get(manifest_url, headers=admin)
    assert manifest.status_code == 200
    openrosa_headers_ok(manifest)
    text = manifest.get_data(as_text=True)
    assert '<manifest xmlns="http://openrosa.org/xforms/xformsManifest">' in text
    assert "<filename>logo.png</filename>" in text
    assert f"<hash>md5:{hashlib.md5(logo).hexdigest()}</hash>" in text
    media_url = re.search(r"<downloadUrl>(.*?)</downloadUrl>", text).group(1)
    media = client.get(media_url, headers=admin)
    assert media.status_code == 200 and media.data == logo
    assert media.headers["X-OpenRosa-Version"] == "1.0"
    again = client.get(media_url, headers={**admin, "If-None-Match": media.headers["ETag"]})
    assert again.status_code == 304


def test_unknown_form_and_attachment_are_openrosa_404(client, collect):
    for url in ("/forms/nope.xml", "/forms/nope/manifest", "/forms/test_visit/attachments/nope.png"):
        response = client.get(url, headers=collect.headers)
        assert response.status_code == 404, url
        openrosa_headers_ok(response)
        assert 'nature="error"' in response.get_data(as_text=True)


def test_new_version_changes_the_listed_hash(client, collect, publish):
    first = client.get("/formList", headers=collect.headers).get_data(as_text=True)
    publish(version="2", title="测试走访 v2")
    second = client.get("/formList", headers=collect.headers).get_data(as_text=True)
    hash_of = lambda text: re.search(r"<hash>(.*?)</hash>", text).group(1)  # noqa: E731
    assert hash_of(first) != hash_of(second)
    assert "<version>2</version>" in second


@pytest.mark.parametrize("path", ["/formList", "/forms/test_visit.xml", "/submission"])
def test_missing_credentials_get_a_basic_challenge(client, collect, path):
    response = client.get(path)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith('Basic realm="Zoufang"')
    openrosa_headers_ok(response)
    assert "Authentication required" in response.get_data(as_text=True)


def test_wrong_password_is_401(client, collect):
    from support import basic
    response = client.get("/formList", headers=basic("admin", "wrong-password"))
    assert response.status_code == 401
    assert "Wrong user name or password" in response.get_data(as_text=True)


def test_unpublished_bundle_free_app_lists_nothing(client, admin):
    response = client.get("/formList", headers=admin)
    assert response.status_code == 200
    assert "<xform>" not in response.get_data(as_text=True)


def test_published_xform_is_pyxform_output(client, collect):
    xform = client.get("/forms/test_visit.xml", headers=collect.headers).get_data(as_text=True)
    assert 'id="test_visit"' in xform and 'version="1"' in xform
    assert 'type="binary"' in xform and 'type="geopoint"' in xform
    assert 'lang="Chinese (zh)"' in xform and 'lang="English (en)"' in xform


def test_xlsform_fixture_compiles_via_publish_and_lists_media_warning(publish):
    answer = publish(form_id="with_media", media_image="missing.png")
    warnings = answer["published_version"]["warnings"]
    assert any("missing.png" in w["message_en"] for w in warnings)
    assert answer["published_version"]["attachments"] == [
        {"filename": "missing.png", "dataset": None, "md5": None, "size": None, "present": False}]


def test_collects_form_list_names_the_bundled_forms_in_chinese(client, sample_district):
    """issue 17 item 5: the form list shows the Chinese title, not "入户走访 / Door-to-door visit"."""
    body = client.get("/formList", headers=sample_district["cadre1"]).get_data(as_text=True)
    names = re.findall(r"<name>(.*?)</name>", body)
    assert sorted(names) == sorted(["入户走访", "住房安全鉴定", "家庭收入调查", "监测对象识别/帮扶", "新发现户报告"])
