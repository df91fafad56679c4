"""The bundled forms, one module each (visit, assessment, income, monitoring, report): everything the system
knows about a form.

Adding a form is its XLSForm in forms/xlsforms, a module here declaring a `FormDefinition` (sync/forms/base.py),
and its line in `DEFINITIONS`. tests/unit/sync/test_form_definitions.py compiles each XLSForm and checks that every
path the module reads exists in it and that everything it shows has a label in both languages.
"""
from __future__ import annotations

from typing import Any

from sync.forms import assessment, income, monitoring, report, visit
from sync.forms.base import Field, FormDefinition, Text

DEFINITIONS: dict[str, FormDefinition] = {d.form_id: d for d in (visit.DEFINITION, assessment.DEFINITION,
                                                                 income.DEFINITION, monitoring.DEFINITION,
                                                                 report.DEFINITION)}

#: household fields that come from the roster, not from a form
ROSTER_FIELDS = {"status": Field(Text("户类型", "Household status"))}


def _household_fields() -> dict[str, Field]:
    fields = dict(ROSTER_FIELDS)
    for definition in DEFINITIONS.values():
        for name, field in definition.fields.items():
            if fields.setdefault(name, field) != field:
                raise ValueError(f"{definition.form_id} declares the household field {name} unlike another form")
    return fields


#: every household field a record can hold, with its label and value labels
HOUSEHOLD_FIELDS = _household_fields()
#: the household fields the devices' households.csv carries after the roster's columns, in the forms' order
ENTITY_COLUMNS = tuple(dict.fromkeys(c for d in DEFINITIONS.values() for c in d.entity_columns))
#: the form whose entries are the door-to-door visits (the `visits` table; coverage and the map count them)
VISIT_FORM = next(d.form_id for d in DEFINITIONS.values() if d.counts_as_visit)


def definition(form_id: str | None) -> FormDefinition | None:
    return DEFINITIONS.get(form_id or "")


def form_title(form_id: str | None, published: str | None, lang: str) -> str:
    """A form's title in the page's language: a bundled form's module has both (its XLSForm's one title is the
    Chinese one, which Collect lists); another form has the title its XLSForm gives, else its id."""
    found = definition(form_id)
    return found.title(lang) if found else (published or form_id or "")


def field_label(name: str, lang: str) -> str:
    field = HOUSEHOLD_FIELDS.get(name)
    return field.label(lang) if field else name


def value_label(name: str, value: Any, lang: str) -> str | None:
    """A household field's value as people read it, or None when it has no label (shown as it is)."""
    field = HOUSEHOLD_FIELDS.get(name)
    return field.value_label(value, lang) if field else None


def photo_role(form_id: str, role: str, lang: str) -> str:
    found = definition(form_id)
    text = found.photo_roles.get(role) if found else None
    return text(lang) if text else role
