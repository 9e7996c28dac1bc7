"""scim2-server's storage contract, on SQLite and PostgreSQL, with the default and our provider."""

from __future__ import annotations

import pytest
from scim2_models import ScimProvider
from scim2_server.testing import ScimStorageContract
from scim2_server.utils import load_default_provider

from scim_server.storage.schema import build_provider

# Building a provider builds its models (about a second); the tests share one of each.
DEFAULT_PROVIDER = load_default_provider()
OUR_PROVIDER = build_provider()


class TestSqliteStorage(ScimStorageContract):
    @pytest.fixture
    def backend(self) -> str:
        return "sqlite"

    @pytest.fixture
    def provider(self) -> ScimProvider:
        return DEFAULT_PROVIDER


@pytest.mark.postgres
class TestPostgresStorage(ScimStorageContract):
    @pytest.fixture
    def backend(self) -> str:
        return "postgresql"

    @pytest.fixture
    def provider(self) -> ScimProvider:
        return DEFAULT_PROVIDER


class TestSqliteStorageOurProvider(TestSqliteStorage):
    @pytest.fixture
    def provider(self) -> ScimProvider:
        return OUR_PROVIDER


@pytest.mark.postgres
class TestPostgresStorageOurProvider(TestPostgresStorage):
    @pytest.fixture
    def provider(self) -> ScimProvider:
        return OUR_PROVIDER


def test_default_provider_is_the_contracts() -> None:
    """The contract's own provider serves User and Group, which the storage recognises by name."""
    names = {rt.name for rt in load_default_provider().resource_types}
    assert {"User", "Group"} <= names
