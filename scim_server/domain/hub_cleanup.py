"""What the hub keeps about a user that must go when the user is deleted.

Deleted users stay as anonymised rows, so the foreign keys' ON DELETE CASCADE never fires:
their duty schedule and their own permission grants are removed here instead, by the user
lifecycle (``scim_server.domain.users.delete_user``).
"""

from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy.orm import Session

from scim_server.storage.hub_tables import (
    DutyException,
    DutySchedule,
    DutyWindow,
    ResourcePermission,
)
from scim_server.storage.models import Account


def on_user_deleted(session: Session, account: Account, user_id: str) -> None:
    for table, column in (
        (DutyWindow, DutyWindow.user_id),
        (DutyException, DutyException.user_id),
        (DutySchedule, DutySchedule.user_id),
        (ResourcePermission, ResourcePermission.user_id),
    ):
        session.execute(
            delete(table).where(column == user_id, table.account_id == account.id)
        )
