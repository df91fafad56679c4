"""Reading submission XML: form, version, instance, household and the files it names."""
import tracemalloc

import pytest

from server.errors import DomainError
from sync.instance import MAX_MARKUP, parse_instance, referenced_files


def test_parse_reads_ids_and_household_from_entity():
    xml = (b'<data id="household_visit" version="5"><household>111</household><meta>'
           b'<instanceID>uuid:1</instanceID><deprecatedID>uuid:0</deprecatedID><instanceName>x</instanceName>'
           b'<entity dataset="households" id="222" update="1" baseVersion="3"/></meta></data>')
    parsed = parse_instance(xml)
    assert (parsed.xml_form_id, parsed.version, parsed.instance_id) == ("household_visit", "5", "uuid:1")
    assert parsed.deprecated_id == "uuid:0" and parsed.instance_name == "x"
    assert parsed.household_number == "222"  # the entity id wins over a field


def test_parse_falls_back_to_the_household_field_and_handles_namespaces():
    xml = (b'<h:data xmlns:h="http://example/x" id="f"><h:grp><h:household> 333 </h:household></h:grp>'
           b'<h:meta><h:instanceID>uuid:9</h:instanceID></h:meta></h:data>')
    parsed = parse_instance(xml)
    assert parsed.household_number == "333" and parsed.version == ""


@pytest.mark.parametrize("xml, code", [
    (b"<data", "submission.xml_invalid"),
    (b'<!DOCTYPE x [<!ENTITY a "aaaa">]><data id="f">&a;</data>', "submission.xml_doctype"),
    (b'<!DOCTYPE d SYSTEM "file:///etc/passwd"><data id="f"><meta><instanceID>u</instanceID></meta></data>',
     "submission.xml_doctype"),
    (b'<!DOCTYPE data><data id="f"><meta><instanceID>u</instanceID></meta></data>', "submission.xml_doctype"),
    (b"<data><meta><instanceID>u</instanceID></meta></data>", "submission.form_id_missing"),
    (b'<data id="f"><meta><instanceID>  </instanceID></meta></data>', "submission.instance_id_missing"),
])
def test_bad_xml_is_refused_as_invalid(xml, code):
    with pytest.raises(DomainError) as raised:
        parse_instance(xml)
    assert raised.value.kind == "invalid" and raised.value.code == code


def test_referenced_files_follow_binary_paths_into_repeats():
    xml = (b'<visit id="v"><photo>a.jpg</photo><changes><pic>b.jpg</pic></changes><changes><pic>c.jpg</pic>'
           b'</changes><changes><pic/></changes><other>d.jpg</other><meta><instanceID>u</instanceID></meta></visit>')
    root = parse_instance(xml).root
    assert referenced_files(root, ["/visit/photo", "/visit/changes/pic"]) == ["a.jpg", "b.jpg", "c.jpg"]


def test_xml_stored_before_doctypes_were_refused_stays_readable():
    xml = b'<!DOCTYPE data><data id="f"><meta><instanceID>u</instanceID></meta></data>'
    assert parse_instance(xml, stored=True).instance_id == "u"


HEAD = b'<data id="f" version="1"><meta><instanceID>uuid:1</instanceID></meta>'
MB = 1024 * 1024


def parse_peak(xml: bytes) -> int:
    """Bytes Python allocated at most while parsing `xml`."""
    tracemalloc.start()
    try:
        parse_instance(xml)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("unit", [b"<a/>", b'<a b="1"/>', b'<a b="' + b"x" * 40 + b'"/>', b"<q>yes</q>"])
def test_parsing_the_most_markup_allowed_takes_a_bounded_amount_of_memory(unit):
    """ElementTree keeps a few hundred bytes per element or attribute: without a bound, 10 MB of tiny elements
    took 200 MB, a 73 MB part a gigabyte. At the bound the worst shapes stay under 5 times the 10 MB XML cap."""
    xml = HEAD + unit * (MAX_MARKUP // unit.count(b"<") - 10) + b"</data>"
    assert parse_peak(xml) < 50 * MB


def test_parsing_a_large_submission_takes_about_its_size():
    xml = HEAD + (b"<remark>" + b"x" * 180 + b"</remark>") * (MAX_MARKUP // 2 - 10) + b"</data>"
    assert len(xml) > 9 * MB
    assert parse_peak(xml) < 3 * len(xml)


@pytest.mark.parametrize("unit", [b"<a/>", b'<a b="1" c="2"/>', b"<q>a=b</q>"])
def test_more_markup_than_the_bound_is_refused_before_parsing(unit):
    xml = HEAD + unit * (MAX_MARKUP + 1) + b"</data>"
    with pytest.raises(DomainError) as raised:
        parse_instance(xml)
    assert raised.value.kind == "too_large" and raised.value.code == "submission.xml_too_complex"
    assert parse_instance(xml, stored=True).instance_id == "uuid:1"
