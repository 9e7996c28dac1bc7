"""Concurrent writes through two instances on one PostgreSQL: what a correct server must answer.

Each race sends N requests that alternate between the two instances and are released together
(a barrier), then asserts the exact outcome:

- the same If-Match (or a bulk operation's ``version``, RFC 7644 §3.7) on N writes of one
  resource: exactly one succeeds, the others get 412 (RFC 7644 §3.14);
- writes without If-Match: all succeed and none is lost;
- plan limits (seats, operators): exactly as many creates succeed as the plan has room for, the
  rest get 409 with the rule id, and the account's counts match the users.

``test_each_shape_alone`` checks every request shape once, without concurrency, so that a
failing race shows a server behaviour under concurrency, not a malformed request.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import psycopg
import pytest

from tests.deploy.conftest import FreshAccount, _call

pytestmark = pytest.mark.postgres

T = TypeVar("T")

N = 10
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
GROUP_PATCHED = (200, 204)  # a Group PATCH answers 204, or 200 with the resource


def race(n: int, send: Callable[[int], T]) -> list[T]:
    """Run ``send(0..n-1)`` on n threads released together; results in order of ``i``."""
    barrier = threading.Barrier(n)

    def released(i: int) -> T:
        barrier.wait(timeout=30)
        return send(i)

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(released, range(n)))


def tally(statuses: list[Any], after: str = "") -> str:
    """An assertion message: how many of each status, each in order of request, and what the
    resource holds afterwards."""
    message = f"{dict(Counter(statuses))} in order {statuses}"
    return f"{message}; afterwards {after}" if after else message


def base(acct: FreshAccount, i: int) -> str:
    """Request i goes to instance i % 2."""
    return acct.bases[i % 2]


def patch_body(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


def create_user(acct: FreshAccount, local: str, **attributes: Any) -> str:
    status, body = _call("POST", f"{acct.bases[0]}/Users", acct.token, {
        "schemas": [USER], "userName": f"{local}@{acct.domain}", **attributes})
    assert status == 201, body
    return str(body["id"])


def create_group(acct: FreshAccount, name: str) -> str:
    status, body = _call("POST", f"{acct.bases[1]}/Groups", acct.token,
                         {"schemas": [GROUP], "displayName": name})
    assert status == 201, body
    return str(body["id"])


def read(acct: FreshAccount, path: str) -> tuple[dict[str, Any], str]:
    """A resource and its ETag."""
    status, body, headers = _call("GET", f"{acct.bases[0]}{path}", acct.token, with_headers=True)
    assert status == 200, body
    assert headers["ETag"], headers
    return body, headers["ETag"]


def bulk_patch(path: str, version: str, *operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [BULK_REQUEST], "Operations": [
        {"method": "PATCH", "path": path, "version": version, "data": patch_body(*operations)}]}


def account_counts(acct: FreshAccount) -> dict[str, int]:
    """The account's limits and kept counts, and the real counts of its users."""
    with psycopg.connect(acct.conninfo) as conn:
        row = conn.execute(
            "SELECT seats_limit, paying_active, operators_limit, operators_used,"
            " (SELECT count(*) FROM users u WHERE u.account_id = a.id AND u.status = 'active'"
            "  AND u.user_type IN ('Admin', 'Member')),"
            " (SELECT count(*) FROM users u WHERE u.account_id = a.id AND u.status <> 'deleted')"
            " FROM accounts a WHERE a.id = %s", (acct.account_id,)).fetchone()
    assert row is not None
    keys = ("seats_limit", "paying_active", "operators_limit", "operators_used",
            "real_paying_active", "real_operators")
    return dict(zip(keys, (int(v) for v in row), strict=True))


def set_plan(acct: FreshAccount, assignment: str) -> None:
    with psycopg.connect(acct.conninfo) as conn:
        conn.execute(f"UPDATE accounts SET {assignment} WHERE id = %s",  # noqa: S608 (constants)
                     (acct.account_id,))


# -- the control: every shape, once, without concurrency ---------------------------------------


