"""`backup create` / `backup restore`: a consistent copy of an embedded instance (SQLite and a local media folder)
taken while the server runs, and put back into an empty data dir, verified against its manifest.

Consistency without stopping the server: the database is copied first, with SQLite's online backup API (one step,
so it is one snapshot: writers go on meanwhile in WAL mode); the media after it. A blob is stored before the row
that names it commits and is never removed, so every blob the snapshot names is in the store by the time the
media are copied; blobs stored after the snapshot are copied too and harm nothing. The copy then checks that
every blob its database names is in it.

The manifest, written last (a backup without one is incomplete), holds the database file's SHA-256 and every
table's row count, and the media's count, bytes and a digest of their names; a blob's name is its content's
SHA-256, so each blob is verified by hashing it, when it is copied and when it is restored.

PostgreSQL and S3 are backed up with their own tools (pg_dump, bucket versioning): both commands refuse them with
a message saying so.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import sqlite3
from pathlib import Path
from typing import Iterator
from urllib.parse import urlparse

from sqlalchemy import make_url

from forms.models import FormAttachment
from media.durable import fsync_dir
from media.store import HEX, PREFIXES
from server.config import Settings
from server.errors import DomainError
from sync.models import SubmissionAttachment

FORMAT = 1
MANIFEST = "manifest.json"
DATABASE = "zoufang.sqlite3"
MEDIA = "media"
SECRET_KEY = "secret_key"
CHUNK = 1024 * 1024
#: the columns that name a blob in the media store
BLOB_COLUMNS = ((SubmissionAttachment.__tablename__, ("sha256", "thumb_sha256", "preview_sha256")),
                (FormAttachment.__tablename__, ("sha256",)))


def _refused(code: str, zh: str, en: str) -> DomainError:
    return DomainError("invalid", f"backup.{code}", zh, en)


def sqlite_path(settings: Settings) -> Path:
    """The SQLite database file, or a refusal naming what to use on PostgreSQL."""
    url = make_url(settings.database_url)
    if url.get_backend_name() != "sqlite" or not url.database:
        raise _refused("not_sqlite",
                       "数据库不是 SQLite（如 PostgreSQL）：这条命令不备份它。请用 pg_dump 备份数据库（如 "
                       "pg_dump -Fc -f zoufang.dump 数据库名，用 pg_restore 恢复），媒体存储桶请开启版本控制。",
                       "The database is not SQLite (e.g. PostgreSQL): this command does not back it up. Use pg_dump "
                       "(e.g. pg_dump -Fc -f zoufang.dump DBNAME; pg_restore puts it back) and bucket versioning "
                       "for the media.")
    return Path(url.database)


def media_root(settings: Settings) -> Path:
    """The local media folder, or a refusal naming what to use for an S3 bucket."""
    parsed = urlparse(settings.media_url)
    if parsed.scheme == "s3":
        raise _refused("s3_media",
                       f"媒体在 S3 存储桶（{settings.media_url}）中：这条命令不复制存储桶。请开启存储桶的版本控制"
                       "（S3/MinIO 的 versioning，删除或覆盖的对象仍可找回），或用存储服务自己的复制功能；数据库"
                       "另用 pg_dump 或本机的 SQLite 备份。",
                       f"The media are in an S3 bucket ({settings.media_url}): this command does not copy buckets. "
                       "Turn on the bucket's versioning (S3/MinIO versioning keeps removed and overwritten objects) "
                       "or use the storage service's replication; back up the database with pg_dump.")
    return Path(parsed.path if parsed.scheme == "file" else settings.media_url)


def _empty_target(path: Path) -> None:
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise _refused("target_not_empty", f"{path} 不是空文件夹：备份只写入新的或空的文件夹。",
                       f"{path} is not an empty folder: a backup is written only into a new or empty one.")


def create_backup(settings: Settings, target: Path) -> dict:
    """Copy the database and the media into `target` (new or empty); returns the manifest written."""
    database, media = sqlite_path(settings), media_root(settings)
    _empty_target(target)
    target.mkdir(parents=True, exist_ok=True)
    copy = target / DATABASE
    _snapshot(database, copy)
    tables, revision, named = _inspect(copy)
    copied, size = _copy_media(media, target / MEDIA)
    missing = named - copied
    if missing:
        raise _refused("blobs_missing", f"数据库中有 {len(missing)} 个文件在媒体文件夹 {media} 里找不到，例如 "
                       f"{min(missing)}：备份不完整。", f"{len(missing)} files the database names are not in the "
                       f"media folder {media}, e.g. {min(missing)}: the backup is incomplete.")
    secret = settings.data_dir / SECRET_KEY
    if secret.exists():
        shutil.copyfile(secret, target / SECRET_KEY)
        os.chmod(target / SECRET_KEY, 0o600)
    manifest = {
        "format": FORMAT, "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "database": {"file": DATABASE, "sha256": _sha256_of(copy), "bytes": copy.stat().st_size,
                     "alembic_revision": revision, "tables": tables},
        "media": _media_summary(copied, size),
        "secret_key": secret.exists(),
    }
    _write_durably(target / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True).encode())
    return manifest


def _snapshot(database: Path, copy: Path) -> None:
    """One step of SQLite's online backup: a snapshot read in one transaction, so writers are not held up for
    long (WAL) and the copy is of one moment. The copy is made a single self-contained file (no -wal)."""
    if not database.exists():
        raise _refused("no_database", f"没有数据库文件 {database}。", f"There is no database file {database}.")
    source = sqlite3.connect(database, timeout=60)  # read only, but a WAL reader needs the -shm writable
    target = sqlite3.connect(copy)
    try:
        source.backup(target)
        target.execute("PRAGMA journal_mode=DELETE")
    finally:
        target.close()
        source.close()
    with open(copy, "rb") as handle:
        os.fsync(handle.fileno())


def _inspect(database: Path) -> tuple[dict[str, int], str | None, set[str]]:
    """Row count per table, the schema's migration revision, and the blobs the database names."""
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        if connection.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            raise _refused("corrupt", f"数据库 {database} 损坏（PRAGMA integrity_check）。",
                           f"The database {database} is damaged (PRAGMA integrity_check).")
        names = [row[0] for row in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        tables = {name: connection.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] for name in names}
        revision = (connection.execute("SELECT version_num FROM alembic_version").fetchone() or [None])[0] \
            if "alembic_version" in tables else None
        named = set()
        for table, columns in BLOB_COLUMNS:
            if table in tables:
                for column in columns:
                    named.update(row[0] for row in connection.execute(
                        f'SELECT DISTINCT "{column}" FROM "{table}" WHERE "{column}" IS NOT NULL'))
        return tables, revision, named
    finally:
        connection.close()


