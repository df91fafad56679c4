"""POST /submission under random, mutated and broken input (hypothesis).

Properties checked after every example:
- the answer is never a 5xx; its status is one of 201/400/404/409/413;
- it is an OpenRosa XML document (`<OpenRosaResponse>` with a message, nature submit_success only for 201)
  with X-OpenRosa-Version: 1.0 and Content-Type text/xml; charset=utf-8;
- the database is consistent: every submission's XML hashes to its xml_sha256, has a reconcile job and one
  attachment row per file its XML names; every received attachment is in the media store;
- the temporary upload folder is empty;
and at the end of each test a valid submission still gets 201.

"""
from __future__ import annotations

import base64
import dataclasses
import hashlib
import os
import string
import xml.etree.ElementTree as ET

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from forms.models import Form, FormVersion
from server.db import session_scope
from support import jpeg, new_instance_id, submission_xml, uploads_left
from sync.instance import parse_instance, referenced_files
from sync.models import Job, Submission, SubmissionAttachment

PG = bool(os.environ.get("ZOUFANG_TEST_DATABASE_URL"))
ALLOWED = {201, 400, 404, 409, 413}
RESPONSE_NS = "{http://openrosa.org/http/response}"
XML_CONTENT_TYPE = "text/xml; charset=utf-8"


def fuzz_settings(examples: int):
    return settings(max_examples=examples, deadline=None, database=None, print_blob=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                           HealthCheck.data_too_large, HealthCheck.large_base_example])


# ---------------------------------------------------------------------------------------------------------------
# the server as a black box, and what must hold after each request

class Harness:
    def __init__(self, app, client, sessions, headers):
        self.app = app
        self.client = client
        self.sessions = sessions
        self.headers = {"X-OpenRosa-Version": "1.0", **headers}
        self.rt = app.extensions["zoufang"]
        with session_scope(sessions) as session:
            self.binary_paths = session.scalar(
                select(FormVersion.binary_paths).join(Form, Form.id == FormVersion.form_id)
                .where(Form.xml_form_id == "test_visit"))
        assert self.binary_paths  # the test form has two photo questions
        self.checked_ids: set[int] = set()

    def post(self, body: bytes, content_type: str, query: str = "", headers: dict[str, str] | None = None):
        return self.client.post(f"/submission{query}", data=body, content_type=content_type,
                                headers={**self.headers, **(headers or {})})

    def check(self, response, candidate_xmls: list[bytes] = (), expect: set[int] | None = None) -> int:
        status = response.status_code
        assert status in (expect or ALLOWED), (status, response.get_data(as_text=True)[:500])
        event(f"status {status}")
        assert response.headers.get("X-OpenRosa-Version") == "1.0"
        assert response.headers.get("Content-Type") == XML_CONTENT_TYPE
        root = ET.fromstring(response.get_data())
        assert root.tag == f"{RESPONSE_NS}OpenRosaResponse"
        message = root.find(f"{RESPONSE_NS}message")
        assert message is not None and (message.text or "").strip()
        assert message.get("nature") == ("submit_success" if status == 201 else "error")
        self.check_consistent()
        return status

    def check_consistent(self) -> None:
        leftovers = uploads_left(self.rt.settings.tmp_dir) if self.rt.settings.tmp_dir.exists() else []
        assert leftovers == [], "temporary uploads left behind"
        with session_scope(self.sessions) as session:
            reconciled = set(session.scalars(select(Job.submission_id).where(Job.kind == "reconcile")))
            for submission_id, xml, xml_sha256 in session.execute(
                    select(Submission.id, Submission.xml, Submission.xml_sha256)):
                assert hashlib.sha256(xml).hexdigest() == xml_sha256, f"submission {submission_id}: XML damaged"
                assert submission_id in reconciled, f"submission {submission_id} has no reconcile job"
            for filename, sha256, size in session.execute(
                    select(SubmissionAttachment.filename, SubmissionAttachment.sha256, SubmissionAttachment.size)
                    .where(SubmissionAttachment.sha256.is_not(None))):
                assert self.rt.store.exists(sha256), f"attachment {filename!r}: {sha256} not in the media store"
                assert size == self.rt.store.size(sha256)
            # the deeper check (every named file has a row) once per new submission
            new = session.scalars(select(Submission).where(Submission.id.not_in(self.checked_ids))).all()
            for submission in new:
                names = referenced_files(parse_instance(submission.xml).root, self.binary_paths)
                assert sorted(a.filename for a in submission.attachments) == sorted(n[:255] for n in names)
                self.checked_ids.add(submission.id)

    def assert_still_answers(self) -> None:
        instance_id = new_instance_id()
        photo = jpeg(5_000)
        body, content_type = multipart([
            Part(b"xml_submission_file", b"submission.xml", b"text/xml",
                 submission_xml(instance_id=instance_id, photo_family="a.jpg")),
            Part(b"a.jpg", b"a.jpg", b"image/jpeg", photo)])
        response = self.post(body, content_type)
        assert response.status_code == 201, response.get_data(as_text=True)
        self.check_consistent()
        with session_scope(self.sessions) as session:
            stored = session.scalar(select(Submission).where(Submission.instance_id == instance_id))
            [attachment] = stored.attachments
            assert attachment.sha256 == hashlib.sha256(photo).hexdigest()


