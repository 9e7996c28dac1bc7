"""The Webhooks page: register an endpoint (secret shown once), see a delivery in its log,
replay from there, send a test event, rotate the secret, edit, delete after a confirmation
page; in French too."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from scim_server.storage.models import Account, User
from scim_server.webhook_worker import Worker
from tests.domain.factories import make_token
from tests.scim.conftest import user_body
from tests.ui.conftest import Seeded, csrf_of, make_app, seed, sign_in
from tests.webhooks.conftest import FAST, Receiver, drain, running_receiver, verified

SECRET = re.compile(r"whsec_[A-Za-z0-9+/=]+")


@pytest.fixture
def hooks_app(sqlite_url: str) -> Flask:
    return make_app(sqlite_url, **FAST)


@pytest.fixture
def hooks_seeded(hooks_app: Flask) -> Seeded:
    return seed(hooks_app)


@pytest.fixture
def client(hooks_app: Flask, hooks_seeded: Seeded) -> FlaskClient:
    client = hooks_app.test_client()
    assert sign_in(client, hooks_seeded.admin_email).status_code == 302
    return client


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as found:
        yield found


def _post(client: FlaskClient, path: str, page: str, **data: object) -> object:
    return client.post(path, data={"csrf_token": csrf_of(client, page), **data})


def test_the_webhooks_page_from_registration_to_deletion(
        hooks_app: Flask, hooks_seeded: Seeded, client: FlaskClient, receiver: Receiver) -> None:
    empty = client.get("/admin/webhooks").get_data(as_text=True)
    assert "No webhook endpoint yet." in empty and 'href="/admin/webhooks"' in empty

    made = _post(client, "/admin/webhooks", "/admin/webhooks", url=receiver.url,
                 description="the SaaS app", enabled="on")
    assert made.status_code == 200  # type: ignore[attr-defined]
    text = made.get_data(as_text=True)  # type: ignore[attr-defined]
    secret = SECRET.search(text).group(0)  # type: ignore[union-attr]
    assert "shown only once" in text
    listing = client.get("/admin/webhooks").get_data(as_text=True)
    assert receiver.url in listing and "Healthy" in listing and secret not in listing
    endpoint_id = re.search(r"/admin/webhooks/([0-9a-f]{32})", listing).group(1)  # type: ignore[union-attr]
    page = f"/admin/webhooks/{endpoint_id}"

    # A user pushed by an identity provider is delivered and shows in the endpoint's log.
    with hooks_app.extensions["scim_sessions"]() as db:
        account = db.get(Account, hooks_seeded.account_id)
        token = make_token(db, account, db.get(User, hooks_seeded.admin_id), "scim")
        db.commit()
    pushed = hooks_app.test_client().post(
        "/scim/v2/Users", json=user_body("new.hire@acme.io"),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"})
    assert pushed.status_code == 201
    worker = Worker(hooks_app.extensions["scim_engine"], hooks_app.config["SCIM_SETTINGS"])
    drain(worker, receiver, 1)
    event = verified(secret, receiver.received[0])
    hub = client.get("/admin/").get_data(as_text=True)
    assert 'data-testid="card-webhooks"' in hub and "1 endpoints, 0 failing" in hub
    detail = client.get(page).get_data(as_text=True)
    assert detail.count('data-testid="delivery-row"') == 1 and f"#{event['position']}" in detail

    replayed = _post(client, f"{page}/replay", page, position=str(event["position"]))
    assert replayed.status_code == 302  # type: ignore[attr-defined]
    assert "will be delivered again" in client.get(page).get_data(as_text=True)
    drain(worker, receiver, 1)
    while worker.run_once():
        pass
    assert [r.id for r in receiver.received] == [event["id"], event["id"]]

    tested = _post(client, f"{page}/test", page)
    assert tested.status_code == 302  # type: ignore[attr-defined]
    assert "Test event delivered" in client.get(page).get_data(as_text=True)
    receiver.answer = lambda _m: 500
    _post(client, f"{page}/test", page)
    failed = client.get(page).get_data(as_text=True)
    assert "The test event was not delivered: HTTP 500" in failed
    assert failed.count('data-testid="delivery-row"') == 4  # the failed test is logged too

    rotated = _post(client, f"{page}/rotate", page, overlap_hours="1")
    new_secret = SECRET.search(rotated.get_data(as_text=True)).group(0)  # type: ignore[attr-defined,union-attr]
    assert new_secret != secret
    assert "also signs until" in rotated.get_data(as_text=True)  # type: ignore[attr-defined]

    saved = _post(client, page, page, url=receiver.url, description="renamed",
                  event_types="urn:ietf:params:scim:event:prov:delete")
    assert saved.status_code == 302  # type: ignore[attr-defined]
    after = client.get(page).get_data(as_text=True)
    assert "Webhook saved." in after and "renamed" in after and "Paused" in after

    confirm = client.get(f"{page}/delete")
    assert 'data-testid="consequence"' in confirm.get_data(as_text=True)
    assert client.get("/admin/webhooks").get_data(as_text=True).count("webhook-row") == 1
    deleted = _post(client, f"{page}/delete", f"{page}/delete")
    assert deleted.status_code == 302  # type: ignore[attr-defined]
    final = client.get("/admin/webhooks").get_data(as_text=True)
    assert "was deleted" in final and "No webhook endpoint yet." in final
    assert client.get(page).status_code == 404


def test_bad_urls_are_refused_on_the_page(client: FlaskClient) -> None:
    for url in ("ftp://example.com/x", "https://user:pw@example.com/"):
        refused = _post(client, "/admin/webhooks", "/admin/webhooks", url=url)
        assert refused.status_code == 400  # type: ignore[attr-defined]
        assert "refused webhook URL" in refused.get_data(as_text=True)  # type: ignore[attr-defined]
    bad_type = _post(client, "/admin/webhooks", "/admin/webhooks",
                     url="https://example.com/", event_types="nope")
    assert bad_type.status_code == 400  # type: ignore[attr-defined]
    assert "No webhook endpoint yet." in client.get("/admin/webhooks").get_data(as_text=True)


def test_the_page_in_french(client: FlaskClient) -> None:
    client.set_cookie("admin_lang", "fr")
    page = client.get("/admin/webhooks").get_data(as_text=True)
    assert "Enregistrer un point de terminaison" in page
    assert "Aucun point de terminaison de webhook pour l’instant." in page
