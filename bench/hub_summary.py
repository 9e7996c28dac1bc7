"""The hub summary at 1,000 and 100,000 users, in process, on SQLite and PostgreSQL.

``python -m bench.hub_summary [--sizes 1000,100000] [--shapes spread,one-big] [--runs 5]
[--baseline DIR]`` seeds an account directly (core inserts), lets PostgreSQL vacuum and gather
statistics as autovacuum would after a bulk load, then times ``hub_summary`` (the same function
``GET /api/v1/hub`` calls) and prints the median of several runs with the slowest statement of
the last run, then the median of ``GET /api/v1/hub`` through the Flask stack (test client: the
server's time without a socket).

Every account has its users (one in seven inactive, a third never active), API credentials for
one user in ten, duty schedules (weekdays 09:00-17:00 in four zones) for one user in a hundred,
exceptions for one in five hundred, and 200 resources. The groups depend on the shape:

- ``spread``: 1,000 groups, every user a member of one of the first 900 (100 empty groups);
- ``one-big``: 1,000 empty groups and one group holding every user (the shape whose empty-group
  count took 3.8 s on PostgreSQL at 100,000 users).

The seed is deterministic (ids, names, and a fixed "now"), so two versions of the code seeding
the same shape must report the same figures. ``--baseline DIR`` uses that: for each engine it
runs this script once with ``DIR`` (another checkout, e.g. a worktree of main) first on the
import path, then once with this checkout, and prints both medians side by side and whether
every figure of the summary is identical.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import event, insert, text

from scim_server.app import create_app
from scim_server.db import make_engine, make_session_factory
from scim_server.hub.summary import hub_summary
from scim_server.migrate import upgrade
from scim_server.security import hash_token
from scim_server.settings import Settings
from scim_server.storage.domain_tables import Resource
from scim_server.storage.hub_tables import DutyException, DutySchedule, DutyWindow
from scim_server.storage.models import Account, Credential, Group, GroupMember, User

# A Monday morning: Paris (09:30) and London (08:30) are at work, New York is not.
NOW = dt.datetime(2025, 3, 31, 7, 30, tzinfo=dt.UTC)
SHAPES = ("spread", "one-big")
ADMIN_TOKEN = "sapi_hub-bench-admin-token-0123456789abcdef"
ZONES = ("Europe/Paris", "Europe/London", "America/New_York", "Asia/Tokyo")


def seed(url: str, users: int, shape: str) -> tuple[Any, str]:
    rng = random.Random(f"{users}-{shape}")  # noqa: S311 (ids for a benchmark)

    def new_id() -> str:
        return uuid.UUID(int=rng.getrandbits(128)).hex

    engine = make_engine(url)
    upgrade(engine)
    factory = make_session_factory(engine)
    now = NOW
    with factory() as session:
        account = Account(id=new_id(), name=f"hub-{users}", domains=["hub.example"],
                          guest_denylist=[], seats_limit=users, operators_limit=users)
        session.add(account)
        session.flush()
        user_ids = [new_id() for _ in range(users)]
        for start in range(0, users, 10_000):
            session.execute(insert(User), [
                {"id": user_ids[n], "account_id": account.id, "user_name": f"u{n}@hub.example",
                 "user_name_key": f"u{n}@hub.example", "email": f"u{n}@hub.example",
                 "display_name": f"User {n}",
                 "user_type": ("Admin", "Member", "Viewer", "Guest")[n % 4],
                 "status": "inactive" if n % 7 == 0 else "active", "data": {}, "search": {},
                 "created_at": now, "modified_at": now, "version": 1,
                 "last_activity_at": now - dt.timedelta(hours=n % 500) if n % 3 else None}
                for n in range(start, min(start + 10_000, users))])
        group_ids = [new_id() for _ in range(1000 if shape == "spread" else 1001)]
        session.execute(insert(Group), [
            {"id": g, "account_id": account.id, "display_name": f"g{n}", "display_name_key": f"g{n}",
             "data": {}, "search": {}, "created_at": now, "modified_at": now, "version": 1}
            for n, g in enumerate(group_ids)])
        # spread: user n in group n % 900; one-big: every user in the last group.
        for start in range(0, users, 10_000):
            session.execute(insert(GroupMember), [
                {"group_id": group_ids[n % 900] if shape == "spread" else group_ids[-1],
                 "member_id": user_ids[n], "account_id": account.id, "member_type": "User"}
                for n in range(start, min(start + 10_000, users))])
        session.execute(insert(Credential), [
            {"id": new_id(), "account_id": account.id, "user_id": user_ids[n], "kind": "api",
             "prefix": "sapi_bench", "secret_hash": new_id() * 2,
             "created_at": now - dt.timedelta(days=n % 60),
             "last_used_at": now - dt.timedelta(days=n % 45) if n % 20 else None}
            for n in range(0, users, 10)])
        # The token the HTTP measurement sends: user 4 is an active Admin.
        session.execute(insert(Credential), [
            {"id": new_id(), "account_id": account.id, "user_id": user_ids[4], "kind": "api",
             "prefix": ADMIN_TOKEN[:12], "secret_hash": hash_token(ADMIN_TOKEN),
             "created_at": now - dt.timedelta(days=1), "last_used_at": now}])
        scheduled = range(0, users, 100)
        session.execute(insert(DutySchedule), [
            {"user_id": user_ids[n], "account_id": account.id, "time_zone": ZONES[n // 100 % 4],
             "modified_at": now} for n in scheduled])
        session.execute(insert(DutyWindow), [
            {"id": new_id(), "account_id": account.id, "user_id": user_ids[n], "weekday": day,
             "start_time": dt.time(9), "end_time": dt.time(17)}
            for n in scheduled for day in range(5)])
        session.execute(insert(DutyException), [
            {"id": new_id(), "account_id": account.id, "user_id": user_ids[n],
             "on_date": NOW.date() + dt.timedelta(days=n % 5 - 2), "kind": "off"}
            for n in range(0, users, 500)])
        session.execute(insert(Resource), [
            {"id": new_id(), "account_id": account.id, "kind": "monitor", "name": f"r{n}",
             "production": n % 2 == 0}
            for n in range(200)])
        # Core inserts bypass the ORM hook that keeps the account's counts: set them as the
        # migration that introduced them does.
        session.execute(text(
            "UPDATE accounts SET "
            "operators_used = (SELECT count(*) FROM users WHERE users.account_id = accounts.id "
            "AND users.status != 'deleted'), "
            "paying_active = (SELECT count(*) FROM users WHERE users.account_id = accounts.id "
            "AND users.status = 'active' AND users.user_type IN ('Admin', 'Member'))"))
        session.commit()
        account_id = account.id
    if engine.dialect.name == "postgresql":
        # What autovacuum does after a bulk load (insert-triggered vacuum since PostgreSQL 13):
        # statistics, and a visibility map that lets index-only scans skip the heap. The
        # throwaway cluster commits asynchronously, and VACUUM leaves a page not all-visible
        # while the commit of its rows is unflushed: CHECKPOINT first. (Checked: every table
        # all-visible after this; a single VACUUM ANALYZE left some at zero.)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("CHECKPOINT"))
            conn.execute(text("VACUUM"))
            conn.execute(text("ANALYZE"))
    return engine, account_id


def figures(summary: Any) -> dict[str, Any]:
    """Every figure of the summary, as JSON-able values (what two versions must agree on)."""
    doc = dataclasses.asdict(summary)
    return json.loads(json.dumps(doc, default=str, sort_keys=True))  # type: ignore[no-any-return]


def measure(engine: Any, account_id: str, runs: int) -> dict[str, Any]:
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
    summary = None
    for _ in range(runs):
        slowest.clear()
        with factory() as session:
            account = session.get(Account, account_id)
            assert account is not None
            start = time.perf_counter()
            summary = hub_summary(session, account, now=NOW)
            timings.append(time.perf_counter() - start)
        statements = len(slowest)
    worst = max(slowest)
    return {
        "median_ms": statistics.median(timings) * 1000,
        "http_ms": measure_http(engine, runs),
        "worst_ms": worst[0] * 1000,
        "statements": statements,
        "slowest": worst[1],
        "figures": figures(summary),
    }


def measure_http(engine: Any, runs: int) -> float:
    """Median of ``GET /api/v1/hub`` through the whole Flask stack (token check, session,
    summary, JSON), with the test client: the server's own time, no socket."""
    settings = Settings.from_env({}, database_url=str(engine.url),
                                 secret_key="hub-bench-secret-key-0123456789")
    app = create_app(settings, engine=engine)
    app.extensions["hub_clock"] = lambda: NOW
    client = app.test_client()
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    assert client.get("/api/v1/hub", headers=headers).status_code == 200  # warm-up
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        response = client.get("/api/v1/hub", headers=headers)
        timings.append(time.perf_counter() - start)
        assert response.status_code == 200, response.get_data(as_text=True)
    return statistics.median(timings) * 1000


