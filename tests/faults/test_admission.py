"""The per-account cap on requests in flight (``scim_server.admission``): its setting, the 429
each door answers past it, and that every request gives its place back however it ends. The
cap under real concurrency is in ``test_fairness``; here one place is taken by hand, so the
answer of each door can be checked without timing."""

from __future__ import annotations

import json

import pytest

from scim_server.admission import EXTENSION, InFlight
from scim_server.settings import Settings, SettingsError
from tests.faults.conftest import SCIM_ERROR, add_tenant, make_app, signed_in, user_body


def test_the_cap_defaults_to_one_less_than_the_threads() -> None:
    assert Settings.from_env({}).in_flight_per_account == 3
    assert Settings.from_env({"SCIM_THREADS": "8"}).in_flight_per_account == 7
    assert Settings.from_env({"SCIM_THREADS": "1"}).in_flight_per_account == 1
    assert Settings.from_env({"SCIM_ACCOUNT_MAX_IN_FLIGHT": "20"}).in_flight_per_account == 20
    timeouts = Settings.from_env({"SCIM_DB_LOCK_TIMEOUT": "0.5", "SCIM_DB_STATEMENT_TIMEOUT": "0"})
    assert (timeouts.db_lock_timeout, timeouts.db_statement_timeout) == (0.5, 0.0)
    for bad in ({"SCIM_DB_LOCK_TIMEOUT": "-1"}, {"SCIM_DB_STATEMENT_TIMEOUT": "soon"},
                {"SCIM_DB_CONNECT_TIMEOUT": "inf"}, {"SCIM_THREADS": "0"}):
        with pytest.raises(SettingsError, match=next(iter(bad))):
            Settings.from_env(bad)


def test_past_the_cap_each_door_answers_429_with_retry_after(sqlite_url: str) -> None:
    tenant, other = add_tenant(sqlite_url, "acme"), add_tenant(sqlite_url, "globex")
    app = make_app(sqlite_url, account_max_in_flight=1)
    gate: InFlight = app.extensions[EXTENSION]
    client = app.test_client()
    scim = {"Authorization": f"Bearer {tenant.scim_token}", "Content-Type": "application/scim+json"}
    api = {"Authorization": f"Bearer {tenant.api_token}"}
    console = signed_in(app, tenant)

    assert gate.enter(tenant.id)  # a request of the account is in progress
    try:
        refused = {
            "scim": client.post("/scim/v2/Users", headers=scim,
                                data=json.dumps(user_body(f"one@{tenant.domain}"))),
            "api": client.get("/api/v1/users", headers=api),
            "console": console.get("/admin/users"),
        }
        other_scim = {"Authorization": f"Bearer {other.scim_token}"}
        assert client.get("/scim/v2/Users", headers=other_scim).status_code == 200
        assert client.get("/livez").status_code == 200
    finally:
        gate.leave(tenant.id)

    for name, response in refused.items():
        assert response.status_code == 429, (name, response.data[:300])
        assert response.headers["Retry-After"] == "1", name
    body = refused["scim"].get_json(force=True)
    assert refused["scim"].mimetype == "application/scim+json"
    assert body["schemas"] == [SCIM_ERROR] and body["status"] == "429", body
    assert refused["api"].mimetype == "application/problem+json"
    assert refused["api"].get_json()["status"] == 429
    assert refused["console"].mimetype == "text/html"
    assert "Too many requests of this account" in refused["console"].get_data(as_text=True)

    # Each request gave its place back, answered or refused: the account is served again.
    assert gate.count(tenant.id) == 0 and gate.count(other.id) == 0
    assert client.post("/scim/v2/Users", headers=scim,
                       data=json.dumps(user_body(f"one@{tenant.domain}"))).status_code == 201
    assert client.get("/scim/v2/Users/nope", headers=scim).status_code == 404
    assert client.get("/api/v1/users", headers=api).status_code == 200
    assert console.get("/admin/users").status_code == 200
    assert gate.count(tenant.id) == 0
