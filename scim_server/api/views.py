"""The admin API's operations: thin views over the domain services (HTTP → domain)."""

from __future__ import annotations

import json
from typing import Any

from flask import Response, current_app, g
from marshmallow import Schema
from sqlalchemy import func, select

from scim_server.api import schemas as s
from scim_server.api.auth import oauth_server
from scim_server.api.problems import ApiProblem
from scim_server.api.routing import operation
from scim_server.domain import accounts, audit, events, request_log, resources, sets, tokens, users
from scim_server.domain import groups as group_service
from scim_server.domain.directory import count_users, list_users
from scim_server.domain.documents import email_as_sent, read_profile
from scim_server.domain.errors import NotFound
from scim_server.domain.mail import Mailer, mailer_for
from scim_server.request_capture import request_log_of
from scim_server.settings import Settings
from scim_server.storage.domain_tables import OutboxEmail
from scim_server.storage.models import Account, User

USERS, GROUPS, RES, AUDIT, TOKENS, MISC = (
    "users", "groups", "resources", "audit", "tokens", "misc")
LOG = "provisioning-log"


def _settings() -> Settings:
    return current_app.config["SCIM_SETTINGS"]  # type: ignore[no-any-return]


def _mailer() -> Mailer:
    return mailer_for(_settings().smtp_url)


def _link(path: str) -> Any:
    """The link mailed to a person: the admin UI's page for it (a person opens a page; the
    POST endpoints of this API serve scripts that already hold the token)."""
    base = _settings().base_url.rstrip("/")
    return lambda token: f"{base}{path}/{token}"


def _fields(obj: object, schema: type[Schema]) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in schema().fields}


def user_out(user: User) -> dict[str, Any]:
    profile = read_profile(user)
    return {
        "id": user.id, "user_name": user.user_name, "display_name": user.display_name,
        "email": email_as_sent(user), "user_type": user.user_type, "status": user.status,
        "given_name": profile["given_name"], "family_name": profile["family_name"],
        "title": profile["title"], "phone": profile["phone"], "locale": profile["locale"],
        "notifications": users.notifications_of(g.db, user),
        "last_activity_at": user.last_activity_at,
        "no_activity_since": (g.account.activity_tracking_since
                              if user.last_activity_at is None else None),
        "created_at": user.created_at, "modified_at": user.modified_at,
    }


# --- the account's settings ----------------------------------------------------------------------

@operation("/account", "GET", summary="The account's settings, and its plan and usage (read only)",
           tag=MISC, response=s.AccountSettingsOut)
def get_account_settings() -> dict[str, Any]:
    return accounts.account_settings(_own_account())


@operation("/account", "PATCH", summary="Change the account's display name, domains, guest "
           "allowlist and denylist, or default type of SCIM creates", tag=MISC,
           body=s.AccountSettingsPatch, response=s.AccountSettingsOut,
           rules=("account.default_type",))
def patch_account_settings(body: dict[str, Any]) -> dict[str, Any]:
    account = accounts.update_account_settings(g.db, _own_account(), actor=g.actor, **body)
    return accounts.account_settings(account)


def _own_account() -> Any:
    # g.account is the copy read with the credential; a change needs the session's row.
    return g.db.get(Account, g.account.id)


# --- users -------------------------------------------------------------------------------------

@operation("/users", "GET", summary="List users: search, filter, sort, keyset paging",
           tag=USERS, query=s.UserListQuery, response=s.UserPageOut)
def list_users_view(query: dict[str, Any]) -> Any:
    page = list_users(g.db, g.account, **query)
    filters = {k: query.get(k) for k in ("q", "user_type", "status", "paying")}
    return {"total": count_users(g.db, g.account, **filters),
            "users": [user_out(u) for u in page.users], "next_cursor": page.next_cursor,
            "prev_cursor": page.prev_cursor}


@operation("/users/<user_id>", "GET", summary="Read a user", tag=USERS, response=s.UserOut)
def get_user_view(user_id: str) -> Any:
    return user_out(users.get_user(g.db, g.account, user_id))


@operation("/users/<user_id>", "PATCH", summary="Edit a user's profile", tag=USERS,
           body=s.ProfilePatch, response=s.UserOut,
           rules=("profile.admin_limits", "email.confirmation_required"))
