"""Roster import (建档立卡名单) and the household list it publishes to each cadre's devices."""
import csv
import io
import re

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from forms.service import BUNDLED_DIR
from server.db import session_scope
from server.models import User
from support import login
from sync.areas import import_areas
from sync.models import Area, Household, Member
from sync.records import Finding

SAMPLES = BUNDLED_DIR.parent.parent / "sync" / "samples"
ROSTER = (SAMPLES / "roster.csv").read_text(encoding="utf-8")
VILLAGE_1 = "210504001001"  # 高峪一村
VILLAGE_2 = "210504001002"  # 高峪二村


def numbers_in(village_code: str) -> set[str]:
    return {r["户编号"] for r in csv.DictReader(io.StringIO(ROSTER)) if r["行政区划代码"] == village_code}


@pytest.fixture
def district(sessions, make_user, roster_cadres):
    with session_scope(sessions) as session:
        import_areas(session, (SAMPLES / "areas.csv").read_bytes(), "areas.csv")
        codes = {a.code: a.id for a in session.scalars(select(Area))}
    return {
        "cadre1": make_user("cadre1", "cadre", (codes[VILLAGE_1],)),
        "cadre2": make_user("cadre2", "cadre", (codes[VILLAGE_2],)),
    }


def upload(client, headers, text: str | bytes, filename="roster.csv"):
    body = text.encode("utf-8") if isinstance(text, str) else text
    return client.post("/api/v1/roster", data={"file": (io.BytesIO(body), filename)}, headers=headers,
                       content_type="multipart/form-data")


def counts(sessions):
    with session_scope(sessions) as session:
        return (session.scalar(select(func.count(Household.id))), session.scalar(select(func.count(Member.id))))


def edit(text: str, line: int, column: str, value: str) -> str:
    """Change one cell; `line` is the spreadsheet row number (the header is row 1)."""
    rows = list(csv.reader(io.StringIO(text)))
    rows[line - 1][rows[0].index(column)] = value
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


def test_sample_roster_imports_and_reimport_changes_nothing(client, admin, district, sessions):
    first = upload(client, admin, ROSTER)
    assert first.status_code == 200, first.get_data(as_text=True)
    assert first.get_json() == {"rows": 274, "households": 113, "created": 113, "updated": 0, "unchanged": 0}
    assert counts(sessions) == (113, 274)
    again = upload(client, admin, ROSTER).get_json()
    assert again == {"rows": 274, "households": 113, "created": 0, "updated": 0, "unchanged": 113}
    with session_scope(sessions) as session:
        household = session.scalar(select(Household).where(Household.number == "2105040010010001"))
        assert (household.head_name, household.status, household.cadre) == ("郝福", "监测户", "cadre001")
        # DOMAIN.md Precisions: "Monitoring subtypes are kept, not folded" (003, 004)
        assert household.monitoring_type == "脱贫不稳定户"
        assert [m.relation for m in household.members] == ["户主", "之父"]
        assert household.roster_version == 1


def test_updated_file_updates_only_the_changed_household(client, admin, district, sessions):
    upload(client, admin, ROSTER)
    changed = edit(edit(ROSTER, 2, "户类型", "已脱贫"), 3, "户类型", "已脱贫")  # both rows of household …0001
    answer = upload(client, admin, changed).get_json()
    assert (answer["updated"], answer["unchanged"]) == (1, 112)
    with session_scope(sessions) as session:
        household = session.scalar(select(Household).where(Household.number == "2105040010010001"))
        assert household.status == "已脱贫" and household.roster_version == 2
        assert len(household.members) == 2


def test_xlsx_with_english_headers_imports(client, admin, district, sessions):
    english = ["household_number", "area_code", "village", "name", "id_number", "relation", "sex", "birth_date",
               "schooling", "medical_insurance", "health", "labour", "household_type", "poverty_cause", "latitude",
               "longitude", "cadre"]
    book = Workbook()
    sheet = book.active
    rows = list(csv.reader(io.StringIO(ROSTER)))
    sheet.append(english)
    for row in rows[1:]:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    answer = upload(client, admin, out.getvalue(), "roster.xlsx")
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json()["households"] == 113


