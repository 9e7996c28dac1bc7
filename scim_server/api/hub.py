"""The hub's admin API operations (``/api/v1``): thin views over :mod:`scim_server.hub`.

They ride on the admin API's blueprint and ``operation`` decorator, so authentication
(``g.account``, ``g.actor``: an active Admin of one account), problem bodies and the OpenAPI
document are the admin API's. Every lookup goes through ``g.account``: another account's ids
read as 404, never as data.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from flask import current_app, g, url_for

from scim_server.api.routing import operation
from scim_server.domain.actors import Clock
from scim_server.domain.request_log import list_connections
from scim_server.hub import duty, permissions
from scim_server.hub import schemas as s
from scim_server.hub.api_users import list_api_users
from scim_server.hub.summary import hub_summary
from scim_server.request_capture import request_log_of
from scim_server.storage.hub_tables import DutyException, DutyWindow
from scim_server.storage.models import utcnow

HUB, DUTY, PERMS = "hub", "duty", "permissions"


def _clock() -> Clock:
    # Tests pin the hub's "now" here; production reads the wall clock.
    clock: Clock = current_app.extensions.get("hub_clock", utcnow)
    return clock


# --- the hub ---------------------------------------------------------------------------------


@operation("/hub", "GET", summary="The user-management hub: one summary of the account",
           tag=HUB, response=s.HubOut)
def hub_view() -> Any:
    summary = hub_summary(g.db, g.account, now=_clock()())
    doc = dataclasses.asdict(summary)
    users = url_for("api_v1.list_users_view")
    doc["operators"]["links"] = {"list": users, "active": f"{users}?status=active"}
    groups = url_for("api_v1.list_groups_view")
    doc["operator_groups"]["links"] = {"list": groups,
                                       "without_members": f"{groups}?without_members=true"}
    doc["api_users"]["links"] = {"list": url_for("api_v1.hub_api_users_view"),
                                 "connections": url_for("api_v1.connections_view"),
                                 "requests": url_for("api_v1.scim_requests_view")}
    doc["api_users"]["connections"] = [
        {"id": c.id, "label": c.label, "profile": c.profile,
         "last_request_at": c.last_request["at"] if c.last_request else None,
         "last_status": c.last_request["status"] if c.last_request else None,
         "requests_24h": c.requests_24h, "error_rate_24h": c.error_rate_24h}
        for c in list_connections(g.db, g.account, request_log_of())]
    doc["on_duty"]["links"] = {"list": url_for("api_v1.hub_on_duty_view")}
    doc["seats"]["links"] = {"paying": f"{users}?status=active&paying=true", "operators": users}
    doc["resources"]["links"] = {
        "list": url_for("api_v1.list_resources_view"),
        "permissions": url_for("api_v1.hub_permissions_view"),
        "production": url_for("api_v1.hub_permissions_view", production="true"),
    }
    doc["webhooks"]["links"] = {"list": url_for("api_v1.list_webhooks_view")}
    return doc


@operation("/api-users", "GET", summary="Users holding an API credential (API token, OAuth "
           "client, SCIM token), with each credential's use", tag=HUB, query=s.ApiUsersQuery,
           response=s.ApiUserPageOut)
def hub_api_users_view(query: dict[str, Any]) -> Any:
    page = list_api_users(g.db, g.account, now=_clock()(), sort=query["sort"],
                          limit=query["limit"], offset=query["offset"])
    return {"total": page.total, "offset": query["offset"], "limit": query["limit"],
            "users": [dataclasses.asdict(u) for u in page.items]}


# --- duty schedules --------------------------------------------------------------------------


def _window_out(w: DutyWindow) -> dict[str, Any]:
    return {"id": w.id, "weekday": duty.WEEKDAYS[w.weekday], "start": w.start_time,
            "end": w.end_time, "crosses_midnight": w.end_time <= w.start_time}


def _exception_out(e: DutyException) -> dict[str, Any]:
    return {"id": e.id, "date": e.on_date, "kind": e.kind, "start": e.start_time,
            "end": e.end_time, "note": e.note}


def _schedule_out(view: duty.ScheduleView) -> dict[str, Any]:
    return {"user_id": view.user_id, "time_zone": view.time_zone,
            "windows": [_window_out(w) for w in view.windows],
            "exceptions": [_exception_out(e) for e in view.exceptions]}


def _window_spec(body: dict[str, Any]) -> duty.WindowSpec:
    return duty.WindowSpec(duty.WEEKDAYS.index(body["weekday"]), body["start"], body["end"])


def _exception_spec(body: dict[str, Any]) -> duty.ExceptionSpec:
    return duty.ExceptionSpec(body["date"], body["kind"], body.get("start"), body.get("end"),
                              body.get("note"))


@operation("/users/<user_id>/duty", "GET", summary="A user's duty schedule", tag=DUTY,
           response=s.DutyScheduleOut)
def hub_get_duty_view(user_id: str) -> Any:
    return _schedule_out(duty.get_schedule(g.db, g.account, user_id))


@operation("/users/<user_id>/duty", "PUT", summary="Set a user's duty schedule (time zone, "
           "weekly windows, and exceptions when given)", tag=DUTY, body=s.DutyScheduleIn,
           response=s.DutyScheduleOut)
def hub_put_duty_view(user_id: str, body: dict[str, Any]) -> Any:
    exceptions = body.get("exceptions")
    view = duty.set_schedule(
        g.db, g.account, user_id, time_zone=body["time_zone"],
        windows=[_window_spec(w) for w in body["windows"]],
        exceptions=None if exceptions is None else [_exception_spec(e) for e in exceptions],
        actor=g.actor, clock=_clock(),
    )
    return _schedule_out(view)


@operation("/users/<user_id>/duty", "DELETE", summary="Remove a user's duty schedule", tag=DUTY)
def hub_delete_duty_view(user_id: str) -> Any:
    duty.delete_schedule(g.db, g.account, user_id, actor=g.actor, clock=_clock())


@operation("/users/<user_id>/duty/windows", "POST", summary="Add a weekly window", tag=DUTY,
           body=s.DutyWindowIn, response=s.DutyWindowOut, status=201)
def hub_add_window_view(user_id: str, body: dict[str, Any]) -> Any:
    row = duty.add_window(g.db, g.account, user_id, _window_spec(body), actor=g.actor,
                          clock=_clock())
    return _window_out(row)


@operation("/users/<user_id>/duty/windows/<window_id>", "DELETE", summary="Remove a window",
           tag=DUTY)
def hub_remove_window_view(user_id: str, window_id: str) -> Any:
    duty.remove_window(g.db, g.account, user_id, window_id, actor=g.actor, clock=_clock())


@operation("/users/<user_id>/duty/exceptions", "POST", summary="Add a dated exception (off, "
           "or on with times)", tag=DUTY, body=s.DutyExceptionIn, response=s.DutyExceptionOut,
           status=201)
def hub_add_exception_view(user_id: str, body: dict[str, Any]) -> Any:
    row = duty.add_exception(g.db, g.account, user_id, _exception_spec(body), actor=g.actor,
                             clock=_clock())
    return _exception_out(row)


@operation("/users/<user_id>/duty/exceptions/<exception_id>", "DELETE",
           summary="Remove an exception", tag=DUTY)
def hub_remove_exception_view(user_id: str, exception_id: str) -> Any:
    duty.remove_exception(g.db, g.account, user_id, exception_id, actor=g.actor, clock=_clock())


@operation("/on-duty", "GET", summary="Who is on duty now, or at the instant `at`", tag=DUTY,
           query=s.OnDutyQuery, response=s.OnDutyOut)
def hub_on_duty_view(query: dict[str, Any]) -> Any:
    at: dt.datetime = query.get("at") or _clock()()
    entries = duty.on_duty_at(g.db, g.account, at)
    return {"at": at, "total": len(entries), "users": [
        {"id": e.user_id, "display_name": e.display_name, "user_type": e.user_type,
         "time_zone": e.time_zone, "local_time": e.local_time} for e in entries
    ]}


# --- permissions -----------------------------------------------------------------------------


@operation("/resources/permissions", "GET", summary="Per resource, the users and groups "
           "holding a permission, including what users hold through groups", tag=PERMS,
           query=s.PermissionsQuery, response=s.PermissionsPageOut)
def hub_permissions_view(query: dict[str, Any]) -> Any:
    page = permissions.permissions_overview(
        g.db, g.account, kind=query.get("kind"), production=query.get("production"),
        resource_id=query.get("resource_id"), limit=query["limit"], offset=query["offset"],
    )
    return {"total": page.total, "offset": query["offset"], "limit": query["limit"],
            "resources": [
                {"id": item.resource.id, "kind": item.resource.kind, "name": item.resource.name,
                 "production": item.resource.production, "owner_ids": item.owner_ids,
                 "groups": item.groups,
                 "users": [{**dataclasses.asdict(u), "level": u.level} for u in item.users]}
                for item in page.items
            ]}


def _grant(resource_id: str, principal_type: str, principal_id: str, level: str) -> Any:
    row = permissions.grant_permission(
        g.db, g.account, resource_id, principal_type=principal_type, principal_id=principal_id,
        level=level, actor=g.actor, clock=_clock(),
    )
    return {"resource_id": resource_id, "principal_type": principal_type,
            "principal_id": principal_id, "level": row.level, "granted_at": row.granted_at}


@operation("/resources/<resource_id>/permissions/users/<user_id>", "PUT",
           summary="Grant a user a permission on a resource (or change its level)", tag=PERMS,
           body=s.PermissionGrantIn, response=s.PermissionGrantOut)
def hub_grant_user_view(resource_id: str, user_id: str, body: dict[str, Any]) -> Any:
    return _grant(resource_id, "user", user_id, body["level"])


@operation("/resources/<resource_id>/permissions/groups/<group_id>", "PUT",
           summary="Grant a group a permission on a resource (or change its level)", tag=PERMS,
           body=s.PermissionGrantIn, response=s.PermissionGrantOut)
def hub_grant_group_view(resource_id: str, group_id: str, body: dict[str, Any]) -> Any:
    return _grant(resource_id, "group", group_id, body["level"])


@operation("/resources/<resource_id>/permissions/users/<user_id>", "DELETE",
           summary="Revoke a user's own permission on a resource", tag=PERMS)
def hub_revoke_user_view(resource_id: str, user_id: str) -> Any:
    permissions.revoke_permission(g.db, g.account, resource_id, principal_type="user",
                                  principal_id=user_id, actor=g.actor, clock=_clock())


@operation("/resources/<resource_id>/permissions/groups/<group_id>", "DELETE",
           summary="Revoke a group's permission on a resource", tag=PERMS)
def hub_revoke_group_view(resource_id: str, group_id: str) -> Any:
    permissions.revoke_permission(g.db, g.account, resource_id, principal_type="group",
                                  principal_id=group_id, actor=g.actor, clock=_clock())
