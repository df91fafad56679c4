"""sync/safe_xml.py: the C parser only for what cannot hold a DOCTYPE; everything else meets defusedxml."""
from __future__ import annotations

from xml.etree.ElementTree import ParseError

import pytest
from defusedxml import DefusedXmlException, DTDForbidden, EntitiesForbidden

import sync.safe_xml
from forms.instances import bundled
from sync.safe_xml import parse_xml

HH = "2105040010010001"
ENTITIES = '<?xml version="1.0"{}?><!DOCTYPE d [<!ENTITY a "aaaa">]><data>&a;</data>'


@pytest.mark.parametrize("xml", [
    # a billion laughs, in UTF-8, in UTF-16 (no "<!" to find as bytes) and in EBCDIC (declared)
    ENTITIES.format("").encode(),
    ENTITIES.format(' encoding="UTF-16"').encode("utf-16"),
    ENTITIES.format(' encoding="cp037"').encode("cp037"),
])
def test_a_document_with_entities_still_meets_defusedxml_whatever_its_encoding(xml):
    with pytest.raises((DefusedXmlException, ParseError, ValueError, LookupError)):
        parse_xml(xml)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_a_doctype_is_refused_when_asked_and_entities_always(encoding):
    doctype = f'<?xml version="1.0" encoding="{encoding}"?><!DOCTYPE data><data>x</data>'.encode(encoding)
    with pytest.raises(DTDForbidden):
        parse_xml(doctype, forbid_dtd=True)
    assert parse_xml(doctype).text == "x"
    with pytest.raises(EntitiesForbidden):
        parse_xml(ENTITIES.format(f' encoding="{encoding}"').encode(encoding))


def test_the_fast_parser_reads_what_defusedxml_reads(monkeypatch):
    xml = bundled("household_visit").fill({"household": HH, "remarks": "<>&\"'一"})
    assert parse_xml(xml, forbid_dtd=True).find("remarks").text == "<>&\"'一"
    slow = []
    monkeypatch.setattr(sync.safe_xml, "fromstring", lambda *a, **k: slow.append(a))
    parse_xml(xml, forbid_dtd=True)
    assert slow == []  # a submission as ODK sends it takes the C parser
    parse_xml(b"<data><!-- a comment --></data>")
    assert len(slow) == 1  # "<!" (here a comment): defusedxml
