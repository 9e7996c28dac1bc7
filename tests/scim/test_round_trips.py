"""What each kind of SCIM request costs in statements, on both engines (issue: the data path).

Round trips are deterministic where time is not: each request kind is held at or under the
number of statements stated here, counted with SQLAlchemy's cursor events, so a change that
adds a round trip fails CI. BEGIN (SQLite's, which our engine sends itself) is not counted;
on PostgreSQL a read must run in autocommit (no BEGIN, no COMMIT), a write in one
transaction begun after the token was read.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event, text

from scim_server.db import make_session_factory
from tests.scim.conftest import GROUP_SCHEMA, Account, ScimClient, patch_body, user_body


@dataclass
class Trips:
    statements: list[str] = field(default_factory=list)
    autocommit: list[bool] = field(default_factory=list)

    def __call__(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.split(None, 1)[0].upper() in ("BEGIN", "PRAGMA"):
            return
        self.statements.append(statement)
        self.autocommit.append(bool(getattr(conn.connection.dbapi_connection, "autocommit", False)))

    def clear(self) -> None:
        self.statements.clear()
        self.autocommit.clear()


@pytest.fixture
def trips(app: Flask) -> Iterator[Trips]:
    engine = app.extensions["scim_engine"]
    log = Trips()
    event.listen(engine, "before_cursor_execute", log)
    yield log
    event.remove(engine, "before_cursor_execute", log)


@pytest.fixture
def world(app: Flask, account: Account, scim: ScimClient) -> dict[str, str]:
    ids = {}
    for name in ("ada", "bob", "cyd"):
        ids[name] = scim.post("/Users", user_body(f"{name}@acme.example")).get_json()["id"]
    group = scim.post("/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "Team",
                                  "members": [{"value": ids["ada"]}]})
    ids["team"] = group.get_json()["id"]
    # The token's last use is now recorded: it is written at most once a minute.
    with make_session_factory(app.extensions["scim_engine"])() as session:
        session.execute(text("UPDATE credentials SET last_used_at = CURRENT_TIMESTAMP"))
        session.commit()
    scim.get("/ServiceProviderConfig")
    return ids


# (name, method, path or path template, body, most statements, reads only). A write's events
# take their positions in its last statement, the UPDATE of the account row (its counts, or
# the events' position alone): on PostgreSQL that statement also inserts the events (one
# statement, two data-modifying CTEs), so events cost a write no round trip; SQLite inserts
# them with a statement of its own (an in-process call: not a round trip), counted in
# SQLITE_EVENTS.
SQLITE_EVENTS = 1
REQUESTS = [
    ("userName lookup", "GET", '/Users?filter=userName eq "bob@acme.example"', None, 2, True),
    ("emails lookup", "GET", '/Users?filter=emails[type eq "work"].value eq "bob@acme.example"',
     None, 2, True),
    ("GET user by id", "GET", "/Users/{bob}", None, 2, True),
    ("page of users by index", "GET", "/Users?startIndex=2&count=2", None, 2, True),
    ("page of users by cursor", "GET", "/Users?count=2&cursor", None, 2, True),
    ("GET group by id", "GET", "/Groups/{team}", None, 3, True),
    # auth, INSERT user, INSERT emails, INSERT audit, UPDATE account counts (+ events)
    ("POST user", "POST", "/Users", user_body("dee@acme.example"), 5, False),
    # auth, SELECT user, UPDATE user, EXISTS owned resources, INSERT audit, UPDATE account
    # counts (+ events)
    ("PATCH active=false", "PATCH", "/Users/{cyd}",
     patch_body({"op": "replace", "path": "active", "value": False}), 6, False),
    # auth, SELECT user, UPDATE user, INSERT audit, UPDATE account position (+ events)
    ("PATCH displayName", "PATCH", "/Users/{bob}",
     patch_body({"op": "replace", "path": "displayName", "value": "Bobby"}), 5, False),
    # auth, SELECT user, UPDATE user, INSERT audit, UPDATE account position (+ events)
    ("PUT user", "PUT", "/Users/{bob}", user_body("bob@acme.example", title="Boss"), 5, False),
    # auth, SELECT group, UPDATE group version, resolve ids, rows present, INSERT rows, audit,
    # UPDATE account position (+ events)
    ("membership PATCH", "PATCH", "/Groups/{team}",
     patch_body({"op": "add", "path": "members", "value": [{"value": "{bob}"}]}), 8, False),
]


@pytest.mark.parametrize(("name", "method", "path", "body", "most", "reads"), REQUESTS,
                         ids=[r[0] for r in REQUESTS])
def test_statements_per_request(
    database_url: str, world: dict[str, str], scim: ScimClient, trips: Trips,
    name: str, method: str, path: str, body: Any, most: int, reads: bool,
) -> None:
    body = _fill(body, world)
    trips.clear()
    response = scim.request(method, path.format(**world), body)
    assert response.status_code < 300, response.get_json()
    if database_url.startswith("sqlite") and not reads:
        most += SQLITE_EVENTS
    assert len(trips.statements) <= most, "\n".join(trips.statements)
    if database_url.startswith("postgresql"):
        # The token is read before a write's transaction begins; a read has no transaction.
        assert trips.autocommit[0]
        assert all(trips.autocommit) if reads else not any(trips.autocommit[1:])


def test_an_unfiltered_page_counts_no_user(world: dict[str, str], scim: ScimClient,
                                           trips: Trips) -> None:
    """The total of an unfiltered list is the count kept on the account row."""
    trips.clear()
    page = scim.get("/Users?count=1").get_json()
    assert page["totalResults"] == 4  # the account's Admin and the three users
    assert not any("count(" in s.lower() for s in trips.statements), trips.statements


def test_a_write_settles_the_counts_last(database_url: str, world: dict[str, str],
                                         scim: ScimClient, trips: Trips) -> None:
    """The account row is locked by the conditional UPDATE of its counts, the write's last
    statement: held for one round trip, not from the first rule check to COMMIT. The events
    take their positions there (in commit order: the lock is held until the COMMIT), and are
    inserted by the same statement (PostgreSQL) or right after it (SQLite)."""
    trips.clear()
    assert scim.post("/Users", user_body("eve@acme.example")).status_code == 201
    settling = [s.lstrip().upper() for s in trips.statements]
    if database_url.startswith("postgresql"):
        last = settling[-1]
        assert last.startswith("WITH TAKEN AS") and "(UPDATE ACCOUNTS SET OPERATORS_USED" in last
        assert "EVENT_POSITION" in last and "INSERT INTO EVENTS" in last
    else:
        assert settling[-2].startswith("UPDATE ACCOUNTS SET OPERATORS_USED")
        assert "EVENT_POSITION" in settling[-2]
        assert settling[-1].startswith("INSERT INTO EVENTS")
    assert sum("UPDATE ACCOUNTS" in s for s in settling) == 1
    assert not any("FOR UPDATE" in s for s in settling)


def _fill(body: Any, ids: dict[str, str]) -> Any:
    if isinstance(body, dict):
        return {k: _fill(v, ids) for k, v in body.items()}
    if isinstance(body, list):
        return [_fill(v, ids) for v in body]
    if isinstance(body, str) and body.startswith("{") and body.endswith("}"):
        return ids.get(body[1:-1], body)
    return body
