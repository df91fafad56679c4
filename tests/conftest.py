"""Fixtures: an app on a fresh database (SQLite by default, PostgreSQL when ZOUFANG_TEST_DATABASE_URL is set),
its client, and factories that build areas, users, forms and submissions for each test.

The suite runs in two processes (pytest-xdist, `-n 2` in pyproject.toml). On PostgreSQL each of them gets a
database of its own, made here on first use: the tests empty the tables after each test, so two processes on
one database would wipe each other's data.
"""
from __future__ import annotations

import copy
import csv
import functools
import io
import os
import shutil
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import create_engine, make_url, select, text

from server.app import create_app
from server.bootstrap import migrate
from server.config import load_settings
from server.db import make_engine, make_session_factory, session_scope
from server.models import User, UserArea
from server.runtime import Runtime
from server.schema import metadata
from sync.entity_list import bump_revision
from sync.models import Area, Household
from support import Collect, basic, submission_xml, xlsform



def _database_of_this_worker() -> None:
    """Point ZOUFANG_TEST_DATABASE_URL, which the other conftests and test modules read after this one, at a
    database of this xdist worker's own (<database>_gw0, …), made if it does not exist."""
    url, worker = os.environ.get("ZOUFANG_TEST_DATABASE_URL"), os.environ.get("PYTEST_XDIST_WORKER")
    if not url or not worker:
        return
    shared = make_url(url)
    own = shared.set(database=f"{shared.database}_{worker}")
    engine = create_engine(shared, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            if connection.scalar(text("SELECT 1 FROM pg_database WHERE datname = :name"),
                                 {"name": own.database}) is None:
                connection.execute(text(f'CREATE DATABASE "{own.database}"'))
    finally:
        engine.dispose()
    os.environ["ZOUFANG_TEST_DATABASE_URL"] = own.render_as_string(hide_password=False)


_database_of_this_worker()
PG_URL = os.environ.get("ZOUFANG_TEST_DATABASE_URL")


def pytest_collection_modifyitems(config, items):
    """On the PostgreSQL pass, leave out the browser tests: their server always runs on SQLite in a data dir of its
    own (tests/browser/conftest.py), so running them again would test the same thing twice and only cost minutes."""
    if not PG_URL:
        return
    browser = [item for item in items if item.get_closest_marker("browser")]
    if browser:
        config.hook.pytest_deselected(items=browser)
        items[:] = [item for item in items if not item.get_closest_marker("browser")]


def _migrated_runtime(url: str, data_dir: Path) -> Runtime:
    engine = make_engine(url)
    settings = load_settings(data_dir=data_dir, database_url=url, secret_key="x")
    rt = Runtime(settings=settings, engine=engine, sessions=make_session_factory(engine), store=None,
                 credentials=None, queue=None)
    migrate(rt)
    return rt


@pytest.fixture(scope="session")
def database_template(tmp_path_factory) -> Path | None:
    """SQLite: migrate once into a template file that each test copies. PostgreSQL: migrate once, in place."""
    folder = tmp_path_factory.mktemp("template")
    if PG_URL:
        engine = make_engine(PG_URL)
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        engine.dispose()
        _migrated_runtime(PG_URL, folder).engine.dispose()
        return None
    path = folder / "template.sqlite3"
    _migrated_runtime(f"sqlite:///{path}", folder).engine.dispose()
    return path


def _truncate_all(url: str) -> None:
    engine = make_engine(url)
    tables = ", ".join(t.name for t in metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture
def database_url(tmp_path, database_template) -> str:
    if PG_URL:
        yield PG_URL
        _truncate_all(PG_URL)
        return
    path = tmp_path / "zoufang.sqlite3"
    shutil.copyfile(database_template, path)
    yield f"sqlite:///{path}"


@pytest.fixture
def synced(monkeypatch) -> list[str]:
    """The files os.fsync is called on from now on, by name, in order."""
    names = []
    real_fsync = os.fsync

    def fsync(fd):
        names.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    return names


@pytest.fixture
def settings_overrides() -> dict:
    """Tests override this to change settings (e.g. the size limit)."""
    return {}


@pytest.fixture
def app(tmp_path, database_url, settings_overrides):
    settings = load_settings(env={}, data_dir=tmp_path / "data", database_url=database_url,
                             publish_bundled_forms=False, migrate_on_start=False, secret_key="test-secret",
                             worker="off",
                             **settings_overrides)
    app = create_app(settings)
    app.config["TESTING"] = True
    yield app
    rt = app.extensions["zoufang"]
    if rt.worker is not None:
        rt.worker.stop()
        rt.worker.join(5)
    rt.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def sessions(app):
    return app.extensions["zoufang"].sessions


@pytest.fixture
def store(app):
    return app.extensions["zoufang"].store


@pytest.fixture
def areas(sessions):
    """county › two towns › two villages each, as in samples/areas.csv."""
    with session_scope(sessions) as session:
        county = Area(code="210504", name="明山区", level="county", path="")
        session.add(county)
        session.flush()
        county.path = f"/{county.id}/"
        made = {"county": county}
        for t in (1, 2):
            town = Area(code=f"21050400{t}", name=f"镇{t}", level="town", parent=county, path="")
            session.add(town)
            session.flush()
            town.path = f"{county.path}{town.id}/"
            made[f"town{t}"] = town
            for v in (1, 2):
                village = Area(code=f"21050400{t}00{v}", name=f"村{t}-{v}", level="village", parent=town, path="")
                session.add(village)
                session.flush()
                village.path = f"{town.path}{village.id}/"
                made[f"village{t}{v}"] = village
        return {k: v.id for k, v in made.items()}


@pytest.fixture(autouse=True, scope="session")
def _each_xlsform_compiled_once():
    """pyxform compiles each distinct XLSForm once per run (the bundled three take ~0.1 s, and a hundred tests
    publish them); every caller gets its own copy of the result. Tests of compiling call forms.compile directly."""
    import forms.service

    real = forms.service.compile_xlsform
    cached = functools.lru_cache(maxsize=64)(real)
    forms.service.compile_xlsform = lambda content, filename="form.xlsx": copy.deepcopy(cached(content, filename))
    yield
    forms.service.compile_xlsform = real


#: argon2id at a small cost for the tests' accounts. The server's own cost (server/passwords.py: 64 MiB, 3 passes)
#: makes every first login of a test's user take ~0.1 s of a core, a few minutes of CI in all. argon2 reads the
#: cost from the stored hash, so these accounts verify cheaply through the server's real code; the accounts the
#: server makes (CLI, setup and admin pages) keep its cost, and tests/unit/server/test_passwords.py checks it.
_TEST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@functools.cache
def _argon2_hash(password: str) -> str:
    """A real argon2id hash, computed once per password for the whole run. Logging in still verifies it in full."""
    return _TEST_HASHER.hash(password)


@pytest.fixture
def make_user(sessions):
    def make(username: str, role: str = "cadre", area_ids: tuple[int, ...] = (), password: str = "secret-pass"):
        with session_scope(sessions) as session:
            user = User(username=username, role=role, display_name=username, password_hash=_argon2_hash(password))
            user.areas = [UserArea(area_id=a) for a in area_ids]
            session.add(user)
        return basic(username, password)
    return make


@pytest.fixture
def admin(make_user):
    return make_user("admin", "admin")


@pytest.fixture
def make_household(sessions):
    def make(number: str, area_id: int, head_name: str = "张三", latitude: float | None = 41.3,
             longitude: float | None = 123.8):
        with session_scope(sessions) as session:
            session.add(Household(number=number, area_id=area_id, head_name=head_name, latitude=latitude,
                                  longitude=longitude))
            bump_revision(session, "households")
    return make


@pytest.fixture
def publish(client, admin):
    """Publish an XLSForm through the admin API; returns the JSON answer."""
    def do(content: bytes | None = None, filename: str = "form.xlsx", media: dict[str, bytes] | None = None,
           expect: int = 201, **xlsform_args):
        data = {"xlsform": (_io(content or xlsform(**xlsform_args)), filename)}
        for name, body in (media or {}).items():
            data[name] = (_io(body), name)
        response = client.post("/api/v1/forms", data=data, headers=admin, content_type="multipart/form-data")
        assert response.status_code == expect, response.get_data(as_text=True)
        return response.get_json()
    return do


def _io(data: bytes):
    import io
    return io.BytesIO(data)


@pytest.fixture
def collect(client, admin, publish):
    """An admin's Collect with the test form published."""
    publish()
    return Collect(client, admin)


@pytest.fixture
def xml():
    return submission_xml


SAMPLES = Path(__file__).resolve().parents[1] / "sync" / "samples"
VILLAGE_1, VILLAGE_2, TOWN_1 = "210504001001", "210504001002", "210504001"


@pytest.fixture
def sample_district(sessions, store, make_user):
    """The sample areas and roster (113 households) with the bundled forms published, and users to call with."""
    from forms.service import publish_bundled_forms
    from sync.areas import import_areas
    from sync.roster import import_roster
    with session_scope(sessions) as session:
        import_areas(session, (SAMPLES / "areas.csv").read_bytes(), "areas.csv")
        codes = {a.code: a.id for a in session.scalars(select(Area))}
    district = {
        "codes": codes,
        "cadre1": make_user("cadre001", "cadre", (codes[VILLAGE_1],)),
        "cadre2": make_user("cadre002", "cadre", (codes[VILLAGE_2],)),
        "town1": make_user("town1", "supervisor", (codes[TOWN_1],)),
    }
    with session_scope(sessions) as session:
        add_roster_cadres(session)  # the roster's 帮扶责任人 must be accounts
        import_roster(session, (SAMPLES / "roster.csv").read_bytes(), "roster.csv")
        publish_bundled_forms(session, store)
    return district


@pytest.fixture
def roster_cadres(sessions):
    """The sample roster's 帮扶责任人 as accounts: the roster import accepts only cadres who have one."""
    with session_scope(sessions) as session:
        add_roster_cadres(session)


def add_roster_cadres(session) -> None:
    """Accounts (no password) for the sample roster's 帮扶责任人 that do not exist yet."""
    named = {row["帮扶责任人"] for row in csv.DictReader(io.StringIO((SAMPLES / "roster.csv").read_text("utf-8")))}
    existing = set(session.scalars(select(User.username)))
    session.add_all(User(username=name, role="cadre", display_name=name) for name in sorted(named - existing))
    session.flush()


@pytest.fixture
def reconcile(app):
    """Process every due reconcile job now, as the worker would."""
    from sync.jobs import run_until_idle
    rt = app.extensions["zoufang"]
    return lambda: run_until_idle(rt.sessions, rt.queue)


@pytest.fixture
def work(app):
    """Every due job now, reconcile and photos, as the worker would."""
    from sync.jobs import run_until_idle
    rt = app.extensions["zoufang"]
    return lambda: run_until_idle(rt.sessions, rt.queue, rt.store)
