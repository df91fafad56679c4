"""Issue 17 item 7: Google Play is not reachable in China, so an admin uploads the ODK Collect APK once and every
user's phone set-up page offers it, with its version and size. Only an Android package is accepted, and it is
served as one, whatever the upload said it was."""
from __future__ import annotations

import io
import re
import zipfile

import pytest

from support import login


def apk(extra: bytes = b"") -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("AndroidManifest.xml", b"\x03\x00\x08\x00binary-xml")
        archive.writestr("classes.dex", b"dex\n035\x00" + extra)
        archive.writestr("res/raw/x", b"<script>alert(1)</script>")
    return out.getvalue()


def csrf(client, path: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True)).group(1)


def upload(client, body: bytes, filename: str = "ODK-Collect-v2024.3.5.apk", version: str = "",
           content_type: str = "text/html"):
    return client.post("/admin/collect-app", content_type="multipart/form-data", data={
        "csrf_token": csrf(client, "/admin/collect-app"), "version": version,
        "apk": (io.BytesIO(body), filename, content_type)})


def test_an_admin_uploads_the_apk_and_every_devices_page_offers_it(client, admin, make_user):
    login(client, "admin")
    assert 'data-testid="no-app"' in client.get("/admin/collect-app").get_data(as_text=True)
    package = apk(bytes(300 * 1024))  # (the test client spools a body over 500 KB to a file it never closes)
    response = upload(client, package)
    assert response.status_code == 302
    page = client.get("/admin/collect-app").get_data(as_text=True)
    assert "v2024.3.5" in page and "0.3 MB" in page  # the version from the file name, the size

    make_user("cadre9", "cadre")
    client = client.application.test_client()  # the cadre on their own phone
    login(client, "cadre9")
    own = client.get("/").get_data(as_text=True)
    devices_path = re.search(r'href="(/users/\d+/devices)"', own).group(1)
    devices = client.get(devices_path).get_data(as_text=True)
    assert "下载 ODK Collect v2024.3.5（0.3 MB）" in devices
    link = re.search(r'href="([^"]+)" data-testid="collect-app-download"', devices).group(1)
    download = client.get(link)
    assert download.status_code == 200 and download.data == package
    assert download.mimetype == "application/vnd.android.package-archive"  # ours, not the upload's text/html
    assert "ODK-Collect-v2024.3.5.apk" in download.headers["Content-Disposition"]
    assert download.headers["Content-Disposition"].startswith("attachment")
    download.close()


def test_a_typed_version_wins_over_the_file_name(client, admin):
    login(client, "admin")
    assert upload(client, apk(), filename="collect.apk", version="v2025.1.2").status_code == 302
    assert "v2025.1.2" in client.get("/admin/collect-app").get_data(as_text=True)


@pytest.mark.parametrize("body, filename, status, message", [
    (b"MZ\x90\x00 not a zip", "ODK-Collect-v1.0.apk", 400, "不是 zip 格式"),
    (b"", "ODK-Collect-v1.0.apk", 400, "不是 zip 格式"),
    (None, "ODK-Collect-v1.0.apk", 400, "缺少 AndroidManifest.xml"),
    (b"PK", "collect.apk", 400, "请填写版本号"),
])
def test_what_is_not_an_android_package_is_refused_with_the_reason(client, admin, body, filename, status, message):
    if body is None:  # a zip, but not an app
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as archive:
            archive.writestr("readme.txt", "hello")
        body = out.getvalue()
    login(client, "admin")
    response = upload(client, body, filename=filename)
    assert response.status_code == status
    assert message in response.get_data(as_text=True)
    assert 'data-testid="no-app"' in client.get("/admin/collect-app").get_data(as_text=True)  # nothing kept


@pytest.mark.parametrize("settings_overrides", [{"max_apk_bytes": 64 * 1024}])
def test_a_package_over_the_limit_is_413(client, admin, settings_overrides):
    login(client, "admin")
    response = upload(client, apk(bytes(200 * 1024)))
    assert response.status_code == 413 and "安装包太大" in response.get_data(as_text=True)


def test_only_admins_upload_and_nobody_anonymous_downloads(client, admin, make_user):
    make_user("cadre9", "cadre")
    login(client, "cadre9")
    assert client.get("/admin/collect-app").status_code == 403
    token = csrf(client, "/")
    refused = client.post("/admin/collect-app", content_type="multipart/form-data",
                          data={"csrf_token": token, "apk": (io.BytesIO(apk()), "x-v1.apk")})
    assert refused.status_code == 403
    assert client.get("/collect-app/ODK-Collect.apk").status_code == 404  # nothing uploaded yet
    anonymous = client.application.test_client()
    assert anonymous.get("/collect-app/ODK-Collect.apk").status_code == 302  # to the login page
