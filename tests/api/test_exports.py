"""Exports over the API: a form's submissions as CSV, XLSX and zip (repeats and photos), the household records as
CSV, XLSX and GeoJSON, the visits as GeoJSON — row by row against what was submitted, masked per role, scoped by
area, filtered by period and review state."""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import zipfile

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select, update

from server.db import session_scope
from server.params import CHINA
from support import Collect, jpeg, new_instance_id, visit_xml
from sync.models import Area, Household, Submission

HH = "2105040010010001"        # village 1 (郝福)
OTHER = "2105040020010001"     # town 2
ID_NUMBER = "21050419270224559X"
MASKED = "210504********559X"


def rows_of_csv(data: bytes) -> list[dict[str, str]]:
    assert data.startswith("\ufeff".encode("utf-8")), "Excel and WPS need the BOM to read UTF-8"
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


@pytest.fixture
def submitted(client, sample_district, work, make_user):
    """Two visits in village 1 by cadre001 (one with a member change and a photo), one in town 2 by cadre201."""
    codes = sample_district["codes"]
    cadre = Collect(client, sample_district["cadre1"])
    photo = jpeg(20_000)
    first, second, other = new_instance_id(), new_instance_id(), new_instance_id()
    changes = [{"type": "death", "name": "宋建", "id_number": ID_NUMBER, "date": "2026-11-01"}]
    assert cadre.submit(visit_xml(HH, instance_id=first, changes=changes, photo="family.jpg", water="no"),
                        files={"family.jpg": photo}).status_code == 201
    assert cadre.submit(visit_xml(HH, instance_id=second, photo="")).status_code == 201
    far = Collect(client, make_user("cadre201", "cadre", (codes["210504002001"],)))
    assert far.submit(visit_xml(OTHER, instance_id=other, username="cadre201", photo="")).status_code == 201
    work()
    return {"first": first, "second": second, "other": other, "photo": photo, **sample_district}


def get(client, path: str, headers: dict, status: int = 200):
    response = client.get(path, headers=headers)
    assert response.status_code == status, response.get_data(as_text=True)
    return response


def test_the_csv_has_a_row_per_submission_with_every_question_labelled(client, submitted):
    response = get(client, "/api/v1/exports/submissions/household_visit.csv", submitted["town1"])
    assert response.mimetype == "text/csv"
    assert "household_visit" in response.headers["Content-Disposition"]
    rows = rows_of_csv(response.data)
    by_key = {r["提交编号 (KEY)"]: r for r in rows}
    assert set(by_key) == {submitted["first"], submitted["second"]}  # town 2's visit is not the town 1 clerk's
    row = by_key[submitted["first"]]
    assert row["户编号 / 户主 (household)"] == HH
    assert row["走访日期 (visit_date)"] == "2026-11-20"
    assert row["不愁吃：全年口粮有保障、能吃饱吗？ (two_assurances-food_secure)"] == "是"   # the label, not "yes"
    assert row["水质达标吗？ (water-water_quality)"] == "否"
    assert row["户门口定位 纬度 (gps-Latitude)"] == "41.296222"
    assert row["户门口定位 经度 (gps-Longitude)"] == "123.80102"
    assert row["户门口定位 精度 (gps-Accuracy)"] == "5"
    assert row["与户内成员合影 (photo_family)"] == "family.jpg"
    assert row["提交账号 (SubmitterID)"] == "cadre001"
    assert row["审核状态 (ReviewState)"] == "已接收"
    assert row["走访核实 (Verdict)"] in ("已核实", "存疑", "无佐证")
    assert row["表单版本 (FormVersion)"]
    received = dt.datetime.strptime(row["接收时间 (SubmissionDate)"], "%Y-%m-%d %H:%M:%S")
    assert abs(received - dt.datetime.now(CHINA).replace(tzinfo=None)) < dt.timedelta(minutes=5)  # China time
    assert not [h for h in rows[0] if "person_name" in h]  # the plain CSV is the main table; repeats: the zip
    notes = [h for h in rows[0] if h.startswith("户编号 ：")]
    assert not notes  # a note holds no answer


