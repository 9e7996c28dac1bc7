"""The application factory: settings, database, the SCIM door, the admin API and the admin UI.

Made of named ``setup_*`` steps. The HTTP layer owns the transaction: one session per request,
committed when the response is a success, rolled back otherwise.
"""

from __future__ import annotations

import importlib
import logging
import threading
from typing import Any

from flask import Flask, Response, g, jsonify, request
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from scim_server.db import (
    READ_ONLY,
    make_engine,
    make_session_factory,
    once_more_if_dropped,
    reading,
)
from scim_server.headers import allow_header, mark_private
from scim_server.settings import Settings
from scim_server.storage.schema import build_provider

log = logging.getLogger(__name__)

# Requests whose transaction reads (see ``db.reading``): a SCIM or admin API GET writes at
# most a throttled last-used time, which it may skip. (The UI's OIDC callback, a GET, signs in
# and records activity: the UI keeps the default.)
READING_PREFIXES = ("/scim/", "/api/")
# The doors of account data that are not the admin UI (which sends the same headers itself).
PRIVATE_PREFIXES = ("/scim/", "/api/")


def create_app(settings: Settings | None = None, *, engine: Engine | None = None) -> Flask:
    settings = settings or Settings.from_env()
    app = Flask(__name__)
    setup_private_headers(app)
    setup_config(app, settings)
    setup_database(app, settings, engine)
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
    engine = engine or make_engine(settings.database_url)
    factory = make_session_factory(engine)
    app.extensions["scim_engine"] = engine
    app.extensions["scim_sessions"] = factory

    # SQLite has one writer at a time, and its waiters poll: with every thread of every worker
    # polling, an unlucky one can wait out the busy timeout. The threads of a worker take
    # turns here instead, so at most one per process polls.
    writer_turn = threading.Lock() if engine.dialect.name == "sqlite" else None

    @app.before_request
    def open_session() -> None:
        g.db = factory()
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
        except (OperationalError, DBAPIError):
            session.rollback()
            log.exception("commit failed")
            return error_response(503, "The database is busy; retry the request.", None)
        finally:
            session.close()
        return response

    @app.teardown_request
    def close_session(exc: BaseException | None) -> None:
        session = g.pop("db", None)
        if session is not None:
            session.rollback()
            session.close()
        context = g.pop("reading", None)
        if context is not None:
            context.__exit__(None, None, None)
        turn = g.pop("writer_turn", None)
        if turn is not None:
            turn.release()


def error_response(status: int, detail: str, scim_type: str | None) -> Response:
    """An error in the format of the door the request came through."""
    if request.path.startswith("/scim/"):
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
        resp = jsonify({"type": "about:blank", "title": detail, "status": status, "detail": detail})
        resp.content_type = "application/problem+json"
    resp.status_code = status
    return resp


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
    @app.get("/healthz")
    def healthz() -> Any:
        try:
            once_more_if_dropped(g.db, lambda: g.db.execute(text("SELECT 1")))
        except DBAPIError:
            return jsonify({"status": "unavailable", "database": "unreachable"}), 503
        return jsonify({"status": "ok", "database": "ok"})

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        response = error_response(exc.code or 500, exc.description or exc.name, None)
        response.headers.update(allow_header(exc))
        return response

    @app.errorhandler(OperationalError)
    def database_busy(exc: OperationalError) -> Response:
        # SQLite: the write lock was not free within the busy timeout (a burst of writers).
        if "database is locked" in str(exc.orig):
            log.warning("database busy: %s", exc.orig)
            response = error_response(503, "The database is busy; retry the request.", None)
            response.headers["Retry-After"] = "1"
            return response
        return unexpected(exc)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        log.exception("unhandled error")
        return error_response(500, "Internal server error", None)


def setup_proxy(app: Flask, settings: Settings) -> None:
    """Honour X-Forwarded-* from that many trusted proxies, so meta.location is right."""
    if settings.trusted_proxies > 0:
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n, x_prefix=n)  # type: ignore[method-assign]
