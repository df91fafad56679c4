"""Builders the tests share: XLSForms, submission XML, multipart bodies and JPEGs, all made in the test."""
from __future__ import annotations

import base64
import datetime as dt
import io
import os
import re
import random
import uuid
from pathlib import Path
from typing import Iterable

from openpyxl import Workbook, load_workbook
from PIL import ExifTags, Image, TiffImagePlugin

from forms import BUNDLED_DIR
from forms.instances import InstanceTemplate, bundled

XFORMS = "http://www.w3.org/2002/xforms"


def xlsform(form_id: str = "test_visit", version: str = "1", title: str = "测试走访",
            extra_rows: Iterable[tuple[str, str, str]] = (), media_image: str | None = None) -> bytes:
    """A small real XLSForm: a household, a photo of the family and one of the sign, a GPS point."""
    book = Workbook()
    survey = book.active
    survey.title = "survey"
    survey.append(["type", "name", "label::Chinese (zh)", "label::English (en)", "media::image::Chinese (zh)"])
    survey.append(["text", "household", "户编号", "Household number", None])
    survey.append(["geopoint", "gps", "位置", "Location", None])
    survey.append(["image", "photo_family", "合影", "Photo with the family", None])
    survey.append(["image", "photo_sign", "标识牌", "Sign", None])
    survey.append(["note", "hello", "说明", "Note", media_image])
    for row in extra_rows:
        survey.append(list(row) + [None] * (5 - len(row)))
    settings = book.create_sheet("settings")
    settings.append(["form_id", "version", "form_title", "default_language"])
    settings.append([form_id, version, title, "Chinese (zh)"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def broken_xlsform() -> bytes:
    book = Workbook()
    survey = book.active
    survey.title = "survey"
    survey.append(["type", "name", "label", "relevant"])
    survey.append(["text", "a", "A", None])
    survey.append(["text", "b", "B", "${nowhere} = 1"])
    settings = book.create_sheet("settings")
    settings.append(["form_id", "version"])
    settings.append(["broken", "1"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def raised_form(directory: Path, form_id: str, version: str, question: str) -> Path:
    """A copy of the bundled XLSForm `form_id` in `directory` with another version and one more text question at
    the end of the survey: the change an admin makes to a form in Excel."""
    book = load_workbook(BUNDLED_DIR / f"{form_id}.xlsx")
    book["survey"].append(["text", question, "新问题", "New question"])
    settings = book["settings"]
    header = [cell.value for cell in settings[1]]
    settings.cell(row=2, column=header.index("version") + 1, value=version)
    path = directory / f"{form_id}.xlsx"
    book.save(path)
    return path


def submission_xml(form_id: str = "test_visit", version: str = "1", instance_id: str | None = None,
                   household: str = "", photo_family: str = "", photo_sign: str = "",
                   deprecated_id: str | None = None, gps: str = "41.3 123.8 100 5") -> bytes:
    instance_id = instance_id or f"uuid:{uuid.uuid4()}"
    deprecated = f"<deprecatedID>{deprecated_id}</deprecatedID>" if deprecated_id else ""
    return (f'<data xmlns:jr="http://openrosa.org/javarosa" xmlns:orx="http://openrosa.org/xforms" '
            f'id="{form_id}" version="{version}"><household>{household}</household><gps>{gps}</gps>'
            f"<photo_family>{photo_family}</photo_family><photo_sign>{photo_sign}</photo_sign><hello/>"
            f"<meta><instanceID>{instance_id}</instanceID>{deprecated}</meta></data>").encode("utf-8")


def jpeg(target_bytes: int = 200_000, seed: int = 1) -> bytes:
    """A real JPEG of about the requested size (noise compresses badly, so size follows pixel count)."""
    rng = random.Random(seed)
    side = max(16, int((target_bytes / 0.78) ** 0.5))
    image = Image.frombytes("RGB", (side, side), rng.randbytes(side * side * 3))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def new_instance_id() -> str:
    return f"uuid:{uuid.uuid4()}"


def postgres_url() -> str | None:
    """The PostgreSQL database of this test process (conftest names one per xdist worker), or None on SQLite.
    Test modules read it from here: `from conftest import …` finds whichever conftest was imported first."""
    return os.environ.get("ZOUFANG_TEST_DATABASE_URL")


def basic(username: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


class Collect:
    """Speaks to /submission as ODK Collect does, through the Flask client."""

    def __init__(self, client, headers: dict[str, str], prefix: str = ""):
        self.client = client
        self.headers = headers
        self.prefix = prefix

    def submit(self, xml: bytes, files: dict[str, bytes] | None = None, headers: dict[str, str] | None = None,
               query: str = ""):
        data = {"xml_submission_file": (io.BytesIO(xml), "submission.xml", "text/xml")}
        for name, body in (files or {}).items():
            data[name] = (io.BytesIO(body), name, "image/jpeg")
        return self.client.post(f"{self.prefix}/submission{query}", data=data, content_type="multipart/form-data",
                                headers={"X-OpenRosa-Version": "1.0", **self.headers, **(headers or {})})


def _entity(household: str, base_version: int | None, update: bool = True, trunk_version: int | None = None,
            branch_id: str | None = None) -> dict:
    return {"id": household, "update": 1 if update else 0, "baseVersion": base_version,
            "trunkVersion": trunk_version, "branchId": branch_id}


def _opened(end: str, minutes: int = 15) -> str:
    """When a form finishing at `end` was opened: a plausible while before (sync/checks.py); an `end` that is no
    time (a test of unreadable times) is the start too."""
    try:
        return (dt.datetime.fromisoformat(end) - dt.timedelta(minutes=minutes)).isoformat()
    except (ValueError, OverflowError):
        return end


def _meta(instance_id: str | None, deprecated_id: str | None) -> dict:
    return {"meta/instanceID": instance_id or new_instance_id(), "meta/deprecatedID": deprecated_id}


def visit_xml(household: str, instance_id: str | None = None, end: str = "2026-11-20T10:00:00+08:00",
              visit_date: str | None = None, base_version: int | None = 1, trunk_version: int | None = None,
              branch_id: str | None = None, update: bool = True, food: str = "yes", clothing: str = "yes",
              education: str = "yes", medical: str = "yes", house_safe: str = "yes", grade: str = "A",
              water: str = "yes", children: int = 0, changes: Iterable[dict] = (), photo: str = "family.jpg",
              gps: str = "41.296222 123.80102 100 5", deprecated_id: str | None = None,
              username: str = "cadre001", problems: str = "none", form: InstanceTemplate | None = None,
              start: str | None = None, answers: dict | None = None, outcome: str = "visited",
              chronic: str = "na", help_given: str = "", water_source: str = "central_tap") -> bytes:
    """A door-to-door visit, filled into the instance of the bundled household_visit form (or of `form`, another
    version of it); `answers` (path → value) fills or overrides any other question. An `outcome` other than
    "visited" (nobody home) leaves the checklist and the photo empty."""
    if outcome != "visited":
        return (form or bundled("household_visit")).fill({
            "start": start or _opened(end), "end": end, "today": visit_date or end[:10], "deviceid": "collect:x",
            "username": username, "visit_date": visit_date or end[:10], "household": household,
            "visit_outcome": outcome, "absent_note": "外出务工", "gps": gps, **_meta(instance_id, deprecated_id),
            **(answers or {})},
            entity=_entity(household, base_version, False, trunk_version, branch_id))
    visit_date = visit_date or end[:10]
    changes = [{"change_type": c["type"], "person_name": c["name"], "relation": c.get("relation", "other"),
                "change_date": c.get("date", visit_date), "id_number": c.get("id_number", "")} for c in changes]
    return (form or bundled("household_visit")).fill({
        "start": start or _opened(end), "end": end, "today": visit_date, "deviceid": "collect:x", "username": username,
        "visit_date": visit_date, "household": household, "visit_outcome": outcome, "gps": gps,
        "photo_family": photo,
        "two_assurances/food_secure": food, "two_assurances/clothing_secure": clothing,
        "two_assurances/children_6_15": children, "two_assurances/out_of_school": 0,
        "two_assurances/education_secure": education, "two_assurances/all_insured": medical,
        "two_assurances/chronic_signed": chronic,
        "two_assurances/medical_secure": "yes" if medical == "yes" and chronic != "no" else "no",
        "two_assurances/housing_grade": grade, "two_assurances/house_safe": house_safe,
        **{f"water/{name}": water for name in ("water_quantity", "water_quality", "water_convenience",
                                               "water_reliability", "water_safe")},
        "water/water_source": water_source, "signs/housing_sign_present": "yes", "signs/water_sign_present": "yes",
        "findings/problems": problems, "findings/help_given": help_given,
        "has_member_changes": "yes" if changes else "no", "member_change": changes,
        **_meta(instance_id, deprecated_id), **(answers or {})},
        entity=_entity(household, base_version, update, trunk_version, branch_id))


def assessment_xml(household: str, grade: str = "C", renovation_state: str = "planned",
                   end: str = "2026-11-21T10:00:00+08:00", instance_id: str | None = None,
                   base_version: int | None = 1, deprecated_id: str | None = None, username: str = "assessor1",
                   mode: str = "relocate", answers: dict | None = None) -> bytes:
    """A housing-safety assessment, filled into the bundled housing_assessment form's instance, with the form's
    own calculations (a family moved in after a renovation on the same site has no old house left); `answers` as
    for a visit."""
    dangerous = grade in ("C", "D")
    saved = ("old_dealt" if renovation_state == "moved_in" and mode in ("repair", "rebuild") else renovation_state
             ) if dangerous else ""
    safe = "yes" if grade in ("A", "B") or saved == "old_dealt" else "no"
    return bundled("housing_assessment").fill({
        "start": _opened(end), "end": end, "today": end[:10], "deviceid": "collect:y", "username": username,
        "assess_date": end[:10], "household": household, "gps": "41.296 123.801 90 4",
        "structure": "brick_wood", "parts/foundation": "minor", "parts/walls": "severe", "parts/roof": "minor",
        "parts/load_bearing": "minor", "grade": grade, "renovation/renovation_mode": mode if dangerous else "",
        "renovation/renovation_state": renovation_state if dangerous else "", "renovation_saved": saved,
        "housing_safe": safe, "photos/photo_house": "house.jpg", "photos/sign_present": "yes",
        "photos/photo_sign": "sign.jpg", **_meta(instance_id, deprecated_id), **(answers or {})},
        entity=_entity(household, base_version))


def income_xml(household: str, year: int = 2025, size: int = 2, wage: float = 8000, business_gross: float = 3000,
               business_cost: float = 1000, property_income: float = 0, dibao: float = 0, pension: float = 1200,
               subsidies: float = 0, dividends: float = 0, other: float = 0, medical: float = 0,
               end: str = "2026-11-22T10:00:00+08:00", instance_id: str | None = None, base_version: int | None = 1,
               reported_total: float | None = None, answers: dict | None = None) -> bytes:
    """A household income survey, filled into the bundled income_survey form's instance; `answers` as for a
    visit."""
    total = wage + business_gross - business_cost + property_income + dibao + pension + subsidies + dividends + other
    reported = total if reported_total is None else reported_total
    return bundled("income_survey").fill({
        "start": _opened(end), "end": end, "today": end[:10], "deviceid": "collect:z", "username": "cadre001",
        "survey_date": end[:10], "household": household, "survey_year": year,
        "household_size": size, "income/wage_income": wage, "income/business_gross": business_gross,
        "income/business_cost": business_cost, "income/business_net": business_gross - business_cost,
        "income/property_income": property_income, "income/dividends": dividends,
        "income/property_total": property_income + dividends, "transfer/dibao": dibao, "transfer/pension": pension,
        "transfer/subsidies": subsidies, "transfer/other_transfer": other,
        "transfer_total": dibao + pension + subsidies + other, "total_net": reported,
        "per_capita": round(reported / size, 2), "spending/spend_medical": medical,
        "spending/spend_education": 0, "spending/spend_disaster": 0, "spend_total": medical, "confirmed": "OK",
        **_meta(instance_id, None), **(answers or {})}, entity=_entity(household, base_version))


def monitoring_xml(household: str, risks: str = "illness", subtype: str = "unstable", measures: str = "",
                   end: str = "2026-11-24T10:00:00+08:00", instance_id: str | None = None,
                   answers: dict | None = None) -> bytes:
    """A monitoring report (监测对象识别/帮扶), filled into the bundled monitoring_report form's instance; `answers` as
    for a visit."""
    return bundled("monitoring_report").fill({
        "start": _opened(end), "end": end, "today": end[:10], "deviceid": "collect:m", "username": "cadre001",
        "report_date": end[:10], "household": household, "risk/risks": risks,
        "risk/risk_other": "其他情况" if "other" in risks.split() else "", "risk/subtype": subtype,
        "risk/situation": "户主住院，家庭收入下降", "risk/income_estimate": 4200, "help/measures": measures,
        "help/measures_note": "已联系民政办" if measures else "", "gps": "41.296222 123.80102 100 5",
        "photo": "scene.jpg", **_meta(instance_id, None), **(answers or {})},
        entity=_entity(household, 1, False))


def report_xml(village_code: str = "210504001001", head: str = "刘新", id_number: str = "210504198001010012",
               reasons: str = "illness", end: str = "2026-11-22T10:00:00+08:00", instance_id: str | None = None,
               deprecated_id: str | None = None, answers: dict | None = None) -> bytes:
    """A report of a household outside the roster (新发现户报告), filled into the bundled household_report form's
    instance; `answers` as for a visit."""
    return bundled("household_report").fill({
        "start": _opened(end), "end": end, "today": end[:10], "deviceid": "collect:z", "username": "cadre001",
        "report_date": end[:10], "village_code": village_code, "village_name": "", "head_name": head,
        "id_number": id_number, "phone": "13800000000", "household_size": 3, "reasons": reasons,
        "description": "户主住院，家中无劳动力", "income_per_capita": 4200, "gps": "41.2963 123.8011 80 5",
        "photo_house": "house.jpg", **_meta(instance_id, deprecated_id), **(answers or {})})


# ---- photos with EXIF, made by Pillow -------------------------------------------------------------------

def rational(value: float, denominator: int = 10000) -> TiffImagePlugin.IFDRational:
    return TiffImagePlugin.IFDRational(round(value * denominator), denominator)


def dms(decimal: float) -> tuple:
    decimal = abs(decimal)
    degrees = int(decimal)
    minutes = int((decimal - degrees) * 60)
    seconds = (decimal - degrees - minutes / 60) * 3600
    return rational(degrees, 1), rational(minutes, 1), rational(seconds)


def make_jpeg(size=(400, 300), *, orientation: int | None = None, taken: str | None = None,
              offset: str | None = None, gps: tuple[float, float] | None = None, gps_stamp=None,
              halves=("red", "blue"), quality: int = 90, exif: Image.Exif | None = None) -> bytes:
    """A JPEG whose left half is halves[0] and right half halves[1], with the EXIF asked for."""
    image = Image.new("RGB", size, halves[0])
    image.paste(Image.new("RGB", (size[0] - size[0] // 2, size[1]), halves[1]), (size[0] // 2, 0))
    exif = exif if exif is not None else Image.Exif()
    if orientation is not None:
        exif[ExifTags.Base.Orientation] = orientation
    if taken is not None:
        exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = taken
        if offset is not None:
            exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.OffsetTimeOriginal] = offset
    if gps is not None:
        lat, lon = gps
        ifd = exif.get_ifd(ExifTags.IFD.GPSInfo)
        ifd[ExifTags.GPS.GPSLatitudeRef] = "N" if lat >= 0 else "S"
        ifd[ExifTags.GPS.GPSLatitude] = dms(lat)
        ifd[ExifTags.GPS.GPSLongitudeRef] = "E" if lon >= 0 else "W"
        ifd[ExifTags.GPS.GPSLongitude] = dms(lon)
        if gps_stamp is not None:
            day, (h, m, s) = gps_stamp
            ifd[ExifTags.GPS.GPSDateStamp] = day
            ifd[ExifTags.GPS.GPSTimeStamp] = (rational(h, 1), rational(m, 1), rational(s, 1))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, exif=exif)
    return out.getvalue()


def make_png(size=(300, 200), color="green") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "PNG")
    return out.getvalue()


def login(client, username: str, password: str = "secret-pass") -> None:
    """Log in through the login page (with its CSRF token), as a person does."""
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post("/login", data={"username": username, "password": password, "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)


def uploads_left(tmp_dir) -> list:
    """What uploads left in a store's temporary folder: any file outside its upload slots, and any slot that still
    holds content (an empty slot is made ahead for the next upload; the slots' lock file is empty too)."""
    slots = tmp_dir / "slots"
    return [p for p in tmp_dir.rglob("*") if p.is_file() and (slots not in p.parents or p.stat().st_size > 0)]
