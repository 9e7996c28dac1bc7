"""Bad inputs get a problem body (400/404/413), never a 500 or a traceback."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Api, Seed, add_user

CASES = [
    # (method, path, kwargs, status, field with an error or None)
    ("post", "/users/invite", {"data": b"{not json", "content_type": "application/json"}, 400, None),
    ("post", "/users/invite", {"json": ["a", "list"]}, 400, None),
    ("post", "/users/invite", {"json": {"email": "not-an-email"}}, 400, "email"),
    ("post", "/users/invite", {"json": {"email": "a@b.test", "colour": "red"}}, 400, "colour"),
    ("post", "/users/invite", {"json": {"email": 42}}, 400, "email"),
    ("post", "/users/invite", {"json": {}}, 400, "email"),
    ("post", "/users/bulk", {"json": {"user_ids": "abc", "status": "inactive"}}, 400, "user_ids"),
    ("post", "/users/bulk", {"json": {"user_ids": ["a"]}}, 400, "_schema"),
    ("post", "/users/bulk", {"json": {"user_ids": ["a"], "status": "gone"}}, 400, "status"),
    ("get", "/users?limit=abc", {}, 400, "limit"),
    ("get", "/users?limit=0", {}, 400, "limit"),
    ("get", "/users?sort=age", {}, 400, "sort"),
    ("get", "/users?cursor=%%%%", {}, 400, "cursor"),
    ("get", "/users?bogus=1", {}, 400, "bogus"),
    ("get", "/users?limit=1&limit=2", {}, 400, "limit"),
    ("get", "/audit?before_id=-1", {}, 400, "before_id"),
    ("post", "/resources", {"json": {"kind": "spaceship", "name": "x"}}, 400, "kind"),
    ("post", "/resources", {"json": {"kind": "board", "name": "x", "production": "maybe"}}, 400,
     "production"),
    ("post", "/USER/activity", {"json": {"at": "yesterday"}}, 400, "at"),
    ("post", "/USER/activity", {"json": {"at": "2026-01-01T00:00:00"}}, 400, "at"),
    ("post", "/USER/deactivate", {"json": {"unexpected": True}}, 400, None),
    ("patch", "/USER", {"json": {"locale": "not a locale!"}}, 400, "locale"),
    ("get", "/users/does-not-exist", {}, 404, None),
    ("get", "/no/such/thing", {}, 404, None),
    ("post", "/users/invite", {"data": b"{" + b" " * 70000 + b"}",
                               "content_type": "application/json"}, 413, None),
]


@pytest.mark.parametrize("method,path,kwargs,status,field", CASES,
                         ids=[f"{c[0]} {c[1]} {c[3]}-{i}" for i, c in enumerate(CASES)])
def test_bad_input(api: Api, db: Any, seed: Seed, method: str, path: str,
                   kwargs: dict[str, Any], status: int, field: str | None):
    if "USER" in path:
        path = path.replace("/USER", "/users/" + add_user(db, seed, "target"))
    r = getattr(api, method)(path, **kwargs)
    assert r.status_code == status, r.get_data()
    assert r.content_type == "application/problem+json"
    body = r.get_json()
    assert body["status"] == status and body["title"] and body["detail"]
    assert "Traceback" not in r.get_data(as_text=True)
    if field is not None:
        assert field in body["errors"], body


@pytest.mark.parametrize("header", ["", "Bearer", "Basic abc", "Bearer sapi_unknown"])
def test_missing_or_bad_credentials(app: Any, seed: Seed, header: str):
    r = app.test_client().get("/api/v1/users", headers={"Authorization": header} if header else {})
    assert r.status_code == 401 and r.content_type == "application/problem+json"
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
