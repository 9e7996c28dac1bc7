"""Real ``scim-server worker`` processes: one killed with SIGKILL mid-delivery loses nothing
(the next one delivers the event in flight again, then the rest, in order); SIGTERM stops after
the current delivery; two workers on PostgreSQL deliver every event exactly once per endpoint
(after dedup by webhook-id), in order."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from scim_server.settings import Settings
from tests.scim.conftest import user_body
from tests.webhooks.conftest import (
    FAST_SETTINGS,
    Received,
    Receiver,
    Setup,
    account_position,
    make_setup,
    register,
    verified,
    worker_env,
)


class Workers:
    def __init__(self, database_url: str) -> None:
        self.env = worker_env(database_url)
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen([sys.executable, "-m", "scim_server.cli", "worker"],
                                env=self.env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        self.procs.append(proc)
        return proc

    @staticmethod
    def wait_started(proc: subprocess.Popen[bytes]) -> None:
        """Until the worker says it runs (a SIGTERM before Python set its handler would
        end it with the signal's default action)."""
        assert proc.stderr is not None
        for line in proc.stderr:
            if b"webhook worker" in line and b"started" in line:
                return
        raise AssertionError(f"the worker ended: {proc.wait()}")

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)


@pytest.fixture
def workers(settings: Settings) -> Iterator[Workers]:
    found = Workers(settings.database_url)
    yield found
    found.stop_all()


def _wait(condition: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


def _slow(seconds: float) -> Any:
    def answer(_m: Received) -> int:
        time.sleep(seconds)
        return 200

    return answer


def test_a_worker_killed_mid_delivery_loses_nothing(setup: Setup, receiver: Receiver,
                                                    workers: Workers) -> None:
    hook = register(setup.api, receiver.url)
    for i in range(6):
        setup.scim.post("/Users", user_body(f"u{i}@acme.test"))
    receiver.answer = _slow(0.4)
    first = workers.start()
    _wait(lambda: len(receiver.received) >= 3)
    first.send_signal(signal.SIGKILL)  # while the third is in the receiver's hands
    first.wait(timeout=10)
    before_kill = {r.id for r in receiver.received}
    at_kill = len(receiver.received)
    receiver.answer = lambda _m: 200
    workers.start()
    _wait(lambda: len(receiver.unique()) == 6)

    positions = [verified(hook["secret"], m)["position"] for m in receiver.unique()]
    assert positions == [1, 2, 3, 4, 5, 6]
    # At least once: only what the killed worker had sent (not all of it recorded) may come
    # twice; the next worker then goes on in order.
    ids = [r.id for r in receiver.received]
    assert {i for i in ids if ids.count(i) > 1} <= before_kill
    resumed = [r.json["position"] for r in receiver.received[at_kill:]]
    assert resumed == sorted(resumed) and resumed[-1] == 6
    _wait(lambda: setup.api.get(f"/webhooks/{hook['id']}").get_json()["position"] == 6)


def test_sigterm_stops_after_the_current_delivery(setup: Setup, receiver: Receiver,
                                                  workers: Workers) -> None:
    hook = register(setup.api, receiver.url)
    for i in range(4):
        setup.scim.post("/Users", user_body(f"u{i}@acme.test"))
    receiver.answer = _slow(0.6)
    proc = workers.start()
    workers.wait_started(proc)
    _wait(lambda: len(receiver.received) >= 1)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0, proc.stderr.read() if proc.stderr else ""
    # The delivery it was making finished and counts; nothing after it was started.
    sent = len(receiver.received)
    state = setup.api.get(f"/webhooks/{hook['id']}").get_json()
    assert state["position"] == sent and sent < 4


@pytest.mark.postgres
def test_two_workers_deliver_every_event_once_per_endpoint_in_order(
        pg_url: str, receiver: Receiver) -> None:
    crew = Workers(pg_url)
    try:
        with make_setup(FAST_SETTINGS(pg_url)) as setup:
            paths = ["/hooks/a", "/hooks/b", "/hooks/c"]
            hooks = [register(setup.api, receiver.url.rsplit("/", 1)[0] + p) for p in paths]
            for i in range(10):
                setup.scim.post("/Users", user_body(f"early{i}@acme.test"))
            for proc in (crew.start(), crew.start()):
                crew.wait_started(proc)
            for i in range(20):  # while they deliver
                setup.scim.post("/Users", user_body(f"late{i}@acme.test"))
            total = account_position(setup)
            for path in paths:
                _wait(lambda p=path: len(receiver.unique(p)) == total, timeout=120)
            for path, hook in zip(paths, hooks, strict=True):
                got = receiver.unique(path)
                assert [verified(hook["secret"], m)["position"] for m in got] == list(
                    range(1, total + 1))
                # Each endpoint was served in order: its raw arrivals never go back.
                raw = [r.json["position"] for r in receiver.received if r.path == path]
                assert raw == sorted(raw)
            for proc in crew.procs:
                proc.send_signal(signal.SIGTERM)
            assert [proc.wait(timeout=30) for proc in crew.procs] == [0, 0]
    finally:
        crew.stop_all()
