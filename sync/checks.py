"""Data-quality checks of what a form says about its own filling, and of a visit's answers against the roster.

A form is filled at the house, on the day it names, by the account that sends it (DOMAIN.md "Visit coverage": the
seeds warn against paper visits, 数字脱贫, 弄虚作假; "Data quality": logic errors are found and listed). Each check
gives data-quality findings, never an exception: a time that cannot be read was already left out, with its own
finding, where the XML became a fact (sync/facts.py), and a check without its values says nothing.

Pure: a fact (or the members and visits of a record) and the thresholds of rules.toml's [checks] in, findings out.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from sync.facts import Fact
from sync.forms import definition
from sync.values import CHINA, finding


def fact_findings(fact: Fact, checks: dict[str, float]) -> list[dict[str, Any]]:
    """A form opened far from the date it names, finished implausibly fast (or before it was opened), or carrying
    another user name than the account that sent it (the author is the account: `fact.by`)."""
    form = definition(fact.form)
    title = form.title if form else None
    name_zh, name_en = (title.zh, title.en) if title else (fact.form, fact.form)
    found = []
    start, end = _stamp(fact.meta.get("start")), _stamp(fact.meta.get("end"))
    day = _day(fact.record.get("date"))
    if start is not None and day is not None:
        days = abs((start.astimezone(CHINA).date() - day).days)
        if days > checks["max_start_days_from_date"]:
            found.append(finding(
                "start_far_from_date", fact.instance_id,
                f"{name_zh}（{day}）在 {start.astimezone(CHINA):%Y-%m-%d %H:%M} 打开填写，与表上日期相差 {days} 天",
                f"The {name_en} dated {day} was opened on {start.astimezone(CHINA):%Y-%m-%d %H:%M}, {days} days "
                "away from its date", form=fact.form, date=day.isoformat(), start=start.isoformat(), days=days))
    if start is not None and end is not None:
        minutes = (end - start).total_seconds() / 60
        if minutes < 0:
            found.append(finding(
                "fill_times_inverted", fact.instance_id, f"{name_zh}的结束时间早于开始时间",
                f"The {name_en} says it was finished before it was opened", form=fact.form,
                start=start.isoformat(), end=end.isoformat()))
        elif minutes < checks["min_fill_minutes"]:
            found.append(finding(
                "fill_too_short", fact.instance_id,
                f"{name_zh}从打开到完成只用了 {minutes:.1f} 分钟（至少 {checks['min_fill_minutes']:g} 分钟）",
                f"The {name_en} was filled in {minutes:.1f} minutes (at least {checks['min_fill_minutes']:g})",
                form=fact.form, minutes=round(minutes, 1)))
    claimed = fact.meta.get("username")
    if claimed and fact.by and claimed != fact.by:
        found.append(finding(
            "username_mismatch", fact.instance_id,
            f"{name_zh}上的用户名“{claimed}”不是提交它的账号“{fact.by}”，按账号“{fact.by}”记录",
            f"The {name_en} names the user '{claimed}' but was sent by the account '{fact.by}'; it is recorded as "
            f"'{fact.by}'s", form=fact.form, username=claimed, account=fact.by))
    return found


def insurance_findings(members: list[dict[str, Any]], visits: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The latest visit's 全家参加基本医保 (and how many are not insured) against the members' insurance flags
    (DOMAIN.md "Members": health-insurance enrolment; "Data quality": logic errors). Members whose flag is unknown
    (added by a visit) are not counted against it."""
    if not visits:
        return []
    visit = visits[-1]
    answer = visit.get("all_insured")
    flagged = [m for m in members if isinstance(m.get("insured"), bool)]
    uninsured = [m["name"] for m in flagged if not m["insured"]]
    details = {"instance_id": visit.get("instance_id"), "all_insured": answer, "uninsured_members": uninsured}
    if answer == "yes" and uninsured:
        return [{"code": "insurance_mismatch",
                 "message_zh": f"走访填报全家参加基本医保，成员名单中未参保：{'、'.join(uninsured)}",
                 "message_en": f"The visit says everyone is insured; the members list {', '.join(uninsured)} as "
                               "not insured", "details": details}]
    if answer == "no" and len(flagged) == len(members):
        reported = visit.get("not_insured_count")
        if not uninsured:
            return [{"code": "insurance_mismatch", "message_zh": "走访填报有人未参加基本医保，成员名单中全部参保",
                     "message_en": "The visit says not everyone is insured; the members are all insured",
                     "details": {**details, "reported": reported}}]
        if reported is not None and reported != len(uninsured):
            return [{"code": "insurance_mismatch",
                     "message_zh": f"走访填报未参保 {reported} 人，成员名单中未参保 {len(uninsured)} 人："
                                   f"{'、'.join(uninsured)}",
                     "message_en": f"The visit reports {reported} members not insured; the members list "
                                   f"{len(uninsured)}: {', '.join(uninsured)}", "details": {**details, "reported": reported}}]
    return []


def _stamp(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


def _day(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None
