"""Events as signed Security Event Tokens (RFC 8417, RFC 9967) and their poll-based delivery
(RFC 8936) at POST /api/v1/events/set-poll, verified against GET /.well-known/jwks.json."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from flask import Flask
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import select

from scim_server.app import create_app
from scim_server.cli import main as cli
from scim_server.settings import Settings, SettingsError
from scim_server.storage.events import append_events
from scim_server.storage.models import Account, new_id, utcnow
from tests.api.conftest import Api, Seed, add_user
from tests.api.test_events import BULK, PROV, feed
from tests.domain.factories import make_token, make_user
from tests.scim.conftest import (
    GROUP_SCHEMA,
    ScimClient,
    ada_joins_team_then_is_deactivated,
    user_body,
)

BASE = "https://scim.acme.test"


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, secret_key="x" * 32, max_body_bytes=256 * 1024,
                    base_url=BASE, rate_limit_per_second=10**6, rate_limit_burst=10**6,
                    account_max_in_flight=64, set_poll_wait=0)


def keys_of(app: Flask) -> KeySet:
    answer = app.test_client().get("/.well-known/jwks.json")
    assert answer.status_code == 200
    return KeySet.import_key_set(answer.get_json())


def poll(api: Api, **body: Any) -> dict[str, Any]:
    answer = api.post("/events/set-poll", json={"returnImmediately": True, **body})
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()  # type: ignore[no-any-return]


def opened(app: Flask, sets: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Each SET verified with the published keys: its claims by jti."""
    keys = keys_of(app)
    claims = {}
    for jti, token in sets.items():
        verified = jwt.decode(token, keys, algorithms=["ES256"])
        assert verified.header["typ"] == "secevent+jwt"
        assert verified.claims["jti"] == jti
        claims[jti] = verified.claims
    return claims


def add_events(app: Flask, account_id: str, count: int, *, start: int = 0) -> None:
    """Events written as the storage writes them (positions from the account's counter)."""
    with app.extensions["scim_engine"].begin() as connection:
        for chunk in range(start, start + count, 1000):
            append_events(connection, account_id, [
                {"id": new_id(), "at": utcnow(), "door": "scim", "event_type": PROV + "delete",
                 "resource_type": "User", "resource_id": f"u{i}", "payload": {}}
                for i in range(chunk, min(start + count, chunk + 1000))])


def test_sets_verify_with_the_jwks_and_carry_rfc_9967_claims(app: Flask, api: Api,
                                                            scim: ScimClient,
                                                            seed: Seed) -> None:
    ada, team = ada_joins_team_then_is_deactivated(scim)
    assert scim.delete(f"/Users/{ada}").status_code == 204

    events = feed(api)
    answer = poll(api)
    assert answer["moreAvailable"] is False
    assert list(answer["sets"]) == [e["id"] for e in events]
    claims = opened(app, answer["sets"])
    for event in events:
        set_ = claims[event["id"]]
        assert set_["iss"] == BASE
        assert set_["aud"] == f"{BASE}/scim/v2/Feeds/{seed.account_id}"
        assert isinstance(set_["iat"], int) and abs(set_["iat"] - time.time()) < 3600
        assert set_["sub_id"] == event["sub_id"]
        erased = event["type"] == PROV + "create:full" and event.get("data") is None
        assert list(set_["events"]) == [PROV + "create:notice" if erased else event["type"]]
        assert set_["txn"]
    by_type = [(next(iter(c["events"])), c["events"][next(iter(c["events"]))])
               for c in claims.values()]
    created, _, membership, deactivated, *_ = by_type
    # The user's data was erased with the user: the creation is only a notice now.
    assert created == (PROV + "create:notice", {"attributes": ["id"]})
    assert membership == (PROV + "patch:notice", {"attributes": ["members"], "added": [ada]})
    assert deactivated == (PROV + "deactivate", {})
    assert by_type[-1] == (PROV + "delete", {})
    team_created = claims[events[1]["id"]]["events"][PROV + "create:full"]
    assert team_created["data"]["displayName"] == "Team"
    # Each request is its own transaction; the deletion's two events share one.
    txns = [claims[e["id"]]["txn"] for e in events]
    assert len(set(txns[:4])) == 4 and txns[-1] == txns[-2]


def test_a_created_user_is_sent_in_full_without_its_password(app: Flask, api: Api,
                                                            scim: ScimClient) -> None:
    scim.post("/Users", user_body("bo@acme.test", password="S3cret-pass!", title="Cook"))
    (set_,) = opened(app, poll(api)["sets"]).values()
    data = set_["events"][PROV + "create:full"]["data"]
    assert data["userName"] == "bo@acme.test" and data["title"] == "Cook"
    assert "password" not in data and set_["sub_id"]["uri"] == f"/Users/{data['id']}"


