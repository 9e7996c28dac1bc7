"""Permissions on resources (view, edit, admin) granted to users and to groups, and the
overview of who holds what, including what a user holds through a group (nested groups too).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from scim_server.domain.actors import Actor, Clock
from scim_server.domain.audit import record_audit
from scim_server.domain.errors import InvalidInput, NotFound
from scim_server.domain.resources import owners_of
from scim_server.storage.domain_tables import RESOURCE_KINDS, Resource
from scim_server.storage.hub_tables import PERMISSION_LEVELS, ResourcePermission
from scim_server.storage.models import Account, Group, GroupMember, User, utcnow

RANK = {level: n for n, level in enumerate(PERMISSION_LEVELS)}


@dataclass(frozen=True)
class GroupGrant:
    id: str
    display_name: str | None
    level: str


@dataclass
class UserHolding:
    id: str
    display_name: str | None
    user_type: str
    status: str
    direct_level: str | None = None
    through_groups: list[GroupGrant] = field(default_factory=list)

    @property
    def level(self) -> str:
        """The effective level: the highest of the direct grant and the groups' grants."""
        levels = [g.level for g in self.through_groups]
        if self.direct_level is not None:
            levels.append(self.direct_level)
        return max(levels, key=RANK.__getitem__)


@dataclass
class ResourcePermissions:
    resource: Resource
    owner_ids: list[str]
    groups: list[GroupGrant]
    users: list[UserHolding]


@dataclass(frozen=True)
class PermissionsPage:
    total: int
    items: list[ResourcePermissions]


def _resource(session: Session, account: Account, resource_id: str) -> Resource:
    res = session.get(Resource, resource_id) if len(resource_id) <= 32 else None
    if res is None or res.account_id != account.id:
        raise NotFound("no resource %(id)s", {"id": resource_id})
    return res


def _principal(
    session: Session, account: Account, principal_type: str, principal_id: str
) -> User | Group:
    if principal_type not in ("user", "group"):
        raise InvalidInput("the principal must be a user or a group", "principal_type")
    row: User | Group | None = None
    if len(principal_id) <= 32:
        row = (
            session.get(User, principal_id)
            if principal_type == "user"
            else session.get(Group, principal_id)
        )
    if row is None or row.account_id != account.id or getattr(row, "status", None) == "deleted":
        raise NotFound("no %(principal)s %(id)s", {"principal": principal_type, "id": principal_id})
    return row


def _grant_row(
    session: Session, resource_id: str, principal_type: str, principal_id: str
) -> ResourcePermission | None:
    column = ResourcePermission.user_id if principal_type == "user" else ResourcePermission.group_id
    return session.scalars(
        select(ResourcePermission).where(
            ResourcePermission.resource_id == resource_id, column == principal_id
        )
    ).first()


def grant_permission(
    session: Session,
    account: Account,
    resource_id: str,
    *,
    principal_type: str,
    principal_id: str,
    level: str,
    actor: Actor,
    clock: Clock = utcnow,
) -> ResourcePermission:
    """Grant ``level`` on a resource to a user or a group; granting again changes the level."""
    if level not in PERMISSION_LEVELS:
        raise InvalidInput("level must be one of %(levels)s", "level",
                           params={"levels": ", ".join(PERMISSION_LEVELS)})
    _resource(session, account, resource_id)
    _principal(session, account, principal_type, principal_id)
    row = _grant_row(session, resource_id, principal_type, principal_id)
    before = None if row is None else {"level": row.level}
    if row is None:
        row = ResourcePermission(
            account_id=account.id,
            resource_id=resource_id,
            user_id=principal_id if principal_type == "user" else None,
            group_id=principal_id if principal_type == "group" else None,
        )
        session.add(row)
    row.level = level
    row.granted_at = clock()
    row.granted_by_id = actor.user_id
    session.flush()
    record_audit(
        session, account, actor=actor, action="permission.grant", target_type="resource",
        target_id=resource_id, before=before,
        after={"principal_type": principal_type, "principal_id": principal_id, "level": level},
        clock=clock,
    )
    return row


def revoke_permission(
    session: Session,
    account: Account,
    resource_id: str,
    *,
    principal_type: str,
    principal_id: str,
    actor: Actor,
    clock: Clock = utcnow,
) -> None:
    _resource(session, account, resource_id)
    if principal_type not in ("user", "group"):
        raise InvalidInput("the principal must be a user or a group", "principal_type")
    row = _grant_row(session, resource_id, principal_type, principal_id)
    if row is None or row.account_id != account.id:
        raise NotFound("the %(principal)s %(id)s holds no permission on %(resource)s",
                       {"principal": principal_type, "id": principal_id, "resource": resource_id})
    before = {"principal_type": principal_type, "principal_id": principal_id, "level": row.level}
    session.delete(row)
    session.flush()
    record_audit(
        session, account, actor=actor, action="permission.revoke", target_type="resource",
        target_id=resource_id, before=before, after=None, clock=clock,
    )


