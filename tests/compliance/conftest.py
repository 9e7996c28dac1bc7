"""Fixtures for the compliance tests: the SCIM app and accounts of tests/scim, reused as they are."""

from __future__ import annotations

from tests.scim.conftest import (  # noqa: F401
    account,
    app,
    fast_password_hash,
    other_account,
    other_scim,
    scim,
)
