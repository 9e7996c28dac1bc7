"""The Hub, API users, Resources and permissions, and Audit log pages.

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
from admin_ui.i18n import gettext
from admin_ui.security import current
from scim_server.domain import tokens
from scim_server.domain.actors import DOORS
from scim_server.domain.audit import list_audit
from scim_server.domain.errors import DomainError, InvalidInput, NotFound
from scim_server.domain.request_log import list_connections
from scim_server.domain.resources import claim_ownership, transfer_ownership
from scim_server.domain.users import get_user
from scim_server.hub.api_users import list_api_users
from scim_server.hub.permissions import permissions_overview
from scim_server.hub.summary import hub_summary
from scim_server.request_capture import request_log_of
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

@blueprint.get("/resources")
def resources() -> Any:
    offset = _offset()
    page = permissions_overview(g.db, current().account, limit=LIST_SIZE, offset=offset)
    owner_ids = {uid for item in page.items for uid in item.owner_ids}
    owners = {}
    for uid in owner_ids:
        try:
            owners[uid] = get_user(g.db, current().account, uid)
        except NotFound:
            continue
    return render_template("admin/resources.html", page=page, owners=owners, offset=offset,
                           size=LIST_SIZE, shown_targets=["transfer", "claim"])


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
        flash_done(gettext("%(n)s resources moved.", n=len(moved)), target="transfer")
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
        flash_done(gettext("%(n)s resources claimed.", n=len(claimed)), target="claim")
    return redirect(url_for("admin_ui.resources"))


# --- Audit log ---------------------------------------------------------------------------------

# list_audit (the domain's) filters by target but not yet by door: the page scans its entries in
# batches, newest first, and keeps those of the door, so that paging stays exact; the scan is
# bounded per page, and "Older entries" resumes from where it stopped.
AUDIT_BATCH = 200
AUDIT_MAX_SCAN = 5_000


def _audit_page(door: str, before_id: int | None,
                filters: dict[str, Any]) -> tuple[list[Any], int | None]:
    """(entries to show, the ``before`` id of the next page or None)."""
    shown: list[Any] = []
    cursor = before_id
    scanned = 0
    while scanned < AUDIT_MAX_SCAN:
        batch = list_audit(g.db, current().account, limit=AUDIT_BATCH, before_id=cursor,
                           **filters)
        for entry in batch:
            cursor = entry.id
            if not door or entry.door == door:
                shown.append(entry)
                if len(shown) == LIST_SIZE:
                    return shown, entry.id
        scanned += len(batch)
        if len(batch) < AUDIT_BATCH:
            return shown, None
    return shown, cursor


@blueprint.get("/audit")
def audit() -> Any:
    door = request.args.get("door") or ""
    email = (request.args.get("user") or "").strip()[:400]
    user_id = (request.args.get("user_id") or "")[:64]
    problems: list[str] = []
    if door and door not in DOORS:
        problems.append(gettext("That request is not valid.") + f" ({door[:20]})")
        door = ""
    if email:
        found = find_user_by_email(email) if looks_like_email(email) else None
        if found is None:
            problems.append(gettext("No user with that email."))
            user_id = ""
        else:
            user_id = found.id
    try:
        before_id = int(request.args["before"]) if request.args.get("before") else None
    except ValueError:
        before_id = None
    filters: dict[str, Any] = {}
    if user_id:
        filters.update(target_type="user", target_id=user_id)
    entries, next_before = _audit_page(door, before_id, filters)
    return render_template("admin/audit.html", entries=entries, door=door, email=email,
                           user_id=user_id, doors=DOORS, problems=problems,
                           next_before=next_before, people=_people(entries))


def _people(entries: list[Any]) -> dict[str, str]:
    """Names of the authors on the page (deleted or unknown ones keep their id)."""
    names: dict[str, str] = {}
    for uid in {e.actor_user_id for e in entries if e.actor_user_id}:
        try:
            names[uid] = user_label(get_user(g.db, current().account, uid))
        except NotFound:
            continue
    return names
