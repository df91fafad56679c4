"""Builders the tests share: XLSForms, submission XML, multipart bodies and JPEGs, all made in the test."""
from __future__ import annotations

import base64
import io
import random
import uuid
from typing import Iterable

from openpyxl import Workbook
from PIL import Image

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
