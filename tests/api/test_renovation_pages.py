"""The 危房改造台账 pages through the Flask client: the list and its filters, the household file's section with the
entry forms (CSRF): the payment for finance staff and admins, the other facts for supervisors and admins; a step
out of order refused with a message, the village's printable 公示 list without ID numbers, and another area's house
404; finance staff's top bar, home and pages, and the finance role offered by the admin's user page and the CLI.

DOMAIN.md "Precisions", line 87: renovation ends when the family has moved in and the old house is dealt with.
"""
import re

import pytest
from sqlalchemy import select

from server.db import session_scope
from server.models import User
from support import Collect, assessment_xml, basic, login, visit_xml

HH13 = "2105040010010013"      # village 1 (town 1)
OTHER = "2105040020010003"     # town 2
TOWN_1 = "210504001"


def text(response) -> str:
    return response.get_data(as_text=True)


def csrf(client, path):
    return re.search(r'name="csrf_token" value="([^"]+)"', text(client.get(path))).group(1)


def rows(html: str) -> list[str]:
    return re.findall(r'data-testid="renovation-row" data-household="(\d+)"', html)


@pytest.fixture
def ledger(client, sample_district, admin, reconcile, make_user):
    make_user("finance1", "finance", (sample_district["codes"]["210504001"],))
    phone = Collect(client, admin)
    for xml in (assessment_xml(HH13, instance_id="uuid:a1", grade="D", renovation_state="building", mode="rebuild",
                               end="2026-03-02T10:00:00+08:00"),
                assessment_xml(OTHER, instance_id="uuid:o1", grade="C")):
        assert phone.submit(xml).status_code == 201
    reconcile()
    return sample_district


def test_the_list_shows_the_callers_houses_with_filters(client, ledger):
    login(client, "town1")
    html = text(client.get("/renovation/"))
    assert rows(html) == [HH13] and "翻建（原址重建）" in html and "已开工" in html
    filtered = text(client.get("/renovation/?grade=D&stage=building&mode=rebuild&overdue=1"))
    assert "/api/v1/exports/renovation.csv?grade=D&amp;mode=rebuild&amp;stage=building&amp;overdue=true" in filtered
    assert rows(text(client.get("/renovation/?grade=D&stage=building&mode=rebuild"))) == [HH13]
    assert rows(text(client.get("/renovation/?grade=C"))) == []
    assert client.get("/renovation/?stage=half").status_code == 400
    assert client.get("/renovation/?area=210504002001").status_code == 404


def test_the_household_file_shows_the_row_and_finance_staff_enter_a_payment(client, ledger):
    # issue 19: "payments by hand (finance staff role or admin)": the payment is finance staff's, no longer a
    # supervisor's (test_a_supervisor_enters_stages_but_no_payment below)
    login(client, "finance1")
    path = f"/households/{HH13}"
    html = text(client.get(path))
    assert 'data-testid="household-renovation"' in html and 'data-testid="renovation-payment-form"' in html
    assert "renovation-stage-form" not in html and 'value="mode"' not in html
    assert "45000 元" in html
    token = csrf(client, path)
    done = client.post(f"/renovation/{HH13}/entries", data={"csrf_token": token, "kind": "payment",
                                                            "amount": "45000", "on": "2026-05-01"})
    assert done.status_code == 302 and done.headers["Location"].endswith(f"/households/{HH13}#renovation")
    assert re.search(r'data-testid="renovation-paid">45000 元 · 2026-05-01', text(client.get(path)))
    refused = client.post(f"/renovation/{HH13}/entries", data={"csrf_token": token, "kind": "stage",
                                                               "stage": "finished", "on": "2026-05-01"})
    assert refused.status_code == 403


def test_a_supervisor_enters_stages_but_no_payment(client, ledger):
    login(client, "town1")
    path = f"/households/{HH13}"
    html = text(client.get(path))
    assert 'data-testid="renovation-stage-form"' in html and "renovation-payment-form" not in html
    token = csrf(client, path)
    refused = client.post(f"/renovation/{HH13}/entries", data={"csrf_token": token, "kind": "payment",
                                                               "amount": "45000", "on": "2026-05-01"})
    assert refused.status_code == 403 and "只有财务人员或管理员可以登记拨付" in text(refused)
    # out of order: the family cannot have moved in before the house is finished
    refused = client.post(f"/renovation/{HH13}/entries", data={"csrf_token": token, "kind": "stage",
                                                               "stage": "moved_in", "on": "2026-05-01"})
    assert refused.status_code == 302
    assert "进度须按顺序登记" in text(client.get(path))


