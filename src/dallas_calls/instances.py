"""One data directory per running instance, guarded by a lock file.

Two servers in one checkout (``make run`` that fell back to the demo, and ``make demo``; or two
``serve --demo``) must never share or delete each other's files. A live instance holds
``DATA_DIR/.lock``; each demo instance claims the first free numbered slot under ``DATA_DIR/demo/``
and holds that slot's lock, and only ever clears its own slot. The locks are ``flock`` locks on an
open file: the kernel releases them when the process ends, however it ends (kill -9 included), so a
stale lock file never blocks a restart.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
from pathlib import Path
from typing import IO

from dallas_calls.startup import StartupError

LOCK_NAME = ".lock"
MAX_DEMO_SLOTS = 32


class InstanceBusy(Exception):
    """Another process holds the data directory's lock."""


class DataDirLock:
    """An exclusive lock on a data directory, held until ``release()`` or the process ends."""

    def __init__(self, folder: Path, purpose: str) -> None:
        self.folder = folder
        self.path = folder / LOCK_NAME
        self.purpose = purpose
        self._file: IO[str] | None = None

    def acquire(self) -> DataDirLock:
        """Take the lock or raise InstanceBusy naming the holder (its pid and purpose)."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            handle = self.path.open("a+", encoding="utf-8")
        except OSError as exc:
            raise StartupError(
                f"cannot write to the data directory {self.folder} ({exc.strerror or exc}): "
                "make it writable or choose another with --data-dir"
            ) from exc
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise InstanceBusy(
                f"{self.folder} is in use by {holder}; stop it, or give this one its own --data-dir"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"dallas-calls {self.purpose} (pid {os.getpid()})\n")
        handle.flush()
        self._file = handle
        return self

    def release(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None

    @property
    def held(self) -> bool:
        return self._file is not None


def claim_data_dir(folder: Path, purpose: str) -> DataDirLock:
    """Lock ``folder`` for this process (raises InstanceBusy when another process has it)."""
    return DataDirLock(folder, purpose).acquire()


def claim_demo_dir(data_dir: Path) -> tuple[Path, DataDirLock]:
    """The first free demo slot ``DATA_DIR/demo/N``, locked and emptied (it held only an earlier
    demo's throwaway files). Raises InstanceBusy when every slot is taken."""
    base = data_dir / "demo"
    for slot in range(1, MAX_DEMO_SLOTS + 1):
        folder = base / str(slot)
        try:
            lock = DataDirLock(folder, "demo").acquire()
        except InstanceBusy:
            continue
        for child in folder.iterdir():
            if child.name == LOCK_NAME:
                continue
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child, ignore_errors=True)
            else:
                child.unlink(missing_ok=True)
        return folder, lock
    raise InstanceBusy(f"all {MAX_DEMO_SLOTS} demo slots under {base} are in use")
