"""The Webhooks page: the account's endpoints with their health, registering one (its secret
shown once), editing, deleting (after a confirmation page), a test event, a new secret, and
each endpoint's delivery log with "replay from here"."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import abort, current_app, flash, g, redirect, render_template, request, url_for

from admin_ui import blueprint
from admin_ui.common import actor, flash_done, flash_refusal, refusal, text_field
from admin_ui.i18n import gettext
from admin_ui.security import current
from scim_server.domain import webhooks as hooks
from scim_server.domain.errors import DomainError, NotFound
from scim_server.domain.events import EVENT_TYPES

OVERLAPS = (0, 1, 24, 72, 168)  # hours the previous secret still signs after a rotation


def _allow_private() -> bool:
    return bool(current_app.config["SCIM_SETTINGS"].webhook_allow_private)


def _key() -> str:
    return str(current_app.config["SECRET_KEY"])


def _endpoint(endpoint_id: str) -> Any:
    try:
        return hooks.get_endpoint(g.db, current().account, endpoint_id)
    except NotFound:
        abort(404)


def _form() -> dict[str, Any]:
    """The form's fields; ``ValueError`` carries the message for the page."""
    url = text_field("url", required=True, limit=2000)
    types = [t for t in request.form.getlist("event_types") if t]
    if any(t not in EVENT_TYPES for t in types):
        raise ValueError(gettext("That request is not valid."))
    return {"url": url, "event_types": types,
            "description": text_field("description"),
            "enabled": request.form.get("enabled") == "on"}


def _list_page(status: int = 200, **extra: Any) -> Any:
    account = current().account
    endpoints = hooks.list_endpoints(g.db, account)
    return render_template("admin/webhooks.html", endpoints=endpoints, types=EVENT_TYPES,
                           health=hooks.webhook_health(g.db, account),
                           last_position=account.event_position,
                           **extra), status


@blueprint.get("/webhooks")
def webhooks() -> Any:
    return _list_page()


@blueprint.post("/webhooks")
def webhooks_create() -> Any:
    try:
        fields = _form()
        endpoint, secret = hooks.create_endpoint(
            g.db, current().account, actor=actor(), server_key=_key(),
            allow_private=_allow_private(), **fields)
    except ValueError as exc:
        return _list_page(400, problem=str(exc), form=request.form)
    except DomainError as exc:
        g.db.rollback()
        return _list_page(400, refused=refusal(exc), form=request.form)
    # A page, not a redirect: the secret must not travel through a flash or a URL.
    return render_template("admin/webhook_secret.html", endpoint=endpoint, secret=secret,
                           rotated=False)


@blueprint.get("/webhooks/<endpoint_id>")
def webhooks_detail(endpoint_id: str) -> Any:
    endpoint = _endpoint(endpoint_id)
    deliveries = hooks.list_deliveries(g.db, current().account, endpoint.id, limit=50)
    return render_template("admin/webhook.html", endpoint=endpoint, deliveries=deliveries,
                           types=EVENT_TYPES, overlaps=OVERLAPS,
                           shown_targets=["endpoint", "deliveries"])


@blueprint.post("/webhooks/<endpoint_id>")
def webhooks_save(endpoint_id: str) -> Any:
    endpoint = _endpoint(endpoint_id)
    try:
        fields = _form()
        hooks.update_endpoint(g.db, current().account, endpoint.id, actor=actor(),
                                 allow_private=_allow_private(), **fields)
    except ValueError as exc:
        flash_refusal(DomainError(str(exc)), target="endpoint")
    except DomainError as exc:
        flash_refusal(exc, target="endpoint")
    else:
        flash_done(gettext("Webhook saved."), target="endpoint")
    return redirect(url_for("admin_ui.webhooks_detail", endpoint_id=endpoint.id))


@blueprint.get("/webhooks/<endpoint_id>/delete")
def webhooks_delete_confirm(endpoint_id: str) -> Any:
    return render_template("admin/webhook_delete.html", endpoint=_endpoint(endpoint_id))


@blueprint.post("/webhooks/<endpoint_id>/delete")
def webhooks_delete(endpoint_id: str) -> Any:
    endpoint = _endpoint(endpoint_id)
    url = endpoint.url
    hooks.delete_endpoint(g.db, current().account, endpoint.id, actor=actor())
    flash_done(gettext("The webhook to %(url)s was deleted.", url=url))
    return redirect(url_for("admin_ui.webhooks"))


@blueprint.post("/webhooks/<endpoint_id>/test")
def webhooks_test(endpoint_id: str) -> Any:
    endpoint = _endpoint(endpoint_id)
    settings = current_app.config["SCIM_SETTINGS"]
    delivery = hooks.send_test(g.db, current().account, endpoint.id, server_key=_key(),
                                  allow_private=settings.webhook_allow_private,
                                  timeout=min(settings.webhook_timeout, 10.0))
    if delivery.ok:
        flash_done(gettext("Test event delivered (HTTP %(status)s, %(ms)s ms).",
                           status=delivery.status_code, ms=delivery.duration_ms),
                   target="deliveries")
    else:
        # Not a refusal: the attempt is in the log (kept, so no rollback here).
        flash({"title": gettext("Not delivered"), "target": "deliveries",
               "text": gettext("The test event was not delivered: %(error)s",
                               error=delivery.error or "")}, "error")
    return redirect(url_for("admin_ui.webhooks_detail", endpoint_id=endpoint_id))


@blueprint.post("/webhooks/<endpoint_id>/rotate")
def webhooks_rotate(endpoint_id: str) -> Any:
    endpoint = _endpoint(endpoint_id)
    try:
        hours = int(request.form.get("overlap_hours") or 24)
    except ValueError:
        hours = -1
    if hours not in OVERLAPS:
        abort(400)
    endpoint, secret = hooks.rotate_secret(g.db, current().account, endpoint.id,
                                              actor=actor(), server_key=_key(),
                                              overlap=dt.timedelta(hours=hours))
    return render_template("admin/webhook_secret.html", endpoint=endpoint, secret=secret,
                           rotated=True)


@blueprint.post("/webhooks/<endpoint_id>/replay")
def webhooks_replay(endpoint_id: str) -> Any:
    endpoint = _endpoint(endpoint_id)
    try:
        position = int(request.form.get("position") or "")
    except ValueError:
        abort(400)
    try:
        hooks.replay_from(g.db, current().account, endpoint.id, actor=actor(),
                             position=position)
    except DomainError as exc:
        flash_refusal(exc, target="deliveries")
    else:
        flash_done(gettext("Events from position %(position)s will be delivered again, in "
                           "order.", position=position), target="deliveries")
    return redirect(url_for("admin_ui.webhooks_detail", endpoint_id=endpoint.id))
