"""Each account rule through the admin API: refused with the rule id in the problem body."""

from __future__ import annotations

from typing import Any

import pytest

from scim_server.domain import users
from scim_server.domain.actors import Actor
from scim_server.domain.errors import RuleViolation
from scim_server.domain.mail import OutboxMailer
from scim_server.storage.models import Account, User
from tests.api.conftest import Api, Seed, add_user
from tests.domain.factories import make_token


def rule_of(r: Any) -> str:
    assert r.content_type == "application/problem+json", r.get_data()
    body = r.get_json()
    assert body["status"] == r.status_code and body["type"].endswith(body["rule"])
    return str(body["rule"])


def test_user_type_invalid(api: Api, db: Any, seed: Seed):
    uid = add_user(db, seed, "a")
    r = api.post(f"/users/{uid}/type", json={"user_type": "Owner"})
    assert r.status_code == 400 and rule_of(r) == "user_type.invalid"
    assert "Admin, Member, Viewer, Guest" in r.get_json()["detail"]


def test_seats_exceeded(api: Api, db: Any, seed: Seed):
    db.get(Account, seed.account_id).seats_limit = 1
    db.commit()
    uid = add_user(db, seed, "v", user_type="Viewer")
    r = api.post(f"/users/{uid}/type", json={"user_type": "Member"})
    assert r.status_code == 409 and rule_of(r) == "seats.exceeded"


def test_operators_limit(api: Api, db: Any, seed: Seed):
    db.get(Account, seed.account_id).operators_limit = 1
    db.commit()
    r = api.post("/users/invite", json={"email": "n@acme.test"})
    assert r.status_code == 409 and rule_of(r) == "operators.limit"


def test_admin_holds_scim_tokens(api: Api, db: Any, seed: Seed):
    uid = add_user(db, seed, "second", user_type="Admin")
    make_token(db, db.get(Account, seed.account_id), db.get(User, uid), kind="scim")
    db.commit()
    r = api.post(f"/users/{uid}/type", json={"user_type": "Member"})
    assert r.status_code == 409 and rule_of(r) == "admin.holds_scim_tokens"
    r = api.post(f"/users/{uid}/deactivate")
    assert rule_of(r) == "admin.holds_scim_tokens"


def test_admin_last(api: Api, seed: Seed):
    r = api.post(f"/users/{seed.admin_id}/type", json={"user_type": "Member"})
    assert r.status_code == 409 and rule_of(r) == "admin.last"


@pytest.mark.parametrize("email,rule", [("g@acme.test", "guest.same_domain"),
                                        ("g@blocked.test", "guest.domain_not_allowed")])
def test_guest_rules(api: Api, email: str, rule: str):
    r = api.post("/users/invite", json={"email": email, "user_type": "Guest"})
    assert r.status_code == 403 and rule_of(r) == rule
    assert api.post("/users/invite", json={"email": "g@partner.test",
                                           "user_type": "Guest"}).status_code == 201


def test_status_pending(api: Api):
    uid = api.post("/users/invite", json={"email": "p@acme.test"}).get_json()["id"]
    r = api.post(f"/users/{uid}/activate")
    assert r.status_code == 409 and rule_of(r) == "status.pending"


def test_delete_requires_inactive(api: Api, db: Any, seed: Seed):
    uid = add_user(db, seed, "a")
    r = api.delete(f"/users/{uid}")
    assert r.status_code == 409 and rule_of(r) == "delete.requires_inactive"


def test_bulk_rules(api: Api, db: Any, seed: Seed):
    r = api.post("/users/bulk", json={"user_ids": [f"u{i}" for i in range(201)],
                                      "status": "inactive"})
    assert r.status_code == 400 and rule_of(r) == "bulk.too_many"
    r = api.post("/users/bulk", json={"user_ids": [seed.admin_id], "status": "inactive"})
    assert r.status_code == 400 and rule_of(r) == "bulk.self"
    uid = add_user(db, seed, "v", user_type="Viewer")
    r = api.post("/users/bulk", json={"user_ids": [uid], "user_type": "Member"})
    assert r.get_json()["skipped"][0]["rule"] == "bulk.nonpaying_to_paying"


def test_profile_admin_limits_and_email_confirmation(api: Api, db: Any, seed: Seed):
    uid = add_user(db, seed, "a")
    r = api.patch(f"/users/{uid}", json={"password": "a new password"})
    assert r.status_code == 403 and rule_of(r) == "profile.admin_limits"
    r = api.patch(f"/users/{uid}", json={"email": "other@acme.test"})
    assert r.status_code == 403 and rule_of(r) == "email.confirmation_required"
    assert api.get(f"/users/{uid}").get_json()["email"] == "a@acme.test"


def test_email_taken_refused_when_a_change_starts_and_when_it_is_confirmed(
        api: Api, db: Any, seed: Seed):
    first, second = add_user(db, seed, "first"), add_user(db, seed, "second")
    r = api.post(f"/users/{first}/email-change", json={"email": "SECOND@acme.test"})
    assert r.status_code == 409 and rule_of(r) == "email.taken"
    # Free when asked, taken by the time the link is followed: refused then too.
    account = db.get(Account, seed.account_id)
    actor = Actor(door="api", user_id=seed.admin_id)
    mailer = OutboxMailer()
    _, token = users.start_email_change(db, account, first, "new@acme.test", actor=actor,
                                        mailer=mailer, confirm_url=lambda t: t)
    _, other = users.start_email_change(db, account, second, "new@acme.test", actor=actor,
                                        mailer=mailer, confirm_url=lambda t: t)
    users.confirm_email_change(db, token=other)
    with pytest.raises(RuleViolation, match="email.taken"):
        users.confirm_email_change(db, token=token)