@pytest.fixture
def harness(app, client, sessions, collect):
    return Harness(app, client, sessions, collect.headers)


# ---------------------------------------------------------------------------------------------------------------
# building multipart bodies by hand, so that they can be broken in every way

@dataclasses.dataclass
class Part:
    name: bytes | None
    filename: bytes | None
    content_type: bytes | None
    body: bytes
    extra_headers: list[bytes] = dataclasses.field(default_factory=list)


def encode_parts(parts: list[Part], boundary: bytes, closing: bool = True) -> bytes:
    out = []
    for part in parts:
        disposition = b"Content-Disposition: form-data"
        if part.name is not None:
            disposition += b'; name="' + part.name + b'"'
        if part.filename is not None:
            disposition += b'; filename="' + part.filename + b'"'
        out.append(b"--" + boundary + b"\r\n" + disposition + b"\r\n")
        if part.content_type is not None:
            out.append(b"Content-Type: " + part.content_type + b"\r\n")
        out += [header + b"\r\n" for header in part.extra_headers]
        out.append(b"\r\n" + part.body + b"\r\n")
    if closing:
        out.append(b"--" + boundary + b"--\r\n")
    return b"".join(out)


def multipart(parts: list[Part], boundary: bytes = b"----zoufang-fuzz-7MA4YWxkTrZu0gW") -> tuple[bytes, str]:
    return encode_parts(parts, boundary), f"multipart/form-data; boundary={boundary.decode('latin-1')}"


BCHARS = string.ascii_letters + string.digits + "'()+_,-./:=?"
boundaries = st.text(alphabet=BCHARS, min_size=1, max_size=70).filter(lambda b: not b.endswith(" "))
instance_ids = st.one_of(st.sampled_from([f"uuid:pool-{i}" for i in range(4)]),
                         st.uuids().map(lambda u: f"uuid:{u}"))
households = st.one_of(st.just(""), st.text(alphabet=string.digits, max_size=20),
                       st.text(max_size=40).filter(lambda t: "\x00" not in t))
file_contents = st.one_of(st.binary(max_size=300), st.sampled_from([jpeg(3_000, seed=1), jpeg(3_000, seed=2)]))


def escape_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def xml_text_ok(text: str) -> str:
    """Only characters XML 1.0 allows, so that the base document is well-formed before any mutation."""
    return "".join(c for c in text if c in "\t\n\r" or ("\x20" <= c <= "\ud7ff") or ("\ue000" <= c <= "\ufffd")
                   or c > "\uffff")


