"""Build one Lambda deployment zip per function (``build/lambda-NAME.zip``): the dallas_calls package
and only the runtime dependencies that function imports, as wheels for the Lambda Python 3.12
x86_64 runtime, whatever machine builds it.

- Each dependency of ``pyproject.toml`` is placed in exactly one group (:data:`GROUPS`); a new
  dependency must be placed before anything builds. ``core`` goes to every function, ``geocoding``
  to the locator only (the shapely/numpy stack is most of its size), ``api`` to none (FastAPI,
  uvicorn, uvloop, httptools, sse-starlette, redis: only the ECS image runs them), ``lambda`` to
  none (boto3 and botocore: the runtime provides them).
- Wheels are taken for ``manylinux2014_x86_64`` and ``manylinux_2_28_x86_64``: the pinned shapely and
  numpy publish only manylinux_2_24+/2_27+ wheels, and the python3.12 runtime (Amazon Linux 2023,
  glibc 2.34) runs them. Only binary wheels are accepted, so nothing is compiled for the build host.
  Versions are pinned by ``requirements.lock`` (used as constraints).
- The package is copied from ``src/`` without the dashboard (``web/``) and the demo recording.
- Every zip is checked against both Lambda limits: 50 MB zipped (direct upload; the example root
  deploys through S3, but staying under it keeps both ways open) and 250 MB unzipped (a hard limit).
- The zips are reproducible: entries sorted, timestamps fixed, no ``__pycache__``.

Handlers: ``dallas_calls.aws.handlers.NAME`` (the publisher's zip also serves ``publisher_redrive``).

Usage: ``python scripts/package_lambda.py [--output-dir build] [--python-version 3.12] [--function NAME]``
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
GROUPS: dict[str, set[str]] = {
    "core": {"httpx", "pydantic", "pydantic-settings", "prometheus-client", "tzdata"},
    "geocoding": {"shapely", "geopy", "usaddress", "pyshp"},
    "api": {"fastapi", "uvicorn", "uvloop", "httptools", "sse-starlette", "redis"},
    "lambda": {"boto3"},
}
FUNCTIONS: dict[str, tuple[str, ...]] = {
    "downloader": ("core",),
    "tracker": ("core",),
    "locator": ("core", "geocoding"),
    "publisher": ("core",),
}
ENTRY_POINTS = {"publisher": ("publisher", "publisher_redrive")}
SKIP_PACKAGE_PARTS = {"__pycache__", "web", "demo"}
FIXED_TIME = (1980, 1, 1, 0, 0, 0)
MAX_ZIPPED_MB = 50
MAX_UNZIPPED_MB = 250


def _name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9._-]+", requirement.strip())
    if not match:
        raise ValueError(f"cannot read the requirement {requirement!r}")
    return match.group(0).lower().replace("_", "-")


def runtime_requirements(function: str) -> list[str]:
    """The pinned requirements of one function. Raises if a dependency is in no group or in two."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    wanted = set().union(*(GROUPS[g] for g in FUNCTIONS[function]))
    chosen = []
    for requirement in project["dependencies"]:
        name = _name(requirement)
        groups = [g for g, names in GROUPS.items() if name in names]
        if len(groups) != 1:
            raise SystemExit(
                f"{name} must be in exactly one of GROUPS in {Path(__file__).name}, not {groups}"
            )
        if name in wanted:
            chosen.append(requirement)
    return chosen


def install_dependencies(
    target: Path, requirements: list[str], python_version: str, platforms: list[str]
) -> None:
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
    command += requirements
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


def unzipped_bytes(output: Path) -> int:
    with zipfile.ZipFile(output) as archive:
        return sum(info.file_size for info in archive.infolist())


def check_zip(output: Path, function: str) -> tuple[float, float]:
    """The function's entry points are in the zip, and it is within both Lambda size limits.
    Returns (zipped, unzipped) size in MB."""
    with zipfile.ZipFile(output) as archive:
        names = set(archive.namelist())
        handlers = archive.read("dallas_calls/aws/handlers.py").decode()
    for required in ("dallas_calls/__init__.py", "dallas_calls/aws/handlers.py"):
        if required not in names:
            raise SystemExit(f"{required} is missing from {output}")
    for handler in ENTRY_POINTS.get(function, (function,)):
        if f"\ndef {handler}(" not in handlers:
            raise SystemExit(f"handler {handler} is missing from dallas_calls.aws.handlers")
    api_only = sorted(
        n
        for n in GROUPS["api"] | PROVIDED_BY_LAMBDA
        if any(p.split("/")[0] == n.replace("-", "_") for p in names)
    )
    if api_only:
        raise SystemExit(f"{output} carries packages no function imports: {api_only}")
    zipped, unzipped = output.stat().st_size / 1e6, unzipped_bytes(output) / 1e6
    if zipped > MAX_ZIPPED_MB or unzipped > MAX_UNZIPPED_MB:
        raise SystemExit(
            f"{output}: {zipped:.1f} MB zipped, {unzipped:.1f} MB unzipped; Lambda allows "
            f"{MAX_ZIPPED_MB} MB zipped (direct upload) and {MAX_UNZIPPED_MB} MB unzipped"
        )
    return zipped, unzipped


def build(function: str, output: Path, python_version: str, platforms: list[str]) -> tuple[int, float, float]:
    with tempfile.TemporaryDirectory(prefix=f"lambda-{function}-") as tmp:
        staging = Path(tmp)
        install_dependencies(staging, runtime_requirements(function), python_version, platforms)
        copy_package(staging)
        count = write_zip(staging, output)
    return (count, *check_zip(output, function))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--output-dir", type=Path, default=REPO / "build")
    parser.add_argument("--python-version", default="3.12")
    parser.add_argument("--function", action="append", choices=sorted(FUNCTIONS))
    parser.add_argument(
        "--platform",
        action="append",
        help="wheel platform tag (repeatable; default manylinux2014_x86_64 and manylinux_2_28_x86_64)",
    )
    args = parser.parse_args(argv)
    platforms = args.platform or ["manylinux2014_x86_64", "manylinux_2_28_x86_64"]
    for function in args.function or list(FUNCTIONS):
        output = args.output_dir / f"lambda-{function}.zip"
        count, zipped, unzipped = build(function, output, args.python_version, platforms)
        print(
            f"{output} ({count} files, {zipped:.1f} MB zipped, {unzipped:.1f} MB unzipped; "
            f"limits {MAX_ZIPPED_MB} / {MAX_UNZIPPED_MB} MB); handler dallas_calls.aws.handlers.{function}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
