"""The 防止返贫监测 pages through the Flask client: the list with its counts per state and filters, the case page with
the decision forms (CSRF) for supervisors only, a step refused with a message, the household file's section, the
supervisor's home card, and another area's case 404.

DOMAIN.md "Precisions", line 91: a monitoring case goes 识别/纳入 → 帮扶措施 → 风险消除, each a dated decision by
someone.
"""
import re

import pytest

from support import Collect, login, visit_xml
from sync.monitoring import case_key

HH = "2105040010010073"        # village 1 (town 1), 已脱贫, paired with cadre001
OTHER = "2105040020010003"     # town 2
KEY, OTHER_KEY = case_key(HH, "uuid:v1"), case_key(OTHER, "uuid:o1")


def text(response) -> str:
    return response.get_data(as_text=True)


def csrf(client, path):
    return re.search(r'name="csrf_token" value="([^"]+)"', text(client.get(path))).group(1)


def rows(html: str) -> list[str]:
    return re.findall(r'data-testid="monitoring-row" data-household="(\d+)"', html)


@pytest.fixture
def proposals(client, sample_district, admin, reconcile):
    phone = Collect(client, admin)
    for xml in (visit_xml(HH, instance_id="uuid:v1", problems="illness", end="2026-11-02T10:00:00+08:00"),
                visit_xml(OTHER, instance_id="uuid:o1", problems="disaster", end="2026-11-03T10:00:00+08:00")):
        assert phone.submit(xml).status_code == 201
    reconcile()
    return sample_district


def test_the_list_shows_the_callers_cases_with_counts_and_filters(client, proposals):
    login(client, "town1")
    html = text(client.get("/monitoring/"))
    assert rows(html) == [HH] and "脱贫不稳定户" in html and "因病" in html
    assert re.search(r'data-testid="count-proposed">1<', html)
    filtered = text(client.get("/monitoring/?state=proposed&risk=illness&subtype=脱贫不稳定户"))
    assert rows(filtered) == [HH]
    # the same rows as a file: the export link carries the filters
    link = re.search(r'href="(/api/v1/exports/monitoring\.csv[^"]*)" download', filtered).group(1)
    link = link.replace("&amp;", "&")
    assert link == ("/api/v1/exports/monitoring.csv?state=proposed&subtype=%E8%84%B1%E8%B4%AB%E4%B8%8D"
                                   "%E7%A8%B3%E5%AE%9A%E6%88%B7&risk=illness")
    assert HH in client.get(link).get_data(as_text=True)
    assert rows(text(client.get("/monitoring/?state=identified"))) == []
    assert client.get("/monitoring/?state=half").status_code == 400
    assert client.get("/monitoring/?area=210504002001").status_code == 404
    assert "Monitoring" in text(client.get("/monitoring/?lang=en"))
    # the supervisor's home counts the proposals waiting and links to them
    home = text(client.get("/?lang=zh"))
    assert "待决定的监测提议" in home and "/monitoring/?state=proposed" in home


def test_a_supervisor_decides_on_the_case_page_and_the_file_shows_the_case(client, proposals):
    login(client, "town1")
    path = f"/monitoring/{KEY}"
    html = text(client.get(path))
    assert 'data-testid="include-form"' in html and 'data-testid="dismiss-form"' in html
    token = csrf(client, path)
    refused = client.post(f"{path}/decisions", data={"csrf_token": token, "kind": "include", "subtype": "边缘易致贫户",
                                                     "risks": "illness", "text": "纳入"}, follow_redirects=True)
    assert "不是边缘易致贫户" in text(refused)
    done = client.post(f"{path}/decisions", data={"csrf_token": token, "kind": "include", "subtype": "脱贫不稳定户",
                                                  "risks": ["illness"], "text": "因病"}, follow_redirects=True)
    assert 'data-state="identified"' in text(done) and 'data-testid="measure-form"' in text(done)
    assert 'data-testid="remove-form"' in text(done) and 'data-met="no"' in text(done)
    removed = client.post(f"{path}/decisions", data={"csrf_token": token, "kind": "remove", "text": "好了"},
                          follow_redirects=True)
    assert "风险消除的条件未满足" in text(removed)
    file_html = text(client.get(f"/households/{HH}"))
    assert 'data-testid="household-monitoring"' in file_html and f"/monitoring/{KEY}" in file_html
    assert client.get(f"/monitoring/{OTHER_KEY}").status_code == 404
    assert client.post(f"/monitoring/{OTHER_KEY}/decisions",
                       data={"csrf_token": token, "kind": "dismiss", "text": "x"}).status_code == 404


def test_a_cadre_reads_but_may_not_decide(client, proposals):
    login(client, "cadre001")
    path = f"/monitoring/{KEY}"
    html = text(client.get(path))
    assert 'data-testid="monitoring-case"' in html and 'data-testid="include-form"' not in html
    token = csrf(client, "/")
    assert client.post(f"{path}/decisions", data={"csrf_token": token, "kind": "dismiss",
                                                  "text": "无风险"}).status_code == 403
