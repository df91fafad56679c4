"""The error types for every outcome that is not the success path.

Domain code (forms/, media/, sync/) raises a `DomainError`: what kind of refusal it is (``"conflict"``), a stable
code (``"submission.xml_conflict"``), a message a person can act on in Chinese and English, and optional details
(e.g. pyxform errors with sheet and row). It knows nothing of HTTP: the web shell gives each kind its status in
one table (`server.render.STATUS_OF_KIND`) and turns it into a `Problem`, which carries the HTTP status and
headers and is rendered as JSON for the API, OpenRosa XML for devices, or an HTML page for people. The shell's
own refusals (authentication, rate limits, CSRF) raise a `Problem` directly.
Flask-free so domain packages can raise these.
"""
from __future__ import annotations

import json
from typing import Any
from xml.sax.saxutils import escape


#: the kinds of refusal domain code can raise
KINDS = frozenset({"invalid", "forbidden", "not_found", "conflict", "too_large"})


class DomainError(Exception):
    def __init__(self, kind: str, code: str, message_zh: str, message_en: str, details: Any = None):
        if kind not in KINDS:
            raise ValueError(f"unknown kind of domain error: {kind!r}")
        super().__init__(message_en)
        self.kind = kind
        self.code = code
        self.message_zh = message_zh
        self.message_en = message_en
        self.details = details

    def message(self, lang: str = "zh") -> str:
        return self.message_en if lang == "en" else self.message_zh

    def __repr__(self) -> str:
        return f"DomainError({self.kind!r}, {self.code!r}, {self.message_en!r})"


class Problem(Exception):
    def __init__(self, status: int, code: str, message_zh: str, message_en: str, details: Any = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message_en)
        self.status = status
        self.code = code
        self.message_zh = message_zh
        self.message_en = message_en
        self.details = details
        self.headers = headers or {}

    def message(self, lang: str = "zh") -> str:
        return self.message_en if lang == "en" else self.message_zh

    def to_dict(self, lang: str = "zh") -> dict[str, Any]:
        body: dict[str, Any] = {
            "code": self.code,
            "status": self.status,
            "message": self.message(lang),
            "message_zh": self.message_zh,
            "message_en": self.message_en,
        }
        if self.details is not None:
            body["details"] = self.details
        return body

    def to_json(self, lang: str = "zh") -> str:
        return json.dumps(self.to_dict(lang), ensure_ascii=False)

    def to_openrosa(self, lang: str = "zh") -> str:
        # Collect shows this text to the cadre, so both languages go in one line.
        text = self.message_zh if self.message_zh == self.message_en else f"{self.message_zh} / {self.message_en}"
        return openrosa_message(text, nature="error")

    def __repr__(self) -> str:
        return f"Problem({self.status}, {self.code!r}, {self.message_en!r})"


def openrosa_message(text: str, nature: str = "submit_success") -> str:
    return (
        '<OpenRosaResponse xmlns="http://openrosa.org/http/response" items="0">'
        f'<message nature="{escape(nature)}">{escape(text)}</message>'
        "</OpenRosaResponse>"
    )
