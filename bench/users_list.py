"""The admin console's users list at 20,000 users: every sort, a first and a deep page.

``python -m bench.users_list [--users 20000] [--runs 5] [--database-url URL]`` seeds one account
(core inserts, deterministic) on a fresh SQLite file unless a database URL is given, signs in
through Flask's test client (the server's time without a socket) and prints the median time of
``GET /admin/users`` for each sort of the column headers, on the first page and on the tenth
(reached through the Next links, as an admin would), with the range the page shows.

Each page costs its keyset query (one index range per segment of the sort), one COUNT of the
filter, and the rendering of its rows; the deep page must cost what the first one does.
Measured on SQLite on the 2-core machine (issue 14, test client, no socket): 20-48 ms for
every sort, first page or tenth.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import re
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import insert, text

from scim_server.app import create_app
from scim_server.db import make_engine, make_session_factory
from scim_server.migrate import upgrade
from scim_server.security import hash_password
from scim_server.settings import Settings
from scim_server.storage.models import Account, User

NOW = dt.datetime(2025, 3, 31, 7, 30, tzinfo=dt.UTC)
PASSWORD = "users-list-bench-password"
SORTS = ("activity_desc", "name_asc", "name_desc", "type_asc", "type_desc", "status_asc",
         "status_desc")
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
NEXT = re.compile(r'href="([^"]+)"[^>]*data-testid="next-page"')
RANGE = re.compile(r'data-testid="users-range">([^<]+)<')


def seed(url: str, users: int) -> str:
    """The account's admin's email; user 4 is that active Admin."""
    rng = random.Random(users)  # noqa: S311 (ids for a benchmark)
    engine = make_engine(url)
    upgrade(engine)
    with make_session_factory(engine)() as session:
        account = Account(id=uuid.UUID(int=rng.getrandbits(128)).hex, name="users-bench",
                          domains=["bench.example"], guest_denylist=[], seats_limit=users,
                          operators_limit=users)
        session.add(account)
        session.flush()
        for start in range(0, users, 10_000):
            session.execute(insert(User), [
                {"id": uuid.UUID(int=rng.getrandbits(128)).hex, "account_id": account.id,
                 "user_name": f"u{n}@bench.example", "user_name_key": f"u{n}@bench.example",
                 "email": f"u{n}@bench.example",
                 # One in ten has no display name (an identity provider that sends none).
                 "display_name": f"User {n:05d}" if n % 10 else None,
                 "display_name_key": f"user {n:05d}" if n % 10 else None,
                 "user_type": ("Admin", "Member", "Viewer", "Guest")[n % 4] if n % 50 != 1
                 else "Member",
                 "status": "inactive" if n % 7 == 0 and n != 4 else
                 ("pending" if n % 97 == 0 else "active"),
                 "data": {}, "search": {}, "created_at": NOW, "modified_at": NOW, "version": 1,
                 "last_activity_at": NOW - dt.timedelta(minutes=n) if n % 3 else None,
                 "password_hash": hash_password(PASSWORD) if n == 4 else None}
                for n in range(start, min(start + 10_000, users))])
        session.commit()
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("CHECKPOINT"))
            conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()
    return "u4@bench.example"


def measure(url: str, email: str, runs: int) -> list[tuple[str, str, float, str]]:
    settings = Settings.from_env({}, database_url=url, secret_key="users-bench-secret-0123456789")
    app = create_app(settings)
    client = app.test_client()
    token = CSRF.search(client.get("/admin/login").get_data(as_text=True))
    assert token, "no CSRF token on the sign-in page"
    signed = client.post("/admin/login", data={"csrf_token": token.group(1), "email": email,
                                                "password": PASSWORD})
    assert signed.status_code == 302, signed.get_data(as_text=True)[:300]

    def timed(path: str) -> tuple[float, str]:
        times, body = [], ""
        for _ in range(runs):
            start = time.perf_counter()
            response = client.get(path)
            times.append(time.perf_counter() - start)
            assert response.status_code == 200, path
            body = response.get_data(as_text=True)
        return statistics.median(times) * 1000, body

    rows = []
    for sort in SORTS:
        first = f"/admin/users?sort={sort}"
        ms, body = timed(first)
        rows.append((sort, "1", ms, _range(body)))
        path = first
        for _ in range(9):
            link = NEXT.search(body)
            assert link, f"no next page after {path}"
            path = link.group(1).replace("&amp;", "&")
            body = client.get(path).get_data(as_text=True)
        ms, body = timed(path)
        rows.append((sort, "10", ms, _range(body)))
    return rows


def _range(body: str) -> str:
    found = RANGE.search(body)
    return found.group(1) if found else "?"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--database-url", help="an empty database (default: a SQLite file)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'users.db'}"
        email = seed(url, args.users)
        rows = measure(url, email, args.runs)
    print(f"\nGET /admin/users, {args.users:,} users, median of {args.runs} runs\n")
    print("| sort | page | median (ms) | range shown |")
    print("|---|---|---|---|")
    for sort, page, ms, shown in rows:
        print(f"| {sort} | {page} | {ms:.0f} | {shown} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