def test_the_zip_has_a_csv_per_repeat_keyed_to_its_submission_and_the_photos(client, submitted):
    response = get(client, "/api/v1/exports/submissions/household_visit.zip", submitted["town1"])
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    assert archive.testzip() is None
    main = {r["提交编号 (KEY)"]: r for r in rows_of_csv(archive.read("household_visit.csv"))}
    photo_cell = main[submitted["first"]]["与户内成员合影 (photo_family)"]
    assert photo_cell.startswith("media/") and photo_cell.endswith("/family.jpg")
    assert archive.read(photo_cell) == submitted["photo"]
    assert main[submitted["second"]]["与户内成员合影 (photo_family)"] == ""
    changes = rows_of_csv(archive.read("household_visit-member_change.csv"))
    assert [(c["所属提交 (PARENT_KEY)"], c["编号 (KEY)"], c["姓名 (person_name)"]) for c in changes] == [
        (submitted["first"], f"{submitted['first']}/member_change[1]", "宋建")]
    assert changes[0]["身份证号 (id_number)"] == MASKED  # a supervisor sees the masked number, as on every page
    assert changes[0]["变动类型 (change_type)"] != "death"  # the label

    without = zipfile.ZipFile(io.BytesIO(get(client, "/api/v1/exports/submissions/household_visit.zip?media=0",
                                             submitted["town1"]).data))
    assert not [n for n in without.namelist() if n.startswith("media/")]


def test_an_admin_gets_full_id_numbers(client, submitted, admin):
    archive = zipfile.ZipFile(io.BytesIO(get(client, "/api/v1/exports/submissions/household_visit.zip",
                                             admin).data))
    changes = rows_of_csv(archive.read("household_visit-member_change.csv"))
    assert changes[0]["身份证号 (id_number)"] == ID_NUMBER


def test_the_xlsx_holds_the_same_rows_a_sheet_per_table(client, submitted):
    csv_rows = rows_of_csv(get(client, "/api/v1/exports/submissions/household_visit.csv", submitted["town1"]).data)
    response = get(client, "/api/v1/exports/submissions/household_visit.xlsx", submitted["town1"])
    book = load_workbook(io.BytesIO(response.data))
    assert book.sheetnames == ["household_visit", "household_visit-member_change", "说明"]
    sheet = book["household_visit"]
    assert sheet.freeze_panes == "A2"
    header = [c.value for c in sheet[1]]
    assert header == list(csv_rows[0])
    for values, expected in zip(sheet.iter_rows(min_row=2, values_only=True), csv_rows):
        as_text = ["" if v is None else str(v) for v in values]
        assert as_text == [expected[h] for h in header]
    latitude = header.index("户门口定位 纬度 (gps-Latitude)")
    assert isinstance(next(sheet.iter_rows(min_row=2, values_only=True))[latitude], float)  # numbers sum
    assert [c.value for c in book["household_visit-member_change"][2]][2:4] == ["死亡", "宋建"]
    assert "身份证号" in book["说明"]["A2"].value


def test_filters_by_area_period_and_review_state(client, submitted, sessions):
    town1 = submitted["town1"]
    path = "/api/v1/exports/submissions/household_visit.csv"
    month = dt.datetime.now(CHINA).strftime("%Y-%m")
    assert len(rows_of_csv(get(client, f"{path}?month={month}", town1).data)) == 2
    assert rows_of_csv(get(client, f"{path}?month=2020-01", town1).data) == []
    today = dt.datetime.now(CHINA).date()
    assert len(rows_of_csv(get(client, f"{path}?from={today}&to={today}", town1).data)) == 2
    assert rows_of_csv(get(client, f"{path}?to={today - dt.timedelta(days=1)}", town1).data) == []
    assert rows_of_csv(get(client, f"{path}?area=210504001002", town1).data) == []
    with session_scope(sessions) as session:
        session.execute(update(Submission).where(Submission.instance_id == submitted["second"])
                        .values(review_state="approved"))
    approved = rows_of_csv(get(client, f"{path}?review_state=approved", town1).data)
    assert [r["提交编号 (KEY)"] for r in approved] == [submitted["second"]]
    assert approved[0]["审核状态 (ReviewState)"] == "已通过"