@pytest.mark.parametrize("line, column, value, field, zh, en", [
    (2, "证件号码", "210504194707180879", "id_number", "校验位", "check digit"),
    (2, "行政区划代码", "210504001009", "area_code", "不是已导入的村或组", "not a known village"),
    (3, "帮扶责任人", "cadre002", "cadre", "与第 2 行不一致", "on row 2"),
    (3, "帮扶责任人", "cadre999", "cadre", "没有登录名或显示名为“cadre999”的账号", "no account"),
    (2, "联系电话", "call me", "phone", "电话号码", "phone number"),
    (3, "与户主关系", "户主", "relation", "恰好有一名户主", "exactly one"),
    (2, "出生日期", "1947-07-19", "birth_date", "出生日期不一致", "birth date in the ID number"),
    (2, "姓名", "", "name", "必填", "Missing data"),
    (2, "户类型", "富裕户", "status", "户类型应为", "unknown household type"),
    (2, "村名", "高峪二村", "village_name", "不符", "is not the name of"),
    (3, "证件号码", "210504194707180878", "id_number", "与第 2 行重复", "same ID number as row 2"),
])
def test_each_kind_of_bad_row_is_refused_with_its_row_and_nothing_changes(
        client, admin, district, sessions, line, column, value, field, zh, en):
    upload(client, admin, ROSTER)
    before = counts(sessions)
    bad = edit(ROSTER.replace("已脱贫", "未脱贫"), line, column, value)  # would otherwise update 162 rows
    response = upload(client, admin, bad)
    assert response.status_code == 400
    problem = response.get_json()
    assert problem["code"] == "roster.invalid" and "nothing was imported" in problem["message_en"]
    # the column is named by its Chinese header, never the internal key (issue 14 item 8)
    matching = [e for e in problem["details"]["errors"] if e["row"] == line and e["column"] == column]
    assert matching, problem["details"]["errors"]
    assert zh in matching[0]["message_zh"] and en in matching[0]["message_en"]
    assert matching[0]["message_zh"].startswith(f"{column}：")
    assert counts(sessions) == before
    with session_scope(sessions) as session:
        assert session.scalar(select(func.count(Household.id)).where(Household.status == "已脱贫")) > 0


def without_column(text: str, header: str) -> str:
    rows = list(csv.reader(io.StringIO(text)))
    index = rows[0].index(header)
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([row[:index] + row[index + 1:] for row in rows])
    return out.getvalue()


def test_missing_column_is_named(client, admin, district):
    problem = upload(client, admin, without_column(ROSTER, "帮扶责任人")).get_json()
    assert problem["code"] == "table.columns_missing" and "帮扶责任人" in problem["message_zh"]


def test_a_roster_without_the_phone_column_imports(client, admin, district, sessions):
    """联系电话 is optional: a roster made before the column existed still imports."""
    assert upload(client, admin, without_column(ROSTER, "联系电话")).status_code == 200
    assert counts(sessions) == (113, 274)


def test_only_admins_import(client, district):
    assert upload(client, district["cadre1"], ROSTER).status_code == 403


def list_for(client, headers, form_id="household_visit"):
    listing = client.get(f"/formList?formID={form_id}", headers=headers).get_data(as_text=True)
    manifest_url = re.search(r"<manifestUrl>(.*?)</manifestUrl>", listing).group(1)
    manifest = client.get(manifest_url, headers=headers).get_data(as_text=True)
    assert '<mediaFile type="entityList"><filename>households.csv</filename>' in manifest
    list_hash = re.search(r"<hash>md5:(\w+)</hash>", manifest).group(1)
    url = re.search(r"<downloadUrl>(.*?)</downloadUrl>", manifest).group(1)
    body = client.get(url, headers=headers)
    assert body.headers["ETag"].strip('"') == list_hash
    return list_hash, list(csv.DictReader(io.StringIO(body.get_data(as_text=True))))


@pytest.fixture
def published(sessions, store):
    from forms.service import publish_bundled_forms
    with session_scope(sessions) as session:
        publish_bundled_forms(session, store)


def test_each_cadre_gets_exactly_their_households(client, admin, district, published):
    upload(client, admin, ROSTER)
    for cadre, village in (("cadre1", VILLAGE_1), ("cadre2", VILLAGE_2)):
        for form_id in ("household_visit", "housing_assessment", "income_survey"):
            _hash, rows = list_for(client, district[cadre], form_id)
            assert {r["name"] for r in rows} == numbers_in(village)
    _hash, rows = list_for(client, district["cadre1"])
    row = next(r for r in rows if r["name"] == "2105040010010001")
    assert row["label"] == "郝福 (2105040010010001)" and row["__version"] == "1" and row["size"] == "2"
    assert (row["village_code"], row["village"], row["status"], row["monitoring_type"], row["cadre"]) == (
        VILLAGE_1, "高峪一村", "监测户", "脱贫不稳定户", "cadre001")
    assert (row["latitude"], row["longitude"]) == ("41.296222", "123.801020")
    assert list(rows[0].keys())[:3] == ["name", "label", "__version"]


