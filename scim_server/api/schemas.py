"""Marshmallow schemas of every request and response of the admin API (and the OpenAPI doc).

Requests refuse unknown fields (marshmallow's RAISE) and wrong types (strict numbers)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from scim_server.domain.actors import DOORS
from scim_server.domain.directory import ORDERS, SORTS
from scim_server.domain.schema_base import PageOut, Strict
from scim_server.domain.users import BULK_MAX, USER_TYPES
from scim_server.storage.domain_tables import RESOURCE_KINDS

STATUSES = ("active", "inactive", "pending")
Str = fields.String


# Row ids are SQL BIGINTs: a larger number fails in the driver (a 500), so the schema bounds it.
MAX_ROW_ID = 2**63 - 1


def _limit(default: int = 50) -> fields.Integer:
    return fields.Integer(load_default=default, validate=validate.Range(1, 500))


# --- requests ----------------------------------------------------------------------------------

class UserListQuery(Strict):
    q = Str(validate=validate.Length(1, 200))
    user_type = Str(validate=validate.OneOf(USER_TYPES))
    status = Str(validate=validate.OneOf(STATUSES))
    paying = fields.Boolean(metadata={"description": "true: only the types that take a seat "
                                                    "(Admin, Member); false: only the others"})
    sort = Str(load_default="name", validate=validate.OneOf(SORTS))
    order = Str(load_default="asc", validate=validate.OneOf(ORDERS))
    limit = _limit()
    cursor = Str(validate=validate.Length(1, 500),
                 metadata={"description": "a page's `next_cursor`: the page after it"})
    before = Str(validate=validate.Length(1, 500),
                 metadata={"description": "a page's `prev_cursor`: the page before it"})


class ProfilePatch(Strict):
    given_name = Str(allow_none=True, validate=validate.Length(max=200))
    family_name = Str(allow_none=True, validate=validate.Length(max=200))
    display_name = Str(allow_none=True, validate=validate.Length(max=400))
    title = Str(allow_none=True, validate=validate.Length(max=200))
    phone = Str(allow_none=True, validate=validate.Length(max=50))
    locale = Str(allow_none=True, validate=validate.Regexp(r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$"))
    notifications = fields.Dict(keys=Str(validate=validate.Length(1, 100)))
    # Accepted so that the domain can refuse them with their rule ids (profile.admin_limits,
    # email.confirmation_required) instead of an anonymous "unknown field".
    password = Str(load_only=True, validate=validate.Length(8, 200))
    email = fields.Email(load_only=True)


class InviteRequest(Strict):
    email = fields.Email(required=True)
    user_type = Str(load_default="Member", validate=validate.Length(1, 40))
    display_name = Str(validate=validate.Length(1, 400))


def _domains(**kw: object) -> fields.List:
    return fields.List(Str(validate=validate.Length(1, 253)), validate=validate.Length(max=200),
                       **kw)  # type: ignore[arg-type]


class AccountSettingsPatch(Strict):
    display_name = Str(allow_none=True, validate=validate.Length(max=200))
    domains = _domains()
    guest_allowlist = _domains(allow_none=True,
                               metadata={"description": "null: every domain not denied"})
    guest_denylist = _domains()
    default_user_type = Str(validate=validate.Length(1, 40),
                            metadata={"description": "Member or Viewer"})


class TokenRequest(Strict):
    token = Str(required=True, validate=validate.Length(10, 200))


class TypeChange(Strict):
    # Any string: an unknown type is refused by the domain with rule user_type.invalid.
    user_type = Str(required=True, validate=validate.Length(1, 40))


class EmailChangeRequest(Strict):
    email = fields.Email(required=True)


class ActivityRequest(Strict):
    at = fields.AwareDateTime()


class DeleteQuery(Strict):
    display_name = Str(validate=validate.Length(1, 400))


class BulkRequest(Strict):
    # The document says the rule's bound (bulk.too_many, BULK_MAX), so that a client reading
    # it learns the limit; longer lists still reach the domain, which refuses them with the
    # rule's id rather than an anonymous schema error.
    user_ids = fields.List(Str(validate=validate.Length(1, 64)), required=True,
                           validate=validate.Length(1, 10 * BULK_MAX),
                           metadata={"maxItems": BULK_MAX, "minItems": 1})
    user_type = Str(validate=validate.Length(1, 40))
    status = Str(validate=validate.OneOf(("active", "inactive")))

    @validates_schema
    def one_change(self, data: dict[str, object], **_: object) -> None:
        if ("user_type" in data) == ("status" in data):
            raise ValidationError("give exactly one of user_type and status", "_schema")


class TransferRequest(Strict):
    to_user_id = Str(required=True, validate=validate.Length(1, 64))
    resource_ids = fields.List(Str(validate=validate.Length(1, 64)),
                               validate=validate.Length(1, 1000))


class ClaimRequest(Strict):
    resource_ids = fields.List(Str(validate=validate.Length(1, 64)), required=True,
                               validate=validate.Length(1, 1000))


class ResourceCreate(Strict):
    kind = Str(required=True, validate=validate.OneOf(RESOURCE_KINDS))
    name = Str(required=True, validate=validate.Length(1, 400))
    production = fields.Boolean(load_default=False)
    owner_ids = fields.List(Str(validate=validate.Length(1, 64)), load_default=list,
                            validate=validate.Length(max=100))


class ResourceListQuery(Strict):
    kind = Str(validate=validate.OneOf(RESOURCE_KINDS))
    owner_id = Str(validate=validate.Length(1, 64))
    after = Str(validate=validate.Length(1, 64))
    limit = _limit(100)


class EnableRequest(Strict):
    enabled = fields.Boolean(required=True)


def _in_utc(value: dt.datetime) -> None:
    # An instant near year 1 or 9999 with an offset leaves the datetime range once in UTC, as
    # the storage puts it: refused here rather than an OverflowError (a 500) there.
    try:
        value.astimezone(dt.UTC)
    except OverflowError:
        raise ValidationError("out of range once in UTC") from None


def _instant(description: str) -> fields.AwareDateTime:
    return fields.AwareDateTime(validate=_in_utc, metadata={
        "description": f"{description} (ISO 8601 with an offset, e.g. 2026-01-31T00:00:00Z)"})


class AuditQuery(Strict):
    limit = _limit(100)
    before_id = fields.Integer(validate=validate.Range(1, MAX_ROW_ID))
    target_type = Str(validate=validate.Length(1, 30))
    target_id = Str(validate=validate.Length(1, 64))
    action = Str(validate=validate.Length(1, 60))
    door = Str(validate=validate.OneOf(DOORS),
               metadata={"description": "where the change came in: " + ", ".join(DOORS)})
    since = _instant("entries at or after this instant")
    until = _instant("entries before this instant")

    @validates_schema
    def a_range(self, data: dict[str, Any], **_: object) -> None:
        if "since" in data and "until" in data and data["since"] >= data["until"]:
            raise ValidationError("must be after since", "until")


class TokenCreate(Strict):
    user_id = Str(validate=validate.Length(1, 64))
    kind = Str(load_default="api", validate=validate.OneOf(("api", "scim")))
    name = Str(validate=validate.Length(1, 200))


class TokenListQuery(Strict):
    user_id = Str(validate=validate.Length(1, 64))
    kind = Str(validate=validate.OneOf(("api", "scim")))


class ReassignRequest(Strict):
    user_id = Str(required=True, validate=validate.Length(1, 64))


class OAuthClientCreate(Strict):
    user_id = Str(validate=validate.Length(1, 64))
    name = Str(validate=validate.Length(1, 200))


class OutboxQuery(Strict):
    after_id = fields.Integer(validate=validate.Range(0, MAX_ROW_ID))
    limit = _limit(100)


class Empty(Strict):
    """No body (or an empty JSON object)."""


# --- responses ---------------------------------------------------------------------------------

class UserOut(Schema):
    id = Str()
    user_name = Str(allow_none=True)
    display_name = Str(allow_none=True)
    email = Str(allow_none=True)
    user_type = Str()
    status = Str()
    given_name = Str(allow_none=True)
    family_name = Str(allow_none=True)
    title = Str(allow_none=True)
    phone = Str(allow_none=True)
    locale = Str(allow_none=True)
    notifications = fields.Dict()
    last_activity_at = fields.DateTime(allow_none=True)
    # Set when there is no recorded activity: "no activity since" the tracking start.
    no_activity_since = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    modified_at = fields.DateTime()


class UserPageOut(Schema):
    total = fields.Integer(metadata={"description": "how many the filter matches, over all "
                                                  "its pages"})
    users = fields.List(fields.Nested(UserOut))
    next_cursor = Str(allow_none=True)
    prev_cursor = Str(allow_none=True, metadata={"description": "null on the first page"})


class AcceptedOut(Schema):
    id = Str()
    status = Str()


class EmailChangeOut(Schema):
    user_id = Str()
    expires_at = fields.DateTime()
    status = Str()


class ActivityOut(Schema):
    id = Str()
    last_activity_at = fields.DateTime(allow_none=True)


class SkippedOut(Schema):
    user_id = Str()
    rule = Str()
    detail = Str()


class BulkOut(Schema):
    applied = fields.List(Str())
    skipped = fields.List(fields.Nested(SkippedOut))


class ResourceOut(Schema):
    id = Str()
    kind = Str()
    name = Str()
    production = fields.Boolean()
    enabled = fields.Boolean()
    accessible = fields.Boolean()
    owner_ids = fields.List(Str())
    created_by_id = Str(allow_none=True)
    created_at = fields.DateTime()


class ResourceListOut(Schema):
    total = fields.Integer(metadata={"description": "how many the filter matches, over all "
                                                  "its pages"})
    resources = fields.List(fields.Nested(ResourceOut))
    next_after = Str(allow_none=True)


class MovedOut(Schema):
    resource_ids = fields.List(Str())


class AuditOut(Schema):
    id = fields.Integer()
    at = fields.DateTime()
    door = Str()
    actor_user_id = Str(allow_none=True)
    actor_credential_id = Str(allow_none=True)
    client = Str(allow_none=True)
    action = Str()
    target_type = Str()
    target_id = Str(allow_none=True)
    before = fields.Dict(allow_none=True)
    after = fields.Dict(allow_none=True)


class EventsQuery(Strict):
    after = Str(validate=validate.Length(1, 200),
                metadata={"description": "the `next` cursor of an earlier answer; without it, "
                                         "the feed from its first event"})
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 1000))
    type = Str(validate=validate.Length(1, 1000),
               metadata={"description": "only these RFC 9967 event URIs (comma-separated)"})


class EventOut(Schema):
    id = Str()
    position = fields.Integer()
    at = fields.DateTime()
    type = Str(metadata={"description": "the RFC 9967 event URI"})
    door = Str()
    actor_user_id = Str(allow_none=True)
    actor_credential_id = Str(allow_none=True)
    client = Str(allow_none=True)
    resource_type = Str()
    resource_id = Str()
    sub_id = fields.Dict(metadata={"description": "the subject, as RFC 9967 names it"})
    attributes = fields.List(Str(), metadata={"description": "notices: the attributes changed"})
    added = fields.List(Str(), metadata={"description": "members added to a group"})
    removed = fields.List(Str(), metadata={"description": "members removed from a group"})
    data = fields.Dict(allow_none=True,
                       metadata={"description": "create:full: the resource (no password)"})


class EventListOut(Schema):
    events = fields.List(fields.Nested(EventOut))
    next = Str(metadata={"description": "the cursor to ask with next (`after`); kept by a "
                                        "client, it resumes the feed with no gap and no repeat"})


class SetError(Strict):
    err = Str(required=True, validate=validate.Length(1, 100),
              metadata={"description": "an RFC 8935 error code, e.g. `invalid_request`"})
    description = Str(validate=validate.Length(0, 1000))


def _jti() -> fields.String:
    return Str(validate=validate.Length(1, 64))


class SetPollRequest(Strict):
    """RFC 8936: acknowledge, report errors, and ask for more."""

    ack = fields.List(_jti(), load_default=list,
                      metadata={"description": "the jti of each SET processed: never sent again"})
    setErrs = fields.Dict(keys=_jti(), values=fields.Nested(SetError), load_default=dict,
                          metadata={"description": "SETs that could not be processed, by jti: "
                                                   "not sent again either"})
    maxEvents = fields.Integer(load_default=100, strict=True, validate=validate.Range(min=0),
                               metadata={"description": "at most this many SETs (0: only "
                                                        "acknowledge); more than the server's "
                                                        "page size (SCIM_MAX_RESULTS) gets "
                                                        "that many"})
    returnImmediately = fields.Boolean(
        load_default=False, metadata={"description": "false: with nothing to send, wait a "
                                                     "little for an event (PostgreSQL; "
                                                     "SCIM_SET_POLL_WAIT seconds)"})


class SetPollOut(Schema):
    sets = fields.Dict(keys=Str(), values=Str(),
                       metadata={"description": "SETs by jti, each a compact JWS "
                                                "(`typ` secevent+jwt, ES256) that verifies "
                                                "with /.well-known/jwks.json"})
    moreAvailable = fields.Boolean()


class AuditListOut(Schema):
    total = fields.Integer(metadata={"description": "how many the filter matches, over all "
                                                  "its pages"})
    entries = fields.List(fields.Nested(AuditOut))
    next_before_id = fields.Integer(allow_none=True)


class AccountSettingsOut(Schema):
    name = Str()
    display_name = Str()
    domains = fields.List(Str())
    guest_allowlist = fields.List(Str(), allow_none=True)
    guest_denylist = fields.List(Str())
    default_user_type = Str()
    plan = Str()
    seats_used = fields.Integer()
    seats_limit = fields.Integer()
    operators_used = fields.Integer()
    operators_limit = fields.Integer()


class TokenOut(Schema):
    id = Str()
    kind = Str()
    name = Str(allow_none=True)
    prefix = Str()
    user_id = Str(allow_none=True)
    created_at = fields.DateTime()
    last_used_at = fields.DateTime(allow_none=True)
    revoked_at = fields.DateTime(allow_none=True)


class IssuedTokenOut(TokenOut):
    token = Str(metadata={"description": "The secret, shown this once only."})


class TokenListOut(Schema):
    tokens = fields.List(fields.Nested(TokenOut))


class OAuthClientOut(Schema):
    id = Str()
    client_id = Str()
    name = Str(allow_none=True)
    user_id = Str(allow_none=True)
    created_at = fields.DateTime()
    last_used_at = fields.DateTime(allow_none=True)
    revoked_at = fields.DateTime(allow_none=True)


class IssuedOAuthClientOut(OAuthClientOut):
    client_secret = Str(metadata={"description": "The secret, shown this once only."})


class OAuthClientListOut(Schema):
    clients = fields.List(fields.Nested(OAuthClientOut))


class OutboxOut(Schema):
    id = fields.Integer()
    to = Str(attribute="to_address")
    subject = Str()
    body = Str()
    created_at = fields.DateTime()


class OutboxListOut(Schema):
    total = fields.Integer(metadata={"description": "how many the filter matches, over all "
                                                  "its pages"})
    messages = fields.List(fields.Nested(OutboxOut))


class Problem(Schema):
    type = Str(metadata={"description": "urn:scim-server:problem:<kind> (invalid-input, "
                         "unauthorized, forbidden, not-found, method-not-allowed, conflict, "
                         "body-too-large, too-many-requests, unavailable, ...), or "
                         "urn:scim-server:problem:rule:<rule id> for an account rule's refusal"})
    title = Str()
    status = fields.Integer()
    detail = Str()
    rule = Str(metadata={"description": "The stable id of the account rule that refused."})
    errors = fields.Dict(metadata={"description": "Messages per field."})


# --- groups ------------------------------------------------------------------------------------

class GroupListQuery(Strict):
    q = Str(validate=validate.Length(1, 200),
            metadata={"description": "a part of the display name, any case"})
    without_members = fields.Boolean(
        metadata={"description": "true: only the groups without members; false: only the others"})
    limit = _limit()
    offset = fields.Integer(load_default=0, validate=validate.Range(0, 10_000_000))


class GroupCreate(Strict):
    display_name = Str(required=True, validate=validate.Length(1, 400))


class GroupRename(Strict):
    display_name = Str(required=True, validate=validate.Length(1, 400))


class GroupQuery(Strict):
    members_limit = _limit()
    members_offset = fields.Integer(load_default=0, validate=validate.Range(0, 10_000_000))


class MemberListQuery(Strict):
    limit = _limit()
    offset = fields.Integer(load_default=0, validate=validate.Range(0, 10_000_000))


class MemberIds(Strict):
    member_ids = fields.List(Str(validate=validate.Length(1, 64)), required=True,
                             validate=validate.Length(1, 1000),
                             metadata={"description": "ids of users (or groups) of the account"})


class GroupOut(Schema):
    id = Str()
    display_name = Str(allow_none=True)
    external_id = Str(allow_none=True)
    members = fields.Integer(metadata={"description": "the number of members"})
    managed_by_identity_provider = fields.Boolean(metadata={
        "description": "created or last changed through SCIM (or holding an externalId): the "
                       "identity provider's next push overwrites changes made here"})
    created_at = fields.DateTime()
    modified_at = fields.DateTime()


class GroupPageOut(PageOut):
    groups = fields.List(fields.Nested(GroupOut))


class MemberOut(Schema):
    id = Str()
    type = Str(metadata={"description": "User or Group"})
    display = Str(allow_none=True)


class MemberPageOut(PageOut):
    items = fields.List(fields.Nested(MemberOut))


class GroupDetailOut(GroupOut):
    member_page = fields.Nested(MemberPageOut)


class MembersChangedOut(Schema):
    changed = fields.List(Str(), metadata={"description": "the ids added (or removed); ids "
                                           "already in (or not in) the group are left out"})
    group = fields.Nested(GroupOut)


# --- the SCIM request log and the connections ---------------------------------------------------

REQUEST_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
STATUS_CLASSES = ("2xx", "4xx", "5xx")
IDP_PROFILES = ("okta", "entra", "google", "jumpcloud", "onelogin", "generic")


class ScimRequestQuery(Strict):
    limit = _limit(50)
    cursor = Str(validate=validate.Regexp(r"^[1-9][0-9]{0,17}$"),
                 metadata={"description": "the `next_cursor` of an earlier page"})
    status = Str(validate=validate.OneOf(STATUS_CLASSES))
    connection_id = Str(validate=validate.Length(1, 64))
    method = Str(validate=validate.OneOf(REQUEST_METHODS))
    resource_id = Str(validate=validate.Length(1, 64),
                      metadata={"description": "a user or group the request touched"})
    since = fields.AwareDateTime(metadata={"description": "from this instant (included)"})
    until = fields.AwareDateTime(metadata={"description": "to this instant (excluded)"})

    @validates_schema
    def _range(self, data: dict[str, object], **_kw: object) -> None:
        since, until = data.get("since"), data.get("until")
        if since is not None and until is not None and since >= until:  # type: ignore[operator]
            raise ValidationError("must be after `since`", "until")


class ScimRequestOut(Schema):
    id = Str()
    at = fields.DateTime()
    connection_id = Str(allow_none=True)
    connection_label = Str(allow_none=True)
    profile = Str(allow_none=True, metadata={"description": "the identity provider detected"})
    user_agent = Str(allow_none=True)
    method = Str()
    path = Str()
    query = Str(allow_none=True, metadata={"description": "the query string (a filter), "
                                                          "redacted when it names a secret"})
    status = fields.Integer()
    scim_type = Str(allow_none=True)
    rule = Str(allow_none=True, metadata={"description": "the account rule that refused it"})
    duration_ms = fields.Float()
    quirks = fields.List(Str(), metadata={"description": "ids of the tolerances applied "
                                                         "(docs/quirks.md)"})
    resource_ids = fields.List(Str(), metadata={"description": "users and groups touched"})


class ScimRequestDetailOut(ScimRequestOut):
    request_body = Str(allow_none=True, metadata={"description": "redacted: passwords, "
                                                                "tokens and secrets removed"})
    request_truncated = fields.Boolean()
    response_body = Str(allow_none=True)
    response_truncated = fields.Boolean()


class ScimRequestPageOut(Schema):
    requests = fields.List(fields.Nested(ScimRequestOut))
    next_cursor = Str(allow_none=True)


class LastRequestOut(Schema):
    id = Str()
    at = fields.DateTime()
    method = Str()
    path = Str()
    status = fields.Integer()


class ConnectionOut(Schema):
    id = Str(metadata={"description": "the SCIM token's id"})
    label = Str(allow_none=True, metadata={"description": "the SCIM token's name"})
    prefix = Str()
    profile = Str(metadata={"description": "the Admin's choice, else the detected one, else "
                                           "generic"})
    profile_source = Str(metadata={"description": "admin, detected or default"})
    detected_profile = Str(allow_none=True)
    last_request = fields.Nested(LastRequestOut, allow_none=True)
    requests_24h = fields.Integer()
    errors_24h = fields.Integer()
    error_rate_24h = fields.Float(allow_none=True)


class ConnectionListOut(Schema):
    connections = fields.List(fields.Nested(ConnectionOut))


class ConnectionPatch(Strict):
    profile = Str(required=True, allow_none=True, validate=validate.OneOf(IDP_PROFILES),
                  metadata={"description": "null: back to the detected profile"})