@pytest.mark.parametrize("query, code", [
    ("month=2026-13", "request.invalid"), ("month=2026-11&from=2026-11-01", "request.invalid"),
    ("from=2026-11-02&to=2026-11-01", "request.invalid"), ("review_state=lost", "request.invalid"),
])
def test_a_bad_filter_is_a_400_problem(client, submitted, query, code):
    response = get(client, f"/api/v1/exports/submissions/household_visit.csv?{query}", submitted["town1"], 400)
    assert response.get_json()["code"] == code


def test_another_areas_rows_never_appear_and_its_area_is_404(client, submitted):
    cadre2 = submitted["cadre2"]   # village 2 of town 1: none of the three visits
    assert rows_of_csv(get(client, "/api/v1/exports/submissions/household_visit.csv", cadre2).data) == []
    get(client, "/api/v1/exports/submissions/household_visit.csv?area=210504002", cadre2, 404)
    get(client, "/api/v1/exports/households.csv?area=210504002", cadre2, 404)
    numbers = {r["户编号 (number)"] for r in rows_of_csv(get(client, "/api/v1/exports/households.csv", cadre2).data)}
    assert numbers and all(n.startswith("210504001002") for n in numbers)
    features = json.loads(get(client, "/api/v1/exports/visits.geojson", cadre2).data)["features"]
    assert features == []


def test_an_unknown_form_is_404_and_nobody_anonymous_exports(client, submitted):
    assert get(client, "/api/v1/exports/submissions/nothing.csv", submitted["town1"], 404).get_json()["code"] \
        == "form.not_found"
    assert client.get("/api/v1/exports/households.csv").status_code == 401


def test_households_csv_xlsx_and_geojson_hold_the_current_records(client, submitted, sessions):
    town1 = submitted["town1"]
    with session_scope(sessions) as session:
        expected = set(session.scalars(
            select(Household.number).join(Area, Household.area_id == Area.id)
            .where(Area.code.startswith("210504001"))).all())
    month = "2026-11"   # the visits' month
    rows = rows_of_csv(get(client, f"/api/v1/exports/households.csv?month={month}", town1).data)
    assert {r["户编号 (number)"] for r in rows} == expected
    mine = next(r for r in rows if r["户编号 (number)"] == HH)
    assert mine["户主 (head)"] == "郝福"
    assert mine["乡镇 (town)"] and mine["村 (village)"]
    assert mine["饮水安全有保障 (water_safe)"] in ("否", "是")   # value labels, as the household file shows
    assert mine["最近走访日期 (last_visit)"] == "2026-11-20"
    assert mine["帮扶责任人 (cadre_name)"] and mine["帮扶责任人账号 (cadre)"]
    assert mine[f"{month} 走访状态 (month_state)"] in ("已走访（证据核实）", "走访存疑")
    flagged = rows_of_csv(get(client, f"/api/v1/exports/households.csv?q={HH}", town1).data)
    assert [r["户编号 (number)"] for r in flagged] == [HH]

    book = load_workbook(io.BytesIO(get(client, "/api/v1/exports/households.xlsx", town1).data))
    assert book.sheetnames == ["一户一档"] and book.active.max_row == len(expected) + 1

    collection = json.loads(get(client, "/api/v1/exports/households.geojson", town1).data)
    feature = next(f for f in collection["features"] if f["id"] == HH)
    with session_scope(sessions) as session:
        house = session.scalar(select(Household).where(Household.number == HH))
        assert feature["geometry"]["coordinates"] == [house.longitude, house.latitude]  # [lng, lat] for QGIS
    assert feature["properties"]["户主 (head)"] == "郝福"


