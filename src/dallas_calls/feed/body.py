"""Decoding a feed response body into JSON values, so that no content of one row can fail it.

``json.loads`` on bytes refuses invalid UTF-8 and integers longer than Python's digit limit; either
would fail the whole body, hence the whole poll, for one bad row. Here invalid UTF-8 bytes decode to
lone surrogates (``surrogateescape``), which the row schema quarantines like a ``"\\ud800"`` escape,
and an over-long integer is kept as its digits (text), which the schema judges like any text. The
bytes themselves are archived untouched (``archive.store.encode_pages``).
"""

from __future__ import annotations

import json
import sys
from typing import Any

__all__ = ["decode_json"]

_MAX_DIGITS = sys.get_int_max_str_digits() or 4300


def _int_or_digits(text: str) -> int | str:
    digits = len(text) - text.startswith("-")
    return int(text) if digits <= _MAX_DIGITS else text


def decode_json(body: bytes) -> Any:
    """The JSON value of ``body`` (UTF-8, BOM-less). Raises ValueError only when it is not JSON."""
    return json.loads(body.decode("utf-8", "surrogateescape"), parse_int=_int_or_digits)
