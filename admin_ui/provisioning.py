"""The Provisioning log: what each identity provider sent over SCIM and what it was answered
(redacted), filtered; one request side by side with its answer and the quirks it needed; the
account's connections (SCIM tokens) and their identity provider profiles."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from flask import abort, g, redirect, render_template, request, url_for

from admin_ui import blueprint
from admin_ui.common import actor, find_user_by_email, flash_done, looks_like_email
from admin_ui.i18n import gettext
from admin_ui.security import current
from scim_server.domain import request_log
from scim_server.domain.errors import DomainError, NotFound
from scim_server.request_capture import request_log_of
from scim_server.scim.quirks import QUIRKS

PAGE_SIZE = 50
STATUS_CLASSES = ("2xx", "4xx", "5xx")
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def _log() -> request_log.RequestLog:
    found = request_log_of()
    if found is None:
        abort(404)
    return found


def _day(name: str, problems: list[str]) -> dt.datetime | None:
    """A date of the form (YYYY-MM-DD), as the start of that day in the admin's zone."""
    raw = (request.args.get(name) or "").strip()
    if not raw:
        return None
    try:
        day = dt.date.fromisoformat(raw[:10])
    except ValueError:
        problems.append(gettext("Dates are written YYYY-MM-DD."))
        return None
    zone = g.get("zone") or dt.UTC
    return dt.datetime.combine(day, dt.time(), tzinfo=zone).astimezone(dt.UTC)


@blueprint.get("/provisioning-log")
def provisioning_log() -> Any:
    account = current().account
    log = _log()
    args = request.args
    problems: list[str] = []
    status = args.get("status") or ""
    method = args.get("method") or ""
    connection_id = (args.get("connection") or "")[:64]
    resource_id = (args.get("resource_id") or "").strip()[:64]
    user = (args.get("user") or "").strip()[:400]
    if status and status not in STATUS_CLASSES or method and method not in METHODS:
        problems.append(gettext("That request is not valid."))
        status = status if status in STATUS_CLASSES else ""
        method = method if method in METHODS else ""
    if user:
        found = find_user_by_email(user) if looks_like_email(user) else None
        if found is None:
            problems.append(gettext("No user with that email."))
        else:
            resource_id = found.id
    since = _day("since", problems)
    until = _day("until", problems)
    if until is not None:
        until += dt.timedelta(days=1)  # the "to" day is included
    cursor = args.get("cursor") or ""
    before_id = int(cursor) if cursor.isdigit() and len(cursor) <= 18 else None
    rows, following = request_log.list_requests(
        log, account, limit=PAGE_SIZE, status_class=int(status[0]) if status else None,
        connection_id=connection_id or None, method=method or None,
        resource_id=resource_id or None, since=since, until=until, before_id=before_id)
    connections = request_log.list_connections(g.db, account, log)
    filters = {"status": status or None, "method": method or None,
               "connection": connection_id or None, "resource_id": resource_id or None,
               "user": user or None, "since": args.get("since") or None,
               "until": args.get("until") or None}
    return render_template("admin/provisioning_log.html", rows=rows, following=following,
                           connections=connections, filters=filters, problems=problems,
                           statuses=STATUS_CLASSES, methods=METHODS,
                           profiles=request_log.PROFILES)


def _pretty(body: str | None) -> str:
    if not body:
        return ""
    try:
        return json.dumps(json.loads(body), indent=2, ensure_ascii=False)
    except ValueError:
        return body  # cut, or not JSON: shown as stored


@blueprint.get("/provisioning-log/<request_id>")
def provisioning_request(request_id: str) -> Any:
    if not request_id.isdigit() or len(request_id) > 18:
        abort(404)
    try:
        row = request_log.get_request(_log(), current().account, int(request_id))
    except NotFound:
        abort(404)
    # The descriptions are the docs' Markdown: shown here without its code marks.
    quirks = [(q, QUIRKS.get(q, "").replace("`", "")) for q in row["quirks"]]
    return render_template("admin/provisioning_request.html", row=row, quirks=quirks,
                           request_body=_pretty(row["request_body"]),
                           response_body=_pretty(row["response_body"]))


@blueprint.post("/provisioning-log/connections/<connection_id>")
def set_connection_profile(connection_id: str) -> Any:
    chosen = request.form.get("profile") or ""
    if chosen not in (*request_log.PROFILES, "detected"):
        abort(400)
    try:
        view = request_log.set_connection_profile(
            g.db, current().account, request_log_of(), connection_id,
            None if chosen == "detected" else chosen, actor=actor())
    except NotFound:
        abort(404)
    except DomainError:
        abort(400)
    flash_done(gettext("The profile of %(name)s is now %(profile)s.",
                       name=view.label or view.prefix, profile=view.profile))
    return redirect(url_for("admin_ui.provisioning_log"))
