"""The token buckets behind the rate limits (``scim_server.ratelimit``): their arithmetic on a
clock the test turns, and one table shared by processes through its file."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from scim_server.ratelimit import Limit, TokenBuckets


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_allows_its_burst_then_says_when_the_next_token_comes() -> None:
    clock = Clock()
    buckets = TokenBuckets(clock=clock)
    limit = Limit(per_second=2, burst=3)
    assert [buckets.take("token-a", limit) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("token-a", limit) == pytest.approx(0.5)
    clock.now += 0.5
    assert buckets.take("token-a", limit) == 0.0
    assert buckets.take("token-a", limit) == pytest.approx(0.5)
    # A long pause refills up to the burst, never beyond it.
    clock.now += 60
    assert [buckets.take("token-a", limit) for _ in range(4)][-1] == pytest.approx(0.5)


def test_each_credential_has_its_own_bucket() -> None:
    buckets = TokenBuckets(clock=Clock())
    limit = Limit(per_second=1, burst=1)
    assert buckets.take("token-a", limit) == 0.0
    assert buckets.take("token-a", limit) > 0
    assert buckets.take("token-b", limit) == 0.0


def test_no_limit_never_refuses() -> None:
    buckets = TokenBuckets(clock=Clock())
    assert all(buckets.take("token-a", Limit(per_second=0, burst=1)) == 0.0 for _ in range(500))


def test_a_full_table_forgets_the_oldest_bucket_and_refuses_no_one_more() -> None:
    clock = Clock()
    buckets = TokenBuckets(clock=clock)
    limit = Limit(per_second=1, burst=1)
    for n in range(20_000):  # more keys than slots
        clock.now += 0.001
        assert buckets.take(f"token-{n}", limit) == 0.0


def _drain(path: str, key: str, count: int, results: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    buckets = TokenBuckets(path)
    results.put([buckets.take(key, Limit(per_second=0.001, burst=10)) for _ in range(count)])


def test_processes_sharing_the_file_share_the_buckets(tmp_path: Path) -> None:
    """The workers of a gunicorn master: what one takes, the others no longer have."""
    path = str(tmp_path / "buckets")
    context = multiprocessing.get_context("fork")
    results: multiprocessing.Queue = context.Queue()  # type: ignore[type-arg]
    workers = [context.Process(target=_drain, args=(path, "token-a", 6, results))
               for _ in range(3)]
    for worker in workers:
        worker.start()
    taken = [results.get(timeout=30) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
    granted = sum(1 for waits in taken for wait in waits if wait == 0.0)
    assert granted == 10, taken