@st.composite
def valid_submissions(draw) -> tuple[bytes, dict[str, bytes]]:
    """A well-formed submission of the test form and the files it names (some may be left out)."""
    photo_family = draw(st.sampled_from(["", "a.jpg", "photo 1.jpg", "照片.jpg"]))
    photo_sign = draw(st.sampled_from(["", "b.jpg", "a.jpg"]))
    xml = submission_xml(instance_id=draw(instance_ids), household=escape_text(xml_text_ok(draw(households))),
                         photo_family=photo_family, photo_sign=photo_sign,
                         version=draw(st.sampled_from(["1", "1", "1", "2"])),
                         form_id=draw(st.sampled_from(["test_visit", "test_visit", "test_visit", "nope"])))
    files = {}
    for name in {photo_family, photo_sign} - {""}:
        if draw(st.booleans()):
            files[name] = draw(file_contents)
    if draw(st.integers(0, 4)) == 0:
        files["stray.jpg"] = draw(file_contents)
    return xml, files


def parts_for(xml: bytes, files: dict[str, bytes], xml_filename: bytes | None = b"submission.xml") -> list[Part]:
    parts = [Part(b"xml_submission_file", xml_filename, b"text/xml", xml)]
    parts += [Part(n.encode(), n.encode(), b"image/jpeg", body) for n, body in files.items()]
    return parts


# ---------------------------------------------------------------------------------------------------------------
# 1. random bytes with a multipart content type

@st.composite
def random_multipart_bodies(draw) -> tuple[bytes, str]:
    boundary = draw(boundaries)
    b = boundary.encode()
    xml = submission_xml(instance_id=draw(instance_ids))
    pieces = st.one_of(
        st.binary(max_size=200),
        st.sampled_from([b"--" + b, b"--" + b + b"--", b"\r\n", b"\r\n\r\n", b"\n", b"--",
                         b'Content-Disposition: form-data; name="xml_submission_file"; filename="s.xml"',
                         b'Content-Disposition: form-data; name="a.jpg"; filename="a.jpg"',
                         b'Content-Disposition: form-data; name="xml_submission_file"',
                         b"Content-Type: text/xml", b"Content-Transfer-Encoding: base64", xml, xml[:50]]))
    kind = draw(st.sampled_from(["bytes", "pieces"]))
    if kind == "bytes":
        body = draw(st.binary(max_size=3000))
    else:
        body = b"".join(draw(st.lists(pieces, max_size=30)))
    content_type = draw(st.sampled_from([
        f"multipart/form-data; boundary={boundary}",
        f'multipart/form-data; boundary="{boundary}"',
        f"multipart/form-data; charset=utf-8; boundary={boundary}",
        f"multipart/form-data; boundary={boundary}; boundary=other",
        "multipart/form-data",
        "multipart/form-data; boundary=",
        f"Multipart/Form-Data; BOUNDARY={boundary}",
    ]))
    return body, content_type


def test_random_bytes_as_multipart_never_break_the_server(harness):
    @fuzz_settings(150)
    @given(random_multipart_bodies())
    def run(case):
        body, content_type = case
        harness.check(harness.post(body, content_type), [body])

    run()
    harness.assert_still_answers()


# ---------------------------------------------------------------------------------------------------------------
# 2. valid multipart, mutated XML

XML_NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_.\-]{0,15}", fullmatch=True)
ANY_NAMES = st.one_of(XML_NAMES, st.text(min_size=0, max_size=12).filter(lambda t: "\x00" not in t),
                      st.sampled_from(["jr:meta", "orx:meta", "orx:instanceID", "x:y:z", "1abc", "-", "meta",
                                       "instanceID", "household", "photo_family", "data"]))
