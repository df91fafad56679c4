"""Writers that produce their output a piece at a time, for a streamed HTTP answer.

Each writer writes into a `Sink`, and the caller hands on whatever the sink holds after each row
(`sink.drain()`), so nothing but the current row and the compressor's window is ever in memory. A zip is written
without seeking (each entry followed by a data descriptor, as zipfile does on a stream that cannot seek), which is
also how the XLSX is made: it is a zip of XML parts, the sheet's rows written as they come.
"""
from __future__ import annotations

import contextlib
import csv
import io
import re
import zipfile
from typing import IO, Iterator, Sequence
from xml.sax.saxutils import escape

#: Excel and WPS read UTF-8 CSV as the local code page (GBK here: mojibake) unless it starts with a BOM
BOM = "\ufeff"
#: a cell that starts like this is a formula to Excel (CSV injection): a sent answer must stay text
_FORMULA = re.compile(r"^[=+\-@\t\r]")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
#: characters XML 1.0 cannot hold: an answer typed with them would make the sheet unreadable
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_SHEET_NAME = re.compile(r"[\[\]:*?/\\]")


class Sink(io.RawIOBase):
    """A write-only, non-seekable stream that keeps what was written until it is drained."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def drain(self) -> bytes:
        out, self._parts = b"".join(self._parts), []
        return out


def safe_cell(value: str) -> str:
    """A text cell as a spreadsheet must show it: a leading =, +, -, @ makes a formula of anything but a number."""
    if value and _FORMULA.match(value) and not _NUMBER.match(value):
        return "'" + value
    return value


class CsvTable:
    """A CSV file's rows as UTF-8 with a BOM, into any binary file (a zip entry, the sink)."""

    def __init__(self, out: IO[bytes], header: Sequence[str]):
        self._out = out
        self._text = io.StringIO()
        self._writer = csv.writer(self._text, lineterminator="\r\n")
        self._out.write(BOM.encode("utf-8"))
        self.row(header)

    def row(self, values: Sequence[str]) -> None:
        self._writer.writerow([safe_cell(v) if isinstance(v, str) else v for v in values])
        self._out.write(self._text.getvalue().encode("utf-8"))
        self._text.seek(0)
        self._text.truncate()


def column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


def _width(text: str) -> float:
    """Excel column width for a header: CJK characters take two."""
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


class Sheet:
    """One worksheet's XML, row after row: the header bold and frozen, widths from the header, A4 landscape."""

    def __init__(self, out: IO[bytes], header: Sequence[str], numeric: Sequence[bool] = ()):
        self._out = out
        self._numeric = list(numeric) + [False] * (len(header) - len(numeric))
        self._row = 0
        widths = "".join(f'<col min="{i + 1}" max="{i + 1}" width="{min(48, max(8, _width(h) + 2))}" '
                         'customWidth="1"/>' for i, h in enumerate(header))
        out.write(('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                   '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
                   'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
                   '<sheetPr><pageSetUpPr fitToPage="1"/></sheetPr>'
                   '<sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" '
                   'activePane="bottomLeft" state="frozen"/></sheetView></sheetViews>'
                   f'<cols>{widths}</cols><sheetData>').encode("utf-8"))
        self.row(header, style=1)

    def row(self, values: Sequence, style: int = 0) -> None:
        self._row += 1
        cells = []
        for i, value in enumerate(values):
            ref = f"{column_letter(i)}{self._row}"
            text = "" if value is None else str(value)
            if not text:
                continue
            styled = f' s="{style}"' if style else ""
            if (isinstance(value, (int, float)) or self._numeric[i]) and _NUMBER.match(text):
                cells.append(f'<c r="{ref}"{styled}><v>{text}</v></c>')
            else:
                text = escape(_NOT_XML.sub("", text))
                cells.append(f'<c r="{ref}" t="inlineStr"{styled}><is><t xml:space="preserve">{text}</t></is></c>')
        self._out.write(f'<row r="{self._row}">{"".join(cells)}</row>'.encode("utf-8"))

    def close(self) -> None:
        self._out.write(('</sheetData><pageMargins left="0.4" right="0.4" top="0.5" bottom="0.5" header="0.3" '
                         'footer="0.3"/><pageSetup paperSize="9" orientation="landscape" fitToWidth="1" '
                         'fitToHeight="0"/></worksheet>').encode("utf-8"))


