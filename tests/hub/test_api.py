"""The hub over HTTP: the JSON shape and figures of /hub, the lists, duty CRUD, permissions,
another account's token seeing nothing, and bad input answered by a problem body (never a 500)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from scim_server.app import create_app
from scim_server.db import make_session_factory
from scim_server.settings import Settings
from tests.hub.world import NOW, World, build_world

API = "/api/v1"


class Client:
    def __init__(self, client: FlaskClient, token: str) -> None:
        self.client, self.token = client, token

    def call(self, method: str, path: str, body: Any = None, **query: Any) -> Any:
        return self.client.open(API + path, method=method, json=body, query_string=query,
                                headers={"Authorization": f"Bearer {self.token}"})


@pytest.fixture
def app(database_url: str) -> Flask:
    settings = Settings.from_env({}, database_url=database_url,
                                 secret_key="test-secret-key-0123456789")
    application = create_app(settings)
    application.config["TESTING"] = True
    application.extensions["hub_clock"] = lambda: NOW
    return application


@pytest.fixture
def world(app: Flask) -> Iterator[World]:
    with make_session_factory(app.extensions["scim_engine"])() as session:
        w = build_world(session)
        session.commit()
        yield w


@pytest.fixture
def api(app: Flask, world: World) -> Client:
    return Client(app.test_client(), world.secrets["alice"])


@pytest.fixture
def other(app: Flask, world: World) -> Client:
    return Client(app.test_client(), world.other_secret)


def assert_problem(resp: Any, status: int) -> dict[str, Any]:
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.content_type == "application/problem+json"
    body: dict[str, Any] = resp.get_json()
    assert body["status"] == status and body["detail"]
    return body


def test_the_hub_document(api: Client, world: World) -> None:
    resp = api.call("GET", "/hub")
    assert resp.status_code == 200
    hub = resp.get_json()
    assert hub["as_of"].startswith("2025-03-31T07:30:00")
    assert (hub["operators"]["total"], hub["operators"]["active_total"]) == (7, 5)
    first = hub["operators"]["active"][0]
    # The call itself is alice's latest activity (the API records it), hence no fixed time.
    assert first.pop("last_activity_at")
    assert first == {"id": world.users["alice"].id, "display_name": "Alice", "user_type": "Admin"}
    groups = hub["operator_groups"]
    assert (groups["total"], groups["without_members"]) == (4, 2)
    assert [g["display_name"] for g in groups["empty"]] == ["Alpha", "Zulu"]
    assert hub["api_users"]["total"] == 5
    assert hub["api_users"]["inactive_over_30_days"] == 2
    assert hub["on_duty"]["total"] == 3
    assert hub["seats"] == {"operators_used": 7, "operators_limit": 20, "paying_active": 3,
                            "paying_limit": 10, "links": hub["seats"]["links"]}
    assert (hub["resources"]["total"], hub["resources"]["production"]) == (3, 2)
    for card in ("operators", "operator_groups", "api_users", "on_duty", "seats", "resources"):
        assert hub[card]["links"], card
    assert hub["api_users"]["links"]["list"] == "/api/v1/api-users"
    assert hub["resources"]["links"]["permissions"] == "/api/v1/resources/permissions"


def test_every_link_of_the_hub_answers(api: Client) -> None:
    hub = api.call("GET", "/hub").get_json()
    links = [url for card in hub.values() if isinstance(card, dict)
             for url in card["links"].values() if url.startswith(API)]
    for url in links:
        path, _, query = url.removeprefix(API).partition("?")
        params = dict(p.split("=") for p in query.split("&")) if query else {}
        assert api.call("GET", path, **params).status_code == 200, url


def test_another_accounts_token_sees_its_own_hub(other: Client) -> None:
    hub = other.call("GET", "/hub").get_json()
    assert (hub["operators"]["total"], hub["api_users"]["total"]) == (1, 1)
    assert hub["operator_groups"]["empty"][0]["display_name"] == "Lonely"


def test_the_api_users_list(api: Client) -> None:
    body = api.call("GET", "/api-users", sort="-last_used", limit=2).get_json()
    assert (body["total"], body["limit"], body["offset"]) == (5, 2, 0)
    # Alice's token was used by this very call, so she is the most recent.
    assert [u["display_name"] for u in body["users"]] == ["Alice", "Frank"]
    alice = body["users"][0]
    assert [c["kind"] for c in alice["credentials"]] == ["scim", "api"]
    assert set(alice["credentials"][0]) == {"id", "kind", "name", "created_at", "last_used_at",
                                            "inactive_over_30_days"}


def test_duty_crud_and_on_duty(api: Client, world: World) -> None:
    gina = world.users["gina"].id  # pending: her schedule is kept but she is never on duty
    dave = world.users["dave"].id
    schedule = {"time_zone": "America/Sao_Paulo",
                "windows": [{"weekday": "monday", "start": "04:00", "end": "05:00"}]}
    resp = api.call("PUT", f"/users/{dave}/duty", schedule)
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["time_zone"] == "America/Sao_Paulo"
    # PUT without exceptions kept dave's "off" day.
    assert [e["kind"] for e in body["exceptions"]] == ["off"]
    (exc,) = body["exceptions"]
    assert api.call("DELETE", f"/users/{dave}/duty/exceptions/{exc['id']}").status_code == 204
    # 07:30 UTC is 04:30 in Sao Paulo (UTC-3): dave is on duty now.
    names = [u["display_name"] for u in api.call("GET", "/on-duty").get_json()["users"]]
    assert names == ["Alice", "Bob", "Dave", "Erin"]

    window = api.call("POST", f"/users/{dave}/duty/windows",
                      {"weekday": "sunday", "start": "23:00", "end": "01:00"})
    assert window.status_code == 201
    assert window.get_json()["crosses_midnight"] is True
    assert api.call("DELETE", f"/users/{dave}/duty/windows/{window.get_json()['id']}"
                    ).status_code == 204
    added = api.call("POST", f"/users/{dave}/duty/exceptions",
                     {"date": "2025-04-01", "kind": "on", "start": "22:00", "end": "02:00"})
    assert added.status_code == 201 and added.get_json()["kind"] == "on"
    assert len(api.call("GET", f"/users/{dave}/duty").get_json()["exceptions"]) == 1

    assert api.call("PUT", f"/users/{gina}/duty", schedule).status_code == 200
    assert api.call("DELETE", f"/users/{gina}/duty").status_code == 204
    assert api.call("GET", f"/users/{gina}/duty").get_json()["time_zone"] is None
    assert_problem(api.call("DELETE", f"/users/{gina}/duty"), 404)


def test_on_duty_at_an_instant(api: Client) -> None:
    body = api.call("GET", "/on-duty", at="2025-03-31T15:30:00+02:00").get_json()
    # 13:30 UTC: alice (15:30 Paris) and carol (13:30 UTC); bob's night is over.
    assert [u["display_name"] for u in body["users"]] == ["Alice", "Carol"]
    assert body["total"] == 2
    assert body["users"][0]["local_time"].startswith("2025-03-31T15:30:00")


def test_permissions_overview_and_grants(api: Client, world: World) -> None:
    body = api.call("GET", "/resources/permissions", kind="monitor").get_json()
    (monitor,) = body["resources"]
    bob = next(u for u in monitor["users"] if u["display_name"] == "Bob")
    assert bob["level"] == "edit" and bob["direct_level"] is None
    assert [g["display_name"] for g in bob["through_groups"]] == ["Ops", "Parent"]

    board, alpha = world.resources["board"], world.groups["alpha"].id
    resp = api.call("PUT", f"/resources/{board}/permissions/groups/{alpha}", {"level": "admin"})
    assert resp.status_code == 200 and resp.get_json()["level"] == "admin"
    resp = api.call("PUT", f"/resources/{board}/permissions/users/{world.users['dave'].id}",
                    {"level": "view"})
    assert resp.status_code == 200
    (row,) = api.call("GET", "/resources/permissions", resource_id=board).get_json()["resources"]
    assert ([g["id"] for g in row["groups"]], [u["display_name"] for u in row["users"]]) == (
        [alpha], ["Dave"])
    assert api.call("DELETE", f"/resources/{board}/permissions/groups/{alpha}").status_code == 204
    assert_problem(api.call("DELETE", f"/resources/{board}/permissions/groups/{alpha}"), 404)


def test_the_grants_are_audited(api: Client, world: World) -> None:
    board = world.resources["board"]
    api.call("PUT", f"/resources/{board}/permissions/users/{world.users['dave'].id}",
             {"level": "view"})
    entries = api.call("GET", "/audit", action="permission.grant").get_json()["entries"]
    assert [e["target_id"] for e in entries] == [board]


def test_another_accounts_token_sees_nothing_of_ours(other: Client, world: World) -> None:
    alice, board = world.users["alice"].id, world.resources["board"]
    ops = world.groups["ops"].id
    assert_problem(other.call("GET", f"/users/{alice}/duty"), 404)
    assert_problem(other.call("PUT", f"/users/{alice}/duty",
                              {"time_zone": "UTC", "windows": []}), 404)
    assert_problem(other.call("DELETE", f"/users/{alice}/duty"), 404)
    assert_problem(other.call("POST", f"/users/{alice}/duty/windows",
                              {"weekday": "monday", "start": "09:00", "end": "10:00"}), 404)
    assert_problem(other.call("PUT", f"/resources/{board}/permissions/groups/{ops}",
                              {"level": "view"}), 404)
    assert_problem(other.call("DELETE", f"/resources/{board}/permissions/users/{alice}"), 404)
    assert other.call("GET", "/resources/permissions", resource_id=board).get_json()[
        "resources"] == []
    users = other.call("GET", "/api-users").get_json()["users"]
    assert [u["display_name"] for u in users] == ["Stranger"]
    on_duty = other.call("GET", "/on-duty").get_json()["users"]
    assert [u["display_name"] for u in on_duty] == ["Stranger"]


def test_no_token_is_refused(app: Flask) -> None:
    assert_problem(app.test_client().get(API + "/hub"), 401)


@pytest.mark.parametrize(
    ("method", "path", "body", "query"),
    [
        ("GET", "/api-users", None, {"sort": "email"}),
        ("GET", "/api-users", None, {"limit": "0"}),
        ("GET", "/api-users", None, {"limit": "many"}),
        ("GET", "/api-users", None, {"colour": "red"}),
        ("GET", "/on-duty", None, {"at": "yesterday"}),
        ("GET", "/on-duty", None, {"at": "2025-03-31T07:30:00"}),  # no offset
        ("GET", "/resources/permissions", None, {"kind": "spaceship"}),
        ("GET", "/resources/permissions", None, {"production": "perhaps"}),
        ("PUT", "/users/{dave}/duty", {"time_zone": "Mars/Olympus", "windows": []}, {}),
        ("PUT", "/users/{dave}/duty", {"time_zone": "UTC"}, {}),
        ("PUT", "/users/{dave}/duty", {"time_zone": "UTC", "windows": "all"}, {}),
        ("PUT", "/users/{dave}/duty", {"time_zone": "UTC", "windows": [
            {"weekday": "funday", "start": "09:00", "end": "10:00"}]}, {}),
        ("PUT", "/users/{dave}/duty", {"time_zone": "UTC", "windows": [
            {"weekday": "monday", "start": "25:00", "end": "10:00"}]}, {}),
        ("PUT", "/users/{dave}/duty", {"time_zone": "UTC", "windows": [
            {"weekday": "monday", "start": "09:00", "end": "10:00"}] * 57}, {}),
        ("PUT", "/users/{dave}/duty", {"time_zone": 7, "windows": []}, {}),
        ("PUT", "/users/{dave}/duty", [1, 2], {}),
        ("POST", "/users/{dave}/duty/exceptions", {"date": "2025-02-30", "kind": "off"}, {}),
        ("POST", "/users/{dave}/duty/exceptions", {"date": "2025-04-01", "kind": "on"}, {}),
        ("POST", "/users/{dave}/duty/exceptions",
         {"date": "2025-04-01", "kind": "off", "start": "10:00"}, {}),
        ("PUT", "/resources/{board}/permissions/users/{dave}", {"level": "owner"}, {}),
        ("PUT", "/resources/{board}/permissions/users/{dave}", {}, {}),
    ],
)
def test_bad_input_is_a_problem(api: Client, world: World, method: str, path: str, body: Any,
                                query: dict[str, str]) -> None:
    path = path.format(dave=world.users["dave"].id, board=world.resources["board"])
    assert assert_problem(api.call(method, path, body, **query), 400)["title"] == "Invalid input"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/users/nobody/duty", None),
        ("GET", "/users/" + "x" * 300 + "/duty", None),
        ("DELETE", "/users/{dave}/duty/windows/nowindow", None),
        ("DELETE", "/users/{dave}/duty/exceptions/" + "e" * 100, None),
        ("PUT", "/resources/nothing/permissions/users/{dave}", {"level": "view"}),
        ("PUT", "/resources/{board}/permissions/groups/nogroup", {"level": "view"}),
        ("PUT", "/resources/{board}/permissions/users/{hank}", {"level": "view"}),  # deleted
    ],
)
def test_unknown_ids_are_404(api: Client, world: World, method: str, path: str,
                             body: Any) -> None:
    path = path.format(dave=world.users["dave"].id, board=world.resources["board"],
                       hank=world.users["hank"].id)
    assert_problem(api.call(method, path, body), 404)


def test_the_openapi_document_describes_the_hub(app: Flask) -> None:
    doc = app.test_client().get(API + "/openapi.json").get_json()
    for path in ("/hub", "/api-users", "/on-duty", "/users/{user_id}/duty",
                 "/users/{user_id}/duty/windows", "/users/{user_id}/duty/exceptions",
                 "/resources/permissions",
                 "/resources/{resource_id}/permissions/users/{user_id}",
                 "/resources/{resource_id}/permissions/groups/{group_id}"):
        assert path in doc["paths"], path
    hub = doc["components"]["schemas"]["HubOut"]["properties"]
    assert set(hub) == {"operators", "operator_groups", "api_users", "on_duty", "seats",
                        "resources", "webhooks", "as_of"}
    assert "inactive_over_30_days" in doc["components"]["schemas"]["HubApiUsersOut"]["properties"]
