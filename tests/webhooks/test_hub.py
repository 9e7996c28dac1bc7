"""The hub's webhook health: endpoints, failing ones, and the oldest event still waiting."""

from __future__ import annotations

import time
from dataclasses import replace

from scim_server.settings import Settings
from tests.scim.conftest import user_body
from tests.webhooks.conftest import Receiver, Setup, drain, register, worker


def test_the_hub_shows_webhook_health(setup: Setup, settings: Settings,
                                      receiver: Receiver) -> None:
    card = setup.api.get("/hub").get_json()["webhooks"]
    assert (card["endpoints"], card["failing"], card["oldest_undelivered_at"]) == (0, 0, None)
    assert card["links"]["list"] == "/api/v1/webhooks"

    good = register(setup.api, receiver.url + "/good")
    bad = register(setup.api, receiver.url + "/bad")
    receiver.answer = lambda m: 500 if m.path.endswith("/bad") else 200
    setup.scim.post("/Users", user_body("ada@acme.test"))
    feed = setup.api.get("/events").get_json()["events"]
    waiting = setup.api.get("/hub").get_json()["webhooks"]
    assert waiting["endpoints"] == 2 and waiting["oldest_undelivered_at"] is not None
    assert waiting["oldest_undelivered_seconds"] >= 0
    assert waiting["oldest_undelivered_at"][:19] == feed[0]["at"][:19]

    w = worker(setup, replace(settings, webhook_retry_window=0.2))
    drain(w, receiver, 1)
    deadline = time.monotonic() + 30
    while not setup.api.get(f"/webhooks/{bad['id']}").get_json()["failing"]:
        assert time.monotonic() < deadline
        w.run_once() or time.sleep(0.02)
    card = setup.api.get("/hub").get_json()["webhooks"]
    assert (card["endpoints"], card["failing"]) == (2, 1)
    assert card["oldest_undelivered_at"] is not None  # the failing one still waits

    # Paused, the failing endpoint no longer counts as waiting; the other is caught up.
    setup.api.patch(f"/webhooks/{bad['id']}", json={"enabled": False})
    card = setup.api.get("/hub").get_json()["webhooks"]
    assert card["oldest_undelivered_at"] is None and card["failing"] == 1
    assert setup.api.get(f"/webhooks/{good['id']}").get_json()["position"] == feed[-1]["position"]
