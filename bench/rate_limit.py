"""What the rate limit costs a `userName eq` lookup, through the real app, side by side.

``python -m bench.rate_limit [--requests 400] [--rounds 9] [--engine sqlite|postgresql URL]``

Two apps on one database and one account: one with the limit on (the file-backed buckets that
gunicorn's workers share, with a limit no request reaches), one with it off (0/s). Rounds
alternate between them so that the machine's noise falls on both; prints the median time per
lookup of each and their ratio (the issue's target: under 5%), and the cost of one bucket take.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from scim_server.app import create_app
from scim_server.cli import create_account
from scim_server.db import make_session_factory
from scim_server.migrate import upgrade
from scim_server.ratelimit import Limit, TokenBuckets
from scim_server.settings import Settings


def _app(url: str, folder: Path, per_second: int) -> Any:
    settings = Settings.from_env({}, database_url=url, secret_key="bench-secret-0123456789",
                                 rate_limit_per_second=per_second, rate_limit_burst=10**9,
                                 rate_limit_file=str(folder / "buckets"))
    return create_app(settings)


def _round(client: Any, headers: dict[str, str], requests: int) -> float:
    started = time.perf_counter()
    for n in range(requests):
        response = client.get(f'/scim/v2/Users?filter=userName eq "u{n % 50}@bench.example"',
                              headers=headers)
        assert response.status_code == 200, response.data
    return (time.perf_counter() - started) / requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--database-url", help="default: a new SQLite file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        url = args.database_url or f"sqlite:///{folder / 'bench.db'}"
        limited = _app(url, folder, 10**9)
        unlimited = _app(url, folder, 0)
        upgrade(limited.extensions["scim_engine"])
        with make_session_factory(limited.extensions["scim_engine"])() as session:
            token = create_account(session, limited.config["SCIM_SETTINGS"], "bench",
                                   "bench.example")["scim_token"]
        headers = {"Authorization": f"Bearer {token}"}
        clients = {"limit on": limited.test_client(), "limit off": unlimited.test_client()}
        for client in clients.values():
            for n in range(50):
                client.post("/scim/v2/Users", headers={**headers, "Content-Type":
                            "application/scim+json"}, json={
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": f"u{n}@bench.example"})
            _round(client, headers, 50)  # warm-up
        times: dict[str, list[float]] = {name: [] for name in clients}
        names = list(clients)
        for number in range(args.rounds):
            # Each goes first in every other round: the first of a pair runs on a cooler cache.
            for name in names if number % 2 == 0 else names[::-1]:
                times[name].append(_round(clients[name], headers, args.requests))
        on, off = (statistics.median(times[k]) for k in ("limit on", "limit off"))
        buckets = TokenBuckets(str(folder / "take"))
        limit = Limit(per_second=10**9, burst=10**9)
        started = time.perf_counter()
        for n in range(100_000):
            buckets.take(f"credential-{n % 100}", limit)
        take = (time.perf_counter() - started) / 100_000
    print(f"{url.split(':')[0]}, {args.rounds} alternating rounds of {args.requests} lookups")
    print(f"  limit on : {on * 1e3:.3f} ms per lookup (median)")
    print(f"  limit off: {off * 1e3:.3f} ms per lookup (median)")
    print(f"  ratio on/off: {on / off:.3f}")
    print(f"  one bucket take (file-backed, shared by processes): {take * 1e6:.1f} µs")


if __name__ == "__main__":
    main()
