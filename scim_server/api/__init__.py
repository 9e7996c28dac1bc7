"""The admin JSON API (``/api/v1``): authentication, problem bodies, the operations and their
OpenAPI document. The app factory calls :func:`init_app` (or registers ``blueprint``)."""

from __future__ import annotations

from flask import Flask, Response, current_app, request
from werkzeug.exceptions import HTTPException

from scim_server.api import (  # noqa: F401  (register the operations)
    auth,
    hub,  # noqa: F401  (the hub's operations)
    openapi,
    platform,
    views,
)
from scim_server.api.problems import (
    ApiProblem,
    from_api_problem,
    from_invalid,
    from_not_found,
    from_rule,
    problem,
)
from scim_server.api.routing import blueprint
from scim_server.domain.errors import InvalidInput, NotFound, RuleViolation

__all__ = ["blueprint", "init_app"]

blueprint.register_error_handler(ApiProblem, from_api_problem)
blueprint.register_error_handler(RuleViolation, from_rule)
blueprint.register_error_handler(NotFound, from_not_found)
blueprint.register_error_handler(InvalidInput, from_invalid)


@blueprint.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Response:
    # Its headers (Retry-After of a 429, Allow of a 405) but not its HTML content type.
    headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
    return problem(exc.code or 500, exc.name, exc.description or exc.name, headers=headers)


_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


@blueprint.route("/<path:_unknown>", methods=_METHODS)
def _no_such_operation(_unknown: str) -> Response:
    # This route takes every method of every path, so it also sees a known path asked with a
    # method it does not have: that is a 405 with Allow (RFC 9110 §15.5.6), not a 404.
    adapter = current_app.url_map.bind_to_environ(request.environ)
    allowed = []
    for method in _METHODS:
        try:
            endpoint, _ = adapter.match(request.path, method=method)
        except HTTPException:
            continue
        if endpoint != request.endpoint:
            allowed.append(method)
    if allowed:
        return problem(405, "Method Not Allowed", "This operation does not take this method.",
                       headers={"Allow": ", ".join(allowed)})
    return problem(404, "Not Found", "There is no such operation in the admin API.")


auth.PUBLIC_ENDPOINTS.add(f"{blueprint.name}._no_such_operation")


def init_app(app: Flask) -> None:
    """Register the API and its OAuth 2.0 token endpoint on ``app``."""
    auth.init_oauth(app)
    app.register_blueprint(blueprint)
    platform.init_app(app)
