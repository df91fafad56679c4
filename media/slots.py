"""Upload slots: empty files whose names are already on disk, so that storing a blob takes one flush, not two.

Making an upload durable under its content address takes its data on disk (an fsync of the file) and its new
name on disk (an fsync of the folder it is renamed into). Each flush costs about as much as the other, on every
submission. A slot is an empty file made ahead of time, in batches whose folder is synced once per batch. An
upload written into a slot and fsynced is on disk under the slot's name; it is then renamed to its content
address and that folder is not synced. If a crash loses the rename, the file is back in its slot after the
restart, and `reclaim` hands it to the store, which files it under its content address again.

Each process takes slots from a folder of its own, <root>/<pid>-<random>/, and holds an exclusive flock on the
folder's lock file for as long as it lives (the kernel drops the lock when the process ends, however it ends). A
folder whose lock can be taken belongs to a process that has ended, and is reclaimed: the store first makes the
renames that process made durable (it syncs its blob folders), then slots that hold content are handed over
(an upload that a crash cut short becomes a blob nobody records, as a stored file of a failed request does), and
the folder is removed. A folder is made under a dot-name, locked, then renamed into place, so it is never seen
unlocked while its process is setting it up.

The root must be on the same file system as the store (a rename, not a copy) and on local disk (flock).
"""
from __future__ import annotations

import fcntl
import logging
import os
import secrets
import shutil
import threading
import time
import weakref
from pathlib import Path
from typing import Callable, Iterator

from media.durable import fsync_dir

log = logging.getLogger(__name__)

LOCK = "lock"
#: slots made per batch: one folder fsync for this many uploads
BATCH = 32
#: fewer free slots than this, and a thread makes the next batch: a request rarely waits for one
LOW_WATER = BATCH // 2
#: a dot-folder this old is left over from a process that died while setting it up
ABANDONED_SECONDS = 3600


class UploadSlots:
    """This process's slots under `root`, taken by any thread; a forked child makes a folder of its own."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self._guard = threading.Lock()
        self._pid: int | None = None
        self._folder: Path | None = None
        self._free: list[Path] = []
        self._refilling = False
        self._closer: weakref.finalize | None = None

    def take(self) -> tuple[int, Path]:
        """An empty slot, opened for reading and writing: (file descriptor, path)."""
        with self._guard:
            if self._pid != os.getpid():
                self._open_folder()
            if not self._free:
                self._free = _make_batch(self._folder)
            path, folder = self._free.pop(), self._folder
            refill = len(self._free) < LOW_WATER and not self._refilling
            self._refilling = self._refilling or refill
        if refill:
            # making files waits on the file system's journal (~0.1 ms each here): not in the request's time
            threading.Thread(target=self._refill, args=(folder,), name="upload-slots", daemon=True).start()
        return os.open(path, os.O_RDWR), path

    def _refill(self, folder: Path) -> None:
        batch = []
        try:
            batch = _make_batch(folder)
        except OSError as exc:  # a full disk: the next take() that finds no slot left meets it and reports it
            log.warning("could not make upload slots in %s: %s", folder, exc)
        finally:
            with self._guard:
                if folder == self._folder:  # not a folder the parent had before this process forked
                    self._free.extend(batch)
                self._refilling = False

    def _open_folder(self) -> None:
        if self._closer is not None:  # the parent's lock, inherited by fork: the parent still holds it
            self._closer()
        self.root.mkdir(parents=True, exist_ok=True)
        name = f"{os.getpid()}-{secrets.token_hex(4)}"
        staging = self.root / f".{name}"
        staging.mkdir()
        lock = os.open(staging / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
        self._closer = weakref.finalize(self, os.close, lock)
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        folder = self.root / name
        os.rename(staging, folder)
        fsync_dir(self.root)
        self._pid, self._folder, self._free, self._refilling = os.getpid(), folder, [], False

    def reclaim(self, keep: Callable[[Path], None], settle: Callable[[], None]) -> int:
        """Reclaim the folders of processes that have ended: `settle` once first (it must make durable the renames
        out of slots into the store), `keep` each slot that holds content (it must move or remove the file), then
        remove the folder. Returns how many slots were kept."""
        kept = 0
        flushed = False
        for folder, lock in self._ended_folders():
            try:
                if not flushed:
                    settle()
                    flushed = True
                for slot in folder.iterdir():
                    if slot.name != LOCK and slot.stat().st_size > 0:
                        keep(slot)
                        kept += 1
                shutil.rmtree(folder)
            finally:
                os.close(lock)
        if flushed:
            fsync_dir(self.root)
        return kept

    def _ended_folders(self) -> Iterator[tuple[Path, int]]:
        """Folders whose lock could be taken, each with the lock held (the caller closes it)."""
        try:
            entries = list(self.root.iterdir())
        except FileNotFoundError:
            return
        for folder in entries:
            if folder.name.startswith("."):
                _remove_if_abandoned(folder)
                continue
            try:
                lock = os.open(folder / LOCK, os.O_RDWR)
            except (FileNotFoundError, NotADirectoryError):  # reclaimed by another process meanwhile
                continue
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # its process is alive
                os.close(lock)
                continue
            if not folder.exists():  # another process reclaimed it between our open and our lock
                os.close(lock)
                continue
            yield folder, lock


def _make_batch(folder: Path) -> list[Path]:
    """BATCH new empty slots in `folder`, their names durable."""
    batch = []
    for _ in range(BATCH):
        path = folder / secrets.token_hex(8)
        os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
        batch.append(path)
    fsync_dir(folder)
    return batch


def _remove_if_abandoned(folder: Path) -> None:
    try:
        if time.time() - folder.stat().st_mtime > ABANDONED_SECONDS:
            shutil.rmtree(folder, ignore_errors=True)
    except FileNotFoundError:
        pass
