"""Migration 0009 on a database with submissions: each row learns its chain's root, and a chain that concurrent
edits forked into several current versions keeps only its newest one current (else the unique index could not be
made)."""
import datetime as dt

import sqlalchemy as sa
from alembic import command

from server.bootstrap import alembic_config
from server.config import load_settings
from server.db import make_engine
from server.runtime import Runtime


def upgrade(rt: Runtime, revision: str) -> None:
    config = alembic_config(rt)
    with rt.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def test_the_migration_finds_each_chains_root_and_mends_a_forked_chain(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    rt = Runtime(settings=load_settings(env={}, data_dir=tmp_path, database_url=url, secret_key="x"),
                 engine=make_engine(url), sessions=None, store=None, credentials=None, queue=None)
    upgrade(rt, "0007")
    now = dt.datetime(2026, 11, 20, tzinfo=dt.timezone.utc)
    with rt.engine.begin() as connection:
        tables = sa.MetaData()
        tables.reflect(connection, only=("forms", "form_versions", "submissions"))
        forms, versions, submissions = (tables.tables[t] for t in ("forms", "form_versions", "submissions"))
        form_id = connection.execute(forms.insert().values(xml_form_id="f", state="open", created_at=now)
                                     ).inserted_primary_key[0]
        version_id = connection.execute(versions.insert().values(
            form_id=form_id, version="1", title="f", xform=b"<x/>", xform_md5="0", binary_paths=[], datasets=[],
            warnings=[], published_at=now)).inserted_primary_key[0]
        # a ← b ← c, an edit of an edit; x edited at once by y and z, both left current
        rows = [("a", None, False, 0), ("b", "a", False, 1), ("c", "b", True, 2),
                ("x", None, False, 0), ("y", "x", True, 1), ("z", "x", True, 2), ("lone", None, True, 0)]
        connection.execute(submissions.insert(), [
            {"form_id": form_id, "form_version_id": version_id, "instance_id": iid, "deprecated_id": dep,
             "current": current, "xml": b"<x/>", "xml_sha256": "0", "review_state": "received",
             "received_at": now + dt.timedelta(minutes=minutes), "reconcile_state": "applied"}
            for iid, dep, current, minutes in rows])
    upgrade(rt, "0009")
    with rt.engine.connect() as connection:
        found = {iid: (root, bool(current), bool(out)) for iid, root, current, out in connection.execute(sa.text(
            "SELECT instance_id, root_instance_id, current, out_of_area FROM submissions"))}
    rt.engine.dispose()
    assert found == {"a": ("a", False, False), "b": ("a", False, False), "c": ("a", True, False),
                     "x": ("x", False, False), "y": ("x", False, False), "z": ("x", True, False),
                     "lone": ("lone", True, False)}
