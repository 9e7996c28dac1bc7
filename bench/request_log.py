"""The request log's cost and the speed of its page, in process.

``python -m bench.request_log [--rounds 10] [--requests 150] [--day 100000] [--pg-url URL]``

1. **Cost.** Two apps on one SQLite database (and on PostgreSQL with ``--pg-url``), one with
   the log on (the default settings) and one with it off (``SCIM_REQUEST_LOG_BUFFER=0``);
   rounds alternate between them, each round ``--requests`` lookups (``GET /Users/{id}``) then
   as many creates (``POST /Users``) through the Flask stack (test client: the server's time
   without a socket). The log's writer thread runs meanwhile in the same process, as it does
   in a worker. Printed: the median requests per second of each, the median of the paired
   ratios (target: the log costs under 5%), and the same ratio of the process's CPU time per
   request (all threads), steadier than the wall clock on a shared machine.
2. **The page.** A day of ``--day`` requests of one account (five connections, one request in
   ten an error, 10,000 users touched) written into a log database, then the median time of
   the page's queries (``list_requests`` as ``GET /api/v1/scim-requests`` and the admin page
   call it): the first page, each filter, a deep page by cursor, and the connections' activity
   (the hub card). Target: each under 300 ms.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import Engine, insert, text

from scim_server.app import create_app
from scim_server.cli import create_account
from scim_server.db import make_engine
from scim_server.domain import request_log
from scim_server.migrate import upgrade
from scim_server.request_capture import request_log_of
from scim_server.settings import Settings
from scim_server.storage import request_log as store
from scim_server.storage.models import Account

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
TARGET_COST = 0.05
TARGET_PAGE_MS = 300.0


def _app(url: str, **overrides: Any) -> Flask:
    settings = Settings(database_url=url, secret_key="bench-secret-key-0123456789",
                        rate_limit_per_second=0, **overrides)
    app = create_app(settings)
    app.config["TESTING"] = True
    return app


def _user(n: int, tag: str) -> dict[str, Any]:
    name = f"{tag}{n}@bench.example"
    return {"schemas": [USER], "userName": name, "active": True,
            "name": {"givenName": "Bench", "familyName": str(n)},
            "emails": [{"value": name, "type": "work", "primary": True}]}


def cost(url: str, rounds: int, requests: int) -> dict[str, float]:
    on, off = _app(url), _app(url, request_log_buffer=0)
    with on.extensions["scim_sessions"]() as session:
        account = create_account(session, on.config["SCIM_SETTINGS"], "bench", "bench.example",
                                 seats=10**7, operators=10**7)
    headers = {"Authorization": f"Bearer {account['scim_token']}",
               "Content-Type": "application/scim+json", "User-Agent": "Okta SCIM Client 1.0.0"}
    client_on, client_off = on.test_client(), off.test_client()
    ids = [client_on.post("/scim/v2/Users", json=_user(n, "seed"), headers=headers)
           .get_json()["id"] for n in range(200)]
    rates: dict[str, list[float]] = {"lookup on": [], "lookup off": [], "post on": [],
                                     "post off": []}
    counter = [0]

    cpu: dict[str, list[float]] = {"lookup": [], "post": []}

    def timed(run: Callable[[], None]) -> tuple[float, float]:
        """Requests per second (wall clock), and the process's CPU seconds per request (all
        its threads: the log's writer included), which a loaded machine disturbs less."""
        started, started_cpu = time.perf_counter(), time.process_time()
        run()
        return (requests / (time.perf_counter() - started),
                (time.process_time() - started_cpu) / requests)

    def lookups(client: Any) -> tuple[float, float]:
        def run() -> None:
            for n in range(requests):
                assert client.get(f"/scim/v2/Users/{ids[n % len(ids)]}",
                                  headers=headers).status_code == 200
        return timed(run)

    def posts(client: Any) -> tuple[float, float]:
        def run() -> None:
            for _ in range(requests):
                counter[0] += 1
                assert client.post("/scim/v2/Users", json=_user(counter[0], "u"),
                                   headers=headers).status_code == 201
        return timed(run)

    lookups(client_on), lookups(client_off), posts(client_on), posts(client_off)  # warm-up
    # Each measure is paired with its twin right after it (the order alternating), so that a
    # neighbour's load on a shared machine weighs on both sides of a ratio alike.
    ratios: dict[str, list[float]] = {"lookup": [], "post": []}
    for r in range(rounds):
        for kind, measure in (("lookup", lookups), ("post", posts)):
            modes = [("on", client_on), ("off", client_off)]
            got = {mode: measure(client) for mode, client in (modes if r % 2 == 0
                                                              else list(reversed(modes)))}
            rates[f"{kind} on"].append(got["on"][0])
            rates[f"{kind} off"].append(got["off"][0])
            ratios[kind].append(got["on"][0] / got["off"][0])
            cpu[kind].append(got["on"][1] / got["off"][1])
    log = request_log_of(on)
    assert log is not None
    log.close()
    result = {k: statistics.median(v) for k, v in rates.items()}
    for kind, values in ratios.items():
        result[f"{kind} cost"] = 1 - statistics.median(values)
        result[f"{kind} cpu cost"] = statistics.median(cpu[kind]) - 1
    result["written"] = log.stats.written
    result["dropped"] = log.stats.dropped + log.stats.failed
    for application in (on, off):
        application.extensions["scim_engine"].dispose()
    log.engine.dispose()
    return result


