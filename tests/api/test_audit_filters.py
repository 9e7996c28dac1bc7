"""The admin API's audit list filters as the admin UI's audit page does: by door and by a time
range (``since`` inclusive, ``until`` exclusive), the total counting the same filter; a bad value
is a problem+json 400."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from scim_server.domain.actors import Actor
from scim_server.domain.audit import record_audit
from scim_server.storage.models import Account
from tests.api.conftest import Api, Seed

DAY = dt.datetime(2026, 3, 10, tzinfo=dt.UTC)


@pytest.fixture
def entries(db: Any, seed: Seed) -> None:
    """One entry a door and hour: scim at 09:00, ui at 10:00, cli at 11:00, api at 12:00 on
    DAY; their target ids name them."""
    account = db.get(Account, seed.account_id)
    for hour, door in ((9, "scim"), (10, "ui"), (11, "cli"), (12, "api")):
        at = DAY.replace(hour=hour)
        record_audit(db, account, actor=Actor(door=door, user_id=seed.admin_id),
                     action="user.update", target_type="user", target_id=f"{door}-{hour}",
                     before=None, after={"title": "x"}, clock=lambda at=at: at)
    db.commit()


def _listed(api: Api, **query: Any) -> tuple[int, list[str]]:
    answer = api.get("/audit", query_string=query)
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    return body["total"], [e["target_id"] for e in body["entries"]]


@pytest.mark.usefixtures("entries")
def test_the_audit_list_filters_by_door(api: Api) -> None:
    assert _listed(api, door="ui") == (1, ["ui-10"])
    assert _listed(api, door="cli") == (1, ["cli-11"])
    assert _listed(api, door="scim", action="user.update") == (1, ["scim-9"])
    assert _listed(api, door="scim", action="user.delete") == (0, [])


@pytest.mark.usefixtures("entries")
def test_the_audit_list_filters_by_time_since_inclusive_until_exclusive(api: Api) -> None:
    ten, twelve = DAY.replace(hour=10).isoformat(), DAY.replace(hour=12).isoformat()
    assert _listed(api, since=ten, until=twelve) == (2, ["cli-11", "ui-10"])
    assert _listed(api, since=ten) == (3, ["api-12", "cli-11", "ui-10"])
    assert _listed(api, until=ten) == (1, ["scim-9"])
    # Another offset names the same instant: 12:00 in Paris (CET) is 11:00 UTC.
    assert _listed(api, since="2026-03-10T12:00:00+01:00") == (2, ["api-12", "cli-11"])
    assert _listed(api, since="2026-03-10T11:00:00Z", door="cli") == (1, ["cli-11"])
    # Paged: the total is the filter's over all pages.
    total, first = _listed(api, since=ten, limit=2)
    assert total == 3 and first == ["api-12", "cli-11"]


@pytest.mark.parametrize(("query", "field"), [
    ({"since": "yesterday"}, "since"),
    ({"until": "2026-03-10T25:00:00Z"}, "until"),
    ({"since": "2026-03-10T10:00:00"}, "since"),  # no offset: which instant is unknown
    ({"since": "0001-01-01T00:00:00+14:00"}, "since"),  # before year 1 in UTC
    ({"since": "2026-03-10T12:00:00Z", "until": "2026-03-10T12:00:00Z"}, "until"),
    ({"door": "smtp"}, "door"),
    ({"door": ""}, "door"),
])
def test_a_bad_audit_filter_is_a_problem_400(api: Api,
                                             query: dict[str, str], field: str) -> None:
    answer = api.get("/audit", query_string=query)
    assert answer.status_code == 400
    assert answer.content_type == "application/problem+json"
    assert field in answer.get_data(as_text=True)


def test_the_openapi_documents_the_audit_filters(api: Api) -> None:
    doc = api.client.get("/api/v1/openapi.json").get_json()
    params = {p["name"]: p for p in doc["paths"]["/audit"]["get"]["parameters"]}
    assert params["door"]["schema"]["enum"] == ["scim", "api", "ui", "cli"]
    for name in ("since", "until"):
        assert params[name]["in"] == "query"
        assert params[name]["schema"]["format"] == "date-time"
