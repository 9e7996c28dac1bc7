"""What an installed server relies on: one migration head, migrations that match the models,
and settings that refuse a bad value at start-up with a message naming it."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from scim_server.db import make_engine
from scim_server.migrate import alembic_config
from scim_server.settings import Settings, SettingsError
from scim_server.storage.all_models import metadata


def test_migration_chain_has_one_head() -> None:
    # Two heads (two branches each adding a migration) make `db upgrade` refuse to run.
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    assert len(heads) == 1, f"migration heads: {heads}; merge them (alembic merge)"


def test_migrations_match_the_models(database_url: str) -> None:
    # A model changed without its migration works in tests that use create_all() but breaks
    # every real deployment; autogenerate's diff against a migrated database catches it.
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "target_metadata": metadata}
            )
            diff = compare_metadata(context, metadata)
    finally:
        engine.dispose()
    assert diff == [], "models and migrations differ; add a migration:\n" + "\n".join(
        map(repr, diff)
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SCIM_DATABASE_URL": "mysql://x"}, "SCIM_DATABASE_URL must be a sqlite"),
        ({"SCIM_MAX_RESULTS": "abc"}, "SCIM_MAX_RESULTS must be a whole number, not 'abc'"),
        ({"SCIM_MAX_RESULTS": "0"}, "SCIM_MAX_RESULTS must be positive"),
        ({"SCIM_SECRET_KEY": "short"}, "SCIM_SECRET_KEY must be at least 16"),
        ({"SCIM_SMTP_URL": "http://mail"}, "SCIM_SMTP_URL must look like smtp://"),
        ({"SCIM_BASE_URL": "ftp://example.com"}, "SCIM_BASE_URL must be an http"),
        (
            {"SCIM_DEFAULT_PAGE_SIZE": "500", "SCIM_MAX_RESULTS": "100"},
            "SCIM_DEFAULT_PAGE_SIZE cannot exceed SCIM_MAX_RESULTS",
        ),
    ],
    ids=lambda value: next(iter(value)) if isinstance(value, dict) else None,
)
def test_settings_refuse_bad_values(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as excinfo:
        Settings.from_env(env)
    assert message in str(excinfo.value)


def test_settings_accept_a_production_environment() -> None:
    settings = Settings.from_env(
        {
            "SCIM_DATABASE_URL": "postgresql+psycopg://scim@db/scim",
            "SCIM_SECRET_KEY": "x" * 32,
            "SCIM_BASE_URL": "https://scim.example.com",
            "SCIM_SMTP_URL": "smtp://mail:25",
            "SCIM_MAX_RESULTS": "500",
            "SCIM_TRUSTED_PROXIES": "1",
        }
    )
    assert settings.max_results == 500
    assert settings.trusted_proxies == 1
    assert not settings.is_sqlite
