"""Property-based API testing with schemathesis against the running app (a real uvicorn server on
loopback): generated requests, valid and invalid, to every documented operation; no answer may be
a 5xx, and every answer must be one the OpenAPI document declares (status, content type, body
schema). The stream is left out (it never ends; tests/api/test_sse.py covers it).

Bounded: ``EXAMPLES`` examples per operation and generation mode, no shrinking database.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis.errors import Unsatisfiable  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from dallas_calls.feed.source import ReplaySource  # noqa: E402
from tests.api.conftest import TOKEN  # noqa: E402

EXAMPLES = 100
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def _exercise(operation: Any, mode: Any, base_url: str, statuses: Counter[str]) -> None:
    """Up to EXAMPLES generated requests to one operation, each response checked."""
    label = f"{operation.method.upper()} {operation.path}"
    headers = {"Authorization": f"Bearer {TOKEN}"} if operation.method == "post" else {}
    # /readyz answers a documented 503 while the replayed polls are old: not a server error
    checks = CHECKS[1:] if operation.path == "/readyz" else CHECKS

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any) -> None:
        response = case.call(base_url=base_url, headers=headers, timeout=10)
        statuses[f"{label} {response.status_code}"] += 1
        case.validate_response(response, checks=checks, headers=headers)

    try:
        check()
    except Unsatisfiable:  # no parameter or body to make invalid (e.g. /healthz)
        assert mode is schemathesis.GenerationMode.NEGATIVE


def test_generated_requests_get_no_5xx_and_only_documented_responses(
    make_server: Any, replay: ReplaySource
) -> None:
    server = make_server(ingest_token=TOKEN)
    for _ in range(2):  # real calls, events and stats behind the routes
        server.poll(replay)
    schema = schemathesis.openapi.from_url(server.url + "/openapi.json").exclude(path="/get-events/")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10
    statuses: Counter[str] = Counter()
    started = time.monotonic()
    for operation in operations:
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):
            _exercise(operation, mode, server.url, statuses)
    print(f"schemathesis: {sum(statuses.values())} requests in {time.monotonic() - started:.1f} s")
    for key, count in sorted(statuses.items()):
        print(f"  {key}: {count}")
    assert not any(key.endswith((" 500", " 502", " 504")) for key in statuses)