def patch_user_view(user_id: str, body: dict[str, Any]) -> Any:
    return user_out(users.update_profile(g.db, g.account, user_id, body, actor=g.actor))


@operation("/users/invite", "POST", summary="Invite a user by email (pending until accepted)",
           tag=USERS, body=s.InviteRequest, response=s.UserOut, status=201,
           rules=("user_type.invalid", "operators.limit", "guest.same_domain",
                  "guest.domain_not_allowed"))
def invite_view(body: dict[str, Any]) -> Any:
    user, _token = users.invite_user(g.db, g.account, actor=g.actor, mailer=_mailer(),
                                     accept_url=_link("/admin/invitation"), **body)
    return user_out(user)


@operation("/invitations/accept", "POST", summary="Accept an invitation (the token is the "
           "credential)", tag=USERS, body=s.TokenRequest, response=s.AcceptedOut, public=True,
           rules=("seats.exceeded",), not_found=True)
def accept_view(body: dict[str, Any]) -> Any:
    return users.accept_invitation(g.db, token=body["token"])


@operation("/users/<user_id>/deactivate", "POST", summary="Deactivate a user", tag=USERS,
           response=s.UserOut, rules=("status.pending", "admin.holds_scim_tokens", "admin.last"))
def deactivate_view(user_id: str) -> Any:
    return user_out(users.deactivate_user(g.db, g.account, user_id, actor=g.actor))


@operation("/users/<user_id>/activate", "POST", summary="Activate (reactivate) a user",
           tag=USERS, response=s.UserOut,
           rules=("status.pending", "seats.exceeded", "operators.limit"))
def activate_view(user_id: str) -> Any:
    return user_out(users.activate_user(g.db, g.account, user_id, actor=g.actor))


@operation("/users/<user_id>", "DELETE", summary="Delete a deactivated user for good "
           "(personal data erased; display_name kept on what they created)", tag=USERS,
           query=s.DeleteQuery, status=204,
           rules=("delete.requires_inactive", "admin.holds_scim_tokens", "admin.last"))
def delete_view(user_id: str, query: dict[str, Any]) -> Any:
    users.delete_user(g.db, g.account, user_id, actor=g.actor,
                      display_name=query.get("display_name"), via_scim=False)


@operation("/users/<user_id>/type", "POST", summary="Change a user's type", tag=USERS,
           body=s.TypeChange, response=s.UserOut,
           rules=("user_type.invalid", "seats.exceeded", "admin.holds_scim_tokens",
                  "admin.last", "guest.same_domain", "guest.domain_not_allowed"))
def change_type_view(user_id: str, body: dict[str, Any]) -> Any:
    return user_out(users.change_user_type(g.db, g.account, user_id, body["user_type"],
                                           actor=g.actor))


@operation("/users/<user_id>/email-change", "POST", summary="Start an email change: a link "
           "valid 3 days goes to the new address", tag=USERS, body=s.EmailChangeRequest,
           response=s.EmailChangeOut, status=202,
           rules=("email.confirmation_required", "guest.same_domain",
                  "guest.domain_not_allowed"))
def email_change_view(user_id: str, body: dict[str, Any]) -> Any:
    change, _token = users.start_email_change(g.db, g.account, user_id, body["email"],
                                              actor=g.actor, mailer=_mailer(),
                                              confirm_url=_link("/admin/email-confirmation"))
    return {"user_id": user_id, "expires_at": change.expires_at,
            "status": "pending confirmation"}


@operation("/email-changes/confirm", "POST", summary="Confirm an email change (the token is "
           "the credential)", tag=USERS, body=s.TokenRequest, response=s.AcceptedOut,
           public=True, rules=("email.confirmation_required",), not_found=True)
def confirm_email_view(body: dict[str, Any]) -> Any:
    return users.confirm_email_change(g.db, token=body["token"])


@operation("/users/<user_id>/activity", "POST", summary="Record the user's last activity",
           tag=USERS, body=s.ActivityRequest, response=s.ActivityOut)
def activity_view(user_id: str, body: dict[str, Any]) -> Any:
    return users.record_activity(g.db, g.account, user_id, actor=g.actor, at=body.get("at"))


@operation("/users/bulk", "POST", summary="Change the type or status of up to 200 users",
           tag=USERS, body=s.BulkRequest, response=s.BulkOut,
           rules=("bulk.too_many", "bulk.self", "bulk.nonpaying_to_paying"))
