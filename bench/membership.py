"""Group-membership PATCH cost against group size, through the real app, on SQLite and PostgreSQL.

``python -m bench.membership [--big 100000] [--runs 7] [--engines sqlite,postgresql]``

Seeds one account with ``--big`` users by core inserts (minutes faster than SCIM), makes a group
of 100 members and a group of ``--big`` members the same way, then sends the SCIM requests an
identity provider sends — PATCH add 100 members, PATCH remove 1 member (``members[value eq]``),
GET with ``excludedAttributes=members`` — to each group through the Flask app in process (no
HTTP, no load: the per-request cost is what is compared). Prints the median of ``--runs`` for
each, and the ratio big/small from the same run. Also reads a 5,000-member group in full.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text

from scim_server.app import create_app
from scim_server.cli import create_account
from scim_server.db import make_session_factory
from scim_server.migrate import upgrade
from scim_server.settings import Settings
from scim_server.storage.models import Account, Group, GroupMember, User

PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def build(url: str, big: int) -> tuple[Any, dict[str, str], dict[str, Any]]:
    app = create_app(Settings.from_env({}, database_url=url, secret_key="bench-secret-0123456789"))
    upgrade(app.extensions["scim_engine"])
    factory = make_session_factory(app.extensions["scim_engine"])
    now = dt.datetime.now(dt.UTC)
    with factory() as session:
        created = create_account(session, app.config["SCIM_SETTINGS"], "bench", "bench.example")
        account = session.get(Account, created["account_id"])
        assert account is not None
        account.seats_limit = account.operators_limit = big * 2
        users = [uuid.uuid4().hex for _ in range(big + 1000)]
        for start in range(0, len(users), 10_000):
            session.execute(insert(User), [
                {"id": users[n], "account_id": account.id, "user_name": f"u{n}@bench.example",
                 "user_name_key": f"u{n}@bench.example", "email": f"u{n}@bench.example",
                 "display_name": f"User {n}", "user_type": "Member", "status": "active",
                 "data": {"userName": f"u{n}@bench.example", "displayName": f"User {n}"},
                 "search": {"userName": f"u{n}@bench.example"}, "created_at": now,
                 "modified_at": now, "version": 1}
                for n in range(start, min(start + 10_000, len(users)))])
        groups = {"small": (100, uuid.uuid4().hex), "big": (big, uuid.uuid4().hex),
                  "read": (5000, uuid.uuid4().hex)}
        for name, (size, group_id) in groups.items():
            session.execute(insert(Group), [{
                "id": group_id, "account_id": account.id, "display_name": name,
                "display_name_key": name, "data": {"displayName": name}, "search": {"displayName": name},
                "created_at": now, "modified_at": now, "version": 1}])
            for start in range(0, size, 10_000):
                session.execute(insert(GroupMember), [
                    {"group_id": group_id, "member_id": users[n], "account_id": account.id,
                     "member_type": "User", "display": f"User {n}"}
                    for n in range(start, min(start + 10_000, size))])
        session.commit()
        if session.get_bind().dialect.name == "postgresql":
            # Statistics, as autovacuum gathers them after a bulk load.
            session.execute(text("ANALYZE"))
            session.commit()
    headers = {"Authorization": f"Bearer {created['scim_token']}",
               "Content-Type": "application/scim+json"}
    spare = users[big:]  # 1,000 users in no group: the ones each run adds
    return app, headers, {"groups": {k: v[1] for k, v in groups.items()}, "spare": spare, "users": users}


def timed(client: Any, method: str, url: str, headers: dict[str, str], body: Any = None) -> float:
    data = json.dumps(body) if body is not None else None
    start = time.perf_counter()
    response = client.open(url, method=method, data=data, headers=headers)
    elapsed = (time.perf_counter() - start) * 1000
    assert response.status_code in (200, 204), response.get_data(as_text=True)[:300]
    return elapsed


def run(url: str, big: int, runs: int) -> dict[str, float]:
    app, headers, world = build(url, big)
    client = app.test_client()
    results: dict[str, list[float]] = {}
    for rep in range(runs):
        for name in ("small", "big"):
            group_id = world["groups"][name]
            batch = world["spare"][rep * 100:(rep + 1) * 100] if name == "small" else \
                world["spare"][500 + rep * 70:500 + rep * 70 + 100]
            add = {"schemas": [PATCH], "Operations": [
                {"op": "add", "path": "members", "value": [{"value": u} for u in batch]}]}
            url = f"/scim/v2/Groups/{group_id}"
            results.setdefault(f"add 100 / {name}", []).append(
                timed(client, "PATCH", url, headers, add))
            remove = {"schemas": [PATCH], "Operations": [
                {"op": "remove", "path": f'members[value eq "{batch[0]}"]'}]}
            results.setdefault(f"remove 1 / {name}", []).append(
                timed(client, "PATCH", url, headers, remove))
            results.setdefault(f"GET excludedAttributes=members / {name}", []).append(
                timed(client, "GET", url + "?excludedAttributes=members", headers))
        results.setdefault("GET 5,000-member group in full", []).append(
            timed(client, "GET", f"/scim/v2/Groups/{world['groups']['read']}", headers))
    app.extensions["scim_engine"].dispose()
    return {k: statistics.median(v) for k, v in results.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--big", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--engines", default="sqlite,postgresql")
    args = parser.parse_args()
    assert args.runs * 100 <= 500 and 500 + args.runs * 70 + 100 <= 1000, "too many runs for the spare users"
    with tempfile.TemporaryDirectory() as tmp:
        for engine in args.engines.split(","):
            cluster = None
            if engine == "postgresql":
                from tests.pgcluster import PgCluster

                cluster = PgCluster()
                cluster.start()
                cluster.create_database("membership")
                url = cluster.url("membership")
            else:
                url = f"sqlite:///{Path(tmp) / 'membership.db'}"
            try:
                medians = run(url, args.big, args.runs)
            finally:
                if cluster is not None:
                    cluster.stop()
            print(f"\n{engine}: group of 100 vs group of {args.big:,} (median of {args.runs}, ms)")
            for op in ("add 100", "remove 1", "GET excludedAttributes=members"):
                small, large = medians[f"{op} / small"], medians[f"{op} / big"]
                print(f"  {op:32} {small:8.1f} {large:8.1f}   ratio big/small {large / small:5.2f}")
            print(f"  {'GET 5,000-member group in full':32} {medians['GET 5,000-member group in full']:8.1f}")


if __name__ == "__main__":
    main()
