"""A form's submissions as CSV, XLSX or a zip (CSV per table plus the photos), one pass over the database.

One row per current submission (an edit replaces what it edits, as everywhere), every question a column in the
form's order across all its versions (forms/columns.py), then the server's own columns, named as ODK Central
names them. Repeats are tables of their own keyed to their submission (the zip's extra CSVs, the workbook's
extra sheets); the plain CSV holds the main table only. While the main table streams, the repeats' rows go to
temporary files, copied in after it: memory stays flat, and the export reads one consistent set of rows.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import tempfile
from typing import Callable, Iterator

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, aliased

from forms.columns import Column, ExportShape, Table, export_shape, merge
from forms.flatten import Flattener
from forms.models import Form, FormVersion
from media.store import BlobNotFound, Store
from server.exports.common import BATCH, REVIEW_STATES_ZH, VERDICTS_ZH, china_time
from server.exports.stream import CsvTable, Sink, Workbook, ZipStream
from server.models import User
from server.scope import AreaScope
from sync.idcard import check_digit_ok, is_id_number_question, mask
from sync.models import Area, Submission, SubmissionAttachment
from sync.records import Visit

BEFORE = (("SubmissionDate", "接收时间"),)
AFTER = (("KEY", "提交编号"), ("SubmitterID", "提交账号"), ("SubmitterName", "提交人"), ("ReviewState", "审核状态"),
         ("Verdict", "走访核实"), ("FormVersion", "表单版本"))
REPEAT_KEYS = (("PARENT_KEY", "所属提交"), ("KEY", "编号"))
MASK_NOTE = "身份证号已部分隐藏（只显示前 6 位和后 4 位）"
_UNSAFE_NAME = re.compile(r"[^\w.\-]+")


@dataclasses.dataclass(frozen=True)
class SubmissionFilter:
    form: Form
    scope: AreaScope
    area: Area | None = None
    #: received in [start, end), UTC
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    review_state: str | None = None


def form_shape(session: Session, form: Form) -> ExportShape:
    """The union of the shapes of every version of the form, newest first."""
    xforms = session.scalars(select(FormVersion.xform).where(FormVersion.form_id == form.id)
                             .order_by(FormVersion.published_at.desc(), FormVersion.id.desc())).all()
    return merge([export_shape(x) for x in xforms])


def _statement(f: SubmissionFilter) -> Select:
    submitter = aliased(User)
    statement = (select(Submission.id, Submission.instance_id, Submission.xml, Submission.received_at,
                        Submission.review_state, FormVersion.version, submitter.username,
                        submitter.display_name, Visit.verdict)
                 .join(FormVersion, Submission.form_version_id == FormVersion.id)
                 .outerjoin(submitter, Submission.submitter_id == submitter.id)
                 .outerjoin(Visit, Visit.submission_id == Submission.id)
                 .where(Submission.form_id == f.form.id, Submission.current.is_(True)))
    statement = f.scope.filter_own(statement, Submission.area_id, Submission.submitter_id)
    if f.area is not None:
        statement = statement.where(Submission.area_id.in_(select(Area.id).where(Area.path.startswith(f.area.path))))
    if f.start is not None:
        statement = statement.where(Submission.received_at >= f.start)
    if f.end is not None:
        statement = statement.where(Submission.received_at < f.end)
    if f.review_state:
        statement = statement.where(Submission.review_state == f.review_state)
    return statement.order_by(Submission.id)


def media_name(instance_id: str, filename: str) -> str:
    """Where a submission's file is in the zip: a folder per submission (two phones can name photos alike)."""
    return f"media/{_UNSAFE_NAME.sub('_', instance_id)}/{_UNSAFE_NAME.sub('_', filename)}"


def _cell(full_ids: bool, instance_id: str | None) -> Callable[[Column, str], str]:
    def cell(column: Column, value: str) -> str:
        if not value:
            return value
        if column.kind == "binary" and instance_id is not None:
            return media_name(instance_id, value)
        if not full_ids and len(value) > 10 and (is_id_number_question(column.path.rsplit("/", 1)[-1])
                                                 or check_digit_ok(value)):
            return mask(value)
        return value
    return cell


def _headers(table: Table) -> list[str]:
    def named(pairs) -> list[str]:
        return [f"{zh} ({name})" for name, zh in pairs]
    questions = [c.header for c in table.columns]
    if table.path:
        return named(REPEAT_KEYS) + questions
    return named(BEFORE) + questions + named(AFTER)