def run(engines: list[str], sizes: list[int], shapes: list[str], runs: int,
        as_json: bool) -> list[dict[str, Any]]:
    import scim_server

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for engine_name in engines:
            cluster = None
            if engine_name == "postgresql":
                from tests.pgcluster import PgCluster

                cluster = PgCluster()
                cluster.start()
            try:
                for shape in shapes:
                    for size in sizes:
                        name = f"hub{size}_{shape.replace('-', '_')}"
                        if cluster is not None:
                            cluster.create_database(name)
                            url = cluster.url(name)
                        else:
                            url = f"sqlite:///{Path(tmp) / f'{name}.db'}"
                        engine, account_id = seed(url, size, shape)
                        result = measure(engine, account_id, runs)
                        engine.dispose()
                        result.update(engine=engine_name, users=size, shape=shape,
                                      code=str(Path(scim_server.__file__).parent))
                        rows.append(result)
                        if as_json:
                            print(json.dumps(result), flush=True)
                        else:
                            print(f"{engine_name:10} {shape:8} {size:>7} users: median "
                                  f"{result['median_ms']:7.1f} ms, GET /api/v1/hub "
                                  f"{result['http_ms']:7.1f} ms ({result['statements']} "
                                  f"statements; slowest: {result['slowest']}, "
                                  f"{result['worst_ms']:.1f} ms)", flush=True)
            finally:
                if cluster is not None:
                    cluster.stop()
    return rows


