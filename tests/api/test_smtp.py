"""With SCIM_SMTP_URL set, emails go to a real SMTP server (aiosmtpd on loopback), after the
transaction commits; a refused request sends nothing."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message

from scim_server.settings import Settings
from tests.api.conftest import Api, Seed, make_api_app


class Collect(Message):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[Any] = []

    def handle_message(self, message: Any) -> None:
        self.messages.append(message)


@pytest.fixture
def smtp() -> Iterator[tuple[Collect, int]]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    handler = Collect()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


@pytest.fixture
def smtp_app(settings: Settings, smtp: tuple[Collect, int]) -> Iterator[Any]:
    app = make_api_app(replace(settings, smtp_url=f"smtp://127.0.0.1:{smtp[1]}"))
    yield app
    app.extensions["scim_engine"].dispose()


def test_invitation_goes_through_smtp(smtp_app: Any, smtp: tuple[Collect, int], seed: Seed):
    handler, _ = smtp
    api = Api(smtp_app.test_client(), seed.token)
    r = api.post("/users/invite", json={"email": "new@acme.test"})
    assert r.status_code == 201
    assert len(handler.messages) == 1
    msg = handler.messages[0]
    assert msg["To"] == "new@acme.test"
    token = re.search(r"/admin/(?:invitation|email-confirmation)/(\S+)", msg.get_payload(decode=True).decode()).group(1)
    assert api.get("/outbox").get_json()["messages"] == []
    r = smtp_app.test_client().post("/api/v1/invitations/accept", json={"token": token})
    assert r.status_code == 200
    # A refused invitation (guest from the account's own domain) sends nothing.
    r = api.post("/users/invite", json={"email": "g@acme.test", "user_type": "Guest"})
    assert r.status_code == 403 and len(handler.messages) == 1
