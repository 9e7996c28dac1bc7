"""One account must not stall the others. A long transaction holds one account's row (``SELECT
... FOR UPDATE``): that account's writes give up after the lock timeout with 503, those past the
account's cap on requests in flight get 429 at once, and meanwhile another account's reads and
``/healthz`` keep answering within a second. On a real gunicorn gthread worker (one
worker, 4 threads), so the threads are as scarce as in production."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.faults.conftest import SCIM_ERROR, SECRET, Tenant, add_tenant, user_body

pytestmark = pytest.mark.postgres

BIN = Path(sys.executable).parent
THREADS = 4
# Longer than the second the other account may wait: without the cap, the locked account's
# writers would hold every thread for that long, and the test would see it.
LOCK_TIMEOUT = 2.0
WRITERS = 6  # more than the worker has threads


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any
    headers: Any
    seconds: float


def call(method: str, url: str, token: str | None = None, body: Any = None, *,
         timeout: float = 10.0) -> Answer:
    headers = {"Content-Type": "application/scim+json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (loopback)
            status, raw, got = response.status, response.read(), response.headers
    except urllib.error.HTTPError as exc:
        status, raw, got = exc.code, exc.read(), exc.headers
    return Answer(status, json.loads(raw) if raw else None, got, time.monotonic() - started)


def _free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server(pg_url: str, tmp_path: Path) -> Iterator[str]:
    """``scim-server serve`` with one gthread worker on 127.0.0.1: its base URL."""
    port = _free_port()
    env = {**os.environ, "SCIM_DATABASE_URL": pg_url, "SCIM_SECRET_KEY": SECRET,
           "SCIM_THREADS": str(THREADS), "SCIM_DB_LOCK_TIMEOUT": str(LOCK_TIMEOUT)}
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(  # noqa: S603
            [str(BIN / "scim-server"), "serve", "--host", "127.0.0.1", "--port", str(port),
             "--workers", "1"],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 45
        while True:
            assert proc.poll() is None, log_path.read_text()[-3000:]
            try:
                if call("GET", base + "/healthz", timeout=2).status == 200:
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.1)
        yield base
    finally:
        # Nothing to finish and the database is dropped next: gunicorn's graceful shutdown
        # would only cost seconds of waiting.
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.fixture
def tenants(pg_url: str) -> tuple[Tenant, Tenant]:
    return add_tenant(pg_url, "locked"), add_tenant(pg_url, "other")


def test_a_locked_account_does_not_stall_the_others(
    pg_url: str, tenants: tuple[Tenant, Tenant], server: str
) -> None:
    locked, other = tenants
    scim = server + "/scim/v2"
    for tenant in tenants:  # warm the worker: connections, first use of each token
        assert call("GET", scim + "/Users", tenant.scim_token).status == 200

    holder = psycopg.connect(pg_url.replace("postgresql+psycopg://", "postgresql://"))
    try:
        holder.execute("SELECT id FROM accounts WHERE id = %s FOR UPDATE", (locked.id,))
        with ThreadPoolExecutor(max_workers=WRITERS) as pool:
            writes = [pool.submit(call, "POST", scim + "/Users", locked.scim_token,
                                  user_body(f"w{i}@{locked.domain}")) for i in range(WRITERS)]
            time.sleep(0.3)  # the writers are in the worker's threads, waiting for the lock
            assert not all(w.done() for w in writes)
            others = []
            for _ in range(3):
                others.append(call("GET", scim + "/Users", other.scim_token, timeout=5))
                others.append(call("GET", server + "/healthz", timeout=5))
            answers = [w.result() for w in writes]
    finally:
        holder.rollback()
        holder.close()

    for answer in others:
        assert answer.status == 200, answer
        assert answer.seconds < 1.0, answer
    statuses = Counter(a.status for a in answers)
    assert set(statuses) <= {429, 503} and statuses[429] and statuses[503], answers
    for answer in answers:
        assert answer.body["schemas"] == [SCIM_ERROR], answer
        assert answer.body["status"] == str(answer.status), answer
        assert int(answer.headers["Retry-After"]) >= 1, answer
        if answer.status == 503:  # gave up after the lock timeout, not long after
            assert LOCK_TIMEOUT * 0.9 <= answer.seconds < LOCK_TIMEOUT + 2, answer
        else:  # refused at once, without waiting for the lock
            assert answer.seconds < 0.5, answer

    # The lock released, the account writes again.
    assert call("POST", scim + "/Users", locked.scim_token,
                user_body(f"after@{locked.domain}")).status == 201
