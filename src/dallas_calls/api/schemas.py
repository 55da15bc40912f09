"""The shapes the API takes and gives, as pydantic models: the OpenAPI document is generated from
them (so schemathesis can check every response against it), and ingest validates with them.

A call or a geo arriving through ``POST /events/`` is validated with ``CallBody``/``GeoBody`` and
stored in their normalized form, so what ``/current-calls/`` later serves is what the document says.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, model_validator

from dallas_calls.api.stats import parse_time
from dallas_calls.model import EVENT_TYPES, MAX_EVENT_ID

Nullable = str | None


class ProblemBody(BaseModel):
    loc: list[str]
    msg: str


class ErrorBody(BaseModel):
    """Every 4xx and 5xx: a code, a message, and for a 422 one entry per problem."""

    error: str = Field(description="a short code: bad_request, not_found, rate_limited, ...")
    message: str = Field(description="what went wrong, for people")
    errors: list[ProblemBody] | None = None


class UnitBody(BaseModel):
    unit_number: str
    status: Nullable = None


class GeoBody(BaseModel):
    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)
    precision: Literal["address", "intersection", "street", "reporting_area", "beat", "none"] = "none"
    source: str = ""
    in_beat: bool | None = None
    candidates_considered: int = Field(0, ge=0)


class CallBody(BaseModel):
    incident_number: str = Field(min_length=1, max_length=64)
    division: Nullable = None
    nature_of_call: Nullable = None
    priority: int | None = None
    received_at: Nullable = Field(None, description="aware ISO 8601 time (America/Chicago)")
    block: Nullable = None
    location: str
    beat: Nullable = None
    reporting_area: Nullable = None
    status: Nullable = None
    units: list[UnitBody] = []
    location_key: str
    first_seen: str
    last_seen: str
    closed_at: Nullable = None
    geo: GeoBody | None = None


class EventBody(BaseModel):
    id: int
    type: str
    at: str
    data: dict[str, Any]


class RecordingBody(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str


class ModeFields(BaseModel):
    mode: Literal["live", "replay", "demo"]
    recording: RecordingBody | None
    fallback_reason: Nullable


class CurrentCallsBody(ModeFields):
    current_active_calls: list[CallBody]
    last_event_id: int
    as_of: str
    store_id: Nullable


class CallDetailBody(BaseModel):
    call: CallBody
    events: list[EventBody]


class OldestOpenBody(BaseModel):
    incident_number: Nullable
    received_at: Nullable
    age_s: float


class HourCountBody(BaseModel):
    hour: str
    count: int


class StatsBody(BaseModel):
    as_of: str
    open_calls: int
    by_division: dict[str, int]
    by_priority: dict[str, int]
    by_nature: dict[str, int]
    by_status: dict[str, int]
    oldest_open: OldestOpenBody | None
    opened_per_hour: list[HourCountBody]
    located: int
    unlocated: int


class HistoryBody(BaseModel):
    start: str
    end: str
    count: int
    truncated: bool
    calls: list[CallBody]


class HistoryEventBody(BaseModel):
    """An event of a replay: as logged (its id), or rebuilt from a call record (no id)."""

    id: int | None
    type: str
    at: str
    data: dict[str, Any]
    reconstructed: bool


class HistoryEventsBody(BaseModel):
    start: str
    end: str
    initial: list[CallBody] = Field(description="the calls open at `start`")
    initial_truncated: bool
    count: int
    truncated: bool = Field(description="more events than `limit` in the window: the rest left out")
    events: list[HistoryEventBody]
    source: Literal["log", "reconstructed", "mixed"]
    reconstructed_until: Nullable = Field(description="events before this time are rebuilt from call records")
    kept_from: Nullable = Field(description="the time of the oldest event the log still holds")
    note: Nullable
    window_calls: int = Field(description="calls first seen in the window")


class HourOfDayCountBody(BaseModel):
    hour: int = Field(ge=0, le=23, description="local hour of day (America/Chicago)")
    count: int = Field(ge=0)


class DayCountBody(BaseModel):
    day: str = Field(description="local date (America/Chicago), YYYY-MM-DD")
    count: int = Field(ge=0)


class TimeOnFeedFields(BaseModel):
    count: int = Field(ge=0)
    open: int = Field(ge=0, description="still open: no time on the feed yet, left out of the percentiles")
    closed: int = Field(ge=0)
    median_s: float | None = Field(description="median seconds from first seen to closed")
    p90_s: float | None = Field(description="90th percentile of the same")


class AnalyticsGroupBody(TimeOnFeedFields):
    key: str = Field(description='a division, a priority ("1".."4") or a call type; "unknown" when absent')


class BeatCountBody(BaseModel):
    beat: str
    count: int = Field(ge=0)


class AnalyticsBody(TimeOnFeedFields):
    start: str
    end: str
    time_zone: Literal["America/Chicago"]
    group_by: Literal["division", "priority", "nature"]
    unreadable: int = Field(ge=0, description="stored calls whose first_seen is not a time")
    per_hour_of_day: list[HourOfDayCountBody] = Field(min_length=24, max_length=24)
    per_day: list[DayCountBody]
    groups: list[AnalyticsGroupBody]
    busiest_beats: list[BeatCountBody] = Field(max_length=10)


class HealthBody(BaseModel):
    ok: bool
    uptime_s: float
    poller: str | None = None  # running / finished / stopped / stalled (a process that polls)
    last_poll_attempt_age_s: float | None = None
    poll_attempts: int | None = None
    reason: Nullable = None


class ReadyBody(BaseModel):
    model_config = ConfigDict(extra="allow")

    ready: bool
    reason: Nullable = None


class DashboardConfigBody(ModeFields):
    tile_url: str
    tile_attribution: str
    poll_interval_s: float
    # the background download of the city's geography: {"state", "source", "percent", ...}
    geodata: dict[str, Any] | None = None


class IngestResultBody(BaseModel):
    accepted: int
    duplicates: int
    last_event_id: int


class GeoJsonBody(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str


# -- ingest ------------------------------------------------------------------------------------


class IngestEvent(BaseModel):
    """One event as the publisher sends it: the wire form ``{id, type, at, data}``."""

    model_config = ConfigDict(extra="forbid")

    id: StrictInt = Field(ge=1, le=MAX_EVENT_ID)
    type: Literal["call.opened", "call.updated", "call.closed", "location.resolved"]
    at: str = Field(min_length=1, max_length=64)
    data: dict[str, Any]

    @model_validator(mode="after")
    def _check(self) -> IngestEvent:
        if parse_time(self.at) is None:
            raise ValueError(f"at: not an ISO 8601 time in the supported range: {self.at!r}")
        if self.type.startswith("call."):
            call = self.data.get("call")
            if not isinstance(call, dict):
                raise ValueError(f"{self.type} needs data.call (an object)")
            self.data = {**self.data, "call": CallBody.model_validate(call).model_dump()}
        else:
            if not isinstance(self.data.get("location_key"), str):
                raise ValueError("location.resolved needs data.location_key (a string)")
            geo = self.data.get("geo")
            if not isinstance(geo, dict):
                raise ValueError("location.resolved needs data.geo (an object)")
            numbers = self.data.get("incident_numbers", [])
            if not isinstance(numbers, list) or not all(isinstance(n, str) for n in numbers):
                raise ValueError("data.incident_numbers must be a list of strings")
            self.data = {**self.data, "geo": GeoBody.model_validate(geo).model_dump()}
        return self


class IngestBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: list[IngestEvent] = Field(max_length=10_000)


assert set(EVENT_TYPES) == {"call.opened", "call.updated", "call.closed", "location.resolved"}
