"""Setting up the phone the page is open on (issue 17 item 7, part): at 390 px in Chinese the QR page says how, and
its link saves the QR code as a PNG that ODK Collect can import from the gallery."""
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_a_cadre_saves_the_qr_code_image_on_the_phone(open_page, fits_phone, screenshot):
    page = open_page("cadre001", "phone", "/")
    page.get_by_role("link", name="配置 ODK Collect").click()
    page.get_by_role("button", name="生成新的二维码").click()
    save = page.get_by_test_id("save-qr")
    expect(save).to_have_text("保存二维码图片")
    expect(page.locator("body")).to_contain_text("导入二维码")
    fits_phone(page)
    screenshot(page, "devices-qr-save", "phone")
    with page.expect_download() as download:
        save.click()
    assert download.value.suggested_filename.endswith(".png")
    with Image.open(Path(download.value.path())) as image:
        assert image.format == "PNG" and image.width >= 200
