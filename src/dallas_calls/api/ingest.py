"""``POST /events/``: events from the AWS publisher, whose ids were given elsewhere (DynamoDB
Streams). They are published to the bus (every replica, with Redis) and applied to the view; they
are not appended to the local store. The body is read by hand so that a body over
``ingest_max_bytes`` is refused before it is all in memory, then validated with ``IngestBody``."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from dallas_calls import metrics
from dallas_calls.api import schemas
from dallas_calls.api.errors import ApiError, invalid_request, problems_of
from dallas_calls.api.security import require_bearer
from dallas_calls.api.view import CurrentCallsView
from dallas_calls.config import Settings
from dallas_calls.events.bus import EventBus
from dallas_calls.model import Event, ascii_int


async def ingest_events(
    request: Request, settings: Settings, view: CurrentCallsView, bus: EventBus
) -> Response:
    """Bearer token required (404 while none is configured). Idempotent by id: events at or below
    the newest id seen are skipped."""
    token = settings.ingest_token
    if not token:
        raise ApiError(404, "not_found", "ingest is disabled (no ingest token configured)")
    require_bearer(request, token)
    limit = settings.ingest_max_bytes
    declared = request.headers.get("content-length")
    if declared is not None:
        size = ascii_int(declared.strip())
        if size is None:
            raise ApiError(400, "bad_request", "invalid Content-Length")
        if size > limit:
            raise ApiError(413, "too_large", f"body over {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise ApiError(413, "too_large", f"body over {limit} bytes")
    try:
        parsed = schemas.IngestBody.model_validate_json(bytes(body))
    except ValidationError as exc:
        return invalid_request(
            problems_of(exc.errors(include_url=False, include_input=False)), "invalid events"
        )
    await view.sync()
    newest = view.last_event_id
    fresh: dict[int, Event] = {}
    for item in parsed.events:
        if item.id > newest and item.id not in fresh:
            fresh[item.id] = Event(
                item.id,
                item.type,
                item.at,
                item.data,
                incident_number=(item.data.get("call") or {}).get("incident_number"),
                location_key=item.data.get("location_key"),
            )
    events = [fresh[i] for i in sorted(fresh)]
    if events:
        await bus.publish(events)
        await view.sync()
        for event in events:
            metrics.EVENTS.labels(event.type).inc()
    return JSONResponse(
        {
            "accepted": len(events),
            "duplicates": len(parsed.events) - len(events),
            "last_event_id": max(view.last_event_id, events[-1].id if events else 0),
        }
    )
