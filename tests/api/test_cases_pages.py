"""The 问题清单 page and the cases on the household file, through the Flask client: filters, rows opening the file,
a supervisor's sign-off form (CSRF), a cadre's measure form on their own household, and another area's case 404.

DOMAIN.md "Precisions": "Problems are closed, not only found … found → measure → resolved and signed off, by
village and town."
"""
import re

import pytest

from support import Collect, assessment_xml, login, visit_xml
from sync.cases import case_key

HH = "2105040010010001"        # village 1, cadre001
HH13 = "2105040010010013"      # village 1, cadre004
OTHER = "2105040020010003"     # town 2


def text(response) -> str:
    return response.get_data(as_text=True)


def csrf(client, path):
    return re.search(r'name="csrf_token" value="([^"]+)"', text(client.get(path))).group(1)


def rows(html: str) -> list[str]:
    return re.findall(r'data-testid="case-row" data-key="(\w+)"', html)


@pytest.fixture
def cases(client, sample_district, admin, reconcile):
    phone = Collect(client, admin)
    for xml in (visit_xml(HH, instance_id="uuid:w1", water="no", help_given="policy",
                          end="2026-10-02T09:00:00+08:00"),
                assessment_xml(HH13, instance_id="uuid:a1", grade="D", renovation_state="building"),
                visit_xml(OTHER, instance_id="uuid:o1", food="no")):
        assert phone.submit(xml).status_code == 201
    reconcile()
    return {"water": case_key(HH, "water", ""), "house": case_key(HH13, "dangerous_house", ""),
            "other": case_key(OTHER, "food", "")}


def test_the_list_shows_the_callers_open_cases_with_filters(client, sample_district, cases):
    login(client, "town1")
    page = client.get("/review/cases/")
    assert page.status_code == 200
    html = text(page)
    assert set(rows(html)) == {cases["water"], cases["house"]}
    assert 'data-testid="tab-cases"' in html and "饮水安全" in html and "C/D 级危房" in html
    assert f'href="/households/{HH}#cases"' in html
    assert 'href="/api/v1/exports/cases.csv?state=open"' in html
    assert rows(text(client.get("/review/cases/?kind=water"))) == [cases["water"]]
    assert rows(text(client.get("/review/cases/?area=210504001002"))) == []
    assert rows(text(client.get("/review/cases/?state=done"))) == []
    assert set(rows(text(client.get("/review/cases/?state=all&age=30")))) >= {cases["water"]}
    english = text(client.get("/review/cases/?lang=en"))
    assert "Problem cases" in english and "Drinking water" in english


@pytest.mark.parametrize("query", ["kind=flood", "state=half", "age=-1", "age=abc", "page=0"])
def test_bad_filters_are_a_readable_400(client, sample_district, query):
    login(client, "town1")
    response = client.get(f"/review/cases/?{query}")
    assert response.status_code == 400 and response.mimetype == "text/html"


def test_cadres_do_not_get_the_list(client, sample_district):
    login(client, "cadre001")
    assert client.get("/review/cases/").status_code == 403


def test_a_supervisor_signs_off_from_the_list(client, sample_district, cases):
    login(client, "town1")
    token = csrf(client, "/review/cases/")
    refused = client.post(f"/review/cases/{cases['water']}/sign-off", data={"csrf_token": token, "reason": " ",
                                                                           "next": "/review/cases/"})
    assert refused.status_code == 302
    assert "请填写销号理由" in text(client.get("/review/cases/"))
    done = client.post(f"/review/cases/{cases['water']}/sign-off",
                       data={"csrf_token": token, "reason": "现场核实已通自来水", "next": "/review/cases/?kind=water"})
    assert done.status_code == 302 and done.headers["Location"].endswith("/review/cases/?kind=water")
    assert rows(text(client.get("/review/cases/"))) == [cases["house"]]
    signed = text(client.get("/review/cases/?state=signed_off"))
    assert rows(signed) == [cases["water"]] and "现场核实已通自来水" in signed
    assert client.post(f"/review/cases/{cases['water']}/sign-off",
                       data={"reason": "no token"}).status_code == 400


def test_another_areas_case_is_not_found_on_the_pages(client, sample_district, cases):
    login(client, "town1")
    token = csrf(client, "/review/cases/")
    assert client.post(f"/review/cases/{cases['other']}/sign-off",
                       data={"csrf_token": token, "reason": "x"}).status_code == 404
    assert client.post(f"/review/cases/{cases['other']}/measures",
                       data={"csrf_token": token, "text": "x"}).status_code == 404


def test_the_household_file_shows_cases_and_its_cadre_records_a_measure(client, sample_district, cases):
    login(client, "cadre001")
    html = text(client.get(f"/households/{HH}"))
    assert 'data-testid="household-cases"' in html and cases["water"] in html
    assert "政策讲解" in html          # the visit's help given is the case's first measure
    assert 'data-testid="measure-form"' in html and 'data-testid="sign-off-form"' not in html
    token = csrf(client, f"/households/{HH}")
    done = client.post(f"/review/cases/{cases['water']}/measures",
                       data={"csrf_token": token, "text": "已联系水利站维修管道", "next": f"/households/{HH}#cases"})
    assert done.status_code == 302 and done.headers["Location"].endswith(f"/households/{HH}#cases")
    assert "已联系水利站维修管道" in text(client.get(f"/households/{HH}"))
    # HH13 is in cadre001's village but paired with cadre004: no measure form, and the post is refused
    other = text(client.get(f"/households/{HH13}"))
    assert cases["house"] in other and 'data-testid="measure-form"' not in other
    assert client.post(f"/review/cases/{cases['house']}/measures",
                       data={"csrf_token": token, "text": "x"}).status_code == 403


def test_a_signed_off_case_shows_as_closed_in_the_file(client, sample_district, cases):
    login(client, "town1")
    token = csrf(client, "/review/cases/")
    client.post(f"/review/cases/{cases['house']}/sign-off",
                data={"csrf_token": token, "reason": "已搬入新居，旧房已拆", "next": f"/households/{HH13}"})
    html = text(client.get(f"/households/{HH13}"))
    assert re.search(rf'data-key="{cases["house"]}" data-state="signed_off"', html)
    assert "已搬入新居，旧房已拆" in html and 'data-testid="sign-off-form"' not in html


def test_an_outside_next_is_not_followed(client, sample_district, cases):
    login(client, "town1")
    token = csrf(client, "/review/cases/")
    done = client.post(f"/review/cases/{cases['water']}/measures",
                       data={"csrf_token": token, "text": "x", "next": "//evil.example/"})
    assert done.headers["Location"].endswith("/review/cases/")
