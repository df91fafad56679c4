"""Publishing XLSForms through the admin API: immutable versions and errors located by sheet and row."""
import hashlib
import io

from support import broken_xlsform, xlsform


def test_publish_returns_the_version(publish):
    answer = publish(version="2026112501")
    assert answer["form_id"] == "test_visit" and answer["state"] == "open"
    assert answer["current_version"]["version"] == "2026112501"
    assert answer["current_version"]["hash"].startswith("md5:")


def test_same_version_twice_is_refused_with_a_clear_message(publish):
    publish(version="7")
    answer = publish(version="7", expect=409)
    assert answer["code"] == "form.version_exists"
    assert "Version '7' of form 'test_visit' is already published" in answer["message_en"]
    assert "已经发布过" in answer["message_zh"]


def test_pyxform_errors_come_back_with_sheet_and_row_in_both_languages(publish):
    answer = publish(content=broken_xlsform(), expect=400)
    assert answer["code"] == "form.invalid"
    [error] = answer["details"]["errors"]
    assert error["sheet"] == "survey" and error["row"] == 3
    assert "nowhere" in error["message_en"]
    assert error["message_zh"].startswith("survey 表第 3 行：") and "nowhere" in error["message_zh"]


def test_an_xlsform_without_version_is_refused(publish):
    answer = publish(version="", expect=400)
    assert answer["code"] == "form.version_missing"


def test_a_file_that_is_not_a_spreadsheet_is_refused(publish):
    answer = publish(content=b"this is not excel", expect=400)
    assert answer["code"] == "form.invalid"
    assert answer["details"]["errors"][0]["message_en"]


def test_wrong_file_type_is_refused(publish):
    answer = publish(content=xlsform(), filename="form.pdf", expect=400)
    assert "xlsx" in answer["details"]["errors"][0]["message_en"]


def test_only_admins_publish(client, make_user, areas):
    headers = make_user("sup", "supervisor", (areas["county"],))
    response = client.post("/api/v1/forms", data={"xlsform": (io.BytesIO(xlsform()), "f.xlsx")},
                           headers=headers, content_type="multipart/form-data")
    assert response.status_code == 403
    assert response.get_json()["code"] == "auth.forbidden"


def test_missing_file_part_is_400(client, admin):
    response = client.post("/api/v1/forms", data={}, headers=admin, content_type="multipart/form-data")
    assert response.status_code == 400
    assert response.get_json()["code"] == "form.file_missing"


def test_media_are_stored_with_md5(publish):
    answer = publish(media_image="logo.png", media={"logo.png": b"logo-bytes"})
    [attachment] = answer["current_version"]["attachments"]
    assert attachment == {"filename": "logo.png", "dataset": None, "md5": hashlib.md5(b"logo-bytes").hexdigest(),
                          "size": 10, "present": True}


def test_api_errors_are_json_problems(client, admin):
    response = client.get("/api/v1/forms/nope", headers=admin)
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.get_json()["code"] == "form.not_found"
    response = client.patch("/api/v1/forms/nope", json={"state": "sideways"}, headers=admin)
    assert response.status_code == 400 and response.get_json()["code"] == "request.invalid"


def test_openapi_describes_the_api(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    assert "/submissions/{xml_form_id}/{instance_id}" in spec["paths"]