def test_the_events_of_one_bulk_share_their_txn(app: Flask, api: Api, scim: ScimClient) -> None:
    ops = [{"method": "POST", "path": "/Users", "bulkId": str(i),
            "data": user_body(f"bulk{i}@acme.test", userType="Viewer")} for i in range(5)]
    assert scim.post("/Bulk", {"schemas": [BULK], "Operations": ops}).status_code == 200
    scim.post("/Users", user_body("alone@acme.test"))
    claims = list(opened(app, poll(api)["sets"]).values())
    assert len({c["txn"] for c in claims[:5]}) == 1
    assert claims[5]["txn"] != claims[0]["txn"]


def test_the_jwks_is_public_cacheable_and_has_no_private_part(app: Flask) -> None:
    answer = app.test_client().get("/.well-known/jwks.json")
    assert answer.status_code == 200
    assert "public" in answer.headers["Cache-Control"]
    (key,) = answer.get_json()["keys"]
    assert key["kty"] == "EC" and key["alg"] == "ES256" and key["use"] == "sig" and key["kid"]
    assert not {"d", "p", "q", "dp", "dq", "qi", "k"} & set(key)
    # Asked again (another request, the key now stored): the same key.
    assert app.test_client().get("/.well-known/jwks.json").get_json()["keys"] == [key]


def test_acknowledged_sets_never_come_again_unacknowledged_ones_do(app: Flask, api: Api,
                                                                  seed: Seed) -> None:
    add_events(app, seed.account_id, 6)
    first = poll(api, maxEvents=2)
    assert first["moreAvailable"] is True and len(first["sets"]) == 2
    a, b = first["sets"]
    # Not acknowledged: the same SETs again.
    assert list(poll(api, maxEvents=2)["sets"]) == [a, b]
    _, c = poll(api, maxEvents=2, ack=[a])["sets"]
    # Out of order: c acknowledged before b.
    assert list(poll(api, maxEvents=3, ack=[c])["sets"])[:1] == [b]
    # An error report ends b's delivery too (it would fail again).
    rest = poll(api, maxEvents=10, setErrs={b: {"err": "invalid_request", "description": "no"}})
    assert len(rest["sets"]) == 3 and rest["moreAvailable"] is False
    assert not {a, b, c} & set(rest["sets"])
    # Acknowledging twice, or only acknowledging (maxEvents 0), is fine.
    assert poll(api, maxEvents=0, ack=[a, *rest["sets"]]) == {"sets": {}, "moreAvailable": False}
    assert poll(api)["sets"] == {}


def test_each_credential_is_a_receiver_of_its_own(app: Flask, api: Api, db: Any,
                                                  seed: Seed) -> None:
    account = db.get(Account, seed.account_id)
    second = Api(app.test_client(), make_token(db, account, make_user(
        db, account, "auditor", user_type="Admin")))
    db.commit()
    add_events(app, seed.account_id, 3)
    everything = list(poll(api)["sets"])
    poll(api, ack=everything)
    assert poll(api)["sets"] == {}
    assert list(poll(second)["sets"]) == everything


def test_a_revoked_credential_leaves_no_receiver_state(app: Flask, api: Api, db: Any,
                                                     seed: Seed) -> None:
    from scim_server.storage.domain_tables import SetPollAck, SetPollReceiver

    account = db.get(Account, seed.account_id)
    token = make_token(db, account, make_user(db, account, "consumer", user_type="Admin"))
    db.commit()
    consumer = Api(app.test_client(), token)
    add_events(app, seed.account_id, 4)
    first, _, third, _ = poll(consumer)["sets"]
    poll(consumer, maxEvents=0, ack=[first, third])  # a prefix and an ack beyond it

    def state() -> tuple[int, int]:
        counts = (db.query(SetPollReceiver).filter_by(account_id=seed.account_id).count(),
                  db.query(SetPollAck).filter_by(account_id=seed.account_id).count())
        db.rollback()
        return counts

    assert state() == (1, 1)
    # The receiver is the credential: revoking the token drops what it acknowledged.
    consumer_id = db.query(SetPollReceiver).filter_by(account_id=seed.account_id).one().receiver
    db.rollback()  # the test's own read must not hold SQLite's lock during the request
    assert api.delete(f"/tokens/{consumer_id}").status_code == 200
    assert state() == (0, 0)


