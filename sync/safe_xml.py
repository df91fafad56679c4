"""Parsing XML from outside as fast as it can safely be parsed.

defusedxml's parser is pure Python: it took four times the C parser's time, a fifth of a rebuild's time and most
of an export's. What it guards against (entity expansion, external references, and a DOCTYPE when that is
refused) needs a `<!DOCTYPE`, so a document with no `<!` at all, in UTF-8 (no NUL byte, so not UTF-16; no other
declared encoding, so not EBCDIC), cannot use any of them and goes to the C parser; anything else (a comment or a
CDATA section included) still goes through defusedxml. ODK clients send neither, so nearly every submission takes
the fast way."""
from __future__ import annotations

import re
from xml.etree import ElementTree
from xml.etree.ElementTree import Element

from defusedxml.ElementTree import fromstring

#: bytes fed to the C parser at a time: fed whole, expat copies the document into a buffer of its own, and a 10 MB
#: submission peaked at 3.3 times its size (1.6 times this way; defusedxml's parser 1.8 times)
FEED = 64 * 1024
_DECLARATION = re.compile(rb"\s*<\?xml\s[^>]*\?>")
_UTF8 = re.compile(rb"""encoding\s*=\s*["']utf-?8["']""", re.I)


def parse_xml(xml: bytes, *, forbid_dtd: bool = False) -> Element:
    """The document's root; raises what ElementTree and defusedxml raise (ParseError, DTDForbidden,
    EntitiesForbidden, …)."""
    declaration = _DECLARATION.match(xml)
    declared = declaration.group(0) if declaration else b""
    if b"<!" not in xml and b"\x00" not in xml and (b"encoding" not in declared or _UTF8.search(declared)):
        parser = ElementTree.XMLParser()
        view = memoryview(xml)
        for start in range(0, len(xml), FEED):
            parser.feed(view[start:start + FEED])
        return parser.close()
    return fromstring(xml, forbid_dtd=forbid_dtd)
