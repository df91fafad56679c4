"""Marshmallow schemas: what the API reads and writes."""
from __future__ import annotations

from marshmallow import Schema, fields, validate


class FormMessageSchema(Schema):
    sheet = fields.String(allow_none=True)
    row = fields.Integer(allow_none=True)
    message_zh = fields.String()
    message_en = fields.String()


class FormAttachmentSchema(Schema):
    filename = fields.String()
    dataset = fields.String(allow_none=True)
    md5 = fields.String(allow_none=True)
    size = fields.Integer(allow_none=True)
    present = fields.Function(lambda a: bool(a.dataset or a.sha256))


class FormVersionSchema(Schema):
    version = fields.String()
    title = fields.String()
    hash = fields.Function(lambda v: f"md5:{v.xform_md5}")
    published_at = fields.DateTime()
    warnings = fields.List(fields.Nested(FormMessageSchema))
    attachments = fields.List(fields.Nested(FormAttachmentSchema))


class FormSchema(Schema):
    form_id = fields.String(attribute="xml_form_id")
    state = fields.String()
    current_version = fields.Nested(FormVersionSchema, allow_none=True)


class FormStateSchema(Schema):
    state = fields.String(required=True, validate=validate.OneOf(["open", "closing", "closed"]))


class SubmissionAttachmentSchema(Schema):
    filename = fields.String()
    state = fields.String()
    size = fields.Integer(allow_none=True)
    content_type = fields.String(allow_none=True)
    sha256 = fields.String(allow_none=True)


class SubmissionSchema(Schema):
    instance_id = fields.String()
    form_id = fields.Function(lambda s: s.form_xml_id)
    version = fields.Function(lambda s: s.form_version_string)
    deprecated_id = fields.String(allow_none=True)
    current = fields.Boolean()
    instance_name = fields.String(allow_none=True)
    household_number = fields.String(allow_none=True)
    review_state = fields.String()
    received_at = fields.DateTime()
    attachments = fields.List(fields.Nested(SubmissionAttachmentSchema))


class SubmissionQuerySchema(Schema):
    form_id = fields.String()
    household = fields.String()
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0))
