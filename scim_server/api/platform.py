"""The platform API (``/platform/v1``): the operator's systems create, change, suspend and
delete accounts. Authenticated by operator tokens only (``domain.operators``): account tokens
are not valid here, and operator tokens are valid nowhere else. Errors are problem+json with
rule ids, as on the admin API; its OpenAPI document is ``/platform/v1/openapi.json``."""

from __future__ import annotations

import base64
import binascii
from functools import lru_cache
from typing import Any

from flask import Flask, current_app, g, jsonify, request
from marshmallow import RAISE, Schema, fields, validate

from scim_server.api.openapi import DOCUMENT, document_of, new_spec
from scim_server.api.problems import ApiProblem, answer_with_problems
from scim_server.api.routing import Door
from scim_server.domain import accounts as operator
from scim_server.domain.credentials import issue_credential
from scim_server.domain.errors import InvalidInput, NotFound, RuleViolation, Severity
from scim_server.domain.operators import authenticate_operator
from scim_server.settings import Settings

PLATFORM = Door("platform_v1", "/platform/v1")
ACCOUNTS = "accounts"


class _Strict(Schema):
    class Meta:
        unknown = RAISE


def _domains() -> fields.List:
    # Checked by the domain (``domain.accounts``), as for the command line.
    return fields.List(fields.String(validate=validate.Length(1, 253)),
                       validate=validate.Length(1, 50))


def _limit_field() -> fields.Integer:
    return fields.Integer(strict=True, validate=validate.Range(1, 10**9))


class AccountCreate(_Strict):
    name = fields.String(required=True, validate=validate.Length(1, 100))
    domains = _domains()
    plan = fields.String(validate=validate.Length(1, 50))
    seats = _limit_field()
    operators = _limit_field()


class AccountPatch(_Strict):
    plan = fields.String(validate=validate.Length(1, 50))
    seats = _limit_field()
    operators = _limit_field()
    domains = _domains()
    force = fields.Boolean(metadata={"description": "allow a limit below the account's usage"})
    rate_limit_per_second = fields.Integer(strict=True, allow_none=True,
                                           validate=validate.Range(0, 10**9))
    rate_limit_burst = fields.Integer(strict=True, allow_none=True,
                                      validate=validate.Range(1, 10**9))


class AccountListQuery(_Strict):
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 500))
    cursor = fields.String(validate=validate.Length(1, 400))


class TokenCreate(_Strict):
    name = fields.String(validate=validate.Length(1, 200))


class AccountOut(Schema):
    id = fields.String()
    name = fields.String()
    status = fields.String(metadata={"enum": ["active", "suspended"]})
    plan = fields.String()
    domains = fields.List(fields.String())
    seats_used = fields.Integer()
    seats_limit = fields.Integer()
    operators_used = fields.Integer()
    operators_limit = fields.Integer()
    users = fields.Integer()
    rate_limit_per_second = fields.Integer(allow_none=True,
                                           metadata={"description": "null: the server's"})
    rate_limit_burst = fields.Integer(allow_none=True)
    created_at = fields.DateTime()
    suspended_at = fields.DateTime(allow_none=True)
    last_scim_activity = fields.DateTime(allow_none=True)


class AccountPageOut(Schema):
    total = fields.Integer(metadata={"description": "how many accounts there are, over all "
                                                  "the pages"})
    accounts = fields.List(fields.Nested(AccountOut))
    next_cursor = fields.String(allow_none=True)


class OpenedAccountOut(AccountOut):
    scim_base_url = fields.String()
    scim_token = fields.String(metadata={"description": "Shown this once only."})
    admin_email = fields.String()
    admin_password = fields.String(metadata={"description": "Shown this once only."})


class IssuedScimTokenOut(Schema):
    token_id = fields.String()
    token = fields.String(metadata={"description": "Shown this once only."})
    user = fields.String()
    scim_base_url = fields.String()


def _settings() -> Settings:
    settings: Settings = current_app.config["SCIM_SETTINGS"]
    return settings


def _scim_base_url() -> str:
    return _settings().base_url.rstrip("/") + "/scim/v2"


def _view(account: Any) -> dict[str, Any]:
    (overview,) = operator.account_overviews(g.db, account)
    return operator.account_view(overview)


def _account(account_id: str) -> Any:
    account = g.db.get(operator.Account, account_id)
    if account is None:
        raise NotFound(f"no account {account_id}")
    return account


@PLATFORM.operation("/accounts", "POST", summary="Create an account, its first Admin and a SCIM "
                   "token (secrets shown once)", tag=ACCOUNTS, body=AccountCreate,
                   response=OpenedAccountOut, status=201,
                   rules=("account.name_taken", "plan.unknown", "plan.invalid"))
def create_account(body: dict[str, Any]) -> dict[str, Any]:
    domains = body.get("domains") or ["example.com"]
    opened = operator.open_account(
        g.db, name=body["name"], domain=domains[0], more_domains=domains[1:],
        plan=body.get("plan", operator.DEFAULT_PLAN), seats=body.get("seats"),
        operators=body.get("operators"))
    return {**_view(opened.account), "scim_base_url": _scim_base_url(),
            "scim_token": opened.scim_token, "admin_email": opened.admin_email,
            "admin_password": opened.admin_password}


