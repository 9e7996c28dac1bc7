"""The Hub, API users, and Resources and permissions pages (the Audit log: ``admin_ui.audit``).

Read models come from ``scim_server.hub`` and ``scim_server.domain``; actions call the domain
services (tokens, ownership) with the admin UI as the door.
"""

from __future__ import annotations

from typing import Any

from flask import abort, g, redirect, render_template, request, url_for

from admin_ui import blueprint
from admin_ui.common import (
    actor,
    find_user_by_email,
    flash_done,
    flash_refusal,
    looks_like_email,
    refusal,
    status_for,
    user_label,
)
from admin_ui.i18n import gettext, ngettext
from admin_ui.security import current
from scim_server.domain import tokens
from scim_server.domain.errors import DomainError, InvalidInput, NotFound
from scim_server.domain.request_log import list_connections
from scim_server.domain.resources import claim_ownership, transfer_ownership
from scim_server.domain.users import get_user
from scim_server.hub.api_users import list_api_users
from scim_server.hub.permissions import permissions_overview
from scim_server.hub.summary import hub_summary
from scim_server.request_capture import request_log_of
from scim_server.storage.domain_tables import RESOURCE_KINDS
from scim_server.storage.models import User, utcnow

LIST_SIZE = 50


def _offset() -> int:
    try:
        return max(0, min(int(request.args.get("offset") or 0), 10_000_000))
    except ValueError:
        return 0


@blueprint.get("/")
def hub() -> Any:
    summary = hub_summary(g.db, current().account, now=utcnow())
    connections = list_connections(g.db, current().account, request_log_of())
    return render_template("admin/hub.html", summary=summary, connections=connections)


# --- API users ---------------------------------------------------------------------------------

KIND_LABELS = {"api": "API token", "scim": "SCIM token", "oauth": "OAuth client"}


def _api_users_page(**extra: Any) -> str:
    offset = _offset()
    page = list_api_users(g.db, current().account, now=utcnow(), sort="name", limit=LIST_SIZE,
                          offset=offset)
    shown = [c.id for u in page.items for c in u.credentials]
    return render_template("admin/api_users.html", page=page, offset=offset, size=LIST_SIZE,
                           kinds=KIND_LABELS, token_kinds=tokens.TOKEN_KINDS,
                           shown_targets=shown, **extra)


@blueprint.get("/api-users")
def api_users() -> Any:
    return _api_users_page()


@blueprint.post("/api-users/tokens")
def issue_token() -> Any:
    ctx = current()
    email = (request.form.get("email") or "").strip()
    kind = request.form.get("kind") or "api"
    name = (request.form.get("name") or "").strip()[:200] or None
    values = {"email": email[:400], "kind": kind, "name": name}
    holder = find_user_by_email(email) if looks_like_email(email) else None
    if holder is None:
        return _api_users_page(values=values,
                               error={"text": gettext("No user with that email.")}), 400
    try:
        credential, secret = tokens.issue_token(g.db, ctx.account, user_id=holder.id, kind=kind,
                                                name=name, actor=actor())
    except DomainError as exc:
        return _api_users_page(values=values, error=refusal(exc)), status_for(exc)
    # The secret is rendered into this response only: never stored, never put in the session.
    return _api_users_page(issued={"secret": secret, "kind": credential.kind,
                                   "holder": user_label(holder)})


@blueprint.post("/api-users/oauth-clients")
def create_oauth_client() -> Any:
    """Register an OAuth client (client credentials) acting as an active Admin; its secret is
    rendered into this response only, as a token's is."""
    email = (request.form.get("email") or "").strip()
    name = (request.form.get("name") or "").strip()[:200] or None
    values = {"email": email[:400], "name": name}
    holder = find_user_by_email(email) if looks_like_email(email) else None
    if holder is None:
        return _api_users_page(client_values=values,
                               client_error={"text": gettext("No user with that email.")}), 400
    try:
        client, secret = tokens.create_oauth_client(g.db, current().account, user_id=holder.id,
                                                    name=name, actor=actor())
    except DomainError as exc:
        return (_api_users_page(client_values=values, client_error=refusal(exc)),
                status_for(exc))
    return _api_users_page(issued_client={"client_id": client.client_id, "secret": secret,
                                          "name": name, "holder": user_label(holder)})


