"""The streaming multipart/form-data parser of /submission: what it keeps, what it refuses, wherever the
network splits the body."""
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server import multipart

BOUNDARY = b"----zoufang7MA4YWxkTrZu0gW"
PHOTO = bytes(range(256)) * 300 + b"\r\n--" + BOUNDARY[:-1] + b"\r\n-" + b"tail"  # looks almost like a boundary


class Sink(io.BytesIO):
    """An upload: what the parser wrote, readable afterwards."""


def body(*parts: tuple[str, str | None, bytes, str | None], preamble: bytes = b"", epilogue: bytes = b"") -> bytes:
    out = [preamble]
    for name, filename, content, content_type in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename is not None else "")
        head = f"Content-Disposition: {disposition}\r\n"
        if content_type:
            head += f"Content-Type: {content_type}\r\n"
        out += [b"--" + BOUNDARY + b"\r\n", head.encode(), b"\r\n", content, b"\r\n"]
    out += [b"--" + BOUNDARY + b"--\r\n", epilogue]
    return b"".join(out)


class Trickle(io.RawIOBase):
    """A request body that arrives `size` bytes at a time, as over a weak signal."""

    def __init__(self, data: bytes, size: int):
        self.data, self.size, self.at = data, size, 0

    def readable(self):
        return True

    def read(self, n=-1):
        chunk = self.data[self.at:self.at + min(self.size, n if n >= 0 else self.size)]
        self.at += len(chunk)
        return chunk


def parse(data: bytes, chunk: int | None = None, limit: int = 10 ** 9, max_field_bytes: int = 10 ** 6):
    stream = Trickle(data, chunk) if chunk else io.BytesIO(data)
    return multipart.parse(stream, BOUNDARY, Sink, limit=limit, max_field_bytes=max_field_bytes)


SUBMISSION = body(("xml_submission_file", "submission.xml", b"<data id='x'/>", "text/xml"),
                  ("a.jpg", "a.jpg", PHOTO, "image/jpeg"),
                  ("note", None, "备注".encode(), None),
                  epilogue=b"ignored epilogue")


@pytest.mark.parametrize("chunk", [None, 1, 7, len(BOUNDARY) + 3, 4096])
def test_parts_come_out_whole_however_the_body_is_split(chunk):
    form = parse(SUBMISSION, chunk)
    assert [(f.name, f.filename, f.content_type) for f in form.files] == [
        ("xml_submission_file", "submission.xml", "text/xml"), ("a.jpg", "a.jpg", "image/jpeg")]
    assert form.files[0].upload.getvalue() == b"<data id='x'/>"
    assert form.files[1].upload.getvalue() == PHOTO
    assert form.fields == {"note": "备注".encode()}


def test_an_empty_file_and_a_utf8_file_name_are_kept():
    data = (b"--" + BOUNDARY + b"\r\nContent-Disposition: form-data; name=\"p\"; "
            b"filename*=UTF-8''%E7%85%A7%E7%89%87.jpg\r\n\r\n\r\n--" + BOUNDARY + b"--")
    form = parse(data)
    assert form.files[0].filename == "照片.jpg"
    assert form.files[0].upload.getvalue() == b""


def test_transport_padding_after_a_boundary_between_parts_is_allowed():
    # python-multipart takes padding after the delimiters that close a part, not after the opening one
    first = SUBMISSION.index(BOUNDARY) + len(BOUNDARY)
    data = SUBMISSION[:first] + SUBMISSION[first:].replace(BOUNDARY + b"\r\n", BOUNDARY + b"  \t\r\n")
    assert parse(data).files[1].upload.getvalue() == PHOTO


def test_every_truncation_is_an_error_never_a_short_part():
    end = SUBMISSION.index(b"--" + BOUNDARY + b"--") + len(BOUNDARY) + 4  # through the closing "--"
    for cut in list(range(0, 400)) + list(range(end - 400, end)):
        with pytest.raises(multipart.MultipartError):
            parse(SUBMISSION[:cut], chunk=997)


@pytest.mark.parametrize("data, message", [
    (b"no boundary here at all", "Expected boundary character"),
    (b"--" + BOUNDARY + b"\r\nContent-Disposition: form-data\r\n\r\nx\r\n--" + BOUNDARY + b"--", "with a name"),
    (b"--" + BOUNDARY + b"\r\nContent-Disposition: attachment; name=a\r\n\r\nx\r\n--" + BOUNDARY + b"--",
     "with a name"),
    (b"--" + BOUNDARY + b"\r\nno colon in this header\r\n\r\nx\r\n--" + BOUNDARY + b"--", "invalid character"),
    (b"--" + BOUNDARY + b"junk\r\n\r\nx\r\n--" + BOUNDARY + b"--", "Did not find CR at end of boundary"),
    (b"--" + BOUNDARY + b"\r\nX-Long: " + b"a" * (multipart.MAX_HEADER_BYTES + 10), "Maximum header size exceeded"),
])
def test_malformed_bodies_are_refused_with_the_reason(data, message):
    with pytest.raises(multipart.MultipartError, match=message):
        parse(data)


