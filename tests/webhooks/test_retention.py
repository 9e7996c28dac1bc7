"""The worker purges events and delivery logs older than the retention period (default 30
days); and the webhook settings are read and checked like every other setting."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select, update

from scim_server.settings import Settings, SettingsError
from scim_server.storage.domain_tables import Event, WebhookDelivery
from tests.scim.conftest import user_body
from tests.webhooks.conftest import Receiver, Setup, drain, register, worker


def test_old_events_and_delivery_logs_are_purged(setup: Setup, settings: Settings,
                                                 receiver: Receiver) -> None:
    hook = register(setup.api, receiver.url)
    for i in range(4):
        setup.scim.post("/Users", user_body(f"u{i}@acme.test"))
    w = worker(setup, settings)
    drain(w, receiver, 4)
    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=31)
    with setup.app.extensions["scim_sessions"]() as db:
        db.execute(update(Event).where(Event.position <= 2).values(at=old))
        db.execute(update(WebhookDelivery).where(WebhookDelivery.position == 1).values(at=old))
        db.commit()
    assert w.purge() == 3
    with setup.app.extensions["scim_sessions"]() as db:
        assert list(db.scalars(select(Event.position).order_by(Event.position))) == [3, 4]
        assert db.scalar(select(func.count()).select_from(WebhookDelivery)) == 3
    # The feed goes on from what is left; the endpoint is not disturbed.
    assert [e["position"] for e in setup.api.get("/events").get_json()["events"]] == [3, 4]
    assert setup.api.get(f"/webhooks/{hook['id']}").get_json()["position"] == 4


@pytest.mark.parametrize("env,message", [
    ({"SCIM_WEBHOOK_ALLOW_PRIVATE": "maybe"}, "SCIM_WEBHOOK_ALLOW_PRIVATE must be true or false"),
    ({"SCIM_WEBHOOK_BACKOFF_BASE": "0"}, "SCIM_WEBHOOK_BACKOFF_BASE must be a positive"),
    ({"SCIM_WEBHOOK_TIMEOUT": "nan"}, "SCIM_WEBHOOK_TIMEOUT must be a positive"),
    ({"SCIM_WEBHOOK_TIMEOUT": "30", "SCIM_WEBHOOK_LEASE": "20"},
     "SCIM_WEBHOOK_LEASE must be longer than SCIM_WEBHOOK_TIMEOUT"),
    ({"SCIM_EVENT_RETENTION_DAYS": "0"}, "SCIM_EVENT_RETENTION_DAYS must be positive"),
])
def test_bad_webhook_settings_are_refused(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)


def test_webhook_settings_are_read() -> None:
    read = Settings.from_env({"SCIM_WEBHOOK_ALLOW_PRIVATE": "true",
                              "SCIM_WEBHOOK_BACKOFF_BASE": "0.5",
                              "SCIM_EVENT_RETENTION_DAYS": "7"})
    assert read.webhook_allow_private is True and read.webhook_backoff_base == 0.5
    assert read.event_retention_days == 7
    assert Settings.from_env({}).webhook_allow_private is False
