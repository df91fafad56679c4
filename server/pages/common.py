"""What every page needs: the logged-in user (or a redirect to /login), role checks, the month being looked
at, the navigation bar, and times and people as people read them (China time, display names)."""
from __future__ import annotations

import datetime as dt
import functools
import re
from typing import Callable, Iterable, TypeVar
from urllib.parse import urlencode

from flask import current_app, flash, g, redirect, request, url_for
from flask_babel import lazy_gettext
from sqlalchemy import select

from server.auth import Principal, session_principal
from server.errors import DomainError, Problem
from server.i18n import current_lang
from server.models import VISIT_ROLES, User
from server.params import CHINA, MAX_OFFSET, MONTH, this_month  # noqa: F401 (pages import CHINA, this_month from here)
from server.runtime import db

#: an ISO 8601 date and time with its offset, as Collect writes start, end and dateTime answers
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}:?\d{2}|Z)$")
#: the bundled forms' answers that name a person (forms/README.md): Collect's user name, and in versions before
#: 2026120601 the visitor, assessor and surveyor, which defaulted to it
PERSON_FIELDS = frozenset({"username", "visitor", "assessor", "surveyor"})

# (endpoint, label, roles that see it, the blueprints whose pages are in this section); an entry shows once its
# page module is there
#: the ledgers (台账) a county keeps and reports upward, one section of the top bar with a tab each: (endpoint,
#: label, roles that see it, its blueprint); the section opens the first the role sees
LEDGERS = [
    ("renovation.list_page", lazy_gettext("危房改造"), ("admin", "supervisor", "cadre", "finance"), "renovation"),
    ("exits.list_page", lazy_gettext("退出程序"), VISIT_ROLES, "exits"),
    ("monitoring.list_page", lazy_gettext("防返贫监测"), VISIT_ROLES, "monitoring"),
    ("outside.list_page", lazy_gettext("新发现户"), VISIT_ROLES, "outside"),
]

NAV = [
    ("coverage.month", lazy_gettext("走访覆盖"), VISIT_ROLES, ("coverage",)),
    ("mapview.map_page", lazy_gettext("地图"), VISIT_ROLES, ("mapview",)),
    ("households.list_page", lazy_gettext("一户一档"), ("admin", "supervisor", "cadre", "finance"), ("households",)),
    (None, lazy_gettext("台账"), ("admin", "supervisor", "cadre", "finance"), tuple(b for *_, b in LEDGERS)),
    ("review.index", lazy_gettext("审核"), ("admin", "supervisor"), ("review", "cases")),
    ("admin.index", lazy_gettext("管理"), ("admin",), ("admin", "audit")),
]


def nav_items() -> list[tuple[str, str, bool]]:
    principal = g.get("principal")
    if principal is None:
        return []
    blueprint = request.endpoint.split(".")[0] if request.endpoint else None
    items = []
    for endpoint, label, roles, blueprints in NAV:
        if endpoint is None:  # the ledgers' section: their first tab
            endpoint = next(iter(ledger_tabs()), (None,))[0]
        if endpoint in current_app.view_functions and principal.user.role in roles:
            items.append((url_for(endpoint), label, blueprint in blueprints))
    return items


def ledger_tabs() -> list[tuple[str, str, str]]:
    """(endpoint, label, blueprint) of each ledger the caller's role sees, for the tabs above every ledger's list."""
    principal = g.get("principal")
    if principal is None:
        return []
    return [(endpoint, label, blueprint) for endpoint, label, roles, blueprint in LEDGERS
            if endpoint in current_app.view_functions and principal.user.role in roles]


def page(*roles: str) -> Callable:
    """A page for logged-in users (optionally only some roles): others go to /login, or get 403."""
    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            principal = session_principal()
            if principal is None:
                return redirect(url_for("web.login", next=request.full_path.rstrip("?")))
            g.principal = principal
            if roles and principal.user.role not in roles:
                raise Problem(403, "auth.forbidden", "你的角色无权查看此页面。", "Your role may not see this page.")
            return view(*args, **kwargs)
        return wrapper
    return decorate


T = TypeVar("T")
#: what `on_page` answers when the action was refused (its reason is on the page the person comes back to)
REFUSED = object()


def on_page(action: Callable[[], T], kinds: tuple[str, ...] = ("invalid", "conflict")) -> T | object:
    """A page form's action: a refusal the person can act on (what they entered, a step out of order or already
    taken) is rolled back and said on the page they come back to, instead of an error page without their form;
    other refusals (403, 404) stay errors."""
    try:
        return action()
    except DomainError as refused:
        if refused.kind not in kinds:
            raise
        db().rollback()
        flash(refused.message(current_lang()), "error")
        return REFUSED


def current_principal() -> Principal:
    return g.principal


def month_arg() -> str:
    """?month=YYYY-MM, this month (China time) by default; the API's bounds."""
    value = request.args.get("month") or this_month()
    if not MONTH.regex.match(value):
        raise Problem(400, "page.month", "月份格式应为 YYYY-MM（1970-01 至 2999-12）。",
                      "The month must be YYYY-MM (1970-01 to 2999-12).")
    return value


def choice_arg(name: str, allowed: Iterable[str], default: str | None = None) -> str | None:
    """A list filter from the query string (?name=…): one of `allowed`, `default` when absent; anything else 400."""
    value = request.args.get(name) or default
    if value is not None and value not in allowed:
        raise Problem(400, "page.filter", f"网址中的 {name} 无效。", f"{name} in the address is not valid.")
    return value


#: the last page number a paged list accepts (a list of 50 a page: the API's furthest offset)
MAX_PAGE = MAX_OFFSET // 50


def number_arg(name: str, default: int, low: int, high: int) -> int:
    """?<name>=<whole number from low to high>, `default` when absent or empty; anything else is a 400 page that
    says so (a huge number used to reach the database driver and fail there)."""
    text = request.args.get(name) or ""
    if not text:
        return default
    if not (text.isascii() and text.isdigit() and len(text) <= len(str(high)) and low <= int(text) <= high):
        raise Problem(400, "page.number", f"网址中的 {name} 应为 {low} 到 {high} 之间的整数。",
                      f"{name} in the address must be a whole number from {low} to {high}.")
    return int(text)


def page_number() -> int:
    return number_arg("page", 1, 1, MAX_PAGE)


def offset_arg() -> int:
    return number_arg("offset", 0, 0, MAX_OFFSET)


def url_with(**changes: str) -> str:
    """This page's URL with some query arguments changed (the language switch keeps the month, the filters…)."""
    args = request.args.to_dict()
    args.update({k: v for k, v in changes.items() if v is not None})
    return request.path + ("?" + urlencode(args) if args else "")


def local_time(value: dt.datetime | str | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A time as China time, to the minute: a stored time (naive means UTC, as the database keeps it) or an ISO
    string from a record or a submission. Text that is not a time is shown as it is. The `local_time` filter of
    every page."""
    if not value:
        return ""
    if isinstance(value, str):
        text = value
        try:
            value = dt.datetime.fromisoformat(text)
        except ValueError:
            return text
        if len(text) <= len("YYYY-MM-DD"):  # a date alone: no time of day to convert
            return text
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(CHINA).strftime(fmt)


def display_names(usernames: Iterable[str | None]) -> dict[str, str]:
    """The display name of each known user name (the user name itself when the display name is empty); unknown
    names are left out, so that a typed-in name stays as it was typed."""
    wanted = {name for name in usernames if name}
    if not wanted:
        return {}
    rows = db().execute(select(User.username, User.display_name).where(User.username.in_(sorted(wanted))))
    return {username: display or username for username, display in rows}
