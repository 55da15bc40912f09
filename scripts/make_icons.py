"""Draw the dashboard's app icons (run once; the PNGs are committed): the brand's red dot with a
pale ring on the page's light background, as the top bar shows it.

Standard library only (zlib + struct write the PNGs), so making icons needs no image package.
``icon-192.png`` and ``icon-512.png`` keep the dot well inside the square; ``icon-maskable-512.png``
keeps it inside the central 80 % safe zone that launchers may crop to a circle or squircle.

    python scripts/make_icons.py   # writes src/dallas_calls/web/icons/
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "src" / "dallas_calls" / "web" / "icons"
BACKGROUND = (0xF4, 0xF5, 0xF7)  # --bg of the light theme (app.css)
DOT = (0xD6, 0x28, 0x39)  # --p1 of the light theme: the brand dot
RING = (0xF3, 0xC6, 0xCB)  # the dot's 25 % halo over white


def _chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def png(width: int, height: int, rows: list[bytes]) -> bytes:
    """An 8-bit RGB PNG from raw rows (each ``3 * width`` bytes)."""
    raw = b"".join(b"\x00" + row for row in rows)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(raw, 9))
        + _chunk(b"IEND", b"")
    )


def _mix(a: tuple[int, int, int], b: tuple[int, int, int], t: float) -> bytes:
    return bytes(round(x + (y - x) * t) for x, y in zip(a, b, strict=True))


def dot_icon(size: int, dot_frac: float) -> bytes:
    """A square icon: a dot of ``dot_frac`` of the side (diameter) in a ring, anti-aliased edges."""
    centre = (size - 1) / 2
    r_dot = size * dot_frac / 2
    r_ring = r_dot * 1.3
    rows = []
    for y in range(size):
        row = bytearray()
        for x in range(size):
            d = ((x - centre) ** 2 + (y - centre) ** 2) ** 0.5
            if d <= r_dot - 0.5:
                row += bytes(DOT)
            elif d < r_dot + 0.5:
                row += _mix(RING, DOT, r_dot + 0.5 - d)
            elif d <= r_ring - 0.5:
                row += bytes(RING)
            elif d < r_ring + 0.5:
                row += _mix(BACKGROUND, RING, r_ring + 0.5 - d)
            else:
                row += bytes(BACKGROUND)
        rows.append(bytes(row))
    return png(size, size, rows)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "icon-192.png").write_bytes(dot_icon(192, 0.5))
    (OUT / "icon-512.png").write_bytes(dot_icon(512, 0.5))
    (OUT / "icon-maskable-512.png").write_bytes(dot_icon(512, 0.4))
    for p in sorted(OUT.glob("*.png")):
        print(f"{p.name}: {p.stat().st_size} bytes")


if __name__ == "__main__":
    main()
