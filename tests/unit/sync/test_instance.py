"""Reading submission XML: form, version, instance, household and the files it names."""
import pytest

from server.errors import Problem
from sync.instance import parse_instance, referenced_files


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
def test_bad_xml_is_a_400_problem(xml, code):
    with pytest.raises(Problem) as raised:
        parse_instance(xml)
    assert raised.value.status == 400 and raised.value.code == code


def test_referenced_files_follow_binary_paths_into_repeats():
    xml = (b'<visit id="v"><photo>a.jpg</photo><changes><pic>b.jpg</pic></changes><changes><pic>c.jpg</pic>'
           b'</changes><changes><pic/></changes><other>d.jpg</other><meta><instanceID>u</instanceID></meta></visit>')
    root = parse_instance(xml).root
    assert referenced_files(root, ["/visit/photo", "/visit/changes/pic"]) == ["a.jpg", "b.jpg", "c.jpg"]


def test_xml_stored_before_doctypes_were_refused_stays_readable():
    xml = b'<!DOCTYPE data><data id="f"><meta><instanceID>u</instanceID></meta></data>'
    assert parse_instance(xml, stored=True).instance_id == "u"
