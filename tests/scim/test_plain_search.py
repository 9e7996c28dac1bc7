"""A search without attribute parameters serves the stored documents without building models.

The stock scim2-server path (a model per resource, published and serialised) is the oracle:
every search here runs both ways on the same data and must give the same JSON, for users with
every attribute of the schemas, group memberships, a pending invitation, recorded activity, an
enterprise manager, and for groups with members, paged by index and by cursor.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask import Flask
from scim2_server.handler import ScimHandler

from scim_server.db import make_session_factory
from scim_server.domain import users as user_service
from scim_server.domain.actors import Actor
from scim_server.domain.mail import OutboxMailer
from scim_server.scim.handler import AccountScimHandler
from scim_server.storage.models import Account as AccountRow
from tests.scim.conftest import (
    ENTERPRISE,
    GROUP_SCHEMA,
    USER_SCHEMA,
    Account,
    ScimClient,
    user_body,
)


def rich_user(user_name: str, manager: str | None = None) -> dict[str, Any]:
    body = user_body(
        user_name,
        schemas=[USER_SCHEMA, ENTERPRISE],
        externalId=f"ext-{user_name}",
        name={"formatted": "Ms. Barbara J Jensen, III", "familyName": "Jensen",
              "givenName": "Barbara", "middleName": "Jane", "honorificPrefix": "Ms.",
              "honorificSuffix": "III"},
        displayName="Babs Jensen", nickName="Babs", profileUrl="https://login.example.com/bjensen",
        title="Tour Guide", userType="Viewer", preferredLanguage="en-US", locale="en-US",
        timezone="America/Los_Angeles", password="t1meMa$heen",
        emails=[{"value": user_name, "type": "work", "primary": True},
                {"value": "babs@jensen.example", "type": "home"}],
        phoneNumbers=[{"value": "555-555-5555", "type": "work"}],
        ims=[{"value": "someaimhandle", "type": "aim"}],
        photos=[{"value": "https://photos.example.com/profilephoto/72930000000Ccne/F",
                 "type": "photo"}],
        addresses=[{"type": "work", "streetAddress": "100 Universal City Plaza",
                    "locality": "Hollywood", "region": "CA", "postalCode": "91608",
                    "country": "USA", "formatted": "100 Universal City Plaza\nHollywood, CA",
                    "primary": True}],
        entitlements=[{"value": "Full Access"}], roles=[{"value": "Tour Guide"}],
        x509Certificates=[{"value": "MIIDQzCCAqygAwIBAgICEAAwDQYJKoZIhvcNAQEFBQAw"}],
    )
    body[ENTERPRISE] = {"employeeNumber": "701984", "costCenter": "4130",
                        "organization": "Universal Studios", "division": "Theme Park",
                        "department": "Tour Operations"}
    if manager is not None:
        body[ENTERPRISE]["manager"] = {"value": manager}
    return body


@pytest.fixture
def directory(app: Flask, account: Account, scim: ScimClient) -> dict[str, str]:
    boss = scim.post("/Users", rich_user("boss@acme.example")).get_json()["id"]
    report = scim.post("/Users", rich_user("report@acme.example", manager=boss)).get_json()["id"]
    plain = scim.post("/Users", user_body("plain@acme.example", active=False)).get_json()["id"]
    for name in ("alpha", "beta", "gamma"):
        scim.post("/Users", user_body(f"{name}@acme.example", displayName=name.title()))
    team = scim.post("/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "Team",
                                 "externalId": "team-1",
                                 "members": [{"value": boss}, {"value": report}]}).get_json()["id"]
    scim.post("/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "Nested",
                          "members": [{"value": team}, {"value": plain}]})
    with make_session_factory(app.extensions["scim_engine"])() as session:
        row = session.get(AccountRow, account.id)
        user_service.invite_user(session, row, email="invited@acme.example", actor=Actor(door="api"),
                                 mailer=OutboxMailer(), accept_url=lambda t: t)
        user_service.record_activity(session, row, report, actor=Actor(door="api"),
                                     at=dt.datetime(2026, 5, 4, 3, 2, 1, 123456, tzinfo=dt.UTC))
        session.commit()
    return {"boss": boss, "report": report}


SEARCHES = [
    "/Users",
    "/Users?count=2&startIndex=2",
    "/Users?count=0",
    '/Users?filter=userName eq "report@acme.example"',
    '/Users?filter=userName eq "nobody@acme.example"',
    '/Users?filter=emails[type eq "work"].value eq "boss@acme.example"',
    "/Users?sortBy=userName&sortOrder=descending",
    "/Users?sortBy=meta.lastModified",
    "/Users?count=2&cursor",
    "/Users?count=0&cursor",
    "/Groups",
    '/Groups?filter=displayName eq "Team"',
    "/Groups?count=1&cursor",
    '/?filter=displayName sw "T"',
]


def sealed_apart(body: dict[str, Any]) -> dict[str, Any]:
    """A list response with its cursors reduced to their presence: a sealed cursor is
    encrypted with a fresh nonce, so two seals of one position differ (they are followed in
    ``test_the_next_cursor_pages_the_same_way``)."""
    return {k: (bool(v) if k in ("nextCursor", "previousCursor") else v) for k, v in body.items()}


def both_ways(scim: ScimClient, monkeypatch: pytest.MonkeyPatch, path: str) -> tuple[Any, Any]:
    plain = scim.get(path)
    with monkeypatch.context() as patched:
        patched.setattr(AccountScimHandler, "search", ScimHandler.search)
        stock = scim.get(path)
    return plain, stock


@pytest.mark.parametrize("path", SEARCHES)
def test_a_plain_search_gives_what_the_generic_path_gives(
    directory: dict[str, str], scim: ScimClient, monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    plain, stock = both_ways(scim, monkeypatch, path)
    assert plain.status_code == stock.status_code == 200, (plain.get_json(), stock.get_json())
    assert plain.content_type == stock.content_type
    assert sealed_apart(plain.get_json()) == sealed_apart(stock.get_json())


def test_the_next_cursor_pages_the_same_way(
    directory: dict[str, str], scim: ScimClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    first_plain, first_stock = both_ways(scim, monkeypatch, "/Users?count=2&cursor")
    for first in (first_plain.get_json(), first_stock.get_json()):
        plain, stock = both_ways(scim, monkeypatch, f"/Users?count=2&cursor={first['nextCursor']}")
        assert sealed_apart(plain.get_json()) == sealed_apart(stock.get_json())
        assert plain.get_json()["previousCursor"]
        back = scim.get(f"/Users?count=2&cursor={plain.get_json()['previousCursor']}").get_json()
        assert back["Resources"] == first["Resources"]


def test_the_plain_documents_carry_what_the_issue_cares_about(
    directory: dict[str, str], scim: ScimClient
) -> None:
    """Not only equal to the stock path: right. No password, URLs for references, the
    account's status and activity."""
    found = scim.get('/Users?filter=userName eq "report@acme.example"').get_json()
    report = found["Resources"][0]
    assert "password" not in report
    assert report[ENTERPRISE]["manager"]["$ref"] == (
        f"http://localhost/scim/v2/Users/{directory['boss']}")
    assert report["meta"]["location"] == f"http://localhost/scim/v2/Users/{report['id']}"
    assert report["groups"][0]["$ref"].startswith("http://localhost/scim/v2/Groups/")
    extension = report["urn:scim-server:schemas:extension:account:1.0:User"]
    assert extension["status"] == "active"
    assert extension["lastActivity"].startswith("2026-05-04T03:02:01.123456")
    assert scim.get(f"/Users/{report['id']}").headers["ETag"] == report["meta"]["version"]


