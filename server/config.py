"""Settings: one frozen object built from ZOUFANG_* environment variables, with safe defaults.

Everything a deployment may change lives here, so that no path or secret of a machine is written in code.
"""
from __future__ import annotations

import dataclasses
import os
import secrets
from pathlib import Path
from typing import Mapping

MB = 1024 * 1024


@dataclasses.dataclass(frozen=True)
class Settings:
    #: folder for the SQLite database, local media, temporary uploads and the generated secret key
    data_dir: Path
    #: SQLAlchemy URL of the database
    database_url: str
    #: where media go: a local folder (or file://…), or s3://bucket/prefix for an S3-compatible object store
    media_url: str
    #: signs session cookies
    secret_key: str
    #: largest submission request accepted, advertised in X-OpenRosa-Accept-Content-Length
    max_submission_bytes: int = 100 * MB
    #: largest submission XML part accepted: parsed, it takes several times its size in memory
    max_xml_bytes: int = 10 * MB
    #: largest XLSForm upload accepted
    max_form_bytes: int = 20 * MB
    #: largest ODK Collect APK an admin may upload for the cadres to download (Collect's is ~30 MB)
    max_apk_bytes: int = 150 * MB
    #: how long a verified Basic-auth password is remembered (seconds); 0 verifies every request
    credential_cache_seconds: int = 300
    #: create this admin on start when there is no user yet
    admin_user: str | None = None
    admin_password: str | None = None
    #: publish the forms in forms/xlsforms on start when they are not published yet
    publish_bundled_forms: bool = True
    #: run schema migrations on start (the embedded default); turn off when a deploy step runs them
    migrate_on_start: bool = True
    #: trust X-Forwarded-* from one proxy in front (for absolute URLs and https detection)
    behind_proxy: bool = False
    #: name shown in ODK Collect's project list after scanning the QR code
    project_name: str = "走访 Zoufang"
    #: rules file (poverty lines and thresholds per year); None uses sync/rules.toml
    rules_file: Path | None = None
    #: how long a submission waits for the earlier offline edit it builds on (seconds; Central: 5 days)
    reconcile_hold_seconds: int = 5 * 86400
    #: how far ahead of the server a phone's clock may be (seconds): a form counts as filled no later than it
    #: arrived plus this, so that a wrong date cannot win over later visits
    clock_skew_seconds: int = 600
    #: reconcile in a thread of each web process ("thread") or only in `reconcile run` processes ("off")
    worker: str = "thread"
    #: attempts before a failing reconcile job is listed as failed
    job_max_attempts: int = 5
    #: map tiles URL template for the map page (e.g. a county's own tile server); empty: no base layer
    tile_url: str = ""
    #: images larger than this (pixels, or pixels on a side) are refused as decompression bombs
    image_max_pixels: int = 80_000_000
    image_max_side: int = 20_000
    #: where login failures are counted for the rate limits: empty for the database, or a redis:// URL
    ratelimit_storage: str = ""
    #: prefix of the rate-limit keys in Redis (several deployments may share one Redis)
    ratelimit_prefix: str = "zoufang:login:"

    @property
    def tmp_dir(self) -> Path:
        return self.data_dir / "tmp"



def _flag(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _secret_key(data_dir: Path, env: Mapping[str, str]) -> str:
    """A development key is generated once and kept in the data dir so sessions survive restarts."""
    if env.get("ZOUFANG_SECRET_KEY"):
        return env["ZOUFANG_SECRET_KEY"]
    key_file = data_dir / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    key = secrets.token_urlsafe(48)
    data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(key)
    return key


def load_settings(env: Mapping[str, str] | None = None, **overrides) -> Settings:
    env = os.environ if env is None else env
    data_dir = Path(overrides.pop("data_dir", None) or env.get("ZOUFANG_DATA_DIR") or "instance").resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    values = dict(
        data_dir=data_dir,
        database_url=env.get("ZOUFANG_DATABASE_URL") or f"sqlite:///{data_dir / 'zoufang.sqlite3'}",
        media_url=env.get("ZOUFANG_MEDIA_URL") or str(data_dir / "media"),
        max_submission_bytes=int(env.get("ZOUFANG_MAX_SUBMISSION_BYTES") or 100 * MB),
        max_xml_bytes=int(env.get("ZOUFANG_MAX_XML_BYTES") or 10 * MB),
        max_form_bytes=int(env.get("ZOUFANG_MAX_FORM_BYTES") or 20 * MB),
        max_apk_bytes=int(env.get("ZOUFANG_MAX_APK_BYTES") or 150 * MB),
        credential_cache_seconds=int(env.get("ZOUFANG_CREDENTIAL_CACHE_SECONDS") or 300),
        admin_user=env.get("ZOUFANG_ADMIN_USER") or None,
        admin_password=env.get("ZOUFANG_ADMIN_PASSWORD") or None,
        publish_bundled_forms=_flag(env.get("ZOUFANG_PUBLISH_BUNDLED_FORMS"), True),
        migrate_on_start=_flag(env.get("ZOUFANG_MIGRATE_ON_START"), True),
        behind_proxy=_flag(env.get("ZOUFANG_BEHIND_PROXY"), False),
        project_name=env.get("ZOUFANG_PROJECT_NAME") or "走访 Zoufang",
        rules_file=Path(env["ZOUFANG_RULES_FILE"]) if env.get("ZOUFANG_RULES_FILE") else None,
        reconcile_hold_seconds=int(env.get("ZOUFANG_RECONCILE_HOLD_SECONDS") or 5 * 86400),
        clock_skew_seconds=int(env.get("ZOUFANG_CLOCK_SKEW_SECONDS") or 600),
        worker=env.get("ZOUFANG_WORKER") or "thread",
        job_max_attempts=int(env.get("ZOUFANG_JOB_MAX_ATTEMPTS") or 5),
        tile_url=env.get("ZOUFANG_TILE_URL") or "",
        image_max_pixels=int(env.get("ZOUFANG_IMAGE_MAX_PIXELS") or 80_000_000),
        image_max_side=int(env.get("ZOUFANG_IMAGE_MAX_SIDE") or 20_000),
        ratelimit_storage=env.get("ZOUFANG_RATELIMIT_STORAGE") or "",
        ratelimit_prefix=env.get("ZOUFANG_RATELIMIT_PREFIX") or "zoufang:login:",
    )
    values.update(overrides)
    if "secret_key" not in values:
        values["secret_key"] = _secret_key(data_dir, env)
    return Settings(**values)