def test_each_shape_alone(fresh_account: FreshAccount) -> None:
    acct = fresh_account
    uid = create_user(acct, "solo", userType="Member", active=True)
    _, etag = read(acct, f"/Users/{uid}")
    replace_title = {"op": "replace", "path": "title", "value": "Solo"}
    status, body, headers = _call("PATCH", f"{acct.bases[1]}/Users/{uid}", acct.token,
                                  patch_body(replace_title), headers={"If-Match": etag},
                                  with_headers=True)
    assert status == 200 and body["title"] == "Solo", body
    assert headers["ETag"] != etag
    status, body = _call("PATCH", f"{acct.bases[0]}/Users/{uid}", acct.token,
                         patch_body(replace_title), headers={"If-Match": etag})
    assert status == 412, body  # the stale ETag
    status, body = _call("PATCH", f"{acct.bases[1]}/Users/{uid}", acct.token, patch_body(
        {"op": "add", "path": "phoneNumbers", "value": [{"value": "+1 555 000 0", "type": "work"}]}))
    assert status == 200 and body["phoneNumbers"] == [{"value": "+1 555 000 0", "type": "work"}]

    gid = create_group(acct, "Solo")
    _, etag = read(acct, f"/Groups/{gid}")
    status, body = _call("PATCH", f"{acct.bases[0]}/Groups/{gid}", acct.token, patch_body(
        {"op": "replace", "path": "displayName", "value": "Solo 2"}), headers={"If-Match": etag})
    assert status in GROUP_PATCHED, body
    _, etag = read(acct, f"/Groups/{gid}")
    status, body = _call("PATCH", f"{acct.bases[1]}/Groups/{gid}", acct.token, patch_body(
        {"op": "add", "path": "members", "value": [{"value": uid}]}), headers={"If-Match": etag})
    assert status in GROUP_PATCHED, body
    other = create_user(acct, "solo2")
    status, body = _call("PATCH", f"{acct.bases[0]}/Groups/{gid}", acct.token, patch_body(
        {"op": "add", "path": "members", "value": [{"value": other}]},
        {"op": "replace", "path": "displayName", "value": "Solo 3"}))
    assert status in GROUP_PATCHED, body
    group, _ = read(acct, f"/Groups/{gid}")
    assert group["displayName"] == "Solo 3"
    assert {m["value"] for m in group["members"]} == {uid, other}

    _, etag = read(acct, f"/Users/{uid}")
    for expected in ("200", "412"):  # the second carries a stale version
        status, body = _call("POST", f"{acct.bases[1]}/Bulk", acct.token, bulk_patch(
            f"/Users/{uid}", etag, {"op": "replace", "path": "title", "value": f"Bulk {expected}"}))
        assert status == 200, body
        assert [op["status"] for op in body["Operations"]] == [expected], body

    set_plan(acct, "seats_limit = paying_active + 1, operators_limit = operators_used + 2")
    assert create_user(acct, "paying", userType="Member", active=True)
    status, body = _call("POST", f"{acct.bases[0]}/Users", acct.token, {
        "schemas": [USER], "userName": f"paying2@{acct.domain}", "userType": "Member",
        "active": True})
    assert status == 409 and body["detail"].startswith("seats.exceeded"), body
    assert create_user(acct, "viewer", userType="Viewer", active=True)
    status, body = _call("POST", f"{acct.bases[1]}/Users", acct.token, {
        "schemas": [USER], "userName": f"viewer2@{acct.domain}", "userType": "Viewer",
        "active": True})
    assert status == 409 and body["detail"].startswith("operators.limit"), body


# -- 1. users: If-Match, and no lost update without it -----------------------------------------


def test_user_patches_with_same_if_match_one_wins(fresh_account: FreshAccount) -> None:
    acct = fresh_account
    uid = create_user(acct, "target", userType="Member", active=True)
    _, etag = read(acct, f"/Users/{uid}")

    def send(i: int) -> tuple[int, Any, Any]:
        return _call("PATCH", f"{base(acct, i)}/Users/{uid}", acct.token,
                     patch_body({"op": "replace", "path": "title", "value": f"Title {i}"}),
                     headers={"If-Match": etag}, with_headers=True)

    results = race(N, send)
    statuses = [r[0] for r in results]
    assert Counter(statuses) == {200: 1, 412: N - 1}, tally(statuses)
    winner = statuses.index(200)
    final, final_etag = read(acct, f"/Users/{uid}")
    assert final["title"] == f"Title {winner}"
    assert final_etag == results[winner][2]["ETag"] != etag