def _cursor_of(name: str) -> str:
    return base64.urlsafe_b64encode(name.encode()).decode().rstrip("=")


def _name_of(cursor: str) -> str:
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidInput("the cursor is not one this API gave", field="cursor") from None


@PLATFORM.operation("/accounts", "GET", summary="The accounts by name, a page at a time",
                    tag=ACCOUNTS, query=AccountListQuery, response=AccountPageOut)
def list_accounts(query: dict[str, Any]) -> dict[str, Any]:
    after = _name_of(query["cursor"]) if "cursor" in query else None
    page = operator.account_overviews(g.db, after=after, limit=query["limit"] + 1)
    more = len(page) > query["limit"]
    page = page[: query["limit"]]
    return {"total": operator.count_accounts(g.db), "accounts": [operator.account_view(o) for o in page],
            "next_cursor": _cursor_of(page[-1].account.name) if more else None}


@PLATFORM.operation("/accounts/<account_id>", "GET", summary="One account", tag=ACCOUNTS,
                    response=AccountOut)
def get_account(account_id: str) -> dict[str, Any]:
    return _view(_account(account_id))


@PLATFORM.operation("/accounts/<account_id>", "PATCH", summary="Change an account's plan, "
                    "limits, domains or rate limit", tag=ACCOUNTS, body=AccountPatch,
                    response=AccountOut,
                    rules=("plan.unknown", "plan.invalid", "plan.below_usage"))
def update_account(account_id: str, body: dict[str, Any]) -> dict[str, Any]:
    account = _account(account_id)
    operator.update_account(g.db, account, plan=body.get("plan"), seats=body.get("seats"),
                            operators=body.get("operators"), domains=body.get("domains"),
                            force=body.get("force", False))
    if "rate_limit_per_second" in body or "rate_limit_burst" in body:
        operator.set_rate_limit(
            g.db, account,
            per_second=body.get("rate_limit_per_second", account.rate_limit_per_second),
            burst=body.get("rate_limit_burst", account.rate_limit_burst),
            actor=operator.OPERATOR)
    return _view(account)


@PLATFORM.operation("/accounts/<account_id>", "DELETE", summary="Erase an account and every "
                    "row of it, irreversibly", tag=ACCOUNTS)
def delete_account(account_id: str) -> None:
    operator.delete_account(g.db, _account(account_id))


@PLATFORM.operation("/accounts/<account_id>/suspend", "POST", summary="Suspend an account: "
                    "its tokens and sign-ins are refused, nothing is deleted", tag=ACCOUNTS,
                    response=AccountOut)
def suspend_account(account_id: str) -> dict[str, Any]:
    return _view(operator.set_account_status(g.db, _account(account_id), "suspended"))


@PLATFORM.operation("/accounts/<account_id>/resume", "POST", summary="End a suspension",
                    tag=ACCOUNTS, response=AccountOut)
def resume_account(account_id: str) -> dict[str, Any]:
    return _view(operator.set_account_status(g.db, _account(account_id), "active"))


@PLATFORM.operation("/accounts/<account_id>/scim-tokens", "POST", summary="Issue a SCIM token "
                    "to the account's first Admin (shown once)", tag=ACCOUNTS, body=TokenCreate,
                    response=IssuedScimTokenOut, status=201, rules=("token.requires_admin",))
def issue_scim_token(account_id: str, body: dict[str, Any]) -> dict[str, Any]:
    account = _account(account_id)
    admin = operator.first_admin(g.db, account)
    if admin is None:
        raise RuleViolation("token.requires_admin", "the account has no active Admin",
                            Severity.CONFLICT)
    issued = issue_credential(g.db, account, admin, kind="scim", name=body.get("name"))
    return {"token_id": issued.credential.id, "token": issued.secret, "user": admin.email,
            "scim_base_url": _scim_base_url()}


@lru_cache(maxsize=1)
def build_document() -> dict[str, Any]:
    spec = new_spec("SCIM server platform API", "The platform operator's API: accounts, plans "
                    "and suspension. Operator tokens only. Errors are RFC 9457 problem bodies; "
                    "rule refusals carry `rule`.", "/platform/v1")
    spec.components.security_scheme("operator", {"type": "http", "scheme": "bearer"})
    return document_of(spec, PLATFORM, [{"operator": []}])


@PLATFORM.operation("/openapi.json", "GET", summary="This document", tag="misc", public=True,
                    success=DOCUMENT)
def openapi_view() -> Any:
    return jsonify(build_document())


blueprint = PLATFORM.blueprint
answer_with_problems(blueprint)


@blueprint.before_request
def authenticate() -> None:
    if request.endpoint in PLATFORM.public_endpoints or request.endpoint is None:
        return
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    token = authenticate_operator(g.db, secret.strip()) if scheme.lower() == "bearer" else None
    if token is None:
        raise ApiProblem(401, "Unauthorized", "Send an operator token as a Bearer token.",
                         headers={"WWW-Authenticate": 'Bearer realm="platform"'})
    g.operator_token = token


def init_app(app: Flask) -> None:
    app.register_blueprint(blueprint)
