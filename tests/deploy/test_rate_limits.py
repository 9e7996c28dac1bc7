"""The workers of one gunicorn instance share the rate-limit buckets: a credential gets its
burst once per instance, not once per worker."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import psycopg

from tests.deploy.conftest import FreshAccount, _call


def test_the_workers_of_an_instance_share_a_tokens_bucket(fresh_account: FreshAccount) -> None:
    with psycopg.connect(fresh_account.conninfo, autocommit=True) as connection:
        connection.execute(
            "UPDATE accounts SET rate_limit_per_second = 1, rate_limit_burst = 10 WHERE id = %s",
            (fresh_account.account_id,),
        )
    base = fresh_account.bases[0]  # 2 workers × 4 threads
    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(
            lambda _: _call("GET", base + "/Users?count=1", fresh_account.token,
                            with_headers=True), range(40)))
    elapsed = time.monotonic() - started
    granted = [a for a in answers if a[0] == 200]
    refused = [a for a in answers if a[0] == 429]
    assert len(granted) + len(refused) == 40, [a[0] for a in answers]
    # Buckets per worker would grant up to 2 × 10 here.
    assert 10 <= len(granted) <= 10 + int(elapsed) + 1, (len(granted), elapsed)
    status, body, headers = refused[0]
    assert body["status"] == "429" and int(headers["Retry-After"]) >= 1
