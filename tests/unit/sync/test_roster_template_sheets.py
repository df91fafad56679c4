"""The roster template (sync/roster_template.py) is built from the import's own definitions: every column the
import reads, in its order, with what the import requires of it; the sample row is the sample roster's first."""
import io

from openpyxl import load_workbook

from sync.roster import COLUMN_ZH, HEADERS
from sync.roster_template import roster_template, sample_row


def sheets():
    book = load_workbook(io.BytesIO(roster_template()))
    return [list(sheet.iter_rows(values_only=True)) for sheet in book.worksheets]


def test_the_first_sheet_has_every_column_the_import_reads_and_a_sample_row():
    [header, sample], _notes = sheets()
    assert list(header) == list(COLUMN_ZH.values())
    assert all(HEADERS[h] for h in header)                     # each one a header the import accepts
    assert dict(zip(header, sample))["户编号"] == sample_row()["household_number"]
    # numbers kept as text: ID numbers keep their X (an optional column the sample leaves empty is empty)
    assert all(isinstance(value, str) for value in sample if value is not None)


def test_the_second_sheet_says_what_each_column_takes_in_the_imports_words():
    _first, notes = sheets()
    explained = {row[0]: row for row in notes[1:] if row[0] in COLUMN_ZH.values()}
    assert set(explained) == set(COLUMN_ZH.values())
    assert explained["性别"][2] == "必填；应为 男 或 女"
    assert "校验位" in explained["证件号码"][2]                  # a check written as a method, found by probing
    assert explained["纬度"][1] == "latitude" and "-90 到 90" in explained["纬度"][2]
    assert explained["村名"][2].startswith("可空")
