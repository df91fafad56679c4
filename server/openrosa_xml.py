"""OpenRosa response documents: the form list and the manifest, escaped and namespaced as clients expect."""
from __future__ import annotations

import dataclasses
from xml.sax.saxutils import escape


@dataclasses.dataclass(frozen=True)
class FormListEntry:
    form_id: str
    name: str
    version: str
    hash: str
    download_url: str
    manifest_url: str | None


@dataclasses.dataclass(frozen=True)
class ManifestEntry:
    filename: str
    hash: str
    download_url: str
    entity_list: bool = False


def form_list(entries: list[FormListEntry]) -> str:
    parts = ['<?xml version="1.0" encoding="UTF-8"?>\n<xforms xmlns="http://openrosa.org/xforms/xformsList">']
    for e in entries:
        parts.append(
            f"<xform><formID>{escape(e.form_id)}</formID><name>{escape(e.name)}</name>"
            f"<version>{escape(e.version)}</version><hash>{escape(e.hash)}</hash>"
            f"<downloadUrl>{escape(e.download_url)}</downloadUrl>"
            + (f"<manifestUrl>{escape(e.manifest_url)}</manifestUrl>" if e.manifest_url else "")
            + "</xform>")
    parts.append("</xforms>")
    return "".join(parts)


def manifest(entries: list[ManifestEntry]) -> str:
    parts = ['<?xml version="1.0" encoding="UTF-8"?>\n<manifest xmlns="http://openrosa.org/xforms/xformsManifest">']
    for e in entries:
        kind = ' type="entityList"' if e.entity_list else ""
        parts.append(f"<mediaFile{kind}><filename>{escape(e.filename)}</filename><hash>{escape(e.hash)}</hash>"
                     f"<downloadUrl>{escape(e.download_url)}</downloadUrl></mediaFile>")
    parts.append("</manifest>")
    return "".join(parts)
