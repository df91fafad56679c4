"""Upload slots: a blob's content survives a crash that loses its rename, and is filed again on the next start."""
import hashlib
import os
import subprocess
import sys
import textwrap
import time

from media.slots import BATCH, LOCK, LOW_WATER, UploadSlots
from media.store import LocalStore
from support import uploads_left

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def _in_another_process(tmp_path, code: str) -> str:
    """Run `code` with a LocalStore `store` on tmp_path in a process that then ends; its output."""
    script = textwrap.dedent(f"""
        from pathlib import Path
        from media.store import LocalStore
        store = LocalStore(Path({str(tmp_path / "media")!r}), Path({str(tmp_path / "tmp")!r}))
    """) + textwrap.dedent(code)
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _slot_folders(tmp_path):
    return sorted(p for p in (tmp_path / "tmp" / "slots").iterdir() if p.is_dir())


def test_content_whose_rename_a_crash_undid_is_filed_when_the_store_next_opens(tmp_path, monkeypatch):
    # the other process wrote and synced an upload in its slot and ended before the rename reached the disk:
    # after a crash that is what the disk holds
    photo = os.urandom(200_000)
    (tmp_path / "photo").write_bytes(photo)
    _in_another_process(tmp_path, """
        upload = store.new_upload()
        upload.write(Path(store.root.parent / "photo").read_bytes())
        upload.sync()
    """)
    [folder] = _slot_folders(tmp_path)
    assert any(p.stat().st_size == len(photo) for p in folder.iterdir())
    settled = []
    real_settle = LocalStore._settle_renames
    monkeypatch.setattr(LocalStore, "_settle_renames", lambda store: (settled.append(folder.exists()),
                                                                      real_settle(store)))
    store = LocalStore(tmp_path / "media", tmp_path / "tmp")
    assert store.read_bytes(hashlib.sha256(photo).hexdigest()) == photo
    assert settled == [True]  # the blob folders were synced once, before the ended process's folder went
    assert not folder.exists() and uploads_left(tmp_path / "tmp") == []


def test_an_ended_process_s_spare_slots_go_and_its_stored_blobs_stay_with_their_names_synced(tmp_path, synced):
    sha = _in_another_process(tmp_path, """
        import os
        print(store.put_bytes(os.urandom(100_000)))
    """).strip()
    [folder] = _slot_folders(tmp_path)
    assert len(list(folder.iterdir())) > 1  # the lock and the spare empty slots of its batch
    store = LocalStore(tmp_path / "media", tmp_path / "tmp")
    assert not folder.exists()
    assert store.size(sha) == 100_000
    # it renamed the blob out of its slot without syncing the folder: that is done before its slots go
    assert str(tmp_path / "media" / sha[:2]) in synced


def test_a_reclaimed_slot_whose_content_is_stored_already_is_just_removed(tmp_path):
    photo = os.urandom(100_000)
    (tmp_path / "photo").write_bytes(photo)
    _in_another_process(tmp_path, """
        data = Path(store.root.parent / "photo").read_bytes()
        store.put_bytes(data)
        upload = store.new_upload()
        upload.write(data)
        upload.sync()
    """)
    store = LocalStore(tmp_path / "media", tmp_path / "tmp")
    assert store.read_bytes(hashlib.sha256(photo).hexdigest()) == photo
    assert uploads_left(tmp_path / "tmp") == [] and _slot_folders(tmp_path) == []


def test_the_slots_of_a_live_process_are_left_alone(tmp_path):
    first = LocalStore(tmp_path / "media", tmp_path / "tmp")
    upload = first.new_upload()
    upload.write(os.urandom(100_000))  # in a slot, not committed yet
    LocalStore(tmp_path / "media", tmp_path / "tmp")  # another store opens meanwhile (another worker starting)
    assert [p.stat().st_size for p in uploads_left(tmp_path / "tmp")] == [100_000]
    sha = first.commit(upload)
    assert first.size(sha) == 100_000


def test_a_forked_child_takes_its_slots_from_a_folder_of_its_own(tmp_path):
    slots = UploadSlots(tmp_path / "slots")
    fd, parent_slot = slots.take()
    os.close(fd)
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report the folder of the slot it gets, then leave without any cleanup
        try:
            child_fd, child_slot = slots.take()
            os.write(writer, str(child_slot.parent).encode())
        finally:
            os._exit(0)
    os.close(writer)
    with os.fdopen(reader) as answer:
        child_folder = answer.read()
    os.waitpid(pid, 0)
    assert child_folder and child_folder != str(parent_slot.parent)
    # the child has ended: its folder is reclaimed, the parent's (alive) is not
    assert slots.reclaim(lambda path: None, lambda: None) == 0
    assert [p.name for p in (tmp_path / "slots").iterdir()] == [parent_slot.parent.name]


def test_a_folder_a_process_left_half_made_is_removed_after_an_hour(tmp_path):
    slots = UploadSlots(tmp_path / "slots")
    old, fresh = tmp_path / "slots" / ".1-old", tmp_path / "slots" / ".2-fresh"
    for folder in (old, fresh):
        folder.mkdir(parents=True)
        (folder / LOCK).touch()
    an_hour_ago = time.time() - 3700
    os.utime(old, (an_hour_ago, an_hour_ago))
    slots.reclaim(lambda path: None, lambda: None)
    assert not old.exists() and fresh.exists()


def test_slots_are_made_in_the_background_before_they_run_out(tmp_path):
    slots = UploadSlots(tmp_path / "slots")
    taken = [slots.take() for _ in range(BATCH - LOW_WATER + 1)]  # one past the low-water mark
    folder = taken[0][1].parent
    deadline = time.monotonic() + 10
    while len([p for p in folder.iterdir() if p.name != LOCK]) < 2 * BATCH and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len([p for p in folder.iterdir() if p.name != LOCK]) == 2 * BATCH  # the next batch is there
    more = [slots.take() for _ in range(LOW_WATER)]
    assert {path for _fd, path in taken}.isdisjoint(path for _fd, path in more)
    for fd, _path in taken + more:
        os.close(fd)
