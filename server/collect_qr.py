"""The settings ODK Collect reads from a QR code: zlib-deflated JSON, base64-encoded."""
from __future__ import annotations

import base64
import json
import zlib

import segno


def collect_settings(server_url: str, project_name: str) -> dict:
    return {
        "general": {
            "server_url": server_url,
            # download new versions and drop forms the server no longer lists
            "form_update_mode": "match_exactly",
            "autosend": "wifi_and_cellular",
        },
        "project": {"name": project_name},
        "admin": {},
    }


def encode_settings(settings: dict) -> str:
    raw = json.dumps(settings, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return base64.b64encode(zlib.compress(raw)).decode("ascii")


def decode_settings(payload: str) -> dict:
    return json.loads(zlib.decompress(base64.b64decode(payload)).decode("utf-8"))


def qr_svg(payload: str) -> str:
    # no width/height of its own: the code scales to the phone's width even before the stylesheet applies
    return segno.make(payload, error="l", micro=False).svg_inline(scale=5, border=2, omitsize=True)
