"""The HTTP side of the SCIM request log: hand each ``/scim/v2`` request of an account to the
log's buffer (``domain.request_log``), after its response is final.

Only references are taken here (the bodies already in memory, the response's status); the
decoding, the redaction and the writing are the log's writer thread's. Nothing here may fail
a request: a fault is logged and the request answered as it was.
"""

from __future__ import annotations

import logging
import time
from typing import Any
from urllib.parse import unquote_plus

from flask import Flask, Response, current_app, g, request

from scim_server.db import make_engine
from scim_server.domain.request_log import Captured, RequestLog
from scim_server.settings import Settings
from scim_server.storage.models import utcnow

log = logging.getLogger(__name__)

EXTENSION = "scim_request_log"
SCIM_PREFIX = "/scim/v2"


def request_log_of(app: Flask | None = None) -> RequestLog | None:
    """The app's request log (None when turned off)."""
    return (app or current_app).extensions.get(EXTENSION)  # type: ignore[no-any-return]


def make_request_log(settings: Settings) -> RequestLog | None:
    if settings.request_log_buffer == 0:
        return None
    import datetime as dt

    url = settings.effective_request_log_url
    # Its own small pool: the writer holds one connection, the admin pages read on another;
    # short timeouts, so a log database in trouble costs a page a few seconds, never more.
    engine = make_engine(url, sqlite_busy_timeout=5.0, lock_timeout=2.0,
                         statement_timeout=30.0, connect_timeout=3.0,
                         **({} if url.startswith("sqlite") else
                            {"pool_size": 2, "max_overflow": 2, "pool_timeout": 5.0}))
    return RequestLog(
        engine,
        own_schema=url.startswith("sqlite"),
        capacity=settings.request_log_buffer,
        flush_interval=settings.request_log_flush_interval,
        body_cap=settings.request_log_body_cap,
        retention=dt.timedelta(days=settings.request_log_retention_days),
    )


def setup_request_log(app: Flask, settings: Settings) -> None:
    """Registered before the transaction's hooks, so that it runs after them and logs the
    response the client gets (a failed commit's 409 or 503, not the view's 200)."""
    request_log = make_request_log(settings)
    if request_log is None:
        return
    app.extensions[EXTENSION] = request_log
    max_body = settings.max_body_bytes

    @app.before_request
    def started() -> None:
        if request.path.startswith(SCIM_PREFIX):
            g.request_log_started = time.perf_counter()

    @app.after_request
    def capture(response: Response) -> Response:
        started_at = g.pop("request_log_started", None)
        if started_at is None:
            return response
        try:
            entry = _captured(response, started_at, max_body)
            if entry is not None:
                request_log.record(entry)
        except Exception:  # noqa: BLE001 - the log never fails a request
            log.warning("request log: the request could not be captured", exc_info=True)
        return response


def _captured(response: Response, started_at: float, max_body: int) -> Captured | None:
    # A request refused once its token was known (suspended account, holder demoted, rate
    # limit, too many in flight) is logged too; one with no token or a bad one has no account.
    principal = g.get("scim_principal") or g.get("known_principal")
    account = g.get("account") or getattr(principal, "account", None)
    if account is None:
        return None
    body: bytes | None = None
    if request.content_length is None or request.content_length <= max_body:
        body = request.get_data(cache=True) or None
    answer: Any = None if response.is_streamed else response.get_data()
    return Captured(
        at=utcnow(),
        account_id=account.id,
        connection_id=getattr(principal, "credential_id", None),
        connection_label=getattr(principal, "client", None),
        user_agent=request.headers.get("User-Agent"),
        method=request.method,
        path=request.path,
        query=unquote_plus(request.query_string.decode(errors="replace")),
        status=response.status_code,
        duration_ms=(time.perf_counter() - started_at) * 1000,
        quirks=sorted(g.get("scim_quirks") or ()),
        request_body=body,
        response_body=answer or None,
    )
