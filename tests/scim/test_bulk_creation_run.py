"""A run of user POSTs in a Bulk (an IdP's full sync) is judged in order and written together.

The batched path must give, operation by operation, what the stock scim2-server path gives when
the same request runs one step at a time: same statuses, same errors, same rules, same stop on
failOnErrors, same counts and audit. Each test runs one request both ways, on two accounts of the
same app (the stock way by making the handler's run length 1), and compares.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from scim_server.db import make_session_factory
from scim_server.scim.handler import AccountScimHandler
from scim_server.scim.ruled import RuledScimStorage
from scim_server.storage.domain_tables import AuditEntry
from scim_server.storage.models import Account as AccountRow
from scim_server.storage.models import User
from scim_server.storage.scim_storage import SqlScimStorage
from tests.scim.conftest import (
    ENTERPRISE,
    GROUP_SCHEMA,
    USER_SCHEMA,
    Account,
    ScimClient,
    _new_account,
    user_body,
)
from tests.scim.test_account_counts import assert_counts_true

BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"


def sync_operations(domain: str, admin_email: str) -> list[dict[str, Any]]:
    """A full sync with every way a creation can fail, and steps that break the run."""
    def post(bulk_id: str, data: dict[str, Any]) -> dict[str, Any]:
        return {"method": "POST", "path": "/Users", "bulkId": bulk_id, "data": data}

    return [
        post("m1", user_body(f"m1@{domain}")),
        post("dup", user_body(f"M1@{domain}")),  # userName is unique whatever its case
        post("v1", user_body(f"v1@{domain}", userType="Viewer")),
        post("bad-type", user_body(f"t@{domain}", userType="Nope")),
        post("guest", user_body(f"g@{domain}", userType="Guest")),  # guest.same_domain
        post("m2", user_body(f"m2@{domain}")),
        post("m3", user_body(f"m3@{domain}")),
        post("m4", user_body(f"m4@{domain}")),  # seats.exceeded (limit 4: Admin, m1, m2, m3)
        post("v2", user_body(f"v2@{domain}", userType="Viewer")),  # a Viewer takes no seat
        post("admin", user_body(admin_email, userType="Viewer")),  # already in the account
        post("long", user_body("x" * 401 + f"@{domain}")),
        # A reference to a creation of this request ends the run: it goes the stock way.
        post("ref", user_body(f"r@{domain}", userType="Viewer", schemas=[USER_SCHEMA, ENTERPRISE],
                              **{ENTERPRISE: {"manager": {"value": "bulkId:m1"}}})),
        {"method": "POST", "path": "/Groups", "bulkId": "grp",
         "data": {"schemas": [GROUP_SCHEMA], "displayName": "after"}},
        post("v3", user_body(f"v3@{domain}", userType="Viewer")),
        post("v4", user_body(f"v4@{domain}", userType="Viewer")),
    ]


def shape(outcome: dict[str, Any], base: str) -> dict[str, Any]:
    """An outcome without what differs between two accounts: ids, versions, the domain."""
    shaped: dict[str, Any] = {"method": outcome["method"], "bulkId": outcome.get("bulkId"),
                              "status": outcome["status"]}
    if "location" in outcome:
        assert outcome["location"].startswith(base)
        shaped["location"] = outcome["location"][len(base):].split("/")[0]
    if "response" in outcome:
        response = outcome["response"]
        shaped["scimType"] = response.get("scimType")
        shaped["detail"] = response.get("detail", "").split(":")[0]
    return shaped


def two_ways(app: Flask, monkeypatch: pytest.MonkeyPatch, operations: Any,
             fail_on_errors: int | None = None, seats: int = 4, runs_seen: list[Any] | None = None
             ) -> tuple[tuple[ScimClient, Account, list[dict[str, Any]]], ...]:
    """Run the same request on a fresh account the batched way, then on another the stock way.

    ``runs_seen`` gets what each batched run returned (its results, or None when it fell back)."""
    seen = runs_seen if runs_seen is not None else []
    original = RuledScimStorage.create_users

    def spy(self: RuledScimStorage, *args: Any, **kwargs: Any) -> Any:
        results = original(self, *args, **kwargs)
        seen.append(results)
        return results

    monkeypatch.setattr(RuledScimStorage, "create_users", spy)
    runs = []
    for index, run_length in enumerate((AccountScimHandler.CREATION_RUN, 1)):
        domain = f"sync{index}.example"
        account = _new_account(app, f"sync{index}", domain)
        with make_session_factory(app.extensions["scim_engine"])() as session:
            session.get(AccountRow, account.id).seats_limit = seats
            session.commit()
        monkeypatch.setattr(AccountScimHandler, "CREATION_RUN", run_length)
        client = ScimClient(app.test_client(), account.token)
        body: dict[str, Any] = {"schemas": [BULK],
                                "Operations": operations(domain, account.admin_email)}
        if fail_on_errors is not None:
            body["failOnErrors"] = fail_on_errors
        response = client.post("/Bulk", body)
        assert response.status_code == 200, response.get_json()
        runs.append((client, account, response.get_json()["Operations"]))
    return tuple(runs)


def test_a_full_sync_gets_the_outcomes_of_the_step_by_step_path(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    batch_runs: list[Any] = []
    (batched, batched_account, ours), (_, _, stock) = two_ways(
        app, monkeypatch, sync_operations, runs_seen=batch_runs)
    base = "http://localhost/scim/v2/"
    assert [shape(o, base) for o in ours] == [shape(o, base) for o in stock]
    # The first 10 creations went as one run (the 11th already failed its validation when the
    # request was read, so it ends the run), the 2 after the Group as another; the stock way
    # (run length 1) made none.
    assert [len(r) for r in batch_runs] == [10, 2]
    assert [o["status"] for o in ours] == [
        "201", "409", "201", "400", "403", "201", "201", "409", "201", "409", "400",
        "201", "201", "201", "201"]
    assert ours[7]["response"]["detail"].startswith("seats.exceeded")
    assert ours[4]["response"]["detail"].startswith("guest.same_domain")
    assert ours[9]["response"]["scimType"] == "uniqueness"
    # Each created user is where its location says, with the version the outcome gave.
    for outcome in ours:
        if outcome["status"] == "201" and "/Users/" in outcome["location"]:
            read = batched.get(outcome["location"][len(base) - 1:])
            assert read.status_code == 200
            assert read.headers["ETag"] == outcome["version"]
    # The reference to m1 was resolved to the user the run created.
    manager = batched.get(ours[11]["location"][len(base) - 1:]).get_json()[ENTERPRISE]["manager"]
    assert manager["value"] == ours[0]["location"].rsplit("/", 1)[1]
    assert_counts_true(app, batched_account.id)


def test_the_run_is_audited_like_single_creations(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    (_, ours_account, ours), (_, stock_account, _) = two_ways(app, monkeypatch, sync_operations)
    with make_session_factory(app.extensions["scim_engine"])() as session:
        def created(account: Account) -> int:
            return int(session.scalar(select(func.count()).select_from(AuditEntry).where(
                AuditEntry.account_id == account.id, AuditEntry.action == "user.create",
                AuditEntry.door == "scim")) or 0)

        assert created(ours_account) == created(stock_account) == sum(
            o["status"] == "201" and "/Users/" in o["location"] for o in ours)


def test_fail_on_errors_stops_the_run_where_the_stock_path_stops(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    def operations(domain: str, _admin: str) -> list[dict[str, Any]]:
        return [{"method": "POST", "path": "/Users", "bulkId": f"b{i}",
                 "data": user_body(f"{'same' if i in (1, 3, 4) else i}@{domain}")}
                for i in range(6)]

    (client, account, ours), (_, _, stock) = two_ways(app, monkeypatch, operations,
                                                      fail_on_errors=2, seats=100)
    base = "http://localhost/scim/v2/"
    assert [shape(o, base) for o in ours] == [shape(o, base) for o in stock]
    # 0, 1 (the first "same") and 2 are created; 3 and 4 clash: the request stops there.
    assert [o["status"] for o in ours] == ["201", "201", "201", "409", "409"]
    with make_session_factory(app.extensions["scim_engine"])() as session:
        names = set(session.scalars(select(User.user_name).where(User.account_id == account.id)))
    assert {"0@sync0.example", "same@sync0.example", "2@sync0.example"} <= names
    assert "5@sync0.example" not in names


def test_a_unique_clash_the_checks_missed_falls_back_to_one_by_one(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A row written by another transaction after the check (a race) trips the constraint: the
    run writes nothing and its steps go the stock way, which reports the clash per operation."""
    monkeypatch.setattr(SqlScimStorage, "_taken_user_names", lambda self, keys: set())
    batch_runs: list[Any] = []
    (_, account, ours), (_, _, stock) = two_ways(app, monkeypatch, sync_operations,
                                                 runs_seen=batch_runs)
    base = "http://localhost/scim/v2/"
    assert batch_runs[0] is None  # the admin's userName tripped the constraint
    assert [shape(o, base) for o in ours] == [shape(o, base) for o in stock]
    assert_counts_true(app, account.id)
