"""Build the Lambda deployment zip (``build/lambda.zip``): the dallas_calls package and its runtime
dependencies, as wheels for the Lambda Python 3.12 x86_64 runtime, whatever machine builds it.

- Wheels are taken for ``manylinux2014_x86_64`` and ``manylinux_2_28_x86_64``: the pinned shapely and
  numpy publish only manylinux_2_24+/2_27+ wheels, and the python3.12 runtime (Amazon Linux 2023,
  glibc 2.34) runs them. Only binary wheels are accepted, so nothing is compiled for the build host.

- Dependencies come from ``pyproject.toml``, pinned by ``requirements.lock`` (used as constraints).
- boto3 (and botocore) are left out: the Lambda runtime provides them. So are the packages only the
  HTTP API needs (FastAPI, uvicorn, sse-starlette, redis): the handlers never import them.
- The package is copied from ``src/`` without the dashboard (``web/``) and the demo recording.
- The zip is reproducible: entries sorted, timestamps fixed, no ``__pycache__``.

One zip serves all four functions; set each function's handler to
``dallas_calls.aws.handlers.downloader`` / ``.tracker`` / ``.locator`` / ``.publisher``.

Usage: ``python scripts/package_lambda.py [--output build/lambda.zip] [--python-version 3.12]``
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "src" / "dallas_calls"
PROVIDED_BY_LAMBDA = {"boto3", "botocore", "s3transfer", "jmespath"}
API_ONLY = {"fastapi", "uvicorn", "sse-starlette", "redis"}
SKIP_PACKAGE_PARTS = {"__pycache__", "web", "demo"}
FIXED_TIME = (1980, 1, 1, 0, 0, 0)
HANDLERS = ("downloader", "tracker", "locator", "publisher")


def _name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9._-]+", requirement.strip())
    if not match:
        raise ValueError(f"cannot read the requirement {requirement!r}")
    return match.group(0).lower().replace("_", "-")


def runtime_requirements() -> list[str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    excluded = PROVIDED_BY_LAMBDA | API_ONLY
    return [req for req in project["dependencies"] if _name(req) not in excluded]


def install_dependencies(target: Path, python_version: str, platforms: list[str]) -> None:
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--target",
        str(target),
        *[arg for platform in platforms for arg in ("--platform", platform)],
        "--implementation",
        "cp",
        "--python-version",
        python_version,
        "--only-binary=:all:",
        "--no-compile",
    ]
    lock = REPO / "requirements.lock"
    if lock.is_file():
        command += ["-c", str(lock)]
    command += runtime_requirements()
    subprocess.run(command, check=True)
    leaked = [p.name for p in target.iterdir() if _name(p.name.split("-")[0]) in PROVIDED_BY_LAMBDA]
    if leaked:
        raise SystemExit(f"a dependency pulled in what Lambda provides: {leaked}")


def copy_package(target: Path) -> None:
    destination = target / "dallas_calls"
    for path in sorted(PACKAGE.rglob("*")):
        relative = path.relative_to(PACKAGE)
        if SKIP_PACKAGE_PARTS & set(relative.parts) or path.suffix == ".pyc" or not path.is_file():
            continue
        (destination / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, destination / relative)


def write_zip(source: Path, output: Path) -> int:
    output.parent.mkdir(parents=True, exist_ok=True)
    files = sorted(
        p for p in source.rglob("*") if p.is_file() and "__pycache__" not in p.relative_to(source).parts
    )
    tmp = output.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in files:
            info = zipfile.ZipInfo(path.relative_to(source).as_posix(), date_time=FIXED_TIME)
            mode = 0o755 if path.stat().st_mode & 0o111 else 0o644
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    tmp.replace(output)
    return len(files)


def check_zip(output: Path) -> None:
    """The handlers module and every entry point are in the zip; Lambda's limit is 50 MB zipped."""
    with zipfile.ZipFile(output) as archive:
        names = set(archive.namelist())
        handlers = archive.read("dallas_calls/aws/handlers.py").decode()
    for required in ("dallas_calls/__init__.py", "dallas_calls/aws/handlers.py"):
        if required not in names:
            raise SystemExit(f"{required} is missing from {output}")
    for handler in HANDLERS:
        if f"\ndef {handler}(" not in handlers:
            raise SystemExit(f"handler {handler} is missing from dallas_calls.aws.handlers")
    size_mb = output.stat().st_size / 1e6
    if size_mb > 50:
        raise SystemExit(f"{output} is {size_mb:.1f} MB: over Lambda's 50 MB direct-upload limit (use S3)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--output", type=Path, default=REPO / "build" / "lambda.zip")
    parser.add_argument("--python-version", default="3.12")
    parser.add_argument(
        "--platform",
        action="append",
        help="wheel platform tag (repeatable; default manylinux2014_x86_64 and manylinux_2_28_x86_64)",
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="lambda-build-") as tmp:
        staging = Path(tmp)
        platforms = args.platform or ["manylinux2014_x86_64", "manylinux_2_28_x86_64"]
        install_dependencies(staging, args.python_version, platforms)
        copy_package(staging)
        count = write_zip(staging, args.output)
    check_zip(args.output)
    size_mb = args.output.stat().st_size / 1e6
    print(
        f"{args.output} ({count} files, {size_mb:.1f} MB); handlers: dallas_calls.aws.handlers.{{{','.join(HANDLERS)}}}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
