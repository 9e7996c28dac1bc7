"""A receiver that fails (500s, timeouts) gets retries with growing backoff; after it recovers
every event arrives, in order, none lost; an endpoint failing for the whole retry window is
marked failing (and clears on the next 2xx); "replay from here" delivers again, in order."""

from __future__ import annotations

import time
from dataclasses import replace

from scim_server.settings import Settings
from scim_server.storage.domain_tables import WebhookEndpoint
from tests.scim.conftest import user_body
from tests.webhooks.conftest import (
    Received,
    Receiver,
    Setup,
    account_position,
    drain,
    register,
    verified,
    worker,
)


def _make_users(setup: Setup, n: int) -> list[str]:
    return [setup.scim.post("/Users", user_body(f"u{i}@acme.test")).get_json()["id"]
            for i in range(n)]


def test_a_failing_receiver_gets_retries_with_backoff_then_every_event_in_order(
        setup: Setup, settings: Settings, receiver: Receiver) -> None:
    hook = register(setup.api, receiver.url)
    failures = {"left": 4}

    def flaky(message: Received) -> int:
        if failures["left"] > 0:
            failures["left"] -= 1
            if failures["left"] == 1:
                time.sleep(settings.webhook_timeout + 0.5)  # one timeout among the 500s
            return 500
        return 200

    receiver.answer = flaky
    ids = _make_users(setup, 5)
    w = worker(setup, settings)
    drain(w, receiver, 5)
    while w.run_once():
        pass

    # Every event once it recovered, in order, the first one retried.
    ok = [r for r in receiver.received if r.json["resource_id"] in ids][4:]
    assert [r.json["resource_id"] for r in ok] == ids
    assert all(verified(hook["secret"], r) for r in ok)
    assert {r.id for r in receiver.received[:4]} == {ok[0].id}

    log = setup.api.get(f"/webhooks/{hook['id']}/deliveries").get_json()["deliveries"][::-1]
    assert [(d["position"], d["attempt"], d["ok"]) for d in log[:5]] == [
        (1, 1, False), (1, 2, False), (1, 3, False), (1, 4, False), (1, 5, True)]
    assert log[0]["status_code"] == 500 and log[0]["error"] == "HTTP 500"
    assert log[2]["status_code"] is None and log[2]["error"] == "timed out"
    assert [d["position"] for d in log[4:]] == [1, 2, 3, 4, 5]
    assert setup.api.get(f"/webhooks/{hook['id']}").get_json()["position"] == 5


def test_backoff_grows_exponentially_with_jitter_up_to_the_cap(
        setup: Setup, settings: Settings, receiver: Receiver) -> None:
    hook = register(setup.api, receiver.url)
    receiver.answer = lambda _m: 503
    _make_users(setup, 1)
    slow = replace(settings, webhook_backoff_base=100.0, webhook_backoff_max=1000.0)
    delays = []
    for jitter in (0.0, 0.999, 0.0, 0.0, 0.0):
        w = worker(setup, slow, jitter=lambda j=jitter: j)
        with setup.app.extensions["scim_sessions"]() as db:
            db.get(WebhookEndpoint, hook["id"]).next_attempt_at = None
            db.commit()
        assert w.run_once()
        with setup.app.extensions["scim_sessions"]() as db:
            row = db.get(WebhookEndpoint, hook["id"])
            delays.append((row.next_attempt_at - row.last_attempt_at).total_seconds())
        # Not due yet: the worker leaves it alone.
        assert not w.run_once()
    # base * 2^(n-1), times a factor in [0.5, 1), capped.
    assert [round(d) for d in delays] == [50, 200, 200, 400, 500]


def test_an_endpoint_failing_for_the_retry_window_is_marked_failing_until_it_recovers(
        setup: Setup, settings: Settings, receiver: Receiver) -> None:
    hook = register(setup.api, receiver.url)
    receiver.answer = lambda _m: 500
    _make_users(setup, 2)
    short = replace(settings, webhook_retry_window=0.3)
    w = worker(setup, short)
    deadline = time.monotonic() + 30
    while not setup.api.get(f"/webhooks/{hook['id']}").get_json()["failing"]:
        assert time.monotonic() < deadline
        if not w.run_once():
            time.sleep(0.02)
    state = setup.api.get(f"/webhooks/{hook['id']}").get_json()
    assert state["failing_since"] and state["last_error"] == "HTTP 500" and state["position"] == 0
    listed = setup.api.get("/webhooks").get_json()["webhooks"]
    assert [h["failing"] for h in listed] == [True]

    receiver.answer = lambda _m: 200
    drain(w, receiver, 2)
    while w.run_once():
        pass
    state = setup.api.get(f"/webhooks/{hook['id']}").get_json()
    assert not state["failing"] and state["failing_since"] is None and state["position"] == 2


def test_replay_from_here_delivers_again_in_order(setup: Setup, settings: Settings,
                                                  receiver: Receiver) -> None:
    hook = register(setup.api, receiver.url)
    _make_users(setup, 4)
    w = worker(setup, settings)
    drain(w, receiver, 4)
    log = setup.api.get(f"/webhooks/{hook['id']}/deliveries").get_json()["deliveries"]
    third = next(d for d in log if d["position"] == 3)
    replayed = setup.api.post(f"/webhooks/{hook['id']}/replay",
                              json={"event_id": third["event_id"]})
    assert replayed.status_code == 200 and replayed.get_json()["position"] == 2
    while w.run_once():
        pass
    assert [b["position"] for b in receiver.bodies()] == [1, 2, 3, 4, 3, 4]
    assert setup.api.post(f"/webhooks/{hook['id']}/replay", json={"position": 1}
                          ).status_code == 200
    while w.run_once():
        pass
    assert [b["position"] for b in receiver.bodies()][6:] == [1, 2, 3, 4]
    assert account_position(setup) == 4


def test_a_paused_endpoint_gets_nothing_until_enabled_again(
        setup: Setup, settings: Settings, receiver: Receiver) -> None:
    hook = register(setup.api, receiver.url)
    paused = setup.api.patch(f"/webhooks/{hook['id']}", json={"enabled": False})
    assert paused.status_code == 200 and paused.get_json()["enabled"] is False
    _make_users(setup, 2)
    w = worker(setup, settings)
    assert not w.run_once() and receiver.received == []
    setup.api.patch(f"/webhooks/{hook['id']}", json={"enabled": True})
    drain(w, receiver, 2)
    assert [b["position"] for b in receiver.bodies()] == [1, 2]
