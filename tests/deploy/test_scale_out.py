"""Scale-out: two stateless gunicorn instances on one PostgreSQL behave as one server.

Concurrent creates of one userName through both give exactly one 201 and 409 for the rest;
concurrent membership PATCHes through both lose no member (issue 6, deploy/README.md).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.postgres

BIN = Path(sys.executable).parent
START_TIMEOUT = 45.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _call(method: str, url: str, token: str, body: Any = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={  # noqa: S310
        "Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (loopback)
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        return exc.code, json.loads(raw) if raw else None


@pytest.fixture
def two_instances(pg_url: str, tmp_path: Path) -> Iterator[tuple[list[str], str]]:
    env = {**os.environ, "SCIM_DATABASE_URL": pg_url, "SCIM_SECRET_KEY": "scale-out-secret-0123456789",
           "SCIM_WORKERS": "2", "SCIM_THREADS": "4"}
    init = subprocess.run([str(BIN / "scim-server"), "init", "--account", "acme", "--domain",
                           "acme.example", "--json"], env=env, capture_output=True, text=True,
                          timeout=60, check=True)
    token = json.loads(init.stdout)["scim_token"]
    procs: list[subprocess.Popen[bytes]] = []
    bases: list[str] = []
    try:
        for n in range(2):
            port = _free_port()
            log = (tmp_path / f"server{n}.log").open("wb")
            procs.append(subprocess.Popen(  # noqa: S603
                [str(BIN / "scim-server"), "serve", "--host", "127.0.0.1", "--port", str(port)],
                env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
            bases.append(f"http://127.0.0.1:{port}")
        for base, proc in zip(bases, procs, strict=True):
            deadline = time.monotonic() + START_TIMEOUT
            while True:
                assert proc.poll() is None, (tmp_path / "server0.log").read_text()[-3000:]
                try:
                    with urllib.request.urlopen(base + "/healthz", timeout=2) as response:  # noqa: S310
                        if response.status == 200:
                            break
                except (urllib.error.URLError, ConnectionError, TimeoutError):
                    pass
                assert time.monotonic() < deadline, f"{base} did not start"
                time.sleep(0.2)
        yield [b + "/scim/v2" for b in bases], token
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


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
