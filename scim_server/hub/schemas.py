"""Marshmallow schemas of the hub's admin API operations (requests refuse unknown fields).

Names are prefixed (Hub, Duty, ApiUser, Permission) because the OpenAPI document names its
components after the schema classes, next to the admin API's own.
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from scim_server.domain.schema_base import PageOut, Strict
from scim_server.hub.api_users import SORTS
from scim_server.hub.duty import WEEKDAYS
from scim_server.storage.domain_tables import RESOURCE_KINDS
from scim_server.storage.hub_tables import EXCEPTION_KINDS, PERMISSION_LEVELS

Str = fields.String
API_USER_SORTS = (*SORTS, *(f"-{s}" for s in SORTS))


def _limit() -> fields.Integer:
    return fields.Integer(load_default=50, validate=validate.Range(1, 500))


def _offset() -> fields.Integer:
    return fields.Integer(load_default=0, validate=validate.Range(0, 10_000_000))


# --- requests ----------------------------------------------------------------------------------


class ApiUsersQuery(Strict):
    sort = Str(
        load_default="name",
        validate=validate.OneOf(API_USER_SORTS),
        metadata={"description": "name, last_used, credentials or issued; '-' for descending"},
    )
    limit = _limit()
    offset = _offset()


class OnDutyQuery(Strict):
    at = fields.AwareDateTime(
        metadata={"description": "ISO 8601 instant with an offset; now when absent"}
    )


class DutyWindowIn(Strict):
    weekday = Str(required=True, validate=validate.OneOf(WEEKDAYS))
    start = fields.Time(required=True, metadata={"example": "09:00"})
    end = fields.Time(
        required=True,
        metadata={"description": "at or before start: the window ends the next day"},
    )


class DutyExceptionIn(Strict):
    date = fields.Date(required=True)
    kind = Str(required=True, validate=validate.OneOf(EXCEPTION_KINDS))
    start = fields.Time(load_default=None, allow_none=True)
    end = fields.Time(load_default=None, allow_none=True)
    note = Str(load_default=None, allow_none=True, validate=validate.Length(max=200))

    @validates_schema
    def _times(self, data: dict[str, Any], **_: Any) -> None:
        if (data.get("start") is None) != (data.get("end") is None):
            raise ValidationError("Give both start and end, or neither.", "start")
        if data.get("kind") == "on" and data.get("start") is None:
            raise ValidationError("An 'on' exception needs a start and an end.", "start")


class DutyScheduleIn(Strict):
    time_zone = Str(required=True, validate=validate.Length(1, 64),
                    metadata={"example": "Europe/Paris"})
    windows = fields.List(fields.Nested(DutyWindowIn), required=True)
    exceptions = fields.List(
        fields.Nested(DutyExceptionIn),
        metadata={"description": "replaces the exceptions when given; kept when absent"},
    )


class PermissionsQuery(Strict):
    kind = Str(validate=validate.OneOf(RESOURCE_KINDS))
    production = fields.Boolean()
    resource_id = Str(validate=validate.Length(1, 32))
    limit = _limit()
    offset = _offset()


class PermissionGrantIn(Strict):
    level = Str(required=True, validate=validate.OneOf(PERMISSION_LEVELS))


# --- responses ---------------------------------------------------------------------------------

def _links() -> fields.Dict:
    return fields.Dict(keys=Str(), values=Str(),
                       metadata={"description": "where the full list behind the card is"})


class HubOperatorOut(Schema):
    id = Str()
    display_name = Str(allow_none=True)
    user_type = Str()
    last_activity_at = fields.DateTime(allow_none=True)


class HubOperatorsOut(Schema):
    total = fields.Integer(metadata={"description": "users not deleted"})
    active_total = fields.Integer()
    active = fields.List(fields.Nested(HubOperatorOut),
                         metadata={"description": "the most recently active first, a few"})
    links = _links()


class HubGroupOut(Schema):
    id = Str()
    display_name = Str(allow_none=True)


class HubGroupsOut(Schema):
    total = fields.Integer()
    without_members = fields.Integer()
    empty = fields.List(fields.Nested(HubGroupOut))
    links = _links()


class HubConnectionOut(Schema):
    id = Str(metadata={"description": "the SCIM token's id"})
    label = Str(allow_none=True)
    profile = Str(metadata={"description": "okta, entra, google, jumpcloud, onelogin or generic"})
    last_request_at = fields.DateTime(allow_none=True)
    last_status = fields.Integer(allow_none=True)
    requests_24h = fields.Integer()
    error_rate_24h = fields.Float(allow_none=True, metadata={"description": "4xx and 5xx "
                                                             "answers, over the last 24 hours"})


class HubApiUsersOut(Schema):
    total = fields.Integer(metadata={"description": "users holding an unrevoked credential"})
    inactive_over_30_days = fields.Integer()
    connections = fields.List(fields.Nested(HubConnectionOut),
                              metadata={"description": "each SCIM connection (SCIM token)"})
    links = _links()


class HubOnDutyOut(Schema):
    total = fields.Integer()
    links = _links()


class HubSeatsOut(Schema):
    operators_used = fields.Integer()
    operators_limit = fields.Integer()
    paying_active = fields.Integer()
    paying_limit = fields.Integer()
    links = _links()


class HubResourcesOut(Schema):
    total = fields.Integer()
    production = fields.Integer()
    links = _links()


class HubWebhooksOut(Schema):
    endpoints = fields.Integer()
    failing = fields.Integer(metadata={"description": "endpoints with no 2xx for 24 h"})
    oldest_undelivered_at = fields.DateTime(allow_none=True)
    oldest_undelivered_seconds = fields.Integer(
        allow_none=True, metadata={"description": "age of the oldest event an enabled "
                                                 "endpoint still waits for"})
    links = _links()


class HubOut(Schema):
    operators = fields.Nested(HubOperatorsOut)
    operator_groups = fields.Nested(HubGroupsOut)
    api_users = fields.Nested(HubApiUsersOut)
    on_duty = fields.Nested(HubOnDutyOut)
    seats = fields.Nested(HubSeatsOut)
    resources = fields.Nested(HubResourcesOut)
    webhooks = fields.Nested(HubWebhooksOut)
    as_of = fields.DateTime()


class ApiCredentialOut(Schema):
    id = Str()
    kind = Str(metadata={"description": "api (API token), oauth (OAuth client), scim (SCIM token)"})
    name = Str(allow_none=True)
    created_at = fields.DateTime()
    last_used_at = fields.DateTime(allow_none=True)
    inactive_over_30_days = fields.Boolean()


class ApiUserOut(Schema):
    id = Str()
    display_name = Str(allow_none=True)
    user_type = Str()
    status = Str()
    last_used_at = fields.DateTime(allow_none=True)
    inactive_over_30_days = fields.Boolean()
    credentials = fields.List(fields.Nested(ApiCredentialOut))


class ApiUserPageOut(PageOut):
    users = fields.List(fields.Nested(ApiUserOut))


class DutyWindowOut(Schema):
    id = Str()
    weekday = Str()
    start = fields.Time()
    end = fields.Time()
    crosses_midnight = fields.Boolean()


class DutyExceptionOut(Schema):
    id = Str()
    date = fields.Date()
    kind = Str()
    start = fields.Time(allow_none=True)
    end = fields.Time(allow_none=True)
    note = Str(allow_none=True)


class DutyScheduleOut(Schema):
    user_id = Str()
    time_zone = Str(allow_none=True, metadata={"description": "null: no schedule"})
    windows = fields.List(fields.Nested(DutyWindowOut))
    exceptions = fields.List(fields.Nested(DutyExceptionOut))


class OnDutyUserOut(Schema):
    id = Str()
    display_name = Str(allow_none=True)
    user_type = Str()
    time_zone = Str()
    local_time = fields.DateTime()


class OnDutyOut(Schema):
    at = fields.DateTime()
    total = fields.Integer()
    users = fields.List(fields.Nested(OnDutyUserOut))


class PermissionGroupOut(Schema):
    id = Str()
    display_name = Str(allow_none=True)
    level = Str()


class PermissionUserOut(Schema):
    id = Str()
    display_name = Str(allow_none=True)
    user_type = Str()
    status = Str()
    level = Str(metadata={"description": "effective: the highest of direct and group grants"})
    direct_level = Str(allow_none=True)
    through_groups = fields.List(fields.Nested(PermissionGroupOut))


class ResourcePermissionsOut(Schema):
    id = Str()
    kind = Str()
    name = Str()
    production = fields.Boolean()
    owner_ids = fields.List(Str())
    groups = fields.List(fields.Nested(PermissionGroupOut))
    users = fields.List(fields.Nested(PermissionUserOut))


class PermissionsPageOut(PageOut):
    resources = fields.List(fields.Nested(ResourcePermissionsOut))


class PermissionGrantOut(Schema):
    resource_id = Str()
    principal_type = Str()
    principal_id = Str()
    level = Str()
    granted_at = fields.DateTime()
