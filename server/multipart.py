"""multipart/form-data as ODK Collect and Enketo send a submission, parsed while it streams in.

The parsing is python-multipart's `MultipartParser` (a streaming state machine that finds the boundary with
`bytes.find`; Werkzeug's parser instead compiled two regular expressions per request for the request's random
boundary, which was much of the submission endpoint's parsing time). This module adds what a submission needs
on top: a file part is written straight into an upload (`media.store.SpooledUpload`, hashed as it is written)
without ever being held whole, the caps on the body, the in-memory fields, the part count and named parts
(the XML), and a truncated body as an error rather than a short last part.

Only what a submission needs: parts with a `name`, an optional `filename` (also RFC 5987 `filename*`) and a
`Content-Type`. No nested multipart, no per-part transfer encodings (RFC 7578 forbids both), no preamble
(python-multipart expects the body to open with the boundary, as every client sends it).
"""
from __future__ import annotations

import dataclasses
from typing import BinaryIO, Callable, Mapping, Protocol

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser
from werkzeug.http import parse_options_header

CHUNK = 64 * 1024
#: a header line longer than this is not a header
MAX_HEADER_BYTES = 16 * 1024
MAX_HEADERS = 16
MAX_PARTS = 1000
MAX_BOUNDARY = 200


class MultipartError(ValueError):
    """The body is not well-formed multipart/form-data, or ends early (a truncated upload)."""


class TooLarge(MultipartError):
    """More arrived than the limit allows (an upload without Content-Length, or in-memory fields too big)."""


class PartTooLarge(TooLarge):
    """One named part is larger than its own cap (the submission's XML)."""

    def __init__(self, name: str, cap: int):
        super().__init__(f"the part {name} is larger than {cap} bytes")
        self.name, self.cap = name, cap


class Sink(Protocol):
    def write(self, data: bytes) -> int: ...


@dataclasses.dataclass
class FilePart:
    """A part with a filename; its content went into `upload`."""

    name: str
    filename: str
    content_type: str | None
    upload: Sink


@dataclasses.dataclass
class Form:
    fields: dict[str, bytes]
    files: list[FilePart]


def boundary_of(content_type_params: dict[str, str]) -> bytes:
    boundary = content_type_params.get("boundary", "")
    # RFC 2046 allows 70 characters; like Werkzeug we take up to 200 (its own test client sends ~70), printable
    # ASCII not ending in a space
    if not 0 < len(boundary) <= MAX_BOUNDARY or boundary.endswith(" ") or not (
            boundary.isascii() and boundary.isprintable()):
        raise MultipartError("the Content-Type has no valid multipart boundary")
    return boundary.encode("ascii")


def parse(stream: BinaryIO, boundary: bytes, new_upload: Callable[[], Sink], *, limit: int,
          max_field_bytes: int, part_caps: Mapping[str, int] | None = None) -> Form:
    """Read `stream` to the closing delimiter. Raise MultipartError when the body is malformed or truncated,
    TooLarge when more than `limit` bytes arrive or the fields without a filename exceed `max_field_bytes`,
    PartTooLarge as soon as a part named in `part_caps` grows past its cap (file or field alike)."""
    collector = _Collector(new_upload, max_field_bytes, part_caps or {})
    parser = MultipartParser(boundary, collector.callbacks(), max_header_count=MAX_HEADERS,
                             max_header_size=MAX_HEADER_BYTES)
    received = 0
    while not collector.ended:
        try:
            chunk = stream.read(CHUNK)
        except OSError as exc:  # the connection reset or timed out: the client's side, not our disk's
            raise MultipartError(f"the connection broke off ({exc})") from None
        if not chunk:
            raise MultipartError("the body ends before its closing boundary (truncated upload)")
        received += len(chunk)
        if received > limit:
            raise TooLarge(f"the body is larger than {limit} bytes")
        try:
            parser.write(chunk)
        except MultipartParseError as exc:
            raise MultipartError(f"the body is not well-formed multipart ({exc})") from None
    return collector.form


class _Collector:
    """The parser's callbacks: headers gathered per part, content sent on to a field's buffer or an upload."""

    def __init__(self, new_upload: Callable[[], Sink], max_field_bytes: int, part_caps: Mapping[str, int]):
        self.new_upload = new_upload
        self.max_field_bytes = max_field_bytes
        self.part_caps = part_caps
        self.form = Form(fields={}, files=[])
        self.parts = 0
        self.field_bytes = 0
        self.ended = False
        self.headers: dict[str, str] = {}
        self.header_field = bytearray()
        self.header_value = bytearray()
        self.name = ""
        self.write: Callable[[bytes], int] = len
        self.pieces: list[bytes] | None = None

    def callbacks(self) -> dict[str, Callable]:
        return {"on_part_begin": self.part_begin, "on_header_field": self.header_field_data,
                "on_header_value": self.header_value_data, "on_header_end": self.header_end,
                "on_headers_finished": self.headers_finished, "on_part_data": self.part_data,
                "on_part_end": self.part_end, "on_end": self.end}

    def part_begin(self) -> None:
        # the parser announces a part after every delimiter, also the closing one's (then `end` follows)
        self.headers = {}

    def header_field_data(self, data: bytes, start: int, end: int) -> None:
        self.header_field += data[start:end]

    def header_value_data(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def header_end(self) -> None:
        self.headers[self.header_field.decode("latin-1").lower()] = self.header_value.decode("utf-8", "replace").strip()
        self.header_field.clear()
        self.header_value.clear()

    def headers_finished(self) -> None:
        self.parts += 1
        if self.parts > MAX_PARTS:
            raise MultipartError(f"more than {MAX_PARTS} parts")
        disposition, options = parse_options_header(self.headers.get("content-disposition", ""))
        if disposition != "form-data" or not options.get("name"):
            raise MultipartError("a part has no Content-Disposition: form-data with a name")
        self.name = options["name"]
        filename = options.get("filename")
        if filename is None:
            self.pieces = []
            self.write = self._capped(self._keep)
        else:
            self.pieces = None
            upload = self.new_upload()
            self.form.files.append(FilePart(self.name, filename, self.headers.get("content-type") or None, upload))
            self.write = self._capped(upload.write)

    def part_data(self, data: bytes, start: int, end: int) -> None:
        self.write(data[start:end])

    def part_end(self) -> None:
        if self.pieces is not None:
            self.form.fields.setdefault(self.name, b"".join(self.pieces))
            self.pieces = None

    def end(self) -> None:
        self.ended = True

    def _keep(self, data: bytes) -> int:
        self.field_bytes += len(data)
        if self.field_bytes > self.max_field_bytes:
            raise TooLarge(f"the form fields are larger than {self.max_field_bytes} bytes")
        self.pieces.append(data)
        return len(data)

    def _capped(self, write: Callable[[bytes], int]) -> Callable[[bytes], int]:
        cap = self.part_caps.get(self.name)
        if cap is None:
            return write
        name, written = self.name, 0

        def capped(data: bytes) -> int:
            nonlocal written
            written += len(data)
            if written > cap:
                raise PartTooLarge(name, cap)
            return write(data)
        return capped