def test_user_puts_with_and_without_if_match(fresh_account: FreshAccount) -> None:
    """PUT replaces the resource read again after a lost race (RFC 7644 §3.5.1): without
    If-Match every PUT succeeds, one of them last; with the same If-Match exactly one does."""
    acct = fresh_account
    uid = create_user(acct, "replaced", userType="Member", active=True)

    def body(i: int) -> dict[str, Any]:
        return {"schemas": [USER], "userName": f"replaced@{acct.domain}", "userType": "Member",
                "active": True, "title": f"Title {i}"}

    statuses = race(N, lambda i: _call("PUT", f"{base(acct, i)}/Users/{uid}", acct.token,
                                       body(i))[0])
    final, etag = read(acct, f"/Users/{uid}")
    assert statuses == [200] * N, tally(statuses, final.get("title", ""))
    assert final["title"] in {f"Title {i}" for i in range(N)}
    assert final["meta"]["version"] == f'W/"{N + 1}"'  # every PUT wrote a version of its own

    statuses = race(N, lambda i: _call("PUT", f"{base(acct, i)}/Users/{uid}", acct.token,
                                       body(N + i), headers={"If-Match": etag})[0])
    assert Counter(statuses) == {200: 1, 412: N - 1}, tally(statuses)


def test_user_patches_without_if_match_lose_no_entry(fresh_account: FreshAccount) -> None:
    acct = fresh_account
    uid = create_user(acct, "phones", userType="Member", active=True)
    sent = [f"+1 555 000 {i}" for i in range(N)]

    def send(i: int) -> int:
        return _call("PATCH", f"{base(acct, i)}/Users/{uid}", acct.token, patch_body(
            {"op": "add", "path": "phoneNumbers", "value": [{"value": sent[i], "type": "work"}]}))[0]

    statuses = race(N, send)
    final, _ = read(acct, f"/Users/{uid}")
    kept = sorted(p["value"] for p in final.get("phoneNumbers", []))
    assert statuses == [200] * N, tally(statuses, f"{len(kept)} of {N} numbers present")
    assert kept == sorted(sent)


# -- 3. group renames ---------------------------------------------------------------------------


def test_group_renames_with_same_if_match_one_wins(fresh_account: FreshAccount) -> None:
    acct = fresh_account
    gid = create_group(acct, "Renamed")
    _, etag = read(acct, f"/Groups/{gid}")

    def send(i: int) -> int:
        return _call("PATCH", f"{base(acct, i)}/Groups/{gid}", acct.token, patch_body(
            {"op": "replace", "path": "displayName", "value": f"Renamed {i}"}),
            headers={"If-Match": etag})[0]

    statuses = race(N, send)
    won = [i for i, s in enumerate(statuses) if s in GROUP_PATCHED]
    assert len(won) == 1 and statuses.count(412) == N - 1, tally(statuses)
    final, final_etag = read(acct, f"/Groups/{gid}")
    assert final["displayName"] == f"Renamed {won[0]}"
    assert final_etag != etag


def test_group_renames_without_if_match_all_succeed(fresh_account: FreshAccount) -> None:
    acct = fresh_account
    gid = create_group(acct, "Renamed")
    names = [f"Renamed {i}" for i in range(N)]

    def send(i: int) -> int:
        return _call("PATCH", f"{base(acct, i)}/Groups/{gid}", acct.token, patch_body(
            {"op": "replace", "path": "displayName", "value": names[i]}))[0]

    statuses = race(N, send)
    final, _ = read(acct, f"/Groups/{gid}")
    assert all(s in GROUP_PATCHED for s in statuses), tally(statuses, repr(final["displayName"]))
    assert final["displayName"] in names


# -- 4. group membership ------------------------------------------------------------------------


def test_membership_patches_with_same_if_match_one_wins(fresh_account: FreshAccount) -> None:
    acct = fresh_account
    users = [create_user(acct, f"member{i}") for i in range(N)]
    gid = create_group(acct, "Club")
    _, etag = read(acct, f"/Groups/{gid}")

    def send(i: int) -> int:
        return _call("PATCH", f"{base(acct, i)}/Groups/{gid}", acct.token, patch_body(
            {"op": "add", "path": "members", "value": [{"value": users[i]}]}),
            headers={"If-Match": etag})[0]

    statuses = race(N, send)
    won = [i for i, s in enumerate(statuses) if s in GROUP_PATCHED]
    final, _ = read(acct, f"/Groups/{gid}")
    members = [m["value"] for m in final.get("members", [])]
    assert len(won) == 1 and statuses.count(412) == N - 1, tally(
        statuses, f"{len(members)} members")
    assert members == [users[won[0]]]