class _Rows:
    """Each submission's rows: the main row handed on, repeat rows kept for later in temporary files."""

    def __init__(self, session: Session, f: SubmissionFilter, shape: ExportShape, full_ids: bool, with_media: bool):
        self.session, self.filter, self.shape = session, f, shape
        self.full_ids, self.with_media = full_ids, with_media

    def __iter__(self) -> Iterator[tuple[list, list]]:
        result = self.session.execute(_statement(self.filter).execution_options(yield_per=BATCH))
        flattener = Flattener(self.shape)
        plain = _cell(self.full_ids, None)
        for row in result:
            rows = flattener.rows(row.xml, row.instance_id,
                                  _cell(self.full_ids, row.instance_id) if self.with_media else plain)
            main = rows[0]
            values = ([china_time(row.received_at)] + main.values
                      + [row.instance_id, row.username or "", row.display_name or row.username or "",
                         REVIEW_STATES_ZH.get(row.review_state, row.review_state),
                         VERDICTS_ZH.get(row.verdict, row.verdict or ""), row.version])
            yield values, rows[1:]


def _numeric(table: Table) -> list[bool]:
    """Which columns are numbers (written as numbers in the workbook, so sums work)."""
    flags = [c.kind in ("int", "decimal") or c.part is not None for c in table.columns]
    if table.path:
        return [False] * len(REPEAT_KEYS) + flags
    return [False] * len(BEFORE) + flags + [False] * len(AFTER)


def csv_export(session: Session, f: SubmissionFilter, full_ids: bool) -> Iterator[bytes]:
    shape = form_shape(session, f.form)
    sink = Sink()
    table = CsvTable(sink, _headers(shape.main))
    yield sink.drain()
    for values, _repeats in _Rows(session, f, shape, full_ids, with_media=False):
        table.row(values)
        yield sink.drain()


class _Spool:
    """A repeat's rows, kept on disk (one JSON list per line) until the main table is written."""

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile()

    def add(self, values: list[str]) -> None:
        self._file.write(json.dumps(values, ensure_ascii=False).encode("utf-8") + b"\n")

    def rows(self) -> Iterator[list[str]]:
        self._file.seek(0)
        for line in self._file:
            yield json.loads(line)

    def close(self) -> None:
        self._file.close()


def _keep(spools: dict[str, _Spool], repeats: list) -> None:
    for r in repeats:
        spools[r.table.path].add([r.parent_key, r.key] + r.values)


def xlsx_export(session: Session, f: SubmissionFilter, full_ids: bool) -> Iterator[bytes]:
    shape = form_shape(session, f.form)
    book = Workbook()
    spools = {t.path: _Spool() for t in shape.repeats}
    try:
        with book.sheet(shape.form_id, _headers(shape.main), _numeric(shape.main)) as sheet:
            for values, repeats in _Rows(session, f, shape, full_ids, with_media=False):
                sheet.row(values)
                _keep(spools, repeats)
                yield book.drain()
        for table in shape.repeats:
            with book.sheet(table.name, _headers(table), _numeric(table)) as sheet:
                for values in spools[table.path].rows():
                    sheet.row(values)
                    yield book.drain()
    finally:
        for spool in spools.values():
            spool.close()
    if not full_ids:
        with book.sheet("说明", ["说明"]) as sheet:
            sheet.row([MASK_NOTE])
    yield book.close()


def zip_export(session: Session, f: SubmissionFilter, store: Store, full_ids: bool,
               with_media: bool) -> Iterator[bytes]:
    shape = form_shape(session, f.form)
    archive = ZipStream()
    spools = {t.path: _Spool() for t in shape.repeats}
    try:
        with archive.entry(f"{shape.form_id}.csv") as handle:
            main = CsvTable(handle, _headers(shape.main))
            for values, repeats in _Rows(session, f, shape, full_ids, with_media):
                main.row(values)
                _keep(spools, repeats)
                yield archive.drain()
        for table in shape.repeats:
            with archive.entry(f"{table.name}.csv") as handle:
                repeat = CsvTable(handle, _headers(table))
                for values in spools[table.path].rows():
                    repeat.row(values)
                    yield archive.drain()
    finally:
        for spool in spools.values():
            spool.close()
    if with_media:
        yield from _media(session, f, store, archive)
    yield archive.close()


def _media(session: Session, f: SubmissionFilter, store: Store, archive: ZipStream) -> Iterator[bytes]:
    """The exported submissions' files that arrived, each under its submission's folder; photos are already
    compressed, so they are stored as they are."""
    ids = _statement(f).with_only_columns(Submission.id).order_by(None).subquery()
    files = session.execute(
        select(Submission.instance_id, SubmissionAttachment.filename, SubmissionAttachment.sha256)
        .join(SubmissionAttachment, SubmissionAttachment.submission_id == Submission.id)
        .where(Submission.id.in_(select(ids.c.id)), SubmissionAttachment.sha256.is_not(None))
        .order_by(Submission.id, SubmissionAttachment.filename).execution_options(yield_per=BATCH))
    for instance_id, filename, sha256 in files:
        try:
            blob = store.open(sha256)
        except BlobNotFound:
            continue
        with blob, archive.entry(media_name(instance_id, filename), compress=False) as handle:
            for chunk in iter(lambda: blob.read(1 << 16), b""):
                handle.write(chunk)
                yield archive.drain()