def test_ten_thousand_sets_come_with_no_gap_and_no_repeat(app: Flask, api: Api,
                                                          seed: Seed) -> None:
    add_events(app, seed.account_id, 10_000)
    received: dict[str, str] = {}
    ack: list[str] = []
    while True:
        answer = poll(api, maxEvents=1000, ack=ack)
        ack = list(answer["sets"])
        assert not set(ack) & set(received)
        received.update(answer["sets"])
        if not answer["moreAvailable"]:
            break
    assert poll(api, ack=ack)["sets"] == {}
    assert len(received) == 10_000
    assert [e["id"] for e in feed(api, limit=1000)] == list(received)
    sample = dict(list(received.items())[::1000])
    assert len(opened(app, sample)) == 10


def test_another_accounts_sets_cannot_be_seen_or_acknowledged(app: Flask, api: Api,
                                                             other_api: Api, db: Any,
                                                             seed: Seed) -> None:
    other_id = db.scalar(select(Account.id).where(Account.id != seed.account_id))
    db.rollback()  # SQLite: the session's transaction holds the write lock
    add_events(app, seed.account_id, 3)
    add_events(app, other_id, 2)
    mine, theirs = list(poll(api)["sets"]), list(poll(other_api)["sets"])
    assert len(mine) == 3 and len(theirs) == 2 and not set(mine) & set(theirs)
    # Acknowledging the other account's jtis (or unknown ones) changes nothing anywhere.
    assert list(poll(other_api, ack=mine, setErrs={mine[0]: {"err": "x"}})["sets"]) == theirs
    assert list(poll(api, ack=[*theirs, "unknown-jti"])["sets"]) == mine
    assert list(poll(api)["sets"]) == mine
    assert list(poll(other_api)["sets"]) == theirs


@pytest.mark.parametrize("body", [
    {"ack": "abc"},
    {"ack": [1, 2]},
    {"ack": ["x" * 65]},
    {"maxEvents": -1},
    {"maxEvents": "3"},
    {"maxEvents": 1.5},
    {"returnImmediately": "maybe"},
    {"setErrs": {"abc": {"description": "no err"}}},
    {"setErrs": {"abc": "not an object"}},
    {"setErrs": ["abc"]},
    {"acks": []},
    ["not", "an", "object"],
])
def test_bad_requests_get_problem_json(api: Api, body: Any) -> None:
    answer = api.post("/events/set-poll", json=body)
    assert answer.status_code == 400, answer.get_json()
    assert answer.headers["Content-Type"].startswith("application/problem+json")


def test_bad_json_and_no_token_are_refused(app: Flask, api: Api) -> None:
    answer = api.post("/events/set-poll", data="{", content_type="application/json")
    assert answer.status_code == 400
    assert app.test_client().post("/api/v1/events/set-poll", json={}).status_code == 401


def test_too_many_acknowledgements_at_once_are_refused(api: Api) -> None:
    answer = api.post("/events/set-poll", json={"ack": [f"j{i}" for i in range(10_001)]})
    assert answer.status_code == 400
    assert answer.headers["Content-Type"].startswith("application/problem+json")


def test_a_large_max_events_gets_a_page(app: Flask, api: Api, seed: Seed) -> None:
    add_events(app, seed.account_id, 3)
    assert len(poll(api, maxEvents=10**12)["sets"]) == 3


def test_set_poll_is_in_the_openapi_document(app: Flask) -> None:
    document = app.test_client().get("/api/v1/openapi.json").get_json()
    (path,) = [k for k in document["paths"] if k.endswith("/events/set-poll")]
    operation = document["paths"][path]["post"]
    assert "requestBody" in operation and "200" in operation["responses"]


