"""RFC 9457 problem bodies: the one place the JSON doors (the admin API, the platform API)
turn errors into responses."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify
from werkzeug.exceptions import HTTPException

from scim_server.domain.errors import InvalidInput, NotFound, RuleViolation

PROBLEM_BASE = "urn:scim-server:problem:"

# Every problem's ``type`` is a URN of this one scheme: the status's kind below, or
# ``rule:<rule id>`` for an account rule's refusal. Clients can switch on it without parsing
# titles, and the doors never mix it with ``about:blank``.
_KINDS = {
    400: "invalid-input", 401: "unauthorized", 403: "forbidden", 404: "not-found",
    405: "method-not-allowed", 406: "not-acceptable", 409: "conflict", 412: "precondition-failed",
    413: "body-too-large", 415: "unsupported-media-type", 429: "too-many-requests",
    500: "server-error", 503: "unavailable",
}


def problem_type(status: int) -> str:
    """The ``type`` of a problem that only its status describes."""
    return PROBLEM_BASE + _KINDS.get(status, f"http-{status}")


class ApiProblem(Exception):
    """An HTTP-level refusal raised by the API layer itself (auth, malformed request)."""

    def __init__(self, status: int, title: str, detail: str | None = None, *,
                 type_: str | None = None, errors: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail or title)
        self.status, self.title, self.detail = status, title, detail or title
        self.type = type_ or problem_type(status)
        self.errors, self.headers = errors, headers or {}


def problem(status: int, title: str, detail: str, *, type_: str | None = None,
            rule: str | None = None, errors: dict[str, Any] | None = None,
            headers: dict[str, str] | None = None) -> Response:
    body: dict[str, Any] = {"type": type_ or problem_type(status), "title": title,
                            "status": status, "detail": detail}
    if rule is not None:
        body["rule"] = rule
    if errors is not None:
        body["errors"] = errors
    resp = jsonify(body)
    resp.status_code = status
    resp.content_type = "application/problem+json"
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def from_api_problem(exc: ApiProblem) -> Response:
    return problem(exc.status, exc.title, exc.detail, type_=exc.type, errors=exc.errors,
                   headers=exc.headers)


def from_rule(exc: RuleViolation) -> Response:
    return problem(exc.severity.value, "Refused by an account rule", exc.message,
                   type_=PROBLEM_BASE + "rule:" + exc.rule, rule=exc.rule)


def from_not_found(exc: NotFound) -> Response:
    return problem(404, "Not found", exc.message)


def from_invalid(exc: InvalidInput) -> Response:
    errors = {exc.field: [exc.message]} if exc.field else None
    return problem(400, "Invalid input", exc.message, errors=errors)


def validation_errors(messages: Any) -> Response:
    errors = messages if isinstance(messages, dict) else {"_schema": messages}
    return problem(400, "Invalid input", "The request does not match its schema.",
                   errors=errors)


def from_http_exception(exc: HTTPException) -> Response:
    # Its headers (Retry-After of a 429, Allow of a 405) but not its HTML content type.
    headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
    return problem(exc.code or 500, exc.name, exc.description or exc.name, headers=headers)


def answer_with_problems(blueprint: Blueprint) -> None:
    """Every error of the door's requests as a problem body."""
    blueprint.register_error_handler(ApiProblem, from_api_problem)
    blueprint.register_error_handler(RuleViolation, from_rule)
    blueprint.register_error_handler(NotFound, from_not_found)
    blueprint.register_error_handler(InvalidInput, from_invalid)
    blueprint.register_error_handler(HTTPException, from_http_exception)