def _revocable(credential_id: str, kind: str | None) -> tuple[Any, str]:
    """The token or OAuth client (the list says which kind) of the signed-in account."""
    account = current().account
    try:
        if kind == "oauth":
            return tokens.get_oauth_client(g.db, account, credential_id), "oauth"
        credential = tokens.get_token(g.db, account, credential_id)
    except NotFound:
        abort(404)
    return credential, credential.kind


@blueprint.get("/api-users/tokens/<credential_id>/revoke")
def confirm_revoke_token(credential_id: str) -> Any:
    """What revoking will stop, before it does: the token by name, holder and last use."""
    credential, kind = _revocable(credential_id, request.args.get("kind"))
    holder = g.db.get(User, credential.user_id) if credential.user_id else None
    return render_template(
        "admin/token_revoke.html", credential=credential, kind=kind, kinds=KIND_LABELS,
        holder=user_label(holder) if holder is not None else None,
        offset=request.args.get("offset") or "")


@blueprint.post("/api-users/tokens/<credential_id>/revoke")
def revoke_token(credential_id: str) -> Any:
    credential, kind = _revocable(credential_id, request.form.get("kind"))
    revoke = tokens.revoke_oauth_client if kind == "oauth" else tokens.revoke_token
    label = credential.name or gettext(KIND_LABELS[kind])
    try:
        revoke(g.db, current().account, credential_id, actor=actor())
    except DomainError as exc:
        flash_refusal(exc, target=credential_id)
    else:
        flash_done(gettext("“%(name)s” was revoked.", name=label), target=credential_id)
    return redirect(url_for("admin_ui.api_users", offset=request.form.get("offset") or None))


# --- Resources and permissions ---------------------------------------------------------------

RESOURCES_PAGE = 20


@blueprint.get("/resources")
def resources() -> Any:
    offset = _offset()
    kind = request.args.get("kind") or ""
    kind = kind if kind in RESOURCE_KINDS else ""
    production = {"yes": True, "no": False}.get(request.args.get("production") or "")
    page = permissions_overview(g.db, current().account, limit=RESOURCES_PAGE, offset=offset,
                                kind=kind or None, production=production)
    owner_ids = {uid for item in page.items for uid in item.owner_ids}
    owners = {}
    for uid in owner_ids:
        try:
            owners[uid] = get_user(g.db, current().account, uid)
        except NotFound:
            continue
    filters = {"kind": kind or None,
               "production": request.args.get("production") if production is not None else None}
    return render_template("admin/resources.html", page=page, owners=owners, offset=offset,
                           size=RESOURCES_PAGE, kinds=RESOURCE_KINDS, filters=filters,
                           shown_targets=["transfer", "claim"])


@blueprint.post("/resources/transfer")
def transfer() -> Any:
    ctx = current()
    source = find_user_by_email(request.form.get("from_email") or "")
    target = find_user_by_email(request.form.get("to_email") or "")
    chosen = [r for r in request.form.getlist("resource_id") if r] or None
    if source is None or target is None:
        flash_refusal(InvalidInput(gettext("No user with that email.")), target="transfer")
        return redirect(url_for("admin_ui.resources"))
    try:
        moved = transfer_ownership(g.db, ctx.account, from_user_id=source.id,
                                   to_user_id=target.id, resource_ids=chosen, actor=actor())
    except DomainError as exc:
        flash_refusal(exc, target="transfer")
    else:
        flash_done(ngettext("%(n)s resource moved.", len(moved)), target="transfer")
    return redirect(url_for("admin_ui.resources"))


@blueprint.post("/resources/claim")
def claim() -> Any:
    chosen = [r for r in request.form.getlist("resource_id") if r][:500]
    if not chosen:
        flash_refusal(InvalidInput(gettext("Select at least one resource.")), target="claim")
        return redirect(url_for("admin_ui.resources"))
    try:
        claimed = claim_ownership(g.db, current().account, resource_ids=chosen, actor=actor())
    except DomainError as exc:
        flash_refusal(exc, target="claim")
    else:
        flash_done(ngettext("%(n)s resource claimed.", len(claimed)), target="claim")
    return redirect(url_for("admin_ui.resources"))
