"""The length caps of a submission's identifiers, household number, instance name and file names, and the markup
bound, each pinned from both sides (issue 14 item 13; OPENROSA.md: a submission's meta/instanceID)."""
import pytest

from server.errors import DomainError
from sync.instance import (MAX_FILENAME, MAX_HOUSEHOLD_NUMBER, MAX_ID, MAX_MARKUP, parse_instance,
                           referenced_files)


def xml(instance_id="uuid:1", form_id="f", version="1", deprecated="", name="", household="", entity=""):
    deprecated = f"<deprecatedID>{deprecated}</deprecatedID>" if deprecated else ""
    name = f"<instanceName>{name}</instanceName>" if name else ""
    household = f"<household>{household}</household>" if household else ""
    return (f'<data id="{form_id}" version="{version}">{household}<meta><instanceID>{instance_id}</instanceID>'
            f"{deprecated}{name}{entity}</meta></data>").encode()


def refused(data, **kwargs):
    with pytest.raises(DomainError) as raised:
        parse_instance(data, **kwargs)
    return raised.value.kind, raised.value.code


def test_the_caps():
    assert (MAX_ID, MAX_HOUSEHOLD_NUMBER, MAX_FILENAME, MAX_MARKUP) == (255, 32, 255, 100_000)


@pytest.mark.parametrize("field", ["instance_id", "form_id", "version", "deprecated"])
def test_identifiers_of_255_characters_pass_and_of_256_are_refused(field):
    value = "u" * 255
    parsed = parse_instance(xml(**{field: value}))
    assert {"instance_id": parsed.instance_id, "form_id": parsed.xml_form_id, "version": parsed.version,
            "deprecated": parsed.deprecated_id}[field] == value
    assert refused(xml(**{field: value + "u"})) == ("invalid", "submission.id_too_long")


def test_a_household_number_of_32_characters_is_kept_and_a_longer_one_names_no_household():
    assert parse_instance(xml(household="H" * 32)).household_number == "H" * 32
    assert parse_instance(xml(household="H" * 33)).household_number is None
    entity = '<entity dataset="households" id=" {} " update="1"/>'
    assert parse_instance(xml(entity=entity.format("E" * 32))).household_number == "E" * 32
    assert parse_instance(xml(entity=entity.format("E" * 33))).household_number is None


def test_only_an_entity_of_the_households_dataset_names_the_household():
    other = xml(household="H7", entity='<entity dataset="other" id="E1"/>')
    assert parse_instance(other).household_number == "H7"
    no_id = xml(household="H7", entity='<entity dataset="households" id=""/>')
    assert parse_instance(no_id).household_number == "H7"
    assert parse_instance(xml()).household_number is None


def test_the_instance_name_is_cut_at_255_characters():
    assert parse_instance(xml(name="n" * 256)).instance_name == "n" * 255
    assert parse_instance(xml(name="n" * 255)).instance_name == "n" * 255
    assert parse_instance(xml()).instance_name is None


def test_file_names_of_255_characters_pass_and_of_256_are_refused():
    root = parse_instance(b'<v id="v"><p>' + b"a" * 255 + b"</p><p>a.jpg</p><p>a.jpg</p><meta><instanceID>u"
                          b"</instanceID></meta></v>").root
    assert referenced_files(root, ["/v/p"]) == ["a" * 255, "a.jpg"]  # each name once
    assert referenced_files(root, ["v/p/"]) == ["a" * 255, "a.jpg"]
    long_root = parse_instance(b'<v id="v"><p>' + b"a" * 256 + b"</p><meta><instanceID>u</instanceID></meta></v>").root
    with pytest.raises(DomainError) as raised:
        referenced_files(long_root, ["/v/p"])
    assert (raised.value.kind, raised.value.code) == ("invalid", "submission.filename_too_long")


@pytest.mark.parametrize("char", [b"<", b"="])
def test_markup_up_to_the_bound_passes_and_one_more_is_refused(char):
    """A "<" or a "=" more than MAX_MARKUP is refused before parsing, however many of the other there are."""
    base = xml()
    fill = MAX_MARKUP - base.count(char)
    body = b"<q/>" * fill if char == b"<" else b"<q>" + b"=" * fill + b"</q>"
    at_bound = base.replace(b"<meta>", body + b"<meta>")
    assert at_bound.count(char) == MAX_MARKUP
    assert parse_instance(at_bound).instance_id == "uuid:1"
    over = at_bound.replace(b"<meta>", (b"<q/>" if char == b"<" else b"<q>=</q>") + b"<meta>")
    assert refused(over) == ("too_large", "submission.xml_too_complex")
