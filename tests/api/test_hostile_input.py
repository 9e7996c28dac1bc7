"""Hostile input through the admin API (issue 11): strings no engine stores are a problem naming
the field, never a 500; every response is private (no-store, nosniff), token secrets included."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Api, Seed


@pytest.mark.parametrize("raw,field", [
    ('{"email": "new@acme.test", "display_name": "\\ud800"}', "display_name"),
    ('{"email": "new@acme.test", "display_name": "a\\udfffb"}', "display_name"),
    ('{"email": "new@acme.test", "display_name": "x\\u0000y"}', "display_name"),
    ('{"email": "new@acme.test", "user_type": "\\ud800"}', "user_type"),
])
def test_an_unstorable_string_in_an_invite_is_a_problem(api: Api, raw: str, field: str) -> None:
    before = api.get("/users").get_json()["users"]
    r = api.post("/users/invite", data=raw.encode(), content_type="application/json")
    assert r.status_code == 400, r.get_data(as_text=True)
    assert r.content_type == "application/problem+json"
    assert field in r.get_json()["errors"], r.get_json()
    assert api.get("/users").get_json()["users"] == before


def test_an_unstorable_string_anywhere_is_a_problem(api: Api, seed: Seed) -> None:
    me = seed.admin_id
    r = api.patch(f"/users/{me}", data=b'{"notifications": {"digest": "\\ud800"}}',
                  content_type="application/json")
    assert r.status_code == 400 and "notifications" in r.get_json()["errors"], r.get_data(as_text=True)
    r = api.get("/users?q=a%00b")
    assert r.status_code == 400 and "q" in r.get_json()["errors"], r.get_data(as_text=True)


def test_a_surrogate_pair_is_text(api: Api) -> None:
    r = api.post("/users/invite", data=b'{"email": "pair@acme.test", "display_name": "a\\ud83d\\ude00"}',
                 content_type="application/json")
    assert r.status_code == 201, r.get_data(as_text=True)
    assert r.get_json()["display_name"] == "a\U0001f600"


def assert_private(response: Any) -> None:
    assert response.headers.get("Cache-Control") == "no-store", dict(response.headers)
    assert response.headers.get("X-Content-Type-Options") == "nosniff", dict(response.headers)


def test_every_api_response_is_private(api: Api, app: Any, seed: Seed) -> None:
    issued = api.post("/tokens", json={"name": "script"})
    assert issued.status_code == 201 and issued.get_json()["token"]
    assert_private(issued)  # the one response that shows a new secret
    client = api.post("/oauth/clients", json={"name": "ci"})
    assert client.status_code == 201 and client.get_json()["client_secret"]
    assert_private(client)
    anonymous = app.test_client()
    for response in (
        api.get("/users"),
        api.get("/hub"),
        api.get("/users/nope"),                            # 404
        api.get("/users?limit=0"),                         # 400
        anonymous.get("/api/v1/users"),                    # 401
        anonymous.get("/api/v1/openapi.json"),
        anonymous.post("/api/v1/oauth/token", data={"grant_type": "client_credentials"}),
    ):
        assert_private(response)


def test_a_method_the_path_does_not_take_is_a_405_with_allow(api: Api, app: Any, seed: Seed) -> None:
    for method, path, allowed in (("put", "/users", {"GET"}), ("put", "/openapi.json", {"GET"}),
                                  ("delete", "/tokens", {"GET", "POST"})):
        r = getattr(api, method)(path)
        assert r.status_code == 405, (method, path, r.get_data(as_text=True))
        assert r.content_type == "application/problem+json"
        assert set(r.headers["Allow"].split(", ")) == allowed, (method, path, r.headers)
    r = app.test_client().open("/api/v1/users", method="TRACE")
    assert r.status_code == 405 and "GET" in r.headers["Allow"]
    assert api.get("/no/such/thing").status_code == 404


def test_a_row_id_past_64_bits_is_a_problem(api: Api) -> None:
    r = api.get("/audit?before_id=57670148536057602048")
    assert r.status_code == 400 and "before_id" in r.get_json()["errors"], r.get_data(as_text=True)
