"""The admin UI: a server-rendered console under ``/admin`` for the Admins of an account.

HTTP layer only: it authenticates the admin, picks the account from the session, and calls the
same domain services as the SCIM door and the admin JSON API, so every refusal is the domain's
rule id and sentence. ``scim_server.app`` owns the transaction: a response under 400 commits,
anything else rolls back; a view that shows a refusal on a redirect rolls back itself.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from flask import (
    Blueprint,
    Flask,
    Response,
    g,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.exceptions import HTTPException

from admin_ui import i18n
from admin_ui.security import (
    CSRF_FIELD,
    SESSION_MAX_AGE,
    csrf_token,
    csrf_valid,
    load_signed_in,
)
from scim_server.admission import admit
from scim_server.db import describe, once_more_if_dropped, unavailable
from scim_server.domain.text import unstorable
from scim_server.headers import mark_private

log = logging.getLogger(__name__)

blueprint = Blueprint(
    "admin_ui",
    __name__,
    url_prefix="/admin",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

# Pages reachable without signing in (the endpoint names, without the blueprint prefix).
PUBLIC_ENDPOINTS = frozenset(
    {"login", "oidc_login", "oidc_callback", "static", "confirm_email", "accept_invitation",
     "set_language"}
)


def init_app(app: Flask) -> None:
    from admin_ui import views  # noqa: F401  (registers the routes on the blueprint)
    from admin_ui.oidc import setup_oidc

    # The session cookie expires with the sign-in (the server also refuses older ones), unless
    # the embedding app chose its own lifetime (Flask's default is 31 days).
    if app.config.get("PERMANENT_SESSION_LIFETIME") == timedelta(days=31):
        app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(seconds=SESSION_MAX_AGE)
    setup_oidc(app)
    app.register_blueprint(blueprint)
    # Errors the app itself answers for the console (a failed commit) come as pages too.
    app.extensions.setdefault("scim_error_pages", {})[blueprint.name] = error_page


@blueprint.before_request
def before_request() -> Any:
    g.lang = i18n.pick_language()
    g.zone = i18n.pick_zone()
    endpoint = (request.endpoint or "").removeprefix("admin_ui.")
    if request.method == "POST" and not csrf_valid(request.form.get(CSRF_FIELD)):
        # Before anything else, including sign-in: a cross-site form must not even try.
        return render_error(400, i18n.gettext(
            "The form expired or was not sent by this page; reload the page and try again."))
    if any(unstorable(value) for value in (*request.form.values(), *request.args.values())):
        # A form's percent-escapes spell U+0000, which no page needs and PostgreSQL cannot store.
        return render_error(400, i18n.gettext(
            "The form holds a character that cannot be stored (U+0000); remove it and try again."))
    if endpoint in PUBLIC_ENDPOINTS:
        return None
    signed_in = once_more_if_dropped(g.db, lambda: load_signed_in(g.db))
    if signed_in is None:
        return redirect(url_for("admin_ui.login", next=request.full_path.rstrip("?")))
    g.admin_ctx = signed_in
    # The console counts against its account's requests in flight like the other doors.
    admit(signed_in.account.id)
    return None


@blueprint.after_request
def security_headers(response: Response) -> Response:
    # The console shows tokens once and personal data: never cached, never framed.
    mark_private(response)
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'",
    )
    return response


@blueprint.app_template_global("csrf_field")
def csrf_field() -> Any:
    from markupsafe import Markup

    return Markup('<input type="hidden" name="{}" value="{}">').format(CSRF_FIELD, csrf_token())


@blueprint.app_template_filter("number")
def number_filter(value: int | float | None) -> str:
    """A count as the language writes it: ``{{ total|number }}`` → 20,007 / 20 007."""
    return i18n.format_number(value)


@blueprint.context_processor
def template_helpers() -> dict[str, Any]:
    return {
        "_": i18n.gettext,
        "_n": i18n.ngettext,
        "lang": g.get("lang", i18n.DEFAULT_LANGUAGE),
        "languages": i18n.LANGUAGES,
        "zone_name": str(g.get("zone") or i18n.UTC),
        "fmt_dt": i18n.format_datetime,
        "fmt_date": i18n.format_date,
        "ctx": g.get("admin_ctx"),
    }


def render_error(status: int, message: str) -> tuple[str, int]:
    return render_template("admin/error.html", status=status, message=message), status


# The page's sentence for each status (the other doors' English details are not shown here).
ERROR_MESSAGES = {
    400: "That request is not valid.",
    404: "Not found in this account.",
    409: "The change conflicts with another one; try again.",
    413: "That request is not valid.",
    429: "Too many requests of this account are in progress; try again in a moment.",
    500: "Something went wrong on our side; nothing was changed.",
    503: "The database is unavailable right now; nothing was changed. Try again in a moment.",
}


def error_page(status: int, _detail: str = "") -> Response:
    message = ERROR_MESSAGES.get(status, ERROR_MESSAGES[400 if status < 500 else 500])
    body, status = render_error(status, i18n.gettext(message))
    return make_response(body, status)


@blueprint.errorhandler(HTTPException)
def http_error(exc: HTTPException) -> Any:
    response = error_page(exc.code or 500)
    for key, value in exc.get_headers():
        if key.lower() != "content-type":
            response.headers[key] = value  # e.g. Retry-After of a 429
    return response


@blueprint.errorhandler(Exception)
def unexpected(exc: Exception) -> Any:
    fault = unavailable(exc)
    if fault is not None:
        log.warning("database %s: %s", fault.kind, describe(exc))
        response = error_page(503)
        response.headers["Retry-After"] = str(fault.retry_after)
        return response
    log.exception("admin UI error")
    return error_page(500)

