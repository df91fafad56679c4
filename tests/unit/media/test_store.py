"""The local content-addressed store: streamed, durable, deduplicated, never partial under a final name."""
import hashlib

from media.store import LocalStore


def test_upload_is_hashed_while_written_and_committed_under_its_sha256(tmp_path):
    store = LocalStore(tmp_path / "media", tmp_path / "tmp")
    upload = store.new_upload()
    for chunk in (b"abc", b"def" * 1000):
        upload.write(chunk)
    data = b"abc" + b"def" * 1000
    assert upload.sha256 == hashlib.sha256(data).hexdigest() and upload.md5 == hashlib.md5(data).hexdigest()
    sha = store.commit(upload)
    assert store.read_bytes(sha) == data
    assert store.path(sha).parent.parent.name == sha[:2]
    assert list((tmp_path / "tmp").iterdir()) == []


def test_same_content_is_stored_once(tmp_path):
    store = LocalStore(tmp_path / "media", tmp_path / "tmp")
    first = store.put_bytes(b"same")
    second = store.put_bytes(b"same")
    assert first == second
    assert len([p for p in (tmp_path / "media").rglob("*") if p.is_file()]) == 1
    assert list((tmp_path / "tmp").iterdir()) == []


def test_discarded_upload_leaves_nothing(tmp_path):
    store = LocalStore(tmp_path / "media", tmp_path / "tmp")
    upload = store.new_upload()
    upload.write(b"partial")
    upload.discard()
    upload.discard()
    assert list((tmp_path / "tmp").iterdir()) == []
    assert not any(p.is_file() for p in (tmp_path / "media").rglob("*"))


def test_path_refuses_anything_but_a_digest(tmp_path):
    store = LocalStore(tmp_path / "media")
    for bad in ("../../etc/passwd", "A" * 64, "abc"):
        try:
            store.path(bad)
        except ValueError:
            continue
        raise AssertionError(f"accepted {bad!r}")
