"""The interoperability scenarios: the Microsoft Entra SCIM Validator's tests and Okta's SCIM 2.0
test plan, replayed with the bodies those clients send, and the table of their results.

Sources (bodies as published; the values the tools randomise are fixed here, and ids are the
ones this server issued):

- ENTRA_VALIDATOR: "Tutorial: Validate a SCIM endpoint", https://learn.microsoft.com/en-us/entra/
  identity/app-provisioning/scim-validator-tutorial, whose tool (https://scimvalidator.microsoft.com)
  names each test "<METHOD> <endpoint> - <title>"; the bodies are Entra's own shapes from
  "Known issues and resolutions with SCIM 2.0 protocol compliance" (capitalised ``op``, string
  booleans, removal of members by value), as tests/compliance/test_entra_replay.py cites them.
- OKTA_PLAN: Okta's "SCIM 2.0 Spec Test" (the Runscope test plan Okta asks integrators to pass,
  https://developer.okta.com/docs/guides/scim-provisioning-integration-prepare/main/), with the
  bodies of "Okta and SCIM Version 2.0", https://developer.okta.com/docs/api/openapi/okta-scim/
  guides/scim-20.

``python -m tests.compliance.interop`` runs every scenario on a fresh SQLite database and writes
``docs/interop.md``; tests/compliance/test_interop.py runs them on both engines and fails when the
committed table is not the one the scenarios give.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

from flask import g, request_finished

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"

ENTRA_VALIDATOR = ("https://learn.microsoft.com/en-us/entra/identity/app-provisioning/"
                   "scim-validator-tutorial")
OKTA_PLAN = "https://developer.okta.com/docs/guides/scim-provisioning-integration-prepare/main/"

ENTRA_HEADERS = {"Accept": "application/scim+json"}
OKTA_HEADERS = {"User-Agent": "Okta SCIM Client 1.0.0", "Accept": "application/scim+json"}
OKTA_JSON = "application/json; charset=utf-8"

Context = dict[str, Any]
Check = Callable[[Context, Any], None]


@dataclass(frozen=True)
class Step:
    method: str
    path: str  # formatted with the context (ids a previous step saved)
    body: Callable[[Context], Any] | None = None
    status: int = 200
    check: Check | None = None


@dataclass(frozen=True)
class Scenario:
    idp: str
    title: str
    steps: tuple[Step, ...]
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/scim+json"


@dataclass(frozen=True)
class Result:
    idp: str
    title: str
    passed: bool
    detail: str = ""
    quirks: tuple[str, ...] = ()  # the tolerances its requests needed (docs/quirks.md)


def patch(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


def saves(key: str) -> Check:
    def check(context: Context, document: Any) -> None:
        context[key] = document["id"]
    return check


def found(count: int, key: str | None = None) -> Check:
    def check(context: Context, document: Any) -> None:
        assert document["schemas"] == [LIST], document
        assert document["totalResults"] == count, document
        assert len(document.get("Resources", [])) == count, document
        if key is not None:
            assert document["Resources"][0]["id"] == context[key], document
    return check


def equals(**expected: Any) -> Check:
    """Top-level attributes of the answered resource (dotted names go one level down)."""
    def check(context: Context, document: Any) -> None:
        for name, value in expected.items():
            head, _, sub = name.partition("__")
            actual = document.get(head) if not sub else (document.get(head) or {}).get(sub)
            assert actual == value, f"{name}: {actual!r} != {value!r}"
    return check


def all_of(*checks: Check) -> Check:
    def check(context: Context, document: Any) -> None:
        for one in checks:
            one(context, document)
    return check


def members(*keys: str) -> Check:
    def check(context: Context, document: Any) -> None:
        got = sorted(m["value"] for m in document.get("members") or [])
        assert got == sorted(context[k] for k in keys), document.get("members")
    return check


def no_members(context: Context, document: Any) -> None:
    assert "members" not in document, document


# -- Microsoft Entra SCIM Validator -------------------------------------------------------------

ENTRA_USER_NAME = "dale.mohr@romaguera.example"


def entra_user(user_name: str = ENTRA_USER_NAME, external_id: str = "9950b140-90a0-4201-9d65-"
               "b5f209fb4cd0") -> Callable[[Context], Any]:
    # The validator's "Initial Resource Creation Request" (default attributes).
    return lambda _: {
        "active": True,
        "displayName": "XKWLCONOGMVT",
        "emails": [{"type": "work", "value": "aric.nia@prohaska.example"}],
        "externalId": external_id,
        "name": {"formatted": "Aric", "familyName": "Nia", "givenName": "Sandy"},
        "schemas": [USER, ENTERPRISE],
        ENTERPRISE: {"department": "Sales", "employeeNumber": "QGQTEJBPFYFE"},
        "userName": user_name,
    }


def entra_group(name: str = "VNNRZXBOFUDY") -> Callable[[Context], Any]:
    return lambda _: {"displayName": name, "externalId": "c7c8b5e0-3c0f-4a8c-9f0e-0c1e3c1f2a7d",
                      "schemas": [GROUP]}


CREATE_USER = Step("POST", "/Users", entra_user(), 201,
                   all_of(saves("user"), equals(userName=ENTRA_USER_NAME, active=True)))
CREATE_GROUP = Step("POST", "/Groups", entra_group(), 201,
                    all_of(saves("group"), equals(displayName="VNNRZXBOFUDY")))


def _entra(title: str, *steps: Step) -> Scenario:
    return Scenario("Microsoft Entra ID", title, steps, ENTRA_HEADERS)


ENTRA = (
    _entra("POST /Users - Create a new User", CREATE_USER,
           Step("GET", "/Users/{user}", check=equals(
               externalId="9950b140-90a0-4201-9d65-b5f209fb4cd0",
               name={"formatted": "Aric", "familyName": "Nia", "givenName": "Sandy"}))),
    _entra("GET /Users/Id - Retrieve a User", CREATE_USER,
           Step("GET", "/Users/{user}", check=equals(userName=ENTRA_USER_NAME))),
    _entra("GET /Users?filter - Filter for an existing user", CREATE_USER,
           Step("GET", "/Users?filter=" + quote(f'userName eq "{ENTRA_USER_NAME}"'),
                check=found(1, "user"))),
    _entra("GET /Users?filter - Filter for a non-existing user",
           Step("GET", "/Users?filter=" + quote('userName eq "nobody@romaguera.example"'),
                check=found(0))),
    _entra("GET /Users?filter - Filter for an existing user with a different case", CREATE_USER,
           Step("GET", "/Users?filter=" + quote(f'userName eq "{ENTRA_USER_NAME.upper()}"'),
                check=found(1, "user"))),
    _entra("PATCH /Users/Id - Patch User - Replace Attributes", CREATE_USER,
           Step("PATCH", "/Users/{user}", lambda _: patch(
               {"op": "Replace", "path": "displayName", "value": "WZKQGTJXNLBM"},
               {"op": "Replace", "path": 'emails[type eq "work"].value',
                "value": "sandy.nia@prohaska.example"},
               {"op": "Replace", "path": "name.familyName", "value": "Kub"},
               {"op": "Replace", "path": f"{ENTERPRISE}:department", "value": "Marketing"}),
                check=equals(displayName="WZKQGTJXNLBM", name__familyName="Kub")),
           Step("GET", "/Users/{user}", check=all_of(
               equals(displayName="WZKQGTJXNLBM"),
               lambda c, d: _assert(d["emails"][0]["value"] == "sandy.nia@prohaska.example", d),
               lambda c, d: _assert(d[ENTERPRISE]["department"] == "Marketing", d)))),
    _entra("PATCH /Users/Id - Patch User - Update userName", CREATE_USER,
           Step("PATCH", "/Users/{user}", lambda _: patch(
               {"op": "Replace", "path": "userName", "value": "mohr.dale@romaguera.example"}),
                check=equals(userName="mohr.dale@romaguera.example")),
           Step("GET", "/Users?filter=" + quote('userName eq "mohr.dale@romaguera.example"'),
                check=found(1, "user"))),
    _entra("PATCH /Users/Id - Patch User - Disable User", CREATE_USER,
           Step("PATCH", "/Users/{user}", lambda _: patch(
               {"op": "Replace", "path": "active", "value": "False"}),
                check=equals(active=False)),
           Step("GET", "/Users?filter=" + quote(f'userName eq "{ENTRA_USER_NAME}"'),
                check=lambda c, d: _assert(d["Resources"][0]["active"] is False, d))),
    _entra("PATCH /Users/Id - Patch User - Add Manager", CREATE_USER,
           Step("POST", "/Users", entra_user("boss@romaguera.example", "b0551234"), 201,
                saves("manager")),
           Step("PATCH", "/Users/{user}", lambda c: patch(
               {"op": "Add", "path": f"{ENTERPRISE}:manager", "value": c["manager"]})),
           Step("GET", "/Users/{user}", check=lambda c, d: _assert(
               d[ENTERPRISE]["manager"]["value"] == c["manager"], d))),
    _entra("POST /Users - Create a duplicate User", CREATE_USER,
           Step("POST", "/Users", entra_user(), 409,
                lambda c, d: _assert(d.get("scimType") == "uniqueness", d))),
    _entra("DELETE /Users/Id - Delete a User", CREATE_USER,
           Step("DELETE", "/Users/{user}", status=204),
           Step("GET", "/Users/{user}", status=404)),
    _entra("POST /Groups - Create a new Group", CREATE_GROUP,
           Step("GET", "/Groups/{group}", check=equals(displayName="VNNRZXBOFUDY"))),
    _entra("GET /Groups/Id - Retrieve a Group", CREATE_GROUP,
           Step("GET", "/Groups/{group}?excludedAttributes=members",
                check=all_of(equals(displayName="VNNRZXBOFUDY"), no_members))),
    _entra("GET /Groups?filter - Filter for an existing group excluding members", CREATE_GROUP,
           Step("GET", "/Groups?excludedAttributes=members&filter="
                + quote('displayName eq "VNNRZXBOFUDY"'),
                check=all_of(found(1, "group"),
                             lambda c, d: no_members(c, d["Resources"][0])))),
    _entra("GET /Groups?filter - Filter for a non-existing group",
           Step("GET", "/Groups?excludedAttributes=members&filter="
                + quote('displayName eq "NOSUCHGROUP"'), check=found(0))),
    _entra("PATCH /Groups/Id - Patch Group - Add Member", CREATE_USER, CREATE_GROUP,
           Step("PATCH", "/Groups/{group}", lambda c: patch(
               {"op": "Add", "path": "members", "value": [{"value": c["user"]}]}), 204),
           Step("GET", "/Groups/{group}", check=members("user"))),
    _entra("PATCH /Groups/Id - Patch Group - Remove Member", CREATE_USER, CREATE_GROUP,
           Step("PATCH", "/Groups/{group}", lambda c: patch(
               {"op": "Add", "path": "members", "value": [{"value": c["user"]}]}), 204),
           Step("PATCH", "/Groups/{group}", lambda c: patch(
               {"op": "Remove", "path": "members", "value": [{"value": c["user"]}]}), 204),
           Step("GET", "/Groups/{group}", check=members())),
    _entra("PATCH /Groups/Id - Patch Group - Replace Attributes", CREATE_GROUP,
           Step("PATCH", "/Groups/{group}", lambda _: patch(
               {"op": "Replace", "path": "displayName", "value": "OQYHWFZMKPLD"}), 204),
           Step("GET", "/Groups/{group}", check=equals(displayName="OQYHWFZMKPLD"))),
    _entra("POST /Groups - Create a duplicate Group", CREATE_GROUP,
           Step("POST", "/Groups", entra_group(), 409,
                lambda c, d: _assert(d.get("scimType") == "uniqueness", d))),
    _entra("DELETE /Groups/Id - Delete a Group", CREATE_GROUP,
           Step("DELETE", "/Groups/{group}", status=204),
           Step("GET", "/Groups/{group}", status=404)),
)


# -- Okta SCIM 2.0 Spec Test ---------------------------------------------------------------------

OKTA_USER_NAME = "test.user@okta.example"


def okta_user_body(user_name: str = OKTA_USER_NAME) -> dict[str, Any]:
    # "Create the User" in "Okta and SCIM Version 2.0".
    return {
        "schemas": [USER],
        "userName": user_name,
        "name": {"givenName": "Test", "familyName": "User"},
        "emails": [{"primary": True, "value": user_name, "type": "work"}],
        "displayName": "Test User",
        "locale": "en-US",
        "externalId": "00ujl29u0le5T6Aj10h7",
        "groups": [],
        "password": "1mz050nq",
        "active": True,
    }


def okta_user(user_name: str = OKTA_USER_NAME) -> Callable[[Context], Any]:
    return lambda _: okta_user_body(user_name)


OKTA_CREATE = Step("POST", "/Users", okta_user(), 201,
                   all_of(saves("user"), equals(userName=OKTA_USER_NAME, active=True)))


def _okta(title: str, *steps: Step) -> Scenario:
    return Scenario("Okta", title, steps, OKTA_HEADERS, OKTA_JSON)


OKTA = (
    _okta("Required Test: Test Users endpoint",
          Step("GET", "/Users?count=1&startIndex=1", check=lambda c, d: _assert(
              d["schemas"] == [LIST] and "totalResults" in d and d["startIndex"] == 1, d))),
    _okta("Required Test: Get Users/{{id}}", OKTA_CREATE,
          # The plan reads the first user of the list, then that user by its id.
          Step("GET", "/Users?count=1&startIndex=1", check=lambda c, d: c.update(
              first=d["Resources"][0]["id"], first_name=d["Resources"][0]["userName"])),
          Step("GET", "/Users/{first}", check=lambda c, d: _assert(
              d["id"] == c["first"] and d["userName"] == c["first_name"], d))),
    _okta("Required Test: Test invalid User by username",
          Step("GET", "/Users?filter=" + quote('userName eq "invalid-user@okta.example"')
               + "&startIndex=1&count=100", check=found(0))),
    _okta("Required Test: Test invalid User by ID",
          Step("GET", "/Users/010101001010101010", status=404,
               check=lambda c, d: _assert(d.get("status") == "404", d))),
    _okta("Required Test: Make sure random user doesn't exist",
          Step("GET", "/Users?filter=" + quote(f'userName eq "{OKTA_USER_NAME}"'),
               check=found(0))),
    _okta("Required Test: Create Okta user with realistic values", OKTA_CREATE),
    _okta("Required Test: Verify that user was created", OKTA_CREATE,
          Step("GET", "/Users?filter=" + quote(f'userName eq "{OKTA_USER_NAME}"'),
               check=found(1, "user")),
          Step("GET", "/Users/{user}", check=all_of(
              equals(userName=OKTA_USER_NAME, name={"givenName": "Test", "familyName": "User"}),
              lambda c, d: _assert("password" not in d, d)))),
    _okta("Required Test: Expect failure when recreating user with same values", OKTA_CREATE,
          Step("POST", "/Users", okta_user(), 409)),
    _okta("Required Test: Username Case Sensitivity Check", OKTA_CREATE,
          Step("GET", "/Users?filter=" + quote(f'userName eq "{OKTA_USER_NAME.upper()}"'),
               check=found(1, "user"))),
    _okta("Optional Test: Verify Groups endpoint",
          Step("GET", "/Groups?count=1&startIndex=1", check=lambda c, d: _assert(
              d["schemas"] == [LIST] and "totalResults" in d, d))),
    _okta("Update user profile (PUT)", OKTA_CREATE,
          Step("PUT", "/Users/{user}", lambda c: {
              **okta_user()(c), "id": c["user"], "name": {"givenName": "Another",
                                                          "familyName": "User"}},
               check=equals(name={"givenName": "Another", "familyName": "User"}))),
    _okta("Deactivate and reactivate user (PATCH active)", OKTA_CREATE,
          Step("PATCH", "/Users/{user}", lambda _: patch(
              {"op": "replace", "value": {"active": False}}), check=equals(active=False)),
          Step("PATCH", "/Users/{user}", lambda _: patch(
              {"op": "replace", "value": {"active": True}}), check=equals(active=True))),
    _okta("Push group, add and remove members, rename, delete", OKTA_CREATE,
          Step("POST", "/Groups", lambda c: {
              "schemas": [GROUP], "displayName": "Test SCIMv2",
              "members": [{"value": c["user"], "display": OKTA_USER_NAME}]}, 201,
               all_of(saves("group"), members("user"))),
          Step("PATCH", "/Groups/{group}", lambda c: patch(
              {"op": "remove", "path": f'members[value eq "{c["user"]}"]'}), 204),
          Step("PATCH", "/Groups/{group}", lambda c: patch(
              {"op": "add", "path": "members",
               "value": [{"value": c["user"], "display": OKTA_USER_NAME}]}), 204),
          Step("PATCH", "/Groups/{group}", lambda c: patch(
              {"op": "replace", "value": {"id": c["group"], "displayName": "Test SCIMv2 bis"}}),
               204),
          Step("GET", "/Groups/{group}", check=all_of(
              equals(displayName="Test SCIMv2 bis"), members("user"))),
          Step("DELETE", "/Groups/{group}", status=204),
          Step("GET", "/Groups/{group}", status=404)),
)

SCENARIOS: tuple[Scenario, ...] = ENTRA + OKTA


def _assert(condition: bool, document: Any) -> None:
    assert condition, document


# -- running ---------------------------------------------------------------------------------------


def run(scenario: Scenario, request: Callable[..., Any]) -> Result:
    """Run a scenario's steps with ``request(method, path, body, headers=, content_type=)``
    (a tests.scim.conftest.ScimClient's); the first step that answers otherwise fails it."""
    context: Context = {}
    for number, step in enumerate(scenario.steps, 1):
        path = step.path.format(**context)
        body = step.body(context) if step.body else None
        response = request(step.method, path, body, headers=scenario.headers,
                           content_type=scenario.content_type)
        where = f"step {number}, {step.method} {step.path}"
        if response.status_code != step.status:
            return Result(scenario.idp, scenario.title, False,
                          f"{where}: {response.status_code} instead of {step.status}: "
                          f"{response.get_data(as_text=True)[:300]}")
        if step.check is not None:
            try:
                step.check(context, response.get_json())
            except (AssertionError, KeyError, IndexError, TypeError) as exc:
                return Result(scenario.idp, scenario.title, False, f"{where}: {exc!r}"[:400])
    return Result(scenario.idp, scenario.title, True)


def table(results: list[Result]) -> str:
    lines = [
        "# Interoperability",
        "",
        "Generated by `python -m tests.compliance.interop` from the scenarios in",
        "`tests/compliance/interop.py` (their sources are cited there); CI fails when this file",
        "is not what the scenarios give. Each scenario runs on a fresh account, with the headers",
        "and bodies the identity provider sends. The quirks are the tolerances its requests needed",
        "beyond RFC 7644, by their ids in [quirks.md](quirks.md).",
        "",
        "| Identity provider | Scenario | Result | Quirks needed |",
        "|---|---|---|---|",
    ]
    for result in results:
        outcome = "passes" if result.passed else f"fails: {result.detail}"
        title = result.title.replace("|", "\\|")
        quirks = ", ".join(f"`{q}`" for q in result.quirks) or "none"
        lines.append(f"| {result.idp} | {title} | {outcome} | {quirks} |")
    passed = sum(r.passed for r in results)
    lines += ["", f"{passed} of {len(results)} scenarios pass.", ""]
    return "\n".join(lines)


TABLE = Path(__file__).resolve().parents[2] / "docs" / "interop.md"


def run_all(app: Any) -> list[Result]:
    """Every scenario, each on a fresh account of ``app`` (a Flask app on a migrated database)."""
    from scim_server.cli import create_account
    from scim_server.db import make_session_factory
    from tests.scim.conftest import ScimClient

    factory = make_session_factory(app.extensions["scim_engine"])
    seen: set[str] = set()

    def record(_sender: Any, **_extra: Any) -> None:
        seen.update(g.get("scim_quirks") or ())

    results = []
    request_finished.connect(record, app)
    try:
        for number, scenario in enumerate(SCENARIOS):
            with factory() as session:
                made = create_account(session, app.config["SCIM_SETTINGS"], f"interop{number}",
                                      f"interop{number}.example")
            seen.clear()
            result = run(scenario, ScimClient(app.test_client(), made["scim_token"]).request)
            results.append(replace(result, quirks=tuple(sorted(seen))))
    finally:
        request_finished.disconnect(record, app)
    return results


def main() -> int:
    """Run every scenario on a fresh SQLite database and write docs/interop.md."""
    from argon2 import PasswordHasher

    import scim_server.domain.accounts
    from scim_server.app import create_app
    from scim_server.db import make_engine
    from scim_server.migrate import upgrade
    from scim_server.settings import Settings

    # Each account's first Admin gets a password nobody signs in with: a cheap hash will do.
    scim_server.domain.accounts.hash_password = PasswordHasher(  # type: ignore[attr-defined]
        time_cost=1, memory_cost=8, parallelism=1).hash
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/interop.db"
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        app = create_app(Settings.from_env(
            {}, database_url=url, secret_key="interop-table-secret-0123456789",
            rate_limit_per_second=10**6, rate_limit_burst=10**6))
        results = run_all(app)
    TABLE.write_text(table(results))
    failed = [r for r in results if not r.passed]
    for result in failed:
        print(f"FAILED {result.idp}: {result.title}: {result.detail}", file=sys.stderr)
    print(f"wrote {TABLE} ({len(results) - len(failed)} of {len(results)} pass)")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
