"""First start: create the database, migrate, create the first admin, publish the bundled forms — once."""
import os
import time

from sqlalchemy import func, select

from forms.models import Form, FormVersion
from forms.service import BUNDLED_DIR
from server.app import create_app
from server.config import load_settings
from server.db import session_scope
from server.models import User


def start(tmp_path, database_url):
    env = {"ZOUFANG_ADMIN_USER": "boss", "ZOUFANG_ADMIN_PASSWORD": "boss-password"}
    # no worker thread: on the PostgreSQL pass it would outlive the test and take later tests' jobs
    app = create_app(load_settings(env=env, data_dir=tmp_path / "fresh", database_url=database_url, worker="off"))
    return app, app.extensions["zoufang"]


def test_first_start_migrates_creates_admin_and_publishes_bundled_forms(tmp_path, database_url):
    bundled = sorted(BUNDLED_DIR.glob("*.xlsx"))
    assert bundled, "the project ships its XLSForms"
    from support import basic
    for _ in range(2):  # the second start changes nothing
        app, rt = start(tmp_path, database_url)
        with session_scope(rt.sessions) as session:
            assert session.scalar(select(func.count(User.id))) == 1
            assert session.scalar(select(User.role).where(User.username == "boss")) == "admin"
            assert session.scalar(select(func.count(Form.id))) == len(bundled)
            assert session.scalar(select(func.count(FormVersion.id))) == len(bundled)
        listing = app.test_client().get("/formList", headers=basic("boss", "boss-password")).get_data(as_text=True)
        assert listing.count("<xform>") == len(bundled)
        rt.engine.dispose()


def test_sqlite_runs_in_wal_mode(tmp_path):
    app, rt = start(tmp_path, f"sqlite:///{tmp_path / 'wal.sqlite3'}")
    with rt.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    rt.engine.dispose()


def test_secret_key_is_generated_once_and_kept(tmp_path):
    first = load_settings(env={}, data_dir=tmp_path / "d")
    second = load_settings(env={}, data_dir=tmp_path / "d")
    assert first.secret_key == second.secret_key and len(first.secret_key) > 40
    assert load_settings(env={"ZOUFANG_SECRET_KEY": "from-env"}, data_dir=tmp_path / "d").secret_key == "from-env"


def test_migrations_build_exactly_the_models_schema(database_url):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from server.db import make_engine
    from server.schema import metadata
    engine = make_engine(database_url)
    with engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), metadata) == []
    engine.dispose()


def test_a_start_removes_uploads_a_killed_worker_left_but_not_a_live_one(tmp_path):
    """Issue 17 item 15: a web worker killed mid-upload leaves its `upload-*` file; the next start removes it,
    but not the upload a sibling worker is receiving right now (touched a moment ago)."""
    tmp = tmp_path / "fresh" / "tmp"
    tmp.mkdir(parents=True)
    orphan, live = tmp / "upload-orphan", tmp / "upload-live"
    orphan.write_bytes(b"half a photo")
    live.write_bytes(b"arriving")
    hours_ago = time.time() - 2 * 3600
    os.utime(orphan, (hours_ago, hours_ago))
    app, rt = start(tmp_path, f"sqlite:///{tmp_path / 'fresh.sqlite3'}")
    assert not orphan.exists() and live.exists()
    rt.engine.dispose()
