"""Start and stop the servers under test (ours, the reference, the trivial floor) and watch their memory."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
GUNICORN_CONF = ROOT / "deploy" / "gunicorn.conf.py"
HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def gunicorn_settings_args() -> list[str]:
    """The deployment's gunicorn settings, so that every server is served the same way."""
    return ["--config", str(GUNICORN_CONF)] if GUNICORN_CONF.exists() else []


def bench_env(*, root: Path = ROOT, **extra: str) -> dict[str, str]:
    """The environment of a server under test; ``root`` is the checkout it runs (another one
    for a side-by-side run against an earlier version)."""
    env = {**os.environ, **extra}
    # Worker recycling (max_requests) would hide a leak from the memory figure: off for the run.
    env["SCIM_MAX_REQUESTS"] = "0"
    env["PYTHONPATH"] = str(root) + os.pathsep + env.get("PYTHONPATH", "")
    return env


@dataclass
class MemoryWatch:
    """Samples the RSS of a process tree (gunicorn master + workers) until stopped."""

    pid: int
    interval: float = 0.25
    peak_total: int = 0
    peak_worker: int = 0
    last_workers: dict[int, int] = field(default_factory=dict)
    master_rss: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def sample(self) -> None:
        try:
            master = psutil.Process(self.pid)
            children = master.children(recursive=True)
            master_rss = master.memory_info().rss
        except psutil.Error:
            return
        workers: dict[int, int] = {}
        for child in children:
            try:
                workers[child.pid] = child.memory_info().rss
            except psutil.Error:
                continue
        self.master_rss = master_rss
        self.peak_total = max(self.peak_total, master_rss + sum(workers.values()))
        if workers:
            self.peak_worker = max(self.peak_worker, *workers.values())
            self.last_workers = workers

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self.sample()
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)


class Server:
    """One gunicorn tree started by the benchmark; stopped (and only it) at the end."""

    def __init__(
        self, name: str, argv: list[str], env: dict[str, str], port: int, ready_path: str,
        headers: dict[str, str], log_dir: Path,
    ) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self.port = port
        self.ready_path = ready_path
        self.headers = headers
        self.log_path = log_dir / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.memory: MemoryWatch | None = None

    def start(self, timeout: float = 90) -> None:
        log = self.log_path.open("wb")
        self.proc = subprocess.Popen(  # noqa: S603 - our own argv
            self.argv, env=self.env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        url = f"http://{HOST}:{self.port}{self.ready_path}"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited {self.proc.returncode}:\n{self.log_tail()}")
            try:
                req = urllib.request.Request(url, headers=self.headers)
                with urllib.request.urlopen(req, timeout=5) as resp:  # noqa: S310 - loopback
                    if resp.status == 200:
                        break
            except OSError:
                time.sleep(0.3)
        else:
            self.stop()
            raise RuntimeError(f"{self.name} not ready in {timeout}s:\n{self.log_tail()}")
        # Every worker must have booted before the memory baseline and the first phase.
        time.sleep(1.0)
        self.memory = MemoryWatch(self.proc.pid)
        self.memory.start()

    def stop(self) -> None:
        if self.memory:
            self.memory.stop()
        if self.proc and self.proc.poll() is None:
            # SIGTERM to the gunicorn master (our child): it stops its own workers.
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def worker_pids(self) -> list[int]:
        assert self.proc is not None
        return [c.pid for c in psutil.Process(self.proc.pid).children(recursive=True)]

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def scim_cli(env: dict[str, str], *args: str) -> dict[str, Any]:
    """Run ``scim-server ARGS --json`` and decode its answer."""
    result = subprocess.run(  # noqa: S603 - our own argv
        [str(BIN / "scim-server"), *args, "--json"], env=env, cwd=ROOT, capture_output=True,
        text=True, timeout=120, check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"scim-server {' '.join(args)}: {result.stderr.strip()}")
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def lift_seat_limits(database_url: str) -> None:
    """Plans cap seats and users (1,000 and 100,000 by default); the benchmark's accounts
    need room for N users and the POSTs after them.

    There is no CLI for plans, so the benchmark sets the limit in the database it owns.
    """
    from sqlalchemy import text

    from scim_server.db import make_engine

    engine = make_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE accounts SET seats_limit = 10000000, operators_limit = 10000000"))
    engine.dispose()


def our_server(database_url: str, workers: int, log_dir: Path, *,
               root: Path = ROOT) -> tuple[Server, dict[str, Any]]:
    """Our server on ``database_url`` with two accounts: ``bench`` (the big one) and ``small``;
    the code of ``root`` (this checkout unless another one is given)."""
    port = free_port()
    env = bench_env(
        root=root,
        SCIM_DATABASE_URL=database_url,
        SCIM_SECRET_KEY="bench-secret-key-0123456789abcdef",
        SCIM_BASE_URL=f"http://{HOST}:{port}",
        # One workers count for every server under gunicorn (see the table header).
        SCIM_WORKERS=str(workers),
        # The load is one account's 16 clients, which the production defaults would answer
        # with 429s: the limits stay on (their cost is measured) but are never reached.
        SCIM_RATE_LIMIT_PER_SECOND="1000000",
        SCIM_RATE_LIMIT_BURST="1000000",
        SCIM_ACCOUNT_MAX_IN_FLIGHT="64",
    )
    accounts = {
        name: scim_cli(env, "init", "--account", name, "--domain", domain)
        for name, domain in (("bench", "bench.example"), ("small", "small.example"))
    }
    lift_seat_limits(database_url)
    for name in accounts:
        accounts[name]["api_token"] = scim_cli(
            env, "token", "create", "--account", name, "--kind", "api"
        )["token"]
        accounts[name]["domain"] = f"{name}.example"
    argv = [str(BIN / "scim-server"), "serve", "--host", HOST, "--port", str(port),
            "--workers", str(workers)]
    headers = {"Authorization": f"Bearer {accounts['bench']['scim_token']}"}
    name = "ours" if root == ROOT else "ours-baseline"
    server = Server(name, argv, env, port, "/scim/v2/ServiceProviderConfig", headers, log_dir)
    return server, accounts


def reference_server(log_dir: Path) -> Server:
    """scim2-server's application in memory: one worker (its storage is per process)."""
    port = free_port()
    from bench.reference_app import TOKEN

    argv = [str(BIN / "gunicorn"), *gunicorn_settings_args(), "--bind", f"{HOST}:{port}",
            "--workers", "1", "bench.reference_app:app"]
    headers = {"Authorization": f"Bearer {TOKEN}"}
    return Server("reference", argv, bench_env(), port, "/v2/ServiceProviderConfig", headers,
                  log_dir)


def trivial_server(workers: int, log_dir: Path) -> Server:
    port = free_port()
    argv = [str(BIN / "gunicorn"), *gunicorn_settings_args(), "--bind", f"{HOST}:{port}",
            "--workers", str(workers), "bench.trivial_app:app"]
    return Server("trivial-flask", argv, bench_env(), port, "/ping", {}, log_dir)