# -- the page ------------------------------------------------------------------------------------

def seed_day(engine: Engine, account_id: str, size: int, start: dt.datetime) -> list[str]:
    rng = random.Random(13)
    connections = [f"{c:032x}" for c in range(1, 6)]
    users = [f"{u:032x}" for u in range(10_000, 20_000)]
    methods = ["GET"] * 6 + ["POST", "PATCH", "PATCH", "PUT", "DELETE"]
    rows, touched = [], []
    with engine.connect() as connection:
        first = (connection.execute(text("SELECT max(id) FROM scim_requests")).scalar() or 0) + 1
    for n in range(size):
        method = rng.choice(methods)
        roll = rng.random()
        status = 500 if roll < 0.01 else (rng.choice([400, 404, 409]) if roll < 0.1 else
                                          (201 if method == "POST" else 200))
        user = rng.choice(users)
        row_id = first + n
        rows.append({
            "id": row_id, "account_id": account_id,
            "at": start + dt.timedelta(seconds=86_400 * n / size),
            "connection_id": rng.choice(connections), "connection_label": "Okta",
            "profile": "okta", "user_agent": "Okta SCIM Client 1.0.0", "method": method,
            "path": f"/scim/v2/Users/{user}", "query": None, "status": status,
            "status_class": status // 100,
            "scim_type": None, "rule": None, "duration_ms": 3.2,
            "quirks": ["op-capitalised"] if method == "PATCH" else [],
            "resource_ids": [user],
            "request_body": '{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}',
            "request_truncated": False, "response_body": '{"id": "' + user + '"}' * 20,
            "response_truncated": False})
        touched.append({"request_id": row_id, "resource_id": user, "account_id": account_id})
    with engine.begin() as connection:
        for chunk in range(0, size, 5000):
            connection.execute(insert(store.scim_requests), rows[chunk:chunk + 5000])
            connection.execute(insert(store.scim_request_resources), touched[chunk:chunk + 5000])
    # As autovacuum would after a bulk load (PostgreSQL 13+ vacuums insert-only tables too):
    # statistics, and the visibility map that lets a count read the index alone.
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))
    else:
        with engine.begin() as connection:
            connection.execute(text("ANALYZE"))
    return users