def test_visits_geojson_has_each_visit_with_its_point_and_verdict(client, submitted):
    collection = json.loads(get(client, "/api/v1/exports/visits.geojson", submitted["town1"]).data)
    by_id = {f["id"]: f for f in collection["features"]}
    assert set(by_id) == {submitted["first"], submitted["second"]}
    first = by_id[submitted["first"]]
    assert first["geometry"]["coordinates"] == [123.80102, 41.296222]
    assert first["properties"]["户编号 (household)"] == HH
    assert first["properties"]["核实结果 (verdict)"] in ("已核实", "存疑", "无佐证")
    month = json.loads(get(client, "/api/v1/exports/visits.geojson?month=2026-11", submitted["town1"]).data)
    assert len(month["features"]) == 2
    assert json.loads(get(client, "/api/v1/exports/visits.geojson?month=2026-10",
                          submitted["town1"]).data)["features"] == []


def test_a_submission_is_accepted_while_an_export_is_being_read(client, submitted, sample_district):
    # the export's own session takes no write lock: on SQLite, one that did would stop every device meanwhile
    response = client.get("/api/v1/exports/submissions/household_visit.csv", headers=submitted["town1"],
                          buffered=False)
    chunks = iter(response.response)
    first = next(chunks)
    assert first.startswith(b"\xef\xbb\xbf")
    answer = Collect(client, sample_district["cadre1"]).submit(visit_xml(HH, photo=""))
    assert answer.status_code == 201, answer.get_data(as_text=True)
    rest = b"".join(chunks)
    response.close()
    assert len(rows_of_csv(first + rest)) in (2, 3)  # the export reads one snapshot, before or after the new one


def _export_link(html: str, testid: str) -> str:
    import html as entities
    import re
    return entities.unescape(re.search(rf'href="([^"]+)"[^>]*data-testid="{testid}"', html).group(1))


def test_each_list_page_exports_the_rows_it_shows(client, submitted):
    from support import login
    login(client, "town1")
    page = client.get("/coverage/not-visited?month=2026-11&area=210504001001").get_data(as_text=True)
    shown = set(re.findall(r'data-number="(\d+)"', page))
    link = _export_link(page, "export-csv")
    assert "state=not_visited" in link and "month=2026-11" in link
    exported = rows_of_csv(client.get(link).data)
    assert shown and {r["户编号 (number)"] for r in exported} == shown
    assert HH not in shown  # visited that month

    page = client.get(f"/households/?q={HH[:12]}&state=verified&month=2026-11").get_data(as_text=True)
    link = _export_link(page, "export-xlsx")
    book = load_workbook(io.BytesIO(client.get(link).data))
    numbers = {row[0] for row in book.active.iter_rows(min_row=2, values_only=True)}
    listed = set(re.findall(r'data-testid="household-row"[^>]*data-number="(\d+)"', page)) or \
        set(re.findall(r'data-number="(\d+)"[^>]*data-testid="household-row"', page))
    assert numbers == listed


