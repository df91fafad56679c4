"""The exit procedure (退出程序): households in it with their filters, one household's steps beside the exit standard,
and the next step entered by those whose level allows it. Everything in the caller's areas; another area's household
answers 404, a cadre's write 403."""
from __future__ import annotations

from flask import jsonify, request, url_for
from marshmallow import Schema, fields, validate

from server.api import bp
from server.api.common import load
from server.api.openapi import documented, page_of
from server.api.schemas import PageQuerySchema
from server.audit import record
from server.auth import require_api_user
from server.db import utcnow
from server.models import VISIT_ROLES
from server.readmodels import resolve_area
from server.errors import Problem
from server.media_http import send_blob
from server.runtime import db, runtime
from server.scope import level_for, scoped_household
from sync.exit_procedure import (MAX_PHOTO, MAX_NOTE, ORDER, STEPS, document_photo, enter_step, exit_detail,
                                 household_step, list_exits)
from sync.renovation_ledger import china_today


class ExitQuerySchema(PageQuerySchema):
    #: the last step reached
    step = fields.String(validate=validate.OneOf(ORDER))
    #: true: 备案标注 entered; false: still in the procedure
    done = fields.Boolean()


class ExitHouseholdSchema(Schema):
    household = fields.String()
    head_name = fields.String()
    village = fields.String()
    status = fields.String()
    #: the exit standard (脱贫标准) as the household's record judges it now; null when it cannot be judged
    standard_met = fields.Boolean(allow_none=True)


class ExitRowSchema(ExitHouseholdSchema):
    #: the last step reached
    step = fields.String(metadata={"enum": list(ORDER)})
    step_zh = fields.Function(lambda row: STEPS[row.step][0])
    #: how many of the seven steps are done
    reached = fields.Integer()
    last_on = fields.Date()
    done = fields.Boolean()


class ExitStepSchema(Schema):
    step = fields.String(metadata={"enum": list(ORDER)})
    step_zh = fields.Function(lambda s: STEPS[s.step][0])
    on = fields.Date()
    note = fields.String(allow_none=True)
    #: the exit standard as the record judged it when the step was entered
    standard_met = fields.Boolean(allow_none=True)
    by = fields.String(attribute="by_name")
    at = fields.DateTime()
    #: the document photo, served as the image type its check found; null when none was given
    photo_url = fields.Function(lambda s: url_for("api.exit_step_photo", number=s.household.number, step=s.step)
                                if s.photo_sha256 else None)


class ExitDetailSchema(ExitHouseholdSchema):
    steps = fields.List(fields.Nested(ExitStepSchema))
    next_step = fields.String(allow_none=True)
    done = fields.Boolean()
    #: whether the caller may enter the next step
    may_enter_next = fields.Boolean()


class ExitStepEntrySchema(Schema):
    step = fields.String(required=True, validate=validate.OneOf(ORDER))
    #: the day the step took place
    on = fields.Date(required=True)
    note = fields.String(allow_none=True, validate=validate.Length(max=MAX_NOTE))


@bp.get("/exits")
@documented(query=ExitQuerySchema, response=page_of(ExitRowSchema))
def list_exit_procedures():
    """Households in the exit procedure (退出程序) in the caller's areas, by household number

    Filters: area (a code: that area and below), step (the last step reached), done."""
    principal = require_api_user(*VISIT_ROLES)
    args = load(ExitQuerySchema(), request.args)
    page = list_exits(db(), principal.scope, area=resolve_area(db(), principal.scope, args.get("area")),
                      step=args.get("step"), done=args.get("done"), limit=args["limit"], offset=args["offset"])
    return jsonify({"total": page.total, "items": ExitRowSchema(many=True).dump(page.items)})


@bp.get("/exits/<number>")
@documented(response=ExitDetailSchema)
def get_exit_procedure(number: str):
    """One household's exit procedure: the steps done, the next one, the exit standard beside them"""
    principal = require_api_user(*VISIT_ROLES)
    household, area, household_record = scoped_household(db(), principal.scope, number)
    detail = exit_detail(db(), household, area.name, household_record.exit_eligible if household_record else None,
                         principal.user.role, level_for(db(), principal.user, area))
    return jsonify(ExitDetailSchema().dump(detail))


@bp.post("/exits/<number>/steps")
@documented(body=ExitStepEntrySchema, response=ExitDetailSchema)
def enter_exit_step(number: str):
    """Enter the next step of a household's exit procedure (民主评议 → 核实 → 村内公示 → 镇核查 → 县抽查 → 批准公告 →
    备案标注)

    Village steps: a supervisor of the village or above; 镇核查: of the town or above; the county's three: a county
    supervisor or an admin. Steps in order (409), dated neither in the future nor before the previous step (400).
    JSON, or multipart/form-data with the same fields and an optional document photo in `photo` (JPEG, PNG, WebP
    or GIF, checked by decoding it)."""
    principal = require_api_user(*VISIT_ROLES)
    household, area, _ = scoped_household(db(), principal.scope, number)
    multipart = request.mimetype == "multipart/form-data"
    body = load(ExitStepEntrySchema(), request.form.to_dict() if multipart else request.get_json(silent=True) or {})
    upload = request.files.get("photo") if multipart else None
    data = upload.stream.read(MAX_PHOTO + 1) if upload and upload.filename else None
    photo = document_photo(data, upload.filename, upload.mimetype) if data is not None else None
    now = utcnow()
    enter_step(db(), household, body["step"], body["on"], body.get("note"), principal.user,
               level_for(db(), principal.user, area), now, china_today(now), photo)
    if data is not None:
        runtime().store.put_bytes(data)
    record(db(), "exit.step", f"household:{number}", {"step": body["step"], "on": body["on"].isoformat(),
                                                      "note": body.get("note"), "photo": photo[0] if photo else None})
    db().commit()
    return get_exit_procedure(number)


@bp.get("/exits/<number>/steps/<step>/photo")
@documented(media_type="image/*")
def exit_step_photo(number: str, step: str):
    """A step's document photo, served only as the image type its check found"""
    principal = require_api_user(*VISIT_ROLES)
    household, _area, _record = scoped_household(db(), principal.scope, number)
    entered = household_step(db(), household.id, step)
    if entered is None or entered.photo_sha256 is None:
        raise Problem(404, "exit.photo_not_found", "这一步没有照片。", "This step has no photo.")
    return send_blob(runtime().store, entered.photo_sha256, entered.photo_type, f"{number}-{step}")
