"""The Entra SCIM Validator's and Okta's test plan scenarios (tests/compliance/interop.py) pass on
both engines, and docs/interop.md is the table they give."""

from __future__ import annotations

import pytest
from flask import Flask

from tests.compliance.interop import SCENARIOS, TABLE, run_all, table

pytestmark = pytest.mark.usefixtures("fast_password_hash")


@pytest.fixture(params=[
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
])
def database_url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url"))


def test_every_scenario_passes_and_the_table_is_current(app: Flask, database_url: str) -> None:
    results = run_all(app)
    assert len(results) == len(SCENARIOS)
    failed = [f"{r.idp}: {r.title}: {r.detail}" for r in results if not r.passed]
    assert not failed, "\n".join(failed)
    if database_url.startswith("sqlite"):
        assert TABLE.read_text() == table(results), (
            "docs/interop.md is stale: run `python -m tests.compliance.interop` and commit it")
