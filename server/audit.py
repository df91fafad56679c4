"""The audit log: every privileged action, who did it, when, from where, and what changed.

Handlers call `record` with the request's session just before they commit, so an entry is written in the same
transaction as its action, and an action that rolls back leaves no entry. The command line, and the server's
own start (the first admin from ZOUFANG_ADMIN_USER, the bundled forms), record as "cli".
Entries are only ever added (`AuditEntry` has no update or delete path); `entries` reads them for the admin page
and the API.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from flask import g, has_request_context, request
from flask_babel import lazy_gettext
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.models import AuditEntry
from sync.models import Household
from sync.records import Conflict
from sync.review_models import ReviewComment

#: action code → label; the admin page's filter lists them in this order
ACTIONS = {
    "user.create": lazy_gettext("创建用户"),
    "user.activate": lazy_gettext("启用用户"),
    "user.deactivate": lazy_gettext("停用用户"),
    "user.password_reset": lazy_gettext("重设密码"),
    "user.duty": lazy_gettext("更改走访身份"),
    "device.create": lazy_gettext("创建设备令牌"),
    "device.revoke": lazy_gettext("撤销设备令牌"),
    "api_token.create": lazy_gettext("创建 API 令牌"),
    "api_token.revoke": lazy_gettext("撤销 API 令牌"),
    "areas.import": lazy_gettext("导入行政区域"),
    "roster.import": lazy_gettext("导入建档立卡名单"),
    "form.publish": lazy_gettext("发布表单"),
    "form.state": lazy_gettext("更改表单状态"),
    "submission.review": lazy_gettext("审核提交"),
    "conflict.resolve": lazy_gettext("解决冲突"),
    "submission.area_decision": lazy_gettext("决定超出辖区的提交"),
    "household.location": lazy_gettext("确认位置"),
    "app.upload": lazy_gettext("上传 ODK Collect 安装包"),
    "case.sign_off": lazy_gettext("问题销号"),
    "case.measure": lazy_gettext("记录帮扶措施"),
    "renovation.entry": lazy_gettext("登记危房改造台账"),
    "exit.step": lazy_gettext("登记退出程序"),
    "outside.decision": lazy_gettext("决定新发现户是否纳入"),
    "monitoring.decision": lazy_gettext("监测对象决定"),
    "monitoring.measure": lazy_gettext("登记监测帮扶措施"),
}
CLI = "cli"


def record(session: Session, action: str, target: str, details: dict[str, Any] | None = None) -> None:
    """Add an entry to the session's transaction: by the request's authenticated account and address, or by the
    command line outside a request. `details` must never hold a password or a token."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    if has_request_context():
        principal = g.principal
        actor, actor_id, address = principal.user.username, principal.user_id, request.remote_addr
    else:
        actor, actor_id, address = CLI, None, None
    session.add(AuditEntry(actor=actor, actor_id=actor_id, address=address, action=action, target=target[:300],
                           details=details or {}))


def record_review(session: Session, xml_form_id: str, instance_id: str, before: str,
                  step: ReviewComment | None) -> None:
    """A review step as set_review made it (None: nothing changed, nothing to record)."""
    if step is None:
        return
    details: dict[str, Any] = {"comment": step.body} if step.body else {}
    if step.review_state is not None:
        details.update({"from": before, "to": step.review_state})
    record(session, "submission.review", f"submission:{xml_form_id}/{instance_id}", details)


def record_area_decision(session: Session, xml_form_id: str, instance_id: str, decision: str,
                         reason: str | None) -> None:
    record(session, "submission.area_decision", f"submission:{xml_form_id}/{instance_id}",
           {"decision": decision, "reason": (reason or "").strip() or None})


def record_resolution(session: Session, conflict: Conflict, value: Any, note: str | None) -> None:
    number = session.scalar(select(Household.number).where(Household.id == conflict.household_id))
    record(session, "conflict.resolve", f"conflict:{conflict.key}",
           {"household": number, "field": conflict.field, "value": value, "note": note})


def record_case_decision(session: Session, action: str, key: str, household: str, kind: str, text: str) -> None:
    """A sign-off (case.sign_off) or a measure entered by hand (case.measure) on a problem case."""
    record(session, action, f"case:{key}", {"household": household, "kind": kind, "text": text})


def day_bounds(first: dt.date | None, last: dt.date | None, zone: dt.tzinfo) -> tuple[dt.datetime | None,
                                                                                   dt.datetime | None]:
    """The instants a range of calendar days in `zone` spans: from the first day's start to the end of the last."""
    start = dt.datetime.combine(first, dt.time(), zone) if first else None
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), zone) if last else None
    return start, end


def entries(session: Session, *, action: str | None = None, actor: str | None = None,
            start: dt.datetime | None = None, end: dt.datetime | None = None, limit: int = 50,
            offset: int = 0) -> tuple[int, list[AuditEntry]]:
    """(how many match, one page of them, newest first); `start` inclusive, `end` exclusive."""
    conditions = []
    if action:
        conditions.append(AuditEntry.action == action)
    if actor:
        conditions.append(AuditEntry.actor == actor)
    if start is not None:
        conditions.append(AuditEntry.at >= start)
    if end is not None:
        conditions.append(AuditEntry.at < end)
    total = session.scalar(select(func.count(AuditEntry.id)).where(*conditions)) or 0
    rows = session.scalars(select(AuditEntry).where(*conditions).order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
                           .limit(limit).offset(offset)).all()
    return total, list(rows)
