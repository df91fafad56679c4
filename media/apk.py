"""Is an upload an Android package? An APK is a zip whose entries include the binary AndroidManifest.xml and
compiled code (classes.dex). Checked before an admin's upload is offered to every cadre's phone: a wrong file
would fail to install on a hundred phones, or be something else altogether."""
from __future__ import annotations

import re
import zipfile
from typing import IO

#: the version in Collect's release file names (ODK-Collect-v2024.3.5.apk, collect-v2025.1.0.apk)
_VERSION = re.compile(r"v?(\d+\.\d+(?:\.\d+)*)", re.I)


def apk_problem(upload: IO[bytes]) -> tuple[str, str] | None:
    """(zh, en) of what is wrong with the file, or None for an APK."""
    try:
        with zipfile.ZipFile(upload) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return "这不是 APK 安装包（文件不是 zip 格式）。", "This is not an APK (the file is not a zip archive)."
    if "AndroidManifest.xml" not in names or not any(n.endswith(".dex") for n in names):
        return ("这不是 Android 安装包：缺少 AndroidManifest.xml 或程序代码（.dex）。",
                "This is not an Android package: AndroidManifest.xml or the code (.dex) is missing.")
    return None


def version_from_filename(filename: str) -> str:
    found = _VERSION.search(filename or "")
    return f"v{found.group(1)}" if found else ""
