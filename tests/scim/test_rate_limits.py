"""Rate limits per credential at the SCIM and admin API doors: 429 with Retry-After in the
door's own format, one bucket per credential, and an account's own limit set by the operator."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from scim_server.app import create_app
from scim_server.cli import main as cli_main
from scim_server.settings import Settings
from scim_server.storage.models import Account as AccountRow
from scim_server.storage.models import User
from tests.domain.factories import make_token
from tests.scim.conftest import Account, ScimClient, _new_account


@pytest.fixture
def app(database_url: str) -> Flask:
    settings = Settings.from_env({}, database_url=database_url, secret_key="test-secret-key-0123456789",
                                 rate_limit_per_second=1, rate_limit_burst=3)
    application = create_app(settings)
    application.config["TESTING"] = True
    return application


def _statuses(scim: ScimClient, count: int) -> list[int]:
    return [scim.get("/Users", query={"count": 1}).status_code for _ in range(count)]


def test_a_scim_token_past_its_burst_gets_a_scim_429_with_retry_after(
    scim: ScimClient, account: Account
) -> None:
    assert _statuses(scim, 3) == [200, 200, 200]
    response = scim.get("/Users")
    assert response.status_code == 429
    assert response.content_type.startswith("application/scim+json")
    assert response.json["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert response.json["status"] == "429"
    assert int(response.headers["Retry-After"]) >= 1


def test_each_token_has_its_own_bucket(app: Flask, scim: ScimClient, account: Account) -> None:
    assert _statuses(scim, 4)[-1] == 429
    other = _new_account(app, "globex", "globex.example")
    assert _statuses(ScimClient(app.test_client(), other.token), 3) == [200, 200, 200]


def test_an_api_token_past_its_burst_gets_a_problem_429(app: Flask, account: Account) -> None:
    with app.extensions["scim_sessions"]() as session:
        row = session.get(AccountRow, account.id)
        admin = session.query(User).filter_by(account_id=account.id).one()
        token = make_token(session, row, admin)
        session.commit()
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    assert [client.get("/api/v1/users", headers=headers).status_code for _ in range(3)] == [
        200, 200, 200]
    response = client.get("/api/v1/users", headers=headers)
    assert response.status_code == 429
    assert response.content_type == "application/problem+json"
    assert response.json["status"] == 429
    assert int(response.headers["Retry-After"]) >= 1


def test_the_operator_sets_an_account_limit_with_the_command_line(
    app: Flask, scim: ScimClient, account: Account, database_url: str,
    monkeypatch: pytest.MonkeyPatch, capsys: Any,
) -> None:
    monkeypatch.setenv("SCIM_DATABASE_URL", database_url)
    assert cli_main(["account", "update", "acme", "--rate-limit", "0", "--json"]) == 0
    assert '"rate_limit_per_second": 0' in capsys.readouterr().out
    assert set(_statuses(scim, 10)) == {200}  # 0/s: this account is not limited

    assert cli_main(["account", "update", "acme", "--rate-limit", "1", "--rate-burst", "5"]) == 0
    assert _statuses(scim, 6) == [200] * 5 + [429]

    assert cli_main(["account", "update", "acme", "--rate-burst", "0"]) == 1
    assert "burst of 1 or more" in capsys.readouterr().err
    assert cli_main(["account", "update", "acme", "--rate-limit", "default",
                     "--rate-burst", "default"]) == 0
    with app.extensions["scim_sessions"]() as session:
        row = session.get(AccountRow, account.id)
        assert (row.rate_limit_per_second, row.rate_limit_burst) == (None, None)
