"""`backup create` / `backup restore` (issue 17 item 14): a consistent copy of an embedded instance taken while
the server writes, restored into an empty data dir with the same records and photos, verified by its manifest;
PostgreSQL and S3 refused with what to use instead."""
import json
import threading

import pytest
from sqlalchemy import select

from server.app import create_app, create_command_app
from server.config import load_settings
from server.db import session_scope
from support import Collect, make_jpeg, postgres_url, visit_xml
from sync.models import Submission, SubmissionAttachment

PG_URL = postgres_url()

HH, HH7 = "2105040010010001", "2105040010010007"
sqlite_only = pytest.mark.skipif(bool(PG_URL), reason="backup create copies SQLite; PostgreSQL is refused (below)")


def command(monkeypatch, tmp_path, *args, **env):
    """A `flask --app wsgi …` command as an operator runs it, against the data dir and settings in `env`."""
    for name in ("ZOUFANG_DATABASE_URL", "ZOUFANG_MEDIA_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in {"ZOUFANG_DATA_DIR": str(tmp_path / "elsewhere"), **env}.items():
        monkeypatch.setenv(name, value)
    return create_command_app().test_cli_runner().invoke(args=list(args))


def photos_of(sessions, store, instance_ids):
    """instanceID → {file name: bytes} of the submissions' stored photos."""
    with session_scope(sessions) as session:
        rows = session.execute(select(Submission.instance_id, SubmissionAttachment.filename, SubmissionAttachment.sha256)
                               .join(SubmissionAttachment.submission).where(Submission.instance_id.in_(instance_ids),
                                                                           SubmissionAttachment.sha256.is_not(None)))
        found = {}
        for instance_id, filename, sha256 in rows:
            found.setdefault(instance_id, {})[filename] = store.read_bytes(sha256)
        return found


def instance_ids(sessions):
    with session_scope(sessions) as session:
        return set(session.scalars(select(Submission.instance_id)))


@sqlite_only
def test_a_backup_taken_while_visits_arrive_restores_the_same_records_and_photos(
        app, client, runner, sessions, store, sample_district, work, tmp_path, monkeypatch):
    cadre = sample_district["cadre1"]
    before = [f"uuid:before-{n}" for n in range(3)]
    for n, instance_id in enumerate(before):
        photo = make_jpeg((320 + n, 240), taken="2026:11:20 10:00:00")
        xml = visit_xml(HH, instance_id=instance_id, end=f"2026-11-2{n}T10:00:00+08:00")
        assert Collect(client, cadre).submit(xml, {"family.jpg": photo}).status_code == 201
    work()  # HH's record and the photos' thumbnails exist before the backup

    sending, stop, sent = threading.Event(), threading.Event(), []

    def keep_sending():  # a phone uploading visits of another household all through the backup
        device = Collect(app.test_client(), cadre)
        while not stop.is_set():
            instance_id = f"uuid:during-{len(sent)}"
            xml = visit_xml(HH7, instance_id=instance_id)
            assert device.submit(xml, {"family.jpg": make_jpeg((200 + len(sent), 100))}).status_code == 201
            sent.append(instance_id)
            sending.set()

    phone = threading.Thread(target=keep_sending)
    phone.start()
    try:
        assert sending.wait(30)
        created = runner.invoke(args=["backup", "create", str(tmp_path / "backup")])
        sent_by_then = len(sent)
    finally:
        stop.set()
        phone.join(30)
    assert created.exit_code == 0, created.output
    assert sent_by_then >= 1 and "media files" in created.output

    restored = command(monkeypatch, tmp_path, "backup", "restore", str(tmp_path / "backup"),
                       ZOUFANG_DATA_DIR=str(tmp_path / "restored"))
    assert restored.exit_code == 0, restored.output
    again = create_app(load_settings(env={}, data_dir=tmp_path / "restored", publish_bundled_forms=False,
                                     migrate_on_start=False, secret_key="test-secret", worker="off"))
    try:
        rt = again.extensions["zoufang"]
        kept = instance_ids(rt.sessions)
        # everything stored before the backup began, nothing that never was; the uploads during it up to a moment
        assert set(before) | set(sent[:1]) <= kept <= instance_ids(sessions)
        assert photos_of(rt.sessions, rt.store, kept) == photos_of(sessions, store, kept)
        assert len(photos_of(rt.sessions, rt.store, kept)) == len(kept)
        original, copy = (c.get(f"/api/v1/households/{HH}", headers=cadre) for c in (client, again.test_client()))
        assert copy.status_code == 200 and copy.get_json() == original.get_json()
        thumb = f"/api/v1/submissions/household_visit/{before[0]}/attachments/family.jpg/thumb"
        with again.test_client().get(thumb, headers=cadre) as answer:
            assert answer.status_code == 200 and answer.mimetype == "image/jpeg"
    finally:
        again.extensions["zoufang"].engine.dispose()
    manifest = json.loads((tmp_path / "backup" / "manifest.json").read_text())
    assert manifest["database"]["tables"]["submissions"] == len(kept)
    assert manifest["media"]["blobs"] >= 3 * len(before)  # each photo, its thumbnail and its preview at least


@sqlite_only
def test_restore_refuses_a_data_dir_that_is_not_empty(runner, sample_district, tmp_path, sessions):
    assert runner.invoke(args=["backup", "create", str(tmp_path / "backup")]).exit_code == 0
    refused = runner.invoke(args=["backup", "restore", str(tmp_path / "backup")])  # the app's own data dir
    assert refused.exit_code == 1
    assert "不是空的" in refused.output and "not empty" in refused.output and "ZOUFANG_DATA_DIR" in refused.output
    assert len(instance_ids(sessions)) == 0  # the instance is untouched


@sqlite_only
def test_restore_checks_the_backup_against_its_manifest_and_leaves_nothing_half_done(
        runner, sample_district, client, tmp_path, monkeypatch):
    photo = make_jpeg()
    assert Collect(client, sample_district["cadre1"]).submit(visit_xml(HH), {"family.jpg": photo}).status_code == 201
    backup = tmp_path / "backup"
    assert runner.invoke(args=["backup", "create", str(backup)]).exit_code == 0
    blob = next(p for p in (backup / "media").glob("*/*") if p.read_bytes() == photo)
    blob.write_bytes(photo[:-10] + b"0123456789")  # damaged on the backup disk
    target = tmp_path / "restored"
    damaged = command(monkeypatch, tmp_path, "backup", "restore", str(backup), ZOUFANG_DATA_DIR=str(target))
    assert damaged.exit_code == 1 and "damaged" in damaged.output and "损坏" in damaged.output
    assert not target.exists() or not any(target.iterdir())

    blob.write_bytes(photo)
    manifest = json.loads((backup / "manifest.json").read_text())
    manifest["database"]["tables"]["submissions"] += 1  # a row lost since
    (backup / "manifest.json").write_text(json.dumps(manifest))
    lost = command(monkeypatch, tmp_path, "backup", "restore", str(backup), ZOUFANG_DATA_DIR=str(target))
    assert lost.exit_code == 1 and "rows of submissions" in lost.output
    assert not target.exists() or not any(target.iterdir())

    (backup / "manifest.json").unlink()  # a backup cut off before it finished
    cut = command(monkeypatch, tmp_path, "backup", "restore", str(backup), ZOUFANG_DATA_DIR=str(target))
    assert cut.exit_code == 1 and "not a complete backup" in cut.output


@sqlite_only
def test_create_refuses_a_folder_that_is_not_empty(runner, tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "old.txt").write_text("x")
    refused = runner.invoke(args=["backup", "create", str(tmp_path / "full")])
    assert refused.exit_code == 1 and "not an empty folder" in refused.output


def test_on_postgresql_backup_create_says_to_use_pg_dump(monkeypatch, tmp_path):
    # nothing listens there: the refusal comes before any connection
    refused = command(monkeypatch, tmp_path, "backup", "create", str(tmp_path / "backup"),
                      ZOUFANG_DATABASE_URL="postgresql+psycopg://nobody@127.0.0.1:1/zoufang")
    assert refused.exit_code == 1 and "pg_dump" in refused.output
    assert not (tmp_path / "backup").exists()


def test_with_media_in_a_bucket_backup_create_says_to_use_bucket_versioning(monkeypatch, tmp_path):
    refused = command(monkeypatch, tmp_path, "backup", "create", str(tmp_path / "backup"),
                      ZOUFANG_MEDIA_URL="s3://zoufang-media/v1")
    assert refused.exit_code == 1 and "versioning" in refused.output and "版本控制" in refused.output
    assert not (tmp_path / "backup").exists()
