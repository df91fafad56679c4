"""The roster page on a 390 px phone in Chinese (issue 17 item 10): it keeps the admin tabs, and its template
link downloads an XLSX with the roster's headers, a sample row and a sheet explaining each column."""
import io
from pathlib import Path

import pytest
from openpyxl import load_workbook
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_the_roster_page_offers_the_template(open_page, fits_phone, screenshot):
    page = open_page("admin", "phone", "/admin/roster")
    expect(page.get_by_test_id("admin-tabs").get_by_test_id("tab-roster")).to_have_attribute("aria-current", "page")
    link = page.get_by_test_id("roster-template")
    expect(link).to_have_text("下载模板（XLSX）")
    fits_phone(page)
    screenshot(page, "roster-template", "phone")
    with page.expect_download() as download:
        link.click()
    assert download.value.suggested_filename == "建档立卡名单模板.xlsx"
    book = load_workbook(io.BytesIO(Path(download.value.path()).read_bytes()))
    assert [sheet.title for sheet in book.worksheets] == ["名单", "填写说明"]
    header, sample = book.worksheets[0].iter_rows(values_only=True)
    assert header[0] == "户编号" and sample[0]
