"""Resources (monitors, boards, workspaces, automations, integrations) and their ownership:
create, list, transfer, claim, and the effects of a user's deactivation or deletion on them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import bindparam, delete, exists, func, select, update
from sqlalchemy.orm import Session, aliased

from scim_server.domain.actors import Actor, Clock
from scim_server.domain.audit import record_audit
from scim_server.domain.errors import InvalidInput, NotFound, RuleViolation, Severity
from scim_server.storage.domain_tables import (
    RESOURCE_KINDS,
    RUNNABLE_KINDS,
    Resource,
    ResourceOwner,
)
from scim_server.storage.models import Account, User, utcnow


@dataclass(frozen=True)
class ResourceView:
    resource: Resource
    owner_ids: list[str]


def _active_user(session: Session, account: Account, user_id: str, *, role: str) -> User:
    user = session.get(User, user_id)
    if user is None or user.account_id != account.id or user.status == "deleted":
        raise NotFound("no user %(id)s", {"id": user_id})
    if user.status != "active":
        raise RuleViolation(
            "ownership.requires_active",
            "the %(role)s must be an active user; this one is %(status)s",
            Severity.CONFLICT,
            params={"role": role, "status": user.status},
        )
    return user


def owners_of(session: Session, resource_ids: Sequence[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {rid: [] for rid in resource_ids}
    if not resource_ids:
        return out
    rows = session.execute(
        select(ResourceOwner.resource_id, ResourceOwner.user_id)
        .where(ResourceOwner.resource_id.in_(list(resource_ids)))
        .order_by(ResourceOwner.resource_id, ResourceOwner.user_id)
    )
    for rid, uid in rows:
        out[rid].append(uid)
    return out


def create_resource(
    session: Session, account: Account, *, kind: str, name: str, production: bool = False,
    owner_ids: Sequence[str] = (), actor: Actor, clock: Clock = utcnow,
) -> ResourceView:
    """Create a resource owned by ``owner_ids`` (active users of the account)."""
    if kind not in RESOURCE_KINDS:
        raise InvalidInput("kind must be one of %(kinds)s", field="kind",
                           params={"kinds": ", ".join(RESOURCE_KINDS)})
    owners = list(dict.fromkeys(owner_ids))
    for uid in owners:
        _active_user(session, account, uid, role="owner")
    now = clock()
    res = Resource(account_id=account.id, kind=kind, name=name, production=production,
                   enabled=True, accessible=True, created_by_id=actor.user_id,
                   created_at=now, modified_at=now)
    session.add(res)
    session.flush()
    for uid in owners:
        session.add(ResourceOwner(resource_id=res.id, user_id=uid, account_id=account.id))
    record_audit(session, account, actor=actor, action="resource.create", target_type="resource",
                 target_id=res.id, before=None,
                 after={"kind": kind, "production": production, "owners": owners}, clock=clock)
    session.flush()
    return ResourceView(res, owners)


def get_resource(session: Session, account: Account, resource_id: str) -> ResourceView:
    res = session.get(Resource, resource_id)
    if res is None or res.account_id != account.id:
        raise NotFound("no resource %(id)s", {"id": resource_id})
    return ResourceView(res, owners_of(session, [res.id])[res.id])


def _resource_filters(account: Account, kind: str | None, owner_id: str | None) -> list[Any]:
    where: list[Any] = [Resource.account_id == account.id]
    if kind is not None:
        where.append(Resource.kind == kind)
    if owner_id is not None:
        where.append(exists().where(ResourceOwner.resource_id == Resource.id,
                                    ResourceOwner.user_id == owner_id))
    return where


def count_matching_resources(session: Session, account: Account, *, kind: str | None = None,
                             owner_id: str | None = None) -> int:
    """How many resources :func:`list_resources` lists with this filter, over all its pages."""
    return int(session.scalar(select(func.count()).select_from(Resource)
                              .where(*_resource_filters(account, kind, owner_id))) or 0)


def list_resources(
    session: Session, account: Account, *, kind: str | None = None, owner_id: str | None = None,
    after_id: str | None = None, limit: int = 100,
) -> list[ResourceView]:
    """Resources of the account ordered by id, keyset-paged (``after_id``)."""
    stmt = select(Resource).where(*_resource_filters(account, kind, owner_id))
    if after_id is not None:
        stmt = stmt.where(Resource.id > after_id)
    rows = list(session.scalars(stmt.order_by(Resource.id).limit(limit)))
    owners = owners_of(session, [r.id for r in rows])
    return [ResourceView(r, owners[r.id]) for r in rows]


def transfer_ownership(
    session: Session, account: Account, *, from_user_id: str, to_user_id: str,
    resource_ids: Sequence[str] | None = None, actor: Actor, clock: Clock = utcnow,
) -> list[str]:
    """Move all (or the chosen) resources owned by ``from_user_id`` to ``to_user_id``, an active
    user. Moved resources become accessible again, and runnable ones enabled again: the issue
    keeps automations disabled "until re-enabled or transferred"."""
    src = session.get(User, from_user_id)
    if src is None or src.account_id != account.id:
        raise NotFound("no user %(id)s", {"id": from_user_id})
    _active_user(session, account, to_user_id, role="new owner")
    stmt = select(ResourceOwner.resource_id).where(ResourceOwner.user_id == from_user_id,
                                                   ResourceOwner.account_id == account.id)
    if resource_ids is not None:
        stmt = stmt.where(ResourceOwner.resource_id.in_(list(resource_ids)))
    moved = sorted(set(session.scalars(stmt)))
    if resource_ids is not None:
        missing = set(resource_ids) - set(moved)
        if missing:
            raise NotFound("user %(id)s does not own %(ids)s",
                           {"id": from_user_id, "ids": ", ".join(sorted(missing))})
    _replace_owner(session, account, moved, remove=[from_user_id], add=to_user_id, clock=clock)
    record_audit(session, account, actor=actor, action="resource.transfer", target_type="user",
                 target_id=from_user_id, before={"owner": from_user_id, "resources": moved},
                 after={"owner": to_user_id, "resources": moved}, clock=clock)
    return moved


def claim_ownership(
    session: Session, account: Account, *, resource_ids: Sequence[str], actor: Actor,
    clock: Clock = utcnow,
) -> list[str]:
    """The acting admin becomes the owner of the resources; owners who are no longer active
    (deactivated or deleted) are removed, active co-owners stay."""
    if actor.user_id is None:
        raise RuleViolation("ownership.requires_active", "only a user can claim resources",
                            Severity.FORBIDDEN)
    _active_user(session, account, actor.user_id, role="claimant")
    ids = sorted(set(resource_ids))
    found = set(session.scalars(select(Resource.id).where(Resource.account_id == account.id,
                                                         Resource.id.in_(ids))))
    if found != set(ids):
        raise NotFound("no resource %(id)s", {"id": ", ".join(sorted(set(ids) - found))})
    inactive_owners = list(session.scalars(
        select(ResourceOwner.user_id).join(User, User.id == ResourceOwner.user_id)
        .where(ResourceOwner.resource_id.in_(ids), User.status != "active").distinct()))
    before = owners_of(session, ids)
    _replace_owner(session, account, ids, remove=inactive_owners, add=actor.user_id, clock=clock)
    record_audit(session, account, actor=actor, action="resource.claim", target_type="resource",
                 target_id=None, before={"owners": before},
                 after={"owners": owners_of(session, ids)}, clock=clock)
    return ids


def set_enabled(
    session: Session, account: Account, resource_id: str, enabled: bool, *, actor: Actor,
    clock: Clock = utcnow,
) -> ResourceView:
    """Re-enable (or disable) an automation or integration; an inaccessible one (no active
    owner) cannot be enabled before it is transferred or claimed."""
    view = get_resource(session, account, resource_id)
    res = view.resource
    if res.kind not in RUNNABLE_KINDS:
        raise InvalidInput("only automations and integrations can be enabled", field="enabled")
    if enabled and not res.accessible:
        raise RuleViolation("ownership.requires_active",
                            "transfer or claim this resource before enabling it",
                            Severity.CONFLICT)
    before = res.enabled
    res.enabled = enabled
    res.modified_at = clock()
    record_audit(session, account, actor=actor, action="resource.enable" if enabled else
                 "resource.disable", target_type="resource", target_id=res.id,
                 before={"enabled": before}, after={"enabled": enabled}, clock=clock)
    session.flush()
    return view


def _replace_owner(session: Session, account: Account, ids: list[str], *, remove: list[str],
                   add: str, clock: Clock) -> None:
    if not ids:
        return
    if remove:
        session.execute(delete(ResourceOwner).where(ResourceOwner.resource_id.in_(ids),
                                                    ResourceOwner.user_id.in_(remove)))
    already = set(session.scalars(select(ResourceOwner.resource_id).where(
        ResourceOwner.resource_id.in_(ids), ResourceOwner.user_id == add)))
    for rid in ids:
        if rid not in already:
            session.add(ResourceOwner(resource_id=rid, user_id=add, account_id=account.id))
    session.execute(
        update(Resource).where(Resource.id.in_(ids))
        .values(accessible=True, modified_at=clock()).execution_options(synchronize_session=False)
    )
    session.execute(
        update(Resource).where(Resource.id.in_(ids), Resource.kind.in_(RUNNABLE_KINDS))
        .values(enabled=True).execution_options(synchronize_session=False)
    )
    _expire_resources(session)
    session.flush()


def _expire_resources(session: Session) -> None:
    # Bulk UPDATEs bypass the identity map; reload resources (and only them: a user row may
    # hold changes the caller has not flushed yet) on next access.
    for obj in list(session.identity_map.values()):
        if isinstance(obj, Resource | ResourceOwner):
            session.expire(obj)


# --- effects of the user lifecycle -----------------------------------------------------------

def _owned(user_id: str):  # type: ignore[no-untyped-def]
    return select(ResourceOwner.resource_id).where(ResourceOwner.user_id == user_id)


def _has_other_active_owner(user_id: str):  # type: ignore[no-untyped-def]
    other = aliased(ResourceOwner)
    return exists().where(
        other.resource_id == Resource.id, other.user_id != user_id,
        User.id == other.user_id, User.status == "active",
    )


# Built once: every deactivation asks it first.
_OWNS_ANY = select(ResourceOwner.resource_id).where(
    ResourceOwner.user_id == bindparam("user_id")).limit(1)


# Built once, one statement (most users own nothing, and then it changes nothing).
_REOPEN = (
    update(Resource)
    .where(Resource.account_id == bindparam("b_account"), Resource.accessible.is_(False),
           Resource.id.in_(select(ResourceOwner.resource_id)
                           .where(ResourceOwner.user_id == bindparam("b_user"))))
    .values(accessible=True, modified_at=bindparam("b_now"))
)


def _disabled_on_deactivation(account: Account, user_id: str) -> list[Any]:
    return [Resource.account_id == account.id, Resource.id.in_(_owned(user_id)),
            Resource.kind.in_(RUNNABLE_KINDS)]


def _closed_on_deactivation(account: Account, user_id: str) -> list[Any]:
    return [Resource.account_id == account.id, Resource.id.in_(_owned(user_id)),
            ~_has_other_active_owner(user_id),
            # The seed product: a workspace stays open when the user who created it leaves.
            ~sa.and_(Resource.kind == "workspace",
                     sa.func.coalesce(Resource.created_by_id, "") == user_id)]


@dataclass(frozen=True)
class DeactivationEffects:
    """What deactivating a user would do to what they own, for the confirmation."""

    disabled: int  # automations and integrations switched off
    closed: int  # resources that no other active owner keeps accessible


def deactivation_effects(session: Session, account: Account, user_id: str) -> DeactivationEffects:
    count = select(func.count()).select_from(Resource)
    return DeactivationEffects(
        disabled=session.scalar(count.where(*_disabled_on_deactivation(account, user_id))) or 0,
        closed=session.scalar(count.where(*_closed_on_deactivation(account, user_id))) or 0)


def on_deactivate(session: Session, account: Account, user_id: str, *, clock: Clock) -> None:
    """Deactivation: the user's automations and integrations are disabled, resources with no
    other active owner become inaccessible; workspaces they created are untouched."""
    if session.connection().execute(_OWNS_ANY, {"user_id": user_id}).first() is None:
        return  # most users own nothing: one query, not two updates
    now = clock()
    session.execute(
        update(Resource).where(*_disabled_on_deactivation(account, user_id))
        .values(enabled=False, modified_at=now).execution_options(synchronize_session=False)
    )
    session.execute(
        update(Resource).where(*_closed_on_deactivation(account, user_id))
        .values(accessible=False, modified_at=now).execution_options(synchronize_session=False)
    )
    _expire_resources(session)


def on_reactivate(session: Session, account: Account, user_id: str, *, clock: Clock) -> None:
    """Reactivation: what the user owns has an active owner again, so it is accessible again;
    disabled automations stay disabled (issue: until re-enabled or transferred)."""
    reopened = session.connection().execute(
        _REOPEN, {"b_account": account.id, "b_user": user_id, "b_now": clock()})
    if reopened.rowcount:
        _expire_resources(session)


def on_delete(session: Session, account: Account, user_id: str, *, clock: Clock) -> None:
    """Deletion: as deactivation, then the user's ownerships are removed."""
    on_deactivate(session, account, user_id, clock=clock)
    session.execute(delete(ResourceOwner).where(ResourceOwner.user_id == user_id))


def count_resources(session: Session, account: Account) -> tuple[int, int]:
    """(all, production) resources of the account."""
    row = session.execute(
        select(func.count(), func.count().filter(Resource.production.is_(True)))
        .where(Resource.account_id == account.id)
    ).one()
    return int(row[0]), int(row[1])


__all__ = [
    "ResourceView", "claim_ownership", "count_matching_resources", "count_resources", "create_resource", "get_resource",
    "list_resources", "on_deactivate", "on_delete", "on_reactivate", "owners_of", "set_enabled",
    "transfer_ownership",
]
