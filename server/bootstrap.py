"""First start and every start: migrate the schema, create the first admin, publish the bundled forms.

Several gunicorn workers start at once; a file lock in the data dir makes one do this while the others wait.
(Several hosts sharing one PostgreSQL run `flask --app wsgi db upgrade` as a deploy step instead.)
"""
from __future__ import annotations

import fcntl
import logging
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import func, select

from forms.service import publish_bundled_forms
from server.audit import record
from server.db import session_scope
from server.models import User
from server.passwords import hash_password
from server.runtime import Runtime

log = logging.getLogger("zoufang")
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


@contextmanager
def _startup_lock(data_dir: Path):
    with open(data_dir / ".startup.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def alembic_config(rt: Runtime) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", rt.settings.database_url.replace("%", "%%"))
    return config


def migrate(rt: Runtime) -> None:
    config = alembic_config(rt)
    with rt.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def prepare(rt: Runtime) -> None:
    with _startup_lock(rt.settings.data_dir):
        migrate(rt)
        with session_scope(rt.sessions) as session:
            settings = rt.settings
            if settings.admin_user and settings.admin_password and not session.scalar(select(func.count(User.id))):
                session.add(User(username=settings.admin_user, role="admin", display_name=settings.admin_user,
                                 password_hash=hash_password(settings.admin_password)))
                record(session, "user.create", f"user:{settings.admin_user}",
                       {"role": "admin", "from": "ZOUFANG_ADMIN_USER"})
                log.info("created admin %s", settings.admin_user)
            if settings.publish_bundled_forms:
                for version in publish_bundled_forms(session, rt.store):
                    record(session, "form.publish", f"form:{version.form.xml_form_id}",
                           {"version": version.version, "from": "bundled"})
                    log.info("published %s version %s", version.form.xml_form_id, version.version)
