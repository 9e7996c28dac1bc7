"""An entry per SCIM request: redacted, truncated, with its quirks, status and resources."""

from __future__ import annotations

import json
from typing import Any

from flask import Flask

from scim_server.domain.request_log import REDACTED, RequestLog
from scim_server.storage import request_log as store
from tests.requestlog.conftest import Tenant
from tests.scim.conftest import GROUP_SCHEMA, patch_body, user_body

SECRET = "Sup3r-Secret-Pa55word!"


def entries(log: RequestLog, account_id: str) -> list[dict[str, Any]]:
    """The account's entries, oldest first, bodies included."""
    rows = store.list_rows(log.engine, account_id, store.RequestFilter(), 1000)
    return [store.get_row(log.engine, account_id, r["id"]) for r in reversed(rows)]


def test_a_create_is_logged_redacted_after_a_flush(app: Flask, log: RequestLog,
                                                    tenant: Tenant) -> None:
    body = user_body("jane@acme.test", password=SECRET)
    created = tenant.scim.post("/Users", body, headers={"User-Agent": "curl/8"})
    assert created.status_code == 201, created.get_json()
    assert entries(log, tenant.account_id) == []  # nothing written on the request's path
    assert log.flush() == 1
    [entry] = entries(log, tenant.account_id)
    assert entry["method"] == "POST" and entry["path"] == "/scim/v2/Users"
    assert entry["status"] == 201
    assert entry["connection_id"] is not None
    assert entry["user_agent"] == "curl/8"
    assert entry["duration_ms"] > 0
    assert created.get_json()["id"] in entry["resource_ids"]
    stored = json.dumps(entry, default=str)
    assert SECRET not in stored
    assert tenant.scim_token not in stored
    assert json.loads(entry["request_body"])["password"] == REDACTED
    assert json.loads(entry["response_body"])["userName"] == "jane@acme.test"


def test_secrets_are_redacted_at_any_depth_and_in_patch_paths(app: Flask, log: RequestLog,
                                                               tenant: Tenant) -> None:
    user_id = tenant.scim.post("/Users", user_body("amy@acme.test")).get_json()["id"]
    response = tenant.scim.patch(f"/Users/{user_id}", patch_body(
        {"op": "replace", "path": "password", "value": SECRET},
        {"op": "replace", "value": {"nickName": "a", "x": {"clientSecret": SECRET}}},
    ))
    assert SECRET not in response.get_data(as_text=True)
    log.flush()
    patch = entries(log, tenant.account_id)[-1]
    assert patch["method"] == "PATCH" and user_id in patch["resource_ids"]
    assert SECRET not in json.dumps(patch, default=str)
    operations = json.loads(patch["request_body"])["Operations"]
    assert operations[0]["value"] == REDACTED and operations[0]["path"] == "password"


def test_a_large_body_is_cut_and_marked(app: Flask, log: RequestLog, tenant: Tenant) -> None:
    members = [{"value": f"{i:032x}"} for i in range(1200)]
    response = tenant.scim.post("/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "big",
                                            "members": members})
    assert response.status_code in (201, 400), response.get_json()
    log.flush()
    entry = entries(log, tenant.account_id)[-1]
    assert entry["request_truncated"] is True
    assert len(entry["request_body"].encode()) <= log.body_cap
    small = tenant.scim.get("/Users")
    assert small.status_code == 200
    log.flush()
    assert entries(log, tenant.account_id)[-1]["request_truncated"] is False


def test_a_refusal_records_its_scim_type_and_rule(app: Flask, log: RequestLog,
                                                  tenant: Tenant) -> None:
    tenant.scim.post("/Users", user_body("dup@acme.test"))
    again = tenant.scim.post("/Users", user_body("dup@acme.test"))
    assert again.status_code == 409
    missing = tenant.scim.get("/Users/" + "0" * 32)
    assert missing.status_code == 404
    log.flush()
    conflict, not_found = entries(log, tenant.account_id)[-2:]
    assert conflict["status"] == 409 and conflict["scim_type"] == "uniqueness"
    assert not_found["status"] == 404 and not_found["path"].endswith("0" * 32)


def test_quirk_ids_of_a_capitalised_op_and_entra_member_removal(
        app: Flask, log: RequestLog, tenant: Tenant) -> None:
    user_id = tenant.scim.post("/Users", user_body("bob@acme.test")).get_json()["id"]
    group_id = tenant.scim.post("/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "eng",
                                            "members": [{"value": user_id}]}).get_json()["id"]
    capitalised = tenant.scim.patch(f"/Users/{user_id}", patch_body(
        {"op": "Replace", "path": "active", "value": "False"}))
    assert capitalised.status_code == 200, capitalised.get_json()
    removed = tenant.scim.patch(f"/Groups/{group_id}", patch_body(
        {"op": "Remove", "path": "members", "value": [{"value": user_id}]}))
    assert removed.status_code in (200, 204), removed.get_json()
    plain = tenant.scim.patch(f"/Users/{user_id}", patch_body(
        {"op": "replace", "path": "displayName", "value": "Bob"}))
    assert plain.status_code == 200
    log.flush()
    *_, user_patch, group_patch, plain_patch = entries(log, tenant.account_id)
    assert user_patch["quirks"] == ["op-capitalised", "string-boolean"]
    assert group_patch["quirks"] == ["entra-member-remove-by-value", "op-capitalised"]
    assert user_id in group_patch["resource_ids"] and group_id in group_patch["resource_ids"]
    assert plain_patch["quirks"] == []


