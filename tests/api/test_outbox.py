"""Without SMTP, the outbox keeps what would have been mailed, never a usable link: the links
are credentials (an email-change link confirms an address). The whole mail goes to the server
log, for development only."""

from __future__ import annotations

import re
from typing import Any

from scim_server.domain.mail import WITHHELD
from tests.api.conftest import Api, Seed, add_user
from tests.conftest import Mailbox


def test_the_outbox_shows_no_usable_link(api: Api, app: Any, db: Any, seed: Seed,
                                         mailbox: Mailbox) -> None:
    uid = add_user(db, seed, "alice")
    assert api.post(f"/users/{uid}/email-change",
                    json={"email": "nobody@elsewhere.test"}).status_code == 202
    assert api.post("/users/invite", json={"email": "new@acme.test"}).status_code == 201
    outbox = api.get("/outbox")
    assert outbox.status_code == 200
    messages = outbox.get_json()["messages"]
    assert [m["to"] for m in messages] == ["nobody@elsewhere.test", "new@acme.test"]
    tokens = [mailbox.token("nobody@elsewhere.test"), mailbox.token("new@acme.test")]
    text = outbox.get_data(as_text=True)
    for token in tokens:
        assert token not in text
    assert all(WITHHELD in m["body"] for m in messages)
    # Whatever follows the link paths in the outbox confirms nothing.
    anon = app.test_client()
    for message in messages:
        for candidate in re.findall(r"/admin/(?:invitation|email-confirmation)/(\S+)",
                                    message["body"]):
            assert anon.post("/api/v1/email-changes/confirm",
                             json={"token": candidate}).status_code in (400, 404)
            assert anon.post("/api/v1/invitations/accept",
                             json={"token": candidate}).status_code in (400, 404)
    assert api.get(f"/users/{uid}").get_json()["email"] == "alice@acme.test"
    invited = api.get("/users?q=new@acme.test").get_json()["users"]
    assert [u["status"] for u in invited] == ["pending"]
    # The development copy in the log is the mail as it would have been sent.
    confirmed = anon.post("/api/v1/email-changes/confirm", json={"token": tokens[0]})
    assert confirmed.status_code == 200


def test_a_refused_change_logs_no_mail(api: Api, mailbox: Mailbox) -> None:
    refused = api.post("/users/invite", json={"email": "g@acme.test", "user_type": "Guest"})
    assert refused.status_code == 403
    assert mailbox.messages == []
    assert api.get("/outbox").get_json()["messages"] == []
