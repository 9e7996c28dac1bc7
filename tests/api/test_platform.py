"""The platform API (/platform/v1): operator tokens only, accounts created, listed, changed,
suspended, resumed and deleted, errors as problem+json with rule ids, its own OpenAPI document."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from scim_server.domain.operators import issue_operator_token, revoke_operator_token

SCIM_USER = "urn:ietf:params:scim:schemas:core:2.0:User"


@pytest.fixture
def operator_token(app: Flask) -> str:
    with app.extensions["scim_sessions"]() as session:
        _, secret = issue_operator_token(session, name="billing")
        session.commit()
    return secret


class Platform:
    def __init__(self, client: FlaskClient, token: str) -> None:
        self.client, self.headers = client, {"Authorization": f"Bearer {token}"}

    def __call__(self, method: str, path: str, json: Any = None, **kw: Any) -> Any:
        return self.client.open("/platform/v1" + path, method=method, json=json,
                                headers=self.headers, **kw)


@pytest.fixture
def platform(app: Flask, operator_token: str) -> Platform:
    return Platform(app.test_client(), operator_token)


def test_an_account_made_by_the_platform_api_provisions_over_scim(platform: Platform,
                                                                   app: Flask) -> None:
    made = platform("POST", "/accounts", {"name": "Initech", "domains": ["initech.example"],
                                          "plan": "free", "seats": 3})
    assert made.status_code == 201, made.get_json()
    body = made.get_json()
    assert (body["plan"], body["seats_limit"], body["operators_limit"]) == ("free", 3, 50)
    assert made.headers["Cache-Control"] == "no-store"  # secrets inside
    scim = app.test_client()
    created = scim.post("/scim/v2/Users", json={"schemas": [SCIM_USER],
                                                "userName": "a@initech.example"},
                        headers={"Authorization": f"Bearer {body['scim_token']}",
                                 "Content-Type": "application/scim+json"})
    assert created.status_code == 201
    shown = platform("GET", f"/accounts/{body['id']}").get_json()
    assert (shown["seats_used"], shown["users"]) == (2, 2)

    # Lower than the usage: refused with its rule, unless forced.
    refused = platform("PATCH", f"/accounts/{body['id']}", {"seats": 1})
    assert refused.status_code == 409 and refused.get_json()["rule"] == "plan.below_usage"
    assert refused.content_type == "application/problem+json"
    forced = platform("PATCH", f"/accounts/{body['id']}", {"seats": 1, "force": True,
                                                          "rate_limit_per_second": 100})
    assert forced.status_code == 200
    assert (forced.get_json()["seats_limit"], forced.get_json()["rate_limit_per_second"]) == (
        1, 100)
    unknown = platform("PATCH", f"/accounts/{body['id']}", {"plan": "gold"})
    assert unknown.status_code == 400 and unknown.get_json()["rule"] == "plan.unknown"


def test_suspend_resume_tokens_and_delete(platform: Platform, app: Flask) -> None:
    body = platform("POST", "/accounts", {"name": "Umbrella"}).get_json()
    issued = platform("POST", f"/accounts/{body['id']}/scim-tokens", {"name": "okta"})
    assert issued.status_code == 201 and issued.get_json()["token"].startswith("scim_")
    scim = app.test_client()
    headers = {"Authorization": f"Bearer {issued.get_json()['token']}"}
    assert scim.get("/scim/v2/Users", headers=headers).status_code == 200
    assert platform("POST", f"/accounts/{body['id']}/suspend").get_json()["status"] == "suspended"
    assert scim.get("/scim/v2/Users", headers=headers).status_code == 403
    assert platform("POST", f"/accounts/{body['id']}/resume").get_json()["status"] == "active"
    assert scim.get("/scim/v2/Users", headers=headers).status_code == 200
    assert platform("DELETE", f"/accounts/{body['id']}").status_code == 204
    assert platform("GET", f"/accounts/{body['id']}").status_code == 404
    assert scim.get("/scim/v2/Users", headers=headers).status_code == 401


def test_accounts_are_listed_a_page_at_a_time(platform: Platform) -> None:
    for name in ("a1", "a2", "a3", "a4", "a5"):
        assert platform("POST", "/accounts", {"name": name}).status_code == 201
    seen: list[str] = []
    page = platform("GET", "/accounts", query_string={"limit": 2}).get_json()
    total = page["total"]
    while True:
        # The total is every account's, the same on every page (issue 14).
        assert page["total"] == total
        seen += [a["name"] for a in page["accounts"]]
        if page["next_cursor"] is None:
            break
        page = platform("GET", "/accounts", query_string={
            "limit": 2, "cursor": page["next_cursor"]}).get_json()
    assert [n for n in seen if n.startswith("a")] == ["a1", "a2", "a3", "a4", "a5"]
    assert total == len(seen)


def test_only_operator_tokens_open_the_platform_api_and_they_open_nothing_else(
    app: Flask, platform: Platform, operator_token: str
) -> None:
    made = platform("POST", "/accounts", {"name": "Hooli"}).get_json()
    client = app.test_client()
    scim_token = {"Authorization": f"Bearer {made['scim_token']}"}
    assert client.get("/platform/v1/accounts", headers=scim_token).status_code == 401
    assert client.get("/platform/v1/accounts").status_code == 401
    operator = {"Authorization": f"Bearer {operator_token}"}
    assert client.get("/scim/v2/Users", headers=operator).status_code == 401
    assert client.get("/api/v1/users", headers=operator).status_code == 401
    with app.extensions["scim_sessions"]() as session:
        from scim_server.domain.operators import authenticate_operator

        token = authenticate_operator(session, operator_token)
        assert token is not None
        revoke_operator_token(session, token.id)
        session.commit()
    assert platform("GET", "/accounts").status_code == 401


def test_the_platform_api_has_its_own_openapi_document(app: Flask) -> None:
    document = app.test_client().get("/platform/v1/openapi.json").get_json()
    assert document["servers"] == [{"url": "/platform/v1"}]
    assert set(document["paths"]) >= {
        "/accounts", "/accounts/{account_id}", "/accounts/{account_id}/suspend",
        "/accounts/{account_id}/resume", "/accounts/{account_id}/scim-tokens"}
    admin = app.test_client().get("/api/v1/openapi.json").get_json()
    assert not any(path.startswith("/accounts") for path in admin["paths"])
