"""The account's operator and paying-seat counts (kept on the account row) always equal a real
count of its users, whichever door changed them."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import func, select

from scim_server.db import make_session_factory
from scim_server.domain import users as user_service
from scim_server.domain.actors import Actor
from scim_server.domain.mail import OutboxMailer
from scim_server.storage.models import Account as AccountRow
from scim_server.storage.models import User
from tests.scim.conftest import Account, ScimClient, patch_body, user_body


def assert_counts_true(app: Flask, account_id: str) -> None:
    with make_session_factory(app.extensions["scim_engine"])() as session:
        kept = session.execute(select(AccountRow.operators_used, AccountRow.paying_active)
                               .where(AccountRow.id == account_id)).one()
        real_operators = session.scalar(select(func.count()).select_from(User).where(
            User.account_id == account_id, User.status != "deleted"))
        real_paying = session.scalar(select(func.count()).select_from(User).where(
            User.account_id == account_id, User.status == "active",
            User.user_type.in_(("Admin", "Member"))))
    assert (kept.operators_used, kept.paying_active) == (real_operators, real_paying)


def test_counts_follow_every_kind_of_change(app: Flask, account: Account, scim: ScimClient) -> None:
    assert_counts_true(app, account.id)  # the bootstrap Admin
    member = scim.post("/Users", user_body("m@acme.example")).get_json()
    viewer = scim.post("/Users", user_body("v@acme.example", userType="Viewer")).get_json()
    assert_counts_true(app, account.id)
    scim.patch(f"/Users/{member['id']}", patch_body({"op": "replace", "path": "active", "value": False}))
    assert_counts_true(app, account.id)
    scim.put(f"/Users/{viewer['id']}", user_body("v@acme.example", userType="Member"))
    assert_counts_true(app, account.id)
    # A refused change leaves the counts as they were (its transaction rolls back).
    refused = scim.patch(f"/Users/{viewer['id']}", patch_body(
        {"op": "replace", "path": "userType", "value": "Owner"}))
    assert refused.status_code == 400
    assert_counts_true(app, account.id)
    bulk = scim.post("/Bulk", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
                               "Operations": [
        {"method": "POST", "path": "/Users", "bulkId": "a", "data": user_body("b1@acme.example")},
        {"method": "POST", "path": "/Users", "bulkId": "b", "data": user_body("b2@acme.example", userType="Nope")},
        {"method": "DELETE", "path": f"/Users/{member['id']}"},
    ]})
    assert [op["status"] for op in bulk.get_json()["Operations"]] == ["201", "400", "204"]
    assert_counts_true(app, account.id)
    with make_session_factory(app.extensions["scim_engine"])() as session:
        row = session.get(AccountRow, account.id)
        user_service.invite_user(session, row, email="inv@acme.example", actor=Actor(door="api"),
                                 mailer=OutboxMailer(), accept_url=lambda t: t)
        user_service.change_user_type(session, row, viewer["id"], "Viewer", actor=Actor(door="ui"))
        session.commit()
    assert_counts_true(app, account.id)


def test_the_seat_rule_reads_the_kept_count(app: Flask, account: Account, scim: ScimClient) -> None:
    with make_session_factory(app.extensions["scim_engine"])() as session:
        session.get(AccountRow, account.id).seats_limit = 2  # the Admin takes one
        session.commit()
    assert scim.post("/Users", user_body("one@acme.example")).status_code == 201
    refused = scim.post("/Users", user_body("two@acme.example"))
    assert refused.status_code == 409
    assert refused.get_json()["detail"].startswith("seats.exceeded")
    # A Viewer takes no seat.
    assert scim.post("/Users", user_body("three@acme.example", userType="Viewer")).status_code == 201
    assert_counts_true(app, account.id)
