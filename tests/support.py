"""Builders the tests share: XLSForms, submission XML, multipart bodies and JPEGs, all made in the test."""
from __future__ import annotations

import base64
import io
import re
import random
import uuid
from typing import Iterable

from openpyxl import Workbook
from PIL import ExifTags, Image, TiffImagePlugin

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


def _entity(household: str, update: bool, base_version: int | None, trunk_version: int | None,
            branch_id: str | None) -> str:
    base = "" if base_version is None else str(base_version)
    trunk = "" if trunk_version is None else str(trunk_version)
    return (f'<entity dataset="households" id="{household}" update="{1 if update else 0}" baseVersion="{base}" '
            f'trunkVersion="{trunk}" branchId="{branch_id or ""}"/>')


def _meta(instance_id: str | None, deprecated_id: str | None, entity: str) -> str:
    deprecated = f"<deprecatedID>{deprecated_id}</deprecatedID>" if deprecated_id else ""
    return f"<meta>{entity}<instanceID>{instance_id or new_instance_id()}</instanceID>{deprecated}</meta>"


def visit_xml(household: str, instance_id: str | None = None, end: str = "2026-11-20T10:00:00+08:00",
              visit_date: str | None = None, base_version: int | None = 1, trunk_version: int | None = None,
              branch_id: str | None = None, update: bool = True, food: str = "yes", clothing: str = "yes",
              education: str = "yes", medical: str = "yes", house_safe: str = "yes", grade: str = "A",
              water: str = "yes", children: int = 0, changes: Iterable[dict] = (), photo: str = "family.jpg",
              gps: str = "41.296222 123.80102 100 5", deprecated_id: str | None = None,
              username: str = "cadre001", problems: str = "none") -> bytes:
    """A door-to-door visit shaped like the bundled household_visit form's instance."""
    visit_date = visit_date or end[:10]
    repeats = "".join(
        f"<member_change><change_type>{c['type']}</change_type><person_name>{c['name']}</person_name>"
        f"<relation>{c.get('relation', 'other')}</relation><change_date>{c.get('date', visit_date)}</change_date>"
        f"<id_number>{c.get('id_number', '')}</id_number></member_change>" for c in changes)
    return (
        f'<data xmlns:jr="http://openrosa.org/javarosa" xmlns:orx="http://openrosa.org/xforms" '
        f'xmlns:entities="http://www.opendatakit.org/xforms/entities" id="household_visit" version="2026112501">'
        f"<start>{end}</start><end>{end}</end><today>{visit_date}</today><deviceid>collect:x</deviceid>"
        f"<username>{username}</username><visitor>{username}</visitor><visit_date>{visit_date}</visit_date>"
        f"<household>{household}</household><hh_label/><hh_head/><hh_village/><hh_size/><hh_status/><hh_info/>"
        f"<prev_last_visit/><gps>{gps}</gps><photo_family>{photo}</photo_family>"
        f"<two_assurances><food_secure>{food}</food_secure><clothing_secure>{clothing}</clothing_secure>"
        f"<children_6_15>{children}</children_6_15><out_of_school>0</out_of_school><out_of_school_note/>"
        f"<education_secure>{education}</education_secure><all_insured>{medical}</all_insured>"
        f"<not_insured_count/><not_insured_names/><chronic_signed>na</chronic_signed>"
        f"<medical_secure>{medical}</medical_secure><housing_grade>{grade}</housing_grade><renovated/>"
        f"<house_safe>{house_safe}</house_safe></two_assurances>"
        f"<water><water_note/><water_quantity>{water}</water_quantity><water_quality>{water}</water_quality>"
        f"<water_convenience>{water}</water_convenience><water_reliability>{water}</water_reliability>"
        f"<water_safe>{water}</water_safe></water>"
        f"<signs><housing_sign_present>yes</housing_sign_present><photo_housing_sign/>"
        f"<water_sign_present>yes</water_sign_present><photo_water_sign/></signs>"
        f"<findings><problems>{problems}</problems><problems_other/><problems_note/><help_given/></findings>"
        f"<has_member_changes>{'yes' if repeats else 'no'}</has_member_changes>{repeats}<remarks/>"
        + _meta(instance_id, deprecated_id, _entity(household, update, base_version, trunk_version, branch_id))
        + "</data>").encode("utf-8")


