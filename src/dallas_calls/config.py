"""Settings: environment variables ``DALLAS_CALLS_*`` with defaults, overridden by CLI flags.

Every setting is listed in the README's configuration table; keep the two in step.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from dallas_calls.geodata.sources import (
    CITY_ADDRESS_POINTS_URL,
    CITY_GEOCODER_URL,
    CITY_INCIDENTS_URL,
    CITY_LIMITS_URL,
    CITY_STREETS_URL,
    POLICE_BEATS_URL,
    POLICE_DIVISIONS_URL,
    TIGER_SERVER,
)
from dallas_calls.tracking.diff import DEFAULT_CLOSE_AFTER_POLLS

DEFAULT_FEED_URL = "https://www.dallasopendata.com/resource/9fxf-t2tr.json"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DALLAS_CALLS_", extra="ignore")

    data_dir: Path = Field(Path("data"), description="Folder for the SQLite file and the local archive.")
    feed_url: str = Field(DEFAULT_FEED_URL, description="Socrata resource URL of the active-calls feed.")
    app_token: str | None = Field(None, description="Socrata app token (sent as X-App-Token).")
    feed_timeout_s: float = Field(10.0, gt=0, description="Per-request timeout for the feed.")
    feed_page_size: int = Field(1000, ge=1, le=50000, description="Socrata $limit per page.")
    feed_max_attempts: int = Field(4, ge=1, description="Attempts per page before a poll fails.")
    poll_interval_s: float = Field(60.0, gt=0, description="Seconds between polls in `serve`.")
    archive_uri: str | None = Field(
        None,
        description="Where raw snapshots and changes go: a folder or s3://bucket/prefix (default DATA_DIR/archive).",
    )
    s3_endpoint_url: str | None = Field(None, description="Custom S3 endpoint (an emulator, MinIO).")
    guard_min_open: int = Field(
        20, ge=0, description="Open calls needed before a large drop counts as suspicious."
    )
    guard_max_drop: float = Field(
        0.5, gt=0, le=1, description="Fraction of open calls a single poll may close."
    )
    close_after_polls: int = Field(
        DEFAULT_CLOSE_AFTER_POLLS,
        ge=1,
        description="Consecutive snapshots a call must be missing from before it is closed.",
    )
    host: str = Field("127.0.0.1", description="Address `serve`/`api` listen on.")
    port: int = Field(8000, ge=0, le=65535, description="Port `serve`/`api` listen on.")
    store: str = Field(
        "sqlite",
        description="State store the API reads: sqlite (DATA_DIR) or dynamodb (AWS tables; `api` replicas on ECS).",
    )
    bus: str = Field("local", description="Event bus: `local` or redis://host:port/db for several replicas.")
    ingest_token: str | None = Field(
        None, description="Bearer token for POST /events/ (disabled when unset)."
    )
    ingest_max_bytes: int = Field(1_000_000, ge=1, description="Largest accepted POST /events/ body.")
    sse_heartbeat_s: float = Field(15.0, gt=0, description="Seconds between SSE heartbeat comments.")
    sse_queue_size: int = Field(
        1000, ge=1, description="Events buffered per SSE client before it is dropped."
    )
    sse_ring_max_bytes: int = Field(
        4 * 1024 * 1024,
        ge=0,
        description="Bytes of framed events the in-memory SSE ring keeps (never fewer than 2 queues' worth).",
    )
    event_retention_days: float = Field(
        7.0, gt=0, description="How long the event log keeps events for resume."
    )
    sse_max_backlog: int = Field(
        5000, ge=0, description="Events a resuming SSE client may be behind; further behind gets a reset."
    )
    sse_max_clients_per_ip: int = Field(
        20, ge=0, description="Open SSE connections per client IP (0: no cap); 429 beyond."
    )
    rate_limit_per_min: int = Field(
        600, ge=0, description="Requests (SSE connects included) per client IP per minute (0: off)."
    )
    max_header_bytes: int = Field(
        16384, ge=1024, description="Largest request line + headers accepted (431 above)."
    )
    request_head_timeout_s: float = Field(
        10.0,
        gt=0,
        description="Seconds a connection may take to send a request line and headers (408 after).",
    )
    trusted_proxies: str = Field(
        "",
        description="Comma-separated proxy addresses/networks whose X-Forwarded-For is honoured (empty: none).",
    )
    metrics_token: str | None = Field(None, description="Bearer token for /metrics (open when unset).")
    cors_origins: str = Field("", description="Comma-separated allowed CORS origins (empty: none).")
    tile_url: str = Field(
        "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        description="Map tile URL template for the dashboard.",
    )
    tile_attribution: str = Field(
        "&copy; OpenStreetMap contributors", description="Attribution shown for the map tiles."
    )
    geocode: bool = Field(
        True, description="Locate calls (local sources; online providers only if configured)."
    )
    geocoders: str = Field(
        "",
        description="Online geocoders to ask after the local sources, in order: arcgis,census,nominatim,radar (empty: none).",
    )
    geocode_timeout_s: float = Field(5.0, gt=0, description="Per-request timeout of each online geocoder.")
    arcgis_api_key: str | None = Field(
        None, description="ArcGIS API key (authenticated requests, whose results may be stored)."
    )
    arcgis_url: str = Field("https://geocode.arcgis.com", description="ArcGIS geocoding service base URL.")
    census_url: str = Field("https://geocoding.geo.census.gov", description="US Census Geocoder base URL.")
    nominatim_url: str = Field(
        "https://nominatim.openstreetmap.org", description="Nominatim base URL (run your own for heavy use)."
    )
    nominatim_user_agent: str | None = Field(
        None, description="User-Agent for Nominatim naming your deployment and a contact."
    )
    radar_api_key: str | None = Field(
        None, description="Radar publishable key (Radar is skipped without it)."
    )
    radar_url: str = Field("https://api.radar.io", description="Radar API base URL.")
    geocode_breaker_failures: int = Field(
        5, ge=1, description="Consecutive failures that open a geocoder's circuit breaker."
    )
    geocode_breaker_cooldown_s: float = Field(
        60.0, gt=0, description="Seconds an open circuit waits before one trial request."
    )
    address_points_path: Path | None = Field(
        None,
        description="CSV of known address points (address, lat, lon, beat) to use instead of the shipped seed.",
    )
    beat_polygons_path: Path | None = Field(
        None,
        description="GeoJSON of real police beat polygons (default: DATA_DIR/geodata/beats.geojson if present).",
    )
    geodata_auto: bool = Field(
        True,
        description="`serve` (live) fetches and builds the city's street and beat data in the background when missing or stale.",
    )
    geodata_max_age_days: float = Field(
        30.0, gt=0, description="Age after which the city's layers are fetched again."
    )
    geodata_address_points_url: str = Field(
        CITY_ADDRESS_POINTS_URL, description="ArcGIS layer of the city's address points."
    )
    geodata_streets_url: str = Field(
        CITY_STREETS_URL, description="ArcGIS layer of the city's street centerlines with address ranges."
    )
    geodata_incidents_url: str = Field(
        CITY_INCIDENTS_URL, description="Socrata resource of police incidents geocoded by the city."
    )
    geodata_beats_url: str = Field(POLICE_BEATS_URL, description="ArcGIS layer of the police beats.")
    geodata_divisions_url: str = Field(
        POLICE_DIVISIONS_URL, description="ArcGIS layer of the police divisions."
    )
    geodata_city_limits_url: str = Field(CITY_LIMITS_URL, description="ArcGIS layer of the city limits.")
    geodata_tiger_url: str = Field(
        TIGER_SERVER, description="US Census TIGER/Line server (files under TIGER<year>/<LAYER>/)."
    )
    dallas_geocoder_url: str = Field(
        CITY_GEOCODER_URL, description="The city's ArcGIS GeocodeServer (geocoder `dallas`)."
    )
    log_level: str = Field("INFO", description="Logging level.")
    log_format: str = Field(
        "text",
        description="Log lines as `text` or `json` (one object a line, for CloudWatch; the ECS task sets it).",
    )

    @property
    def db_path(self) -> Path:
        return self.data_dir / "dallas-calls.sqlite3"

    @property
    def archive_location(self) -> str:
        return self.archive_uri or str(self.data_dir / "archive")
