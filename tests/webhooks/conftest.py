"""Webhook fixtures: the real app on a fresh database, a SCIM token and an API token of one
account, and a real HTTP receiver on 127.0.0.1 (a thread) whose answers a test can script."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from flask import Flask
from standardwebhooks import Webhook

from scim_server.app import create_app
from scim_server.settings import Settings
from scim_server.storage.models import Account
from scim_server.webhook_worker import Worker
from tests.api.conftest import Api
from tests.domain.factories import make_account, make_token, make_user
from tests.scim.conftest import ScimClient

SECRET_KEY = "webhook-test-secret-key-0123456789"
# Small retry settings, so that backoff and the failing mark happen within a test.
FAST = {"webhook_allow_private": True, "webhook_backoff_base": 0.02,
        "webhook_backoff_max": 0.2, "webhook_timeout": 1.0, "webhook_lease": 3.0,
        "webhook_poll_interval": 0.05}


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    path: str = ""

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def id(self) -> str:
        return self.headers["webhook-id"]


@dataclass
class Receiver:
    """Records every request; ``answer`` decides each status (it may sleep: a timeout)."""

    url: str = ""
    received: list[Received] = field(default_factory=list)
    answer: Callable[[Received], int] = lambda _r: 204
    lock: threading.Lock = field(default_factory=threading.Lock)

    def bodies(self) -> list[Any]:
        with self.lock:
            return [r.json for r in self.received]

    def unique(self, path: str | None = None) -> list[Received]:
        """Each message once (receivers dedup on webhook-id), in first-arrival order."""
        seen: dict[str, Received] = {}
        with self.lock:
            for r in self.received:
                if path is None or r.path == path:
                    seen.setdefault(r.id, r)
        return list(seen.values())

    def wait_for(self, count: int, timeout: float = 30.0, *, unique: bool = True) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            have = len(self.unique()) if unique else len(self.received)
            if have >= count:
                return
            time.sleep(0.02)
        raise AssertionError(f"received {len(self.unique())} of {count} messages")


@contextmanager
def running_receiver(protocol: str = "HTTP/1.0") -> Iterator[Receiver]:
    """A webhook receiver on 127.0.0.1 for as long as the block lasts."""
    receiver = Receiver()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = protocol

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            got = Received({k.lower(): v for k, v in self.headers.items()},
                           self.rfile.read(length), self.path)
            with receiver.lock:
                receiver.received.append(got)
            status = receiver.answer(got)
            try:
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()
            except OSError:
                pass  # the sender gave up (a timeout)

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_port}/hooks"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as found:
        yield found


def FAST_SETTINGS(database_url: str) -> Settings:  # noqa: N802
    return Settings(database_url=database_url, secret_key=SECRET_KEY,
                    rate_limit_per_second=10**6, rate_limit_burst=10**6,
                    account_max_in_flight=64, **FAST)  # type: ignore[arg-type]


@pytest.fixture
def settings(database_url: str) -> Settings:
    return FAST_SETTINGS(database_url)


@dataclass
class Setup:
    app: Flask
    api: Api
    scim: ScimClient
    account_id: str
    other_api: Api


@pytest.fixture
def setup(settings: Settings) -> Iterator[Setup]:
    with make_setup(settings) as made:
        yield made


@contextmanager
def make_setup(settings: Settings) -> Iterator[Setup]:
    app = create_app(settings)
    app.config["TESTING"] = True
    with app.extensions["scim_sessions"]() as db:
        account = make_account(db, seats_limit=50)
        admin = make_user(db, account, "boss", user_type="Admin")
        api_token, scim_token = make_token(db, account, admin), make_token(db, account, admin,
                                                                            "scim")
        other = make_account(db, "other", domains=["other.test"])
        other_token = make_token(db, other, make_user(db, other, "root", user_type="Admin"))
        db.commit()
        account_id = account.id
    try:
        yield Setup(app, Api(app.test_client(), api_token),
                    ScimClient(app.test_client(), scim_token), account_id,
                    Api(app.test_client(), other_token))
    finally:
        app.extensions["scim_engine"].dispose()


def worker_env(database_url: str) -> dict[str, str]:
    """The environment of a ``scim-server worker`` process with the tests' settings."""
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("SCIM_")}
    env.update({"SCIM_DATABASE_URL": database_url, "SCIM_SECRET_KEY": SECRET_KEY,
                **{f"SCIM_{k.upper()}": str(v).lower() if isinstance(v, bool) else str(v)
                   for k, v in FAST.items()}})
    return env


def register(api: Api, url: str, **extra: Any) -> dict[str, Any]:
    made = api.post("/webhooks", json={"url": url, **extra})
    assert made.status_code == 201, made.get_json()
    return made.get_json()  # type: ignore[no-any-return]


def worker(setup: Setup, settings: Settings, **kw: Any) -> Worker:
    return Worker(setup.app.extensions["scim_engine"], settings, **kw)


def drain(w: Worker, receiver: Receiver, count: int, timeout: float = 30.0) -> None:
    """Run the worker's turns until ``count`` distinct messages arrived."""
    deadline = time.monotonic() + timeout
    while len(receiver.unique()) < count:
        assert time.monotonic() < deadline, f"{len(receiver.unique())} of {count} arrived"
        if not w.run_once():
            time.sleep(0.02)


def verified(secret: str, message: Received) -> Any:
    """The body, once the independent Standard Webhooks implementation checked its signature."""
    return Webhook(secret).verify(message.body, message.headers)


def account_position(setup: Setup) -> int:
    with setup.app.extensions["scim_sessions"]() as db:
        return int(db.get(Account, setup.account_id).event_position)
