"""The admin API's webhook operations (``/api/v1/webhooks``) and their schemas: thin views
over :mod:`scim_server.domain.webhooks`."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import current_app, g
from marshmallow import Schema, fields, validate

from scim_server.api.routing import operation
from scim_server.api.schemas import Strict
from scim_server.domain import webhooks
from scim_server.domain.events import EVENT_TYPES
from scim_server.settings import Settings
from scim_server.storage.models import Account

HOOKS = "webhooks"
Str = fields.String


# --- schemas -------------------------------------------------------------------------------------

def _types() -> fields.List:
    return fields.List(Str(validate=validate.OneOf(EVENT_TYPES)), validate=validate.Length(max=20),
                       metadata={"description": "RFC 9967 event URIs to receive; empty: all"})


class WebhookCreate(Strict):
    url = Str(required=True, validate=validate.Length(1, 2000),
              metadata={"description": "an https:// URL on a public address"})
    event_types = _types()
    description = Str(allow_none=True, validate=validate.Length(max=400))
    enabled = fields.Boolean(truthy={True}, falsy={False})


class WebhookPatch(Strict):
    url = Str(validate=validate.Length(1, 2000))
    event_types = _types()
    description = Str(allow_none=True, validate=validate.Length(max=400))
    enabled = fields.Boolean(truthy={True}, falsy={False})


class RotateRequest(Strict):
    overlap_seconds = fields.Integer(
        strict=True, load_default=int(webhooks.DEFAULT_OVERLAP.total_seconds()),
        validate=validate.Range(0, int(webhooks.MAX_OVERLAP.total_seconds())),
        metadata={"description": "how long the old secret still signs beside the new one"})


class ReplayRequest(Strict):
    position = fields.Integer(strict=True, validate=validate.Range(1, 2**63 - 1))
    event_id = Str(validate=validate.Length(1, 32))


class DeliveriesQuery(Strict):
    before_id = fields.Integer(validate=validate.Range(1, 2**63 - 1))
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 500))


class WebhookOut(Schema):
    id = Str()
    url = Str()
    description = Str(allow_none=True)
    event_types = fields.List(Str())
    enabled = fields.Boolean()
    failing = fields.Boolean(metadata={"description": "no 2xx for the retry window (24 h)"})
    failing_since = fields.DateTime(allow_none=True)
    position = fields.Integer(metadata={"description": "the last event position delivered"})
    attempts = fields.Integer(metadata={"description": "failed attempts of the next event"})
    next_attempt_at = fields.DateTime(allow_none=True)
    last_attempt_at = fields.DateTime(allow_none=True)
    last_success_at = fields.DateTime(allow_none=True)
    last_error = Str(allow_none=True)
    old_secret_expires_at = fields.DateTime(
        allow_none=True, metadata={"description": "until then the previous secret also signs"})
    created_at = fields.DateTime()


class IssuedWebhookOut(WebhookOut):
    secret = Str(metadata={"description": "The signing secret (whsec_…), shown this once only."})


class WebhookListOut(Schema):
    webhooks = fields.List(fields.Nested(WebhookOut))


class DeliveryOut(Schema):
    id = fields.Integer()
    event_id = Str()
    position = fields.Integer(allow_none=True)
    event_type = Str()
    at = fields.DateTime()
    attempt = fields.Integer()
    status_code = fields.Integer(allow_none=True)
    duration_ms = fields.Integer()
    ok = fields.Boolean()
    error = Str(allow_none=True)


class DeliveryListOut(Schema):
    deliveries = fields.List(fields.Nested(DeliveryOut))
    next_before_id = fields.Integer(allow_none=True)


# --- operations ----------------------------------------------------------------------------------

def _settings() -> Settings:
    return current_app.config["SCIM_SETTINGS"]  # type: ignore[no-any-return]


def _account() -> Account:
    # g.account is the copy read with the credential; a change needs the session's row.
    return g.db.get(Account, g.account.id)  # type: ignore[no-any-return]


def _key() -> str:
    return str(current_app.config["SECRET_KEY"])


def webhook_out(endpoint: Any) -> dict[str, Any]:
    fields_ = WebhookOut().fields
    out = {name: getattr(endpoint, name) for name in fields_ if hasattr(endpoint, name)}
    out["failing"] = webhooks.endpoint_is_failing(endpoint)
    out["event_types"] = list(endpoint.event_types or [])
    return out


@operation("/webhooks", "GET", summary="List webhook endpoints and their health", tag=HOOKS,
           response=WebhookListOut)
def list_webhooks_view() -> Any:
    return {"webhooks": [webhook_out(e) for e in webhooks.list_endpoints(g.db, g.account)]}


@operation("/webhooks", "POST", summary="Register a webhook endpoint; it receives the events "
           "written from now on, signed (Standard Webhooks); the secret is shown once",
           tag=HOOKS, body=WebhookCreate, response=IssuedWebhookOut, status=201)
def create_webhook_view(body: dict[str, Any]) -> Any:
    endpoint, secret = webhooks.create_endpoint(
        g.db, _account(), actor=g.actor, server_key=_key(),
        allow_private=_settings().webhook_allow_private, **body)
    return {**webhook_out(endpoint), "secret": secret}


@operation("/webhooks/<endpoint_id>", "GET", summary="Read a webhook endpoint", tag=HOOKS,
           response=WebhookOut)
def get_webhook_view(endpoint_id: str) -> Any:
    return webhook_out(webhooks.get_endpoint(g.db, g.account, endpoint_id))


@operation("/webhooks/<endpoint_id>", "PATCH", summary="Change a webhook endpoint's URL, event "
           "types, description, or pause it (enabled: false)", tag=HOOKS, body=WebhookPatch,
           response=WebhookOut)
def patch_webhook_view(endpoint_id: str, body: dict[str, Any]) -> Any:
    return webhook_out(webhooks.update_endpoint(
        g.db, _account(), endpoint_id, actor=g.actor,
        allow_private=_settings().webhook_allow_private, **body))


@operation("/webhooks/<endpoint_id>", "DELETE", summary="Delete a webhook endpoint and its "
           "delivery log", tag=HOOKS, status=204)
def delete_webhook_view(endpoint_id: str) -> Any:
    webhooks.delete_endpoint(g.db, _account(), endpoint_id, actor=g.actor)


@operation("/webhooks/<endpoint_id>/test", "POST", summary="Send a test event now; the answer "
           "is the delivery (also in the log)", tag=HOOKS, response=DeliveryOut)
def test_webhook_view(endpoint_id: str) -> Any:
    s = _settings()
    return webhooks.send_test(g.db, g.account, endpoint_id, server_key=_key(),
                              allow_private=s.webhook_allow_private,
                              timeout=min(s.webhook_timeout, 10.0))


@operation("/webhooks/<endpoint_id>/rotate-secret", "POST", summary="A new signing secret, "
           "shown once; the previous one also signs until the overlap ends", tag=HOOKS,
           body=RotateRequest, response=IssuedWebhookOut)
def rotate_webhook_view(endpoint_id: str, body: dict[str, Any]) -> Any:
    endpoint, secret = webhooks.rotate_secret(
        g.db, _account(), endpoint_id, actor=g.actor, server_key=_key(),
        overlap=dt.timedelta(seconds=body["overlap_seconds"]))
    return {**webhook_out(endpoint), "secret": secret}


@operation("/webhooks/<endpoint_id>/deliveries", "GET", summary="The endpoint's delivery log, "
           "newest first", tag=HOOKS, query=DeliveriesQuery, response=DeliveryListOut)
def deliveries_view(endpoint_id: str, query: dict[str, Any]) -> Any:
    rows = webhooks.list_deliveries(g.db, g.account, endpoint_id, **query)
    return {"deliveries": rows,
            "next_before_id": rows[-1].id if len(rows) == query["limit"] else None}


@operation("/webhooks/<endpoint_id>/replay", "POST", summary="Deliver again, in order, from an "
           "event (its position or id) onwards", tag=HOOKS, body=ReplayRequest,
           response=WebhookOut)
def replay_webhook_view(endpoint_id: str, body: dict[str, Any]) -> Any:
    return webhook_out(webhooks.replay_from(g.db, _account(), endpoint_id, actor=g.actor,
                                            **body))
