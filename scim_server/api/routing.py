"""A JSON door (the admin API, the platform API): its blueprint, and its ``operation``
decorator: parse and validate the query and the body with their schemas, call the view, dump
its result with the response schema, and record the operation for the door's OpenAPI
document."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from marshmallow import Schema, ValidationError

from scim_server.api.problems import ApiProblem
from scim_server.domain.text import unstorable


@dataclass
class Operation:
    rule: str
    method: str
    summary: str
    tag: str
    body: type[Schema] | None
    query: type[Schema] | None
    response: type[Schema] | None
    status: int
    public: bool
    rules: tuple[str, ...] = field(default_factory=tuple)
    raw: bool = False
    # Whether the operation can answer 404 (None: when its path names something).
    not_found: bool | None = None
    # The success answer as the document says it, when no response schema describes it.
    success: dict[str, Any] | None = None


def _read_json() -> Any:
    max_bytes = current_app.config["SCIM_SETTINGS"].max_body_bytes
    if request.content_length is not None and request.content_length > max_bytes:
        raise ApiProblem(413, "Request body too large", f"The body exceeds {max_bytes} bytes.")
    raw = request.get_data(cache=True)
    if len(raw) > max_bytes:
        raise ApiProblem(413, "Request body too large", f"The body exceeds {max_bytes} bytes.")
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiProblem(400, "Malformed JSON", f"The body is not valid JSON: {exc}") from None


def _load(schema_cls: type[Schema], data: Any, where: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ApiProblem(400, "Invalid input", f"The {where} must be a JSON object.")
    # Marshmallow lets both through any string field, and a notifications dict holds anything.
    errors = {str(key): [reason] for key, value in data.items()
              if (reason := unstorable(key) or unstorable(value)) is not None}
    if errors:
        raise ApiProblem(400, "Invalid input", f"The {where} does not match its schema.",
                         errors=errors)
    try:
        return schema_cls().load(data)  # type: ignore[no-any-return]
    except ValidationError as exc:
        raise ApiProblem(400, "Invalid input", f"The {where} does not match its schema.",
                         errors=exc.normalized_messages()) from None


class Door:
    """One JSON API under its own prefix: its blueprint, operations and public endpoints."""

    def __init__(self, name: str, prefix: str) -> None:
        self.blueprint = Blueprint(name, __name__, url_prefix=prefix)
        self.operations: list[Operation] = []
        self.public_endpoints: set[str] = set()

    def operation(self, rule: str, method: str, *, summary: str, tag: str,
                  body: type[Schema] | None = None, query: type[Schema] | None = None,
                  response: type[Schema] | None = None, status: int = 200, public: bool = False,
                  rules: tuple[str, ...] = (), raw: bool = False, not_found: bool | None = None,
                  success: dict[str, Any] | None = None,
                  ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
            @wraps(view)
            def wrapper(**path: Any) -> Any:
                kwargs: dict[str, Any] = dict(path)
                if raw:  # the view reads the request itself (the form-encoded OAuth endpoint)
                    return view(**kwargs)
                if query is not None:
                    repeated = [k for k in request.args if len(request.args.getlist(k)) > 1]
                    if repeated:
                        raise ApiProblem(400, "Invalid input", "A query parameter is repeated.",
                                         errors={k: ["Repeated."] for k in repeated})
                    args = dict(request.args.items())
                    kwargs["query"] = _load(query, args, "query string")
                elif request.args:
                    raise ApiProblem(400, "Invalid input", "This operation takes no query parameters.",
                                     errors={k: ["Unknown field."] for k in request.args})
                if body is not None:
                    kwargs["body"] = _load(body, _read_json(), "body")
                elif method in ("POST", "PUT", "PATCH", "DELETE") and _read_json() not in ({}, None):
                    raise ApiProblem(400, "Invalid input", "This operation takes no body.")
                result = view(**kwargs)
                if isinstance(result, Response):
                    return result
                if response is None:
                    return Response(status=status if status != 200 else 204)
                resp = jsonify(response().dump(result))
                resp.status_code = status
                return resp

            endpoint = f"{view.__name__}"
            self.blueprint.add_url_rule(rule, endpoint=endpoint, view_func=wrapper, methods=[method])
            if public:
                self.public_endpoints.add(f"{self.blueprint.name}.{endpoint}")
            self.operations.append(Operation(rule, method, summary, tag, body, query, response, status,
                                        public, rules, raw, not_found, success))
            return wrapper

        return decorator


ADMIN = Door("api_v1", "/api/v1")
blueprint, operation = ADMIN.blueprint, ADMIN.operation
OPERATIONS, PUBLIC_ENDPOINTS = ADMIN.operations, ADMIN.public_endpoints
