"""The ODK Collect app from our own server (issue 17 item 7): at 390 px in Chinese an admin uploads the APK on the
admin page, and a cadre's phone set-up page offers it with its version and size, and downloads it."""
import io
import zipfile
from pathlib import Path

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_an_admin_uploads_collect_and_a_cadre_downloads_it(open_page, fits_phone, screenshot, tmp_path):
    package = tmp_path / "ODK-Collect-v2024.3.5.apk"
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("AndroidManifest.xml", b"\x03\x00\x08\x00")
        archive.writestr("classes.dex", b"dex\n035\x00" + bytes(200_000))
    package.write_bytes(out.getvalue())

    admin = open_page("admin", "phone", "/admin/collect-app")
    expect(admin.get_by_test_id("tab-app")).to_have_attribute("aria-current", "page")
    admin.locator("input[name=apk]").set_input_files(str(package))
    admin.get_by_role("button", name="上传").click()
    expect(admin.get_by_test_id("current-app")).to_contain_text("v2024.3.5")
    fits_phone(admin)
    screenshot(admin, "admin-collect-app", "phone")

    cadre = open_page("cadre001", "phone", "/")
    cadre.get_by_role("link", name="配置 ODK Collect").click()
    link = cadre.get_by_test_id("collect-app-download")
    expect(link).to_have_text("下载 ODK Collect v2024.3.5（0.2 MB）")
    fits_phone(cadre)
    screenshot(cadre, "devices-collect-app", "phone")
    with cadre.expect_download() as download:
        link.click()
    assert download.value.suggested_filename == "ODK-Collect-v2024.3.5.apk"
    assert Path(download.value.path()).read_bytes() == package.read_bytes()
