"""The admin JSON API (``/api/v1``): authentication, problem bodies, the operations and their
OpenAPI document. The app factory calls :func:`init_app` (or registers ``blueprint``)."""

from __future__ import annotations

from flask import Flask, Response, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException

from scim_server.api import (  # noqa: F401  (register the operations)
    auth,
    hub,  # noqa: F401  (the hub's operations)
    openapi,
    platform,
    views,
    webhooks,  # noqa: F401  (the webhook operations)
)
from scim_server.api.problems import answer_with_problems, problem
from scim_server.api.routing import blueprint
from scim_server.domain import sets

__all__ = ["blueprint", "init_app"]

answer_with_problems(blueprint)


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


JWKS_PATH = "/.well-known/jwks.json"


def jwks_view() -> Response:
    """The public keys Security Event Tokens are signed with (RFC 7517), for any receiver:
    public, cacheable (a receiver seeing an unknown ``kid`` after a rotation fetches again)."""
    response = jsonify(sets.jwks(g.db, current_app.config["SECRET_KEY"]))
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


def init_app(app: Flask) -> None:
    """Register the API, its OAuth 2.0 token endpoint and the JWKS on ``app``."""
    auth.init_oauth(app)
    app.register_blueprint(blueprint)
    platform.init_app(app)
    app.add_url_rule(JWKS_PATH, "jwks", jwks_view, methods=["GET"])
