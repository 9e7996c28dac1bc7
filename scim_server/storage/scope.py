"""The scope of one account's rows: the session of the request, the account, the engine's dialect.

Every statement of the storage is built through a scope, so it filters on the account: a row of
another account is never found, never visible, never a uniqueness conflict.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from scim_server.storage import models as m
from scim_server.storage.dialects import JsonDialect, Predicate, json_dialect

# Deleted users stay as anonymised rows; the literal (not a bound parameter) lets PostgreSQL
# match the partial indexes whose predicate is ``status <> 'deleted'``.
USER_VISIBLE = m.User.status != sa.literal_column("'deleted'")


class AccountScope:
    """One account's rows, reached through the session of the current request.

    :param session: returns the session of the current request; the storage writes in it and
        never commits (the HTTP layer owns the transaction).
    :param account_id: returns the current account.
    """

    def __init__(self, *, session: Callable[[], Session], account_id: Callable[[], str]) -> None:
        self._session = session
        self._account_id = account_id

    @property
    def session(self) -> Session:
        return self._session()

    @property
    def connection(self) -> Connection:
        """The request's connection, for Core statements (no ORM unit of work)."""
        return self._session().connection()

    @property
    def account(self) -> str:
        return self._account_id()

    @property
    def dialect(self) -> str:
        return str(self._session().get_bind().dialect.name)

    @property
    def json(self) -> JsonDialect:
        return json_dialect(self.dialect)

    def run(self, statement: Any, parameters: Any = None) -> Any:
        """Execute a Core statement on the request's connection."""
        return self.connection.execute(statement, parameters)

    def visible(self, kind: str) -> Predicate:
        if kind == "User":
            return sa.and_(m.User.account_id == self.account, USER_VISIBLE)
        return m.Group.account_id == self.account

    @staticmethod
    def table(kind: str) -> Any:
        return m.User if kind == "User" else m.Group
