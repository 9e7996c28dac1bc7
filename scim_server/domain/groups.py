"""Groups as the admin doors write and read them: create, rename, delete, add and remove
members; list and search them, page a group's members.

Groups carry no account rule but the uniqueness of their names (``group.name_taken``); the
writes go through the storage's records and members APIs, the statements the SCIM door runs,
so the stored document, the version (SCIM ETags) and the membership rows are the same
whichever door wrote them. Each change is audited with the acting door.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from scim2_models import NotFoundException, Resource, UniquenessException
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from scim_server.domain import events
from scim_server.domain.actors import Actor, as_utc
from scim_server.domain.audit import record_audit
from scim_server.domain.documents import comparison_key
from scim_server.domain.errors import InvalidInput, NotFound, RuleViolation, Severity
from scim_server.storage.conversion import group_fields, resource_of
from scim_server.storage.domain_tables import AuditEntry
from scim_server.storage.members import Members, group_is_empty
from scim_server.storage.models import Account, Group, GroupMember, new_id, utcnow
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


def add_members(session: Session, account: Account, group_id: str, member_ids: Sequence[str],
                *, actor: Actor) -> list[str]:
    """Add users (or groups) of the account to a group; the ids that were not members yet.

    All or nothing: an id that is no user or group of this account refuses the whole change
    (NotFound), whichever account it belongs to."""
    if group_id in member_ids:
        raise InvalidInput("a group cannot be a member of itself", field="member_ids")
    scope = _scope(session, account)
    _touch(scope, group_id)
    unknown, added = Members(scope).add_delta(group_id, list(member_ids))
    if unknown:
        raise NotFound("no user or group %(id)s", params={"id": unknown[0]})
    _members_changed(session, account, group_id, "added", added, actor=actor)
    return added


def remove_members(session: Session, account: Account, group_id: str,
                   member_ids: Sequence[str], *, actor: Actor) -> list[str]:
    """Remove members from a group; the ids that were members (the others are ignored)."""
    scope = _scope(session, account)
    _touch(scope, group_id)
    removed = Members(scope).remove(group_id, list(member_ids))
    _members_changed(session, account, group_id, "removed", removed, actor=actor)
    return removed


def _members_changed(session: Session, account: Account, group_id: str,
                     how: Literal["added", "removed"], ids: list[str], *, actor: Actor) -> None:
    """The audit entry and the event of a membership change, when it changed anything."""
    if not ids:
        return
    action = "group.add_members" if how == "added" else "group.remove_members"
    # The audit entry keeps the first thousand ids: its count says how many there were.
    record_audit(session, account, actor=actor, action=action, target_type="group",
                 target_id=group_id, before=None, after={how: ids[:1000], "count": len(ids)})
    events.record_events(session, account, actor=actor,
                         changes=events.members_changed(group_id, **{how: ids}))


def delete_group(session: Session, account: Account, group_id: str, *, actor: Actor) -> None:
    """Delete a group as the SCIM door's DELETE does: its memberships go, the groups it was a
    member of move to their next version, its permission grants go with it (foreign key).

    Whatever version the group is at: the admin doors send no precondition, so a group an
    identity provider keeps changing is still deleted (its row is held from the first
    statement, so no change slips in between)."""
    scope = _scope(session, account)
    records = Records(scope, utcnow)
    try:
        held = records.update_group(group_id, None, version=None, renamed=False)
    except NotFoundException:
        raise NotFound("no group %(id)s", params={"id": group_id}) from None
    count = int(session.scalar(select(func.count()).select_from(GroupMember).where(
        GroupMember.account_id == account.id, GroupMember.group_id == group_id)) or 0)
    Members(scope).leave_all(group_id, now=utcnow())
    records.delete_group(group_id, version=held.version)
    record_audit(session, account, actor=actor, action="group.delete", target_type="group",
                 target_id=group_id, before={"members": count}, after=None)
    events.record_events(session, account, actor=actor,
                         changes=[events.deleted("Group", group_id)])


# --- reads ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class GroupRow:
    id: str
    display_name: str | None
    external_id: str | None
    members: int
    created_at: dt.datetime
    modified_at: dt.datetime
    # Created or last changed through the SCIM door (or carrying an identity provider's
    # externalId): the identity provider's next push overwrites changes made elsewhere, even
    # after a change made here.
    managed_by_identity_provider: bool


@dataclass(frozen=True)
class GroupPage:
    total: int
    groups: list[GroupRow]


@dataclass(frozen=True)
class MemberRow:
    id: str
    type: str
    display: str | None


@dataclass(frozen=True)
class MemberPage:
    total: int
    members: list[MemberRow]


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _member_counts(account: Account) -> Any:
    return (
        select(GroupMember.group_id, func.count().label("n"))
        .where(GroupMember.account_id == account.id)
        .group_by(GroupMember.group_id)
        .subquery()
    )


def scim_managed(session: Session, account: Account, group_ids: Sequence[str]) -> set[str]:
    """The groups created or last changed through the SCIM door: their first or their last
    audited change came from an identity provider (one grouped read on the audit log's
    (account, target_type, target_id) index, then the two entries of each group)."""
    if not group_ids:
        return set()
    ends = (
        select(AuditEntry.target_id, func.min(AuditEntry.id).label("first_id"),
               func.max(AuditEntry.id).label("last_id"))
        .where(AuditEntry.account_id == account.id, AuditEntry.target_type == "group",
               AuditEntry.target_id.in_(list(group_ids)))
        .group_by(AuditEntry.target_id)
        .subquery()
    )
    rows = session.execute(
        select(AuditEntry.target_id)
        .join(ends, (ends.c.first_id == AuditEntry.id) | (ends.c.last_id == AuditEntry.id))
        .where(AuditEntry.door == "scim")
    ).scalars()
    return {str(r) for r in rows}


def list_groups(session: Session, account: Account, *, q: str | None = None,
                without_members: bool | None = None, limit: int = 50, offset: int = 0,
                empty_first: bool = False) -> GroupPage:
    """One page of the account's groups by name, with their member counts and the total of
    the filter: ``q`` searches the display name (case-insensitive substring),
    ``without_members`` keeps only the empty groups (True) or only the others (False);
    ``empty_first`` lists the empty groups before the others (the admin UI's order)."""
    where: list[Any] = [Group.account_id == account.id]
    if q and q.strip():
        pattern = f"%{_escape_like(comparison_key(q.strip()))}%"
        where.append(Group.display_name_key.like(pattern, escape="\\"))
    if without_members is not None:
        empty = group_is_empty()
        where.append(empty if without_members else ~empty)
    total = int(session.scalar(select(func.count()).select_from(Group).where(*where)) or 0)
    counts = _member_counts(account)
    members = func.coalesce(counts.c.n, 0)
    order: list[Any] = [Group.display_name_key, Group.id]
    if empty_first:
        order.insert(0, members > 0)
    rows = session.execute(
        select(Group.id, Group.display_name, Group.external_id, members,
               Group.created_at, Group.modified_at)
        .outerjoin(counts, counts.c.group_id == Group.id)
        .where(*where)
        .order_by(*order)
        .limit(limit)
        .offset(offset)
    ).all()
    managed = scim_managed(session, account, [r[0] for r in rows])
    return GroupPage(total, [
        GroupRow(r[0], r[1], r[2], int(r[3]), as_utc(r[4]), as_utc(r[5]),
                 r[0] in managed or r[2] is not None)
        for r in rows
    ])


def get_group(session: Session, account: Account, group_id: str) -> GroupRow:
    group = session.get(Group, group_id)
    # Another account's group is "not found", exactly like an id that does not exist.
    if group is None or group.account_id != account.id:
        raise NotFound("no group %(id)s", params={"id": group_id})
    count = int(session.scalar(select(func.count()).select_from(GroupMember).where(
        GroupMember.account_id == account.id, GroupMember.group_id == group_id)) or 0)
    managed = bool(scim_managed(session, account, [group_id]))
    return GroupRow(group.id, group.display_name, group.external_id, count,
                    as_utc(group.created_at), as_utc(group.modified_at),
                    managed or group.external_id is not None)


def list_members(session: Session, account: Account, group_id: str, *, limit: int = 50,
                 offset: int = 0, q: str | None = None) -> MemberPage:
    """One page of a group's members by name (``q``: a substring of their display, any
    case), with the total."""
    where: list[Any] = [GroupMember.account_id == account.id, GroupMember.group_id == group_id]
    if q and q.strip():
        pattern = f"%{_escape_like(q.strip().lower())}%"
        where.append(func.lower(GroupMember.display).like(pattern, escape="\\"))
    total = int(session.scalar(select(func.count()).select_from(GroupMember).where(*where)) or 0)
    rows = session.execute(
        select(GroupMember.member_id, GroupMember.member_type, GroupMember.display)
        .where(*where)
        .order_by(GroupMember.display, GroupMember.member_id)
        .limit(limit)
        .offset(offset)
    ).all()
    return MemberPage(total, [MemberRow(r[0], r[1], r[2]) for r in rows])