def test_okta_id_inside_a_patch_value(app: Flask, log: RequestLog, tenant: Tenant) -> None:
    user_id = tenant.scim.post("/Users", user_body("okta@acme.test")).get_json()["id"]
    response = tenant.scim.patch(f"/Users/{user_id}", patch_body(
        {"op": "replace", "value": {"id": user_id, "active": False}}))
    assert response.status_code == 200, response.get_json()
    log.flush()
    assert entries(log, tenant.account_id)[-1]["quirks"] == ["okta-id-in-patch-value"]


def test_requests_without_an_account_are_not_logged(app: Flask, log: RequestLog,
                                                    tenant: Tenant) -> None:
    refused = app.test_client().get("/scim/v2/Users",
                                    headers={"Authorization": "Bearer nope"})
    assert refused.status_code == 401
    assert log.pending == 0


def test_retention_purges_old_entries(app: Flask, log: RequestLog, tenant: Tenant) -> None:
    import datetime as dt

    tenant.scim.get("/Users")
    user_id = tenant.scim.post("/Users", user_body("old@acme.test")).get_json()["id"]
    log.flush()
    assert log.maybe_purge(force=True) == 0  # within the 30 days
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=31)
    log.clock = lambda: later
    assert log.maybe_purge(force=True) == 2
    assert entries(log, tenant.account_id) == []
    where = store.RequestFilter(resource_id=user_id)
    assert store.list_rows(log.engine, tenant.account_id, where, 10) == []
    with log.engine.connect() as connection:
        from sqlalchemy import func, select

        assert connection.scalar(select(func.count()).select_from(
            store.scim_request_resources)) == 0


def test_a_full_buffer_drops_the_oldest_and_counts(app: Flask, log: RequestLog,
                                                   tenant: Tenant) -> None:
    log.capacity = 3
    for n in range(5):
        assert tenant.scim.get("/Users", query={"filter": f'userName eq "n{n}"'}).status_code == 200
    assert log.pending == 3 and log.stats.dropped == 2
    log.flush()
    kept = [e["query"] for e in entries(log, tenant.account_id)]
    assert kept == [f'filter=userName eq "n{n}"' for n in (2, 3, 4)]


def test_a_filter_naming_a_secret_keeps_its_shape_only(app: Flask, log: RequestLog,
                                                       tenant: Tenant) -> None:
    tenant.scim.get("/Users", query={"filter": 'password eq "hunter2"'})
    log.flush()
    [entry] = entries(log, tenant.account_id)
    assert entry["query"] == f'filter=password eq "{REDACTED}"'


def test_bodies_that_cannot_be_redacted_are_withheld() -> None:
    from scim_server.domain.request_log import DECODE_LIMIT, WITHHELD, redact, render_body

    assert render_body(b"userName=a&password=" + SECRET.encode(), 1024)[0] == WITHHELD
    assert render_body(b"plain words", 1024)[:2] == ("plain words", False)
    big = json.dumps({"userName": "a", "x": "y" * DECODE_LIMIT, "password": SECRET}).encode()
    text, cut, _ = render_body(big, 1024)
    assert text == WITHHELD and cut is True
    broken = b'{"schemas": [], "userName": "a", "password": "' + SECRET.encode()
    assert render_body(broken, 1024)[0] == WITHHELD
    nested = {"a": [{"b": {"apiKey": 1, "Client_Secret": 2, "otp": 3, "footprint": 4}}],
              "Operations": [{"op": "add", "path": "urn:x:y:userPassword", "value": "v"}]}
    assert redact(nested) == {
        "a": [{"b": {"apiKey": REDACTED, "Client_Secret": REDACTED, "otp": REDACTED,
                     "footprint": 4}}],
        "Operations": [{"op": "add", "path": "urn:x:y:userPassword", "value": REDACTED}]}


def test_requests_refused_once_the_token_is_known_are_logged(app: Flask, log: RequestLog,
                                                             tenant: Tenant) -> None:
    """An identity provider's 429s are what an Admin most needs to see; a request with no
    token or a bad one belongs to no account and is not logged."""
    from scim_server.storage.models import Account

    with app.extensions["scim_sessions"]() as db:
        account = db.get(Account, tenant.account_id)
        assert account is not None
        # One token a second (0 would mean no limit), a bucket of one.
        account.rate_limit_per_second, account.rate_limit_burst = 1, 1
        db.commit()
    statuses = [tenant.scim.get("/Users").status_code for _ in range(3)]
    assert statuses[0] == 200 and 429 in statuses, statuses
    anonymous = app.test_client().get("/scim/v2/Users", headers={"Authorization": "Bearer nope"})
    assert anonymous.status_code == 401
    log.flush()
    logged = entries(log, tenant.account_id)
    assert [e["status"] for e in logged] == statuses
    first, limited = logged[0], logged[statuses.index(429)]
    assert limited["connection_id"] == first["connection_id"] is not None
    assert tenant.scim_token not in json.dumps(limited, default=str)
