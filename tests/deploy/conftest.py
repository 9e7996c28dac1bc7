"""Shared fixtures of the deploy tests: two gunicorn instances (`scim-server serve`) on one
PostgreSQL database, and a small HTTP client for them (loopback only)."""

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
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.pgcluster import PgCluster

BIN = Path(sys.executable).parent
START_TIMEOUT = 45.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _call(method: str, url: str, token: str, body: Any = None, *,
          headers: Mapping[str, str] | None = None,
          with_headers: bool = False) -> Any:
    """One SCIM request: ``(status, body)``, or ``(status, body, response headers)`` with
    ``with_headers=True``. ``headers`` adds request headers (e.g. If-Match)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={  # noqa: S310
        "Authorization": f"Bearer {token}", "Content-Type": "application/scim+json",
        **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (loopback)
            status, raw, got = response.status, response.read(), response.headers
    except urllib.error.HTTPError as exc:
        status, raw, got = exc.code, exc.read(), exc.headers
    parsed = json.loads(raw) if raw else None
    if with_headers:
        return status, parsed, got
    return status, parsed


def _init_account(env: Mapping[str, str], name: str, domain: str) -> dict[str, Any]:
    """`scim-server init` of an account with one active Admin: what it prints (``account_id``,
    ``scim_token``, ...)."""
    init = subprocess.run([str(BIN / "scim-server"), "init", "--account", name, "--domain",
                           domain, "--json"], env=dict(env), capture_output=True, text=True,
                          timeout=60, check=True)
    return dict(json.loads(init.stdout))


def _server_env(pg_url: str) -> dict[str, str]:
    # These tests race up to a dozen requests of one account at once, which a worker would
    # partly refuse with 429 under the default cap (SCIM_THREADS - 1 per account): the cap is
    # lifted to the thread count here, and tested in tests/faults/test_fairness.py.
    return {**os.environ, "SCIM_DATABASE_URL": pg_url,
            "SCIM_SECRET_KEY": "scale-out-secret-0123456789",
            "SCIM_WORKERS": "2", "SCIM_THREADS": "4", "SCIM_ACCOUNT_MAX_IN_FLIGHT": "4"}


@contextmanager
def _serve_two(env: Mapping[str, str], log_dir: Path) -> Iterator[list[str]]:
    """Two `scim-server serve` instances on the database of ``env``: their SCIM base URLs."""
    procs: list[subprocess.Popen[bytes]] = []
    logs: list[Any] = []
    bases: list[str] = []
    try:
        for n in range(2):
            port = _free_port()
            log = (log_dir / f"server{n}.log").open("wb")
            logs.append(log)
            procs.append(subprocess.Popen(  # noqa: S603
                [str(BIN / "scim-server"), "serve", "--host", "127.0.0.1", "--port", str(port)],
                env=dict(env), stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
            bases.append(f"http://127.0.0.1:{port}")
        for n, (base, proc) in enumerate(zip(bases, procs, strict=True)):
            deadline = time.monotonic() + START_TIMEOUT
            while True:
                assert proc.poll() is None, (log_dir / f"server{n}.log").read_text()[-3000:]
                try:
                    with urllib.request.urlopen(base + "/healthz", timeout=2) as response:  # noqa: S310
                        if response.status == 200:
                            break
                except (urllib.error.URLError, ConnectionError, TimeoutError):
                    pass
                assert time.monotonic() < deadline, f"{base} did not start"
                time.sleep(0.2)
        yield [b + "/scim/v2" for b in bases]
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        for log in logs:
            log.close()


@pytest.fixture
def two_instances(pg_url: str, tmp_path: Path) -> Iterator[tuple[list[str], str]]:
    """Two `scim-server serve` instances on one fresh PostgreSQL database, with the account
    "acme" (domain acme.example) made by `init`: their SCIM base URLs and its SCIM token."""
    env = _server_env(pg_url)
    token = str(_init_account(env, "acme", "acme.example")["scim_token"])
    with _serve_two(env, tmp_path) as bases:
        yield bases, token


@dataclass(frozen=True)
class SharedInstances:
    """Two instances on one PostgreSQL database kept for a whole module."""

    bases: list[str]
    env: dict[str, str]
    conninfo: str  # for psycopg.connect, straight to the database the instances use


@dataclass(frozen=True)
class FreshAccount:
    bases: list[str]
    token: str
    account_id: str
    domain: str
    conninfo: str


@pytest.fixture(scope="module")
def shared_instances(pg_cluster: PgCluster, _pg_template: str,
                     tmp_path_factory: pytest.TempPathFactory) -> Iterator[SharedInstances]:
    """Like ``two_instances``, but started once per module on a database of its own; tests
    take a fresh account each (``fresh_account``) so they share no rows."""
    name = f"deploy_{uuid.uuid4().hex[:16]}"
    pg_cluster.create_database(name, template=_pg_template)
    try:
        env = _server_env(pg_cluster.url(name))
        # An account first: `serve` on a database without one bootstraps its own.
        _init_account(env, "acme", "acme.example")
        with _serve_two(env, tmp_path_factory.mktemp("instances")) as bases:
            yield SharedInstances(bases=bases, env=env, conninfo=pg_cluster.conninfo(name))
    finally:
        pg_cluster.drop_database(name)


@pytest.fixture
def fresh_account(shared_instances: SharedInstances) -> FreshAccount:
    """A new account (one active Admin, made by `init`) on the module's two instances."""
    name = f"a{uuid.uuid4().hex[:12]}"
    domain = f"{name}.example"
    made = _init_account(shared_instances.env, name, domain)
    return FreshAccount(bases=shared_instances.bases, token=str(made["scim_token"]),
                        account_id=str(made["account_id"]), domain=domain,
                        conninfo=shared_instances.conninfo)