def assessment_xml(household: str, grade: str = "C", renovation_state: str = "planned",
                   end: str = "2026-11-21T10:00:00+08:00", instance_id: str | None = None,
                   base_version: int | None = 1, deprecated_id: str | None = None, username: str = "assessor1") -> bytes:
    saved = renovation_state if grade in ("C", "D") else ""
    safe = "yes" if grade in ("A", "B") or renovation_state in ("moved_in", "old_dealt") else "no"
    return (
        f'<data id="housing_assessment" version="2026112501"><start>{end}</start><end>{end}</end>'
        f"<today>{end[:10]}</today><deviceid>collect:y</deviceid><username>{username}</username>"
        f"<assessor>{username}</assessor><assess_date>{end[:10]}</assess_date><household>{household}</household>"
        f"<gps>41.296 123.801 90 4</gps><structure>brick_wood</structure><structure_other/>"
        f"<parts><foundation>minor</foundation><walls>severe</walls><roof>minor</roof>"
        f"<load_bearing>minor</load_bearing></parts><grade>{grade}</grade>"
        f"<renovation><renovation_mode>{'repair' if saved else ''}</renovation_mode><renovation_mode_other/>"
        f"<renovation_state>{saved}</renovation_state></renovation><renovation_saved>{saved}</renovation_saved>"
        f"<housing_safe>{safe}</housing_safe><unsafe_note/><photos><photo_house>house.jpg</photo_house>"
        f"<photo_house_2/><photo_damage/><photo_sign>sign.jpg</photo_sign></photos><notes/>"
        + _meta(instance_id, deprecated_id, _entity(household, True, base_version, None, None))
        + "</data>").encode("utf-8")


def income_xml(household: str, year: int = 2025, size: int = 2, wage: float = 8000, business_gross: float = 3000,
               business_cost: float = 1000, property_income: float = 0, dibao: float = 0, pension: float = 1200,
               subsidies: float = 0, dividends: float = 0, other: float = 0, medical: float = 0,
               end: str = "2026-11-22T10:00:00+08:00", instance_id: str | None = None, base_version: int | None = 1,
               reported_total: float | None = None) -> bytes:
    total = wage + business_gross - business_cost + property_income + dibao + pension + subsidies + dividends + other
    reported = total if reported_total is None else reported_total
    return (
        f'<data id="income_survey" version="2026112501"><start>{end}</start><end>{end}</end>'
        f"<today>{end[:10]}</today><deviceid>collect:z</deviceid><username>cadre001</username>"
        f"<surveyor>cadre001</surveyor><survey_date>{end[:10]}</survey_date><household>{household}</household>"
        f"<survey_year>{year}</survey_year><household_size>{size}</household_size><size_note/>"
        f"<income><wage_income>{wage}</wage_income><business_gross>{business_gross}</business_gross>"
        f"<business_cost>{business_cost}</business_cost><business_net>{business_gross - business_cost}</business_net>"
        f"<business_net_note/><property_income>{property_income}</property_income></income>"
        f"<transfer><dibao>{dibao}</dibao><pension>{pension}</pension><subsidies>{subsidies}</subsidies>"
        f"<dividends>{dividends}</dividends><other_transfer>{other}</other_transfer></transfer>"
        f"<transfer_total>{dibao + pension + subsidies + dividends + other}</transfer_total>"
        f"<total_net>{reported}</total_net><per_capita>{round(reported / size, 2)}</per_capita>"
        f"<spending><spend_medical>{medical}</spend_medical><spend_education>0</spend_education>"
        f"<spend_disaster>0</spend_disaster><spending_note/></spending><spend_total>{medical}</spend_total>"
        f"<summary/><confirmed>OK</confirmed><gps/><photo_ledger/><notes/>"
        + _meta(instance_id, None, _entity(household, True, base_version, None, None))
        + "</data>").encode("utf-8")


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