def test_the_monthly_report_has_a_sheet_per_table_by_village_with_subtotals_and_a_total(client, submitted,
                                                                                       sessions):
    response = get(client, "/api/v1/reports/monthly.xlsx?month=2026-11&area=210504001", submitted["town1"])
    assert "monthly_2026-11_210504001.xlsx" in response.headers["Content-Disposition"]
    book = load_workbook(io.BytesIO(response.data))
    assert book.sheetnames == ["说明", "走访覆盖", "两不愁三保障和饮水安全", "供水方式", "危房改造", "户类型",
                               "风险与数据质量"]
    coverage = list(book["走访覆盖"].iter_rows(values_only=True))
    assert coverage[0][:6] == ("乡镇", "村", "应走访户", "已走访（证据核实）", "走访存疑", "未走访")
    with session_scope(sessions) as session:
        per_village = dict(session.execute(
            select(Area.name, func.count(Household.id)).join(Household, Household.area_id == Area.id)
            .where(Area.code.startswith("210504001")).group_by(Area.name)).all())
        (village_of_hh,) = session.execute(select(Area.name).join(Household, Household.area_id == Area.id)
                                           .where(Household.number == HH)).one()
    villages = {row[1]: row for row in coverage[1:] if row[1] not in ("小计", None)}
    assert {name: row[2] for name, row in villages.items()} == per_village
    visited = villages[village_of_hh]
    assert visited[3] + visited[4] == 1 and visited[5] == per_village[village_of_hh] - 1  # one household visited
    subtotal, total = coverage[-2], coverage[-1]
    assert subtotal[1] == "小计" and total[0] == "合计"
    assert total[2:6] == tuple(sum(r[i] for r in villages.values()) for i in range(2, 6))
    assert book["走访覆盖"]["A" + str(len(coverage))].font.b  # the total stands out
    assert round(total[6], 1) == round(100 * (total[3] + total[4]) / total[2], 1)
    statuses = list(book["户类型"].iter_rows(values_only=True))
    assert statuses[-1][-1] == sum(per_village.values())
    get(client, "/api/v1/reports/monthly.xlsx?month=2026-11&area=210504002", submitted["town1"], 404)
    assert get(client, "/api/v1/reports/monthly.xlsx", submitted["town1"], 400).get_json()["code"] == \
        "request.invalid"


def test_the_monthly_report_measures_tap_and_central_water_against_the_targets(client, submitted, sessions, work):
    """DOMAIN.md "Precisions", Water: the source type is needed for 自来水普及率 ≥ 85% and 集中供水率 ≥ 90% (000)."""
    with session_scope(sessions) as session:
        village, neighbour = session.execute(
            select(Household.area_id, func.min(Household.number)).where(Household.number != HH)
            .where(Household.area_id == select(Household.area_id).where(Household.number == HH).scalar_subquery())
            .group_by(Household.area_id)).one()
        name = session.scalar(select(Area.name).where(Area.id == village))
    cadre = Collect(client, submitted["cadre1"])
    assert cadre.submit(visit_xml(neighbour, instance_id=new_instance_id(), photo="",
                                  water_source="scattered")).status_code == 201
    work()
    response = get(client, "/api/v1/reports/monthly.xlsx?month=2026-11&area=210504001", submitted["town1"])
    sheet = list(load_workbook(io.BytesIO(response.data))["供水方式"].iter_rows(values_only=True))
    assert sheet[0] == ("乡镇", "村", "已记录供水方式的户", "自来水入户", "集中供水", "未记录", "自来水普及率 %",
                        "集中供水率 %", "达标")
    rows = {row[1]: row for row in sheet[1:]}
    households = rows[name][2] + rows[name][5]
    # one household with central tap water, one fetching its own water by hand: 50 % and 50 %, below both targets
    assert rows[name][2:] == (2, 1, 1, households - 2, 50.0, 50.0, "否")
    quiet = next(row for row in sheet[1:] if row[1] not in (name, "小计", None))
    assert quiet[2:5] == (0, 0, 0) and quiet[6:] == ("—", "—", "—")  # nothing recorded: no rate, not 0
    total = sheet[-1]
    assert total[0] == "合计" and total[2:5] == (2, 1, 1) and total[6:] == (50.0, 50.0, "否")
    notes = {row[0]: row[1] for row in load_workbook(io.BytesIO(response.data))["说明"].iter_rows(values_only=True)}
    assert "目标 ≥ 85%" in notes["供水方式"] and "目标 ≥ 90%" in notes["供水方式"]