def test_rotation_adds_a_key_and_old_sets_still_verify(app: Flask, api: Api, seed: Seed,
                                                       settings: Settings,
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    add_events(app, seed.account_id, 1)
    before = poll(api)["sets"]
    old_kid = keys_of(app).keys[0].kid
    monkeypatch.setenv("SCIM_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("SCIM_SECRET_KEY", settings.secret_key)
    assert cli(["signing-key", "rotate", "--json"]) == 0
    assert '"keys": 2' in capsys.readouterr().out
    keys = app.test_client().get("/.well-known/jwks.json").get_json()["keys"]
    assert len(keys) == 2 and keys[1]["kid"] == old_kid
    assert opened(app, before)  # signed before the rotation: still verifies
    after = poll(api)["sets"]
    (token,) = after.values()
    assert jwt.decode(token, keys_of(app)).header["kid"] == keys[0]["kid"]


def test_rotation_needs_the_servers_secret_key(settings: Settings,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCIM_DATABASE_URL", settings.database_url)
    monkeypatch.delenv("SCIM_SECRET_KEY", raising=False)
    assert cli(["signing-key", "rotate"]) == 1


def test_instances_sharing_the_database_sign_with_one_key(app: Flask, api: Api, seed: Seed,
                                                          settings: Settings) -> None:
    add_events(app, seed.account_id, 1)
    twin = create_app(settings)
    try:
        # Both create the key on first use at once: one wins, both publish it.
        results: list[Any] = []
        threads = [threading.Thread(target=lambda a=a: results.append(
            a.test_client().get("/.well-known/jwks.json").get_json())) for a in (app, twin)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results[0] == results[1] and len(results[0]["keys"]) == 1
        (token,) = poll(Api(twin.test_client(), api.token))["sets"].values()
        assert jwt.decode(token, keys_of(app)).claims["aud"].endswith(seed.account_id)
    finally:
        twin.extensions["scim_engine"].dispose()


def test_a_changed_secret_key_adds_a_key_and_keeps_the_old_one(app: Flask, api: Api,
                                                               seed: Seed,
                                                               settings: Settings) -> None:
    add_events(app, seed.account_id, 1)
    before = poll(api)["sets"]
    moved = create_app(Settings(**{**settings.__dict__, "secret_key": "y" * 32}))
    try:
        (token,) = poll(Api(moved.test_client(), api.token))["sets"].values()
        keys = keys_of(moved)
        assert len(keys.keys) == 2
        assert jwt.decode(token, keys).header["kid"] != jwt.decode(before[next(iter(before))],
                                                                    keys).header["kid"]
    finally:
        moved.extensions["scim_engine"].dispose()


def test_the_wait_setting_is_bounded() -> None:
    for bad in (-1, 11, float("nan")):
        with pytest.raises(SettingsError, match="SCIM_SET_POLL_WAIT"):
            Settings(set_poll_wait=bad).validate()


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_long_poll_answers_with_an_event_written_while_it_waits(database_url: str,
                                                                   db: Any, seed: Seed) -> None:
    waiting = create_app(Settings(database_url=database_url, secret_key="x" * 32,
                                  base_url=BASE, set_poll_wait=10))
    try:
        receiver = Api(waiting.test_client(), seed.token)
        answers: list[Any] = []
        thread = threading.Thread(target=lambda: answers.append(receiver.post(
            "/events/set-poll", json={"returnImmediately": False})))
        thread.start()
        time.sleep(0.5)
        bob = add_user(db, seed, "bob")
        assert Api(waiting.test_client(), seed.token).post(
            f"/users/{bob}/deactivate").status_code < 300
        thread.join(timeout=30)
        (answer,) = answers
        assert answer.status_code == 200
        (token,) = answer.get_json()["sets"].values()
        claims = jwt.decode(token, keys_of(waiting)).claims
        assert claims["events"] == {PROV + "deactivate": {}}
    finally:
        waiting.extensions["scim_engine"].dispose()


def test_an_event_without_data_stores_sql_null(app: Flask, api: Api, scim: ScimClient,
                                               db: Any) -> None:
    # The events written by a SCIM write's last statement (one statement on PostgreSQL):
    # `data` is NULL, not a JSON null, where there is none; the payload is there.
    from scim_server.storage.domain_tables import Event

    team = scim.post("/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "Team"}
                     ).get_json()["id"]
    assert scim.delete(f"/Groups/{team}").status_code == 204
    rows = db.execute(select(Event.event_type, Event.data.is_(None), Event.payload, Event.txn)
                      .order_by(Event.position)).all()
    db.rollback()
    assert [(r[0].removeprefix(PROV), r[1], r[2]) for r in rows] == [
        ("create:full", False, {}), ("delete", True, {})]
    assert all(r[3] for r in rows) and rows[0][3] != rows[1][3]


def test_concurrent_polls_of_one_receiver_lose_no_acknowledgement(app: Flask, api: Api,
                                                                  seed: Seed) -> None:
    # Each poll changes the receiver's state under its row's lock: acks sent at once, in any
    # order, all count (a lost update of the prefix would bring acknowledged SETs back).
    add_events(app, seed.account_id, 40)
    jtis = list(poll(api, maxEvents=40)["sets"])
    errors: list[Any] = []

    def acknowledge(part: list[str]) -> None:
        for chunk in (part[:2], part[2:]):
            answer = api.client.post("/api/v1/events/set-poll", headers={
                "Authorization": f"Bearer {api.token}"},
                json={"ack": chunk, "maxEvents": 0, "returnImmediately": True})
            if answer.status_code != 200:
                errors.append(answer.get_json())

    # Interleaved parts, so that every thread's acks sit beyond another's gap.
    threads = [threading.Thread(target=acknowledge, args=(jtis[n::8],)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert poll(api)["sets"] == {}
