"""Where the log goes by default, and its settings refused when malformed."""

from __future__ import annotations

import pytest

from scim_server.settings import Settings, SettingsError


def test_the_log_is_never_the_main_sqlite_file() -> None:
    assert Settings(database_url="sqlite:////data/scim.db").effective_request_log_url == (
        "sqlite:////data/scim.requests.db")
    assert Settings(database_url="sqlite:///rel/x").effective_request_log_url == (
        "sqlite:///rel/x.requests.db")
    assert Settings(database_url="sqlite://").effective_request_log_url == "sqlite://"
    pg = "postgresql+psycopg://u@h/db"
    assert Settings(database_url=pg).effective_request_log_url == pg
    assert Settings(database_url=pg, request_log_url="sqlite:////l.db"
                    ).effective_request_log_url == "sqlite:////l.db"


@pytest.mark.parametrize(("env", "message"), [
    ({"SCIM_REQUEST_LOG_BUFFER": "-1"}, "SCIM_REQUEST_LOG_BUFFER cannot be negative"),
    ({"SCIM_REQUEST_LOG_FLUSH_INTERVAL": "0"}, "SCIM_REQUEST_LOG_FLUSH_INTERVAL must be"),
    ({"SCIM_REQUEST_LOG_RETENTION_DAYS": "0"}, "SCIM_REQUEST_LOG_RETENTION_DAYS must be"),
    ({"SCIM_REQUEST_LOG_BODY_CAP": "10"}, "SCIM_REQUEST_LOG_BODY_CAP must be at least"),
    ({"SCIM_REQUEST_LOG_URL": "mysql://x"}, "SCIM_REQUEST_LOG_URL must be"),
])
def test_bad_values_are_refused(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as excinfo:
        Settings.from_env(env)
    assert message in str(excinfo.value)
