"""The SCIM door: scim2-flask's ScimServer with bearer-token authentication per account."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from authlib.oauth2 import OAuth2Error
from flask import Blueprint, Flask, g, request
from scim2_flask import ScimServer
from scim2_models import (
    ForbiddenException,
    InvalidValueException,
    ScimProvider,
    UnauthorizedException,
)

from scim_server.auth import HolderNotActiveAdmin, make_protector
from scim_server.scim.handler import AccountScimHandler
from scim_server.scim.service import AccountScimService
from scim_server.storage.scim_storage import SqlScimStorage


class _HeaderRequest:
    """The part of a request authlib's bearer validator reads: the headers, never the body."""

    def __init__(self, headers: Any) -> None:
        self.headers = headers


class AccountScimServer(ScimServer):
    """Serves ``/scim/v2`` for the account of the presented SCIM token."""

    def __init__(self, storage: SqlScimStorage, provider: ScimProvider, *, secret: str,
                 account_id: Callable[[], str] | None = None) -> None:
        service = AccountScimService(provider, secret=secret, account_id=account_id)
        super().__init__(storage, provider, service=service)
        self.protector = make_protector(("scim",), realm="SCIM")

    def init_app(self, app: Flask) -> None:
        super().init_app(app)
        # Our handler: O(delta) membership PATCH; same service and storage.
        self.handler = AccountScimHandler(self.service, self.storage)

    def create_blueprint(self) -> Blueprint:
        blueprint = super().create_blueprint()
        blueprint.before_request(self._authenticate)
        blueprint.before_request(self._refuse_nul)
        return blueprint

    @staticmethod
    def _refuse_nul() -> None:
        """U+0000 in a path or query (an id, a filter) can match nothing we store, and
        PostgreSQL cannot even compare it: a clear 400 on every engine."""
        if "\x00" in request.path or any("\x00" in v for v in request.args.values()):
            raise InvalidValueException(detail="The request may not contain the NUL character")

    def _make_view(self, route: Any) -> Any:
        # The stock view binds the handler method when the blueprint is built; look it up per
        # request instead so that our handler subclass serves.
        operation = route.operation.value

        def view(**_kwargs: str) -> Any:
            return self._to_response(getattr(self.handler, operation)(self.read_request()))

        return view

    def _authenticate(self) -> None:
        """RFC 6750 bearer token → the account; a 401 with WWW-Authenticate otherwise."""
        try:
            token = self.protector.validate_request(
                scopes=None, request=_HeaderRequest(request.headers)
            )
        except OAuth2Error:
            raise UnauthorizedException(detail="A valid SCIM bearer token is required") from None
        except HolderNotActiveAdmin:
            raise ForbiddenException(
                detail="The holder of this token is no longer an active Admin of the account"
            ) from None
        principal = token.principal
        g.scim_principal = principal
        g.account = principal.account
        g.scim_client = (request.user_agent.string or "")[:200] or None

    def get_subject(self) -> Any:
        return g.get("scim_principal")
