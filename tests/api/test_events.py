"""Provisioning events (issue 15, parts 1 and 2): written with the change in every door, never
without it, and read back by cursor from GET /api/v1/events."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, insert, select

from scim_server.domain.events import seal_cursor
from scim_server.settings import Settings
from scim_server.storage.domain_tables import Event
from scim_server.storage.models import Account, new_id, utcnow
from tests.api.conftest import Api, Seed, add_user
from tests.scim.conftest import (
    ScimClient,
    ada_joins_team_then_is_deactivated,
    patch_body,
    user_body,
)

PROV = "urn:ietf:params:scim:event:prov:"
BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"


@pytest.fixture
def settings(database_url: str) -> Settings:
    # These tests write faster than an identity provider; the limits have their own tests.
    return Settings(database_url=database_url, secret_key="x" * 32, max_body_bytes=64 * 1024,
                    rate_limit_per_second=10**6, rate_limit_burst=10**6,
                    account_max_in_flight=64)


def feed(api: Api, **params: Any) -> list[dict[str, Any]]:
    """Every event after the start, following ``next`` as a client would."""
    seen: list[dict[str, Any]] = []
    after = None
    while True:
        query = {**params, **({"after": after} if after else {})}
        answer = api.get("/events", query_string=query)
        assert answer.status_code == 200, answer.get_json()
        body = answer.get_json()
        if not body["events"]:
            return seen
        seen.extend(body["events"])
        after = body["next"]


def kinds(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(e["type"].removeprefix(PROV), e["resource_id"]) for e in events]


def test_scim_changes_are_events_in_order(api: Api, scim: ScimClient, db: Any,
                                          seed: Seed) -> None:
    ada, team = ada_joins_team_then_is_deactivated(scim)
    assert scim.patch(f"/Users/{ada}", patch_body(
        {"op": "replace", "path": "title", "value": "Boss"})).status_code == 200
    assert scim.delete(f"/Users/{ada}").status_code == 204

    events = feed(api)
    assert kinds(events) == [("create:full", ada), ("create:full", team),
                             ("patch:notice", team), ("deactivate", ada),
                             ("patch:notice", ada),
                             ("patch:notice", team),  # leaving the group with the deletion
                             ("delete", ada)]
    assert [e["position"] for e in events] == sorted(e["position"] for e in events)
    assert events[2]["added"] == [ada] and events[2]["attributes"] == ["members"]
    assert events[4]["attributes"] == ["title"]
    assert events[5]["removed"] == [ada]
    assert {e["door"] for e in events} == {"scim"}
    assert events[0]["sub_id"] == {"format": "scim", "uri": f"/Users/{ada}"}
    # No secret in any body, and the deleted user's document is gone from the feed.
    text = str(events)
    assert "S3cret-pass!" not in text and "password" not in text
    assert "ada@acme.test" not in text


def test_admin_api_changes_are_events(api: Api, db: Any, seed: Seed) -> None:
    bob = add_user(db, seed, "bob")
    assert api.post(f"/users/{bob}/deactivate").status_code == 200
    assert api.post(f"/users/{bob}/activate").status_code == 200
    assert api.post(f"/users/{bob}/type", json={"user_type": "Viewer"}).status_code == 200
    events = feed(api)
    assert kinds(events) == [("deactivate", bob), ("activate", bob), ("patch:notice", bob)]
    assert events[2]["attributes"] == ["userType"]
    assert {e["door"] for e in events} == {"api"}
    assert all(e["actor_user_id"] == seed.admin_id for e in events)


def test_a_refused_change_writes_no_event(api: Api, scim: ScimClient, db: Any,
                                          seed: Seed) -> None:
    # The account has 5 seats; the boss and the SCIM token's owner hold two.
    for i in range(3):
        assert scim.post("/Users", user_body(f"u{i}@acme.test")).status_code == 201
    before = feed(api)
    refused = scim.post("/Users", user_body("one.more@acme.test"))
    assert refused.status_code == 409  # seats.exceeded, decided by the last statement
    guest = scim.post("/Users", user_body("g@blocked.test", userType="Guest"))
    assert guest.status_code in (400, 403, 409)  # guest.domain_not_allowed
    assert feed(api) == before


def test_a_412_writes_no_event(api: Api, scim: ScimClient) -> None:
    created = scim.post("/Users", user_body("ada@acme.test")).get_json()
    before = feed(api)
    stale = scim.patch(f"/Users/{created['id']}", patch_body(
        {"op": "replace", "path": "title", "value": "x"}), headers={"If-Match": 'W/"999"'})
    assert stale.status_code == 412
    assert feed(api) == before


def test_a_failed_bulk_operation_writes_no_event(api: Api, scim: ScimClient) -> None:
    ada = scim.post("/Users", user_body("ada@acme.test")).get_json()["id"]
    before = feed(api)
    answer = scim.post("/Bulk", {"schemas": [BULK], "Operations": [
        {"method": "POST", "path": "/Users", "bulkId": "a", "data": user_body("bea@acme.test")},
        {"method": "POST", "path": "/Users", "bulkId": "b", "data": user_body("ada@acme.test")},
        {"method": "PATCH", "path": "/Users/" + ada, "version": 'W/"999"',
         "data": patch_body({"op": "replace", "path": "title", "value": "x"})},
    ]})
    assert answer.status_code == 200
    statuses = [int(op["status"]) for op in answer.get_json()["Operations"]]
    assert statuses == [201, 409, 412]
    new = feed(api)[len(before):]
    assert [e["type"] for e in new] == [PROV + "create:full"]


def test_a_bulk_run_writes_its_events_in_one_batch(api: Api, scim: ScimClient) -> None:
    ops = [{"method": "POST", "path": "/Users", "bulkId": str(i),
            "data": user_body(f"bulk{i}@acme.test", userType="Viewer")} for i in range(50)]
    assert scim.post("/Bulk", {"schemas": [BULK], "Operations": ops}).status_code == 200
    events = feed(api, limit=7)
    assert [e["type"] for e in events] == [PROV + "create:full"] * 50
    assert [e["data"]["userName"] for e in events] == [f"bulk{i}@acme.test" for i in range(50)]


def test_ten_thousand_events_page_with_no_gap_and_no_repeat(app: Flask, api: Api, db: Any,
                                                            seed: Seed) -> None:
    # Written as the storage writes them (positions from the account's counter), cheaply.
    from scim_server.storage.events import append_events

    with app.extensions["scim_engine"].begin() as connection:
        for chunk in range(10):
            append_events(connection, seed.account_id, [
                {"id": new_id(), "at": utcnow(), "door": "scim", "event_type": PROV + "delete",
                 "resource_type": "User", "resource_id": f"u{chunk * 1000 + i}", "payload": {}}
                for i in range(1000)])
    events = feed(api, limit=1000)
    assert [e["resource_id"] for e in events] == [f"u{i}" for i in range(10_000)]
    assert [e["position"] for e in events] == list(range(1, 10_001))


def test_the_type_filter(api: Api, db: Any, seed: Seed) -> None:
    bob = add_user(db, seed, "bob")
    api.post(f"/users/{bob}/deactivate")
    api.post(f"/users/{bob}/activate")
    events = feed(api, type=PROV + "activate")
    assert kinds(events) == [("activate", bob)]
    assert api.get("/events", query_string={"type": "urn:nope"}).status_code == 400


def test_a_cursor_of_another_account_or_tampered_is_refused(app: Flask, api: Api,
                                                            other_api: Api, db: Any,
                                                            seed: Seed) -> None:
    bob = add_user(db, seed, "bob")
    api.post(f"/users/{bob}/deactivate")
    cursor = api.get("/events").get_json()["next"]
    refused = other_api.get("/events", query_string={"after": cursor})
    assert refused.status_code == 400
    assert refused.headers["Content-Type"].startswith("application/problem+json")
    forged = seal_cursor(b"not the server's key", seed.account_id, 0)
    assert api.get("/events", query_string={"after": forged}).status_code == 400
    assert api.get("/events", query_string={"after": "garbage"}).status_code == 400
    assert api.get("/events", query_string={"after": cursor}).get_json()["events"] == []
    # The other account sees none of this account's events.
    assert other_api.get("/events").get_json()["events"] == []


def test_the_feed_is_in_the_openapi_document(app: Flask) -> None:
    document = app.test_client().get("/api/v1/openapi.json").get_json()
    operation = next(v["get"] for k, v in document["paths"].items() if k.endswith("/events"))
    assert {p["name"] for p in operation["parameters"]} >= {"after", "limit", "type"}


def test_deleting_the_account_erases_its_events(app: Flask, api: Api, db: Any,
                                                seed: Seed) -> None:
    bob = add_user(db, seed, "bob")
    api.post(f"/users/{bob}/deactivate")
    with app.extensions["scim_engine"].begin() as connection:
        connection.execute(insert(Event.__table__).values(
            id=new_id(), account_id=seed.account_id, position=99, at=utcnow(), door="api",
            event_type=PROV + "delete", resource_type="User", resource_id="x", payload={}))
    db.expire_all()
    db.delete(db.get(Account, seed.account_id))
    db.commit()
    assert db.scalar(select(func.count()).select_from(Event)
                     .where(Event.account_id == seed.account_id)) == 0


def test_concurrent_writers_never_make_a_polling_reader_miss_an_event(
        app: Flask, api: Api, scim: ScimClient, database_url: str) -> None:
    # PostgreSQL runs the writers of one account side by side (SQLite has one writer at a
    # time): a position handed out before its transaction commits must not let a reader that
    # saw a later one store a cursor past it.
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has one writer at a time")
    import threading

    writers, per_writer = 4, 15
    done = threading.Event()
    seen: list[dict[str, Any]] = []
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            client = ScimClient(app.test_client(), scim.token)
            for i in range(per_writer):
                answer = client.post("/Users", user_body(f"w{n}-{i}@acme.test",
                                                         userType="Viewer"))
                assert answer.status_code == 201, answer.get_json()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    def read() -> None:
        reader = Api(app.test_client(), api.token)
        after = None
        try:
            while True:
                finished = done.is_set()  # read once more after the writers are done
                answer = reader.get("/events", query_string={"limit": 5, **(
                    {"after": after} if after else {})}).get_json()
                seen.extend(answer["events"])
                after = answer["next"]
                if finished and not answer["events"]:
                    return
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    poller = threading.Thread(target=read)
    poller.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    poller.join(timeout=120)
    assert not errors, errors
    every = feed(api)
    assert len(every) == writers * per_writer
    assert [e["id"] for e in seen] == [e["id"] for e in every]
