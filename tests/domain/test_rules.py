"""The rule matrix of the domain: each rule, one change it refuses and one it allows."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from scim_server.domain import users
from scim_server.domain.actors import Actor
from scim_server.domain.errors import RuleViolation, Severity
from scim_server.domain.users import UserState
from scim_server.storage.models import Account, User
from tests.domain.factories import make_token, make_user

SCIM = Actor(door="scim", credential_id="c1", client="idp")


def refused(rule: str):  # type: ignore[no-untyped-def]
    return pytest.raises(RuleViolation, match=rf"^{rule.replace('.', '[.]')}:")


# user_type.invalid -------------------------------------------------------------------------------

def test_unknown_user_type_refused_with_valid_list(session: Session, account: Account, actor: Actor):
    with pytest.raises(RuleViolation) as exc:
        users.check_user_create(session, account, UserState("Owner", "active", "a@acme.test"),
                                actor=actor)
    assert exc.value.rule == "user_type.invalid"
    assert exc.value.severity is Severity.INVALID
    for t in ("Admin", "Member", "Viewer", "Guest"):
        assert t in exc.value.message


def test_known_user_type_allowed(session: Session, account: Account, actor: Actor):
    users.check_user_create(session, account, UserState("Viewer", "active", "a@acme.test"),
                            actor=actor)


# seats.exceeded ----------------------------------------------------------------------------------

def test_seats_refuse_create_activate_and_promote(session: Session, account: Account, admin: User,
                                                  actor: Actor):
    account.seats_limit = 2
    make_user(session, account, "m1")  # admin + m1 = 2 paying active
    with refused("seats.exceeded"):
        users.check_user_create(session, account, UserState("Member", "active", "x@acme.test"),
                                actor=SCIM)
    viewer = make_user(session, account, "v1", user_type="Viewer")
    with refused("seats.exceeded"):
        users.change_user_type(session, account, viewer.id, "Member", actor=actor)
    sleeper = make_user(session, account, "s1", status="inactive")
    with refused("seats.exceeded"):
        users.activate_user(session, account, sleeper.id, actor=actor)
    assert session.get(User, viewer.id).user_type == "Viewer"


def test_seats_allow_nonpaying_and_inactive(session: Session, account: Account, admin: User,
                                            actor: Actor):
    account.seats_limit = 1
    users.check_user_create(session, account, UserState("Viewer", "active", "x@acme.test"),
                            actor=SCIM)
    users.check_user_create(session, account, UserState("Member", "inactive", "y@acme.test"),
                            actor=SCIM)
    # A single change may turn a Viewer into a Member within the seats.
    account.seats_limit = 2
    viewer = make_user(session, account, "v1", user_type="Viewer")
    assert users.change_user_type(session, account, viewer.id, "Member",
                                  actor=actor).user_type == "Member"


# operators.limit ---------------------------------------------------------------------------------

def test_operator_limit_counts_every_user_not_deleted(session: Session, account: Account,
                                                      admin: User, actor: Actor):
    account.operators_limit = 2
    gone = make_user(session, account, "gone", status="inactive")
    with refused("operators.limit"):
        users.check_user_create(session, account, UserState("Viewer", "inactive", "x@acme.test"),
                                actor=SCIM)
    users.delete_user(session, account, gone.id, actor=actor)
    users.check_user_create(session, account, UserState("Viewer", "inactive", "x@acme.test"),
                            actor=SCIM)


# admin.holds_scim_tokens -------------------------------------------------------------------------

@pytest.mark.parametrize("change", ["demote", "deactivate", "delete"])
def test_admin_with_scim_token_refused(session: Session, account: Account, admin: User,
                                       actor: Actor, change: str):
    other = make_user(session, account, "other", user_type="Admin")
    make_token(session, account, other, kind="scim")
    with refused("admin.holds_scim_tokens"):
        if change == "demote":
            users.change_user_type(session, account, other.id, "Member", actor=actor)
        elif change == "deactivate":
            users.deactivate_user(session, account, other.id, actor=actor)
        else:
            users.delete_user(session, account, other.id, actor=SCIM)


def test_admin_with_revoked_or_api_token_allowed(session: Session, account: Account, admin: User,
                                                 actor: Actor):
    other = make_user(session, account, "other", user_type="Admin")
    make_token(session, account, other, kind="api")
    assert users.change_user_type(session, account, other.id, "Member",
                                  actor=actor).user_type == "Member"


# admin.last --------------------------------------------------------------------------------------

def test_last_active_admin_cannot_go(session: Session, account: Account, admin: User,
                                     actor: Actor):
    make_user(session, account, "sleepy", user_type="Admin", status="inactive")
    with refused("admin.last"):
        users.change_user_type(session, account, admin.id, "Member", actor=actor)
    with refused("admin.last"):
        users.check_user_change(session, account, admin.id,
                                UserState("Admin", "active", admin.email),
                                UserState("Admin", "inactive", admin.email), actor=SCIM)
    with refused("admin.last"):
        users.delete_user(session, account, admin.id, actor=SCIM)


def test_admin_may_go_when_another_is_active(session: Session, account: Account, admin: User,
                                             actor: Actor):
    make_user(session, account, "second", user_type="Admin")
    users.deactivate_user(session, account, admin.id, actor=actor)
    assert admin.status == "inactive"


# guest.same_domain / guest.domain_not_allowed --------------------------------------------------

def test_guest_from_own_domain_refused(session: Session, account: Account, actor: Actor):
    with refused("guest.same_domain"):
        users.check_user_create(session, account, UserState("Guest", "active", "G@ACME.test"),
                                actor=SCIM)
    with refused("guest.same_domain"):
        users.check_user_create(session, account,
                                UserState("Guest", "active", "g@eu.acme.test"), actor=SCIM)
    member = make_user(session, account, "m")
    with refused("guest.same_domain"):
        users.change_user_type(session, account, member.id, "Guest", actor=actor)


def test_guest_denylist_and_allowlist(session: Session, account: Account, actor: Actor):
    with refused("guest.domain_not_allowed"):
        users.check_user_create(session, account,
                                UserState("Guest", "active", "x@blocked.test"), actor=SCIM)
    users.check_user_create(session, account, UserState("Guest", "active", "x@partner.test"),
                            actor=SCIM)
    account.guest_allowlist = ["friend.test"]
    with refused("guest.domain_not_allowed"):
        users.check_user_create(session, account,
                                UserState("Guest", "active", "x@partner.test"), actor=SCIM)
    users.check_user_create(session, account, UserState("Guest", "active", "x@friend.test"),
                            actor=SCIM)


def test_guest_email_change_is_checked(session: Session, account: Account, actor: Actor):
    guest = make_user(session, account, "g", user_type="Guest", domain="partner.test")
    before = UserState("Guest", "active", guest.email)
    with refused("guest.same_domain"):
        users.check_user_change(session, account, guest.id, before,
                                UserState("Guest", "active", "g@acme.test"), actor=SCIM)
    users.check_user_change(session, account, guest.id, before,
                            UserState("Guest", "active", "g@other.test"), actor=SCIM)


# status.pending ----------------------------------------------------------------------------------

def test_pending_user_cannot_be_activated_or_deactivated(session: Session, account: Account,
                                                         actor: Actor):
    pending = make_user(session, account, "p", status="pending")
    with refused("status.pending"):
        users.activate_user(session, account, pending.id, actor=actor)
    with refused("status.pending"):
        users.deactivate_user(session, account, pending.id, actor=actor)
    # Other changes of a pending user are fine.
    assert users.change_user_type(session, account, pending.id, "Viewer",
                                  actor=actor).status == "pending"


# delete.requires_inactive ------------------------------------------------------------------------

def test_admin_api_delete_requires_inactive(session: Session, account: Account, admin: User,
                                            actor: Actor):
    member = make_user(session, account, "m")
    with refused("delete.requires_inactive"):
        users.delete_user(session, account, member.id, actor=actor)
    users.deactivate_user(session, account, member.id, actor=actor)
    users.delete_user(session, account, member.id, actor=actor)
    assert member.status == "deleted"


def test_scim_delete_deactivates_and_deletes(session: Session, account: Account, admin: User):
    member = make_user(session, account, "m")
    users.delete_user(session, account, member.id, actor=SCIM)
    assert member.status == "deleted"
    member2 = make_user(session, account, "m2")
    users.delete_user(session, account, member2.id, actor=SCIM, via_scim=True)
    assert member2.status == "deleted"


# profile.admin_limits / email.confirmation_required ----------------------------------------------

def test_admin_cannot_set_another_users_password_or_email(session: Session, account: Account,
                                                          admin: User, actor: Actor):
    member = make_user(session, account, "m")
    with refused("profile.admin_limits"):
        users.update_profile(session, account, member.id, {"password": "hunter2hunter2"},
                             actor=actor)
    with refused("email.confirmation_required"):
        users.update_profile(session, account, member.id, {"email": "new@acme.test"},
                             actor=actor)
    assert member.password_hash is None and member.email == "m@acme.test"


def test_admin_edits_profile_and_own_password(session: Session, account: Account, admin: User,
                                              actor: Actor):
    member = make_user(session, account, "m")
    users.update_profile(session, account, member.id,
                         {"title": "CTO", "given_name": "Ann", "locale": "fr-FR",
                          "phone": "+33 1", "notifications": {"digest": "weekly"}}, actor=actor)
    assert member.data["title"] == "CTO" and member.data["name"]["givenName"] == "Ann"
    assert member.search["title"] == "cto"
    assert users.notifications_of(session, member) == {"digest": "weekly"}
    users.update_profile(session, account, admin.id, {"password": "a long passphrase"},
                         actor=actor)
    assert admin.password_hash


@pytest.mark.parametrize(("kind", "rule"), [("scim", "token.scim_requires_admin"),
                                            ("api", "token.requires_active")])
def test_a_token_for_a_deactivated_user_is_refused_by_one_rule_per_kind(
        session: Session, account: Account, actor: Actor, kind: str, rule: str) -> None:
    """A SCIM token's holder is checked under the account lock only, so the refusal is the
    same whether the deactivation committed before the request read the user or after."""
    from scim_server.domain.tokens import issue_token

    gone = make_user(session, account, "gone", user_type="Admin", status="inactive")
    with pytest.raises(RuleViolation) as refused:
        issue_token(session, account, user_id=gone.id, kind=kind, actor=actor)
    assert refused.value.rule == rule
