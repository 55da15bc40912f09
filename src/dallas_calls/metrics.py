"""Prometheus metrics, defined once per process (module level) and exported at GET /metrics."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

POLLS = Counter("dallas_calls_polls_total", "Polls by outcome", ["outcome"])
POLL_FAILURES = Counter(
    "dallas_calls_poll_failures_total", "Failed polls by the stage that failed", ["stage"]
)
SCHEDULE_ERRORS = Counter(
    "dallas_calls_schedule_errors_total", "Unexpected errors around a poll (locate, prune)", ["stage"]
)
POLL_DURATION = Histogram("dallas_calls_poll_duration_seconds", "Time to fetch and process one poll")
FEED_ROWS = Counter("dallas_calls_feed_rows_total", "Feed rows received")
QUARANTINED_ROWS = Counter("dallas_calls_quarantined_rows_total", "Feed rows quarantined as malformed")
EVENTS = Counter("dallas_calls_events_total", "Events appended to the log", ["type"])
OPEN_CALLS = Gauge("dallas_calls_open_calls", "Calls open after the last poll")
ARCHIVE_ERRORS = Counter("dallas_calls_archive_errors_total", "Archive writes that failed", ["kind"])
SSE_CLIENTS = Gauge("dallas_calls_sse_clients", "Connected SSE clients")
SSE_DROPPED = Counter("dallas_calls_sse_dropped_clients_total", "SSE clients dropped for falling behind")
GEOCODE_LOOKUPS = Counter("dallas_calls_geocode_lookups_total", "Location lookups", ["result"])
GEOCODE_LATENCY = Histogram("dallas_calls_geocode_seconds", "Time to locate one location key")
REQUEST_LATENCY = Histogram(
    "dallas_calls_http_request_seconds", "HTTP request latency", ["route", "method", "status"]
)
