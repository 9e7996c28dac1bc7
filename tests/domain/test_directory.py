"""The user list: paging through every page gives exactly the unpaged order, for each sort."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session

from scim_server.domain.directory import list_users
from scim_server.domain.errors import InvalidInput
from scim_server.storage.models import Account
from tests.domain.factories import T0, make_user


@pytest.mark.parametrize("sort", ["name", "last_activity"])
@pytest.mark.parametrize("order", ["asc", "desc"])
def test_keyset_pages_match_full_order(session: Session, account: Account, sort: str, order: str):
    for i in range(7):
        u = make_user(session, account, f"user{i % 4}x{i}")
        if i % 3:
            u.last_activity_at = T0 + dt.timedelta(days=i % 2)  # ties on purpose
    session.flush()
    full = [u.id for u in list_users(session, account, sort=sort, order=order, limit=100).users]
    assert len(full) == 7
    for limit in (1, 2, 3):
        seen, cursor = [], None
        while True:
            page = list_users(session, account, sort=sort, order=order, limit=limit, cursor=cursor)
            seen += [u.id for u in page.users]
            cursor = page.next_cursor
            if cursor is None:
                break
        assert seen == full, (limit, sort, order)


def test_bad_cursor_is_invalid_input(session: Session, account: Account):
    with pytest.raises(InvalidInput):
        list_users(session, account, cursor="!!not-a-cursor")
