"""The audit log: every change through any door, append-only, without personal data."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, func, insert, select
from sqlalchemy.orm import Session

from scim_server.domain.actors import Actor, Clock
from scim_server.storage.domain_tables import AuditEntry
from scim_server.storage.models import Account, Group, User, utcnow

# Attribute names whose values are personal data. They are never written to the log, only the
# fact that they changed: erasing a user (issue: "personal data cannot be found anywhere in the
# database") must not require rewriting an append-only history.
PERSONAL_KEYS = frozenset(
    {
        "username", "user_name", "name", "givenname", "familyname", "formatted", "middlename",
        "displayname", "display_name", "nickname", "email", "emails", "new_email",
        "phonenumbers", "phone", "phone_numbers", "addresses", "title", "photos", "externalid",
        "external_id", "password", "ims", "x509certificates", "profileurl", "to_address",
    }
)
REDACTED = "[personal data]"


def scrub(value: Any) -> Any:
    """Replace the values of personal attributes (at any depth) by a marker."""
    if isinstance(value, dict):
        return {
            k: (REDACTED if str(k).replace("-", "").lower() in PERSONAL_KEYS else scrub(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [scrub(v) for v in value]
    return value


def record_audit(
    session: Session,
    account: Account,
    *,
    actor: Actor,
    action: str,
    target_type: str,
    target_id: str | None,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    clock: Clock = utcnow,
) -> None:
    """Append one entry (who, door, client, action, target, before, after, when).

    Personal attributes in ``before``/``after`` are replaced by a marker (see ``PERSONAL_KEYS``),
    so callers may pass whole documents. Written at once (one INSERT), not at the next flush,
    so that a write's last statement is the one it chose (see ``settle_counts``).
    """
    record_audits(session, account, actor=actor, action=action, target_type=target_type,
                  changes=[(target_id, before, after)], clock=clock)


def record_audits(
    session: Session,
    account: Account,
    *,
    actor: Actor,
    action: str,
    target_type: str,
    changes: Sequence[tuple[str | None, dict[str, Any] | None, dict[str, Any] | None]],
    clock: Clock = utcnow,
) -> None:
    """``record_audit`` for many targets of one action (a Bulk's creations): one statement.

    A change whose ``before`` equals its ``after`` (deactivating an inactive user, a SCIM PUT of
    the same document) changed nothing and is not logged. Compared before the personal values
    are scrubbed, which would make two different names look alike. An entry without either
    (``None``/``None``) records that the action happened and is kept."""
    changes = [(target_id, before, after) for target_id, before, after in changes
               if before is None or before != after]
    if not changes:
        return
    at = clock()
    session.execute(
        insert(AuditEntry.__table__),  # type: ignore[arg-type]
        [
            {
                "account_id": account.id,
                "at": at,
                "door": actor.door,
                "actor_user_id": actor.user_id,
                "actor_credential_id": actor.credential_id,
                "client": actor.client,
                "action": action,
                "target_type": target_type,
                "target_id": target_id,
                "before": scrub(before) if before is not None else None,
                "after": scrub(after) if after is not None else None,
            }
            for target_id, before, after in changes
        ],
    )


def list_audit(
    session: Session,
    account: Account,
    *,
    limit: int = 100,
    before_id: int | None = None,
    target_type: str | None = None,
    target_id: str | None = None,
    action: str | None = None,
    door: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> list[AuditEntry]:
    """Newest first, keyset-paged on the id (``before_id`` is the last id of the previous page).

    Every filter is in the query, on an index of the account's entries (by id, target, door,
    action, time): ``since`` is inclusive, ``until`` exclusive."""
    stmt = select(AuditEntry).where(*_audit_filter(
        account, target_type=target_type, target_id=target_id, action=action, door=door,
        since=since, until=until))
    if before_id is not None:
        stmt = stmt.where(AuditEntry.id < before_id)
    return list(session.scalars(stmt.order_by(AuditEntry.id.desc()).limit(limit)))


def _audit_filter(account: Account, *, target_type: str | None, target_id: str | None,
                  action: str | None, door: str | None, since: dt.datetime | None,
                  until: dt.datetime | None) -> list[Any]:
    where: list[Any] = [AuditEntry.account_id == account.id]
    if target_type is not None:
        where.append(AuditEntry.target_type == target_type)
    if target_id is not None:
        where.append(AuditEntry.target_id == target_id)
    if action is not None:
        where.append(AuditEntry.action == action)
    if door is not None:
        where.append(AuditEntry.door == door)
    if since is not None:
        where.append(AuditEntry.at >= since)
    if until is not None:
        where.append(AuditEntry.at < until)
    return where


@dataclass(frozen=True)
class Person:
    """Who an id of the log is today: a deleted user has no name or email left."""

    id: str
    display_name: str | None
    email: str | None
    deleted: bool


def people(session: Session, account: Account, user_ids: Iterable[str]) -> dict[str, Person]:
    """The account's users among ``user_ids`` (authors, targets, ids in changes), in one query;
    an id that is no user of the account is absent."""
    wanted = sorted({uid for uid in user_ids if uid and len(uid) <= 32})
    if not wanted:
        return {}
    rows = session.execute(
        select(User.id, User.display_name, User.email, User.user_name, User.status)
        .where(User.account_id == account.id, User.id.in_(wanted)))
    return {row.id: Person(row.id, row.display_name, row.email or row.user_name,
                           row.status == "deleted") for row in rows}


def group_names(session: Session, account: Account, group_ids: Iterable[str]) -> dict[str, str]:
    """The display names of the account's groups among ``group_ids``, in one query."""
    wanted = sorted({gid for gid in group_ids if gid and len(gid) <= 64})
    if not wanted:
        return {}
    rows = session.execute(select(Group.id, Group.display_name)
                           .where(Group.account_id == account.id, Group.id.in_(wanted)))
    return {row.id: row.display_name or row.id for row in rows}


def count_audit(
    session: Session,
    account: Account,
    *,
    target_type: str | None = None,
    target_id: str | None = None,
    action: str | None = None,
    door: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> int:
    """How many entries :func:`list_audit` lists with this filter, over all its pages."""
    where = _audit_filter(account, target_type=target_type, target_id=target_id, action=action,
                          door=door, since=since, until=until)
    return int(session.scalar(select(func.count()).select_from(AuditEntry).where(*where)) or 0)


@event.listens_for(Session, "before_flush")
def _append_only(session: Session, _context: Any, _instances: Any) -> None:
    # The log is evidence: an entry, once written, is neither edited nor removed by the ORM.
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, AuditEntry) and (obj in session.deleted or session.is_modified(obj)):
            raise RuntimeError("the audit log is append-only")