def test_more_than_the_limit_is_too_large_even_without_a_content_length():
    with pytest.raises(multipart.TooLarge, match="larger than 1000 bytes"):
        parse(SUBMISSION, chunk=100, limit=1000)
    assert parse(SUBMISSION, limit=len(SUBMISSION)).files


def test_fields_without_a_file_name_are_held_in_memory_only_up_to_a_cap():
    big = body(("a", None, b"x" * 600, None), ("b", None, b"y" * 600, None))
    with pytest.raises(multipart.TooLarge, match="form fields"):
        parse(big, max_field_bytes=1000)
    assert parse(big, max_field_bytes=1200).fields == {"a": b"x" * 600, "b": b"y" * 600}


def test_too_many_parts_are_refused():
    many = body(*[(f"f{i}", None, b"", None) for i in range(multipart.MAX_PARTS + 1)])
    with pytest.raises(multipart.MultipartError, match="more than"):
        parse(many)


@pytest.mark.parametrize("params", [{}, {"boundary": ""}, {"boundary": "x" * 201}, {"boundary": "ends with "},
                                    {"boundary": "非ascii"}, {"boundary": "tab\tinside"}])
def test_a_content_type_without_a_usable_boundary_is_refused(params):
    with pytest.raises(multipart.MultipartError, match="boundary"):
        multipart.boundary_of(params)


@pytest.mark.parametrize("boundary", ["a", "OkHttp-3f1c0b6e-9d2a-4c1e-8f7a-2b5d6e7f8a9b",
                                      "---------------WerkzeugFormPart_1764130000.1234560.12345678901234567",
                                      "x" * 200])
def test_boundaries_real_clients_send_are_taken(boundary):
    assert multipart.boundary_of({"boundary": boundary}) == boundary.encode()


@settings(max_examples=150, deadline=None)
@given(contents=st.lists(st.binary(max_size=300), min_size=1, max_size=4), chunk=st.integers(1, 80))
def test_any_content_round_trips(contents, chunk):
    data = body(*[(f"f{i}", f"f{i}.bin", content, "application/octet-stream")
                  for i, content in enumerate(contents)])
    form = parse(data, chunk)
    assert [f.upload.getvalue() for f in form.files] == contents


def test_a_broken_connection_is_a_multipart_error_not_a_server_error():
    class Reset(io.RawIOBase):
        def readable(self):
            return True

        def read(self, n=-1):
            raise ConnectionResetError(104, "Connection reset by peer")

    with pytest.raises(multipart.MultipartError, match="connection broke off"):
        multipart.parse(Reset(), BOUNDARY, Sink, limit=10 ** 9, max_field_bytes=10 ** 6)


class Counted(io.BytesIO):
    """A body that remembers how much of it was read."""

    def read(self, n=-1):
        chunk = super().read(n)
        self.consumed = self.tell()
        return chunk


@pytest.mark.parametrize("filename", ["submission.xml", None])
def test_a_capped_part_is_refused_as_soon_as_it_grows_past_its_cap(filename):
    data = body(("xml_submission_file", filename, b"<a/>" * 100_000, "text/xml"),
                ("a.jpg", "a.jpg", PHOTO * 50, "image/jpeg"))
    stream = Counted(data)
    with pytest.raises(multipart.PartTooLarge, match="xml_submission_file is larger than 100000 bytes") as raised:
        multipart.parse(stream, BOUNDARY, Sink, limit=10 ** 9, max_field_bytes=10 ** 6,
                        part_caps={"xml_submission_file": 100_000})
    assert raised.value.cap == 100_000
    assert stream.consumed < 100_000 + 2 * multipart.CHUNK < len(data)  # the rest was never read


def test_a_part_at_its_cap_is_kept():
    data = body(("xml_submission_file", "submission.xml", b"x" * 1000, "text/xml"), ("n", None, b"y" * 1000, None))
    form = multipart.parse(io.BytesIO(data), BOUNDARY, Sink, limit=10 ** 9, max_field_bytes=10 ** 6,
                           part_caps={"xml_submission_file": 1000, "n": 1000})
    assert form.files[0].upload.getvalue() == b"x" * 1000 and form.fields["n"] == b"y" * 1000


def test_a_preamble_before_the_first_boundary_is_refused():
    # no client sends one; python-multipart expects the body to open with the boundary
    with pytest.raises(multipart.MultipartError, match="not well-formed"):
        parse(b"a preamble\r\n" + SUBMISSION)
