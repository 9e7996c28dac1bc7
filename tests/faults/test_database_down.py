"""The database goes away (``pg_ctl stop -m fast``, as in a restart or an outage): every door
answers 503 with Retry-After in its own format, never a 500; readiness fails while liveness
holds; and when the database is back, every door answers again by itself. On a private
cluster, since stopping the suite's shared one would fail the other tests of this worker."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask

from tests.conftest import PG_MISSING, _migrate
from tests.faults.conftest import SCIM_ERROR, Tenant, add_tenant, make_app, signed_in, user_body
from tests.pgcluster import PgCluster, find_bin_dir

pytestmark = pytest.mark.postgres


@pytest.fixture
def private_cluster() -> Iterator[PgCluster]:
    bin_dir = find_bin_dir()
    if bin_dir is None:
        pytest.skip(PG_MISSING)
    with PgCluster(bin_dir) as cluster:
        cluster.create_database("faults")
        _migrate(cluster.url("faults"))
        yield cluster


def doors(app: Flask, tenant: Tenant) -> dict[str, Callable[[], Any]]:
    """One request per door; each touches the database."""
    client = app.test_client()
    console = signed_in(app, tenant)
    scim = {"Authorization": f"Bearer {tenant.scim_token}", "Content-Type": "application/scim+json"}
    api = {"Authorization": f"Bearer {tenant.api_token}"}
    written = iter(range(1000))
    return {
        "scim read": lambda: client.get("/scim/v2/Users", headers=scim),
        "scim write": lambda: client.post("/scim/v2/Users", headers=scim, data=json.dumps(
            user_body(f"u{next(written)}@{tenant.domain}"))),
        "api read": lambda: client.get("/api/v1/users", headers=api),
        "console": lambda: console.get("/admin/users"),
        "readiness": lambda: client.get("/readyz"),
        "healthz": lambda: client.get("/healthz"),
    }


def test_every_door_answers_503_while_the_database_is_down_and_recovers(
    private_cluster: PgCluster,
) -> None:
    url = private_cluster.url("faults")
    tenant = add_tenant(url, "acme")
    app = make_app(url)
    client = app.test_client()
    requests = doors(app, tenant)
    for name, send in requests.items():  # the pool now holds connections the stop will cut
        assert send().status_code in (200, 201), name

    private_cluster.halt()
    try:
        answers = {name: send() for name, send in requests.items()}
        live = client.get("/livez")
    finally:
        private_cluster.resume()

    for name, response in answers.items():
        assert response.status_code == 503, (name, response.status_code, response.data[:300])
        assert int(response.headers["Retry-After"]) >= 1, name
        assert b"Traceback" not in response.data, name
    for name in ("scim read", "scim write"):
        assert answers[name].mimetype == "application/scim+json", name
        body = answers[name].get_json(force=True)
        assert body["schemas"] == [SCIM_ERROR] and body["status"] == "503", body
        assert "retry" in body["detail"], body
    problem = answers["api read"]
    assert problem.mimetype == "application/problem+json"
    assert problem.get_json()["status"] == 503
    page = answers["console"]
    assert page.mimetype == "text/html"
    assert "The database is unavailable right now" in page.get_data(as_text=True)
    for name in ("readiness", "healthz"):
        assert answers[name].get_json() == {"status": "unavailable", "database": "unreachable"}
    assert live.status_code == 200 and live.get_json() == {"status": "ok"}

    # Back by itself: the first request of each door after the restart succeeds.
    for name, send in requests.items():
        response = send()
        assert response.status_code in (200, 201), (name, response.status_code, response.data[:300])
