"""scim2-server's storage contract, on SQLite and PostgreSQL, with the default and our provider."""

from __future__ import annotations

import pytest
from scim2_models import ScimProvider
from scim2_server.testing import ScimStorageContract
from scim2_server.utils import load_default_provider

from scim_server.scim.provider import build_provider


class TestSqliteStorage(ScimStorageContract):
    @pytest.fixture
    def database_url(self, sqlite_url: str) -> str:
        return sqlite_url


@pytest.mark.postgres
class TestPostgresStorage(ScimStorageContract):
    @pytest.fixture
    def database_url(self, pg_url: str) -> str:
        return pg_url


class TestSqliteStorageOurProvider(TestSqliteStorage):
    @pytest.fixture
    def provider(self) -> ScimProvider:
        return build_provider()


@pytest.mark.postgres
class TestPostgresStorageOurProvider(TestPostgresStorage):
    @pytest.fixture
    def provider(self) -> ScimProvider:
        return build_provider()


def test_default_provider_is_the_contracts() -> None:
    """The contract's own provider serves User and Group, which the storage recognises by name."""
    names = {rt.name for rt in load_default_provider().resource_types}
    assert {"User", "Group"} <= names
