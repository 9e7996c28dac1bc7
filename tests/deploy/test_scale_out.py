"""Scale-out: two stateless gunicorn instances on one PostgreSQL behave as one server.

Concurrent creates of one userName through both give exactly one 201 and 409 for the rest;
concurrent membership PATCHes through both lose no member (issue 6, deploy/README.md).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.deploy.conftest import _call

pytestmark = pytest.mark.postgres


def test_concurrent_creates_of_one_userName_give_one_201(two_instances: tuple[list[str], str]) -> None:
    bases, token = two_instances
    body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "Race@acme.example",
            "emails": [{"value": "race@acme.example", "type": "work", "primary": True}]}

    def create(n: int) -> int:
        # Alternate instances, and vary the case: uniqueness is case-insensitive.
        sent = {**body, "userName": body["userName"].upper() if n % 3 else body["userName"]}
        return _call("POST", f"{bases[n % 2]}/Users", token, sent)[0]

    with ThreadPoolExecutor(max_workers=12) as pool:
        statuses = list(pool.map(create, range(24)))
    assert statuses.count(201) == 1, statuses
    assert statuses.count(409) == 23, statuses
    status, found = _call("GET", f"{bases[0]}/Users?filter=userName%20eq%20%22race@acme.example%22",
                          token)
    assert status == 200 and found["totalResults"] == 1


def test_concurrent_membership_patches_lose_no_member(two_instances: tuple[list[str], str]) -> None:
    bases, token = two_instances
    bulk = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": [
        {"method": "POST", "path": "/Users", "bulkId": f"u{n}", "data": {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": f"m{n}@acme.example"}}
        for n in range(120)]}
    status, result = _call("POST", f"{bases[0]}/Bulk", token, bulk)
    assert status == 200
    ids = [op["location"].rsplit("/", 1)[1] for op in result["Operations"] if op["status"] == "201"]
    assert len(ids) == 120
    status, group = _call("POST", f"{bases[1]}/Groups", token, {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Crowd",
        "members": [{"value": i} for i in ids[100:]]})
    assert status == 201

    def patch(batch: int) -> int:
        chunk = ids[batch * 10:(batch + 1) * 10]
        ops = [{"op": "add", "path": "members", "value": [{"value": i} for i in chunk]}]
        if batch < 2:  # two batches also remove members added at creation
            ops.append({"op": "remove", "path": f'members[value eq "{ids[100 + batch]}"]'})
        return _call("PATCH", f"{bases[batch % 2]}/Groups/{group['id']}", token, {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})[0]

    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = list(pool.map(patch, range(10)))
    assert set(statuses) == {204}, statuses
    status, final = _call("GET", f"{bases[0]}/Groups/{group['id']}", token)
    assert status == 200
    expected = set(ids[:100]) | set(ids[102:])
    assert {m["value"] for m in final["members"]} == expected
