"""GET /api/v1/scim-requests (filters, cursor paging, account isolation), one request with its
redacted bodies, and the connections with their profiles (detected, set by the Admin)."""

from __future__ import annotations

import datetime as dt

from flask import Flask

from scim_server.domain.request_log import REDACTED, RequestLog
from tests.requestlog.conftest import Tenant
from tests.scim.conftest import GROUP_SCHEMA, patch_body, user_body

OKTA = "Okta SCIM Client 1.0.0"


def _page(tenant: Tenant, app: Flask, **query: str) -> dict:
    response = tenant.api(app, "get", "/scim-requests", query_string=query)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_filters_and_cursor_paging(app: Flask, log: RequestLog, tenant: Tenant) -> None:
    ids = [tenant.scim.post("/Users", user_body(f"u{n}@acme.test")).get_json()["id"]
           for n in range(5)]
    tenant.scim.get("/Users/" + "f" * 32)  # 404
    tenant.scim.post("/Users", {"schemas": []})  # 400
    group = tenant.scim.post("/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "g",
                                         "members": [{"value": ids[0]}]}).get_json()["id"]
    tenant.scim.patch(f"/Groups/{group}", patch_body(
        {"op": "remove", "path": f'members[value eq "{ids[0]}"]'}))
    log.flush()

    everything = _page(tenant, app, limit="100")["requests"]
    assert len(everything) == 9
    assert [int(r["id"]) for r in everything] == sorted((int(r["id"]) for r in everything),
                                                        reverse=True)
    assert "request_body" not in everything[0]  # bodies only in the detail

    seen, cursor = [], None
    while True:
        page = _page(tenant, app, limit="2", **({"cursor": cursor} if cursor else {}))
        seen += [r["id"] for r in page["requests"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [r["id"] for r in everything]

    assert {r["status"] for r in _page(tenant, app, status="4xx")["requests"]} == {400, 404}
    assert len(_page(tenant, app, status="2xx")["requests"]) == 7
    assert _page(tenant, app, status="5xx")["requests"] == []
    assert {r["method"] for r in _page(tenant, app, method="PATCH")["requests"]} == {"PATCH"}
    touched = _page(tenant, app, resource_id=ids[0])["requests"]
    assert [(r["method"], r["path"]) for r in touched] == [
        ("PATCH", f"/scim/v2/Groups/{group}"), ("POST", "/scim/v2/Groups"),
        ("POST", "/scim/v2/Users")]
    connection = everything[0]["connection_id"]
    assert len(_page(tenant, app, connection_id=connection)["requests"]) == 9
    assert _page(tenant, app, connection_id="nope")["requests"] == []
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()
    assert _page(tenant, app, since=later)["requests"] == []
    assert len(_page(tenant, app, until=later)["requests"]) == 9


def test_bad_filters_are_problems(app: Flask, log: RequestLog, tenant: Tenant) -> None:
    for query in ({"status": "3xx"}, {"cursor": "abc"}, {"method": "TRACE"},
                  {"since": "yesterday"}, {"limit": "0"}, {"since": "2026-01-02T00:00:00Z",
                                                         "until": "2026-01-01T00:00:00Z"}):
        response = tenant.api(app, "get", "/scim-requests", query_string=query)
        assert response.status_code == 400, query
        assert response.content_type == "application/problem+json"
    assert tenant.api(app, "get", "/scim-requests/abc").status_code == 404
    assert tenant.api(app, "get", "/scim-requests/99999").status_code == 404


def test_one_request_with_redacted_bodies(app: Flask, log: RequestLog, tenant: Tenant) -> None:
    tenant.scim.post("/Users", user_body("p@acme.test", password="hunter2-hunter2"))
    log.flush()
    [summary] = _page(tenant, app)["requests"]
    detail = tenant.api(app, "get", f"/scim-requests/{summary['id']}")
    assert detail.status_code == 200
    body = detail.get_json()
    assert REDACTED in body["request_body"] and "hunter2" not in detail.get_data(as_text=True)
    assert '"userName": "p@acme.test"' in body["response_body"]
    assert body["request_truncated"] is False


def test_another_accounts_entries_are_never_visible(app: Flask, log: RequestLog,
                                                    tenant: Tenant, other: Tenant) -> None:
    created = other.scim.post("/Users", user_body("x@globex.test")).get_json()["id"]
    tenant.scim.get("/Users")
    log.flush()
    mine = _page(tenant, app)["requests"]
    theirs = _page(other, app)["requests"]
    assert len(mine) == 1 and len(theirs) == 1
    assert tenant.api(app, "get", f"/scim-requests/{theirs[0]['id']}").status_code == 404
    assert _page(tenant, app, resource_id=created)["requests"] == []
    assert _page(tenant, app, connection_id=theirs[0]["connection_id"])["requests"] == []
    other_connection = theirs[0]["connection_id"]
    assert tenant.api(app, "get", f"/connections/{other_connection}").status_code == 404
    assert tenant.api(app, "patch", f"/connections/{other_connection}",
                      json={"profile": "okta"}).status_code == 404


def test_profile_detected_from_user_agent_and_set_by_the_admin(
        app: Flask, log: RequestLog, tenant: Tenant) -> None:
    [connection] = tenant.api(app, "get", "/connections").get_json()["connections"]
    assert connection["profile"] == "generic" and connection["profile_source"] == "default"
    assert connection["last_request"] is None

    tenant.scim.get("/Users", headers={"User-Agent": OKTA})
    tenant.scim.get("/Users/" + "0" * 32, headers={"User-Agent": OKTA})
    log.flush()
    [request] = _page(tenant, app, status="4xx")["requests"]
    assert request["profile"] == "okta"
    connection = tenant.api(app, "get", f"/connections/{connection['id']}").get_json()
    assert (connection["profile"], connection["profile_source"]) == ("okta", "detected")
    assert connection["requests_24h"] == 2 and connection["errors_24h"] == 1
    assert connection["error_rate_24h"] == 0.5
    assert connection["last_request"]["status"] == 404

    changed = tenant.api(app, "patch", f"/connections/{connection['id']}",
                         json={"profile": "onelogin"})
    assert changed.status_code == 200, changed.get_json()
    assert (changed.get_json()["profile"], changed.get_json()["profile_source"]) == (
        "onelogin", "admin")
    bad = tenant.api(app, "patch", f"/connections/{connection['id']}", json={"profile": "x"})
    assert bad.status_code == 400
    back = tenant.api(app, "patch", f"/connections/{connection['id']}", json={"profile": None})
    assert (back.get_json()["profile"], back.get_json()["profile_source"]) == (
        "okta", "detected")


def test_profile_detected_from_entra_request_shapes(app: Flask, log: RequestLog,
                                                    tenant: Tenant) -> None:
    # Entra ID's provisioning agent names itself in no User-Agent we can rely on; its group
    # creates carry its ADSCIM schema.
    created = tenant.scim.post("/Groups", {
        "schemas": [GROUP_SCHEMA,
                    "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
        "displayName": "from-entra"}, headers={"User-Agent": "Java/1.8"})
    assert created.status_code == 201, created.get_json()
    tenant.scim.get("/Groups", headers={"User-Agent": "Java/1.8"})
    log.flush()
    first, second = reversed(_page(tenant, app)["requests"])
    assert first["quirks"] == ["foreign-schema-dropped"] and first["profile"] == "entra"
    assert second["profile"] == "entra"  # the connection's, once detected
    [connection] = tenant.api(app, "get", "/connections").get_json()["connections"]
    assert connection["profile"] == "entra"


def test_user_agent_profiles() -> None:
    from scim_server.domain.request_log import detect_profile

    assert detect_profile("Okta SCIM Client 1.0.0") == "okta"
    assert detect_profile("Microsoft.Identity.Provisioning/1.0") == "entra"
    assert detect_profile("Google-Auto-Provisioning") == "google"
    assert detect_profile("JumpCloud SCIM") == "jumpcloud"
    assert detect_profile("OneLogin SCIM") == "onelogin"
    assert detect_profile("curl/8", ["okta-id-in-patch-value"]) == "okta"
    assert detect_profile("curl/8", ["op-capitalised"]) is None


def test_the_operations_are_in_the_openapi_document(app: Flask) -> None:
    document = app.test_client().get("/api/v1/openapi.json").get_json()
    assert {"get"} <= set(document["paths"]["/scim-requests"])
    assert {"get"} <= set(document["paths"]["/scim-requests/{request_id}"])
    assert {"get", "patch"} <= set(document["paths"]["/connections/{connection_id}"])


def test_the_hub_lists_each_connection(app: Flask, log: RequestLog, tenant: Tenant) -> None:
    tenant.scim.get("/Users", headers={"User-Agent": "Microsoft.Identity.Provisioning"})
    tenant.scim.post("/Users", {"schemas": []})
    log.flush()
    hub = tenant.api(app, "get", "/hub")
    assert hub.status_code == 200, hub.get_json()
    [connection] = hub.get_json()["api_users"]["connections"]
    assert connection["profile"] == "entra"
    assert connection["last_status"] == 400 and connection["last_request_at"]
    assert connection["requests_24h"] == 2 and connection["error_rate_24h"] == 0.5
    assert hub.get_json()["api_users"]["links"]["requests"] == "/api/v1/scim-requests"
