"""Hub fixtures: a session on a fresh migrated database (both engines) and a hand-counted account."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

# The domain tests' engine and session fixtures serve here unchanged.
from tests.domain.conftest import engine, session  # noqa: F401
from tests.hub.world import World, build_world


@pytest.fixture
def world(session: Session) -> World:  # noqa: F811
    w = build_world(session)
    session.commit()
    return w
