"""The application factory: settings, database, the SCIM door, the admin API and the admin UI.

Made of named ``setup_*`` steps. The HTTP layer owns the transaction: one session per request,
committed when the response is a success, rolled back otherwise.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, current_app, g, jsonify, request
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from scim_server import admission
from scim_server.auth import setup_rate_limits
from scim_server.db import (
    BUSY,
    READ_ONLY,
    Unavailable,
    describe,
    make_engine,
    make_session_factory,
    once_more_if_dropped,
    reading,
    unavailable,
)
from scim_server.headers import mark_private
from scim_server.request_capture import setup_request_log
from scim_server.settings import Settings
from scim_server.storage.schema import build_provider

log = logging.getLogger(__name__)

# Requests whose transaction reads (see ``db.reading``): a SCIM or admin API GET writes at
# most a throttled last-used time, which it may skip. (The UI's OIDC callback, a GET, signs in
# and records activity: the UI keeps the default.)
READING_PREFIXES = ("/scim/", "/api/")
# The doors of account data that are not the admin UI (which sends the same headers itself).
PRIVATE_PREFIXES = ("/scim/", "/api/", "/platform/")

# Liveness: the process answers; it opens no session and never waits for the database, so a
# database outage does not get every pod restarted (which would not cure it).
LIVENESS = "/livez"
# Readiness: the database answers too (``/healthz`` is the older name of the same probe).
READINESS = ("/readyz", "/healthz")

# The error pages of doors that answer in HTML, by blueprint name (the admin UI registers its
# own); the other doors answer SCIM errors or problem+json.
ERROR_PAGES = "scim_error_pages"
ErrorPage = Callable[[int, str], Response]


def create_app(settings: Settings | None = None, *, engine: Engine | None = None) -> Flask:
    settings = settings or Settings.from_env()
    app = Flask(__name__)
    setup_private_headers(app)
    setup_request_log(app, settings)
    setup_config(app, settings)
    setup_database(app, settings, engine)
    setup_rate_limits(app, settings)
    setup_admission(app, settings)
    setup_scim(app, settings)
    setup_optional_blueprints(app)
    setup_health(app)
    setup_proxy(app, settings)
    return app


def setup_private_headers(app: Flask) -> None:
    """The SCIM and admin API doors send the admin UI's no-store/nosniff headers (see
    ``headers``). Registered first, so it runs last: it also covers the error responses that
    later hooks (the transaction's commit) put in place of a view's."""

    @app.after_request
    def private_headers(response: Response) -> Response:
        if request.path.startswith(PRIVATE_PREFIXES):
            mark_private(response)
        return response


def setup_config(app: Flask, settings: Settings) -> None:
    app.config.update(
        SECRET_KEY=settings.effective_secret_key,
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        SCIM_SETTINGS=settings,
        JSON_SORT_KEYS=False,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.base_url.startswith("https"),
    )


def setup_database(app: Flask, settings: Settings, engine: Engine | None) -> None:
    engine = engine or make_engine(
        settings.database_url,
        lock_timeout=settings.db_lock_timeout,
        statement_timeout=settings.db_statement_timeout,
        connect_timeout=settings.db_connect_timeout,
    )
    factory = make_session_factory(engine)
    app.extensions["scim_engine"] = engine
    app.extensions["scim_sessions"] = factory

    # SQLite has one writer at a time, and its waiters poll: with every thread of every worker
    # polling, an unlucky one can wait out the busy timeout. The threads of a worker take
    # turns here instead, so at most one per process polls.
    writer_turn = threading.Lock() if engine.dialect.name == "sqlite" else None

    @app.before_request
    def open_session() -> None:
        if request.path == LIVENESS:
            return
        g.db = factory()
        if request.path in READINESS:
            return  # reads in its own guarded block (``setup_health``); never the writer turn
        if request.method in READ_ONLY and request.path.startswith(READING_PREFIXES):
            g.reading = reading(g.db)
            g.reading.__enter__()
        elif writer_turn is not None:
            writer_turn.acquire()
            g.writer_turn = writer_turn

    @app.after_request
    def finish_transaction(response: Response) -> Response:
        session = g.pop("db", None)
        if session is None:
            return response
        try:
            if response.status_code < 400 or g.get("force_commit"):
                session.commit()
            else:
                session.rollback()
        except IntegrityError:
            session.rollback()
            return error_response(409, "The change conflicts with another one; retry.", "uniqueness")
        except DBAPIError as exc:
            session.rollback()
            fault = unavailable(exc)
            if fault is None:
                # Nothing the request can fix, but nothing was written either: retry.
                log.error("commit failed: %s", describe(exc))
                fault = BUSY
            else:
                log.warning("commit failed, database %s: %s", fault.kind, describe(exc))
            return unavailable_response(fault)
        finally:
            session.close()
        return response

    @app.teardown_request
    def close_session(exc: BaseException | None) -> None:
        session = g.pop("db", None)
        if session is not None:
            try:
                session.rollback()
                session.close()
            except DBAPIError as fault:
                # The response is already decided; a connection lost meanwhile is the pool's
                # to replace, not a reason to turn the answer into a 500.
                log.warning("closing the session failed: %s", describe(fault))
        context = g.pop("reading", None)
        if context is not None:
            context.__exit__(None, None, None)
        turn = g.pop("writer_turn", None)
        if turn is not None:
            turn.release()


def setup_admission(app: Flask, settings: Settings) -> None:
    """The per-account cap on requests in flight (``admission``), released when each ends."""
    app.extensions[admission.EXTENSION] = admission.InFlight(settings.in_flight_per_account)

    @app.teardown_request
    def leave(_exc: BaseException | None) -> None:
        admission.release()


def error_response(status: int, detail: str, scim_type: str | None,
                   headers: dict[str, str] | None = None) -> Response:
    """An error in the format of the door the request came through: a SCIM error on
    ``/scim/``, the door's own page when it registered one (the admin UI), else problem+json."""
    page: ErrorPage | None = current_app.extensions.get(ERROR_PAGES, {}).get(request.blueprint)
    if page is not None:
        resp = page(status, detail)
    elif request.path.startswith("/scim/"):
        body: dict[str, Any] = {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
            "status": str(status),
            "detail": detail,
        }
        if scim_type:
            body["scimType"] = scim_type
        resp = jsonify(body)
        resp.content_type = "application/scim+json"
    else:
        # The JSON doors' one problem type scheme (imported here: the API is a door above).
        from scim_server.api.problems import problem_type

        resp = jsonify({"type": problem_type(status), "title": detail, "status": status,
                        "detail": detail})
        resp.content_type = "application/problem+json"
    resp.status_code = status
    for key, value in (headers or {}).items():
        resp.headers[key] = value
    return resp


def unavailable_response(fault: Unavailable) -> Response:
    """503 with Retry-After (RFC 9110 §15.6.4), in the door's format."""
    return error_response(503, fault.detail, None, {"Retry-After": str(fault.retry_after)})


def setup_scim(app: Flask, settings: Settings) -> None:
    from scim_server.scim.ruled import RuledScimStorage
    from scim_server.scim.server import AccountScimServer

    overrides = {
        "bulk.maxOperations": settings.bulk_max_operations,
        "bulk.maxPayloadSize": settings.bulk_max_payload_bytes,
        "filter.maxResults": settings.max_results,
        "pagination.defaultPageSize": settings.default_page_size,
        "pagination.maxPageSize": settings.max_results,
    }
    provider = build_provider(overrides)
    storage = RuledScimStorage(session=lambda: g.db, account_id=lambda: g.account.id)
    server = AccountScimServer(storage, provider, secret=settings.effective_secret_key,
                               account_id=lambda: g.account.id)
    server.init_app(app)
    app.extensions["scim_provider"] = provider


def setup_optional_blueprints(app: Flask) -> None:
    """The admin API, hub and admin UI register themselves through ``init_app`` when present."""
    for module_name in ("scim_server.api", "admin_ui"):
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        init_app = getattr(module, "init_app", None)
        blueprint = getattr(module, "blueprint", None)
        if init_app is not None:
            init_app(app)
        elif blueprint is not None:
            app.register_blueprint(blueprint)


def setup_health(app: Flask) -> None:
    @app.get(LIVENESS)
    def livez() -> Any:
        return jsonify({"status": "ok"})

    def readyz() -> Any:
        def probe() -> None:
            with reading(g.db):
                g.db.execute(text("SELECT 1"))

        try:
            once_more_if_dropped(g.db, probe)
        except Exception as exc:
            fault = unavailable(exc)
            if fault is None:
                raise
            log.warning("not ready, database %s: %s", fault.kind, describe(exc))
            response = jsonify({"status": "unavailable", "database": fault.kind})
            response.status_code = 503
            response.headers["Retry-After"] = str(fault.retry_after)
            return response
        return jsonify({"status": "ok", "database": "ok"})

    for path in READINESS:
        app.add_url_rule(path, path.strip("/"), readyz, methods=["GET"])

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
        return error_response(exc.code or 500, exc.description or exc.name, None, headers)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        fault = unavailable(exc)
        if fault is not None:
            log.warning("database %s: %s", fault.kind, describe(exc))
            return unavailable_response(fault)
        log.exception("unhandled error")
        return error_response(500, "Internal server error", None)


def setup_proxy(app: Flask, settings: Settings) -> None:
    """Honour X-Forwarded-* from that many trusted proxies, so meta.location is right."""
    if settings.trusted_proxies > 0:
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n, x_prefix=n)  # type: ignore[method-assign]
