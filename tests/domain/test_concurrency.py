"""Two concurrent transactions cannot together break a rule (PostgreSQL, real threads)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy.orm import Session

from scim_server.db import make_engine, make_session_factory
from scim_server.domain import users
from scim_server.domain.actors import Actor
from scim_server.domain.errors import RuleViolation
from scim_server.storage.models import Account, User
from tests.domain.factories import make_account, make_user


@pytest.mark.postgres
def test_two_promotions_for_the_last_seat_one_wins(pg_url: str):
    engine = make_engine(pg_url)
    factory = make_session_factory(engine)
    with factory() as s:
        account = make_account(s, seats_limit=2)
        admin = make_user(s, account, "boss", user_type="Admin")
        viewers = [make_user(s, account, f"v{i}", user_type="Viewer").id for i in range(2)]
        account_id, admin_id = account.id, admin.id
        s.commit()

    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def promote(user_id: str) -> None:
        session: Session = factory()
        try:
            acc = session.get(Account, account_id)
            assert acc is not None
            barrier.wait()  # both transactions start together, each sees one free seat
            users.change_user_type(session, acc, user_id, "Member",
                                   actor=Actor(door="api", user_id=admin_id))
            session.commit()
            outcomes.append("ok")
        except RuleViolation as exc:
            session.rollback()
            outcomes.append(exc.rule)
        finally:
            session.close()

    threads = [threading.Thread(target=promote, args=(v,)) for v in viewers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes) == ["ok", "seats.exceeded"]
    with factory() as s:
        members = [u for u in s.query(User).filter(User.account_id == account_id)
                   if u.user_type == "Member" and u.status == "active"]
        assert len(members) == 1
    engine.dispose()
