"""A deadlock between two requests is a fault the aborted request can retry: 503 with
Retry-After at every door (the doors share ``db.unavailable``), not a 500. Made for real: two
transactions lock two rows in opposite orders on PostgreSQL, which aborts one of them."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from scim_server.db import CROSSED, make_engine, unavailable

pytestmark = pytest.mark.postgres


def test_a_deadlock_is_a_retryable_fault(pg_url: str) -> None:
    engine = make_engine(pg_url)
    try:
        with engine.begin() as setup:
            setup.execute(sa.text("CREATE TABLE pair (id int PRIMARY KEY, n int)"))
            setup.execute(sa.text("INSERT INTO pair VALUES (1, 0), (2, 0)"))
        both_hold = threading.Barrier(2)
        errors: list[BaseException] = []

        def cross(first: int, second: int) -> None:
            try:
                with engine.begin() as conn:
                    conn.execute(sa.text("UPDATE pair SET n = n + 1 WHERE id = :i"), {"i": first})
                    both_hold.wait(timeout=10)
                    conn.execute(sa.text("UPDATE pair SET n = n + 1 WHERE id = :i"), {"i": second})
            except DBAPIError as exc:
                errors.append(exc)

        threads = [threading.Thread(target=cross, args=order) for order in ((1, 2), (2, 1))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert len(errors) == 1, errors  # PostgreSQL aborted one, the other committed
        assert getattr(errors[0], "orig").sqlstate == "40P01"
        assert unavailable(errors[0]) is CROSSED and CROSSED.retry_after == 1
    finally:
        engine.dispose()
