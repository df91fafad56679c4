"""The 退出程序 pages through the Flask client: the household file's section with the exit standard beside the steps
and the next step's form (CSRF) only for those whose level may enter it, a step refused with a message, the list and
its filters, another area's household 404.

DOMAIN.md "Precisions", line 110: "Exit follows a procedure: 民主评议 → 村两委和驻村工作队核实 → 村内公示 → 镇核查 →
县抽查 → 批准公告 → 备案标注 (001)"."""
import datetime as dt
import io
import re

import pytest

from support import jpeg, login
from sync.renovation_ledger import china_today

HH = "2105040010010001"        # village 1 (town 1)
OTHER = "2105040020010003"     # town 2
TODAY = china_today(dt.datetime.now(dt.timezone.utc))


def text(response) -> str:
    return response.get_data(as_text=True)


def csrf(html):
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def rows(html: str) -> list[str]:
    return re.findall(r'data-testid="exit-row" data-household="(\d+)" data-step="(\w+)"', html)


@pytest.fixture
def district(sample_district):
    return sample_district


def enter(client, step, on, number=HH):
    token = csrf(text(client.get(f"/households/{number}")))
    return client.post(f"/exits/{number}/steps", data={"csrf_token": token, "step": step, "on": str(on),
                                                       "note": ""})


def test_a_supervisor_enters_the_steps_of_their_level_from_the_file(client, district):
    login(client, "town1")
    html = text(client.get(f"/households/{HH}"))
    assert 'data-testid="household-exit"' in html and "尚未开始退出程序" in html
    # the record has no income surveyed: the standard cannot be judged, and 民主评议 is offered with a warning
    assert "无法判断（未调查收入）" in html and 'data-testid="exit-warning"' in html
    assert enter(client, "appraisal", TODAY - dt.timedelta(days=3)).status_code == 302
    refused = enter(client, "publicity", TODAY)
    assert refused.status_code == 302
    html = text(client.get(f"/households/{HH}"))
    assert "退出程序须按顺序登记" in html and "民主评议" in html and "town1" in html
    for step in ("verification", "publicity", "town_check"):
        assert enter(client, step, TODAY).status_code == 302
    html = text(client.get(f"/households/{HH}"))
    # 县抽查 is the county's: the town supervisor sees it as the next step, without a form
    assert 'data-testid="exit-step-form"' not in html and "下一步：县抽查" in html
    assert rows(text(client.get("/exits/"))) == [(HH, "town_check")]
    assert rows(text(client.get("/exits/?step=appraisal"))) == []
    assert rows(text(client.get("/exits/?done=0&area=210504001"))) == [(HH, "town_check")]
    assert client.get("/exits/?step=half").status_code == 400
    assert client.get("/exits/?area=210504002001").status_code == 404


def test_a_cadre_sees_the_steps_without_a_form_and_another_area_is_404(client, district, admin):
    login(client, "cadre001")
    html = text(client.get(f"/households/{HH}"))
    assert 'data-testid="household-exit"' in html and 'data-testid="exit-step-form"' not in html
    token = csrf(html)
    assert client.post(f"/exits/{HH}/steps", data={"csrf_token": token, "step": "appraisal",
                                                   "on": str(TODAY)}).status_code == 403
    assert client.post(f"/exits/{OTHER}/steps", data={"csrf_token": token, "step": "appraisal",
                                                      "on": str(TODAY)}).status_code == 404


def test_the_pages_in_english(client, district):
    login(client, "town1")
    html = text(client.get("/exits/?lang=en"))
    assert "Exit procedure" in html and "Step reached" in html
    html = text(client.get(f"/households/{HH}?lang=en"))
    assert "Next: democratic appraisal, on" in html


def test_the_supervisors_home_counts_the_procedures_not_yet_filed(app, client, district, admin):
    api, script = {"step": "appraisal", "on": str(TODAY)}, app.test_client()   # the API without the page's session
    for number in (HH, OTHER):
        assert script.post(f"/api/v1/exits/{number}/steps", json=api, headers=admin).status_code == 200
    login(client, "town1")

    def card():
        found = re.search(r'data-testid="card-exits-open" data-count="(\d+)">\s*<a class="home-number" '
                          r'href="([^"]+)"', text(client.get("/")))
        return int(found.group(1)), found.group(2)
    assert card() == (1, "/exits/?done=0")        # town 2's household is not counted
    assert rows(text(client.get("/exits/?done=0"))) == [(HH, "appraisal")]
    for step in ("verification", "publicity", "town_check", "county_check", "announcement", "filing"):
        answer = script.post(f"/api/v1/exits/{HH}/steps", json={**api, "step": step}, headers=admin)
        assert answer.status_code == 200, answer.get_json()
    assert card() == (0, "/exits/?done=0")


def test_a_step_with_its_document_photo_from_the_file(client, district):
    login(client, "town1")
    token = csrf(text(client.get(f"/households/{HH}")))
    form = {"csrf_token": token, "step": "appraisal", "on": str(TODAY), "note": "",
            "photo": (io.BytesIO(b"not an image"), "minutes.jpg", "image/jpeg")}
    assert client.post(f"/exits/{HH}/steps", data=form, content_type="multipart/form-data").status_code == 302
    html = text(client.get(f"/households/{HH}"))
    assert "照片不是有效的图片" in html and 'data-testid="exit-steps"' not in html
    form["photo"] = (io.BytesIO(jpeg(2000)), "minutes.jpg", "image/jpeg")
    assert client.post(f"/exits/{HH}/steps", data=form, content_type="multipart/form-data").status_code == 302
    link = re.search(r'<a href="([^"]+)" data-testid="exit-photo">', text(client.get(f"/households/{HH}"))).group(1)
    with client.get(link) as photo:  # a stored file is streamed: closed after
        assert photo.status_code == 200 and photo.mimetype == "image/jpeg"
