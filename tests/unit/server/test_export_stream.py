"""The streaming writers of the exports (server/exports/stream.py): what Excel and WPS need of a CSV, a workbook
openpyxl reads back cell for cell, hostile text kept as text, and memory that does not grow with the rows."""
from __future__ import annotations

import csv
import io
import tracemalloc
import zipfile

import pytest
from openpyxl import load_workbook

from server.exports.stream import CsvTable, Sink, Workbook, ZipStream, column_letter, safe_cell, sheet_name


@pytest.mark.parametrize("value, shown", [
    ("=HYPERLINK(\"http://x\",\"点我\")", "'=HYPERLINK(\"http://x\",\"点我\")"), ("+1+1", "'+1+1"),
    ("@SUM(A1)", "'@SUM(A1)"), ("-2+3", "'-2+3"), ("\t=1", "'\t=1"),
    ("-5", "-5"), ("-3.25", "-3.25"), ("张三", "张三"), ("", ""), ("a=b", "a=b"),
])
def test_a_cell_that_would_be_a_formula_stays_text_and_numbers_stay_numbers(value, shown):
    assert safe_cell(value) == shown


def test_the_csv_starts_with_a_bom_and_round_trips():
    sink = Sink()
    table = CsvTable(sink, ["户主 (head)", "备注 (remarks)"])
    table.row(["郝福", '说"了",逗号\n换行'])
    data = sink.drain()
    assert data.startswith(b"\xef\xbb\xbf")
    assert list(csv.reader(io.StringIO(data.decode("utf-8-sig")))) == [["户主 (head)", "备注 (remarks)"],
                                                                        ["郝福", '说"了",逗号\n换行']]
    assert sink.drain() == b""  # drained: nothing is kept


def test_the_workbook_reads_back_cell_for_cell_with_numbers_as_numbers():
    book = Workbook()
    chunks = []
    with book.sheet("走访:[一]/二?", ["文字", "数字"], [False, True]) as sheet:
        sheet.row(["<b>&amp;</b>\x01\x1f", "41.296222"])
        sheet.row(["=1+1", "不是数"])
        chunks.append(book.drain())
    with book.sheet("走访:[一]/二?", ["空"]) as sheet:  # the same name again: made unique
        sheet.row([None])
    chunks.append(book.close())
    read = load_workbook(io.BytesIO(b"".join(chunks)))
    assert read.sheetnames == ["走访__一__二_", "走访__一__二_~2"]
    first = read.worksheets[0]
    assert [[c.value for c in row] for row in first.iter_rows()] == [
        ["文字", "数字"], ["<b>&amp;</b>", 41.296222], ["=1+1", "不是数"]]
    assert first["A3"].data_type == "s"  # an answer is never a formula in the workbook
    assert first["A1"].font.b and first.freeze_panes == "A2"
    assert first.page_setup.orientation == "landscape" and first.page_setup.paperSize == 9  # A4


@pytest.mark.parametrize("name", ["a" * 40, "", "x/y"])
def test_sheet_names_follow_excels_rules(name):
    made = sheet_name(name, set())
    assert 0 < len(made) <= 31 and not set(made) & set("[]:*?/\\")


def test_column_letters():
    assert [column_letter(i) for i in (0, 25, 26, 51, 52, 701, 702)] == ["A", "Z", "AA", "AZ", "BA", "ZZ", "AAA"]


def test_a_zip_written_without_seeking_is_a_valid_zip():
    archive = ZipStream()
    out = []
    with archive.entry("a.csv") as handle:
        handle.write("一,二\r\n".encode())
        out.append(archive.drain())
    with archive.entry("media/x/photo.jpg", compress=False) as handle:
        handle.write(b"\xff\xd8" + bytes(1000))
    out.append(archive.close())
    read = zipfile.ZipFile(io.BytesIO(b"".join(out)))
    assert read.testzip() is None
    assert read.read("a.csv").decode() == "一,二\r\n"
    assert read.getinfo("media/x/photo.jpg").compress_type == zipfile.ZIP_STORED


def _peak(rows: int, kind: str) -> int:
    """Peak Python memory while `rows` rows go through a writer whose output is handed on after every row (two
    columns: the rows' count is what matters here, and tracemalloc makes every cell slow)."""
    tracemalloc.start()
    try:
        if kind == "csv":
            sink = Sink()
            table = CsvTable(sink, ["问题 (q)", "数 (n)"])
            for n in range(rows):
                table.row([f"回答{n}", str(n)])
                sink.drain()
        else:
            book = Workbook()
            with book.sheet("s", ["问题 (q)", "数 (n)"], [False, True]) as sheet:
                for n in range(rows):
                    sheet.row([f"回答{n}", str(n)])
                    book.drain()
            book.close()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_memory_stays_flat_from_10k_to_200k_rows(kind):
    small, large = _peak(10_000, kind), _peak(200_000, kind)
    # twenty times the rows: the peak is the compressor's window and one row, whatever the count
    assert large < small * 1.3 + 64 * 1024, (small, large)
