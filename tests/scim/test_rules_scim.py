"""The SCIM half of the rule matrix: each account rule that can arise through SCIM, refused and
allowed, plus SCIM DELETE (deactivate + erase in one transaction), Bulk with a refused operation
and the same refusal through SCIM and the admin API giving the same rule id.

A refusal is checked end to end: the status, the scimType, the rule id leading ``detail``, and
the store unchanged (the re-read resource is identical and no audit entry was written).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from scim_server.domain import tokens, users
from scim_server.domain.actors import Actor
from scim_server.domain.mail import OutboxMailer
from scim_server.storage.domain_tables import AuditEntry
from scim_server.storage.models import Account as AccountRow
from scim_server.storage.models import Base, Credential, User
from scim_server.storage.schema import ACCOUNT_EXTENSION_URN
from tests.domain.factories import make_token
from tests.scim.conftest import Account, ScimClient, patch_body, user_body

pytestmark = pytest.mark.usefixtures("fast_password_hash")

BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
ADMIN = "admin@acme.example"  # the account's first Admin: it holds the `scim` client's token


# -- helpers ---------------------------------------------------------------------------------


@pytest.fixture
def db(app: Flask) -> Iterator[Session]:
    """A session of its own, for setting the scene and for reading what the requests left."""
    session = app.extensions["scim_sessions"]()
    yield session
    session.close()


def set_account(db: Session, account: Account, **values: Any) -> None:
    row = db.get(AccountRow, account.id)
    assert row is not None
    for key, value in values.items():
        setattr(row, key, value)
    db.commit()


def create(scim: ScimClient, user_name: str, **extra: Any) -> str:
    response = scim.post("/Users", user_body(user_name, **extra))
    assert response.status_code == 201, response.get_data(as_text=True)
    return str(response.get_json()["id"])


def user_id_of(scim: ScimClient, user_name: str) -> str:
    found = scim.get("/Users?filter=" + quote(f'userName eq "{user_name}"')).get_json()
    assert found["totalResults"] == 1, found
    return str(found["Resources"][0]["id"])


def replace(path: str, value: Any) -> dict[str, Any]:
    return {"op": "replace", "path": path, "value": value}


def count(db: Session, stmt: Any) -> int:
    """Read a count and end the transaction: on SQLite an open one would block the app's
    writers (BEGIN IMMEDIATE)."""
    try:
        return int(db.scalar(stmt) or 0)
    finally:
        db.rollback()


def audit_count(db: Session, account: Account) -> int:
    return count(db, select(func.count()).select_from(AuditEntry)
                 .where(AuditEntry.account_id == account.id))


def assert_refused(response: Any, rule: str, status: int) -> dict[str, Any]:
    """An RFC 7644 §3.12 error whose detail starts with the rule id."""
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert "urn:ietf:params:scim:api:messages:2.0:Error" in body["schemas"]
    assert str(body["status"]) == str(status)
    assert body["detail"].startswith(f"{rule}: "), body["detail"]
    assert len(body["detail"]) > len(rule) + 10  # a sentence follows the id
    # 400 is a bad value; 403/409 are account rules, not a "uniqueness" clash an IdP would try
    # to resolve by matching an existing user.
    assert body.get("scimType") == ("invalidValue" if status == 400 else None), body
    return body


class Unchanged:
    """Snapshot users and the audit log; ``check()`` asserts a refused request left both as
    they were."""

    def __init__(self, scim: ScimClient, db: Session, account: Account, *user_ids: str) -> None:
        self.scim, self.db, self.account = scim, db, account
        self.users = {uid: self._read(uid) for uid in user_ids}
        self.audit = audit_count(db, account)

    def _read(self, uid: str) -> Any:
        response = self.scim.get(f"/Users/{uid}")
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_json()

    def check(self) -> None:
        for uid, before in self.users.items():
            assert self._read(uid) == before
        assert audit_count(self.db, self.account) == self.audit


def refuse(scim: ScimClient, db: Session, account: Account, uids: tuple[str, ...],
           send: Any, rule: str, status: int) -> dict[str, Any]:
    """Send a request that a rule must refuse, and check the store did not move."""
    snapshot = Unchanged(scim, db, account, *uids)
    body = assert_refused(send(), rule, status)
    snapshot.check()
    return body


def audit_entries(db: Session, target_id: str) -> int:
    return count(db, select(func.count()).select_from(AuditEntry)
                 .where(AuditEntry.target_id == target_id))


def user_count(db: Session, account: Account) -> int:
    return count(db, select(func.count()).select_from(User).where(User.account_id == account.id))


def scim_credential(db: Session, account: Account) -> Credential:
    cred = db.scalar(select(Credential).where(Credential.account_id == account.id,
                                              Credential.kind == "scim"))
    assert cred is not None
    return cred


def admin_actor(db: Session, account: Account) -> Actor:
    admin = db.scalar(select(User).where(User.account_id == account.id, User.user_name == ADMIN))
    assert admin is not None
    return Actor(door="api", user_id=admin.id, client="tests")


def detach_scim_token(db: Session, account: Account) -> None:
    """Leave the bootstrap Admin without a SCIM token while the `scim` client keeps working:
    the token stays valid but is bound to no user."""
    scim_credential(db, account).user_id = None
    db.commit()


def invite(db: Session, account: Account, email: str) -> str:
    row = db.get(AccountRow, account.id)
    assert row is not None
    user, _token = users.invite_user(db, row, email=email, actor=admin_actor(db, account),
                                     mailer=OutboxMailer(), accept_url=lambda t: f"/accept/{t}")
    db.commit()
    return str(user.id)


# -- user_type.invalid -----------------------------------------------------------------------


def test_unknown_user_type_refused_with_the_valid_list(scim: ScimClient, db: Session,
                                                       account: Account) -> None:
    users_before = user_count(db, account)
    audit_before = audit_count(db, account)
    body = assert_refused(scim.post("/Users", user_body("owner@acme.example", userType="Owner")),
                          "user_type.invalid", 400)
    for valid in ("Admin", "Member", "Viewer", "Guest"):
        assert valid in body["detail"]
    assert user_count(db, account) == users_before
    assert audit_count(db, account) == audit_before

    uid = create(scim, "typed@acme.example")
    refuse(scim, db, account, (uid,),
           lambda: scim.patch(f"/Users/{uid}", patch_body(replace("userType", "Owner"))),
           "user_type.invalid", 400)


def test_known_user_types_allowed(scim: ScimClient) -> None:
    uid = create(scim, "viewer@acme.example", userType="Viewer")
    assert scim.get(f"/Users/{uid}").get_json()["userType"] == "Viewer"
    response = scim.patch(f"/Users/{uid}", patch_body(replace("userType", "Member")))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert scim.get(f"/Users/{uid}").get_json()["userType"] == "Member"


# -- seats.exceeded --------------------------------------------------------------------------


def test_seats_exceeded_by_create_reactivate_and_promote(scim: ScimClient, db: Session,
                                                        account: Account) -> None:
    sleeper = create(scim, "sleeper@acme.example", active=False)
    viewer = create(scim, "viewer@acme.example", userType="Viewer")
    create(scim, "member@acme.example")
    set_account(db, account, seats_limit=2)  # the Admin and the Member: full
    before = user_count(db, account)
    audit_before = audit_count(db, account)
    assert_refused(scim.post("/Users", user_body("one.more@acme.example")), "seats.exceeded", 409)
    assert user_count(db, account) == before
    assert audit_count(db, account) == audit_before
    refuse(scim, db, account, (sleeper,),
           lambda: scim.patch(f"/Users/{sleeper}", patch_body(replace("active", True))),
           "seats.exceeded", 409)
    refuse(scim, db, account, (viewer,),
           lambda: scim.patch(f"/Users/{viewer}", patch_body(replace("userType", "Member"))),
           "seats.exceeded", 409)


def test_seats_allow_nonpaying_inactive_and_within_the_plan(scim: ScimClient, db: Session,
                                                           account: Account) -> None:
    create(scim, "member@acme.example")
    set_account(db, account, seats_limit=2)
    # Full, yet Viewers, Guests and inactive Members take no seat.
    viewer = create(scim, "viewer@acme.example", userType="Viewer")
    create(scim, "guest@partner.example", userType="Guest")
    sleeper = create(scim, "sleeper@acme.example", userType="Member", active=False)
    set_account(db, account, seats_limit=4)
    assert scim.patch(f"/Users/{sleeper}", patch_body(replace("active", True))).status_code == 200
    assert scim.patch(f"/Users/{viewer}",
                      patch_body(replace("userType", "Member"))).status_code == 200
    for uid in (sleeper, viewer):
        resource = scim.get(f"/Users/{uid}").get_json()
        assert (resource["userType"], resource["active"]) == ("Member", True)


# -- operators.limit -------------------------------------------------------------------------


def test_operators_limit_on_create_and_reactivate(scim: ScimClient, db: Session,
                                                  account: Account) -> None:
    sleeper = create(scim, "sleeper@acme.example", active=False)
    create(scim, "viewer@acme.example", userType="Viewer")
    set_account(db, account, operators_limit=3)  # Admin, sleeper, viewer: all in use
    before = user_count(db, account)
    audit_before = audit_count(db, account)
    # A Viewer takes no seat: only the operator limit stands in the way.
    assert_refused(scim.post("/Users", user_body("v2@acme.example", userType="Viewer")),
                   "operators.limit", 409)
    assert user_count(db, account) == before
    assert audit_count(db, account) == audit_before
    set_account(db, account, operators_limit=2)  # lowered since the deactivation
    refuse(scim, db, account, (sleeper,),
           lambda: scim.patch(f"/Users/{sleeper}", patch_body(replace("active", True))),
           "operators.limit", 409)


def test_operators_limit_frees_a_place_on_delete(scim: ScimClient, db: Session,
                                                 account: Account) -> None:
    gone = create(scim, "gone@acme.example", userType="Viewer")
    set_account(db, account, operators_limit=2)
    assert scim.delete(f"/Users/{gone}").status_code == 204
    create(scim, "next@acme.example", userType="Viewer")


# -- admin.holds_scim_tokens -----------------------------------------------------------------


def _admin_change(scim: ScimClient, uid: str, change: str) -> Any:
    if change == "demote":
        return scim.patch(f"/Users/{uid}", patch_body(replace("userType", "Member")))
    if change == "demote-put":
        current = scim.get(f"/Users/{uid}").get_json()
        current.pop("meta", None)
        return scim.put(f"/Users/{uid}", {**current, "userType": "Viewer"})
    if change == "deactivate":
        return scim.patch(f"/Users/{uid}", patch_body(replace("active", False)))
    assert change == "delete"
    return scim.delete(f"/Users/{uid}")


ADMIN_CHANGES = ("demote", "demote-put", "deactivate", "delete")


def test_admin_holding_a_scim_token_refused(scim: ScimClient, db: Session,
                                            account: Account) -> None:
    create(scim, "second.admin@acme.example", userType="Admin")  # so admin.last is not the cause
    admin = user_id_of(scim, ADMIN)
    for change in ADMIN_CHANGES:
        refuse(scim, db, account, (admin,), lambda c=change: _admin_change(scim, admin, c),
               "admin.holds_scim_tokens", 409)


@pytest.mark.parametrize("freed", ["revoked", "reassigned"])
def test_admin_freed_of_scim_tokens_may_change(scim: ScimClient, db: Session, account: Account,
                                               freed: str) -> None:
    second = create(scim, "second.admin@acme.example", userType="Admin")
    row = db.get(AccountRow, account.id)
    assert row is not None
    actor = admin_actor(db, account)
    if freed == "revoked":
        # The second Admin's own SCIM token, revoked: it no longer holds them back.
        second_row = db.get(User, second)
        assert second_row is not None
        make_token(db, row, second_row, kind="scim")
        cred_id = db.scalar(select(Credential.id).where(Credential.user_id == second))
        assert cred_id is not None
        tokens.revoke_token(db, row, cred_id, actor=actor)
        target = second
    else:
        # The bootstrap token goes to the second Admin; the `scim` client keeps working.
        tokens.reassign_token(db, row, scim_credential(db, account).id, second, actor=actor)
        target = str(actor.user_id)
    db.commit()
    response = _admin_change(scim, target, "demote")
    assert response.status_code == 200, response.get_data(as_text=True)
    response = _admin_change(scim, target, "deactivate")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert (response.get_json()["userType"], response.get_json()["active"]) == ("Member", False)


# -- admin.last ------------------------------------------------------------------------------


def test_last_active_admin_refused(scim: ScimClient, db: Session, account: Account) -> None:
    create(scim, "old.admin@acme.example", userType="Admin", active=False)  # inactive: no help
    detach_scim_token(db, account)
    admin = user_id_of(scim, ADMIN)
    for change in ADMIN_CHANGES:
        refuse(scim, db, account, (admin,), lambda c=change: _admin_change(scim, admin, c),
               "admin.last", 409)


@pytest.mark.parametrize("change", ["demote", "deactivate", "delete"])
def test_admin_may_go_when_another_is_active(scim: ScimClient, db: Session, account: Account,
                                             change: str) -> None:
    create(scim, "second.admin@acme.example", userType="Admin")
    detach_scim_token(db, account)
    admin = user_id_of(scim, ADMIN)
    response = _admin_change(scim, admin, change)
    assert response.status_code in (200, 204), response.get_data(as_text=True)
    after = scim.get(f"/Users/{admin}")
    if change == "delete":
        assert after.status_code == 404
    else:
        assert (after.get_json()["userType"], after.get_json()["active"]) == (
            ("Member", True) if change == "demote" else ("Admin", False))


# -- guest.same_domain -----------------------------------------------------------------------


def test_guest_from_the_accounts_domain_refused_on_create(scim: ScimClient, db: Session,
                                                         account: Account) -> None:
    before = user_count(db, account)
    for email in ("g@acme.example", "G@ACME.EXAMPLE", "g@eu.acme.example"):  # any case, subdomain
        assert_refused(scim.post("/Users", user_body(email, userType="Guest")),
                       "guest.same_domain", 403)
    assert user_count(db, account) == before


def test_member_of_the_accounts_domain_cannot_become_a_guest(scim: ScimClient, db: Session,
                                                             account: Account) -> None:
    uid = create(scim, "m@acme.example")
    refuse(scim, db, account, (uid,),
           lambda: scim.patch(f"/Users/{uid}", patch_body(replace("userType", "Guest"))),
           "guest.same_domain", 403)


def test_guest_from_another_domain_allowed(scim: ScimClient) -> None:
    uid = create(scim, "g@partner.example", userType="Guest")
    assert scim.get(f"/Users/{uid}").get_json()["userType"] == "Guest"
    member = create(scim, "m@partner.example")  # an outside Member may become a Guest
    assert scim.patch(f"/Users/{member}",
                      patch_body(replace("userType", "Guest"))).status_code == 200


def test_without_emails_the_guest_rules_judge_the_user_name(scim: ScimClient, db: Session,
                                                             account: Account) -> None:
    set_account(db, account, guest_denylist=["blocked.example"])
    before = user_count(db, account)
    for user_name, rule in (("g@acme.example", "guest.same_domain"),
                            ("g@blocked.example", "guest.domain_not_allowed")):
        body = user_body(user_name, userType="Guest")
        del body["emails"]
        assert_refused(scim.post("/Users", body), rule, 403)
    assert user_count(db, account) == before
    body = user_body("g@partner.example", userType="Guest")
    del body["emails"]
    assert scim.post("/Users", body).status_code == 201


def test_an_email_another_user_has_is_refused_as_a_change(scim: ScimClient) -> None:
    first, second = create(scim, "first@acme.example"), create(scim, "second@acme.example")
    taken = [{"value": "Second@ACME.example", "type": "work", "primary": True}]
    refused = scim.patch(f"/Users/{first}", patch_body(replace("emails", taken)))
    assert refused.status_code == 409 and "email.taken" in refused.get_json()["detail"]
    assert scim.get(f"/Users/{first}").get_json()["emails"][0]["value"] == "first@acme.example"
    # The user's own address, in another case, is no change of owner.
    own = [{"value": "SECOND@acme.example", "type": "work", "primary": True}]
    assert scim.patch(f"/Users/{second}", patch_body(replace("emails", own))).status_code == 200


# -- guest.domain_not_allowed ----------------------------------------------------------------


def test_guest_from_a_denied_domain_refused(scim: ScimClient, db: Session,
                                            account: Account) -> None:
    set_account(db, account, guest_denylist=["blocked.example"])
    before = user_count(db, account)
    assert_refused(scim.post("/Users", user_body("g@blocked.example", userType="Guest")),
                   "guest.domain_not_allowed", 403)
    assert user_count(db, account) == before
    # A Guest moving to a denied domain is refused too.
    guest = create(scim, "g@partner.example", userType="Guest")
    refuse(scim, db, account, (guest,),
           lambda: scim.patch(f"/Users/{guest}", patch_body(replace(
               "emails", [{"value": "g@mail.blocked.example", "type": "work", "primary": True}]))),
           "guest.domain_not_allowed", 403)


def test_guest_outside_the_allowlist_refused(scim: ScimClient, db: Session,
                                             account: Account) -> None:
    set_account(db, account, guest_allowlist=["friend.example"])
    before = user_count(db, account)
    assert_refused(scim.post("/Users", user_body("g@partner.example", userType="Guest")),
                   "guest.domain_not_allowed", 403)
    assert user_count(db, account) == before
    member = create(scim, "m@partner.example")
    refuse(scim, db, account, (member,),
           lambda: scim.patch(f"/Users/{member}", patch_body(replace("userType", "Guest"))),
           "guest.domain_not_allowed", 403)


def test_guest_lists_allow_the_domains_they_allow(scim: ScimClient, db: Session,
                                                  account: Account) -> None:
    set_account(db, account, guest_denylist=["blocked.example"], guest_allowlist=["friend.example"])
    create(scim, "g@friend.example", userType="Guest")
    create(scim, "g@eu.friend.example", userType="Guest")
    # The lists bind Guests only.
    create(scim, "m@blocked.example")


# -- status.pending --------------------------------------------------------------------------


def test_pending_user_cannot_be_activated(scim: ScimClient, db: Session,
                                          account: Account) -> None:
    pending = invite(db, account, "invited@acme.example")

    def put_active() -> Any:
        current = scim.get(f"/Users/{pending}").get_json()
        current.pop("meta", None)
        return scim.put(f"/Users/{pending}", {**current, "active": True})

    refuse(scim, db, account, (pending,),
           lambda: scim.patch(f"/Users/{pending}", patch_body(replace("active", True))),
           "status.pending", 409)
    refuse(scim, db, account, (pending,), put_active, "status.pending", 409)
    resource = scim.get(f"/Users/{pending}").get_json()
    assert resource["active"] is False
    assert resource[ACCOUNT_EXTENSION_URN]["status"] == "pending"


def test_pending_user_other_changes_allowed(scim: ScimClient, db: Session,
                                            account: Account) -> None:
    pending = invite(db, account, "invited@acme.example")
    # An IdP echoing the active=false it reads does not touch the invitation.
    response = scim.patch(f"/Users/{pending}", patch_body(replace("active", False),
                                                          replace("displayName", "Invited One"),
                                                          replace("userType", "Viewer")))
    assert response.status_code == 200, response.get_data(as_text=True)
    resource = scim.get(f"/Users/{pending}").get_json()
    assert (resource["displayName"], resource["userType"], resource["active"]) == (
        "Invited One", "Viewer", False)
    assert resource[ACCOUNT_EXTENSION_URN]["status"] == "pending"


# -- SCIM DELETE: deactivate and erase in one transaction ------------------------------------


def _rows_mentioning(db: Session, needles: list[str]) -> list[tuple[str, str]]:
    """Every row of every table whose text contains one of ``needles`` (case-insensitive)."""
    found = []
    for table in Base.metadata.sorted_tables:
        for row in db.execute(select(table)).mappings():
            text = repr(dict(row)).lower()
            found += [(table.name, n) for n in needles if n.lower() in text]
    db.rollback()
    return found


def test_scim_delete_erases_the_user_and_frees_the_user_name(scim: ScimClient, db: Session,
                                                             account: Account) -> None:
    user_name = "erase.me.q7x@acme.example"
    secrets = [user_name, "erase.me.q7x", "ext-erase-q7x", "Zorbulon", "Quixotica", "555-0199",
               "Chief Eraser", "alt.q7x@home.example"]
    uid = create(scim, user_name, externalId="ext-erase-q7x", displayName="Zorbulon Quixotica",
                 name={"givenName": "Zorbulon", "familyName": "Quixotica"},
                 title="Chief Eraser", phoneNumbers=[{"value": "555-0199", "type": "work"}],
                 emails=[{"value": user_name, "type": "work", "primary": True},
                         {"value": "alt.q7x@home.example", "type": "home"}])
    group = scim.post("/Groups", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                                  "displayName": "Team", "members": [{"value": uid}]})
    assert group.status_code == 201
    assert scim.patch(f"/Users/{uid}", patch_body(replace("title", "Chief Eraser"))
                      ).status_code == 200  # an audited update too
    assert _rows_mentioning(db, secrets)  # the search would see them

    response = scim.delete(f"/Users/{uid}")
    assert response.status_code == 204, response.get_data(as_text=True)
    assert scim.get(f"/Users/{uid}").status_code == 404
    assert scim.patch(f"/Users/{uid}", patch_body(replace("title", "x"))).status_code == 404
    assert scim.get("/Users?filter=" + quote(f'userName eq "{user_name}"')
                    ).get_json()["totalResults"] == 0
    assert scim.get(f"/Groups/{group.get_json()['id']}").get_json().get("members") in (None, [])

    assert _rows_mentioning(db, secrets) == []
    assert count(db, select(func.count()).select_from(User).where(
        User.id == uid, User.status == "deleted")) == 1  # kept, anonymised, for attribution
    assert count(db, select(func.count()).select_from(AuditEntry).where(
        AuditEntry.target_id == uid, AuditEntry.action == "user.delete")) == 1

    # The userName is free again, for a new user with a new id.
    assert create(scim, user_name) != uid


def test_refused_scim_delete_applies_nothing(scim: ScimClient, db: Session,
                                             account: Account) -> None:
    # Deactivation and erasure are one transaction: a refusal leaves the user whole.
    admin = user_id_of(scim, ADMIN)
    refuse(scim, db, account, (admin,), lambda: scim.delete(f"/Users/{admin}"),
           "admin.holds_scim_tokens", 409)
    assert count(db, select(func.count()).select_from(User).where(
        User.id == admin, User.status == "active", User.user_name == ADMIN)) == 1


# -- Bulk ------------------------------------------------------------------------------------


def test_bulk_operation_breaking_a_rule_fails_alone(scim: ScimClient, db: Session,
                                                    account: Account) -> None:
    half = create(scim, "half@acme.example", displayName="Half", userType="Member")
    other = create(scim, "other@acme.example", displayName="Other")
    snapshot = Unchanged(scim, db, account, half)
    audited_before = {half: audit_entries(db, half), other: audit_entries(db, other)}
    response = scim.post("/Bulk", {"schemas": [BULK_REQUEST], "Operations": [
        {"method": "POST", "path": "/Users", "bulkId": "ok", "data": user_body("ok@acme.example")},
        # Two changes to one user; the second breaks guest.same_domain: neither applies.
        {"method": "PATCH", "path": f"/Users/{half}",
         "data": patch_body(replace("displayName", "Half Applied"), replace("userType", "Guest"))},
        {"method": "PATCH", "path": f"/Users/{other}",
         "data": patch_body(replace("displayName", "Renamed"))},
        {"method": "POST", "path": "/Users", "bulkId": "bad",
         "data": user_body("bad@acme.example", userType="Nobody")},
    ]})
    assert response.status_code == 200, response.get_data(as_text=True)
    results = response.get_json()["Operations"]
    assert [str(r["status"]) for r in results] == ["201", "403", "200", "400"]
    assert results[1]["response"]["detail"].startswith("guest.same_domain: ")
    assert results[3]["response"]["detail"].startswith("user_type.invalid: ")
    assert results[3]["response"]["scimType"] == "invalidValue"

    half_now = scim.get(f"/Users/{half}").get_json()
    assert (half_now["displayName"], half_now["userType"]) == ("Half", "Member")
    assert half_now["meta"] == snapshot.users[half]["meta"]
    assert scim.get(f"/Users/{other}").get_json()["displayName"] == "Renamed"
    user_id_of(scim, "ok@acme.example")
    assert scim.get("/Users?filter=" + quote('userName eq "bad@acme.example"')
                    ).get_json()["totalResults"] == 0
    assert audit_entries(db, half) == audited_before[half]
    assert audit_entries(db, other) == audited_before[other] + 1


# -- the same refusal through SCIM and through the admin API ---------------------------------


class AdminApi:
    """The admin JSON API of the same app, with an API token of the bootstrap Admin."""

    def __init__(self, app: Flask, token: str) -> None:
        self.client, self.token = app.test_client(), token

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return self.client.post("/api/v1" + path, json=body,
                                headers={"Authorization": f"Bearer {self.token}"})


@pytest.fixture
def admin_api(app: Flask, db: Session, account: Account) -> AdminApi:
    row = db.get(AccountRow, account.id)
    admin = db.scalar(select(User).where(User.user_name == ADMIN, User.account_id == account.id))
    assert row is not None and admin is not None
    secret = make_token(db, row, admin, kind="api")
    db.commit()
    return AdminApi(app, secret)


def _same_refusal_scene(scim: ScimClient, db: Session, account: Account,
                        rule: str) -> tuple[Any, Any]:
    """(SCIM request, admin API request) that both break ``rule``."""
    if rule == "user_type.invalid":
        uid = create(scim, "u@acme.example")
        return (lambda: scim.patch(f"/Users/{uid}", patch_body(replace("userType", "Owner"))),
                ("POST", f"/users/{uid}/type", {"user_type": "Owner"}))
    if rule == "seats.exceeded":
        uid = create(scim, "v@acme.example", userType="Viewer")
        set_account(db, account, seats_limit=1)
        return (lambda: scim.patch(f"/Users/{uid}", patch_body(replace("userType", "Member"))),
                ("POST", f"/users/{uid}/type", {"user_type": "Member"}))
    if rule == "operators.limit":
        set_account(db, account, operators_limit=1)
        return (lambda: scim.post("/Users", user_body("n@acme.example", userType="Viewer")),
                ("POST", "/users/invite", {"email": "n@acme.example", "user_type": "Viewer"}))
    if rule == "admin.holds_scim_tokens":
        create(scim, "second.admin@acme.example", userType="Admin")
        admin = user_id_of(scim, ADMIN)
        return (lambda: scim.patch(f"/Users/{admin}", patch_body(replace("active", False))),
                ("POST", f"/users/{admin}/deactivate", None))
    if rule == "admin.last":
        detach_scim_token(db, account)
        admin = user_id_of(scim, ADMIN)
        return (lambda: scim.patch(f"/Users/{admin}", patch_body(replace("userType", "Member"))),
                ("POST", f"/users/{admin}/type", {"user_type": "Member"}))
    if rule == "guest.same_domain":
        uid = create(scim, "m@acme.example")
        return (lambda: scim.patch(f"/Users/{uid}", patch_body(replace("userType", "Guest"))),
                ("POST", f"/users/{uid}/type", {"user_type": "Guest"}))
    if rule == "guest.domain_not_allowed":
        set_account(db, account, guest_denylist=["blocked.example"])
        return (lambda: scim.post("/Users", user_body("g@blocked.example", userType="Guest")),
                ("POST", "/users/invite", {"email": "g@blocked.example", "user_type": "Guest"}))
    assert rule == "status.pending"
    uid = invite(db, account, "p@acme.example")
    return (lambda: scim.patch(f"/Users/{uid}", patch_body(replace("active", True))),
            ("POST", f"/users/{uid}/activate", None))


@pytest.mark.parametrize("rule", ["user_type.invalid", "seats.exceeded", "operators.limit",
                                  "admin.holds_scim_tokens", "admin.last", "guest.same_domain",
                                  "guest.domain_not_allowed", "status.pending"])
def test_scim_and_admin_api_refuse_with_the_same_rule(scim: ScimClient, db: Session,
                                                      account: Account, admin_api: AdminApi,
                                                      rule: str) -> None:
    via_scim, (_method, path, body) = _same_refusal_scene(scim, db, account, rule)
    scim_response = via_scim()
    api_response = admin_api.post(path, body)
    assert api_response.content_type == "application/problem+json", api_response.get_data()
    assert api_response.get_json()["rule"] == rule
    scim_detail = assert_refused(scim_response, rule, api_response.status_code)["detail"]
    # The same human sentence, too.
    assert scim_detail == f"{rule}: {api_response.get_json()['detail']}"


def test_an_email_comes_back_exactly_as_sent_and_is_found_in_any_case(
        scim: ScimClient, app: Flask, account: Account) -> None:
    uid = create(scim, "Jane.Doe@Example.com")
    sent = [{"value": "Jane.Doe@Example.com", "type": "work", "primary": True}]
    assert scim.patch(f"/Users/{uid}", patch_body(replace("emails", sent))).status_code == 200
    assert scim.get(f"/Users/{uid}").get_json()["emails"][0]["value"] == "Jane.Doe@Example.com"
    found = scim.get("/Users", query={"filter": 'emails.value eq "jane.doe@example.com"'})
    assert found.get_json()["totalResults"] == 1
    with app.extensions["scim_sessions"]() as session:
        row = session.get(AccountRow, account.id)
        admin = session.scalars(select(User).where(User.account_id == account.id,
                                                   User.user_type == "Admin")).one()
        token = make_token(session, row, admin)
        session.commit()
    api = app.test_client().get(f"/api/v1/users/{uid}",
                                headers={"Authorization": f"Bearer {token}"})
    assert api.get_json()["email"] == "Jane.Doe@Example.com"
    bad = scim.post("/Users", user_body("bad", emails=[{"value": "not an address"}]))
    assert bad.status_code == 400
