"""/api/v1/webhooks: Admin-only, one account's endpoints only, problem+json for every bad
input, a test event sent and logged, documented in the OpenAPI document."""

from __future__ import annotations

from scim_server.settings import Settings
from tests.webhooks.conftest import Receiver, Setup, register, verified

PROV = "urn:ietf:params:scim:event:prov:"


def test_register_read_change_delete(setup: Setup, receiver: Receiver) -> None:
    hook = register(setup.api, receiver.url, event_types=[PROV + "delete"],
                    description="offboarding")
    assert hook["event_types"] == [PROV + "delete"] and hook["enabled"] is True
    listed = setup.api.get("/webhooks").get_json()["webhooks"]
    assert [h["id"] for h in listed] == [hook["id"]] and "secret" not in listed[0]

    changed = setup.api.patch(f"/webhooks/{hook['id']}", json={
        "event_types": [], "description": None, "url": receiver.url + "/v2"})
    assert changed.status_code == 200, changed.get_json()
    body = changed.get_json()
    assert body["event_types"] == [] and body["description"] is None
    assert body["url"].endswith("/hooks/v2")

    audit = setup.api.get("/audit").get_json()["entries"]
    assert {"webhook.create", "webhook.update"} <= {e["action"] for e in audit}
    assert setup.api.delete(f"/webhooks/{hook['id']}").status_code == 204
    assert setup.api.get(f"/webhooks/{hook['id']}").status_code == 404
    assert setup.api.get("/webhooks").get_json()["webhooks"] == []


def test_bad_inputs_are_problems(setup: Setup, receiver: Receiver) -> None:
    cases = [
        {}, {"url": 5}, {"url": receiver.url, "event_types": ["nope"]},
        {"url": receiver.url, "enabled": "yes"}, {"url": receiver.url, "secret": "mine"},
        {"url": "x" * 2001}, {"url": "not a url"},
    ]
    for body in cases:
        answer = setup.api.post("/webhooks", json=body)
        assert answer.status_code == 400, (body, answer.get_json())
        assert answer.content_type == "application/problem+json"
    hook = register(setup.api, receiver.url)
    for path, body in [
        (f"/webhooks/{hook['id']}/replay", {}),
        (f"/webhooks/{hook['id']}/replay", {"position": 1, "event_id": "x"}),
        (f"/webhooks/{hook['id']}/replay", {"position": 99}),
        (f"/webhooks/{hook['id']}/rotate-secret", {"overlap_seconds": -1}),
        (f"/webhooks/{hook['id']}/rotate-secret", {"overlap_seconds": 10**9}),
    ]:
        answer = setup.api.post(path, json=body)
        assert answer.status_code == 400, (path, body, answer.get_json())
        assert answer.content_type == "application/problem+json"
    assert setup.api.post(f"/webhooks/{hook['id']}/replay", json={"event_id": "nope"}
                          ).status_code == 404
    assert setup.api.get(f"/webhooks/{hook['id']}/deliveries",
                         query_string={"limit": 0}).status_code == 400
    assert setup.api.patch(f"/webhooks/{hook['id']}", json={"url": "ftp://example.com/"}
                           ).status_code == 400
    assert setup.api.get("/webhooks/unknown").status_code == 404


def test_another_account_sees_and_changes_nothing(setup: Setup, receiver: Receiver) -> None:
    hook = register(setup.api, receiver.url)
    other = setup.other_api
    assert other.get("/webhooks").get_json()["webhooks"] == []
    for method, path in [("get", ""), ("patch", ""), ("delete", ""), ("post", "/test"),
                         ("post", "/rotate-secret"), ("get", "/deliveries"),
                         ("post", "/replay")]:
        kwargs = {"json": {"description": "x"}} if method == "patch" else {}
        if path == "/replay":
            kwargs = {"json": {"position": 1}}
        answer = getattr(other, method)(f"/webhooks/{hook['id']}{path}", **kwargs)
        assert answer.status_code == 404, (method, path)
    assert receiver.received == []
    no_token = setup.api.client.get("/api/v1/webhooks")
    assert no_token.status_code == 401


def test_a_test_event_is_sent_signed_and_logged(setup: Setup, settings: Settings,
                                                receiver: Receiver) -> None:
    hook = register(setup.api, receiver.url)
    sent = setup.api.post(f"/webhooks/{hook['id']}/test")
    assert sent.status_code == 200, sent.get_json()
    result = sent.get_json()
    assert result["ok"] is True and result["status_code"] == 204
    body = verified(hook["secret"], receiver.received[0])
    assert body["type"] == "urn:scim-server:webhook:test" and body["endpoint_id"] == hook["id"]
    assert receiver.received[0].id == result["event_id"]
    log = setup.api.get(f"/webhooks/{hook['id']}/deliveries").get_json()["deliveries"]
    assert [d["event_id"] for d in log] == [result["event_id"]]

    receiver.answer = lambda _m: 500
    failed = setup.api.post(f"/webhooks/{hook['id']}/test").get_json()
    assert failed["ok"] is False and failed["status_code"] == 500
    # The feed did not move: a test event is not an event of the account.
    assert setup.api.get("/events").get_json()["events"] == []


def test_the_operations_are_in_the_openapi_document(setup: Setup) -> None:
    doc = setup.api.client.get("/api/v1/openapi.json").get_json()
    paths = doc["paths"]
    assert set(paths["/webhooks"]) == {"get", "post"}
    assert set(paths["/webhooks/{endpoint_id}"]) == {"get", "patch", "delete"}
    for action in ("test", "rotate-secret", "replay"):
        assert "post" in paths[f"/webhooks/{{endpoint_id}}/{action}"]
    assert "get" in paths["/webhooks/{endpoint_id}/deliveries"]
    assert "secret" in doc["components"]["schemas"]["IssuedWebhookOut"]["properties"]
