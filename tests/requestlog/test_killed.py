"""A killed server loses at most what its log buffer held; provisioning and the entries
already written are intact (a real `scim-server serve`, killed with SIGKILL)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

from tests.deploy.conftest import BIN, START_TIMEOUT, _call, _free_port, _init_account
from tests.scim.conftest import user_body


def _count(path: Path, sql: str) -> int:
    if not path.exists():
        return 0
    with sqlite3.connect(path) as connection:
        try:
            return int(connection.execute(sql).fetchone()[0])
        except sqlite3.OperationalError:
            return 0  # the writer has not made its tables yet


def _serve(sqlite_url: str, tmp_path: Path, flush_interval: str
           ) -> tuple[subprocess.Popen[bytes], str, str]:
    """A real `scim-server serve` (gunicorn, one worker): the process, its SCIM base URL and
    a SCIM token."""
    env = {**os.environ, "SCIM_DATABASE_URL": sqlite_url, "SCIM_WORKERS": "1",
           "SCIM_SECRET_KEY": "killed-secret-key-0123456789",
           "SCIM_REQUEST_LOG_FLUSH_INTERVAL": flush_interval, "SCIM_REQUEST_LOG_BUFFER": "1000"}
    token = str(_init_account(env, "acme", "acme.test")["scim_token"])
    port = _free_port()
    base = f"http://127.0.0.1:{port}/scim/v2"
    out = (tmp_path / "server.log").open("wb")
    proc = subprocess.Popen(  # noqa: S603
        [str(BIN / "scim-server"), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    out.close()
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if proc.poll() is not None:
            raise AssertionError((tmp_path / "server.log").read_text()[-3000:])
        try:
            status, _ = _call("GET", base + "/ServiceProviderConfig", token)
            if status == 200:
                return proc, base, token
        except OSError:
            pass
        if time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            raise AssertionError("the server did not start")
        time.sleep(0.2)


def _log_file(sqlite_url: str) -> tuple[Path, Path]:
    main = Path(sqlite_url.removeprefix("sqlite:///"))
    return main, main.with_name(main.stem + ".requests.db")


def test_an_orderly_stop_writes_the_buffer(sqlite_url: str, tmp_path: Path) -> None:
    _, log_file = _log_file(sqlite_url)
    # Never flushed by the clock: only the worker's exit can write these entries.
    proc, base, token = _serve(sqlite_url, tmp_path, "3600")
    try:
        for n in range(5):
            status, body = _call("POST", base + "/Users", token, user_body(f"c{n}@acme.test"))
            assert status == 201, body
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)
    assert _count(log_file, "SELECT count(*) FROM scim_requests WHERE method = 'POST'") == 5


def test_a_killed_server_loses_at_most_its_buffer(sqlite_url: str, tmp_path: Path) -> None:
    main, log_file = _log_file(sqlite_url)
    proc, base, token = _serve(sqlite_url, tmp_path, "0.2")
    sql = "SELECT count(*) FROM scim_requests WHERE method = 'POST'"
    try:
        for n in range(10):
            status, body = _call("POST", base + "/Users", token,
                                 user_body(f"a{n}@acme.test"))
            assert status == 201, body
        # The writer thread of the real worker writes them (polled: no timing asserted).
        deadline = time.monotonic() + 30
        while _count(log_file, sql) < 10:
            assert time.monotonic() < deadline, "the log writer wrote nothing"
            time.sleep(0.1)
        for n in range(5):
            status, body = _call("POST", base + "/Users", token,
                                 user_body(f"b{n}@acme.test"))
            assert status == 201, body
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    # At most the 5 requests still buffered are lost; what was written stays, readable.
    assert 10 <= _count(log_file, sql) <= 15
    with sqlite3.connect(log_file) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert _count(main, "SELECT count(*) FROM users WHERE user_name LIKE '%@acme.test' "
                        "AND user_type = 'Member'") == 15