def bulk_view(body: dict[str, Any]) -> Any:
    report = users.bulk_change(g.db, g.account, body["user_ids"], actor=g.actor,
                               user_type=body.get("user_type"), status=body.get("status"))
    return {"applied": report.applied,
            "skipped": [{"user_id": u, "rule": r, "detail": d} for u, r, d in report.skipped]}


@operation("/users/<user_id>/transfer", "POST", summary="Transfer all or chosen resources of "
           "a user to an active user", tag=RES, body=s.TransferRequest, response=s.MovedOut)
def transfer_view(user_id: str, body: dict[str, Any]) -> Any:
    moved = resources.transfer_ownership(g.db, g.account, from_user_id=user_id,
                                         to_user_id=body["to_user_id"],
                                         resource_ids=body.get("resource_ids"), actor=g.actor)
    return {"resource_ids": moved}


# --- groups ------------------------------------------------------------------------------------

def group_out(row: group_service.GroupRow) -> dict[str, Any]:
    return _fields(row, s.GroupOut)


def _member_page(group_id: str, limit: int, offset: int) -> dict[str, Any]:
    page = group_service.list_members(g.db, g.account, group_id, limit=limit, offset=offset)
    return {"total": page.total, "offset": offset, "limit": limit,
            "items": [_fields(m, s.MemberOut) for m in page.members]}


@operation("/groups", "GET", summary="List groups by name: search the display name, keep the "
           "groups without members, offset paging with the total", tag=GROUPS,
           query=s.GroupListQuery, response=s.GroupPageOut)
def list_groups_view(query: dict[str, Any]) -> Any:
    page = group_service.list_groups(g.db, g.account, q=query.get("q"),
                                     without_members=query.get("without_members"),
                                     limit=query["limit"], offset=query["offset"])
    return {"total": page.total, "offset": query["offset"], "limit": query["limit"],
            "groups": [group_out(row) for row in page.groups]}


@operation("/groups", "POST", summary="Create an empty group", tag=GROUPS, body=s.GroupCreate,
           response=s.GroupOut, status=201, rules=("group.name_taken",))
def create_group_view(body: dict[str, Any]) -> Any:
    group_id = group_service.create_group(g.db, g.account, body["display_name"], actor=g.actor)
    return group_out(group_service.get_group(g.db, g.account, group_id))


@operation("/groups/<group_id>", "GET", summary="Read a group with one page of its members "
           "(by name)", tag=GROUPS, query=s.GroupQuery, response=s.GroupDetailOut)
def get_group_view(group_id: str, query: dict[str, Any]) -> Any:
    row = group_service.get_group(g.db, g.account, group_id)
    return {**group_out(row),
            "member_page": _member_page(group_id, query["members_limit"],
                                        query["members_offset"])}


@operation("/groups/<group_id>/members", "GET", summary="One page of a group's members (by "
           "name), with the total", tag=GROUPS, query=s.MemberListQuery,
           response=s.MemberPageOut)
def list_members_view(group_id: str, query: dict[str, Any]) -> Any:
    group_service.get_group(g.db, g.account, group_id)
    return _member_page(group_id, query["limit"], query["offset"])


@operation("/groups/<group_id>", "PATCH", summary="Rename a group", tag=GROUPS,
           body=s.GroupRename, response=s.GroupOut, rules=("group.name_taken",))
def rename_group_view(group_id: str, body: dict[str, Any]) -> Any:
    group_service.rename_group(g.db, g.account, group_id, body["display_name"], actor=g.actor)
    return group_out(group_service.get_group(g.db, g.account, group_id))


@operation("/groups/<group_id>", "DELETE", summary="Delete a group (its members stay users; "
           "its permission grants go)", tag=GROUPS, status=204)
def delete_group_view(group_id: str) -> Any:
    group_service.delete_group(g.db, g.account, group_id, actor=g.actor)


@operation("/groups/<group_id>/members", "POST", summary="Add members (users or groups of "
           "the account); all or nothing", tag=GROUPS, body=s.MemberIds,
           response=s.MembersChangedOut)