def test_list_hash_changes_after_a_roster_change_and_not_otherwise(client, admin, district, published):
    upload(client, admin, ROSTER)
    hash1, _ = list_for(client, district["cadre1"])
    hash2, _ = list_for(client, district["cadre2"])
    upload(client, admin, ROSTER)  # the same file again
    assert list_for(client, district["cadre1"])[0] == hash1
    changed = edit(edit(ROSTER, 2, "户类型", "已脱贫"), 3, "户类型", "已脱贫")  # a household of village 1
    upload(client, admin, changed)
    new_hash, rows = list_for(client, district["cadre1"])
    assert new_hash != hash1
    assert next(r for r in rows if r["name"] == "2105040010010001")["__version"] == "2"
    assert list_for(client, district["cadre2"])[0] == hash2  # village 2's list did not change


def test_form_list_hash_is_stable_and_unchanged_list_answers_304(client, admin, district, published):
    upload(client, admin, ROSTER)
    first = client.get("/formList", headers=district["cadre1"]).get_data(as_text=True)
    assert client.get("/formList", headers=district["cadre1"]).get_data(as_text=True) == first
    response = client.get("/forms/household_visit/attachments/households.csv", headers=district["cadre1"])
    again = client.get("/forms/household_visit/attachments/households.csv",
                       headers={**district["cadre1"], "If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304


def test_roster_page_is_for_admins(client, admin, district):
    from test_devices_and_auth import login
    login(client, "cadre1")
    assert client.get("/admin/roster").status_code == 403
    client.post("/logout", data={"csrf_token": re.search(r'name="csrf_token" value="([^"]+)"',
                                                         client.get("/").get_data(as_text=True)).group(1)})
    login(client, "admin")
    page = client.get("/admin/roster").get_data(as_text=True)
    assert "导入建档立卡名单" in page and "roster.js" in page


def test_the_downloaded_template_imports_its_sample_row(client, admin, district, sessions, make_user):
    """Issue 17 item 10: download the template on the roster page, import it as it is: the sample household is
    there."""
    from openpyxl import load_workbook
    from test_devices_and_auth import login
    login(client, "admin")
    page = client.get("/admin/roster").get_data(as_text=True)
    assert 'href="/admin/roster/template.xlsx"' in page and 'data-testid="admin-tabs"' in page
    response = client.get("/admin/roster/template.xlsx")
    assert response.status_code == 200 and response.mimetype.endswith("spreadsheetml.sheet")
    assert "attachment" in response.headers["Content-Disposition"]
    header, sample = load_workbook(io.BytesIO(response.data)).worksheets[0].iter_rows(values_only=True)
    row = dict(zip(header, sample))
    with session_scope(sessions) as session:  # the cadre it names has an account
        named = session.scalar(select(User).where(User.username == row["帮扶责任人"]))
    if named is None:
        make_user(row["帮扶责任人"], "cadre", ())
    assert counts(sessions) == (0, 0)
    token = re.search(r'data-csrf="([^"]+)"', page).group(1)  # as the page's script sends it
    imported = upload(client, {"X-CSRF-Token": token}, response.data, "模板.xlsx")
    assert imported.status_code == 200, imported.get_json()
    with session_scope(sessions) as session:
        household = session.scalar(select(Household).where(Household.number == row["户编号"]))
        assert household is not None and household.head_name == row["姓名"]


def test_the_template_is_for_admins(client, admin, district):
    from test_devices_and_auth import login
    login(client, "cadre1")
    assert client.get("/admin/roster/template.xlsx").status_code == 403


def test_session_api_writes_need_the_csrf_header(client, admin, district):
    from test_devices_and_auth import login
    login(client, "admin")
    refused = client.post("/api/v1/roster", data={"file": (io.BytesIO(ROSTER.encode()), "r.csv")},
                          content_type="multipart/form-data")
    assert refused.status_code == 400 and refused.get_json()["code"] == "web.csrf"
    token = re.search(r'data-csrf="([^"]+)"', client.get("/admin/roster").get_data(as_text=True)).group(1)
    accepted = client.post("/api/v1/roster", data={"file": (io.BytesIO(ROSTER.encode()), "r.csv")},
                           content_type="multipart/form-data", headers={"X-CSRF-Token": token})
    assert accepted.status_code == 200


def test_monitoring_subtypes_are_kept_and_other_statuses_have_none(client, admin, district, sessions):
    """DOMAIN.md Precisions: "Monitoring subtypes are kept, not folded: 脱贫不稳定户, 边缘易致贫户, 突发严重困难户"
    (003, 004) — the roster's 户类型 may name the kind; the household keeps it beside the status 监测户."""
    assert upload(client, admin, ROSTER).status_code == 200
    with session_scope(sessions) as session:
        kinds = dict(session.execute(select(Household.monitoring_type, func.count())
                                     .group_by(Household.monitoring_type)).all())
        assert kinds == {None: 87, "脱贫不稳定户": 14, "边缘易致贫户": 6, "突发严重困难户": 6}
        assert session.scalar(select(func.count()).where(Household.monitoring_type.is_not(None),
                                                         Household.status != "监测户")) == 0
    changed = edit(edit(ROSTER, 2, "户类型", "边缘易致贫户"), 3, "户类型", "边缘易致贫户")
    assert upload(client, admin, changed).get_json()["updated"] == 1
    plain = edit(edit(ROSTER, 2, "户类型", "已脱贫"), 3, "户类型", "已脱贫")
    assert upload(client, admin, plain).get_json()["updated"] == 1
    with session_scope(sessions) as session:
        household = session.scalar(select(Household).where(Household.number == "2105040010010001"))
        assert (household.status, household.monitoring_type) == ("已脱贫", None)


def test_the_cadre_is_an_account_by_login_or_by_a_unique_display_name(client, admin, district, sessions):
    """The 帮扶责任人 must be someone who can log in and visit (DOMAIN.md "Who uses it": the paired cadre visits
    "their" households): a login name, or a display name only one account has; stored as the login name."""
    with session_scope(sessions) as session:
        session.add_all([User(username="wangjg", role="cadre", display_name="王建国"),
                         User(username="li1", role="cadre", display_name="李明"),
                         User(username="li2", role="cadre", display_name="李明"),
                         User(username="gone", role="cadre", display_name="离职", active=False)])
    by_display = edit(edit(ROSTER, 2, "帮扶责任人", "王建国"), 3, "帮扶责任人", "wangjg")
    assert upload(client, admin, by_display).status_code == 200
    with session_scope(sessions) as session:
        assert session.scalar(select(Household.cadre).where(Household.number == "2105040010010001")) == "wangjg"
    for value, zh in (("李明", "是 2 个账号的显示名（li1、li2），请填写登录名"), ("nobody", "没有登录名或显示名为“nobody”"),
                      ("gone", "没有登录名或显示名为“gone”")):
        problem = upload(client, admin, edit(ROSTER, 2, "帮扶责任人", value)).get_json()
        errors = [e for e in problem["details"]["errors"] if e["row"] == 2]
        assert [e["column"] for e in errors] == ["帮扶责任人"] and zh in errors[0]["message_zh"], errors


def test_every_problem_of_a_row_is_reported_at_once(client, admin, district):
    """Row errors name every problem of the row, each with its column's Chinese header (issue 14 item 8)."""
    bad = edit(edit(edit(ROSTER, 2, "姓名", ""), 2, "出生日期", "1947-07-19"), 2, "帮扶责任人", "nobody")
    bad = edit(bad, 2, "联系电话", "abc")
    problem = upload(client, admin, bad).get_json()
    columns = sorted(e["column"] for e in problem["details"]["errors"] if e["row"] == 2)
    assert columns == sorted(["姓名", "出生日期", "帮扶责任人", "联系电话"]), problem["details"]["errors"]


def test_the_phone_number_is_kept(client, admin, district, sessions):
    """The roster's 联系电话 column (issue 14 item 8): kept on the household and shown in its record."""
    text = edit(edit(ROSTER, 2, "联系电话", "139 0000 0000"), 3, "联系电话", "13900000000")
    assert upload(client, admin, text).status_code == 200
    detail = client.get("/api/v1/households/2105040010010001", headers=admin).get_json()
    assert detail["phone"] == "13900000000" and detail["monitoring_type"] == "脱贫不稳定户"
    assert upload(client, admin, text).get_json()["unchanged"] == 113
    login(client, "admin")
    page = client.get("/households/2105040010010001").get_data(as_text=True)
    assert 'data-testid="household-phone">13900000000<' in page


def test_relation_versus_sex_is_a_data_quality_finding_and_the_sample_has_none(client, admin, district, sessions,
                                                                              reconcile):
    """DOMAIN.md:73 "logic errors … are found and listed for correction": 之子 is a man, 之女 a woman. A finding, not a
    row error (the roster is still imported); the sample roster passes it (issue 14 item 8: 70 of its rows did
    not)."""
    rows = list(csv.DictReader(io.StringIO(ROSTER)))
    line = next(i for i, r in enumerate(rows, start=2) if r["与户主关系"] == "之子" and r["性别"] == "男")
    number = rows[line - 2]["户编号"]
    assert upload(client, admin, ROSTER).status_code == 200
    reconcile()
    with session_scope(sessions) as session:
        assert session.scalar(select(func.count(Finding.id)).where(Finding.code == "relation_vs_sex")) == 0
    assert upload(client, admin, edit(ROSTER, line, "与户主关系", "之女")).status_code == 200
    reconcile()
    with session_scope(sessions) as session:
        found = session.execute(select(Household.number, Finding.kind)
                                .join(Finding, Finding.household_id == Household.id)
                                .where(Finding.code == "relation_vs_sex")).all()
    assert found == [(number, "quality")]
