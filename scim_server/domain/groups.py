"""Groups as the admin doors write them: create, rename, add and remove a member.

Groups carry no account rule but the uniqueness of their names (``group.name_taken``); the
writes go through the storage's records and members APIs, the statements the SCIM door runs,
so the stored document, the version (SCIM ETags) and the membership rows are the same
whichever door wrote them. Each change is audited with the acting door.
"""

from __future__ import annotations

from typing import Any

from scim2_models import NotFoundException, Resource, UniquenessException
from sqlalchemy.orm import Session

from scim_server.domain import events
from scim_server.domain.actors import Actor
from scim_server.domain.audit import record_audit
from scim_server.domain.errors import NotFound, RuleViolation, Severity
from scim_server.storage.conversion import group_fields, resource_of
from scim_server.storage.members import Members
from scim_server.storage.models import Account, new_id, utcnow
from scim_server.storage.reads import Reads
from scim_server.storage.records import Records
from scim_server.storage.schema import default_provider
from scim_server.storage.scope import AccountScope


def _scope(session: Session, account: Account) -> AccountScope:
    return AccountScope(session=lambda: session, account_id=lambda: account.id)


def _model() -> Any:
    provider = default_provider()
    group_type = next(rt for rt in provider.resource_types if rt.name == "Group")
    return provider, provider.model_for(group_type)


def _name_taken(name: str) -> RuleViolation:
    return RuleViolation("group.name_taken", "a group named %(name)s already exists",
                         Severity.CONFLICT, params={"name": name})


def create_group(session: Session, account: Account, name: str, *, actor: Actor) -> str:
    """Create an empty group (``group.name_taken``); returns its id."""
    provider, model = _model()
    with provider:
        fields = group_fields(model(display_name=name))
    group_id = new_id()
    try:
        Records(_scope(session, account), utcnow).insert_group(fields, group_id=group_id)
    except UniquenessException:
        raise _name_taken(name) from None
    record_audit(session, account, actor=actor, action="group.create", target_type="group",
                 target_id=group_id, before=None, after={"members": 0})
    events.record_events(session, account, actor=actor,
                         changes=[events.created("Group", group_id, fields["data"])])
    return group_id


def rename_group(session: Session, account: Account, group_id: str, name: str, *,
                 actor: Actor) -> None:
    """Rename a group (``group.name_taken``); its members stay untouched and unread."""
    scope = _scope(session, account)
    row = Reads(scope).one("Group", group_id)
    if row is None:
        raise NotFound("no group %(id)s", {"id": group_id})
    provider, model = _model()
    with provider:
        group: Resource[Any] = resource_of(model, "Group", row, dict(row.data))
        group.display_name = name  # type: ignore[attr-defined]
        fields = group_fields(group)
    try:
        # No precondition to honour: the name is written whatever changed meanwhile.
        Records(scope, utcnow).update_group(group_id, fields, version=None,
                                            renamed=fields["display_name_key"] != row.unique_key)
    except UniquenessException:
        raise _name_taken(name) from None
    except NotFoundException:
        raise NotFound("no group %(id)s", {"id": group_id}) from None
    record_audit(session, account, actor=actor, action="group.rename", target_type="group",
                 target_id=group_id, before=None, after=None)
    events.record_events(session, account, actor=actor, changes=events.modified(
        "Group", group_id, events.changed_attributes(dict(row.data), fields["data"])))


def _touch(scope: AccountScope, group_id: str) -> None:
    """Move the group to its next version, whatever version it is at now."""
    try:
        Records(scope, utcnow).update_group(group_id, None, version=None, renamed=False)
    except NotFoundException:
        raise NotFound("no group %(id)s", {"id": group_id}) from None


def add_member(session: Session, account: Account, group_id: str, user_id: str, *,
               actor: Actor) -> None:
    """Add a user of the account to a group (nothing happens when they are in it already)."""
    scope = _scope(session, account)
    _touch(scope, group_id)
    unknown, added = Members(scope).add_delta(group_id, [user_id])
    if unknown:
        raise NotFound("no user %(id)s", {"id": user_id})
    record_audit(session, account, actor=actor, action="group.add_members", target_type="group",
                 target_id=group_id, before=None, after={"added": [user_id]})
    events.record_events(session, account, actor=actor,
                         changes=events.members_changed(group_id, added=added))


def remove_member(session: Session, account: Account, group_id: str, member_id: str, *,
                  actor: Actor) -> None:
    """Remove a member from a group."""
    scope = _scope(session, account)
    _touch(scope, group_id)
    removed = Members(scope).remove(group_id, [member_id])
    record_audit(session, account, actor=actor, action="group.remove_members",
                 target_type="group", target_id=group_id, before=None,
                 after={"removed": [member_id]})
    events.record_events(session, account, actor=actor,
                         changes=events.members_changed(group_id, removed=removed))