def add_members_view(group_id: str, body: dict[str, Any]) -> Any:
    added = group_service.add_members(g.db, g.account, group_id, body["member_ids"],
                                      actor=g.actor)
    return {"changed": added, "group": group_out(group_service.get_group(g.db, g.account,
                                                                         group_id))}


@operation("/groups/<group_id>/members/remove", "POST", summary="Remove members", tag=GROUPS,
           body=s.MemberIds, response=s.MembersChangedOut)
def remove_members_view(group_id: str, body: dict[str, Any]) -> Any:
    removed = group_service.remove_members(g.db, g.account, group_id, body["member_ids"],
                                           actor=g.actor)
    return {"changed": removed, "group": group_out(group_service.get_group(g.db, g.account,
                                                                           group_id))}


@operation("/groups/<group_id>/members/<member_id>", "DELETE", summary="Remove one member",
           tag=GROUPS, status=204)
def remove_member_view(group_id: str, member_id: str) -> Any:
    if not group_service.remove_members(g.db, g.account, group_id, [member_id],
                                        actor=g.actor):
        raise NotFound(f"{member_id} is not a member of group {group_id}")


# --- resources ---------------------------------------------------------------------------------

def resource_out(view: resources.ResourceView) -> dict[str, Any]:
    r = view.resource
    return {"id": r.id, "kind": r.kind, "name": r.name, "production": r.production,
            "enabled": r.enabled, "accessible": r.accessible, "owner_ids": view.owner_ids,
            "created_by_id": r.created_by_id, "created_at": r.created_at}


@operation("/resources", "GET", summary="List resources", tag=RES, query=s.ResourceListQuery,
           response=s.ResourceListOut)
def list_resources_view(query: dict[str, Any]) -> Any:
    limit = query["limit"]
    rows = resources.list_resources(g.db, g.account, kind=query.get("kind"),
                                    owner_id=query.get("owner_id"),
                                    after_id=query.get("after"), limit=limit)
    total = resources.count_matching_resources(g.db, g.account, kind=query.get("kind"),
                                               owner_id=query.get("owner_id"))
    return {"total": total, "resources": [resource_out(v) for v in rows],
            "next_after": rows[-1].resource.id if len(rows) == limit else None}


@operation("/resources", "POST", summary="Create a resource", tag=RES, body=s.ResourceCreate,
           response=s.ResourceOut, status=201, not_found=True)
def create_resource_view(body: dict[str, Any]) -> Any:
    return resource_out(resources.create_resource(g.db, g.account, actor=g.actor, **body))


@operation("/resources/<resource_id>", "GET", summary="Read a resource", tag=RES,
           response=s.ResourceOut)
def get_resource_view(resource_id: str) -> Any:
    return resource_out(resources.get_resource(g.db, g.account, resource_id))


@operation("/resources/<resource_id>/enabled", "PUT", summary="Enable or disable an automation "
           "or integration", tag=RES, body=s.EnableRequest, response=s.ResourceOut)
def enable_resource_view(resource_id: str, body: dict[str, Any]) -> Any:
    return resource_out(resources.set_enabled(g.db, g.account, resource_id, body["enabled"],
                                              actor=g.actor))


@operation("/resources/claim", "POST", summary="The calling admin claims resources", tag=RES,
           body=s.ClaimRequest, response=s.MovedOut, not_found=True)
def claim_view(body: dict[str, Any]) -> Any:
    return {"resource_ids": resources.claim_ownership(g.db, g.account,
                                                      resource_ids=body["resource_ids"],
                                                      actor=g.actor)}


# --- audit, outbox -----------------------------------------------------------------------------

@operation("/audit", "GET", summary="The audit log, newest first", tag=AUDIT, query=s.AuditQuery,
           response=s.AuditListOut)
def audit_view(query: dict[str, Any]) -> Any:
    entries = audit.list_audit(g.db, g.account, **query)
    filters = {k: v for k, v in query.items() if k not in ("limit", "before_id")}
    return {"total": audit.count_audit(g.db, g.account, **filters), "entries": entries,
            "next_before_id": entries[-1].id if len(entries) == query["limit"] else None}


@operation("/events", "GET", summary="The account's provisioning events (RFC 9967), oldest "
           "first, by cursor", tag=AUDIT, query=s.EventsQuery, response=s.EventListOut)
