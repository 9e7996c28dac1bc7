"""Authentication of the admin API: API tokens and OAuth 2.0 client credentials (authlib).

Every request outside the few public endpoints carries ``Authorization: Bearer …``: an API
token (``sapi_…``) or an access token from ``/api/v1/oauth/token``. Only an active Admin of
the account may use the API; ``g.account`` and ``g.actor`` are set for the views.
"""

from __future__ import annotations

from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin
from authlib.oauth2.rfc6749.grants import ClientCredentialsGrant
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from flask import Flask, current_app, g, request

from scim_server.api.problems import ApiProblem
from scim_server.api.routing import PUBLIC_ENDPOINTS, blueprint
from scim_server.auth import AccountSuspended, HolderNotActiveAdmin, authenticate_request
from scim_server.domain import tokens
from scim_server.domain.actors import Actor
from scim_server.security import new_token, tokens_match
from scim_server.storage.domain_tables import OAuthClient
from scim_server.storage.models import Account

OAUTH_TOKEN_SECONDS = int(tokens.OAUTH_TOKEN_TTL.total_seconds())


def _unauthorized(detail: str) -> ApiProblem:
    return ApiProblem(401, "Unauthorized", detail,
                      headers={"WWW-Authenticate": 'Bearer realm="api"'})


def _forbidden() -> ApiProblem:
    return ApiProblem(403, "Forbidden", "Only active Admins of the account may use the API.")


@blueprint.before_request
def authenticate() -> None:
    if request.endpoint in PUBLIC_ENDPOINTS or request.endpoint is None:
        return
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise _unauthorized("Send an API token or an OAuth access token as a Bearer token.")
    try:
        principal = authenticate_request(g.db, secret.strip(), ("api", "oauth"))
    except HolderNotActiveAdmin:
        raise _forbidden() from None
    if principal is None:
        raise _unauthorized("The token is unknown, revoked or expired.")
    if principal.user_id is None:
        # The API acts as a user (the audit's author, the default holder of what it issues).
        raise _forbidden()
    g.account = principal.account
    g.actor = Actor(door="api", user_id=principal.user_id,
                    credential_id=principal.credential_id, client=principal.client)


# --- OAuth 2.0 client credentials -------------------------------------------------------------

class _Client(ClientMixin):  # type: ignore[misc]
    """authlib's view of one of our OAuth clients."""

    def __init__(self, row: OAuthClient) -> None:
        self.row = row
        self.client_id = row.client_id

    def get_client_id(self) -> str:
        return self.row.client_id

    def get_default_redirect_uri(self) -> None:
        return None

    def get_allowed_scope(self, scope: str | None) -> str:
        return "api" if not scope else " ".join(s for s in scope.split() if s == "api")

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        return tokens_match(client_secret, self.row.secret_hash)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return endpoint == "token" and method in _Grant.TOKEN_ENDPOINT_AUTH_METHODS

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "client_credentials"


class _Grant(ClientCredentialsGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]


def _query_client(client_id: str) -> _Client | None:
    row = tokens.find_oauth_client(g.db, client_id)
    if row is None:
        return None
    account = g.db.get(Account, row.account_id)
    if account is not None and account.status == "suspended":
        raise ApiProblem(403, "Forbidden", AccountSuspended.description)
    return _Client(row)


def _save_token(token: dict[str, Any], req: Any) -> None:
    tokens.save_oauth_token(g.db, req.client.row, token["access_token"],
                            scope=token.get("scope"),
                            expires_in=int(token.get("expires_in", OAUTH_TOKEN_SECONDS)))


def init_oauth(app: Flask) -> AuthorizationServer:
    server = AuthorizationServer(app, query_client=_query_client, save_token=_save_token)
    server.register_grant(_Grant)
    # Our own prefix (soac_) so leaked OAuth tokens are recognisable, like API tokens.
    server.register_token_generator("default", BearerTokenGenerator(
        lambda **_: new_token("oauth"), None, lambda client, grant_type: OAUTH_TOKEN_SECONDS))
    app.extensions["api_oauth"] = server
    return server


def oauth_server() -> AuthorizationServer:
    return current_app.extensions["api_oauth"]
