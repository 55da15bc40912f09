#!/usr/bin/env python3
"""Copy the dashboard's browser libraries from node_modules/ into src/dallas_calls/web/vendor/.

The dashboard and the API documentation use no CDN at run time: Leaflet, Leaflet.markercluster
and Swagger UI (for /docs) are installed from npm (`npm ci`, versions pinned in package.json /
package-lock.json) and served by the app from /static/vendor/. Run from anywhere: paths are relative to the repository root.

    npm ci && python scripts/build_web_vendor.py
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NODE_MODULES = ROOT / "node_modules"
VENDOR = ROOT / "src" / "dallas_calls" / "web" / "vendor"

# (package, files or folders relative to the package, destination folder under vendor/)
FILES: list[tuple[str, list[str], str]] = [
    ("leaflet", ["dist/leaflet.js", "dist/leaflet.css", "dist/images", "LICENSE"], "leaflet"),
    (
        "leaflet.markercluster",
        [
            "dist/leaflet.markercluster.js",
            "dist/MarkerCluster.css",
            "dist/MarkerCluster.Default.css",
            "MIT-LICENCE.txt",
        ],
        "leaflet.markercluster",
    ),
    (
        "swagger-ui-dist",
        ["swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png", "LICENSE", "NOTICE"],
        "swagger-ui",
    ),
]


def build(node_modules: Path = NODE_MODULES, vendor: Path = VENDOR) -> list[Path]:
    """Copy the files; return what was written. Raise FileNotFoundError if `npm ci` was not run."""
    if vendor.exists():
        shutil.rmtree(vendor)
    written: list[Path] = []
    versions: dict[str, str] = {}
    for package, items, dest in FILES:
        pkg_dir = node_modules / package
        manifest = pkg_dir / "package.json"
        if not manifest.exists():
            raise FileNotFoundError(f"{manifest} is missing: run `npm ci` at the repository root first")
        versions[package] = json.loads(manifest.read_text())["version"]
        for item in items:
            src = pkg_dir / item
            target = vendor / dest / Path(item).name
            target.parent.mkdir(parents=True, exist_ok=True)
            if src.is_dir():
                shutil.copytree(src, target)
            elif src.exists():
                shutil.copy2(src, target)
            elif item.upper().startswith(("LICENSE", "MIT-LICEN")):
                continue  # licence file names vary between releases; not fatal
            else:
                raise FileNotFoundError(f"{src} is missing from the npm package {package}")
            written.append(target)
    (vendor / "VERSIONS.json").write_text(json.dumps(versions, indent=2, sort_keys=True) + "\n")
    return written


def main() -> int:
    try:
        written = build()
    except FileNotFoundError as exc:
        print(f"build_web_vendor: {exc}", file=sys.stderr)
        return 1
    print(f"build_web_vendor: wrote {len(written)} entries to {VENDOR.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
