"""Lifecycle effects: deactivation, reactivation, deletion (erasure), ownership, invitations,
email changes, activity, bulk changes and the audit log."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.orm import Session

from scim_server.domain import resources, users
from scim_server.domain.actors import Actor
from scim_server.domain.audit import list_audit
from scim_server.domain.errors import NotFound, RuleViolation
from scim_server.domain.mail import OutboxMailer
from scim_server.storage.domain_tables import AuditEntry, OutboxEmail, Resource
from scim_server.storage.models import Account, GroupMember, User
from tests.domain.factories import T0, make_resource, make_user


def url(token: str) -> str:
    return f"http://x/accept?token={token}"


def test_deactivate_disables_automations_and_sole_owned(session: Session, account: Account,
                                                        admin: User, actor: Actor):
    m = make_user(session, account, "m")
    auto = make_resource(session, account, "automation", m)
    board = make_resource(session, account, "board", m)
    shared = make_resource(session, account, "monitor", m, admin)
    users.deactivate_user(session, account, m.id, actor=actor)
    assert (auto.enabled, auto.accessible) == (False, False)
    assert board.accessible is False and shared.accessible is True
    users.activate_user(session, account, m.id, actor=actor)
    assert auto.enabled is False  # stays disabled until re-enabled or transferred
    assert auto.accessible is True and board.accessible is True


def test_a_workspace_stays_open_when_its_creator_is_deactivated(
        session: Session, account: Account, actor: Actor):
    m = make_user(session, account, "m")
    created = make_resource(session, account, "workspace", m)
    created.created_by_id = m.id
    joined = make_resource(session, account, "workspace", m)  # owned, created by someone else
    session.flush()
    users.deactivate_user(session, account, m.id, actor=actor)
    assert created.accessible is True
    assert joined.accessible is False


def test_transfer_and_claim(session: Session, account: Account, admin: User, actor: Actor):
    m = make_user(session, account, "m")
    other = make_user(session, account, "o")
    auto = make_resource(session, account, "automation", m)
    board = make_resource(session, account, "board", m)
    users.deactivate_user(session, account, m.id, actor=actor)
    moved = resources.transfer_ownership(session, account, from_user_id=m.id,
                                         to_user_id=other.id, resource_ids=[auto.id],
                                         actor=actor)
    assert moved == [auto.id]
    assert resources.get_resource(session, account, auto.id).owner_ids == [other.id]
    assert auto.enabled and auto.accessible
    with pytest.raises(RuleViolation, match="ownership.requires_active"):
        resources.transfer_ownership(session, account, from_user_id=other.id, to_user_id=m.id,
                                     actor=actor)
    resources.claim_ownership(session, account, resource_ids=[board.id], actor=actor)
    assert resources.get_resource(session, account, board.id).owner_ids == [admin.id]
    assert board.accessible


def test_delete_erases_personal_data_everywhere(session: Session, account: Account, admin: User,
                                                actor: Actor):
    m = make_user(session, account, "zebulon", domain="acme.test")
    made = make_resource(session, account, "workspace", m)
    made.created_by_id = m.id
    session.add(GroupMember(group_id=_group(session, account), member_id=m.id,
                            account_id=account.id, display="Zebulon"))
    users.start_email_change(session, account, m.id, "zebulon2@acme.test", actor=actor,
                             mailer=OutboxMailer(), confirm_url=url)
    users.update_profile(session, account, m.id, {"title": "Zebulon's title"}, actor=actor)
    users.deactivate_user(session, account, m.id, actor=actor)
    users.delete_user(session, account, m.id, actor=actor, display_name="Former staff")
    session.commit()
    assert m.status == "deleted" and m.user_name_key is None and m.display_name == "Former staff"
    assert resources.get_resource(session, account, made.id).owner_ids == []
    assert made.created_by_id == m.id  # what they created stays attributed
    # Nothing in any table mentions the erased name or address any more.
    conn = session.connection()
    tables = inspect(conn).get_table_names()
    assert "audit_log" in tables and "outbox" in tables
    for table in tables:
        rows = conn.execute(text(f'SELECT * FROM "{table}"')).fetchall()
        dump = json.dumps([list(map(str, r)) for r in rows]).lower()
        assert "zebulon" not in dump, table
    with pytest.raises(NotFound):
        users.get_user(session, account, m.id)
    # The userName is free again.
    make_user(session, account, "zebulon")


def _group(session: Session, account: Account) -> str:
    from scim_server.storage.models import Group

    g = Group(account_id=account.id, display_name="G", display_name_key="g")
    session.add(g)
    session.flush()
    return g.id


def test_invitation_makes_pending_then_active(session: Session, account: Account, admin: User,
                                              actor: Actor):
    user, token = users.invite_user(session, account, email="New@acme.test", actor=actor,
                                    mailer=OutboxMailer(), accept_url=url)
    assert user.status == "pending" and user.email == "new@acme.test"
    mail = session.scalars(select(OutboxEmail)).one()
    # The link is a credential: the stored copy withholds it (mail.py).
    assert token not in mail.body and mail.to_address == "New@acme.test"
    with pytest.raises(RuleViolation, match="user.exists"):
        users.invite_user(session, account, email="new@ACME.test", actor=actor,
                          mailer=OutboxMailer(), accept_url=url)
    assert users.accept_invitation(session, token=token).status == "active"
    with pytest.raises(NotFound):
        users.accept_invitation(session, token=token)


def test_invitation_accept_respects_seats(session: Session, account: Account, admin: User,
                                          actor: Actor):
    account.seats_limit = 1
    user, token = users.invite_user(session, account, email="n@acme.test", actor=actor,
                                    mailer=OutboxMailer(), accept_url=url)
    with pytest.raises(RuleViolation, match="seats.exceeded"):
        users.accept_invitation(session, token=token)


def test_email_change_applies_only_after_confirmation(session: Session, account: Account,
                                                      admin: User, actor: Actor):
    m = make_user(session, account, "m")
    _, token = users.start_email_change(session, account, m.id, "M2@acme.test", actor=actor,
                                        mailer=OutboxMailer(), confirm_url=url, clock=lambda: T0)
    assert m.email == "m@acme.test"
    users.confirm_email_change(session, token=token, clock=lambda: T0 + dt.timedelta(days=2))
    assert m.email == "m2@acme.test" and m.data["emails"][0]["value"] == "m2@acme.test"


def test_email_change_expires_after_three_days(session: Session, account: Account, admin: User,
                                               actor: Actor):
    m = make_user(session, account, "m")
    _, token = users.start_email_change(session, account, m.id, "m2@acme.test", actor=actor,
                                        mailer=OutboxMailer(), confirm_url=url, clock=lambda: T0)
    with pytest.raises(RuleViolation, match="email.confirmation_required"):
        users.confirm_email_change(session, token=token,
                                   clock=lambda: T0 + dt.timedelta(days=3, seconds=1))
    assert m.email == "m@acme.test"


def test_activity_never_moves_backwards(session: Session, account: Account, admin: User,
                                        actor: Actor):
    users.record_activity(session, account, admin.id, actor=actor, at=T0)
    users.record_activity(session, account, admin.id, actor=actor,
                          at=T0 - dt.timedelta(days=1))
    assert admin.last_activity_at == T0


def test_bulk_reports_per_user_and_applies_nothing_half(session: Session, account: Account,
                                                        admin: User, actor: Actor):
    a = make_user(session, account, "a", user_type="Viewer")
    b = make_user(session, account, "b", user_type="Member")
    g = make_user(session, account, "g", user_type="Guest", domain="partner.test")
    report = users.bulk_change(session, account, [a.id, b.id, g.id, "nope"], actor=actor,
                               user_type="Member")
    assert report.applied == [b.id]
    assert {(uid, rule) for uid, rule, _ in report.skipped} == {
        (a.id, "bulk.nonpaying_to_paying"), (g.id, "bulk.nonpaying_to_paying"),
        ("nope", "user.not_found")}
    assert a.user_type == "Viewer"
    report = users.bulk_change(session, account, [a.id, b.id], actor=actor, status="inactive")
    assert report.applied == [a.id, b.id]


def test_bulk_savepoint_rolls_back_one_user(session: Session, account: Account, admin: User,
                                            actor: Actor):
    account.seats_limit = 2
    a = make_user(session, account, "a", status="inactive")
    b = make_user(session, account, "b", status="inactive")
    report = users.bulk_change(session, account, [a.id, b.id], actor=actor, status="active")
    assert report.applied == [a.id]
    assert report.skipped[0][:2] == (b.id, "seats.exceeded")
    session.flush()
    assert session.get(User, b.id).status == "inactive"
    audit = session.scalars(select(AuditEntry).where(AuditEntry.target_id == b.id)).all()
    assert audit == []  # the skipped user's audit entry went with its savepoint


def test_bulk_limits(session: Session, account: Account, admin: User, actor: Actor):
    with pytest.raises(RuleViolation, match="bulk.too_many"):
        users.bulk_change(session, account, [f"u{i}" for i in range(201)], actor=actor,
                          status="inactive")
    with pytest.raises(RuleViolation, match="bulk.self"):
        users.bulk_change(session, account, [admin.id], actor=actor, status="inactive")
    report = users.bulk_change(session, account, [f"u{i}" for i in range(200)], actor=actor,
                               status="inactive")
    assert len(report.skipped) == 200


def test_audit_log_is_append_only_and_has_no_personal_data(session: Session, account: Account,
                                                           admin: User, actor: Actor):
    m = make_user(session, account, "m")
    users.update_profile(session, account, m.id, {"title": "Secret Title"}, actor=actor)
    users.record_audit(session, account, actor=actor, action="user.update", target_type="User",
                       target_id=m.id, before={"userName": "m@acme.test", "active": True},
                       after={"emails": [{"value": "m@acme.test"}], "active": False})
    entries = list_audit(session, account)
    assert [e.action for e in entries] == ["user.update", "user.update_profile"]
    assert entries[0].door == "api" and entries[0].actor_user_id == admin.id
    assert "m@acme.test" not in json.dumps([e.before for e in entries] + [e.after for e in entries])
    assert entries[0].after == {"emails": "[personal data]", "active": False}
    entries[0].action = "tampered"
    with pytest.raises(RuntimeError, match="append-only"):
        session.flush()


def test_resources_of_other_account_invisible(session: Session, account: Account, admin: User,
                                              actor: Actor):
    from tests.domain.factories import make_account

    other = make_account(session, "other", domains=["other.test"])
    res = make_resource(session, other, "board")
    with pytest.raises(NotFound):
        resources.get_resource(session, account, res.id)
    assert resources.list_resources(session, account) == []
    assert session.get(Resource, res.id) is not None


def test_resending_an_invitation_replaces_the_link(session: Session, account: Account,
                                                   admin: User, actor: Actor):
    user, first = users.invite_user(session, account, email="late@acme.test", actor=actor,
                                    mailer=OutboxMailer(), accept_url=url)
    again, second = users.resend_invitation(session, account, user.id, actor=actor,
                                            mailer=OutboxMailer(), accept_url=url)
    assert again.id == user.id and second != first
    mails = session.scalars(select(OutboxEmail).order_by(OutboxEmail.id)).all()
    assert [m.to_address for m in mails] == ["late@acme.test", "late@acme.test"]
    assert second not in mails[-1].body  # the stored copy withholds the link
    assert list_audit(session, account, limit=1)[0].action == "user.invitation_resent"
    # Only the newest link is live: a forwarded earlier email cannot be accepted any more.
    with pytest.raises(NotFound):
        users.accept_invitation(session, token=first)
    assert users.accept_invitation(session, token=second).status == "active"
    with pytest.raises(RuleViolation, match="invitation.not_pending"):
        users.resend_invitation(session, account, user.id, actor=actor, mailer=OutboxMailer(),
                                accept_url=url)


def test_activation_effects_tell_the_seats(session: Session, account: Account, admin: User):
    account.seats_limit = 3
    member = make_user(session, account, "m1", status="inactive")
    viewer = make_user(session, account, "v1", user_type="Viewer", status="inactive")
    effects = users.activation_effects(session, account, member.id)
    # The admin holds one of the three seats.
    assert (effects.takes_seat, effects.seats_used, effects.seats_limit) == (True, 1, 3)
    assert effects.seats_left == 2
    assert users.activation_effects(session, account, viewer.id).takes_seat is False
    make_user(session, account, "m2")
    make_user(session, account, "m3")
    assert users.activation_effects(session, account, member.id).seats_left == 0
