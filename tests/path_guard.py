"""A guard that the test suite reads nothing outside the repository.

An audit hook (PEP 578) sees every ``open``, ``os.listdir`` and ``os.scandir`` in the test process.
A path is allowed when it lies in the repository, a temporary folder (but never beside the checkout), the Python installation
(stdlib, the venv's site-packages) or the operating system's own folders; anything else (a data
folder beside the checkout, a home directory) is a violation. Violations are
collected and fail the session at its end (see ``tests/conftest.py``), naming each path.

Child processes (``serve`` under test, Chromium) are not covered by the hook; they are started with
paths the tests give them, all inside the repository or a temporary folder.
"""

from __future__ import annotations

import contextlib
import os
import sys
import sysconfig
import tempfile
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SYSTEM_ROOTS = (
    "/proc",
    "/sys",
    "/dev",
    "/etc",
    "/usr",
    "/lib",
    "/lib64",
    "/bin",
    "/sbin",
    "/run",
    "/var/lib",
)
_AUDITED = {"open", "os.listdir", "os.scandir"}


def _roots() -> tuple[str, ...]:
    found = {
        str(REPO),
        os.path.realpath(REPO),
        tempfile.gettempdir(),
        os.path.realpath(tempfile.gettempdir()),
    }
    for prefix in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix):
        found.update({prefix, os.path.realpath(prefix)})
    for name in ("stdlib", "platstdlib", "purelib", "platlib"):
        path = sysconfig.get_paths().get(name)
        if path:
            found.update({path, os.path.realpath(path)})
    found.update(SYSTEM_ROOTS)
    return tuple(sorted(found))


ALLOWED_ROOTS = _roots()


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def is_allowed(path: str) -> bool:
    """Whether a test may read ``path`` (absolute or relative to the working directory). Beside the
    checkout is never allowed, even when the clone itself sits in a temporary folder."""
    full = os.path.abspath(path)
    if _under(full, str(REPO)):
        return True
    if _under(full, str(REPO.parent)):
        return False
    return any(_under(full, root) for root in ALLOWED_ROOTS)


class PathGuard:
    def __init__(self) -> None:
        self.violations: list[str] = []
        self._sink: list[str] = self.violations
        self._busy = False

    def _hook(self, event: str, args: tuple[object, ...]) -> None:
        if event not in _AUDITED or self._busy or not args:
            return
        path = args[0]
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        if not isinstance(path, str):  # a file descriptor, or listdir() of the working directory
            return
        self._busy = True  # abspath must not recurse into the hook
        try:
            if not is_allowed(path):
                self._sink.append(os.path.abspath(path))
        finally:
            self._busy = False

    def install(self) -> None:
        sys.addaudithook(self._hook)

    @contextlib.contextmanager
    def capture(self) -> Iterator[list[str]]:
        """Collect the violations of a block apart from the session's (to test the guard itself)."""
        seen: list[str] = []
        previous, self._sink = self._sink, seen
        try:
            yield seen
        finally:
            self._sink = previous


GUARD = PathGuard()
