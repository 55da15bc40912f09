"""Configuration of the Lambda handlers (environment variables) and their structured JSON logs.

AWS-specific variables (read by :meth:`AwsConfig.from_env`):

==========================================  ========  ==============================================
variable                                    used by   meaning
==========================================  ========  ==============================================
``DALLAS_CALLS_BUCKET``                     all but   S3 bucket of the archive (``raw/``, ``changes/``)
                                            locator*
``DALLAS_CALLS_ARCHIVE_PREFIX``             same      optional key prefix inside the bucket ("")
``DALLAS_CALLS_CALLS_TABLE``                tracker,  DynamoDB table names (defaults
``DALLAS_CALLS_LOCATIONS_TABLE``            locator,  ``dallas-calls-calls`` / ``-locations`` /
``DALLAS_CALLS_META_TABLE``                 down-     ``-meta`` / ``-events``); see
``DALLAS_CALLS_EVENTS_TABLE``               loader    :mod:`dallas_calls.storage.dynamodb`
``DALLAS_CALLS_API_URL``                    publisher base URL of the API; events are POSTed to
                                                      ``{API_URL}/events/`` (empty: archive only)
``DALLAS_CALLS_INGEST_TOKEN``               publisher the API's bearer token, or
``DALLAS_CALLS_INGEST_TOKEN_SECRET_ARN``    publisher a Secrets Manager secret holding it (string)
``DALLAS_CALLS_PUBLISH_ATTEMPTS``           publisher POST attempts per batch before failing (4)
``DALLAS_CALLS_PUBLISH_TIMEOUT_S``          publisher per-request timeout (10)
``DALLAS_CALLS_APP_TOKEN_SECRET_ARN``       download. Socrata app token from Secrets Manager
``DALLAS_CALLS_CLOSED_TTL_DAYS``            tracker   closed calls expire from ``calls`` after (30)
``DALLAS_CALLS_LOCATE_LIMIT``               locator   location keys geocoded per message (200)
``DALLAS_CALLS_GEOCODER_SECRET_ARNS``       locator   JSON ``{"arcgis": ARN, ...}``: each secret's
                                                      string becomes the ``<name>_api_key`` setting
``DALLAS_CALLS_AWS_ENDPOINT_URL``           all       endpoint override for S3/DynamoDB/Secrets
                                                      Manager (an emulator such as moto)
==========================================  ========  ==============================================

(*) the locator reads the raw snapshot from the bucket too.

Shared with the one-machine runtime (:class:`dallas_calls.config.Settings`): ``DALLAS_CALLS_FEED_URL``,
``DALLAS_CALLS_APP_TOKEN``, ``DALLAS_CALLS_FEED_TIMEOUT_S``, ``DALLAS_CALLS_FEED_PAGE_SIZE``,
``DALLAS_CALLS_FEED_MAX_ATTEMPTS`` (downloader); ``DALLAS_CALLS_GUARD_MIN_OPEN``,
``DALLAS_CALLS_GUARD_MAX_DROP``, ``DALLAS_CALLS_CLOSE_AFTER_POLLS`` (tracker);
``DALLAS_CALLS_EVENT_RETENTION_DAYS`` (TTL of event
batches); ``DALLAS_CALLS_GEOCODE`` and the geocoder settings (locator); ``DALLAS_CALLS_LOG_LEVEL``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from dallas_calls.logs import JsonFormatter as JsonFormatter  # the handlers' logs
from dallas_calls.logs import setup_json_logging as setup_json_logging
from dallas_calls.storage.dynamodb import TableNames


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {text!r}") from None


def _secret_map(text: str) -> dict[str, str]:
    if not text:
        return {}
    try:
        found = json.loads(text)
    except ValueError:
        found = None
    if not isinstance(found, dict) or not all(isinstance(v, str) for v in found.values()):
        raise ValueError("DALLAS_CALLS_GEOCODER_SECRET_ARNS must be a JSON object of name -> secret ARN")
    return {str(k): v for k, v in found.items()}


@dataclass(frozen=True, slots=True)
class AwsConfig:
    bucket: str
    archive_prefix: str = ""
    tables: TableNames = field(default_factory=TableNames)
    api_url: str = ""
    ingest_token: str | None = None
    ingest_token_secret_arn: str | None = None
    app_token_secret_arn: str | None = None
    publish_attempts: int = 4
    publish_timeout_s: float = 10.0
    closed_ttl_days: float = 30.0
    locate_limit: int = 200
    geocoder_secret_arns: dict[str, str] = field(default_factory=dict)
    endpoint_url: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> AwsConfig:
        env = os.environ if env is None else env
        defaults = TableNames()

        def text(name: str, default: str = "") -> str:
            return env.get(f"DALLAS_CALLS_{name}", default).strip() or default

        return cls(
            bucket=text("BUCKET"),
            archive_prefix=text("ARCHIVE_PREFIX"),
            tables=TableNames(
                calls=text("CALLS_TABLE", defaults.calls),
                locations=text("LOCATIONS_TABLE", defaults.locations),
                meta=text("META_TABLE", defaults.meta),
                events=text("EVENTS_TABLE", defaults.events),
            ),
            api_url=text("API_URL").rstrip("/"),
            ingest_token=text("INGEST_TOKEN") or None,
            ingest_token_secret_arn=text("INGEST_TOKEN_SECRET_ARN") or None,
            app_token_secret_arn=text("APP_TOKEN_SECRET_ARN") or None,
            publish_attempts=max(1, int(_float(env, "DALLAS_CALLS_PUBLISH_ATTEMPTS", 4))),
            publish_timeout_s=_float(env, "DALLAS_CALLS_PUBLISH_TIMEOUT_S", 10.0),
            closed_ttl_days=_float(env, "DALLAS_CALLS_CLOSED_TTL_DAYS", 30.0),
            locate_limit=max(1, int(_float(env, "DALLAS_CALLS_LOCATE_LIMIT", 200))),
            geocoder_secret_arns=_secret_map(text("GEOCODER_SECRET_ARNS")),
            endpoint_url=text("AWS_ENDPOINT_URL") or None,
        )

    def require_bucket(self) -> str:
        if not self.bucket:
            raise ValueError("DALLAS_CALLS_BUCKET is not set")
        return self.bucket
