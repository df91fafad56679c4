"""`flask --app wsgi backup create DIR` / `backup restore DIR`: the embedded instance's backup (server/backup.py)."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import click
from flask import Flask

from server.backup import create_backup, media_root, restore_backup, sqlite_path
from server.config import Settings, load_settings
from server.errors import DomainError
from server.runtime import Runtime


def _summary(manifest: dict) -> str:
    tables = manifest["database"]["tables"]
    media = manifest["media"]
    return (f"{sum(tables.values())} rows in {len(tables)} tables, {media['blobs']} media files "
            f"({media['bytes'] / 1024 / 1024:,.1f} MB)")


def register_backup(app: Flask, runtime_of: Callable[[], Runtime], fail: Callable[[DomainError], None]) -> None:
    def settings() -> Settings:
        """The running app's settings, else the environment's, without opening the database or the store."""
        rt = app.extensions.get("zoufang")
        # a restore's data dir must stay empty: no secret key is generated into it
        return rt.settings if rt is not None else load_settings(secret_key="unused by backup commands")

    @app.cli.group("backup")
    def backup_group():
        """Back up an embedded instance (SQLite and local media) and restore it."""

    @backup_group.command("create")
    @click.argument("target", type=click.Path(file_okay=False, path_type=Path))
    def backup_create(target: Path):
        """Copy the database and the media into TARGET (new or empty) while the server runs, with a manifest.
        PostgreSQL and S3 are refused: use pg_dump and bucket versioning."""
        try:
            sqlite_path(settings()), media_root(settings())  # refused before anything is opened
            manifest = create_backup(runtime_of().settings, target)
        except DomainError as problem:
            fail(problem)
        click.echo(f"backed up {_summary(manifest)} into {target}")

    @backup_group.command("restore")
    @click.argument("source", type=click.Path(exists=True, file_okay=False, path_type=Path))
    def backup_restore(source: Path):
        """Restore the backup in SOURCE into the empty data dir (ZOUFANG_DATA_DIR), checking it against its
        manifest."""
        target = settings()
        try:
            manifest = restore_backup(target, source)
        except DomainError as problem:
            fail(problem)
        click.echo(f"restored {_summary(manifest)} into {target.data_dir}; start the server as usual")
