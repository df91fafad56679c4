"""The 危房改造台账 pages through the Flask client: the list and its filters, the household file's section with the
entry forms (CSRF) for supervisors only, a step out of order refused with a message, the village's printable 公示
list without ID numbers, and another area's house 404.

DOMAIN.md "Precisions", line 87: renovation ends when the family has moved in and the old house is dealt with.
"""
import re

import pytest

from support import Collect, assessment_xml, login

HH13 = "2105040010010013"      # village 1 (town 1)
OTHER = "2105040020010003"     # town 2


def text(response) -> str:
    return response.get_data(as_text=True)


def csrf(client, path):
    return re.search(r'name="csrf_token" value="([^"]+)"', text(client.get(path))).group(1)


def rows(html: str) -> list[str]:
    return re.findall(r'data-testid="renovation-row" data-household="(\d+)"', html)


@pytest.fixture
def ledger(client, sample_district, admin, reconcile):
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


def test_the_household_file_shows_the_row_and_a_supervisor_enters_a_payment(client, ledger):
    login(client, "town1")
    path = f"/households/{HH13}"
    html = text(client.get(path))
    assert 'data-testid="household-renovation"' in html and 'data-testid="renovation-payment-form"' in html
    assert "45000 元" in html
    token = csrf(client, path)
    done = client.post(f"/renovation/{HH13}/entries", data={"csrf_token": token, "kind": "payment",
                                                            "amount": "45000", "on": "2026-05-01"})
    assert done.status_code == 302 and done.headers["Location"].endswith(f"/households/{HH13}#renovation")
    assert re.search(r'data-testid="renovation-paid">45000 元 · 2026-05-01', text(client.get(path)))
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
