"""XLSForm → XForm with pyxform, and what the server needs to know about the result.

Pure: bytes in, a `CompiledForm` out (or `FormCompileError` with every message located by sheet and row).
No hand-written XForm generation anywhere: pyxform is the compiler, we only read its output.
"""
from __future__ import annotations

import dataclasses
import hashlib
import re
from io import BytesIO
from xml.etree import ElementTree as ET

from pyxform.errors import PyXFormError
from pyxform.xls2xform import convert

from forms.messages import FormMessage, locate, unreadable

XF = "{http://www.w3.org/2002/xforms}"
H = "{http://www.w3.org/1999/xhtml}"
ENTITIES = "{http://www.opendatakit.org/xforms/entities}"
# jr://images/x.png, jr://audio/…, jr://video/…, jr://file/x.csv, jr://file-csv/x.csv
# entity lists the server itself generates from its records; a form's CSV of that name is linked to the list
GENERATED_LISTS = frozenset({"households"})
_MEDIA_REF = re.compile(r"jr://(?:images|audio|video|file|file-csv)/([^\s\"'<>]+)")


class FormCompileError(Exception):
    def __init__(self, errors: list[FormMessage], warnings: list[FormMessage]):
        super().__init__("; ".join(e.message_en for e in errors))
        self.errors = errors
        self.warnings = warnings


@dataclasses.dataclass(frozen=True)
class CompiledForm:
    xml_form_id: str
    version: str
    title: str
    xform: bytes
    #: instance paths of binary questions (photos…), e.g. "/data/photos/photo_family"
    binary_paths: list[str]
    #: file names the form refers to and that a device must download with it
    media_files: list[str]
    #: entity lists used (read through a CSV named "<list>.csv" or updated by the form)
    datasets: list[str]
    warnings: list[FormMessage]

    @property
    def xform_md5(self) -> str:
        return hashlib.md5(self.xform).hexdigest()


def compile_xlsform(content: bytes, filename: str = "form.xlsx") -> CompiledForm:
    file_type = "." + filename.rsplit(".", 1)[-1].lower() if "." in filename else None
    if file_type not in {".xlsx", ".xlsm", ".xls", ".csv", ".md"}:
        raise FormCompileError([FormMessage(None, None, "不支持的文件类型，请上传 .xlsx 文件。",
                                            "Unsupported file type; upload an .xlsx file.")], [])
    raw_warnings: list[str] = []
    try:
        result = convert(BytesIO(content), warnings=raw_warnings, file_type=file_type)
    except PyXFormError as exc:
        raise FormCompileError([locate(str(exc), getattr(exc, "context", None))],
                               [locate(w) for w in raw_warnings]) from None
    except Exception as exc:  # pyxform lets openpyxl's and its own parsing errors through unwrapped
        raise FormCompileError([unreadable(exc)], [locate(w) for w in raw_warnings]) from None
    return read_xform(result.xform.encode("utf-8"), [locate(w) for w in raw_warnings])


def primary_instance(xform: ET.Element) -> ET.Element:
    """The root of the XForm's primary instance (the model's first `instance`): `<data id=… version=…>`."""
    return next(iter(xform.find(f"{H}head/{XF}model/{XF}instance")))


def read_xform(xform: bytes, warnings: list[FormMessage] | None = None) -> CompiledForm:
    root = ET.fromstring(xform)
    model = root.find(f"{H}head/{XF}model")
    instance_root = primary_instance(root)
    binary_paths = [b.get("nodeset") for b in model.iter(f"{XF}bind") if b.get("type") == "binary"]
    media = set(_MEDIA_REF.findall(xform.decode("utf-8")))
    csv_lists = {name[:-4] for name in media if name.endswith(".csv")}
    entity_lists = {e.get("dataset") for e in instance_root.iter() if e.tag.endswith("entity") and e.get("dataset")}
    title_el = root.find(f"{H}head/{H}title")
    return CompiledForm(
        xml_form_id=instance_root.get("id") or "",
        version=instance_root.get("version") or "",
        title=(title_el.text or "").strip() if title_el is not None else "",
        xform=xform,
        binary_paths=[p for p in binary_paths if p],
        media_files=sorted(media),
        # a CSV is an entity list when the server generates it or the form declares it; others are plain files
        datasets=sorted((csv_lists & GENERATED_LISTS) | entity_lists),
        warnings=warnings or [],
    )