def page(url: str, size: int, runs: int) -> dict[str, float]:
    engine = make_engine(url)
    if url.startswith("sqlite"):
        store.create_schema(engine)
    else:
        upgrade(engine)
    start = dt.datetime(2026, 11, 30, tzinfo=dt.UTC)
    account_id = "b" * 32
    # Another account's day beside it: the page must not read it.
    seed_day(engine, "c" * 32, size // 4, start)
    users = seed_day(engine, account_id, size, start)
    log = request_log.RequestLog(engine, own_schema=url.startswith("sqlite"))
    account = Account(id=account_id, name="bench")
    _, deep = request_log.list_requests(log, account, limit=50)
    for _ in range(20):  # the cursor 20 pages down
        _, deep = request_log.list_requests(log, account, limit=50, before_id=deep)
    cases: dict[str, Callable[[], Any]] = {
        "first page": lambda: request_log.list_requests(log, account, limit=50),
        "status 4xx": lambda: request_log.list_requests(log, account, limit=50, status_class=4),
        "status 5xx": lambda: request_log.list_requests(log, account, limit=50, status_class=5),
        "connection": lambda: request_log.list_requests(log, account, limit=50,
                                                        connection_id=f"{3:032x}"),
        "method DELETE": lambda: request_log.list_requests(log, account, limit=50,
                                                           method="DELETE"),
        "a user": lambda: request_log.list_requests(log, account, limit=50,
                                                    resource_id=users[1234]),
        "one hour": lambda: request_log.list_requests(
            log, account, limit=50, since=start + dt.timedelta(hours=13),
            until=start + dt.timedelta(hours=14)),
        "5xx + connection + hour": lambda: request_log.list_requests(
            log, account, limit=50, status_class=5, connection_id=f"{2:032x}",
            since=start + dt.timedelta(hours=2), until=start + dt.timedelta(hours=20)),
        "page 21 by cursor": lambda: request_log.list_requests(log, account, limit=50,
                                                               before_id=deep),
        "connections (hub card)": lambda: store.connection_activity(
            engine, account_id, [f"{c:032x}" for c in range(1, 6)],
            start + dt.timedelta(hours=1)),
    }
    result = {}
    for name, query in cases.items():
        times = []
        for _ in range(runs):
            began = time.perf_counter()
            query()
            times.append((time.perf_counter() - began) * 1000)
        result[name] = statistics.median(times)
    engine.dispose()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--requests", type=int, default=150)
    parser.add_argument("--day", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--pg-url", help="a migrated, empty PostgreSQL database to use too")
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    parser.add_argument("--no-page", action="store_true", help="the cost only")
    parser.add_argument("--no-cost", action="store_true", help="the page only")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        engines = {"sqlite": f"sqlite:///{Path(tmp) / 'bench.db'}"}
        main_url = engines["sqlite"]
        upgrade_engine = make_engine(main_url)
        upgrade(upgrade_engine)
        upgrade_engine.dispose()
        if args.pg_url:
            engines["postgresql"] = args.pg_url
        if args.no_sqlite:
            engines.pop("sqlite")
        for name, url in engines.items() if not args.no_cost else ():
            figures = cost(url, args.rounds, args.requests)
            print(f"\n## {name}: the log's cost ({args.rounds} alternating rounds of "
                  f"{args.requests} lookups and {args.requests} creates)\n")
            print("| | log on (req/s) | log off (req/s) | throughput cost (median of the "
                  "paired ratios) | CPU per request, on vs off |")
            print("|---|---|---|---|---|")
            for kind in ("lookup", "post"):
                ratio = figures[f"{kind} cost"]
                verdict = "met" if ratio < TARGET_COST else "MISSED"
                print(f"| {kind} | {figures[f'{kind} on']:.0f} | {figures[f'{kind} off']:.0f} "
                      f"| {100 * ratio:+.1f}% ({verdict}) | {100 * figures[f'{kind} cpu cost']:+.1f}% |")
            print(f"\nentries written: {figures['written']:.0f}, lost: {figures['dropped']:.0f}")
        log_urls = {"sqlite": f"sqlite:///{Path(tmp) / 'page.requests.db'}"}
        if args.pg_url:
            log_urls["postgresql"] = args.pg_url
        if args.no_sqlite:
            log_urls.pop("sqlite")
        for name, url in log_urls.items() if not args.no_page else ():
            figures = page(url, args.day, args.runs)
            print(f"\n## {name}: the page over a day of {args.day:,} requests "
                  f"(median of {args.runs}, ms)\n")
            print("| query | ms | target 300 ms |")
            print("|---|---|---|")
            for case, ms in figures.items():
                print(f"| {case} | {ms:.1f} | {'met' if ms < TARGET_PAGE_MS else 'MISSED'} |")


if __name__ == "__main__":
    main()