def events_view(query: dict[str, Any]) -> Any:
    secret = current_app.config["SECRET_KEY"].encode()
    after = (events.open_cursor(secret, g.account.id, query["after"])
             if query.get("after") else 0)
    types = [t.strip() for t in query["type"].split(",") if t.strip()] if query.get("type") else None
    rows = events.list_events(g.db, g.account, after=after, limit=query["limit"], types=types)
    last = rows[-1].position if rows else after
    return {"events": [events.event_document(row) for row in rows],
            "next": events.seal_cursor(secret, g.account.id, last)}


@operation("/events/set-poll", "POST", summary="The account's events as signed Security Event "
           "Tokens, by RFC 8936 poll-based delivery: acknowledge the SETs processed, get the "
           "next unacknowledged ones (a SET not acknowledged comes again)", tag=AUDIT,
           body=s.SetPollRequest, response=s.SetPollOut)
def set_poll_view(body: dict[str, Any]) -> Any:
    settings = _settings()
    # Each API credential (token, OAuth client) is a receiver of its own.
    receiver = g.actor.credential_id
    answer = sets.poll(
        g.db, g.account, receiver,
        sets.PollRequest(ack=body["ack"], errors=body["setErrs"],
                         max_events=min(body["maxEvents"], settings.max_results),
                         return_immediately=body["returnImmediately"]),
        secret=current_app.config["SECRET_KEY"],
        audience=sets.Audience.of(settings.base_url, g.account),
        wait=0.0 if settings.is_sqlite else settings.set_poll_wait,
        commit=g.db.commit,
    )
    # Not jsonify: it sorts the keys, and the SETs are easier to follow in the feed's order.
    document = s.SetPollOut().dump({"sets": answer.sets, "moreAvailable": answer.more_available})
    return Response(json.dumps(document), mimetype="application/json")


@operation("/outbox", "GET", summary="Emails not sent while no SMTP server is configured, "
           "their links withheld (the server log has them, for development only)", tag=MISC,
           query=s.OutboxQuery, response=s.OutboxListOut)
def outbox_view(query: dict[str, Any]) -> Any:
    mine = OutboxEmail.account_id == g.account.id
    stmt = select(OutboxEmail).where(mine)
    if query.get("after_id") is not None:
        stmt = stmt.where(OutboxEmail.id > query["after_id"])
    total = g.db.scalar(select(func.count()).select_from(OutboxEmail).where(mine)) or 0
    return {"total": int(total),
            "messages": list(g.db.scalars(stmt.order_by(OutboxEmail.id).limit(query["limit"])))}


# --- tokens and OAuth clients ------------------------------------------------------------------

@operation("/tokens", "GET", summary="List API and SCIM tokens (never their secrets)",
           tag=TOKENS, query=s.TokenListQuery, response=s.TokenListOut)
def list_tokens_view(query: dict[str, Any]) -> Any:
    return {"tokens": tokens.list_tokens(g.db, g.account, **query)}


@operation("/tokens", "POST", summary="Issue a token; the secret is shown once", tag=TOKENS,
           body=s.TokenCreate, response=s.IssuedTokenOut, status=201, not_found=True)
def issue_token_view(body: dict[str, Any]) -> Any:
    cred, secret = tokens.issue_token(g.db, g.account, user_id=body.get("user_id") or g.actor.user_id,
                                      kind=body["kind"], name=body.get("name"), actor=g.actor)
    return {**_fields(cred, s.TokenOut), "token": secret}


@operation("/tokens/<credential_id>", "DELETE", summary="Revoke a token", tag=TOKENS,
           response=s.TokenOut)
def revoke_token_view(credential_id: str) -> Any:
    return tokens.revoke_token(g.db, g.account, credential_id, actor=g.actor)


@operation("/tokens/<credential_id>/reassign", "POST", summary="Give a token to another active "
           "Admin", tag=TOKENS, body=s.ReassignRequest, response=s.TokenOut)
def reassign_token_view(credential_id: str, body: dict[str, Any]) -> Any:
    return tokens.reassign_token(g.db, g.account, credential_id, body["user_id"], actor=g.actor)


@operation("/oauth/clients", "GET", summary="List OAuth clients", tag=TOKENS,
           response=s.OAuthClientListOut)
def list_clients_view() -> Any:
    return {"clients": tokens.list_oauth_clients(g.db, g.account)}


