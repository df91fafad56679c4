"""What a form module declares: the shape every bundled form takes in sync/forms.

A form module says, in one place, everything the rest of the system needs to know about its form: which XLSForm
it is, the instance paths it reads and how they become a fact (household fields and the form's own record), how
the fold keeps its records, the labels of what it sets (zh/en), its photo roles and what the household file shows
of it. facts, fold, the entity list, the pages and the review read these declarations; nothing outside a form's
module names its questions.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any, Callable, Mapping
from xml.etree.ElementTree import Element

from sync.values import Reader


@dataclasses.dataclass(frozen=True)
class Text:
    """A text in the two languages of the UI."""

    zh: str
    en: str

    def __call__(self, lang: str) -> str:
        return self.en if lang == "en" else self.zh


@dataclasses.dataclass(frozen=True)
class Field:
    """A household field: its label and, when its values are codes, each code's label."""

    label: Text
    values: Mapping[str, Text] | None = None

    def value_label(self, value: Any, lang: str) -> str | None:
        """The code's label, or None when the value is shown as it is."""
        if self.values is None or not isinstance(value, str) or value not in self.values:
            return None
        return self.values[value](lang)


@dataclasses.dataclass(frozen=True)
class Detail:
    """One line the household file's timeline shows of a form's record entry.

    `show`: "text" as it is; "money" in yuan; "choice" with the published form's choice labels of `path` (codes in
    `skip` left out); "field" with the value labels of the household field `path`; "gps" as a point with its
    accuracy and its distance to the house.
    """

    key: str
    label: Text
    show: str = "text"
    path: str | None = None
    skip: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class Evidence:
    """What makes a form's entry evidence that it was filled at the house (sync/evidence.py): its photos, named as
    a sentence names them, and the ones a visit must have."""

    photos: Mapping[str, Text]
    required: tuple[str, ...]


#: (household fields observed, the form's own record, member changes), read from a submission
Reading = tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]


@dataclasses.dataclass(frozen=True)
class FormDefinition:
    form_id: str
    #: its file in forms/xlsforms
    xlsform: str
    title: Text
    #: the date question: when the form was filled if meta end/start are missing
    date_question: str
    #: every instance path (relative to the root; repeats' items as "repeat/name") the reader may ask for
    paths: frozenset[str]
    read: Callable[[Reader, Element], Reading]
    #: household fields the form observes (newest observation wins), with their labels
    fields: Mapping[str, Field]
    #: the household fields, of those above, that the devices' households.csv carries (forms/README.md)
    entity_columns: tuple[str, ...]
    #: the household record's list that keeps its entries ("visits", "assessments", "incomes"); None keeps the
    #: entry on its timeline event only
    collection: str | None
    #: the kept entry of one submission (instance id, time, sender and the record), and the key under which a
    #: newer one replaces it (None: every entry is kept)
    keep: Callable[[Any, dt.datetime], tuple[Any, dict[str, Any]] | None]
    #: what the timeline event says without the entry
    summary: Callable[[dict[str, Any]], dict[str, Any]]
    photo_roles: Mapping[str, Text]
    details: tuple[Detail, ...]
    #: shown for an entry the collection no longer keeps (a newer one replaced it)
    superseded: Text | None = None
    #: household fields computed from the kept entries (oldest first), as {name: {"value": …, provenance}}
    derive: Callable[[list[dict[str, Any]]], dict[str, dict[str, Any]]] | None = None
    #: the photos its evidence check judges: a visit's verdict, or another form's data-quality findings
    evidence: Evidence | None = None
    #: paths only older versions of the form have, read so that their submissions keep their values on a rebuild
    #: (the current form must not have them: test_form_definitions.py)
    former_paths: frozenset[str] = frozenset()
    #: its submissions are about a registered household (the `household` question); False for a form about
    #: something not on the roster yet (新发现户报告, sync/outside_reports.py), which is kept as its own row
    about_household: bool = True

    @property
    def counts_as_visit(self) -> bool:
        """Its entries are door-to-door visits: the reconciler judges them and coverage and the map count them."""
        return self.collection == "visits"


def keep_every(fact, at: dt.datetime) -> tuple[None, dict[str, Any]]:
    """An entry for every submission, in time order."""
    return None, {"instance_id": fact.instance_id, "at": at.isoformat(), "by": fact.by, **fact.record}


def put(fields: dict[str, Any], name: str, value: Any) -> None:
    """A household field observed by a submission: only when the form says something."""
    if value not in (None, ""):
        fields[name] = value


YES_NO_VALUES = {"yes": Text("是", "Yes"), "no": Text("否", "No")}
