"""The home page "/" (server/web.py routes it here): a cadre's 今日工作 on the phone, or a supervisor's 工作台.

Both pages are a list of cards, each a number that opens the list it counts (`Card`); a card may break its number
down into parts drawn as bars, each part opening its own list. A further card is one more `Card(...)` in
`cadre_cards` or `supervisor_cards`, and nothing in the templates.

The cadre's page is small plain HTML (no script, one small stylesheet), for a phone on a weak signal: the cadre's
own households, who needs a visit this month first, each with its last visit and a tap to its file. ODK Collect
cannot be opened from a web page with a form or a household chosen (its intents take no browser link), so the page
says which form and number to pick in Collect; each household also gets a link to the web form /fill/<form_id>
(server/pages/fill.py) that opens it with the household filled in, as long as that route exists.
"""
from __future__ import annotations

import dataclasses
from typing import Optional

from flask import current_app, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from forms.models import Form, FormVersion
from server.auth import Principal
from server.db import utcnow
from server.i18n import current_lang
from server.models import UserArea
from server.pages.cases import kind_label
from server.pages.common import this_month
from server.pages.coverage import trend_chart
from server.runtime import db, runtime
from sync.case_lists import case_counts, open_cases
from sync.exit_procedure import open_count
from sync.monitoring_cases import proposed_count
from sync.outside_reports import undecided_count
from sync.renovation_ledger import china_today, overdue_count, unpaid_count
from sync.feedback import feedback_counts, returned_to
from sync.forms import VISIT_FORM
from sync.models import Area
from sync.rules import RENOVATION_STATES
from sync.workbench import SupervisorWork, cadre_work, supervisor_work

#: households listed on a cadre's page at most (a search finds the others)
MAX_LISTED = 200
#: returned submissions and open cases a cadre's page lists (the oldest first; their lists hold the rest)
MAX_WORK_ITEMS = 10
#: the web form's route (issue 20); the page links to it only once it exists
WEB_FORM_RULE = "/fill/<form_id>"


@dataclasses.dataclass(frozen=True)
class Part:
    label: str
    count: int
    #: the list of this part, or None when no list filters it
    href: Optional[str] = None


@dataclasses.dataclass(frozen=True)
class Card:
    """One number of a home page and the list it opens."""

    #: names the card in the page (data-testid="card-<key>")
    key: str
    label: str
    count: int
    #: the list behind the number, or None when only its parts have lists
    href: Optional[str]
    #: "todo" when a number above zero is work waiting (shown in red), "" when it only informs
    tone: str = ""
    note: str = ""
    parts: tuple[Part, ...] = ()

    @property
    def largest_part(self) -> int:
        return max((part.count for part in self.parts), default=0)


# ---- a cadre's home ---------------------------------------------------------------------------------------------

def cadre_home(principal: Principal):
    user = principal.user
    month = this_month()
    text = (request.args.get("q") or "").strip()[:100]
    work = cadre_work(db(), principal.scope.area_ids, user.id, user.username, month, text or None)
    areas, forms = _areas(user.id), _forms()
    returned, counts = returned_to(db(), user.id, limit=MAX_WORK_ITEMS), feedback_counts(db(), user=user.id)
    cases = open_cases(db(), principal.scope, cadre=user.username, limit=MAX_WORK_ITEMS + 1)
    db().rollback()
    fill = _web_form_endpoint()
    households = work.households[:MAX_LISTED]
    fill_links = {h.number: url_for(fill, form_id=VISIT_FORM, household=h.number) for h in households} if fill else {}
    return render_template("home/cadre.html", user=user, work=work, households=households, text=text,
                           cards=cadre_cards(work, user.username), fill_links=fill_links, areas=areas, forms=forms,
                           visit_form=_collect_title(forms, VISIT_FORM), max_listed=MAX_LISTED, returned=returned,
                           feedback_counts=counts, cases=cases[:MAX_WORK_ITEMS],
                           more_cases=len(cases) > MAX_WORK_ITEMS, kind_label=kind_label)


def cadre_cards(work, username: str) -> list[Card]:
    return [
        Card("mine", _("我的结对户"), work.total, url_for("households.list_page", cadre=username)),
        Card("to-visit", _("本月未走访"), work.to_visit,
             url_for("coverage.not_visited_page", month=work.month, cadre=username), tone="todo",
             note=_("只计本人提交的走访；走访未遇不算")),
    ]


def _web_form_endpoint() -> Optional[str]:
    return next((rule.endpoint for rule in current_app.url_map.iter_rules() if rule.rule == WEB_FORM_RULE), None)


# ---- a supervisor's home ----------------------------------------------------------------------------------------

def supervisor_home(principal: Principal):
    user = principal.user
    work = supervisor_work(db(), principal.scope, this_month())
    areas, forms = _areas(user.id), _forms()
    cases, feedback = case_counts(db(), principal.scope), feedback_counts(db(), scope=principal.scope)
    overdue = overdue_count(db(), principal.scope, china_today(utcnow()))
    exits = open_count(db(), principal.scope)
    outside = undecided_count(db(), principal.scope)
    proposals = proposed_count(db(), principal.scope)
    db().rollback()
    thresholds = runtime().queue.rules.thresholds
    return render_template("home/supervisor.html", user=user, work=work, report=work.coverage,
                           chart=trend_chart(work.coverage.trend), rows=work.worst_rows(),
                           cards=supervisor_cards(work, thresholds, cases, feedback, overdue, exits, outside,
                                                  proposals),
                           areas=areas,
                           forms=forms)


