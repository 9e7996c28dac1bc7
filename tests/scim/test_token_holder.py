"""A SCIM token acts as its Admin: it is refused once its holder is no longer an active Admin,
and issuing one cannot race a demotion or deactivation of the same Admin (PostgreSQL, real
threads through the app)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from scim_server.settings import Settings
from scim_server.storage.models import Account as AccountRow
from scim_server.storage.models import Credential, User
from tests.api.conftest import make_api_app
from tests.domain.factories import make_account, make_token, make_user
from tests.scim.conftest import Account, ScimClient, patch_body

ROUNDS = 8


@pytest.fixture
def db(app: Flask) -> Iterator[Session]:
    session = app.extensions["scim_sessions"]()
    yield session
    session.close()


@pytest.mark.usefixtures("fast_password_hash")
@pytest.mark.parametrize("change", [{"user_type": "Member"}, {"status": "inactive"}],
                         ids=["demoted", "deactivated"])
def test_a_token_whose_holder_is_no_longer_an_active_admin_is_refused(
    app: Flask, account: Account, scim: ScimClient, db: Session, change: dict[str, str]
) -> None:
    assert scim.get("/Users").status_code == 200
    holder = db.scalar(select(User).where(User.account_id == account.id,
                                          User.email == account.admin_email))
    assert holder is not None
    # The rules forbid this change while the Admin holds the token (admin.holds_scim_tokens):
    # written by SQL, as the race this guards against would leave it.
    db.execute(update(User).where(User.id == holder.id).values(**change))
    db.commit()
    assert scim.get("/Users").status_code == 403
    promoted = scim.patch(f"/Users/{holder.id}", patch_body(
        {"op": "replace", "path": "userType", "value": "Admin"},
        {"op": "replace", "path": "active", "value": True}))
    assert promoted.status_code == 403, promoted.get_json()
    db.expire_all()
    after = db.get(User, holder.id)
    assert after is not None
    assert (after.user_type, after.status) == (change.get("user_type", "Admin"),
                                               change.get("status", "active"))


@pytest.fixture
def pg_app(pg_url: str) -> Iterator[Flask]:
    app = make_api_app(Settings(database_url=pg_url, secret_key="x" * 32))
    yield app
    app.extensions["scim_engine"].dispose()


def _race(app: Flask, *sends: Any) -> list[int]:
    """Send each request on its own thread (its own session), released together."""
    barrier = threading.Barrier(len(sends))
    statuses: list[int] = [0] * len(sends)

    def run(i: int) -> None:
        client = app.test_client()
        barrier.wait(timeout=30)
        statuses[i] = sends[i](client).status_code

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(sends))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return statuses


@pytest.mark.postgres
def test_issuing_a_scim_token_races_no_demotion_or_deactivation(pg_app: Flask) -> None:
    sessions = pg_app.extensions["scim_sessions"]
    with sessions() as s:
        account = make_account(s)
        boss = make_user(s, account, "boss", user_type="Admin")
        api_token = make_token(s, account, boss)
        account_id = account.id
        s.commit()
    auth = {"Authorization": f"Bearer {api_token}"}
    outcomes = []
    for round_ in range(ROUNDS):
        with sessions() as s:
            acc = s.get(AccountRow, account_id)
            assert acc is not None
            target = make_user(s, acc, f"admin{round_}", user_type="Admin").id
            s.commit()
        if round_ % 2:
            change = ("deactivate", lambda c, t=target: c.post(
                f"/api/v1/users/{t}/deactivate", headers=auth))
        else:
            change = ("demote", lambda c, t=target: c.post(
                f"/api/v1/users/{t}/type", json={"user_type": "Member"}, headers=auth))
        issued, changed = _race(
            pg_app,
            lambda c, t=target: c.post("/api/v1/tokens", json={"user_id": t, "kind": "scim"},
                                       headers=auth),
            change[1],
        )
        outcomes.append((change[0], issued, changed))
        with sessions() as s:
            user = s.get(User, target)
            assert user is not None
            tokens = s.scalars(select(Credential).where(
                Credential.user_id == target, Credential.kind == "scim",
                Credential.revoked_at.is_(None))).all()
            holds = len(tokens) > 0
            active_admin = user.user_type == "Admin" and user.status == "active"
        # Exactly one wins: the token (the change is refused, admin.holds_scim_tokens) or the
        # change (the token is refused, token.scim_requires_admin).
        assert (issued, changed) in ((201, 409), (403, 200)), outcomes
        assert not holds or active_admin, (
            f"round {round_}: a {user.user_type} ({user.status}) holds a SCIM token; {outcomes}")
