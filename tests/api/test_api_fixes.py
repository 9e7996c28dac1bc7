"""The admin API's fixes of issue 14: totals on paged lists, 404 documented where it is
returned (and only there), /openapi.json described as itself, BulkRequest's maxItems, one
problem ``type`` scheme, and the hub's paying-seats link."""

from __future__ import annotations

from typing import Any

from flask import Flask

from scim_server.api.problems import PROBLEM_BASE
from scim_server.domain.users import BULK_MAX
from scim_server.storage.models import Account
from tests.api.conftest import Api, Seed, add_user
from tests.domain.factories import make_resource, make_token, make_user


def test_users_list_has_the_total_of_its_filter(api: Api, db: Any, seed: Seed):
    for name, t in [("alice", "Member"), ("bob", "Viewer"), ("carol", "Member")]:
        add_user(db, seed, name, user_type=t)
    add_user(db, seed, "dan", status="inactive")
    first = api.get("/users", query_string={"limit": 2}).get_json()
    assert first["total"] == 5 and len(first["users"]) == 2
    # The total is the filter's, the same on every page.
    second = api.get("/users", query_string={"limit": 2, "cursor": first["next_cursor"]})
    assert second.get_json()["total"] == 5
    assert api.get("/users", query_string={"user_type": "Member"}).get_json()["total"] == 3
    assert api.get("/users", query_string={"q": "car"}).get_json()["total"] == 1
    assert api.get("/users", query_string={"status": "inactive"}).get_json()["total"] == 1


def test_paying_filter_and_the_hubs_paying_seats_link(api: Api, db: Any, seed: Seed):
    add_user(db, seed, "alice", user_type="Member")
    add_user(db, seed, "vera", user_type="Viewer")
    add_user(db, seed, "gus", user_type="Guest", domain="partner.test")
    add_user(db, seed, "ivan", user_type="Member", status="inactive")
    hub = api.get("/hub").get_json()
    link = hub["seats"]["links"]["paying"]
    listed = api.get(link.removeprefix("/api/v1")).get_json()
    names = sorted(u["display_name"] for u in listed["users"])
    # Active Admins and Members: the users that take the seats the card counts.
    assert names == ["Alice", "Boss"]
    assert listed["total"] == hub["seats"]["paying_active"] == 2
    others = api.get("/users", query_string={"paying": "false"}).get_json()
    assert sorted(u["display_name"] for u in others["users"]) == ["Gus", "Vera"]


def test_audit_resources_and_outbox_have_totals(api: Api, db: Any, seed: Seed):
    ids = [add_user(db, seed, name) for name in ("alice", "bob", "carol")]
    for uid in ids:
        assert api.post(f"/users/{uid}/deactivate").status_code == 200
    audit = api.get("/audit", query_string={"limit": 2}).get_json()
    assert audit["total"] == 3 and len(audit["entries"]) == 2
    rest = api.get("/audit", query_string={"limit": 2,
                                           "before_id": audit["next_before_id"]}).get_json()
    assert rest["total"] == 3 and len(rest["entries"]) == 1
    assert api.get("/audit", query_string={"target_id": ids[0]}).get_json()["total"] == 1

    account = db.get(Account, seed.account_id)
    for _ in range(3):
        make_resource(db, account, "board")
    make_resource(db, account, "automation")
    db.commit()
    page = api.get("/resources", query_string={"limit": 2}).get_json()
    assert page["total"] == 4 and len(page["resources"]) == 2
    assert api.get("/resources", query_string={"kind": "board"}).get_json()["total"] == 3

    api.post("/users/invite", json={"email": "new@acme.test"})
    assert api.get("/outbox").get_json()["total"] == 1


def test_not_found_is_documented_where_it_is_returned(app: Flask, api: Api, db: Any,
                                                      seed: Seed):
    doc = app.test_client().get("/api/v1/openapi.json").get_json()
    responses = {(path, method): op["responses"] for path, ops in doc["paths"].items()
                 for method, op in ops.items()}
    for path in ("/users/{user_id}", "/groups/{group_id}", "/resources/{resource_id}"):
        assert "404" in responses[(path, "get")]
    # Ids or tokens of a body can name nothing.
    for key in [("/invitations/accept", "post"), ("/tokens", "post"),
                ("/resources/claim", "post"), ("/oauth/clients", "post")]:
        assert "404" in responses[key], key
    # A list answers an unknown filter with an empty page, never 404.
    for key in [("/users", "get"), ("/groups", "get"), ("/audit", "get"), ("/hub", "get"),
                ("/openapi.json", "get")]:
        assert "404" not in responses[key], key
    # And the documented 404s are real.
    assert api.post("/tokens", json={"user_id": "nobody"}).status_code == 404
    assert api.post("/resources/claim", json={"resource_ids": ["nope"]}).status_code == 404


def test_the_document_describes_its_own_path(app: Flask):
    for prefix in ("/api/v1", "/platform/v1"):
        doc = app.test_client().get(prefix + "/openapi.json").get_json()
        op = doc["paths"]["/openapi.json"]["get"]
        assert set(op["responses"]["200"]["content"]) == {"application/json"}
        assert "OpenAPI" in op["responses"]["200"]["description"]
        assert "requestBody" not in op and op["security"] == []
        assert "OAuth" not in str(op)


def test_bulk_request_documents_the_rules_limit(app: Flask, api: Api, db: Any, seed: Seed):
    doc = app.test_client().get("/api/v1/openapi.json").get_json()
    ids = doc["components"]["schemas"]["BulkRequest"]["properties"]["user_ids"]
    assert ids["maxItems"] == BULK_MAX == 200
    # One more is refused by the rule, with its id.
    answer = api.post("/users/bulk", json={"user_ids": [f"u{i}" for i in range(BULK_MAX + 1)],
                                           "status": "inactive"})
    assert answer.status_code == 400 and answer.get_json()["rule"] == "bulk.too_many"


def test_every_problem_has_a_type_of_one_scheme(app: Flask, api: Api, db: Any, seed: Seed):
    account = db.get(Account, seed.account_id)
    member_token = make_token(db, account, make_user(db, account, "m"))
    db.commit()
    client = app.test_client()
    assert api.post("/groups", json={"display_name": "x"}).status_code == 201
    answers = {
        "invalid-input": api.post("/users/bulk", json={"user_ids": []}),
        "malformed": api.post("/groups", data="{", content_type="application/json"),
        "unauthorized": client.get("/api/v1/users"),
        "forbidden": client.get("/api/v1/users",
                                headers={"Authorization": f"Bearer {member_token}"}),
        "not-found": api.get("/users/nobody"),
        "no-such-operation": api.get("/nothing/here"),
        "method-not-allowed": api.put("/users"),
        "rule": api.post("/users/bulk", json={"user_ids": [seed.admin_id], "status": "inactive"}),
        "conflict": api.post("/groups", json={"display_name": "x"}),
        "platform-unauthorized": client.get("/platform/v1/accounts"),
    }
    expected = {
        "invalid-input": "invalid-input", "malformed": "invalid-input",
        "unauthorized": "unauthorized", "forbidden": "forbidden", "not-found": "not-found",
        "no-such-operation": "not-found", "method-not-allowed": "method-not-allowed",
        "rule": "rule:bulk.self", "conflict": "rule:group.name_taken",
        "platform-unauthorized": "unauthorized",
    }
    for name, answer in answers.items():
        assert answer.content_type == "application/problem+json", name
        body = answer.get_json()
        assert body["type"].startswith(PROBLEM_BASE), (name, body)
        assert body["type"] == PROBLEM_BASE + expected[name], (name, body)
