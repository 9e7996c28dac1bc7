"""`scim-server serve` on the embedded default (SQLite) runs one webhook worker beside
gunicorn, so the README's one command delivers webhooks; `--no-worker` runs none."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.scim.conftest import user_body
from tests.webhooks.conftest import SECRET_KEY, Receiver, verified

BIN = Path(sys.executable).parent


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _call(method: str, url: str, token: str, body: Any, content_type: str) -> Any:
    request = urllib.request.Request(url, method=method, data=json.dumps(body).encode(),  # noqa: S310
                                     headers={"Authorization": f"Bearer {token}",
                                              "Content-Type": content_type})
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
        return json.loads(answer.read() or b"null")


def _workers_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmd = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"worker" in cmd and b"--parent-pid" in cmd and str(pid).encode() in cmd:
                found.append(int(entry.name))
    return found


@contextmanager
def _serve(tmp_path: Path, *extra: str,
           secret_key: str | None = SECRET_KEY) -> Iterator[tuple[str, dict[str, str], int]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCIM_")}
    env.update({"SCIM_DATABASE_URL": f"sqlite:///{tmp_path / 'scim.db'}",
                "SCIM_WEBHOOK_ALLOW_PRIVATE": "true",
                "SCIM_WEBHOOK_POLL_INTERVAL": "0.1", "SCIM_WORKERS": "1"})
    if secret_key is not None:
        env["SCIM_SECRET_KEY"] = secret_key
    port = _free_port()
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen([str(BIN / "scim-server"), "serve", "--port", str(port), *extra],  # noqa: S603
                            env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 45
        while True:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=2):  # noqa: S310
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)
        yield base, env, proc.pid
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def test_serve_delivers_webhooks_with_its_own_worker(tmp_path: Path,
                                                      receiver: Receiver) -> None:
    with _serve(tmp_path) as (base, env, pid):
        assert len(_workers_of(pid)) == 1
        made = subprocess.run([str(BIN / "scim-server"), "token", "create", "--account",
                               "default", "--kind", "api", "--json"], env=env,
                              capture_output=True, text=True, timeout=60, check=True)
        api = json.loads(made.stdout)["token"]
        scim = subprocess.run([str(BIN / "scim-server"), "token", "create", "--account",
                               "default", "--kind", "scim", "--json"], env=env,
                              capture_output=True, text=True, timeout=60, check=True)
        hook = _call("POST", base + "/api/v1/webhooks", api, {"url": receiver.url},
                     "application/json")
        created = _call("POST", base + "/scim/v2/Users", json.loads(scim.stdout)["token"],
                        user_body("new.hire@example.com"), "application/scim+json")
        receiver.wait_for(1, timeout=60)
        body = verified(hook["secret"], receiver.received[0])
        assert body["resource_id"] == created["id"]
    # Stopping the server stopped its worker.
    deadline = time.monotonic() + 30
    while _workers_of(pid):
        assert time.monotonic() < deadline, "the worker outlived the server"
        time.sleep(0.1)


def _tokens(env: dict[str, str]) -> tuple[str, str]:
    made = [subprocess.run([str(BIN / "scim-server"), "token", "create", "--account", "default",
                            "--kind", kind, "--json"], env=env, capture_output=True, text=True,
                           timeout=60, check=True) for kind in ("api", "scim")]
    return json.loads(made[0].stdout)["token"], json.loads(made[1].stdout)["token"]


def test_without_a_secret_key_a_restart_keeps_the_webhook_secrets(tmp_path: Path,
                                                                  receiver: Receiver) -> None:
    """The README's one command sets no SCIM_SECRET_KEY: serve keeps the one it makes beside
    the SQLite file (owner-only), so a webhook registered before a restart still signs."""
    with _serve(tmp_path, secret_key=None) as (base, env, _pid):
        api, scim = _tokens(env)
        hook = _call("POST", base + "/api/v1/webhooks", api, {"url": receiver.url},
                     "application/json")
    kept = tmp_path / "scim.db.secret-key"
    assert kept.stat().st_mode & 0o777 == 0o600
    with _serve(tmp_path, secret_key=None) as (base, env, _pid):
        created = _call("POST", base + "/scim/v2/Users", scim, user_body("after@example.com"),
                        "application/scim+json")
        receiver.wait_for(1, timeout=60)
        assert verified(hook["secret"], receiver.received[0])["resource_id"] == created["id"]


def test_no_worker_runs_none(tmp_path: Path) -> None:
    with _serve(tmp_path, "--no-worker") as (_base, _env, pid):
        assert _workers_of(pid) == []


def test_a_worker_without_the_server_key_refuses_to_start(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCIM_")}
    env["SCIM_DATABASE_URL"] = f"sqlite:///{tmp_path / 'scim.db'}"
    ran = subprocess.run([str(BIN / "scim-server"), "worker"], env=env, capture_output=True,
                         text=True, timeout=60)
    assert ran.returncode == 1
    assert "SCIM_SECRET_KEY must be set" in ran.stderr