def permissions_overview(
    session: Session,
    account: Account,
    *,
    kind: str | None = None,
    production: bool | None = None,
    resource_id: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> PermissionsPage:
    """Per resource (ordered by name, then id), the groups and users holding a permission.

    Five queries per page: the count, the page, the owners, the direct grants, and the users
    reached through granted groups. That last one walks nested groups downwards from the
    granted ones only (a recursive CTE; UNION, not UNION ALL, so a membership cycle ends), so
    its cost follows the granted groups, not the account's size. Deleted users hold nothing.
    """
    if not 1 <= limit <= 500:
        raise InvalidInput("limit must be between 1 and 500", "limit")
    if offset < 0:
        raise InvalidInput("offset must not be negative", "offset")
    if kind is not None and kind not in RESOURCE_KINDS:
        raise InvalidInput("kind must be one of %(kinds)s", "kind",
                           params={"kinds": ", ".join(RESOURCE_KINDS)})
    stmt = select(Resource).where(Resource.account_id == account.id)
    if kind is not None:
        stmt = stmt.where(Resource.kind == kind)
    if production is not None:
        stmt = stmt.where(Resource.production.is_(production))
    if resource_id is not None:
        stmt = stmt.where(Resource.id == resource_id)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    resources = list(
        session.scalars(stmt.order_by(Resource.name, Resource.id).limit(limit).offset(offset))
    )
    ids = [r.id for r in resources]
    if not ids:
        return PermissionsPage(int(total), [])
    owners = owners_of(session, ids)

    groups: dict[str, list[GroupGrant]] = defaultdict(list)
    users: dict[str, dict[str, UserHolding]] = defaultdict(dict)
    group_grants: dict[str, list[tuple[str, GroupGrant]]] = defaultdict(list)
    for rid, uid, gid, level, u_name, u_type, u_status, g_name in session.execute(
        select(
            ResourcePermission.resource_id, ResourcePermission.user_id,
            ResourcePermission.group_id, ResourcePermission.level, User.display_name,
            User.user_type, User.status, Group.display_name,
        )
        .outerjoin(User, User.id == ResourcePermission.user_id)
        .outerjoin(Group, Group.id == ResourcePermission.group_id)
        .where(ResourcePermission.account_id == account.id, ResourcePermission.resource_id.in_(ids))
    ):
        if gid is not None:
            grant = GroupGrant(gid, g_name, level)
            groups[rid].append(grant)
            group_grants[gid].append((rid, grant))
        elif uid is not None and u_status != "deleted":
            users[rid][uid] = UserHolding(uid, u_name, u_type, u_status, direct_level=level)

    if group_grants:
        reach = (
            select(
                ResourcePermission.group_id.label("root"),
                ResourcePermission.group_id.label("grp"),
            )
            .where(
                ResourcePermission.account_id == account.id,
                ResourcePermission.resource_id.in_(ids),
                ResourcePermission.group_id.is_not(None),
            )
            .cte("reach", recursive=True)
        )
        child = GroupMember.__table__.alias("child")
        reach = reach.union(
            select(reach.c.root, child.c.member_id).join(
                child,
                and_(
                    child.c.group_id == reach.c.grp,
                    child.c.member_type == "Group",
                    child.c.account_id == account.id,
                ),
            )
        )
        for root, uid, u_name, u_type, u_status in session.execute(
            select(reach.c.root, User.id, User.display_name, User.user_type, User.status)
            .join(
                GroupMember,
                and_(GroupMember.group_id == reach.c.grp, GroupMember.member_type == "User"),
            )
            .join(User, User.id == GroupMember.member_id)
            .where(User.account_id == account.id, User.status != "deleted")
            .distinct()
        ):
            for rid, grant in group_grants[root]:
                holding = users[rid].setdefault(
                    uid, UserHolding(uid, u_name, u_type, u_status)
                )
                holding.through_groups.append(grant)

    def by_name(item: GroupGrant | UserHolding) -> tuple[str, str]:
        return ((item.display_name or "").casefold(), item.id)

    items = []
    for res in resources:
        holders = sorted(users[res.id].values(), key=by_name)
        for h in holders:
            h.through_groups.sort(key=by_name)
        items.append(
            ResourcePermissions(res, owners[res.id], sorted(groups[res.id], key=by_name), holders)
        )
    return PermissionsPage(int(total), items)
