"""The user list: paging through every page gives exactly the unpaged order, for each sort."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session

from scim_server.domain.directory import count_users, list_users
from scim_server.domain.errors import InvalidInput
from scim_server.storage.models import Account
from tests.domain.factories import T0, make_user


def _mixed_users(session: Session, account: Account) -> None:
    types = ("Guest", "Member", "Viewer", "Admin")
    for i in range(9):
        u = make_user(session, account, f"user{i % 4}x{i}", user_type=types[i % 4],
                      status=("active", "inactive", "pending")[i % 3],
                      domain="partner.test" if types[i % 4] == "Guest" else None)
        if i % 3:
            u.last_activity_at = T0 + dt.timedelta(days=i % 2)  # ties on purpose
        if i % 4 == 1:
            # No display name: listed (and sorted by name) by its userName.
            u.display_name = u.display_name_key = None
    session.flush()


@pytest.mark.parametrize("sort", ["name", "last_activity", "type", "status"])
@pytest.mark.parametrize("order", ["asc", "desc"])
def test_keyset_pages_match_full_order(session: Session, account: Account, sort: str, order: str):
    _mixed_users(session, account)
    full = [u.id for u in list_users(session, account, sort=sort, order=order, limit=100).users]
    assert len(full) == 9
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


@pytest.mark.parametrize("sort", ["name", "last_activity", "type", "status"])
@pytest.mark.parametrize("order", ["asc", "desc"])
def test_previous_pages_walk_back_to_the_same_pages(session: Session, account: Account,
                                                    sort: str, order: str):
    _mixed_users(session, account)
    for limit in (2, 4):
        pages, cursor = [], None
        while True:
            page = list_users(session, account, sort=sort, order=order, limit=limit,
                              cursor=cursor)
            pages.append(page)
            cursor = page.next_cursor
            if cursor is None:
                break
        assert pages[0].prev_cursor is None
        # From the last page, "previous" gives back each earlier page, the first one last.
        back = pages[-1]
        for expected in reversed(pages[:-1]):
            assert back.prev_cursor is not None
            back = list_users(session, account, sort=sort, order=order, limit=limit,
                              before=back.prev_cursor)
            assert [u.id for u in back.users] == [u.id for u in expected.users], (limit, sort)
        assert back.prev_cursor is None
        # And "next" from a page reached backwards goes forward again.
        assert back.next_cursor == pages[0].next_cursor


def test_type_and_status_sort_in_reading_order(session: Session, account: Account):
    _mixed_users(session, account)
    by_type = [u.user_type for u in list_users(session, account, sort="type", limit=100).users]
    assert by_type == sorted(by_type, key=("Admin", "Member", "Viewer", "Guest").index)
    by_status = [u.status for u in list_users(session, account, sort="status", order="desc",
                                              limit=100).users]
    assert by_status == sorted(by_status, key=("inactive", "pending", "active").index)


def test_users_without_a_display_name_sort_by_their_user_name(session: Session,
                                                              account: Account):
    for name in ("zoe", "adam", "mia"):
        u = make_user(session, account, name)
        u.display_name = u.display_name_key = None
    session.flush()
    listed = list_users(session, account, sort="name", limit=100).users
    assert [u.user_name_key for u in listed] == ["adam@acme.test", "mia@acme.test",
                                                 "zoe@acme.test"]


def test_count_users_counts_what_the_filter_lists(session: Session, account: Account):
    _mixed_users(session, account)
    make_user(session, account, "gone", status="deleted")
    for kw in ({}, {"status": "active"}, {"user_type": "Member"}, {"q": "user1"},
               {"q": "user2", "status": "pending"}):
        listed = list_users(session, account, limit=200, **kw).users  # type: ignore[arg-type]
        assert count_users(session, account, **kw) == len(listed), kw  # type: ignore[arg-type]
    assert count_users(session, account) == 9


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_an_unexpected_type_is_still_listed_last(session: Session, account: Account, order: str):
    _mixed_users(session, account)
    odd = make_user(session, account, "odd")
    odd.user_type = "Contractor"  # not a type the domain writes; a hand-edited row
    session.flush()
    for limit in (100, 4):
        seen, cursor = [], None
        while True:
            page = list_users(session, account, sort="type", order=order, limit=limit,
                              cursor=cursor)
            seen += page.users
            if (cursor := page.next_cursor) is None:
                break
        assert len(seen) == 10 and seen[-1].id == odd.id, limit
