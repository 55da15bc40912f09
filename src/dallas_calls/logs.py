"""Structured logs: one JSON object per line, for CloudWatch (the Lambda handlers always; `serve` and
`api` with ``DALLAS_CALLS_LOG_FORMAT=json``, as the ECS task sets it). Fields given as
``extra={...}`` become JSON fields: metric filters read them (``replica_lag_s``, for one)."""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime
from typing import Any

_RESERVED = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and every ``extra={...}`` field.
    CloudWatch Logs Insights reads the fields directly."""

    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _RESERVED and not key.startswith("_"):
                body[key] = value
        if record.exc_info:
            body["error"] = self.formatException(record.exc_info)
        return json.dumps(body, default=str, separators=(",", ":"))


def setup_json_logging(level: str | None = None) -> None:
    """JSON on every root handler (Lambda installs one), or on a new stderr handler if none."""
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler())
    for handler in root.handlers:
        if not isinstance(handler.formatter, JsonFormatter):
            handler.setFormatter(JsonFormatter())
    root.setLevel((level or os.environ.get("DALLAS_CALLS_LOG_LEVEL") or "INFO").upper())