def _child(checkout: Path, args: argparse.Namespace, engine: str) -> list[dict[str, Any]]:
    """This script run with ``checkout`` first on the import path (its scim_server, its
    migrations), for one engine; one JSON line per measurement."""
    env = dict(os.environ, PYTHONPATH=str(checkout))
    command = [sys.executable, str(Path(__file__).resolve()), "--json", "--engines", engine,
               "--sizes", args.sizes, "--shapes", args.shapes, "--runs", str(args.runs)]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"{' '.join(command)} (PYTHONPATH={checkout}) failed:\n{done.stderr}")
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def compare(args: argparse.Namespace) -> None:
    baseline = Path(args.baseline).resolve()
    current = Path(__file__).resolve().parents[1]
    before: list[dict[str, Any]] = []
    after: list[dict[str, Any]] = []
    for engine in args.engines.split(","):
        before += _child(baseline, args, engine)
        after += _child(current, args, engine)
    print(f"before: {before[0]['code']}\nafter:  {after[0]['code']}\n")
    print("| engine | shape | users | hub_summary before (ms) | after (ms) | GET /api/v1/hub "
          "before (ms) | after (ms) | figures |\n|---|---|---|---|---|---|---|---|")
    for b, a in zip(before, after, strict=True):
        same = "identical" if a["figures"] == b["figures"] else "DIFFER"
        print(f"| {a['engine']} | {a['shape']} | {a['users']:,} | {b['median_ms']:.1f} | "
              f"{a['median_ms']:.1f} | {b['http_ms']:.1f} | {a['http_ms']:.1f} | {same} |")
    print("\nafter, slowest statement of the last run:")
    for a in after:
        print(f"  {a['engine']} {a['shape']} {a['users']:,}: {a['worst_ms']:.1f} ms of "
              f"{a['statements']} statements, {a['slowest']}")
    for b, a in zip(before, after, strict=True):
        if a["figures"] != b["figures"]:
            print(f"\n{a['engine']} {a['shape']} {a['users']}:\n before {b['figures']}\n"
                  f" after  {a['figures']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,100000")
    parser.add_argument("--shapes", default=",".join(SHAPES), help="spread, one-big or both")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--baseline", metavar="DIR",
                        help="another checkout to time first, side by side with this one")
    parser.add_argument("--json", action="store_true", help="one JSON line per measurement")
    args = parser.parse_args()
    if args.baseline:
        compare(args)
        return
    shapes = args.shapes.split(",")
    if unknown := set(shapes) - set(SHAPES):
        parser.error(f"unknown shapes: {', '.join(sorted(unknown))}")
    rows = run(args.engines.split(","), [int(s) for s in args.sizes.split(",")], shapes,
               args.runs, args.json)
    if not args.json:
        print("\n| engine | shape | users | hub_summary median (ms) | GET /api/v1/hub median (ms) |"
              "\n|---|---|---|---|---|")
        for row in rows:
            print(f"| {row['engine']} | {row['shape']} | {row['users']:,} | "
                  f"{row['median_ms']:.1f} | {row['http_ms']:.1f} |")


if __name__ == "__main__":
    main()
