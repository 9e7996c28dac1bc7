"""The OpenAPI 3.1 document of the admin API, built from the registered operations and their
marshmallow schemas (apispec), so the document cannot drift from what the API validates."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import jsonify

from scim_server.api import schemas as s
from scim_server.api.routing import ADMIN, Door, operation

_PATH_PARAM = re.compile(r"<(?:[a-z]+:)?([a-z_]+)>")
PROBLEM = {"application/problem+json": {"schema": "Problem"}}


def _schema_name(schema: Any) -> str:
    cls = schema if isinstance(schema, type) else type(schema)
    return cls.__name__


def new_spec(title: str, description: str, server: str) -> APISpec:
    return APISpec(title=title, version="1", openapi_version="3.1.0",
                   plugins=[MarshmallowPlugin(schema_name_resolver=_schema_name)],
                   info={"description": description}, servers=[{"url": server}])


@lru_cache(maxsize=1)
def build_document() -> dict[str, Any]:
    spec = new_spec("SCIM server admin API", "Admin JSON API: users, lifecycle, groups, resources, "
                    "audit log and tokens. Errors are RFC 9457 problem bodies; account rule "
                    "refusals carry `rule`.", "/api/v1")
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.security_scheme("oauth2", {"type": "oauth2", "flows": {
        "clientCredentials": {"tokenUrl": "/api/v1/oauth/token", "scopes": {"api": "admin API"}}
    }})
    return document_of(spec, ADMIN, [{"bearer": []}, {"oauth2": ["api"]}])


def document_of(spec: APISpec, door: Door, security: list[dict[str, Any]]) -> dict[str, Any]:
    """The operations of ``door`` as OpenAPI paths, with their problem answers."""
    spec.components.schema("Problem", schema=s.Problem)
    paths: dict[str, dict[str, Any]] = {}
    for op in door.operations:
        path = _PATH_PARAM.sub(r"{\1}", op.rule)
        params: list[dict[str, Any]] = [
            {"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
            for n in _PATH_PARAM.findall(op.rule)
        ]
        if op.query is not None:
            params.append({"in": "query", "schema": op.query})
        responses: dict[str, Any] = {}
        if op.success is not None:
            responses[str(op.status)] = op.success
        elif op.response is not None:
            responses[str(op.status)] = {"description": "Success",
                                         "content": {"application/json": {"schema": op.response}}}
        elif op.raw:
            responses["200"] = {"description": "An OAuth 2.0 token response (RFC 6749 §5.1)"}
        else:
            responses["204"] = {"description": "Done"}
        responses["400"] = {"description": "Invalid input", "content": PROBLEM}
        if op.raw:
            # RFC 6749 §5.2: the token endpoint's errors are OAuth error bodies, not problems.
            responses["400"] = {"description": "An OAuth 2.0 error (RFC 6749 §5.2)",
                                "content": {"application/json": {"schema": {"type": "object"}}}}
        if not op.public:
            responses["401"] = {"description": "Missing or bad credentials", "content": PROBLEM}
            responses["403"] = {"description": "Not an Admin, or refused by a rule",
                                "content": PROBLEM}
        if op.raw:
            # RFC 6749 §5.2: invalid_client is a 401 (an OAuth error body, not a problem).
            responses["401"] = {"description": "Unknown client or bad secret",
                                "content": {"application/json": {"schema": {"type": "object"}}}}
        elif op.not_found if op.not_found is not None else bool(_PATH_PARAM.search(op.rule)):
            # What the path names, or an id or a token of the body (not_found=True), is not in
            # the account.
            responses["404"] = {"description": "Not found in this account", "content": PROBLEM}
        if op.rules:
            responses["409"] = {"description": "Refused by a rule", "content": PROBLEM}
        if not op.public:
            responses["429"] = {"description": "Too many requests of this credential or "
                                "account; retry after Retry-After", "content": PROBLEM}
        responses["503"] = {"description": "The database is unavailable or busy; retry after "
                            "Retry-After", "content": PROBLEM}
        if op.body is not None or op.raw:
            responses["413"] = {"description": "Request body too large", "content": PROBLEM}
        entry: dict[str, Any] = {"summary": op.summary, "tags": [op.tag],
                                 "operationId": f"{op.method.lower()}_{path}",
                                 "parameters": params, "responses": responses}
        if op.rules:
            entry["description"] = "Account rules: " + ", ".join(f"`{r}`" for r in op.rules)
        if op.body is not None:
            entry["requestBody"] = {"required": True, "content": {
                "application/json": {"schema": op.body}}}
        elif op.raw:
            entry["requestBody"] = {"required": True, "content": {
                "application/x-www-form-urlencoded": {"schema": {
                    "type": "object", "properties": {
                        "grant_type": {"type": "string", "const": "client_credentials"},
                        "client_id": {"type": "string"}, "client_secret": {"type": "string"},
                        "scope": {"type": "string"}},
                    "required": ["grant_type"]}}}}
        entry["security"] = [] if op.public else security
        paths.setdefault(path, {})[op.method.lower()] = entry
    for path, ops in paths.items():
        spec.path(path=path, operations=ops)
    return spec.to_dict()


DOCUMENT = {"description": "This OpenAPI 3.1 document",
            "content": {"application/json": {"schema": {"type": "object"}}}}


@operation("/openapi.json", "GET", summary="This document", tag="misc", public=True,
           success=DOCUMENT)
def openapi_view() -> Any:
    return jsonify(build_document())
