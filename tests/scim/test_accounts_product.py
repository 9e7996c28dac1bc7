"""The operator's accounts (issue: accounts as a product): the command line creates, lists,
updates, suspends, resumes and deletes accounts; plans give limits; a limit below usage needs
--force; a suspended account's tokens are refused at every door; deletion leaves no row."""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from scim_server.cli import main as cli_main
from scim_server.storage.all_models import metadata
from scim_server.storage.models import Account as AccountRow
from scim_server.storage.models import User
from tests.domain.factories import make_token
from tests.scim.conftest import (
    GROUP_SCHEMA,
    Account,
    ScimClient,
    _new_account,
    patch_body,
    user_body,
)

BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"


@pytest.fixture
def cli(database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> Any:
    """``scim-server …`` on the test's database: (exit status, parsed --json output or text)."""
    monkeypatch.setenv("SCIM_DATABASE_URL", database_url)

    def run(*argv: str) -> tuple[int, Any]:
        status = cli_main(list(argv))
        captured = capsys.readouterr()
        out = captured.out.strip()
        if status == 0 and "--json" in argv:
            return status, json.loads(out)
        return status, out or captured.err.strip()

    return run


def _rows(app: Flask, account_id: str) -> dict[str, int]:
    with app.extensions["scim_engine"].connect() as connection:
        return {t.name: connection.scalar(sa.select(sa.func.count()).select_from(t)
                                          .where(t.c.account_id == account_id))
                for t in metadata.sorted_tables if "account_id" in t.c}


def test_every_table_but_the_operators_names_its_account() -> None:
    # Deletion erases by account_id: a table without one would keep an erased account's rows.
    # The server's own keys (the SETs' signing keys) belong to no account.
    assert {t.name for t in metadata.sorted_tables if "account_id" not in t.c} == {
        "accounts", "plans", "operator_tokens", "signing_keys"}


def test_operator_tokens_are_issued_once_and_revoked_by_the_command_line(cli: Any) -> None:
    status, issued = cli("operator-token", "create", "--name", "billing", "--json")
    assert status == 0 and issued["token"].startswith("sop_")
    assert cli("operator-token", "revoke", issued["token_id"], "--json")[1]["revoked"] is True
    assert cli("operator-token", "revoke", "nope")[0] == 1


def test_account_create_prints_what_init_prints_and_list_shows_usage(cli: Any) -> None:
    status, init = cli("init", "--account", "first", "--domain", "first.example", "--json")
    assert status == 0
    status, made = cli("account", "create", "Second", "--domain", "second.example",
                       "--domain", "second.fr", "--plan", "free", "--json")
    assert status == 0
    assert {"account_id", "scim_base_url", "scim_token", "admin_email", "admin_password"} <= set(
        made) and set(made) == set(init)
    status, listed = cli("account", "list", "--json")
    second = next(row for row in listed if row["name"] == "Second")
    assert (second["plan"], second["seats"], second["operators"], second["status"]) == (
        "free", "1/10", "1/50", "active")
    assert second["domains"] == ["second.example", "second.fr"]
    assert cli("account", "create", "Second")[0] == 1  # account.name_taken
    assert "no plan 'gold'" in cli("account", "create", "Third", "--plan", "gold")[1]


def test_a_push_past_the_plan_stops_at_seats_and_goes_through_after_raising_them(
    app: Flask, scim: ScimClient, account: Account, cli: Any
) -> None:
    def push(start: int, count: int) -> list[int]:
        operations = [{"method": "POST", "path": "/Users", "bulkId": f"u{n}",
                       "data": user_body(f"user{n}@acme.example")}
                      for n in range(start, start + count)]
        response = scim.post("/Bulk", {"schemas": [BULK], "Operations": operations})
        assert response.status_code == 200, response.json
        return [int(op["status"]) for op in response.json["Operations"]]

    statuses = push(0, 1000)  # the Admin holds one of the standard plan's 1,000 seats
    assert statuses.count(201) == 999 and statuses[-1] == 409
    status, _ = cli("account", "update", "acme", "--seats", "5000", "--json")
    assert status == 0
    assert set(push(999, 1000) + push(1999, 1)) == {201}  # 2,000 users pushed in all
    assert cli("account", "show", "acme", "--json")[1]["seats"] == "2001/5000"


def test_a_limit_below_usage_needs_force_then_new_paying_activations_are_refused(
    scim: ScimClient, account: Account, cli: Any
) -> None:
    users = [scim.post("/Users", user_body(f"u{n}@acme.example")).json["id"] for n in range(3)]
    status, said = cli("account", "update", "acme", "--seats", "2")
    assert status == 1 and "4 seats" in said and "--force" in said
    assert cli("account", "update", "acme", "--seats", "2", "--force", "--json")[0] == 0
    # The users stay active; a deactivated one cannot come back, nor can a new one be added.
    assert all(scim.get(f"/Users/{u}").json["active"] for u in users)
    off = patch_body({"op": "replace", "path": "active", "value": False})
    assert scim.patch(f"/Users/{users[0]}", off).status_code == 200
    on = patch_body({"op": "replace", "path": "active", "value": True})
    refused = scim.patch(f"/Users/{users[0]}", on)
    assert refused.status_code == 409 and "seats" in refused.json["detail"]
    assert scim.post("/Users", user_body("late@acme.example")).status_code == 409


def test_a_suspended_account_is_refused_at_every_door_and_resumed_intact(
    app: Flask, scim: ScimClient, account: Account, cli: Any
) -> None:
    user = scim.post("/Users", user_body("kept@acme.example")).json["id"]
    with app.extensions["scim_sessions"]() as session:
        row = session.get(AccountRow, account.id)
        admin = session.scalars(sa.select(User).where(User.account_id == account.id,
                                                      User.user_type == "Admin")).one()
        api_token = make_token(session, row, admin)
        session.commit()
    client = app.test_client()
    api = {"Authorization": f"Bearer {api_token}"}
    made = client.post("/api/v1/oauth/clients", headers=api, json={"name": "ci"}).get_json()
    before = _rows(app, account.id)

    assert cli("account", "suspend", "acme")[0] == 0
    refused = scim.get(f"/Users/{user}")
    assert refused.status_code == 403
    assert refused.json["status"] == "403" and "suspended" in refused.json["detail"]
    problem = client.get("/api/v1/users", headers=api)
    assert problem.status_code == 403 and problem.content_type == "application/problem+json"
    assert "suspended" in problem.get_json()["detail"]
    oauth = client.post("/api/v1/oauth/token", data={
        "grant_type": "client_credentials", "client_id": made["client_id"],
        "client_secret": made["client_secret"]})
    assert oauth.status_code == 403 and "suspended" in oauth.get_json()["detail"]

    assert cli("account", "resume", "acme")[0] == 0
    assert scim.get(f"/Users/{user}").status_code == 200
    assert client.get("/api/v1/users", headers=api).status_code == 200
    after = {k: v for k, v in _rows(app, account.id).items() if k != "audit_log"}
    assert after == {k: v for k, v in before.items() if k != "audit_log"}


def test_deleting_an_account_leaves_no_row_of_it_and_every_row_of_the_others(
    app: Flask, scim: ScimClient, account: Account, cli: Any
) -> None:
    other = _new_account(app, "globex", "globex.example")
    other_scim = ScimClient(app.test_client(), other.token)
    for client, domain in ((scim, "acme.example"), (other_scim, "globex.example")):
        users = [client.post("/Users", user_body(f"u{n}@{domain}")).json["id"] for n in range(3)]
        client.post("/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "team",
                                "members": [{"value": u} for u in users]})
    with app.extensions["scim_sessions"]() as session:
        row = session.get(AccountRow, account.id)
        admin = session.scalars(sa.select(User).where(User.account_id == account.id,
                                                      User.user_type == "Admin")).one()
        make_token(session, row, admin)
        session.commit()
    before, others = _rows(app, account.id), _rows(app, other.id)
    assert all(before[t] for t in ("users", "user_emails", "groups", "group_members",
                                   "credentials", "audit_log"))

    assert cli("account", "delete", "acme")[0] == 1  # without --yes
    assert cli("account", "delete", "acme", "--yes", "--json")[0] == 0
    assert set(_rows(app, account.id).values()) == {0}
    with app.extensions["scim_engine"].connect() as connection:
        assert connection.scalar(sa.select(sa.func.count()).select_from(AccountRow)
                                 .where(AccountRow.id == account.id)) == 0
    assert _rows(app, other.id) == others
    assert scim.get("/Users").status_code == 401
    assert other_scim.get("/Users").status_code == 200


def test_the_domain_refuses_a_bad_name_or_domain_whichever_door_asks(app: Flask) -> None:
    from scim_server.domain import accounts as operator
    from scim_server.domain.errors import InvalidInput

    with app.extensions["scim_sessions"]() as session:
        with pytest.raises(InvalidInput, match="account name"):
            operator.open_account(session, name="-bad", domain="ok.example")
        with pytest.raises(InvalidInput, match="not a domain name"):
            operator.open_account(session, name="Fine", domain="not a domain")
        opened = operator.open_account(session, name="Fine", domain="OK.example.",
                                       more_domains=["ok.example"])
        assert opened.account.domains == ["ok.example"]
        with pytest.raises(InvalidInput, match="not a domain name"):
            operator.update_account(session, opened.account, domains=["bad domain"])
        with pytest.raises(InvalidInput, match="at least one domain"):
            operator.update_account(session, opened.account, domains=[])
