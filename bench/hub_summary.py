"""The hub summary at 1,000 and 100,000 users, in process, on SQLite and PostgreSQL.

``python -m bench.hub_summary [--sizes 1000,100000] [--runs 5]`` seeds an account directly
(core inserts: users, 1,000 groups with one membership per user for 90% of the groups,
credentials for one user in ten, resources), lets PostgreSQL gather statistics as autovacuum
would, then times ``hub_summary`` (the same function ``GET /api/v1/hub`` calls) and prints the
median of several runs with the slowest statement of the last run. No HTTP: this isolates the
SQL the issue asks to keep aggregate, whatever the account's size.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import event, insert, text

from scim_server.db import make_engine, make_session_factory
from scim_server.hub.summary import hub_summary
from scim_server.migrate import upgrade
from scim_server.storage.domain_tables import Resource
from scim_server.storage.models import Account, Credential, Group, GroupMember, User


def seed(url: str, users: int) -> tuple[Any, str]:
    engine = make_engine(url)
    upgrade(engine)
    factory = make_session_factory(engine)
    now = dt.datetime.now(dt.UTC)
    with factory() as session:
        account = Account(name=f"hub-{users}", domains=["hub.example"], guest_denylist=[],
                          seats_limit=users, operators_limit=users)
        session.add(account)
        session.flush()
        user_ids = [uuid.uuid4().hex for _ in range(users)]
        for start in range(0, users, 10_000):
            session.execute(insert(User), [
                {"id": user_ids[n], "account_id": account.id, "user_name": f"u{n}@hub.example",
                 "user_name_key": f"u{n}@hub.example", "email": f"u{n}@hub.example",
                 "user_type": ("Admin", "Member", "Viewer", "Guest")[n % 4],
                 "status": "inactive" if n % 7 == 0 else "active", "data": {}, "search": {},
                 "created_at": now, "modified_at": now, "version": 1,
                 "last_activity_at": now - dt.timedelta(hours=n % 500) if n % 3 else None}
                for n in range(start, min(start + 10_000, users))])
        group_ids = [uuid.uuid4().hex for _ in range(1000)]
        session.execute(insert(Group), [
            {"id": g, "account_id": account.id, "display_name": f"g{n}", "display_name_key": f"g{n}",
             "data": {}, "search": {}, "created_at": now, "modified_at": now, "version": 1}
            for n, g in enumerate(group_ids)])
        for start in range(0, users, 10_000):
            session.execute(insert(GroupMember), [
                {"group_id": group_ids[n % 900], "member_id": user_ids[n], "account_id": account.id,
                 "member_type": "User"} for n in range(start, min(start + 10_000, users))])
        session.execute(insert(Credential), [
            {"id": uuid.uuid4().hex, "account_id": account.id, "user_id": user_ids[n], "kind": "api",
             "prefix": "sapi_bench", "secret_hash": uuid.uuid4().hex * 2,
             "created_at": now - dt.timedelta(days=n % 60),
             "last_used_at": now - dt.timedelta(days=n % 45) if n % 20 else None}
            for n in range(0, users, 10)])
        session.execute(insert(Resource), [
            {"account_id": account.id, "kind": "monitor", "name": f"r{n}", "production": n % 2 == 0}
            for n in range(200)])
        session.commit()
        if engine.dialect.name == "postgresql":
            session.execute(text("ANALYZE"))
            session.commit()
        return engine, account.id


def measure(engine: Any, account_id: str, runs: int) -> tuple[float, float, str]:
    factory = make_session_factory(engine)
    timings: list[float] = []
    slowest: list[tuple[float, str]] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _start(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        context._bench_start = time.perf_counter()

    @event.listens_for(engine, "after_cursor_execute")
    def _stop(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        slowest.append((time.perf_counter() - context._bench_start, " ".join(statement.split())[:90]))

    statements = 0
    for _ in range(runs):
        slowest.clear()
        with factory() as session:
            account = session.get(Account, account_id)
            start = time.perf_counter()
            hub_summary(session, account, now=dt.datetime.now(dt.UTC))
            timings.append(time.perf_counter() - start)
        statements = len(slowest)
    worst = max(slowest)
    return statistics.median(timings) * 1000, worst[0] * 1000, f"{statements} statements; slowest: {worst[1]}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1000,100000")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--engines", default="sqlite,postgresql")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for engine_name in args.engines.split(","):
            cluster = None
            if engine_name == "postgresql":
                from tests.pgcluster import PgCluster

                cluster = PgCluster()
                cluster.start()
            try:
                for size in sizes:
                    if cluster is not None:
                        cluster.create_database(f"hub{size}")
                        url = cluster.url(f"hub{size}")
                    else:
                        url = f"sqlite:///{Path(tmp) / f'hub{size}.db'}"
                    engine, account_id = seed(url, size)
                    median, worst, note = measure(engine, account_id, args.runs)
                    engine.dispose()
                    rows.append((engine_name, size, median, worst, note))
                    print(f"{engine_name:10} {size:>7} users: median {median:7.1f} ms ({note}, {worst:.1f} ms)",
                          flush=True)
            finally:
                if cluster is not None:
                    cluster.stop()
    print("\n| engine | users | hub_summary median (ms) |\n|---|---|---|")
    for engine_name, size, median, _worst, _note in rows:
        print(f"| {engine_name} | {size:,} | {median:.1f} |")


if __name__ == "__main__":
    main()