@pytest.mark.parametrize("rename", [False, True], ids=["add", "add+rename"])
def test_membership_patches_without_if_match_lose_no_member(
    fresh_account: FreshAccount, rename: bool
) -> None:
    acct = fresh_account
    users = [create_user(acct, f"member{i}") for i in range(N)]
    gid = create_group(acct, "Club")
    names = [f"Club {i}" for i in range(N)]

    def send(i: int) -> int:
        ops: list[dict[str, Any]] = [{"op": "add", "path": "members", "value": [{"value": users[i]}]}]
        if rename:
            ops.append({"op": "replace", "path": "displayName", "value": names[i]})
        return _call("PATCH", f"{base(acct, i)}/Groups/{gid}", acct.token, patch_body(*ops))[0]

    statuses = race(N, send)
    final, _ = read(acct, f"/Groups/{gid}")
    members = sorted(m["value"] for m in final.get("members", []))
    assert all(s in GROUP_PATCHED for s in statuses), tally(
        statuses, f"{len(members)} of {N} members, name {final['displayName']!r}")
    assert members == sorted(users)
    assert final["displayName"] in (names if rename else ["Club"])


# -- 5. bulk: an operation's version is its If-Match ---------------------------------------------


def test_bulk_patches_with_same_version_one_wins(fresh_account: FreshAccount) -> None:
    acct = fresh_account
    uid = create_user(acct, "bulked", userType="Member", active=True)
    _, etag = read(acct, f"/Users/{uid}")

    def send(i: int) -> tuple[int, Any]:
        return _call("POST", f"{base(acct, i)}/Bulk", acct.token, bulk_patch(
            f"/Users/{uid}", etag, {"op": "replace", "path": "title", "value": f"Bulk {i}"}))

    results = race(N, send)
    assert [r[0] for r in results] == [200] * N, results
    op_statuses = [op["status"] for _, body in results for op in body["Operations"]]
    assert len(op_statuses) == N, results
    assert Counter(op_statuses) == {"200": 1, "412": N - 1}, tally(op_statuses)
    winner = next(i for i, (_, body) in enumerate(results)
                  if body["Operations"][0]["status"] == "200")
    final, _ = read(acct, f"/Users/{uid}")
    assert final["title"] == f"Bulk {winner}"


# -- 6. plan limits -----------------------------------------------------------------------------


def _creates(acct: FreshAccount, n: int, user_type: str) -> list[tuple[int, Any]]:
    def send(i: int) -> tuple[int, Any]:
        return _call("POST", f"{base(acct, i)}/Users", acct.token, {
            "schemas": [USER], "userName": f"{user_type.lower()}{i}@{acct.domain}",
            "userType": user_type, "active": True})
    return race(n, send)


def test_seats_race_takes_exactly_the_free_seats(fresh_account: FreshAccount) -> None:
    acct = fresh_account
    set_plan(acct, "seats_limit = paying_active + 3")
    results = _creates(acct, 20, "Member")
    statuses = [s for s, _ in results]
    assert Counter(statuses) == {201: 3, 409: 17}, tally(statuses)
    refused = [body.get("detail", "") for s, body in results if s == 409]
    assert all(d.startswith("seats.exceeded") for d in refused), refused
    counts = account_counts(acct)
    assert counts["paying_active"] == counts["seats_limit"] == counts["real_paying_active"], counts


def test_operators_race_takes_exactly_the_free_places(fresh_account: FreshAccount) -> None:
    acct = fresh_account
    set_plan(acct, "operators_limit = operators_used + 2")
    results = _creates(acct, N, "Viewer")
    statuses = [s for s, _ in results]
    assert Counter(statuses) == {201: 2, 409: N - 2}, tally(statuses)
    refused = [body.get("detail", "") for s, body in results if s == 409]
    assert all(d.startswith("operators.limit") for d in refused), refused
    counts = account_counts(acct)
    assert counts["operators_used"] == counts["operators_limit"] == counts["real_operators"], counts
