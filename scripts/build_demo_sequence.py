"""Build the recorded snapshot sequence shipped for the offline demo and used by the tests.

Source: the one real consecutive pair of Active Calls snapshots in ``../shared/data/feed/``
(2019-06-18 05:17Z and 06:09Z, 52 minutes apart). The first and last snapshots of the sequence are
those two files, row for row. The snapshots in between are derived, not recorded: every 4 minutes,
  - an incident only in the first snapshot stays until its turn to close (incidents close in the
    order they were received, spread evenly over the 52 minutes);
  - an incident only in the second snapshot appears once its received time has passed (and not
    before the second step);
  - an incident in both carries the first snapshot's rows until the midpoint, the second's after
    (so unit and status changes happen mid-sequence).
No row is invented: each row of each snapshot is a real row of one of the two files.

Run: python scripts/build_demo_sequence.py [--shared ../shared/data]
"""

from __future__ import annotations

import argparse
import gzip
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

CHICAGO = ZoneInfo("America/Chicago")
FIRST = "2019-06-18T05-17-00Z.json"
LAST = "2019-06-18T06-09-00Z.json"
STEP = timedelta(minutes=4)


def received(row: dict[str, Any]) -> datetime:
    day = datetime.fromisoformat(row["date"][:10])
    hh, mm, ss = (int(x) for x in row["time"].split(":"))
    return day.replace(hour=hh, minute=mm, second=ss, tzinfo=CHICAGO).astimezone(UTC)


def by_incident(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        grouped.setdefault(row["incident_number"], []).append(row)
    return grouped


def build(shared: Path) -> list[tuple[datetime, list[dict[str, Any]]]]:
    first_rows = json.loads((shared / "feed" / FIRST).read_text())
    last_rows = json.loads((shared / "feed" / LAST).read_text())
    t0 = datetime(2019, 6, 18, 5, 17, tzinfo=UTC)
    t_end = datetime(2019, 6, 18, 6, 9, tzinfo=UTC)
    a, b = by_incident(first_rows), by_incident(last_rows)
    closing = sorted((i for i in a if i not in b), key=lambda i: (min(received(r) for r in a[i]), i))
    close_at = {inc: t0 + (t_end - t0) * (n + 1) / (len(closing) + 1) for n, inc in enumerate(closing)}
    midpoint = t0 + (t_end - t0) / 2
    times = []
    t = t0
    while t < t_end:
        times.append(t)
        t += STEP
    sequence = [(t0, first_rows)]
    for t in times[1:]:
        rows: list[dict[str, Any]] = []
        for row in first_rows:  # keep the first file's row order, then add the second's
            inc = row["incident_number"]
            if inc in b:
                if t < midpoint:
                    rows.append(row)
            elif close_at[inc] > t:
                rows.append(row)
        for row in last_rows:
            inc = row["incident_number"]
            if inc in a:
                if t >= midpoint:
                    rows.append(row)
            elif received(row) <= t:
                rows.append(row)
        sequence.append((t, rows))
    sequence.append((t_end, last_rows))
    return sequence


def main() -> None:
    repo = Path(__file__).resolve().parents[1]
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--shared", type=Path, default=repo.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=repo / "src" / "dallas_calls" / "demo" / "raw")
    args = parser.parse_args()
    for old in args.out.rglob("*.json.gz"):
        old.unlink()
    for at, rows in build(args.shared):
        path = args.out / at.strftime("%Y/%m/%d/%H%M%SZ.json.gz")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(gzip.compress(json.dumps(rows, ensure_ascii=False).encode(), mtime=0))
        print(f"{path.relative_to(repo)}: {len(rows)} rows, {len(by_incident(rows))} incidents")


if __name__ == "__main__":
    main()