TAGS = [b"data", b"household", b"gps", b"photo_family", b"photo_sign", b"hello", b"meta", b"instanceID"]
ENCODINGS = ["utf-8", "utf-16", "utf-16-le", "utf-32", "latin-1", "cp1252", "gbk", "gb18030", "big5", "ascii",
             "utf-8-sig", "shift_jis"]
DECLARED_ENCODINGS = ENCODINGS + ["UTF-8", "x-no-such-charset", "rot13", "hex", "idna", "", "utf-7"]
DTDS = [
    b'<!DOCTYPE data [<!ENTITY e "expanded">]>',
    b'<!DOCTYPE data [<!ENTITY e SYSTEM "file:///etc/passwd">]>',
    b'<!DOCTYPE data [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
    b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>',
    b'<!DOCTYPE data [<!ENTITY % p SYSTEM "http://127.0.0.1:9/evil.dtd"> %p;]>',
    b'<!DOCTYPE data SYSTEM "http://127.0.0.1:9/evil.dtd">',
    b'<!DOCTYPE data PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" "http://127.0.0.1:9/x.dtd">',
    b"<!DOCTYPE data>",
    b'<!DOCTYPE data [<!ATTLIST data id CDATA "test_visit">]>',
]
ENTITY_REFS = [b"&e;", b"&d;", b"&nbsp;", b"&#0;", b"&#x1;", b"&#xD800;", b"&#65;", b"&amp;", b"&lt;&gt;"]


def _rebuild(text: str, encoding: str) -> bytes:
    return text.encode(encoding, errors="replace")


