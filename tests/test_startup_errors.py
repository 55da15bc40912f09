"""A data directory that cannot be used stops every command with one line naming the file and what
to do, exit code 2, no traceback (``--debug`` shows it)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dallas_calls.cli", *args], capture_output=True, text=True, timeout=60
    )


def _assert_one_clear_line(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("dallas-calls:")]
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_a_data_dir_that_cannot_be_written(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    for command in (["status"], ["poll", "--once", "--feed-url", "http://127.0.0.1:9/x.json"]):
        result = _run(*command, "--data-dir", str(blocker / "data"))
        _assert_one_clear_line(result, str(blocker / "data"), "--data-dir")


def test_a_file_that_is_not_sqlite(tmp_path: Path) -> None:
    (tmp_path / "dallas-calls.sqlite3").write_bytes(b"these are not the bytes of a database" * 200)
    result = _run("status", "--data-dir", str(tmp_path))
    _assert_one_clear_line(result, "dallas-calls.sqlite3", "is not a SQLite database")


def test_a_damaged_database_is_found_by_quick_check(tmp_path: Path) -> None:
    path = tmp_path / "dallas-calls.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)")
    conn.execute("CREATE INDEX t_body ON t (body)")
    conn.executemany("INSERT INTO t (body) VALUES (?)", [(f"row {i} " * 20,) for i in range(2000)])
    conn.commit()
    conn.close()
    data = bytearray(path.read_bytes())
    page = 4096
    for start in range(3 * page, len(data) - page, 7 * page):  # scribble over some b-tree pages
        data[start + 8 : start + 200] = b"\xff" * 192
    path.write_bytes(bytes(data))
    result = _run("status", "--data-dir", str(tmp_path))
    _assert_one_clear_line(result, "dallas-calls.sqlite3", "damaged")
    debug = _run("status", "--data-dir", str(tmp_path), "--debug")
    assert debug.returncode != 0 and "Traceback" in debug.stderr


def test_a_database_another_process_keeps_locked(tmp_path: Path) -> None:
    path = tmp_path / "dallas-calls.sqlite3"
    sqlite3.connect(path).execute("CREATE TABLE t (x)").connection.commit()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys, time\n"
            f"c = sqlite3.connect({str(path)!r}, isolation_level=None)\n"
            "c.execute('BEGIN EXCLUSIVE')\n"
            "print('locked', flush=True)\n"
            "time.sleep(60)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        result = _run("status", "--data-dir", str(tmp_path))
        _assert_one_clear_line(result, "dallas-calls.sqlite3", "locked by another process")
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.parametrize("command", [["status"], ["serve", "--no-demo-fallback", "--port", "0"]])
def test_a_newer_schema_is_a_clear_error(tmp_path: Path, command: list[str]) -> None:
    conn = sqlite3.connect(tmp_path / "dallas-calls.sqlite3")
    conn.execute("PRAGMA user_version = 999")
    conn.close()
    result = _run(*command, "--data-dir", str(tmp_path))
    _assert_one_clear_line(result, "newer than this program", "upgrade dallas-calls")
