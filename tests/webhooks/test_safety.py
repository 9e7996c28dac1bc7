"""SSRF: endpoints on private, loopback, link-local, reserved or multicast addresses (or plain
http://) are refused unless the operator allows private targets, when they are registered and
again at every delivery (DNS can change)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from scim_server.domain.webhook_transport import Sender, UnsafeTarget, is_public, resolve
from scim_server.settings import Settings
from scim_server.storage.domain_tables import WebhookEndpoint
from tests.scim.conftest import user_body
from tests.webhooks.conftest import Receiver, Setup, make_setup, register, worker

PRIVATE = ["https://127.0.0.1/hook", "https://10.0.0.1/hook", "https://169.254.169.254/latest",
           "https://[::1]/hook", "https://192.168.1.20:8443/x", "https://172.16.0.1/",
           "https://100.64.0.1/", "https://0.0.0.0/", "https://224.0.0.1/",
           "https://[fe80::1]/", "https://[::ffff:127.0.0.1]/", "https://[fc00::1]/",
           "https://localhost/hook"]


@pytest.fixture
def strict(settings: Settings) -> Settings:
    return replace(settings, webhook_allow_private=False)


@pytest.fixture
def strict_setup(strict: Settings) -> Any:
    with make_setup(strict) as made:
        yield made


@pytest.mark.parametrize("url", PRIVATE)
def test_private_targets_are_refused_when_not_allowed(strict_setup: Setup, url: str) -> None:
    refused = strict_setup.api.post("/webhooks", json={"url": url})
    assert refused.status_code == 400, refused.get_json()
    body = refused.get_json()
    assert refused.content_type == "application/problem+json"
    assert "refused webhook URL" in body["detail"]
    assert strict_setup.api.get("/webhooks").get_json()["webhooks"] == []


@pytest.mark.parametrize("url,reason", [
    ("http://hooks.example.com/x", "https://"), ("ftp://example.com/", "https://"),
    ("https://user:pw@example.com/", "user name"), ("https:///nohost", "no host"),
    ("https://example.com:99999/", "not valid"), ("https://example.com/#frag", "fragment"),
])
def test_malformed_or_plain_http_urls_are_refused(strict_setup: Setup, url: str,
                                                  reason: str) -> None:
    refused = strict_setup.api.post("/webhooks", json={"url": url})
    assert refused.status_code == 400 and reason in refused.get_json()["detail"]


def test_the_address_is_checked_again_at_delivery_time(
        setup: Setup, strict: Settings, receiver: Receiver) -> None:
    # Registered while private targets were allowed; the worker runs without the allowance
    # (as if the name had moved to a private address since).
    hook = register(setup.api, receiver.url)
    setup.scim.post("/Users", user_body("ada@acme.test"))
    assert worker(setup, strict).run_once()
    assert receiver.received == []
    log = setup.api.get(f"/webhooks/{hook['id']}/deliveries").get_json()["deliveries"]
    assert log[0]["ok"] is False and log[0]["error"].startswith("refused:")
    assert "https://" in log[0]["error"]
    # An https:// URL is refused at delivery for its address.
    with setup.app.extensions["scim_sessions"]() as db:
        row = db.get(WebhookEndpoint, hook["id"])
        row.url, row.next_attempt_at = receiver.url.replace("http:", "https:"), None
        db.commit()
    assert worker(setup, strict).run_once()
    log = setup.api.get(f"/webhooks/{hook['id']}/deliveries").get_json()["deliveries"]
    assert log[0]["error"].startswith("refused:") and "127.0.0.1" in log[0]["error"]
    assert receiver.received == []


def test_a_name_is_connected_to_at_the_address_that_was_checked() -> None:
    # DNS rebinding: a resolver that answers a public address first and a private one after.
    answers = iter(["93.184.216.34", "127.0.0.1"])

    def rebinding(host: str, port: int, **_: Any) -> list[Any]:
        return [(2, 1, 6, "", (next(answers), port))]

    assert resolve("rebind.example", 443, allow_private=False, resolver=rebinding) == [
        "93.184.216.34"]
    with pytest.raises(UnsafeTarget):
        resolve("rebind.example", 443, allow_private=False, resolver=rebinding)
    # The connection goes to the checked address: the Sender never resolves twice.
    calls: list[str] = []

    def once(host: str, port: int, **_: Any) -> list[Any]:
        calls.append(host)
        return [(2, 1, 6, "", ("127.0.0.1", port))]

    outcome = Sender("https://rebind.example/x", timeout=0.5, allow_private=False,
                     resolver=once).send(b"{}", {})
    assert not outcome.ok and outcome.error and outcome.error.startswith("refused:")
    assert calls == ["rebind.example"]


def test_redirects_are_not_followed(setup: Setup, settings: Settings,
                                    receiver: Receiver) -> None:
    hook = register(setup.api, receiver.url)
    receiver.answer = lambda _m: 307
    setup.scim.post("/Users", user_body("ada@acme.test"))
    assert worker(setup, settings).run_once()
    log = setup.api.get(f"/webhooks/{hook['id']}/deliveries").get_json()["deliveries"]
    assert log[0]["status_code"] == 307 and not log[0]["ok"]
    assert len(receiver.received) == 1


def test_public_addresses() -> None:
    assert is_public("93.184.216.34") and is_public("2606:2800:220:1:248:1893:25c8:1946")
    for address in ("127.0.0.1", "10.1.2.3", "169.254.169.254", "::1", "fd00::1", "0.0.0.0",
                    "240.0.0.1", "239.1.1.1", "::ffff:10.0.0.1", "100.64.1.1"):
        assert not is_public(address), address
