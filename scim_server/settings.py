"""Typed settings read from ``SCIM_*`` environment variables and validated at start-up."""

from __future__ import annotations

import math
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from urllib.parse import urlsplit


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names it and says what is expected."""


DEFAULT_DB_PATH = Path.cwd() / "scim-server.db"


@dataclass(frozen=True)
class Settings:
    database_url: str = field(default_factory=lambda: f"sqlite:///{DEFAULT_DB_PATH}")
    secret_key: str = ""
    # The public root of the server, for printed URLs; requests use their own Host.
    base_url: str = "http://127.0.0.1:8000"
    smtp_url: str | None = None
    max_body_bytes: int = 2 * 1024 * 1024
    bulk_max_operations: int = 1000
    bulk_max_payload_bytes: int = 1024 * 1024
    max_results: int = 1000
    default_page_size: int = 100
    trusted_proxies: int = 0
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = None
    login_rate_limit: int = 10
    # Each credential's requests per second and burst; an account may have its own (set by
    # the operator). Entra ID sends at most 25/s per tenant; 0/s turns the limit off.
    rate_limit_per_second: int = 50
    rate_limit_burst: int = 200
    # The buckets' file, shared by the workers of one instance (set by gunicorn_conf).
    rate_limit_file: str | None = None
    # PostgreSQL waits, in seconds (0: unbounded): for a row lock, for any one statement, and
    # for a new connection. A request that hits one answers 503 with Retry-After.
    db_lock_timeout: float = 5.0
    db_statement_timeout: float = 30.0
    db_connect_timeout: float = 5.0
    # gunicorn threads per worker; gunicorn reads the same variable (scim_server/gunicorn_conf).
    threads: int = 4
    # Requests of one account served at once by one process, past which it answers 429;
    # 0: one less than ``threads``, so that one account never holds every thread of a worker.
    account_max_in_flight: int = 0
    # Webhooks (issue 15). Endpoints on private, loopback, link-local or reserved addresses
    # (and plain http://) are refused unless allowed: for tests and on-premise receivers.
    webhook_allow_private: bool = False
    # Retries: exponential from ``base`` seconds, capped at ``max``, with jitter; after
    # ``retry_window`` seconds of failure the endpoint is marked failing (retries go on at
    # ``max``, so a receiver that recovers still gets every event, in order).
    webhook_backoff_base: float = 5.0
    webhook_backoff_max: float = 3600.0
    webhook_retry_window: float = 24 * 3600.0
    # One delivery's connect and read timeout; a worker's hold on an endpoint (renewed with
    # each delivery: a killed worker's endpoints are taken over after it).
    webhook_timeout: float = 10.0
    webhook_lease: float = 60.0
    # How often an idle worker looks for new events.
    webhook_poll_interval: float = 1.0
    # Events (and delivery logs) older than this are purged by the worker.
    event_retention_days: int = 30
    # How long a set-poll request (RFC 8936) with ``returnImmediately: false`` waits for an
    # event when it has none to send, in seconds (at most 10; 0: answers at once). PostgreSQL
    # only: on SQLite a waiting request would hold its process's single writer turn. A waiting
    # poll holds a thread and one of its account's requests in flight.
    set_poll_wait: float = 5.0
    # The SCIM request log (see README "Provisioning log"): its database (default: on SQLite a
    # file beside the main one, ``<name>.requests.db``; on PostgreSQL the main database through
    # an engine of its own), the entries a process buffers before dropping the oldest (0: no
    # log), the seconds between its writes, the days it keeps entries, and the bytes of each
    # body it keeps.
    request_log_url: str | None = None
    request_log_buffer: int = 10_000
    request_log_flush_interval: float = 1.0
    request_log_retention_days: int = 30
    request_log_body_cap: int = 16 * 1024

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Read every ``SCIM_<NAME>`` variable, convert it, and validate the whole."""
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        for f in fields(cls):
            key = f"SCIM_{f.name.upper()}"
            if key not in env or env[key] == "":
                continue
            raw = env[key]
            if f.type in ("int", int):
                try:
                    values[f.name] = int(raw)
                except ValueError:
                    raise SettingsError(f"{key} must be a whole number, not {raw!r}") from None
            elif f.type in ("bool", bool):
                if raw.lower() not in ("true", "false", "1", "0", "yes", "no"):
                    raise SettingsError(f"{key} must be true or false, not {raw!r}")
                values[f.name] = raw.lower() in ("true", "1", "yes")
            elif f.type in ("float", float):
                try:
                    values[f.name] = float(raw)
                except ValueError:
                    raise SettingsError(f"{key} must be a number of seconds, not {raw!r}") from None
            else:
                values[f.name] = raw
        values.update(overrides)
        settings = cls(**values)  # type: ignore[arg-type]
        settings.validate()
        return settings

    def validate(self) -> None:
        scheme = urlsplit(self.database_url).scheme
        if not (scheme.startswith("sqlite") or scheme.startswith("postgresql")):
            raise SettingsError(
                "SCIM_DATABASE_URL must be a sqlite:/// or postgresql+psycopg:// URL, "
                f"not {self.database_url!r}"
            )
        if self.secret_key and len(self.secret_key) < 16:
            raise SettingsError("SCIM_SECRET_KEY must be at least 16 characters long")
        for name in ("max_body_bytes", "bulk_max_operations", "bulk_max_payload_bytes",
                     "max_results", "default_page_size"):
            if getattr(self, name) <= 0:
                raise SettingsError(f"SCIM_{name.upper()} must be positive")
        for name in ("rate_limit_per_second", "rate_limit_burst"):
            if getattr(self, name) < 0:
                raise SettingsError(f"SCIM_{name.upper()} cannot be negative")
        if self.rate_limit_per_second and self.rate_limit_burst < 1:
            raise SettingsError("SCIM_RATE_LIMIT_BURST must be at least 1 with a rate limit")
        for name in ("db_lock_timeout", "db_statement_timeout", "db_connect_timeout",
                     "account_max_in_flight"):
            value = getattr(self, name)
            if not (value >= 0 and math.isfinite(value)):
                raise SettingsError(f"SCIM_{name.upper()} must be a finite number, 0 or more")
        for name in ("webhook_backoff_base", "webhook_backoff_max", "webhook_retry_window",
                     "webhook_timeout", "webhook_lease", "webhook_poll_interval"):
            value = getattr(self, name)
            if not (value > 0 and math.isfinite(value)):
                raise SettingsError(f"SCIM_{name.upper()} must be a positive number of seconds")
        if self.webhook_lease <= self.webhook_timeout:
            # A delivery must end before the worker's hold on its endpoint can expire.
            raise SettingsError("SCIM_WEBHOOK_LEASE must be longer than SCIM_WEBHOOK_TIMEOUT")
        if self.event_retention_days <= 0:
            raise SettingsError("SCIM_EVENT_RETENTION_DAYS must be positive")
        if not (0 <= self.set_poll_wait <= 10):
            raise SettingsError("SCIM_SET_POLL_WAIT must be between 0 and 10 seconds")
        if self.request_log_buffer < 0:
            raise SettingsError("SCIM_REQUEST_LOG_BUFFER cannot be negative")
        if not (0 < self.request_log_flush_interval <= 3600):
            raise SettingsError("SCIM_REQUEST_LOG_FLUSH_INTERVAL must be between 0 and 3600 seconds")
        if self.request_log_retention_days < 1:
            raise SettingsError("SCIM_REQUEST_LOG_RETENTION_DAYS must be at least 1")
        if self.request_log_body_cap < 256:
            raise SettingsError("SCIM_REQUEST_LOG_BODY_CAP must be at least 256 bytes")
        if self.request_log_url and not urlsplit(self.request_log_url).scheme.startswith(
                ("sqlite", "postgresql")):
            raise SettingsError("SCIM_REQUEST_LOG_URL must be a sqlite:/// or postgresql URL")
        if self.threads <= 0:
            raise SettingsError("SCIM_THREADS must be positive")
        if self.default_page_size > self.max_results:
            raise SettingsError("SCIM_DEFAULT_PAGE_SIZE cannot exceed SCIM_MAX_RESULTS")
        if self.smtp_url and urlsplit(self.smtp_url).scheme not in ("smtp", "smtps"):
            raise SettingsError("SCIM_SMTP_URL must look like smtp://host:port")
        if urlsplit(self.base_url).scheme not in ("http", "https"):
            raise SettingsError("SCIM_BASE_URL must be an http(s):// URL")

    @property
    def effective_secret_key(self) -> str:
        return self.secret_key or _process_secret()

    @property
    def in_flight_per_account(self) -> int:
        """The per-account cap of one process (``account_max_in_flight``, or its default)."""
        return self.account_max_in_flight or max(1, self.threads - 1)

    @property
    def effective_request_log_url(self) -> str:
        """Where the request log is written: never into the main SQLite file, whose one
        write lock provisioning needs."""
        if self.request_log_url:
            return self.request_log_url
        if not self.is_sqlite:
            return self.database_url
        prefix, _, path = self.database_url.partition(":///")
        if not path or path == ":memory:":
            return "sqlite://"
        stem = path[:-3] if path.endswith(".db") else path
        return f"{prefix}:///{stem}.requests.db"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


_SECRET: list[str] = []


def _process_secret() -> str:
    """A random secret when none is configured: fine for one process, not for several."""
    if not _SECRET:
        _SECRET.append(secrets.token_urlsafe(32))
    return _SECRET[0]