def test_a_cadre_sees_the_row_without_forms_and_may_not_post(client, ledger):
    login(client, "cadre001")
    path = f"/households/{HH13}"
    html = text(client.get(path))
    assert 'data-testid="household-renovation"' in html and "renovation-payment-form" not in html
    response = client.post(f"/renovation/{HH13}/entries", data={"csrf_token": csrf(client, path), "kind": "payment",
                                                                "amount": "100", "on": "2026-05-01"})
    assert response.status_code == 403


def test_another_areas_house_is_not_found(client, ledger):
    login(client, "town1")
    token = csrf(client, "/renovation/")
    assert client.post(f"/renovation/{OTHER}/entries", data={"csrf_token": token, "kind": "payment",
                                                             "amount": "100", "on": "2026-05-01"}).status_code == 404
    assert client.get("/renovation/publicity?village=210504002001").status_code == 404


def test_the_publicity_list_is_printable_and_shows_no_id_number(client, ledger):
    login(client, "town1")
    html = text(client.get("/renovation/publicity?village=210504001001"))
    assert html.count('data-testid="publicity-row"') == 1
    assert "农村危房改造对象公示" in html and "45000" in html and "翻建（原址重建）" in html
    assert 'data-print' in html and "print.js" in html
    assert not re.search(r"\d{17}[\dX]", html)  # no 身份证号


def test_the_supervisors_home_counts_the_overdue_houses(client, ledger):
    login(client, "town1")

    def card():
        found = re.search(r'data-testid="card-renovation-overdue" data-count="(\d+)">\s*<a class="home-number" '
                          r'href="([^"]+)"', text(client.get("/")))
        return int(found.group(1)), found.group(2)

    def deadline(day):
        assert client.post(f"/renovation/{HH13}/entries", data={"csrf_token": csrf(client, "/renovation/"),
                                                                "kind": "deadline", "on": day}).status_code == 302

    deadline("2099-11-30")
    assert card() == (0, "/renovation/?overdue=1")
    deadline("2026-04-30")
    assert card() == (1, "/renovation/?overdue=1")
    assert rows(text(client.get("/renovation/?overdue=1"))) == [HH13]


# ---- the finance role (财务人员) ------------------------------------------------------------------------------------------------------

def test_finance_staffs_pages_top_bar_and_home(client, ledger):
    login(client, "finance1")
    home = text(client.get("/"))
    nav = re.search(r"<nav.*?</nav>", home, re.S).group(0)
    assert 'href="/renovation/">台账' in nav and "一户一档" in nav   # the ledgers' section opens the one they see
    assert not any(label in nav for label in ("审核", "管理", "走访覆盖", "退出程序"))
    assert 'data-testid="ledger-tabs"' not in text(client.get("/renovation/"))   # no other ledger: no tabs
    card = re.search(r'data-testid="card-renovation-unpaid" data-count="(\d+)">\s*<a class="home-number" '
                     r'href="([^"]+)"', home)
    assert card.groups() == ("1", "/renovation/?unpaid=1")
    listed = text(client.get("/renovation/?unpaid=1"))
    assert re.findall(r'data-testid="renovation-row" data-household="(\d+)"', listed) == [HH13]
    assert client.get("/renovation/publicity?village=210504001001").status_code == 200
    for path in ("/review/", "/review/conflicts", "/review/cases/", "/admin/", "/admin/users"):
        assert client.get(path).status_code == 403, path


# finance staff read the ledger and the household files to pay; the visits and what they lead to are not theirs,
# by URL no more than in the top bar (server/models.py: VISIT_ROLES)
FINANCE_REFUSED_PAGES = ("/coverage/", "/coverage/not-visited", "/map/", "/exits/", "/monitoring/", "/outside/",
                         "/feedback/", "/fill/household_visit", "/fill/household_visit/transform.json")
FINANCE_REFUSED_API = ("/coverage", "/coverage/not-visited", "/coverage/households", "/coverage/duties", "/map",
                       "/exits", f"/exits/{HH13}", "/monitoring", "/outside-reports", "/cases", "/exports/cases.csv",
                       "/feedback", "/exports/submissions/household_visit.csv", "/exports/visits.geojson",
                       "/exports/monitoring.csv", "/reports/monthly.xlsx?month=2026-11")


