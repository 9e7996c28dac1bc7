"""Deliveries to a real receiver on 127.0.0.1: a SCIM create, a membership PATCH, a
deactivation and a delete each arrive, in order, signed so that the independent
``standardwebhooks`` package verifies them; event type filters; a rotated secret signing beside
the new one until its overlap ends."""

from __future__ import annotations

import datetime as dt

import pytest
from standardwebhooks import WebhookVerificationError

from scim_server.settings import Settings
from scim_server.storage.domain_tables import WebhookEndpoint
from tests.scim.conftest import (
    ada_joins_team_then_is_deactivated,
    user_body,
)
from tests.webhooks.conftest import (
    Receiver,
    Setup,
    account_position,
    drain,
    register,
    verified,
    worker,
)

PROV = "urn:ietf:params:scim:event:prov:"


def test_scim_changes_arrive_in_order_and_signed(setup: Setup, settings: Settings,
                                                 receiver: Receiver) -> None:
    hook = register(setup.api, receiver.url, description="the SaaS app")
    assert hook["secret"].startswith("whsec_")
    assert "secret" not in setup.api.get(f"/webhooks/{hook['id']}").get_json()

    scim = setup.scim
    ada, team = ada_joins_team_then_is_deactivated(scim)
    assert scim.delete(f"/Users/{ada}").status_code == 204
    expected = account_position(setup)

    drain(worker(setup, settings), receiver, expected)
    messages = receiver.unique()
    bodies = [verified(hook["secret"], m) for m in messages]
    assert [(b["type"].removeprefix(PROV), b["resource_id"]) for b in bodies] == [
        ("create:full", ada), ("create:full", team), ("patch:notice", team),
        ("deactivate", ada), ("patch:notice", team), ("delete", ada)]
    assert [b["position"] for b in bodies] == list(range(1, expected + 1))
    assert bodies[2]["added"] == [ada] and bodies[4]["removed"] == [ada]
    # The webhook-id is the event's id (receivers dedup on it), the same as the events API's.
    feed = setup.api.get("/events").get_json()["events"]
    assert [m.id for m in messages] == [e["id"] for e in feed]
    assert all("S3cret-pass!" not in m.body.decode() for m in messages)
    # A tampered body or another secret does not verify.
    with pytest.raises(WebhookVerificationError):
        verified(hook["secret"], type(messages[0])(messages[0].headers, messages[0].body + b" "))
    other = register(setup.api, receiver.url)
    with pytest.raises(WebhookVerificationError):
        verified(other["secret"], messages[0])

    # The delivery log and the endpoint's state say so.
    log = setup.api.get(f"/webhooks/{hook['id']}/deliveries").get_json()["deliveries"]
    assert [d["position"] for d in log] == list(range(expected, 0, -1))
    assert all(d["ok"] and d["status_code"] == 204 and d["attempt"] == 1 for d in log)
    state = setup.api.get(f"/webhooks/{hook['id']}").get_json()
    assert state["position"] == expected and not state["failing"]
    assert state["last_success_at"] is not None


def test_an_endpoint_gets_only_its_event_types_and_events_after_it_was_registered(
        setup: Setup, settings: Settings, receiver: Receiver) -> None:
    before = setup.scim.post("/Users", user_body("early@acme.test")).get_json()["id"]
    hook = register(setup.api, receiver.url, event_types=[PROV + "delete"])
    ada = setup.scim.post("/Users", user_body("ada@acme.test")).get_json()["id"]
    assert setup.scim.delete(f"/Users/{ada}").status_code == 204
    assert setup.scim.delete(f"/Users/{before}").status_code == 204
    w = worker(setup, settings)
    drain(w, receiver, 2)
    while w.run_once():
        pass
    assert [(b["type"], b["resource_id"]) for b in receiver.bodies()] == [
        (PROV + "delete", ada), (PROV + "delete", before)]
    # The filtered-out events are passed over: the endpoint is caught up.
    assert setup.api.get(f"/webhooks/{hook['id']}").get_json()["position"] == \
        account_position(setup)


def test_a_rotated_secret_signs_beside_the_new_one_until_its_overlap_ends(
        setup: Setup, settings: Settings, receiver: Receiver) -> None:
    hook = register(setup.api, receiver.url)
    rotated = setup.api.post(f"/webhooks/{hook['id']}/rotate-secret",
                             json={"overlap_seconds": 3600})
    assert rotated.status_code == 200, rotated.get_json()
    new = rotated.get_json()["secret"]
    assert new != hook["secret"] and rotated.get_json()["old_secret_expires_at"]
    setup.scim.post("/Users", user_body("ada@acme.test"))
    w = worker(setup, settings)
    drain(w, receiver, 1)
    first = receiver.unique()[0]
    assert len(first.headers["webhook-signature"].split(" ")) == 2
    assert verified(new, first) and verified(hook["secret"], first)

    # Once the overlap is over only the new secret signs.
    with setup.app.extensions["scim_sessions"]() as db:
        db.get(WebhookEndpoint, hook["id"]).old_secret_expires_at = (
            dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        db.commit()
    setup.scim.post("/Users", user_body("bob@acme.test"))
    drain(w, receiver, 2)
    second = receiver.unique()[1]
    assert len(second.headers["webhook-signature"].split(" ")) == 1
    assert verified(new, second)
    with pytest.raises(WebhookVerificationError):
        verified(hook["secret"], second)
    # Without overlap the old secret stops at once.
    again = setup.api.post(f"/webhooks/{hook['id']}/rotate-secret", json={"overlap_seconds": 0})
    assert again.get_json()["old_secret_expires_at"] is None


def test_a_secret_sealed_under_another_server_key_fails_with_a_reason(
        setup: Setup, settings: Settings, receiver: Receiver) -> None:
    hook = register(setup.api, receiver.url)
    setup.scim.post("/Users", user_body("ada@acme.test"))
    from dataclasses import replace

    w = worker(setup, replace(settings, secret_key="another-key-entirely-0123456789"))
    assert w.run_once()
    assert receiver.received == []
    state = setup.api.get(f"/webhooks/{hook['id']}").get_json()
    assert "SCIM_SECRET_KEY" in state["last_error"] and state["position"] == 0
    # Rotating the secret (with the server's key) makes the endpoint deliverable again.
    assert setup.api.post(f"/webhooks/{hook['id']}/rotate-secret", json={}).status_code == 200