@operation("/oauth/clients", "POST", summary="Register an OAuth client (client credentials); "
           "the secret is shown once", tag=TOKENS, body=s.OAuthClientCreate,
           response=s.IssuedOAuthClientOut, status=201, not_found=True)
def create_client_view(body: dict[str, Any]) -> Any:
    client, secret = tokens.create_oauth_client(
        g.db, g.account, user_id=body.get("user_id") or g.actor.user_id, name=body.get("name"),
        actor=g.actor)
    return {**_fields(client, s.OAuthClientOut), "client_secret": secret}


@operation("/oauth/clients/<client_pk>", "DELETE", summary="Revoke an OAuth client", tag=TOKENS,
           response=s.OAuthClientOut)
def revoke_client_view(client_pk: str) -> Any:
    return tokens.revoke_oauth_client(g.db, g.account, client_pk, actor=g.actor)


@operation("/oauth/token", "POST", summary="OAuth 2.0 token endpoint (client_credentials grant; "
           "form-encoded, RFC 6749 §4.4)", tag=TOKENS, public=True, raw=True)
def oauth_token_view() -> Any:
    return oauth_server().create_token_response()


# --- the SCIM request log, the connections -------------------------------------------------------

def _request_log() -> Any:
    found = request_log_of()
    if found is None:
        raise ApiProblem(404, "Not Found", "The request log is turned off on this server "
                                           "(SCIM_REQUEST_LOG_BUFFER=0).")
    return found


def _scim_request_out(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "id": str(row["id"])}


@operation("/scim-requests", "GET", summary="The SCIM requests of the account's identity "
           "providers, newest first, by cursor (redacted)", tag=LOG, query=s.ScimRequestQuery,
           response=s.ScimRequestPageOut)
def scim_requests_view(query: dict[str, Any]) -> Any:
    status = query.get("status")
    cursor = query.get("cursor")
    rows, following = request_log.list_requests(
        _request_log(), g.account, limit=query["limit"],
        status_class=int(status[0]) if status else None,
        connection_id=query.get("connection_id"), method=query.get("method"),
        resource_id=query.get("resource_id"), since=query.get("since"),
        until=query.get("until"), before_id=int(cursor) if cursor else None)
    return {"requests": [_scim_request_out(r) for r in rows],
            "next_cursor": str(following) if following is not None else None}


@operation("/scim-requests/<request_id>", "GET", summary="One SCIM request with its redacted "
           "request and response bodies", tag=LOG, response=s.ScimRequestDetailOut)
def scim_request_view(request_id: str) -> Any:
    if not request_id.isdigit() or len(request_id) > 18:
        raise NotFound(f"no request {request_id}")
    return _scim_request_out(request_log.get_request(_request_log(), g.account, int(request_id)))


def connection_out(view: request_log.ConnectionView) -> dict[str, Any]:
    last = view.last_request
    return {
        "id": view.id, "label": view.label, "prefix": view.prefix, "profile": view.profile,
        "profile_source": view.profile_source, "detected_profile": view.detected_profile,
        "last_request": {**last, "id": str(last["id"])} if last else None,
        "requests_24h": view.requests_24h, "errors_24h": view.errors_24h,
        "error_rate_24h": view.error_rate_24h,
    }


@operation("/connections", "GET", summary="The account's SCIM connections (one per SCIM "
           "token): identity provider profile, last request, errors in the last 24 hours",
           tag=LOG, response=s.ConnectionListOut)
def connections_view() -> Any:
    views = request_log.list_connections(g.db, g.account, request_log_of())
    return {"connections": [connection_out(v) for v in views]}


@operation("/connections/<connection_id>", "GET", summary="One SCIM connection", tag=LOG,
           response=s.ConnectionOut)
def connection_view(connection_id: str) -> Any:
    return connection_out(request_log.get_connection(g.db, g.account, request_log_of(),
                                                     connection_id))


@operation("/connections/<connection_id>", "PATCH", summary="Set a connection's identity "
           "provider profile (null: the detected one); every profile accepts every quirk",
           tag=LOG, body=s.ConnectionPatch, response=s.ConnectionOut)
def patch_connection_view(connection_id: str, body: dict[str, Any]) -> Any:
    return connection_out(request_log.set_connection_profile(
        g.db, g.account, request_log_of(), connection_id, body["profile"], actor=g.actor))