#: a case's age on the supervisor's home (sync.case_lists AGE_BUCKETS), and the list of the older ones
CASE_AGES = (("lt30", "不到 30 天", None), ("30to90", "30 至 90 天", 30), ("gt90", "超过 90 天", 90))


def supervisor_cards(work: SupervisorWork, thresholds: dict[str, float], cases: dict, feedback: dict,
                     overdue: int, exits: int, outside: int = 0, proposals: int = 0) -> list[Card]:
    month = work.month
    households = "households.list_page"
    return [
        Card("cases", _("未销号问题"), cases["open"], url_for("cases.list_page"), tone="todo",
             note=_("走访和鉴定发现的三保障、饮水和危房问题，解决或销号前一直在此"),
             parts=tuple(Part(kind_label(kind), n, url_for("cases.list_page", kind=kind))
                         for kind, n in sorted(cases["by_kind"].items(), key=lambda item: -item[1]))),
        Card("case-ages", _("未销号问题的时长"), cases["open"], None,
             parts=tuple(Part(_(label), cases["by_age"][bucket],
                              url_for("cases.list_page", age=days) if days else None)
                         for bucket, label, days in CASE_AGES)),
        Card("answered", _("干部已回复，待复核"), feedback["answered"], url_for("feedback.index", state="answered"),
             tone="todo"),
        Card("returned", _("退回待干部整改"), feedback["waiting"], url_for("feedback.index", state="waiting")),
        Card("not-visited", _("本月未走访户"), work.coverage.total.counts.not_visited,
             url_for("coverage.not_visited_page", month=month), tone="todo"),
        Card("questionable-visits", _("存疑走访"), work.questionable_visits, url_for("review.visits", month=month),
             tone="todo", note=_("证据存疑或没有证据的走访")),
        Card("conflicts", _("待裁定冲突"), work.open_conflicts, url_for("review.conflicts"), tone="todo"),
        Card("dangerous-houses", _("C/D 级危房改造未完成"), work.dangerous_houses,
             url_for(households, flag="dangerous_house"), tone="todo",
             note=_("搬入新房且旧房已处置才算完成"),
             parts=tuple(Part(RENOVATION_STATES.get(stage, (stage, stage))[current_lang() == "en"], n)
                         for stage, n in work.renovation if n)),
        Card("renovation-overdue", _("危房改造逾期"), overdue,
             url_for("renovation.list_page", overdue="1"), tone="todo",
             note=_("危房改造台账中过了入住期限仍未完成的户")),
        Card("exits-open", _("退出程序未备案"), exits, url_for("exits.list_page", done="0"), tone="todo",
             note=_("已开始退出程序、尚未备案标注的户")),
        Card("monitoring-proposed", _("待决定的监测提议"), proposals,
             url_for("monitoring.list_page", state="proposed"), tone="todo",
             note=_("走访、收入调查和监测填报提出的监测对象，待审核人员纳入或不纳入")),
        Card("outside-undecided", _("待决定的新发现户"), outside, url_for("outside.list_page", state="undecided"),
             tone="todo", note=_("干部报告的、不在名单中的农户（应纳尽纳），待审核人员决定是否纳入")),
        Card("monitoring", _("监测户"), sum(n for _kind, n in work.monitoring), None,
             parts=tuple(Part(kind, n, url_for(households, monitoring_type=kind)) for kind, n in work.monitoring)),
        Card("screening", _("排查：低于复核线的户"), work.screening, url_for(households, screening="1"), tone="todo",
             note=_("人均纯收入低于 %(income)s 元，或低保金低于 %(dibao)s 元",
                    income=_figure(thresholds.get("screening_income_yuan")),
                    dibao=_figure(thresholds.get("screening_dibao_yuan")))),
    ]


# ---- finance staff's home -----------------------------------------------------------------------------------------

def finance_home(principal: Principal):
    """财务工作台: the renovation ledger's houses with subsidy left to pay in the caller's areas, the overdue ones, and
    the 公示 list; finance staff see nothing of the visits or the review (VISIT_ROLES in server/models.py)."""
    user = principal.user
    unpaid = unpaid_count(db(), principal.scope)
    overdue = overdue_count(db(), principal.scope, china_today(utcnow()))
    areas = _areas(user.id)
    db().rollback()
    cards = [Card("renovation-unpaid", _("待拨付"), unpaid, url_for("renovation.list_page", unpaid="1"), tone="todo",
                  note=_("危房改造台账中补助尚未拨付完的户")),
             Card("renovation-overdue", _("危房改造逾期"), overdue, url_for("renovation.list_page", overdue="1"),
                  note=_("危房改造台账中过了入住期限仍未完成的户"))]
    return render_template("home/finance.html", user=user, cards=cards, areas=areas)


def _figure(value: Optional[float]) -> str:
    return "—" if value is None else f"{value:g}"


# ---- what both show ---------------------------------------------------------------------------------------------

def _areas(user_id: int) -> list[tuple[str, str]]:
    """(name, code) of the areas the user was given."""
    return db().execute(select(Area.name, Area.code).join(UserArea, UserArea.area_id == Area.id)
                        .where(UserArea.user_id == user_id).order_by(Area.code)).all()


def _forms() -> list[tuple[str, str, str]]:
    """(form id, published title, version) of every open form."""
    return db().execute(select(Form.xml_form_id, FormVersion.title, FormVersion.version)
                        .join(FormVersion, Form.current_version_id == FormVersion.id)
                        .where(Form.state == "open").order_by(Form.xml_form_id)).all()


def _collect_title(forms, form_id: str) -> str:
    """The title Collect lists a form by: its XLSForm's, whatever the page's language."""
    return next((title for found, title, _version in forms if found == form_id), form_id)
