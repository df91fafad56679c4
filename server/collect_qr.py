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


def _qr(payload: str) -> segno.QRCode:
    return segno.make(payload, error="l", micro=False)


def qr_svg(payload: str) -> str:
    # no width/height of its own: the code scales to the phone's width even before the stylesheet applies
    return _qr(payload).svg_inline(scale=5, border=2, omitsize=True)


def qr_png_data_uri(payload: str) -> str:
    """The same code as a PNG, for a link that saves it: a cadre setting up the phone the page is open on cannot
    scan its own screen, but Collect imports a QR code from a saved image. A data: URI, because the token is
    shown once and is stored nowhere to serve it from."""
    return _qr(payload).png_data_uri(scale=8, border=4)
