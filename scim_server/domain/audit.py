"""The audit log: every change through any door, append-only, without personal data."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import event, func, insert, select
from sqlalchemy.orm import Session

from scim_server.domain.actors import Actor, Clock
from scim_server.storage.domain_tables import AuditEntry
from scim_server.storage.models import Account, utcnow

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
    """``record_audit`` for many targets of one action (a Bulk's creations): one statement."""
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
) -> list[AuditEntry]:
    """Newest first, keyset-paged on the id (``before_id`` is the last id of the previous page)."""
    stmt = select(AuditEntry).where(AuditEntry.account_id == account.id)
    if before_id is not None:
        stmt = stmt.where(AuditEntry.id < before_id)
    if target_type is not None:
        stmt = stmt.where(AuditEntry.target_type == target_type)
    if target_id is not None:
        stmt = stmt.where(AuditEntry.target_id == target_id)
    if action is not None:
        stmt = stmt.where(AuditEntry.action == action)
    return list(session.scalars(stmt.order_by(AuditEntry.id.desc()).limit(limit)))


def count_audit(
    session: Session,
    account: Account,
    *,
    target_type: str | None = None,
    target_id: str | None = None,
    action: str | None = None,
) -> int:
    """How many entries :func:`list_audit` lists with this filter, over all its pages."""
    stmt = select(func.count()).select_from(AuditEntry).where(AuditEntry.account_id == account.id)
    if target_type is not None:
        stmt = stmt.where(AuditEntry.target_type == target_type)
    if target_id is not None:
        stmt = stmt.where(AuditEntry.target_id == target_id)
    if action is not None:
        stmt = stmt.where(AuditEntry.action == action)
    return int(session.scalar(stmt) or 0)


@event.listens_for(Session, "before_flush")
def _append_only(session: Session, _context: Any, _instances: Any) -> None:
    # The log is evidence: an entry, once written, is neither edited nor removed by the ORM.
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, AuditEntry) and (obj in session.deleted or session.is_modified(obj)):
            raise RuntimeError("the audit log is append-only")
