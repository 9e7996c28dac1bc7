"""A token of another account sees nothing of this one and gets 404."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Api, Seed, add_user


def test_other_account_sees_nothing(api: Api, other_api: Api, db: Any, seed: Seed):
    uid = add_user(db, seed, "alice")
    res = api.post("/resources", json={"kind": "board", "name": "b", "owner_ids": [uid]}).get_json()
    tok = api.post("/tokens", json={"name": "mine"}).get_json()
    ids = {u["id"] for u in other_api.get("/users").get_json()["users"]}
    assert uid not in ids and seed.admin_id not in ids
    for method, path, kw in [
        ("get", f"/users/{uid}", {}),
        ("patch", f"/users/{uid}", {"json": {"title": "x"}}),
        ("post", f"/users/{uid}/deactivate", {}),
        ("post", f"/users/{uid}/activate", {}),
        ("delete", f"/users/{uid}", {}),
        ("post", f"/users/{uid}/type", {"json": {"user_type": "Viewer"}}),
        ("post", f"/users/{uid}/email-change", {"json": {"email": "x@other.test"}}),
        ("post", f"/users/{uid}/activity", {"json": {}}),
        ("get", f"/resources/{res['id']}", {}),
        ("post", "/resources/claim", {"json": {"resource_ids": [res["id"]]}}),
        ("delete", f"/tokens/{tok['id']}", {}),
    ]:
        r = getattr(other_api, method)(path, **kw)
        assert r.status_code == 404, (method, path, r.get_json())
    r = other_api.post("/users/bulk", json={"user_ids": [uid], "status": "inactive"})
    assert r.get_json()["skipped"][0]["rule"] == "user.not_found"
    assert other_api.get("/resources").get_json()["resources"] == []
    assert other_api.get("/tokens").get_json()["tokens"] != []  # its own only
    assert tok["id"] not in [t["id"] for t in other_api.get("/tokens").get_json()["tokens"]]
    assert all(e["target_id"] != uid for e in other_api.get("/audit").get_json()["entries"])
    assert api.get(f"/users/{uid}").get_json()["title"] == "Engineer"  # untouched
