"""A bounded schemathesis run (issue 11) against the admin API's own OpenAPI document, on the
in-process WSGI app: for every documented operation, generated requests (valid and invalid)
are never answered 5xx, and every answer conforms to the document (status, content type,
body schema, an Allow header on 405, invalid bodies refused). Not checked: that every
schema-valid request is accepted, since account rules (a user type, "give exactly one of",
times of day, cursors this list never returned) refuse with 400 what a JSON schema cannot say.

Bounded for CI: ``SCIM_FUZZ_EXAMPLES`` examples per operation (25 by default here), no deadline,
derandomized when ``CI`` is set. SQLite only: the schema, not the engine, is under test.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from scim_server.settings import Settings
from tests.api.conftest import make_api_app
from tests.domain.factories import make_account, make_token, make_user

FUZZ = settings(
    max_examples=int(os.environ.get("SCIM_API_FUZZ_EXAMPLES", "25")),
    deadline=None,
    derandomize=bool(os.environ.get("CI")),
    database=None,
    suppress_health_check=list(HealthCheck),
)


def _api(sqlite_url: str) -> tuple[Any, str]:
    # A rate limit never reached: the run sends faster than any client, and a 429 would hide
    # the operation's own answer (429 is documented; its own tests are test_rate_limits.py).
    # The default body limit: generated invalid bodies must reach the schema, not the 413.
    app = make_api_app(Settings(database_url=sqlite_url, secret_key="x" * 32,
                                rate_limit_per_second=10**6, rate_limit_burst=10**6))
    session = app.extensions["scim_sessions"]()
    account = make_account(session, seats_limit=5)
    admin = make_user(session, account, "boss", user_type="Admin")
    make_user(session, account, "member")
    token = make_token(session, account, admin)
    session.commit()
    session.close()
    return app, token


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
def test_the_admin_api_conforms_to_its_document(sqlite_url: str, mode: GenerationMode) -> None:
    app, token = _api(sqlite_url)
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    # U+0000 is refused in every string by design (PostgreSQL cannot store it; see
    # domain.text), which the document's plain string types cannot say.
    schema.config.generation.update(allow_x00=False)
    failures: dict[str, str] = {}
    for result in schema.get_all_operations():
        operation = result.ok()

        @FUZZ
        @given(case=operation.as_strategy(generation_mode=mode))
        def run(case: Any) -> None:
            case.call_and_validate(headers={"Authorization": f"Bearer {token}"},
                                   excluded_checks=[positive_data_acceptance])

        try:
            run()
        except (Exception, BaseExceptionGroup) as exc:  # every operation's failure in one report
            failures[operation.label] = str(exc)[:2000]
    assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())
