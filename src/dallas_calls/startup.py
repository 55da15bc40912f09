"""Start-up checks that turn an unusable data directory into one clear line instead of a traceback.

A read-only data directory, a file that is not SQLite, a damaged database (``PRAGMA quick_check``)
and a database another process keeps locked are all found before anything runs, and each becomes a
:class:`StartupError` naming the file and what to do. The CLI prints it and exits with code 2
(``--debug`` shows the traceback).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
from pathlib import Path

LOCK_WAIT_S = 1.0  # how long start-up waits for another process's write lock before giving up


class StartupError(Exception):
    """The data directory or database cannot be used; the message says which file and what to do."""


def ensure_writable(folder: Path) -> None:
    """Create ``folder`` if needed and prove a file can be written in it."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-check-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise StartupError(
            f"cannot write to the data directory {folder} ({exc.strerror or exc}): "
            "make it writable or choose another with --data-dir"
        ) from exc


def check_sqlite(path: Path) -> None:
    """A database that exists must be SQLite, intact, and writable now (not locked by another
    process). A missing one is fine: it is created."""
    if not path.exists():
        return
    where = str(path)
    try:
        conn = sqlite3.connect(
            path.resolve().as_uri() + "?mode=rw", uri=True, timeout=LOCK_WAIT_S, isolation_level=None
        )
    except sqlite3.Error as exc:
        raise StartupError(f"cannot open {where} ({exc}): check its permissions") from exc
    try:
        found = [str(row[0]) for row in conn.execute("PRAGMA quick_check(5)").fetchall()]
        if found != ["ok"]:
            raise StartupError(
                f"{where} is damaged (quick_check: {'; '.join(found)}): restore it from a backup, or "
                "move it away and rebuild the history with `dallas-calls poll --replay DATA_DIR/archive`"
            )
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
    except sqlite3.DatabaseError as exc:
        text = str(exc)
        if "locked" in text or "busy" in text:
            raise StartupError(
                f"{where} is locked by another process ({text}): stop it, or use another --data-dir"
            ) from exc
        if "not a database" in text or "file is encrypted" in text:
            raise StartupError(
                f"{where} is not a SQLite database: move it away, or choose another --data-dir"
            ) from exc
        if "readonly" in text or "read-only" in text:
            raise StartupError(f"{where} is read-only ({text}): make it writable") from exc
        raise StartupError(
            f"{where} is damaged ({text}): restore it from a backup, or move it away and rebuild "
            "the history with `dallas-calls poll --replay DATA_DIR/archive`"
        ) from exc
    finally:
        with contextlib.suppress(sqlite3.Error):
            conn.close()
