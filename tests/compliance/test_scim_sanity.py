"""scim-sanity's live probe against a real ``scim-server serve`` on loopback: every check passes.

The server runs under gunicorn exactly as a user starts it, on a fresh SQLite file; the token
comes from ``scim-server init --json``. Results are read as
``../shared/conformance/scim_sanity_runner.py`` reads them: ``pass`` passes, ``fail`` and
``error`` fail, ``warn`` entries are extra notes next to a pass or fail. A PATCH answered 204 is
counted as passed, because RFC 7644 §3.5.2 allows it and the probe does not.
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

BIN = Path(sys.executable).parent
START_TIMEOUT = 30.0
PROBE_TIMEOUT = 240


@dataclass
class LiveServer:
    base_url: str
    token: str
    log: Path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"scim-server serve exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (loopback)
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    pytest.fail(f"{url} not healthy after {START_TIMEOUT}s:\n{log.read_text()[-4000:]}")


@pytest.fixture
def live_server(sqlite_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    port = _free_port()
    env = {
        **os.environ,
        "SCIM_DATABASE_URL": sqlite_url,
        "SCIM_SECRET_KEY": "live-server-secret-0123456789",
        "SCIM_BASE_URL": f"http://127.0.0.1:{port}",
    }
    init = subprocess.run(
        [str(BIN / "scim-server"), "init", "--account", "probe", "--domain", "probe.example", "--json"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )
    assert init.returncode == 0, init.stderr
    credentials = json.loads(init.stdout.strip().splitlines()[-1])
    assert credentials["scim_base_url"] == f"http://127.0.0.1:{port}/scim/v2"

    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(BIN / "scim-server"), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
            env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        _wait_healthy(f"http://127.0.0.1:{port}/healthz", proc, log)
        yield LiveServer(credentials["scim_base_url"], credentials["scim_token"], log)
    finally:
        # SIGINT is gunicorn's quick shutdown (SIGTERM waits for the graceful timeout); the whole
        # session is killed if the arbiter does not stop.
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)


def _is_patch_204(result: dict[str, Any]) -> bool:
    """A failure whose only complaint is a PATCH answered 204 No Content (RFC 7644 §3.5.2 allows it)."""
    message = result.get("message", "")
    return (
        result.get("name", "").startswith("PATCH ")
        and "got 204" in message
        and all("204" in part or "Response body is empty" in part for part in message.split("; "))
    )


def test_every_scim_sanity_check_passes(live_server: LiveServer) -> None:
    proc = subprocess.run(
        [str(BIN / "scim-sanity"), "probe", live_server.base_url, "--token", live_server.token,
         "--i-accept-side-effects", "--json-output", "--timeout", "30"],
        capture_output=True, text=True, timeout=PROBE_TIMEOUT, check=False,
    )
    try:
        results = json.loads(proc.stdout)["results"]
    except (ValueError, KeyError):
        pytest.fail(f"scim-sanity exited {proc.returncode} without JSON results:\n"
                    f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")

    failures = []
    passed = 0
    for result in results:
        status = result["status"]
        if status in ("fail", "error") and not _is_patch_204(result):
            failures.append(f"[{result.get('phase', '')}] {result['name']}: {result.get('message', '')}")
        elif status in ("pass", "fail", "error"):
            passed += 1
    assert not failures, (
        f"{len(failures)} scim-sanity checks failed ({passed} passed):\n" + "\n".join(failures)
        + f"\n--- server log ---\n{live_server.log.read_text()[-3000:]}"
    )
    assert passed >= 20, f"too few checks ran: {passed}"
