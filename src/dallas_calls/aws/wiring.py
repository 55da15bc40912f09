"""The adapters a Lambda handler needs (:class:`Runtime`), built once per container from the
environment (:mod:`dallas_calls.aws.config`) or by a test pointing at emulators."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from dallas_calls.archive.store import S3ObjectStore
from dallas_calls.aws.config import AwsConfig, setup_json_logging
from dallas_calls.config import Settings
from dallas_calls.locating import CallLocator
from dallas_calls.storage.dynamodb import DynamoStore, dynamodb_client

log = logging.getLogger("dallas_calls.aws")


@dataclass
class Runtime:
    """The adapters a handler needs, built once per Lambda container (or by a test)."""

    config: AwsConfig
    settings: Settings
    store: DynamoStore
    archive: S3ObjectStore
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    locator: CallLocator | None = None
    locator_loaded: bool = False
    http: httpx.Client | None = None
    token: str | None = None
    sleep: Callable[[float], None] = time.sleep
    streams: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_env(cls, settings: Settings | None = None, config: AwsConfig | None = None) -> Runtime:
        import boto3

        config = config or AwsConfig.from_env()
        config.require_bucket()
        settings = settings or Settings(**{})
        endpoint = config.endpoint_url
        store = DynamoStore(
            config.tables,
            client=dynamodb_client(endpoint),
            closed_ttl=timedelta(days=config.closed_ttl_days),
            event_ttl=timedelta(days=settings.event_retention_days),
        )
        archive = S3ObjectStore(
            config.bucket, config.archive_prefix, client=boto3.client("s3", endpoint_url=endpoint)
        )
        return cls(config=config, settings=settings, store=store, archive=archive)

    def get_locator(self) -> CallLocator | None:
        """The geocoding chain (``runtime.build_locator``), or None if geocoding is off/absent."""
        if not self.locator_loaded:
            from dallas_calls.runtime import build_locator

            try:
                self.locator = build_locator(self.settings_with_secrets())
            except Exception:  # a missing data file must not kill the handler: no geocoding
                log.exception("could not build the locator; locating is off")
                self.locator = None
            self.locator_loaded = True
        return self.locator

    def settings_with_secrets(self) -> Settings:
        """Settings with each online geocoder's API key read from its secret (``<name>_api_key``)."""
        update = {}
        for name, arn in self.config.geocoder_secret_arns.items():
            setting = f"{name}_api_key"
            if setting not in Settings.model_fields:
                log.warning("no setting for geocoder secret", extra={"geocoder": name})
                continue
            update[setting] = self.secret(arn) or None
        return self.settings.model_copy(update=update) if update else self.settings

    def secret(self, arn: str) -> str:
        import boto3

        client = boto3.client("secretsmanager", endpoint_url=self.config.endpoint_url)
        value: str = client.get_secret_value(SecretId=arn)["SecretString"]
        return value.strip()

    def ingest_token(self) -> str | None:
        if self.token is None:
            if self.config.ingest_token:
                self.token = self.config.ingest_token
            elif self.config.ingest_token_secret_arn:
                self.token = self.secret(self.config.ingest_token_secret_arn)
        return self.token

    def stream_client(self) -> Any:
        """DynamoDB Streams (the publisher's redrive reads a dead-lettered batch back)."""
        if self.streams is None:
            import boto3

            self.streams = boto3.client("dynamodbstreams", endpoint_url=self.config.endpoint_url)
        return self.streams

    def http_client(self) -> httpx.Client:
        if self.http is None:
            self.http = httpx.Client(timeout=self.config.publish_timeout_s)
        return self.http

    def strip_prefix(self, key: str) -> str | None:
        """An object key from a notification, as an archive key (None if outside the archive)."""
        prefix = self.archive.prefix
        return key[len(prefix) :] if key.startswith(prefix) else None


_RUNTIME: Runtime | None = None


def runtime() -> Runtime:
    global _RUNTIME
    if _RUNTIME is None:
        setup_json_logging()
        _RUNTIME = Runtime.from_env()
    return _RUNTIME
