"""Single sign-on through OpenID Connect (authlib's Flask client), when SCIM_OIDC_ISSUER is set.

The provider's discovery document gives the endpoints and keys; authlib checks state, nonce and
the ID token's signature. The admin is the active Admin whose email is the ID token's email.
"""

from __future__ import annotations

from typing import Any

from authlib.integrations.flask_client import OAuth
from flask import Flask, current_app

EXTENSION = "admin_ui_oauth"


def setup_oidc(app: Flask) -> None:
    settings = app.config["SCIM_SETTINGS"]
    if not settings.oidc_issuer:
        return
    # One registry per app: tests (and embedders) build several apps with different providers.
    oauth = OAuth(app)
    oauth.register(
        "oidc",
        client_id=settings.oidc_client_id,
        client_secret=settings.oidc_client_secret,
        server_metadata_url=settings.oidc_issuer.rstrip("/") + "/.well-known/openid-configuration",
        client_kwargs={"scope": "openid email profile"},
    )
    app.extensions[EXTENSION] = oauth


def oidc_client() -> Any | None:
    oauth = current_app.extensions.get(EXTENSION)
    return oauth.create_client("oidc") if oauth is not None else None


def verified_email(claims: dict[str, Any]) -> str | None:
    """The email the provider vouches for; an explicit ``email_verified: false`` is refused."""
    email = claims.get("email")
    if not isinstance(email, str) or "@" not in email:
        return None
    if claims.get("email_verified") is False:
        return None
    return email.strip()