def _blobs(root: Path) -> Iterator[tuple[str, Path]]:
    """(sha256, path) of every blob in a LocalStore folder; temporary files and slots are not blobs."""
    for prefix in PREFIXES:
        try:
            entries = sorted(os.scandir(root / prefix), key=lambda e: e.name)
        except FileNotFoundError:
            continue
        for entry in entries:
            if len(entry.name) == 64 and HEX.issuperset(entry.name) and entry.is_file():
                yield entry.name, Path(entry.path)


def _copy_media(source: Path, target: Path) -> tuple[set[str], int]:
    """Copy every blob of one media folder into another, each checked against its name, the new names made
    durable: (the blobs' names, their bytes)."""
    copied, size = set(), 0
    for sha256, path in _blobs(source):
        size += _copy_blob(path, target / sha256[:2] / sha256, sha256)
        copied.add(sha256)
    for folder in {p.parent for p in target.glob("*/*")}:
        fsync_dir(folder)
    return copied, size


def _media_summary(names: set[str], size: int) -> dict:
    """What the manifest says of the media: count, bytes, and a digest of the sorted names (the set itself)."""
    return {"blobs": len(names), "bytes": size,
            "names_sha256": hashlib.sha256("".join(sorted(names)).encode()).hexdigest()}


def _copy_blob(source: Path, target: Path, sha256: str) -> int:
    """Copy one blob, hashing it on the way: its content must still be its name. Returns its size."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    digest, size = _copy_hashed(source, partial)
    if digest != sha256:
        partial.unlink()
        raise _refused("blob_damaged", f"文件 {source} 的内容与其名称（SHA-256）不符：它已损坏。",
                       f"The content of {source} does not match its name (SHA-256): it is damaged.")
    os.replace(partial, target)
    return size


def _copy_hashed(source: Path, target: Path) -> tuple[str, int]:
    """Copy a file durably, reading it once: (SHA-256 of what was copied, its size)."""
    digest, size = hashlib.sha256(), 0
    with open(source, "rb") as reader, open(target, "wb") as writer:
        for chunk in iter(lambda: reader.read(CHUNK), b""):
            digest.update(chunk)
            writer.write(chunk)
            size += len(chunk)
        writer.flush()
        os.fsync(writer.fileno())
    return digest.hexdigest(), size


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _write_durably(path: Path, data: bytes) -> None:
    partial = path.with_name(path.name + ".part")
    with open(partial, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, path)
    fsync_dir(path.parent)


def restore_backup(settings: Settings, source: Path) -> dict:
    """Put the backup in `source` back into the settings' data dir, which must be empty, verifying each part
    against the manifest; on any mismatch what was written is removed again. Returns the manifest."""
    database, media = sqlite_path(settings), media_root(settings)
    manifest = _read_manifest(source)
    data_dir = settings.data_dir
    if data_dir.exists() and any(data_dir.iterdir()):
        raise _refused("data_dir_not_empty",
                       f"数据目录 {data_dir} 不是空的：恢复只写入空的数据目录。请把它移走，或把 ZOUFANG_DATA_DIR "
                       "设为新的文件夹。",
                       f"The data dir {data_dir} is not empty: a backup is restored only into an empty one. Move it "
                       "away, or set ZOUFANG_DATA_DIR to a new folder.")
    for path in (database, media):
        _empty_target(path)
    made = [media, database.with_name(database.name + ".part"), database, data_dir / SECRET_KEY]
    try:
        _restore_media(source / MEDIA, media, manifest["media"])
        _restore_database(source / DATABASE, database, manifest["database"])
        if manifest.get("secret_key"):
            shutil.copyfile(source / SECRET_KEY, data_dir / SECRET_KEY)
            os.chmod(data_dir / SECRET_KEY, 0o600)
    except BaseException:
        for path in made:  # each was empty or absent before
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        raise
    return manifest


def _read_manifest(source: Path) -> dict:
    try:
        manifest = json.loads((source / MANIFEST).read_text())
    except FileNotFoundError:
        raise _refused("incomplete", f"{source} 中没有 {MANIFEST}：这不是一个完整的备份。",
                       f"There is no {MANIFEST} in {source}: it is not a complete backup.") from None
    if manifest.get("format") != FORMAT:
        raise _refused("format", f"备份格式 {manifest.get('format')} 不是这个版本能读的（{FORMAT}）。",
                       f"Backup format {manifest.get('format')} is not the one this version reads ({FORMAT}).")
    return manifest


def _mismatch(what: str, expected, found) -> DomainError:
    return _refused("mismatch", f"备份与清单不符：{what} 应为 {expected}，实际为 {found}。什么都没有恢复。",
                    f"The backup does not match its manifest: {what} should be {expected}, is {found}. "
                    "Nothing was restored.")


def _restore_media(source: Path, media: Path, expected: dict) -> None:
    found = _media_summary(*_copy_media(source, media))
    for key, value in found.items():
        if expected[key] != value:
            raise _mismatch(f"media {key}", expected[key], value)


def _restore_database(source: Path, database: Path, expected: dict) -> None:
    database.parent.mkdir(parents=True, exist_ok=True)
    partial = database.with_name(database.name + ".part")
    digest, _size = _copy_hashed(source, partial)
    if digest != expected["sha256"]:
        partial.unlink()
        raise _mismatch("database sha256", expected["sha256"], digest)
    tables, _revision, _named = _inspect(partial)
    if tables != expected["tables"]:
        partial.unlink()
        changed = sorted(t for t in set(tables) | set(expected["tables"]) if tables.get(t) != expected["tables"].get(t))
        raise _mismatch(f"rows of {', '.join(changed)}", {t: expected["tables"].get(t) for t in changed},
                        {t: tables.get(t) for t in changed})
    os.replace(partial, database)
    fsync_dir(database.parent)
