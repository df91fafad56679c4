"""multipart/form-data as ODK Collect and Enketo send a submission, parsed while it streams in.

Why not Werkzeug's parser: it compiles two regular expressions for every boundary, and every request has a
new random boundary, so on the busiest endpoint much of the parsing time went to `re.compile`. Here the
body is read in large chunks and the boundary is found with `bytes.find`; a file part is written straight
into an upload (`media.store.SpooledUpload`, hashed as it is written) without ever being held whole.

Only what a submission needs: parts with a `name`, an optional `filename` (also RFC 5987 `filename*`) and a
`Content-Type`. No nested multipart, no per-part transfer encodings (RFC 7578 forbids both).
"""
from __future__ import annotations

import dataclasses
from typing import BinaryIO, Callable, Mapping, Protocol

from werkzeug.http import parse_options_header

CHUNK = 64 * 1024
#: a part's header block larger than this is not a header block
MAX_HEADER_BYTES = 16 * 1024
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
    return _Parser(stream, boundary, new_upload, limit, max_field_bytes, part_caps or {}).run()


class _Parser:
    def __init__(self, stream: BinaryIO, boundary: bytes, new_upload: Callable[[], Sink], limit: int,
                 max_field_bytes: int, part_caps: Mapping[str, int]):
        self.stream = stream
        self.delimiter = b"\r\n--" + boundary
        self.new_upload = new_upload
        self.limit = limit
        self.max_field_bytes = max_field_bytes
        self.part_caps = part_caps
        self.received = 0
        self.field_bytes = 0
        self.buffer = b""
        self.form = Form(fields={}, files=[])

    def _more(self) -> bool:
        """Append the next chunk to the buffer; False at the end of the body."""
        try:
            chunk = self.stream.read(CHUNK)
        except OSError as exc:  # the connection reset or timed out: the client's side, not our disk's
            raise MultipartError(f"the connection broke off ({exc})") from None
        if not chunk:
            return False
        self.received += len(chunk)
        if self.received > self.limit:
            raise TooLarge(f"the body is larger than {self.limit} bytes")
        self.buffer = self.buffer + chunk if self.buffer else chunk
        return True

    def run(self) -> Form:
        # the body as if preceded by CRLF, so that the first delimiter is found like every other one
        self.buffer = b"\r\n"
        self._skip_preamble()
        parts = 0
        while self._after_delimiter():
            parts += 1
            if parts > MAX_PARTS:
                raise MultipartError(f"more than {MAX_PARTS} parts")
            name, filename, content_type = self._headers()
            if filename is None:
                self._field(name)
            else:
                upload = self.new_upload()
                self.form.files.append(FilePart(name, filename, content_type, upload))
                self._content(self._capped(name, upload.write))
        return self.form

    def _capped(self, name: str, write: Callable[[bytes], int]) -> Callable[[bytes], int]:
        cap = self.part_caps.get(name)
        if cap is None:
            return write
        written = 0

        def capped(data: bytes) -> int:
            nonlocal written
            written += len(data)
            if written > cap:
                raise PartTooLarge(name, cap)
            return write(data)
        return capped

    def _skip_preamble(self) -> None:
        while True:
            at = self.buffer.find(self.delimiter)
            if at >= 0:
                self.buffer = self.buffer[at + len(self.delimiter):]
                return
            # keep only what could be the start of a delimiter split across chunks
            self.buffer = self.buffer[-(len(self.delimiter) - 1):]
            if not self._more():
                raise MultipartError("the body has no multipart boundary")

    def _after_delimiter(self) -> bool:
        """After a delimiter: True when a part follows, False at the closing delimiter ("--")."""
        while len(self.buffer) < 2:
            if not self._more():
                raise MultipartError("the body ends after a boundary (truncated upload)")
        if self.buffer.startswith(b"--"):
            return False
        # transport padding (spaces, tabs) may follow a delimiter before its CRLF
        while True:
            end = self.buffer.find(b"\r\n")
            if end >= 0:
                if self.buffer[:end].strip(b" \t"):
                    raise MultipartError("unexpected bytes after a boundary")
                self.buffer = self.buffer[end + 2:]
                return True
            if len(self.buffer) > 1024:
                raise MultipartError("unexpected bytes after a boundary")
            if not self._more():
                raise MultipartError("the body ends after a boundary (truncated upload)")

    def _headers(self) -> tuple[str, str | None, str | None]:
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end >= 0 or self.buffer.startswith(b"\r\n"):
                break
            if len(self.buffer) > MAX_HEADER_BYTES:
                raise MultipartError("a part's headers are too long")
            if not self._more():
                raise MultipartError("the body ends inside a part's headers (truncated upload)")
        if self.buffer.startswith(b"\r\n"):
            block, self.buffer = b"", self.buffer[2:]
        else:
            block, self.buffer = self.buffer[:end], self.buffer[end + 4:]
        headers = {}
        for line in block.decode("utf-8", "replace").split("\r\n"):
            key, colon, value = line.partition(":")
            if not colon:
                raise MultipartError(f"a part has a malformed header line: {line[:80]!r}")
            headers[key.strip().lower()] = value.strip()
        disposition, options = parse_options_header(headers.get("content-disposition", ""))
        if disposition != "form-data" or not options.get("name"):
            raise MultipartError("a part has no Content-Disposition: form-data with a name")
        content_type = headers.get("content-type")
        return options["name"], options.get("filename"), content_type or None

    def _field(self, name: str) -> None:
        pieces = []

        def keep(data: bytes) -> int:
            self.field_bytes += len(data)
            if self.field_bytes > self.max_field_bytes:
                raise TooLarge(f"the form fields are larger than {self.max_field_bytes} bytes")
            pieces.append(data)
            return len(data)

        self._content(self._capped(name, keep))
        self.form.fields.setdefault(name, b"".join(pieces))

    def _content(self, write: Callable[[bytes], int]) -> None:
        """Pass the part's content to `write` up to the next delimiter, which is consumed."""
        keep = len(self.delimiter) - 1
        while True:
            at = self.buffer.find(self.delimiter)
            if at >= 0:
                if at:
                    write(self.buffer[:at])
                self.buffer = self.buffer[at + len(self.delimiter):]
                return
            # all but a possible partial delimiter at the end is content
            if len(self.buffer) > keep:
                write(self.buffer[:-keep])
                self.buffer = self.buffer[-keep:]
            if not self._more():
                raise MultipartError("the body ends inside a part (truncated upload)")