@st.composite
def mutate(draw, xml: bytes) -> tuple[bytes, bool]:
    """One mutation of the document; the flag says it declares an entity (which must be refused)."""
    kind = draw(st.sampled_from(["truncate", "insert", "delete", "flip", "rename", "huge_attribute", "nest",
                                 "reencode", "declare_encoding", "dtd", "entity_ref", "invalid_utf8"]))
    event(f"mutation {kind}")
    n = len(xml)
    if kind == "truncate":
        return xml[:draw(st.integers(0, max(0, n - 1)))], False
    if kind == "insert":
        at = draw(st.integers(0, n))
        return xml[:at] + draw(st.binary(min_size=1, max_size=64)) + xml[at:], False
    if kind == "delete":
        at = draw(st.integers(0, max(0, n - 1)))
        return xml[:at] + xml[at + draw(st.integers(1, 16)):], False
    if kind == "flip":
        if not n:
            return xml, False
        at = draw(st.integers(0, n - 1))
        return xml[:at] + bytes([xml[at] ^ (1 << draw(st.integers(0, 7)))]) + xml[at + 1:], False
    if kind == "rename":
        tag = draw(st.sampled_from(TAGS))
        new = draw(ANY_NAMES).encode("utf-8", errors="replace")
        if draw(st.booleans()):  # consistently: still well-formed when the name is a valid one
            return xml.replace(b"<" + tag + b">", b"<" + new + b">").replace(b"</" + tag + b">", b"</" + new + b">") \
                .replace(b"<" + tag + b" ", b"<" + new + b" ").replace(b"<" + tag + b"/>", b"<" + new + b"/>"), False
        return xml.replace(b"<" + tag, b"<" + new, 1), False
    if kind == "huge_attribute":
        size = draw(st.sampled_from([1_000, 65_536, 1_000_000, 4_000_000]))
        value = draw(st.sampled_from([b"x", b"\xe8\xb5\xb0", b"&amp;", b" "])) * (size // 3 + 1)
        where = draw(st.sampled_from([b"<data ", b"<household", b"<meta"]))
        if where not in xml:
            return xml, False
        return xml.replace(where, where + b' big="' + value + b'" ' if where.endswith(b" ")
                           else where + b' big="' + value + b'"', 1), False
    if kind == "nest":
        depth = draw(st.sampled_from([2, 100, 5_000, 100_000]))
        name = draw(st.sampled_from([b"x", b"meta", b"household", b"photo_family", b"data"]))
        inner = draw(st.sampled_from([b"", b"a.jpg", b"<instanceID>uuid:deep</instanceID>"]))
        where = draw(st.sampled_from([b"<meta>", b"<household>", b"</data>"]))
        if where not in xml:
            return xml, False
        return xml.replace(where, (b"<" + name + b">") * depth + inner
                           + (b"</" + name + b">") * depth + where, 1), False
    if kind == "reencode":
        encoding = draw(st.sampled_from(ENCODINGS))
        text = xml.decode("utf-8", errors="replace")
        declared = draw(st.sampled_from([None, encoding, "utf-8", "iso-8859-1"]))
        if declared is not None:
            text = f'<?xml version="1.0" encoding="{declared}"?>' + text
        return _rebuild(text, encoding), False
    if kind == "declare_encoding":
        declared = draw(st.sampled_from(DECLARED_ENCODINGS))
        return f'<?xml version="1.0" encoding="{declared}"?>'.encode() + xml, False
    if kind == "dtd":
        dtd = draw(st.sampled_from(DTDS))
        ref = draw(st.sampled_from([b"", b"&e;", b"&d;"]))
        body = xml.replace(b"<household>", b"<household>" + ref, 1)
        return dtd + body, b"<!ENTITY" in dtd
    if kind == "entity_ref":
        at = draw(st.sampled_from([b"<household>", b"<instanceID>", b"<photo_family>"]))
        return xml.replace(at, at + draw(st.sampled_from(ENTITY_REFS)), 1), False
    # invalid_utf8
    at = draw(st.sampled_from([b"<household>", b"<instanceID>", b"<photo_family>", b"<data "]))
    bad = draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xc0\xaf", b"\xf5\x80\x80\x80", b"\xfe\xff"]))
    return xml.replace(at, at + bad, 1), False


@st.composite
def mutated_submissions(draw):
    xml, files = draw(valid_submissions())
    declares_entity = False
    for _ in range(draw(st.sampled_from([1, 1, 1, 2, 3]))):  # mostly one, so that more documents stay usable
        xml, declares_entity = draw(mutate(xml))
    as_field = draw(st.integers(0, 5)) == 0  # no filename: Werkzeug hands the XML over as a text field
    return xml, files, declares_entity, as_field


def test_mutated_xml_in_valid_multipart_never_breaks_the_server(harness):
    @fuzz_settings(250)
    @given(mutated_submissions())
    def run(case):
        xml, files, declares_entity, as_field = case
        body, content_type = multipart(parts_for(xml, files, None if as_field else b"submission.xml"))
        response = harness.post(body, content_type)
        # an entity declaration is refused outright (defusedxml), whatever else the document says; a mutation that
        # also repeated elements past the markup bound is refused before it is parsed (413)
        harness.check(response, [xml], expect={400, 413} if declares_entity and not as_field else None)

    run()
    harness.assert_still_answers()


# ---------------------------------------------------------------------------------------------------------------
# 3. a valid submission in a broken multipart body

@st.composite
def broken_multipart(draw) -> tuple[bytes, str, list[bytes]]:
    xml, files = draw(valid_submissions())
    xmls = [xml]
    parts = parts_for(xml, files)
    boundary = draw(boundaries).encode()
    breakages = draw(st.sets(st.sampled_from(["duplicate_xml", "duplicate_file", "no_filename_xml",
                                               "no_filename_file", "no_name", "empty_filename", "many_parts",
                                               "big_field", "shuffle", "weird_headers", "extra_headers"]),
                                max_size=3))
    for breakage in sorted(breakages):
        event(f"breakage {breakage}")
    if "duplicate_xml" in breakages:
        other = draw(st.sampled_from([xml, submission_xml(instance_id=draw(instance_ids)), b"garbage"]))
        xmls.append(other)
        parts.insert(draw(st.integers(0, len(parts))), Part(b"xml_submission_file", b"submission.xml",
                                                            b"text/xml", other))
    if "duplicate_file" in breakages:
        name = draw(st.sampled_from([b"a.jpg", b"b.jpg", b"stray.jpg"]))
        for _ in range(draw(st.integers(1, 3))):
            parts.append(Part(name, name, b"image/jpeg", draw(file_contents)))
    if "no_filename_xml" in breakages:
        parts[0].filename = None
    if "no_filename_file" in breakages:
        for part in parts[1:]:
            part.filename = None
    if "no_name" in breakages:
        part = parts[draw(st.integers(0, len(parts) - 1))]
        part.name = None
    if "empty_filename" in breakages:
        part = parts[draw(st.integers(0, len(parts) - 1))]
        part.filename = b""
    if "many_parts" in breakages:
        count = draw(st.sampled_from([10, 999, 1_100]))
        parts += [Part(f"f{i}".encode(), None, None, b"v") for i in range(count)]
    if "big_field" in breakages:
        size = draw(st.sampled_from([1_000, 11 * 1024 * 1024]))
        parts.append(Part(b"note", None, None, b"x" * size))
    if "shuffle" in breakages:
        parts = draw(st.permutations(parts))
    if "weird_headers" in breakages:
        part = parts[draw(st.integers(0, len(parts) - 1))]
        part.content_type = draw(st.sampled_from([b"", b"text/xml; charset=gbk", b"application/octet-stream",
                                                  b"image/jpeg; name=\"x\"", b"\xe5\x9b\xbe/jpeg",
                                                  b"a" * 500]))
        if part.filename:
            part.filename = draw(st.sampled_from([part.filename, b"../../etc/passwd", b"C:\\temp\\a.jpg",
                                                  b"a.jpg\"; name=\"x", "照片.jpg".encode(), b"a" * 300]))
    if "extra_headers" in breakages:
        part = parts[draw(st.integers(0, len(parts) - 1))]
        part.extra_headers = draw(st.lists(st.sampled_from([
            b"Content-Length: 5", b"Content-Length: -1", b"Content-Length: 99999999999999999999",
            b"Content-Transfer-Encoding: base64", b"Content-Type: text/plain; charset=x-no-such",
            b"X-Long: " + b"h" * 200_000, b"no colon here", b": empty name", b" folded continuation",
            b"Content-Disposition: form-data; name=\"a.jpg\"; filename=\"a.jpg\""]), min_size=1, max_size=3))
    body = encode_parts(parts, boundary, closing=draw(st.integers(0, 9)) > 0)

    cut = draw(st.sampled_from(["none", "none", "truncate", "truncate_near_end"]))
    if cut == "truncate":
        body = body[:draw(st.integers(0, max(0, len(body) - 1)))]
    elif cut == "truncate_near_end":
        body = body[:max(0, len(body) - draw(st.integers(1, 80)))]
    event(f"cut {cut}")

    header_boundary = draw(st.sampled_from(["same", "same", "other", "prefix", "longer", "case", "quoted"]))
    event(f"header boundary {header_boundary}")
    b = boundary.decode()
    shown = {"same": b, "other": draw(boundaries), "prefix": b[:-1] or "x", "longer": b + "x",
             "case": b.swapcase(), "quoted": f'"{b}"'}[header_boundary]
    return body, f"multipart/form-data; boundary={shown}", xmls


def test_broken_multipart_never_breaks_the_server(harness):
    @fuzz_settings(200)
    @given(broken_multipart())
    def run(case):
        body, content_type, xmls = case
        harness.check(harness.post(body, content_type), xmls)

    run()
    harness.assert_still_answers()


def test_truncated_valid_upload_is_400_and_leaves_nothing(harness):
    """A body cut anywhere before its closing boundary is refused (Collect lost the connection)."""
    xml = submission_xml(photo_family="a.jpg", photo_sign="b.jpg")
    body, content_type = multipart(parts_for(xml, {"a.jpg": jpeg(4_000, seed=1), "b.jpg": jpeg(4_000, seed=2)}))
    closing = body.rindex(b"\r\n--")

    @fuzz_settings(60)
    @given(st.integers(0, closing - 1))
    def run(cut):
        response = harness.post(body[:cut], content_type)
        harness.check(response, [xml], expect={400})

    run()
    with session_scope(harness.sessions) as session:
        assert session.scalars(select(Submission.id)).all() == []
    harness.assert_still_answers()


# ---------------------------------------------------------------------------------------------------------------
# 4. around the size limit

@pytest.mark.parametrize("settings_overrides", [{"max_submission_bytes": 4_000}])
def test_bodies_around_the_size_limit(harness, settings_overrides):
    limit = settings_overrides["max_submission_bytes"]

    @fuzz_settings(40)
    @given(valid_submissions(), st.integers(0, 8_000))
    def run(case, padding):
        xml, files = case
        body, content_type = multipart(parts_for(xml, {**files, "pad.bin": b"p" * padding}))
        status = harness.check(harness.post(body, content_type), [xml])
        assert (status == 413) == (len(body) > limit)

    run()
    response = harness.post(*multipart(parts_for(submission_xml(), {})))
    assert response.status_code == 201


# ---------------------------------------------------------------------------------------------------------------
# Inputs the fuzzers above once turned into 500s, kept as plain cases.

def _status(harness, response, expected: int) -> None:
    assert response.status_code == expected, response.get_data(as_text=True)
    harness.check_consistent()


@pytest.mark.parametrize("encoding", ["x-no-such-charset", "rot13", "hex"])
def test_unknown_xml_encoding_is_400(harness, encoding):
    xml = f'<?xml version="1.0" encoding="{encoding}"?>'.encode() + submission_xml()
    _status(harness, harness.post(*multipart(parts_for(xml, {}))), 400)


def test_overlong_file_names_are_400(harness):
    long_a, long_b = "a" * 255 + "1.jpg", "a" * 255 + "2.jpg"
    xml = submission_xml(photo_family=long_a, photo_sign=long_b)
    _status(harness, harness.post(*multipart(parts_for(xml, {long_a: b"one", long_b: b"two"}))), 400)


@pytest.mark.parametrize("field, expected", [("instance_id", 400), ("household", 201), ("instance_name", 201)])
def test_overlong_identifiers_are_refused_or_kept_without_a_500(harness, field, expected):
    """An over-long instanceID is refused; a household number that long names no household; a long
    instanceName is only a label and is shortened."""
    if field == "instance_id":
        xml = submission_xml(instance_id="uuid:" + "0" * 300)
    elif field == "household":
        xml = submission_xml(household="2105040010010001" * 3)
    else:
        xml = submission_xml().replace(b"</meta>", b"<instanceName>" + "名".encode() * 300 + b"</instanceName></meta>")
    _status(harness, harness.post(*multipart(parts_for(xml, {}))), expected)


def test_nul_in_device_id_is_dropped(harness):
    _status(harness, harness.post(*multipart(parts_for(submission_xml(), {})), query="?deviceID=collect%00abc"), 201)
    with session_scope(harness.sessions) as session:
        assert session.scalar(select(Submission.client_device_id)) == "collectabc"


def test_nul_in_attachment_content_type_is_dropped(harness):
    body, content_type = multipart([Part(b"xml_submission_file", b"submission.xml", b"text/xml",
                                         submission_xml(photo_family="a.jpg")),
                                    Part(b"a.jpg", b"a.jpg", b"image/jp\x00eg", b"bytes")])
    _status(harness, harness.post(body, content_type), 201)


def test_nul_in_basic_user_name_is_401(client):
    token = base64.b64encode(b"adm\x00in:secret-pass").decode()
    response = client.head("/submission", headers={"Authorization": f"Basic {token}"})
    assert response.status_code == 401