_STYLES = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
           '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
           '<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font>'
           '<font><b/><sz val="11"/><name val="Calibri"/></font></fonts>'
           '<fills count="2"><fill><patternFill patternType="none"/></fill>'
           '<fill><patternFill patternType="gray125"/></fill></fills>'
           '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
           '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
           '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
           '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/></cellXfs>'
           '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
           '</styleSheet>')


def sheet_name(name: str, taken: set[str]) -> str:
    """Excel's rules: at most 31 characters, none of []:*?/\\, unique in the workbook."""
    base = _SHEET_NAME.sub("_", name)[:31] or "Sheet"
    candidate, n = base, 1
    while candidate.lower() in taken:
        n += 1
        candidate = f"{base[:28]}~{n}"
    taken.add(candidate.lower())
    return candidate


class ZipStream:
    """A zip written to a Sink: entries one after the other, each written as it comes."""

    def __init__(self) -> None:
        self.sink = Sink()
        self._zip = zipfile.ZipFile(self.sink, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6)

    @contextlib.contextmanager
    def entry(self, name: str, compress: bool = True) -> Iterator[IO[bytes]]:
        info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
        with self._zip.open(info, "w", force_zip64=True) as handle:
            yield handle

    def drain(self) -> bytes:
        return self.sink.drain()

    def close(self) -> bytes:
        self._zip.close()
        return self.sink.drain()


class Workbook:
    """An XLSX workbook made on a ZipStream: sheets are written one at a time, in order, then `close`."""

    def __init__(self) -> None:
        self.zip = ZipStream()
        self._sheets: list[str] = []
        self._taken: set[str] = set()

    @contextlib.contextmanager
    def sheet(self, name: str, header: Sequence[str], numeric: Sequence[bool] = ()) -> Iterator[Sheet]:
        self._sheets.append(sheet_name(name, self._taken))
        with self.zip.entry(f"xl/worksheets/sheet{len(self._sheets)}.xml") as handle:
            sheet = Sheet(handle, header, numeric)
            yield sheet
            sheet.close()

    def drain(self) -> bytes:
        return self.zip.drain()

    def close(self) -> bytes:
        count = len(self._sheets)
        overrides = "".join(f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="application/'
                            'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
                            for i in range(1, count + 1))
        parts = {
            "[Content_Types].xml": (
                '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
                '<Default Extension="xml" ContentType="application/xml"/>'
                '<Override PartName="/xl/workbook.xml" ContentType="application/'
                'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
                '<Override PartName="/xl/styles.xml" ContentType="application/'
                'vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>' + overrides + '</Types>'),
            "_rels/.rels": (
                '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
                'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>'),
            "xl/workbook.xml": (
                '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
                'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>'
                + "".join(f'<sheet name="{escape(name, {chr(34): "&quot;"})}" sheetId="{i}" r:id="rId{i}"/>'
                          for i, name in enumerate(self._sheets, start=1))
                + '</sheets></workbook>'),
            "xl/_rels/workbook.xml.rels": (
                '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                + "".join(f'<Relationship Id="rId{i}" Type="http://schemas.openxmlformats.org/officeDocument/'
                          f'2006/relationships/worksheet" Target="worksheets/sheet{i}.xml"/>'
                          for i in range(1, count + 1))
                + f'<Relationship Id="rId{count + 1}" Type="http://schemas.openxmlformats.org/officeDocument/'
                  '2006/relationships/styles" Target="styles.xml"/></Relationships>'),
            "xl/styles.xml": _STYLES,
        }
        for name, text in parts.items():
            with self.zip.entry(name) as handle:
                handle.write(text.encode("utf-8"))
        return self.zip.close()
