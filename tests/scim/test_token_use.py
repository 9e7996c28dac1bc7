"""Recording a token's last use never makes a request wait for another request of the same
token (PostgreSQL: the row is skipped while another transaction holds it)."""

from __future__ import annotations

import threading

import psycopg
import pytest
from flask import Flask

from tests.scim.conftest import Account, ScimClient


def test_a_request_does_not_queue_behind_another_holding_the_token_row(
    app: Flask, account: Account, scim: ScimClient, database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has one writer at a time; the row lock is PostgreSQL's")
    url = database_url.replace("postgresql+psycopg://", "postgresql://")
    holder = psycopg.connect(url)
    try:
        # Another request of the token: it wrote the last-used time and has not committed.
        holder.execute("UPDATE credentials SET last_used_at = now() - interval '1 hour' "
                       "WHERE account_id = %s AND kind = 'scim'", (account.id,))
        results: list[int] = []
        worker = threading.Thread(target=lambda: results.append(scim.get("/Users").status_code))
        worker.start()
        worker.join(timeout=10)
        finished = not worker.is_alive()
    finally:
        holder.rollback()
        holder.close()
    worker.join()
    assert finished, "the request waited for the other transaction's row lock"
    assert results == [200]