def test_finance_staff_are_refused_the_visit_pages_and_api_by_url(client, ledger, admin, reconcile):
    # a visit whose problem proposes a monitoring case, which the household file then links to
    assert Collect(client, admin).submit(visit_xml(HH13, instance_id="uuid:m1", problems="illness")).status_code == 201
    reconcile()
    login(client, "town1")
    for path in FINANCE_REFUSED_PAGES:   # each is there for the roles that see the visits
        assert client.get(path).status_code == 200, path
    town1 = basic("town1", "secret-pass")
    for path in FINANCE_REFUSED_API:
        assert client.get("/api/v1" + path, headers=town1).status_code == 200, path
    file_page = text(client.get(f"/households/{HH13}"))
    client.post("/logout", data={"csrf_token": csrf(client, "/login")})
    finance = basic("finance1", "secret-pass")
    for path in FINANCE_REFUSED_API:
        refused = client.get("/api/v1" + path, headers=finance)
        assert refused.status_code == 403 and refused.get_json()["code"] == "auth.forbidden", path
    review = client.post("/api/v1/submissions/housing_assessment/uuid:a1/review", json={"comment": "付款了"},
                         headers=finance)
    assert review.status_code == 403 and review.get_json()["code"] == "auth.forbidden"
    login(client, "finance1")
    for path in FINANCE_REFUSED_PAGES:
        refused = client.get(path)
        assert refused.status_code == 403 and "你的角色无权查看此页面" in text(refused), path
    # the file they pay from has no link into the pages they may not open
    finance_file = text(client.get(f"/households/{HH13}"))
    assert 'data-testid="renovation-paid"' in finance_file or 'data-testid="household-renovation"' in finance_file
    for link in ('data-testid="household-map-link"', 'href="/monitoring/'):
        assert link in file_page and link not in finance_file, link   # a supervisor's file of the house has it


def test_finance_staff_pay_from_the_household_file_and_not_in_another_area(client, ledger):
    login(client, "finance1")
    token = csrf(client, f"/households/{HH13}")
    done = client.post(f"/renovation/{HH13}/entries", data={"csrf_token": token, "kind": "payment",
                                                            "amount": "20000", "on": "2026-05-01"})
    assert done.status_code == 302
    assert re.search(r'data-testid="renovation-paid">20000 元 · 2026-05-01', text(client.get(f"/households/{HH13}")))
    assert client.post(f"/renovation/{HH13}/entries", data={"csrf_token": token, "kind": "deadline",
                                                            "on": "2026-09-30"}).status_code == 403
    assert client.post(f"/renovation/{OTHER}/entries", data={"csrf_token": token, "kind": "payment",
                                                              "amount": "100", "on": "2026-05-01"}).status_code == 404
    assert client.get(f"/households/{OTHER}").status_code == 404
    assert client.get("/renovation/publicity?village=210504002001").status_code == 404


# ---- accounts ---------------------------------------------------------------------------------------------------

def test_the_admin_page_offers_the_finance_role_and_wants_an_area(client, ledger, sessions):
    login(client, "admin")
    page = text(client.get("/admin/users"))
    assert '<option value="finance">财务人员</option>' in page
    data = {"username": "caiwu", "display_name": "财务 王", "role": "finance", "password": "a-long-password",
            "csrf_token": csrf(client, "/admin/users")}
    missing = client.post("/admin/users", data=data)
    assert missing.status_code == 400 and "财务人员至少要有一个区域" in text(missing)
    assert client.post("/admin/users", data={**data, "areas": [TOWN_1]}).status_code == 302
    with session_scope(sessions) as session:
        user = session.scalar(select(User).where(User.username == "caiwu"))
        assert user.role == "finance" and len(user.areas) == 1
    assert "财务人员" in text(client.get("/admin/users"))


def test_the_cli_creates_a_finance_user(runner, ledger, client, sessions):
    result = runner.invoke(args=["users", "create", "caiwu", "--role", "finance", "--area", TOWN_1,
                                 "--display-name", "财务 王", "--password-stdin"], input="long-enough-pw\n")
    assert result.exit_code == 0, result.output
    listed = runner.invoke(args=["users", "list"])
    assert "caiwu\tfinance\t财务 王\t210504001\tactive" in listed.output
    caiwu = basic("caiwu", "long-enough-pw")
    assert client.post(f"/api/v1/renovation/{HH13}/entries", headers=caiwu,
                       json={"kind": "payment", "amount": 100, "on": "2026-07-10"}).status_code == 200
    assert client.get(f"/api/v1/renovation/{OTHER}", headers=caiwu).status_code == 404
