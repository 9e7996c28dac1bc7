"""The SQL implementation of scim2-server's ``ScimStorage``, multi-account, on SQLite and PostgreSQL.

Does: store Users and Groups of the current account (RFC 7643 §4), answer ``get``/``search``
with filters, sorts, index and cursor paging compiled to SQL (RFC 7644 §3.4.2, RFC 9865), keep
memberships as rows so a PATCH of a big group costs O(members changed), flush inside
savepoints. Does not: commit (the HTTP layer owns the transaction), decide a business rule (the
domain owns ``status``; this only maps ``active``), or know about HTTP.
"""

from __future__ import annotations

import datetime as dt
import decimal
import functools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, cast

import pydantic
import sqlalchemy as sa
from scim2_models import (
    InvalidCursorException,
    InvalidValueException,
    Meta,
    NotFoundException,
    NotImplementedException,
    PreconditionFailedException,
    Resource,
    ResourceType,
    ResponseParameters,
    ScimProvider,
    SearchRequest,
    UniquenessException,
)
from scim2_models.path import Comparison, ValuePath
from scim2_models.path.resolution import AttributeBinding
from scim2_server.storage import ScimStorage, SearchPage
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from scim_server.security import hash_password
from scim_server.storage import models as m
from scim_server.storage.filters import (
    ACCOUNT_EXTENSION_URN,
    Elements,
    Predicate,
    ResourceContext,
    SqlFilter,
    Uncomparable,
    binding_of,
    comparable,
    eq_terms,
    json_dialect,
    search_document,
)
from scim_server.storage.models import new_id, utcnow

_CHUNK = 500  # ids per IN list: far below SQLite's bound-parameter limit
_VERSION = re.compile(r'^(?:W/)?"?(\d+)"?$')


def _chunks(values: Sequence[str], size: int = _CHUNK) -> Iterator[Sequence[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _utc(value: dt.datetime) -> dt.datetime:
    """SQLite hands timestamps back without their zone; every stored one is UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def _version(row: m.User | m.Group) -> str:
    return f'W/"{row.version}"'


_TIME = pydantic.TypeAdapter(dt.datetime)


@functools.cache
def _extension_urns(model: type[Resource[Any]]) -> tuple[str, ...]:
    return tuple(str(urn) for urn in dict(model.get_extension_models()))

# Set by ``SqlScimStorage.plain_documents`` (a context variable: one storage serves every
# thread of a worker).
_PLAIN_DOCUMENTS: ContextVar[bool] = ContextVar("scim_plain_documents", default=False)


def _json_time(value: dt.datetime) -> str:
    """A timestamp as the models serialise it, so plain documents match them to the byte."""
    return cast(str, _TIME.dump_python(value, mode="json"))


def _check_version(row: m.User | m.Group, expected: str | None) -> None:
    """RFC 7644 §3.14: a stale If-Match version is a 412."""
    if expected is None:
        return
    match = _VERSION.match(expected.strip())
    if match is None or int(match.group(1)) != row.version:
        raise PreconditionFailedException(detail="the resource changed since this version")


def _wants(parameters: ResponseParameters[Any] | None, name: str) -> bool:
    """Whether a response keeps a multi-valued attribute (RFC 7644 §3.9), so it must be loaded.

    It answers True unless the parameters surely drop it: ``excludedAttributes`` naming it,
    or ``attributes`` naming neither it, one of its sub-attributes, nor a whole schema.
    """
    if parameters is None:
        return True
    attributes = getattr(parameters, "attributes", None)
    excluded = getattr(parameters, "excluded_attributes", None)

    def tail(path: Any) -> str:
        text = str(path).lower()
        return text.rsplit(":", 1)[-1] if text.startswith("urn:") else text

    if attributes:
        # A bare schema URN ("...:core:2.0:Group") asks for every attribute of the schema.
        return any(tail(path).split(".")[0] in (name, "user", "group") for path in attributes)
    if excluded:
        return not any(tail(path) == name for path in excluded)
    return True


def _encode(value: Any) -> Any:
    """A sort value in a form JSON holds, for a cursor position."""
    if isinstance(value, dt.datetime):
        return {"datetime": _utc(value).isoformat()}
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


class _UserContext(ResourceContext):
    """Users: userName/displayName/externalId/active/status in columns, groups and emails in tables."""

    def __init__(self, storage: SqlScimStorage, model: type[Resource[Any]]):
        super().__init__(storage.json, m.User, model)
        self.account_id = storage.account

    def column(self, binding: AttributeBinding) -> tuple[Any, str] | None:
        base = super().column(binding)
        if base is not None:
            return base
        if binding.model is self.model:
            if binding.field_name == "user_name":
                return m.User.user_name_key, "str"
            if binding.field_name == "display_name":
                return m.User.display_name_key, "str"
            if binding.field_name == "active":
                return self.active(), "bool"
        schema = str(getattr(binding.model, "__schema__", "") or "")
        if schema == ACCOUNT_EXTENSION_URN:
            if binding.field_name == "status":
                return m.User.status, "str"
            if binding.field_name == "last_activity":
                return m.User.last_activity_at, "dtcol"
        return None

    def active(self) -> Any:
        """``active`` as read back: false unless the status is active, else as the client sent it."""
        sent = self.json.present(cast(Any, m.User.search), ("active",))
        return sa.case(
            (m.User.status != "active", sa.false()),
            (sent, sa.true()),
            else_=sa.null(),
        )

    def special_elements(self, binding: AttributeBinding) -> Elements | None:
        if binding.model is not self.model or binding.field_name != "groups":
            return None
        gm = m.GroupMember.__table__.alias()
        g = m.Group.__table__.alias()
        columns = {
            "value": gm.c.group_id,
            "display": g.c.display_name_key,
            "type": sa.literal("direct"),
            "ref": sa.literal("Groups/") + gm.c.group_id,
        }
        return Elements(
            source=gm.join(g, g.c.id == gm.c.group_id),
            correlation=sa.and_(gm.c.member_id == m.User.id, gm.c.account_id == self.account_id),
            head_present=sa.exists().where(
                gm.c.member_id == m.User.id, gm.c.account_id == self.account_id
            ),
            sub=lambda name, kind: columns.get(name or ""),
        )

    def lookup(self, node: Comparison | ValuePath, binding: AttributeBinding) -> Predicate | None:
        """``emails``/``groups`` equality lookups as an IN over an indexed table (no row scan)."""
        if binding.model is not self.model or binding.field_name not in ("emails", "groups"):
            return None
        terms = _lookup_terms(node, binding)
        if terms is None:
            return None
        if binding.field_name == "groups":
            if [name for name, _ in terms] != ["value"]:
                return None
            gm = m.GroupMember.__table__.alias()
            key = _key(self.model, "groups", "value", terms[0][1])
            if key is None:
                return sa.false()
            return m.User.id.in_(
                sa.select(gm.c.member_id).where(
                    gm.c.group_id == key, gm.c.account_id == self.account_id
                )
            )
        names = [name for name, _ in terms]
        if "value" not in names or not set(names) <= {"value", "type", "primary"}:
            return None
        ue = m.UserEmail.__table__.alias()
        conditions: list[Any] = [ue.c.account_id == self.account_id]
        for name, value in terms:
            if name == "primary":
                if value is not True:
                    # Rows say False for an absent primary, which "eq false" must not match.
                    return None
                conditions.append(ue.c.primary.is_(True))
                continue
            if not isinstance(value, str):
                return None
            key = _key(self.model, "emails", name, value)
            if key is None:
                return sa.false()
            conditions.append((ue.c.value_key if name == "value" else ue.c.type_key) == key)
        return m.User.id.in_(sa.select(ue.c.user_id).where(*conditions))


class _GroupContext(ResourceContext):
    """Groups: displayName/externalId in columns, members in group_members."""

    def __init__(self, storage: SqlScimStorage, model: type[Resource[Any]]):
        super().__init__(storage.json, m.Group, model)
        self.account_id = storage.account

    def column(self, binding: AttributeBinding) -> tuple[Any, str] | None:
        base = super().column(binding)
        if base is not None:
            return base
        if binding.model is self.model and binding.field_name == "display_name":
            return m.Group.display_name_key, "str"
        return None

    def special_elements(self, binding: AttributeBinding) -> Elements | None:
        if binding.model is not self.model or binding.field_name != "members":
            return None
        gm = m.GroupMember.__table__.alias()
        columns = {
            "value": gm.c.member_id,
            # lower() is the comparison key for ASCII; see the known limits in the storage docstring.
            "display": sa.func.lower(gm.c.display),
            "type": sa.func.lower(gm.c.member_type),
            "ref": sa.case(
                (gm.c.member_type == "User", sa.literal("Users/") + gm.c.member_id),
                else_=sa.literal("Groups/") + gm.c.member_id,
            ),
        }
        return Elements(
            source=gm,
            correlation=gm.c.group_id == m.Group.id,
            head_present=sa.exists().where(gm.c.group_id == m.Group.id),
            sub=lambda name, kind: columns.get(name or ""),
        )

    def lookup(self, node: Comparison | ValuePath, binding: AttributeBinding) -> Predicate | None:
        """``members.value eq`` as an IN over group_members(member_id, group_id)."""
        if binding.model is not self.model or binding.field_name != "members":
            return None
        terms = _lookup_terms(node, binding)
        if terms is None or [name for name, _ in terms] != ["value"]:
            return None
        key = _key(self.model, "members", "value", terms[0][1])
        if key is None:
            return sa.false()
        gm = m.GroupMember.__table__.alias()
        return m.Group.id.in_(
            sa.select(gm.c.group_id).where(
                gm.c.member_id == key, gm.c.account_id == self.account_id
            )
        )


def _lookup_terms(
    node: Comparison | ValuePath, binding: AttributeBinding
) -> list[tuple[str, Any]] | None:
    if isinstance(node, ValuePath):
        return eq_terms(node.val_filter)
    if node.op.value != "eq" or node.value is None or binding.sub_field_name is None:
        return None
    return [(binding.sub_field_name, node.value)]


def _key(model: Any, field: str, sub: str, value: Any) -> Any:
    """The comparison key of a string operand, or None when the policy refuses it (equal to nothing)."""
    if not isinstance(value, str):
        return None
    try:
        return comparable(binding_of(model, field, sub), "str", value)
    except Uncomparable:
        return None


# Longest value of an attribute kept in an indexed lookup column (userName, externalId, ...).
MAX_INDEXED_LENGTH = 400


class SqlScimStorage(ScimStorage):
    """Users and Groups of one account at a time, in SQL (RFC 7643 §4, RFC 7644 §3).

    :param session: returns the session of the current request; the storage flushes in it and
        never commits.
    :param account_id: returns the current account; every statement filters on it, so a
        resource of another account is not found, never visible, never a uniqueness conflict.
    :param clock: the date of a write, for ``meta.created``/``meta.lastModified``.
    :param provider: the service description giving the model of each resource type; without
        it, the provider of the enclosing ``with provider:`` block (scim2-server opens one per
        request) is used.

    Known limits: ``members.display`` filters compare with SQL ``lower()``, exact for ASCII only;
    a user's ``userType`` is read from the payload (the ``user_type`` column mirrors it).
    """

    supports_cursors = True

    def __init__(
        self,
        *,
        session: Callable[[], Session],
        account_id: Callable[[], str],
        clock: Callable[[], dt.datetime] = utcnow,
        provider: ScimProvider | None = None,
    ) -> None:
        self._session = session
        self._account_id = account_id
        self.clock = clock
        self.provider = provider
        self._models: dict[str, type[Resource[Any]]] = {}

    # --- plumbing -----------------------------------------------------------------------

    @property
    def session(self) -> Session:
        return self._session()

    @property
    def account(self) -> str:
        return self._account_id()

    @property
    def json(self) -> Any:
        return json_dialect(self.session.get_bind().dialect.name)

    @contextmanager
    def plain_documents(self) -> Iterator[None]:
        """Searches inside return JSON documents (``_document``) instead of models: for a
        response without attribute parameters, which serves each stored document as it is."""
        token = _PLAIN_DOCUMENTS.set(True)
        try:
            yield
        finally:
            _PLAIN_DOCUMENTS.reset(token)

    @contextmanager
    def operation(self) -> Iterator[None]:
        """One SCIM operation in a SAVEPOINT, so a failed Bulk operation rolls back alone (RFC 7644 §3.7)."""
        with self.session.begin_nested():
            yield

    def _model(self, resource_type: ResourceType) -> type[Resource[Any]]:
        provider = self.provider
        if provider is None:
            from scim2_models.provider import _ambient_provider

            provider = _ambient_provider()
        model = provider.model_for(resource_type) if provider is not None else None
        model = model or self._models.get(str(resource_type.name))
        if model is None:
            raise NotImplementedException(
                detail=f"no model for the resource type {resource_type.name!r}"
            )
        return cast(type[Resource[Any]], model)

    @staticmethod
    def _kind(resource_type: ResourceType) -> str:
        if resource_type.name not in ("User", "Group"):
            raise NotImplementedException(detail=f"cannot store {resource_type.name!r} resources")
        return str(resource_type.name)

    def _context(self, resource_type: ResourceType) -> ResourceContext:
        model = self._model(resource_type)
        if self._kind(resource_type) == "User":
            return _UserContext(self, model)
        return _GroupContext(self, model)

    def _visible(self, kind: str) -> Predicate:
        if kind == "User":
            return sa.and_(m.User.account_id == self.account, m.User.status != "deleted")
        return m.Group.account_id == self.account

    def _row(
        self, resource_type: ResourceType, resource_id: str | None, *, lock: bool = False
    ) -> Any:
        kind = self._kind(resource_type)
        table: Any = m.User if kind == "User" else m.Group
        query = sa.select(table).where(table.id == (resource_id or ""), self._visible(kind))
        if lock:
            # Under the lock, the row as committed now: not the copy an earlier read left in
            # the session, so the version check (RFC 7644 §3.14) sees a concurrent write.
            query = query.with_for_update().execution_options(populate_existing=True)
        row = self.session.execute(query).scalar_one_or_none()
        if row is None:
            raise NotFoundException(detail=f"{resource_type.name} {resource_id!r} not found")
        return row

    # --- reading ------------------------------------------------------------------------

    def get(
        self,
        resource_type: ResourceType,
        resource_id: str,
        *,
        response_parameters: ResponseParameters[Any] | None = None,
    ) -> Resource[Any]:
        """Read a resource (RFC 7644 §3.4.1); members/groups are not loaded when the response drops them."""
        row = self._row(resource_type, resource_id)
        # Held for the request: the session's identity map is weak, and a PATCH or PUT that
        # reads a resource goes on to write it (the rules then find its row without a SELECT).
        self.session.info.setdefault("scim_read_rows", []).append(row)
        related = _wants(response_parameters, "members" if row.__class__ is m.Group else "groups")
        return self._build(resource_type, [row], related=related)[0]

    def _build(
        self, resource_type: ResourceType, rows: Sequence[Any], *, related: bool,
        plain: bool = False,
    ) -> list[Any]:
        """Turn rows into resources, loading memberships in one query per chunk (no N+1)."""
        model = self._model(resource_type)
        kind = self._kind(resource_type)
        ids = [row.id for row in rows]
        query: Any
        extra: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
        if related and ids:
            gm = m.GroupMember
            for chunk in _chunks(ids):
                if kind == "User":
                    query = (
                        sa.select(gm.member_id, gm.group_id, m.Group.display_name)
                        .join(m.Group, m.Group.id == gm.group_id)
                        .where(gm.member_id.in_(chunk), gm.account_id == self.account)
                        .order_by(gm.member_id, gm.group_id)
                    )
                    for owner, group_id, display in self.session.execute(query):
                        entry = {"value": group_id, "$ref": f"Groups/{group_id}", "type": "direct"}
                        if display is not None:
                            entry["display"] = display
                        extra[owner].append(entry)
                else:
                    for owner, entry in self._member_entries(chunk):
                        extra[owner].append(entry)
        make = self._document if plain else self._resource
        return [make(model, resource_type, row, extra[row.id] if related else None) for row in rows]

    def _member_entries(self, group_ids: Sequence[str]) -> Iterator[tuple[str, dict[str, Any]]]:
        """(group id, member entry) for the members of the given groups, in a stable order; the
        ``$ref`` is relative to the SCIM root (the server makes it a URL)."""
        gm = m.GroupMember
        query = (
            sa.select(gm.group_id, gm.member_id, gm.member_type, gm.display)
            .where(gm.group_id.in_(group_ids), gm.account_id == self.account)
            .order_by(gm.group_id, gm.member_id)
        )
        for owner, member_id, member_type, display in self.session.execute(query):
            folder = "Users" if member_type == "User" else "Groups"
            entry = {"value": member_id, "$ref": f"{folder}/{member_id}", "type": member_type}
            if display is not None:
                entry["display"] = display
            yield owner, entry

    def member_entries(self, group_type: ResourceType, group_id: str) -> list[dict[str, Any]]:
        """The members of a group as plain JSON entries (RFC 7643 §4.2), in one query: for a
        large group, building a model per member costs far more than the query."""
        row = self._row(group_type, group_id)
        return [entry for _, entry in self._member_entries([row.id])]

    def _resource(
        self,
        model: type[Resource[Any]],
        resource_type: ResourceType,
        row: Any,
        related: list[dict[str, Any]] | None,
    ) -> Resource[Any]:
        resource = model.model_validate(self._data(model, row, related))
        resource.id = row.id
        resource.meta = Meta(
            resource_type=resource_type.name,
            created=_utc(row.created_at),
            last_modified=_utc(row.modified_at),
            version=_version(row),
        )
        return resource

    def _document(
        self,
        model: type[Resource[Any]],
        resource_type: ResourceType,
        row: Any,
        related: list[dict[str, Any]] | None,
    ) -> dict[str, Any]:
        """What ``_resource`` holds, as the JSON document a query response carries (no
        ``meta.location``, references relative to the SCIM root): the stored payload was
        dumped from a validated model, so it needs no second validation to be served."""
        data = self._data(model, row, related)
        if ACCOUNT_EXTENSION_URN in data:
            extension = data[ACCOUNT_EXTENSION_URN]
            if "lastActivity" in extension:
                extension["lastActivity"] = _json_time(_utc(row.last_activity_at))
        # As the models serialise: an extension is listed in ``schemas`` when it has a value,
        # and its object carries no ``schemas`` of its own.
        extensions = _extension_urns(model)
        for urn in extensions:
            if isinstance(data.get(urn), dict) and "schemas" in data[urn]:
                data[urn] = {k: v for k, v in data[urn].items() if k != "schemas"}
        schemas = data.get("schemas")
        if isinstance(schemas, list):
            kept = [s for s in schemas if s not in extensions or s in data]
            data["schemas"] = kept + [u for u in extensions if u in data and u not in kept]
        data["id"] = row.id
        data["meta"] = {
            "resourceType": resource_type.name,
            "created": _json_time(_utc(row.created_at)),
            "lastModified": _json_time(_utc(row.modified_at)),
            "version": _version(row),
        }
        return data

    def _data(
        self, model: type[Resource[Any]], row: Any, related: list[dict[str, Any]] | None
    ) -> dict[str, Any]:
        data = dict(row.data)
        if isinstance(row, m.User):
            # The domain owns the status; active is read from it (false for inactive/pending).
            if row.status != "active":
                data["active"] = False
            elif "active" in data:
                data["active"] = True
            if ACCOUNT_EXTENSION_URN in dict(model.get_extension_models()):
                extension: dict[str, Any] = {"status": row.status}
                if row.last_activity_at is not None:
                    extension["lastActivity"] = _utc(row.last_activity_at).isoformat()
                data[ACCOUNT_EXTENSION_URN] = extension
            if related:
                data["groups"] = related
        elif related:
            data["members"] = related
        return data

    # --- searching ----------------------------------------------------------------------

    def matching(self, resource_type: ResourceType, expression: str | None) -> sa.Select[Any]:
        """The SELECT of the ids of the visible resources a filter keeps (RFC 7644 §3.4.2.2), all in SQL."""
        kind = self._kind(resource_type)
        table: Any = m.User if kind == "User" else m.Group
        conditions = [self._visible(kind)]
        if expression is not None:
            conditions.append(SqlFilter.compile(self._context(resource_type), expression))
        return sa.select(table.id).where(*conditions)

    def search(
        self,
        resource_types: list[ResourceType],
        search_request: SearchRequest[Any],
        *,
        position: Any = None,
    ) -> SearchPage:
        """Filter, sort, count and page in SQL (RFC 7644 §3.4.2, cursors RFC 9865).

        Every resource type contributes ``(type, id, sort key)`` rows to one UNION ALL, ordered
        by missing-last sort key then id, so a root search pages both types as one collection.
        """
        parts = []
        sort_kind = None
        for resource_type in resource_types:
            context = self._context(resource_type)
            kind = self._kind(resource_type)
            conditions = [self._visible(kind)]
            if search_request.filter is not None:
                conditions.append(SqlFilter.compile(context, str(search_request.filter)))
            sort_key: Any = None
            binding = search_request.sort_binding(context.model) if search_request.sort_by else None
            if binding is not None:
                sort_key, this_kind = context.sort_operand(binding)
                sort_kind = sort_kind or this_kind
            parts.append((resource_type, context.table, conditions, sort_key))
        # A type that cannot sort on the attribute has no value: NULL, typed like the others.
        branches = [
            sa.select(
                sa.literal(resource_type.name).label("rt"),
                table.id.label("id"),
                (
                    sort_key
                    if sort_key is not None
                    else sa.cast(sa.null(), _sql_type(sort_kind or "str"))
                ).label("sk"),
            ).where(*conditions)
            for resource_type, table, conditions, sort_key in parts
        ]
        union = (sa.union_all(*branches) if len(branches) > 1 else branches[0]).subquery("u")
        total = self.session.execute(sa.select(sa.func.count()).select_from(union)).scalar_one()

        descending = (
            search_request.sort_by is not None
            and search_request.sort_order == SearchRequest.SortOrder.descending
        )
        ordered = self.json.ordered(union.c.sk, sort_kind or "str")
        missing = sa.case((union.c.sk.is_(None), 1), else_=0)
        keys: list[Any] = [missing, ordered, union.c.id]

        def order(reverse: bool) -> list[Any]:
            return [key.desc() if reverse else key.asc() for key in keys]

        query = sa.select(union.c.rt, union.c.id, union.c.sk)
        if search_request.cursor is None:
            query = query.order_by(*order(descending)).offset(search_request.start_index_0 or 0)
            if search_request.count is not None:
                query = query.limit(search_request.count)
            page_rows = list(self.session.execute(query))
            return SearchPage(total, self._load(resource_types, page_rows, search_request))

        if search_request.count == 0:
            return SearchPage(total, [])
        kind = sort_kind or "str"

        def after(anchor: tuple[bool, Any, str]) -> Predicate:
            """Rows whose (missing, value, id) key is greater than the anchor's."""
            is_missing, value, identifier = anchor
            if is_missing:
                return sa.and_(union.c.sk.is_(None), union.c.id > identifier)
            param = sa.literal(value, type_=_sql_type(kind))
            return sa.or_(
                union.c.sk.is_(None),
                ordered > param,
                sa.and_(union.c.sk == param, union.c.id > identifier),
            )

        def before(anchor: tuple[bool, Any, str]) -> Predicate:
            is_missing, value, identifier = anchor
            if is_missing:
                return sa.or_(union.c.sk.is_not(None), union.c.id < identifier)
            param = sa.literal(value, type_=_sql_type(kind))
            return sa.and_(
                union.c.sk.is_not(None),
                sa.or_(ordered < param, sa.and_(union.c.sk == param, union.c.id < identifier)),
            )

        # In page order, "later" is a greater key when ascending and a smaller one when descending.
        later, earlier = (before, after) if descending else (after, before)
        limit = search_request.count
        if position is None:
            query = query.order_by(*order(descending))
        else:
            direction, anchor = _read_position(position, kind)
            if direction == "next":
                query = query.where(later(anchor)).order_by(*order(descending))
            else:
                query = query.where(earlier(anchor)).order_by(*order(not descending))
        if limit is not None:
            query = query.limit(limit)
        page_rows = list(self.session.execute(query))
        if position is not None and position["d"] == "previous":
            page_rows.reverse()
        page = SearchPage(total, self._load(resource_types, page_rows, search_request))
        if page_rows:
            first, last = page_rows[0], page_rows[-1]
            first_key = (first.sk is None, first.sk, first.id)
            last_key = (last.sk is None, last.sk, last.id)
            exists = sa.select(sa.literal(1)).select_from(union)
            if self.session.execute(exists.where(later(last_key)).limit(1)).first():
                page.next = {"d": "next", "k": _encode(last.sk), "i": last.id}
            if self.session.execute(exists.where(earlier(first_key)).limit(1)).first():
                page.previous = {"d": "previous", "k": _encode(first.sk), "i": first.id}
        return page

    def _load(
        self,
        resource_types: list[ResourceType],
        page_rows: Sequence[Any],
        parameters: SearchRequest[Any],
    ) -> list[Resource[Any]]:
        """Load the rows of a page, one query per resource type, and keep the page order."""
        by_name = {str(rt.name): rt for rt in resource_types}
        found: dict[tuple[str, str], Any] = {}
        for name, resource_type in by_name.items():
            ids = [row.id for row in page_rows if row.rt == name]
            if not ids:
                continue
            kind = self._kind(resource_type)
            table: Any = m.User if kind == "User" else m.Group
            rows: list[Any] = []
            for chunk in _chunks(ids):
                rows.extend(
                    self.session.execute(
                        sa.select(table).where(table.id.in_(chunk), self._visible(kind))
                    ).scalars()
                )
            related = _wants(parameters, "groups" if kind == "User" else "members")
            plain = _PLAIN_DOCUMENTS.get()
            for resource in self._build(resource_type, rows, related=related, plain=plain):
                resource_id = resource["id"] if plain else resource.id
                found[(name, cast(str, resource_id))] = resource
        return [found[(row.rt, row.id)] for row in page_rows if (row.rt, row.id) in found]

    # --- writing ------------------------------------------------------------------------

    def create(self, resource_type: ResourceType, resource: Resource[Any]) -> Resource[Any]:
        """Create a resource (RFC 7644 §3.3): new id, version 1, unique userName/displayName per account."""
        kind = self._kind(resource_type)
        self._models.setdefault(str(resource_type.name), type(resource))
        now = self.clock()
        row: Any
        if kind == "User":
            fields, emails = self._user_fields(resource, current_status=None)
            row = m.User(
                id=new_id(),
                account_id=self.account,
                created_at=now,
                modified_at=now,
                version=1,
                **fields,
            )
        else:
            row = m.Group(
                id=new_id(),
                account_id=self.account,
                created_at=now,
                modified_at=now,
                version=1,
                **self._group_fields(resource),
            )
        self._check_unique(
            kind, row.user_name_key if kind == "User" else row.display_name_key, None
        )
        self._flush_unique(row, add=True)
        if kind == "User":
            if emails:  # a new user has no rows to replace
                self.session.execute(
                    sa.insert(m.UserEmail), [{"user_id": row.id, **email} for email in emails]
                )
            return self._build(resource_type, [row], related=False)[0]
        self._set_members(row, resource)
        return self._build(resource_type, [row], related=True)[0]

    def create_users(
        self,
        user_type: ResourceType,
        resources: Sequence[Resource[Any]],
        *,
        budget: int | None = None,
        check: Callable[[Resource[Any]], Any] | None = None,
        accept: Callable[[Any], None] | None = None,
    ) -> list[Resource[Any] | Exception] | None:
        """Create a run of users as ``create`` would one by one, with one query per step.

        A Bulk full sync (RFC 7644 §3.7) is hundreds of user POSTs in a row; this judges them
        in order — ``check`` (the caller's rules, may raise), then the row's own fields, then
        userName uniqueness against the account and the users before it — and writes the
        accepted ones in one flush. The result of each is the given model, now with the
        created id and meta, or the exception that refused it; after ``budget`` refusals it
        stops, and the list is that much shorter.
        ``accept`` gets ``check``'s return value for each user that will be written.

        Returns None, having written nothing, when the rows hit a unique constraint that the
        checks did not see (a concurrent writer): the caller then creates them one by one.
        """
        self._kind(user_type)
        if resources:
            self._models.setdefault(str(user_type.name), type(resources[0]))
        prepared: list[tuple[dict[str, Any], list[dict[str, Any]]] | Exception] = []
        for resource in resources:
            try:
                prepared.append(self._user_fields(resource, current_status=None))
            except Exception as exc:  # noqa: BLE001 - the op's own error, reported in order
                prepared.append(exc)
        taken = self._taken_user_names(
            [p[0]["user_name_key"] for p in prepared if not isinstance(p, Exception)]
        )
        results: list[Any] = []
        rows: list[Any] = []
        accepted: list[Resource[Any]] = []
        email_rows: list[dict[str, Any]] = []
        refused = 0
        now = self.clock()
        for resource, fields in zip(resources, prepared, strict=True):
            try:
                verdict = check(resource) if check is not None else None
                if isinstance(fields, Exception):
                    raise fields
                key = fields[0]["user_name_key"]
                if key is not None and key in taken:
                    raise UniquenessException(detail="userName is already taken")
            except Exception as exc:  # noqa: BLE001 - refusals are per operation
                results.append(exc)
                refused += 1
                if budget is not None and refused >= budget:
                    break
                continue
            if accept is not None:
                accept(verdict)
            if key is not None:
                taken.add(key)
            row = m.User(
                id=new_id(), account_id=self.account, created_at=now, modified_at=now,
                version=1, **fields[0],
            )
            email_rows.extend({"user_id": row.id, **email} for email in fields[1])
            rows.append(row)
            accepted.append(resource)
            results.append(row)
        if rows:
            try:
                with self.session.begin_nested():
                    self.session.add_all(rows)
                    self.session.flush()
                    if email_rows:
                        self.session.execute(sa.insert(m.UserEmail), email_rows)
            except IntegrityError:
                return None
        # The given models stand for the created users (their id and meta set): the caller
        # needs their ids and versions, and validating a copy of each from its row would hold
        # the write lock for as long again.
        for resource, row in zip(accepted, rows, strict=True):
            resource.id = row.id
            resource.meta = Meta(
                resource_type=user_type.name, created=now, last_modified=now, version=_version(row)
            )
        created = iter(accepted)
        return [next(created) if isinstance(r, m.User) else r for r in results]

    def _taken_user_names(self, keys: Sequence[str | None]) -> set[str]:
        """Which of these userName keys the account's users already hold (one query per chunk)."""
        taken: set[str] = set()
        for chunk in _chunks([k for k in keys if k is not None]):
            with self.session.no_autoflush:
                taken.update(
                    key
                    for key in self.session.execute(
                        sa.select(m.User.user_name_key).where(
                            m.User.account_id == self.account, m.User.user_name_key.in_(chunk)
                        )
                    ).scalars()
                    if key is not None
                )
        return taken

    def update(
        self,
        resource_type: ResourceType,
        resource: Resource[Any],
        *,
        expected_version: str | None = None,
    ) -> Resource[Any]:
        """Replace a resource (RFC 7644 §3.5.1); the version is checked under a row lock (§3.14)."""
        return self._update(resource_type, resource, expected_version, members=True)

    def update_group_header(
        self,
        group_type: ResourceType,
        resource: Resource[Any],
        *,
        expected_version: str | None = None,
    ) -> Resource[Any]:
        """Replace a group's attributes but its members, which stay untouched and unread.

        The non-member operations of a split PATCH (RFC 7644 §3.5.2) land here, so a rename
        of a 100,000-member group costs one row.
        """
        return self._update(group_type, resource, expected_version, members=False)

    def _update(
        self,
        resource_type: ResourceType,
        resource: Resource[Any],
        expected_version: str | None,
        *,
        members: bool,
    ) -> Resource[Any]:
        kind = self._kind(resource_type)
        self._models.setdefault(str(resource_type.name), type(resource))
        row = self._row(resource_type, resource.id, lock=True)
        _check_version(row, expected_version)
        if kind == "User":
            fields, emails = self._user_fields(resource, current_status=row.status)
            if fields.get("password_hash") is None:
                fields.pop("password_hash", None)  # a replace without password keeps it
        else:
            fields = self._group_fields(resource)
        unique_key = "user_name_key" if kind == "User" else "display_name_key"
        if fields[unique_key] != getattr(row, unique_key):
            # Only a new userName (displayName) can clash; the unique index backs this check.
            self._check_unique(kind, fields[unique_key], row.id)
        # The user_emails rows derive from the payload's emails alone: same emails, same rows.
        emails_changed = kind == "User" and (row.data or {}).get("emails") != fields[
            "data"
        ].get("emails")
        for name, value in fields.items():
            setattr(row, name, value)
        row.version = row.version + 1
        row.modified_at = self.clock()
        self._flush_unique(row, add=False)
        if kind == "User":
            if emails_changed:
                self._replace_emails(row.id, emails)
            return self._build(resource_type, [row], related=True)[0]
        if not members:
            return self._build(resource_type, [row], related=False)[0]
        self._set_members(row, resource)
        return self._build(resource_type, [row], related=True)[0]

    def delete(
        self,
        resource_type: ResourceType,
        resource_id: str,
        *,
        expected_version: str | None = None,
    ) -> None:
        """Delete a resource (RFC 7644 §3.6).

        A user stays as an anonymised row with status ``deleted`` (invisible, its userName
        free again); a group is removed. Either leaves the groups it was in, which get a new
        version.
        """
        kind = self._kind(resource_type)
        row = self._row(resource_type, resource_id, lock=True)
        _check_version(row, expected_version)
        now = self.clock()
        gm = m.GroupMember
        parents = sa.select(gm.group_id).where(
            gm.member_id == row.id, gm.account_id == self.account
        )
        self.session.execute(
            sa.update(m.Group)
            .where(m.Group.id.in_(parents), m.Group.account_id == self.account)
            .values(version=m.Group.version + 1, modified_at=now)
            .execution_options(synchronize_session="fetch")
        )
        self.session.execute(
            sa.delete(gm).where(gm.member_id == row.id, gm.account_id == self.account)
        )
        if kind == "Group":
            self.session.execute(sa.delete(gm).where(gm.group_id == row.id))
            self.session.delete(row)
            self.session.flush()
            return
        self.session.execute(sa.delete(m.UserEmail).where(m.UserEmail.user_id == row.id))
        row.status = "deleted"
        row.deleted_at = now
        row.modified_at = now
        row.version = row.version + 1
        for name in (
            "user_name",
            "user_name_key",
            "external_id",
            "display_name",
            "display_name_key",
            "email",
            "password_hash",
        ):
            setattr(row, name, None)
        row.data = {}
        row.search = {}
        self.session.flush()

    def _payload(self, resource: Resource[Any], drop: Iterable[str]) -> dict[str, Any]:
        data = resource.model_dump(mode="json", by_alias=True, exclude_none=True, scim_ctx=None)
        for key in ("id", "meta", *drop):
            data.pop(key, None)
        return data

    def _user_fields(
        self, resource: Resource[Any], *, current_status: str | None
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The columns of a user row and its user_emails rows, from a SCIM User (RFC 7643 §4.1)."""
        model = type(resource)
        data = self._payload(resource, ("password", "groups", ACCOUNT_EXTENSION_URN))
        if isinstance(data.get("schemas"), list):
            data["schemas"] = [s for s in data["schemas"] if s != ACCOUNT_EXTENSION_URN]
        user_name = getattr(resource, "user_name", None)
        display_name = getattr(resource, "display_name", None)
        external_id = getattr(resource, "external_id", None)
        emails = [e for e in (getattr(resource, "emails", None) or []) if e is not None and e.value]
        primary = next(
            (e for e in emails if getattr(e, "primary", None)), emails[0] if emails else None
        )
        active = getattr(resource, "active", None)
        if current_status == "pending":
            status = "pending"  # leaving pending is the domain's decision
        else:
            status = "inactive" if active is False else "active"
        password = getattr(resource, "password", None)
        fields = {
            "user_name": user_name,
            "user_name_key": self._column_key(model, "user_name", user_name),
            "external_id": self._column_key(model, "external_id", external_id),
            "display_name": display_name,
            "display_name_key": self._column_key(model, "display_name", display_name),
            "email": str(primary.value).lower() if primary is not None else None,
            "user_type": (getattr(resource, "user_type", None) or "Member")[:20],
            "status": status,
            "password_hash": hash_password(password) if password else None,
            "data": data,
            "search": search_document(resource),
        }
        rows = []
        for email in emails:
            value_key = self._column_key(model, "emails", str(email.value), sub="value")
            if value_key is None:
                continue
            type_key = self._column_key(model, "emails", email.type, sub="type")
            rows.append(
                {
                    "account_id": self.account,
                    "value_key": value_key,
                    "type_key": type_key[:100] if type_key else None,
                    "primary": bool(getattr(email, "primary", False)),
                }
            )
        return fields, rows

    def _group_fields(self, resource: Resource[Any]) -> dict[str, Any]:
        """The columns of a group row, from a SCIM Group (RFC 7643 §4.2); members go to group_members."""
        model = type(resource)
        display_name = getattr(resource, "display_name", None)
        external_id = getattr(resource, "external_id", None)
        return {
            "display_name": display_name,
            "display_name_key": self._column_key(model, "display_name", display_name),
            "external_id": self._column_key(model, "external_id", external_id),
            "data": self._payload(resource, ("members",)),
            "search": search_document(resource),
        }

    @staticmethod
    def _column_key(model: Any, field: str, value: Any, *, sub: str | None = None) -> str | None:
        if value is None:
            return None
        if len(str(value)) > MAX_INDEXED_LENGTH:
            # The lookup columns are VARCHAR(400) (indexable on both engines): refuse, not 500.
            name = f"{field}.{sub}" if sub else field
            raise InvalidValueException(
                detail=f"{name} is longer than {MAX_INDEXED_LENGTH} characters"
            )
        try:
            key = comparable(binding_of(model, field, sub), "str", str(value))
        except Uncomparable as exc:
            raise InvalidValueException(detail=f"{field}: {exc}") from exc
        return cast(str, key)

    def _check_unique(self, kind: str, key: str | None, resource_id: str | None) -> None:
        """RFC 7643 §4.1.1: userName is unique per account, whatever its case (groups: displayName)."""
        if key is None:
            return
        table: Any = m.User if kind == "User" else m.Group
        column = table.user_name_key if kind == "User" else table.display_name_key
        with self.session.no_autoflush:
            taken = self.session.execute(
                sa.select(table.id)
                .where(
                    table.account_id == self.account, column == key, table.id != (resource_id or "")
                )
                .limit(1)
            ).first()
        if taken is not None:
            raise UniquenessException(
                detail=f"{'userName' if kind == 'User' else 'displayName'} is already taken"
            )

    def _flush_unique(self, row: Any, *, add: bool) -> None:
        """Flush in a savepoint: a concurrent duplicate becomes a 409 and the session stays usable.

        Inside ``operation`` (every SCIM write) its SAVEPOINT is the one rolled back on the
        409, so a second one would only cost two round trips."""
        try:
            if self.session.in_nested_transaction():
                if add:
                    self.session.add(row)
                self.session.flush()
                return
            with self.session.begin_nested():
                if add:
                    self.session.add(row)
                self.session.flush()
        except IntegrityError as exc:
            raise UniquenessException(detail="a unique value is already taken") from exc

    def _replace_emails(self, user_id: str, emails: list[dict[str, Any]]) -> None:
        self.session.execute(
            sa.delete(m.UserEmail).where(
                m.UserEmail.user_id == user_id, m.UserEmail.account_id == self.account
            )
        )
        if emails:
            self.session.execute(
                sa.insert(m.UserEmail), [{"user_id": user_id, **email} for email in emails]
            )

    # --- members ------------------------------------------------------------------------

    def _members_of(self, ids: Sequence[str]) -> dict[str, tuple[str, str | None]]:
        """The type and display of the given ids that are users or groups of this account."""
        found: dict[str, tuple[str, str | None]] = {}
        for chunk in _chunks(ids):
            users = sa.select(m.User.id, m.User.display_name, m.User.user_name).where(
                m.User.id.in_(chunk), self._visible("User")
            )
            for member_id, display_name, user_name in self.session.execute(users):
                found[member_id] = ("User", display_name or user_name)
            missing = [i for i in chunk if i not in found]
            if missing:
                groups = sa.select(m.Group.id, m.Group.display_name).where(
                    m.Group.id.in_(missing), self._visible("Group")
                )
                for member_id, display_name in self.session.execute(groups):
                    found[member_id] = ("Group", display_name)
        return found

    def _resolve_members(self, ids: Sequence[str]) -> dict[str, tuple[str, str | None]]:
        found = self._members_of(ids)
        unknown = [i for i in ids if i not in found]
        if unknown:
            raise InvalidValueException(
                detail="unknown members: " + ", ".join(sorted(unknown)[:20])
            )
        return found

    def _set_members(self, row: m.Group, resource: Resource[Any]) -> None:
        """Make group_members hold exactly the members of a replaced group (RFC 7644 §3.5.1)."""
        given: dict[str, str | None] = {}
        for member in getattr(resource, "members", None) or []:
            if member is not None and member.value:
                given.setdefault(str(member.value), getattr(member, "display", None))
        gm = m.GroupMember
        existing = {
            member_id: display
            for member_id, display in self.session.execute(
                sa.select(gm.member_id, gm.display).where(
                    gm.group_id == row.id, gm.account_id == self.account
                )
            )
        }
        removed = [i for i in existing if i not in given]
        for chunk in _chunks(removed):
            self.session.execute(
                sa.delete(gm).where(gm.group_id == row.id, gm.member_id.in_(chunk))
            )
        added = [i for i in given if i not in existing]
        if added:
            resolved = self._resolve_members(added)
            self.session.execute(
                sa.insert(gm),
                [
                    {
                        "group_id": row.id,
                        "member_id": i,
                        "account_id": self.account,
                        "member_type": resolved[i][0],
                        "display": given[i] or resolved[i][1],
                    }
                    for i in added
                ],
            )
        for member_id, display in given.items():
            if member_id in existing and display is not None and display != existing[member_id]:
                self.session.execute(
                    sa.update(gm)
                    .where(gm.group_id == row.id, gm.member_id == member_id)
                    .values(display=display)
                )

    def get_group_header(self, group_type: ResourceType, group_id: str) -> Resource[Any]:
        """The group with its meta (for ETags, RFC 7644 §3.14) but without loading its members."""
        return self._build(group_type, [self._row(group_type, group_id)], related=False)[0]

    def _bump(self, row: Any) -> None:
        row.version = row.version + 1
        row.modified_at = self.clock()
        self.session.flush()

    def add_members(
        self,
        group_type: ResourceType,
        group_id: str,
        member_ids: list[str],
        displays: Mapping[str, str] | None = None,
    ) -> list[str]:
        """PATCH add to members (RFC 7644 §3.5.2.1): insert only the missing rows.

        A ``display`` sent with a member is kept (else the member's own name). Ids that are no
        user or group of this account are skipped and returned, whichever account they belong
        to, so that the answer tells nothing about other accounts.
        """
        row = self._row(group_type, group_id, lock=True)
        ids = list(dict.fromkeys(i for i in member_ids if i))
        displays = displays or {}
        resolved = self._members_of(ids)
        unknown = [i for i in ids if i not in resolved]
        ids = [i for i in ids if i in resolved]
        gm = m.GroupMember
        present: dict[str, str | None] = {}
        for chunk in _chunks(ids):
            for member_id, display in self.session.execute(
                sa.select(gm.member_id, gm.display).where(
                    gm.group_id == row.id, gm.member_id.in_(chunk)
                )
            ):
                present[member_id] = display
        missing = [i for i in ids if i not in present]
        if missing:
            self.session.execute(
                sa.insert(gm),
                [
                    {
                        "group_id": row.id,
                        "member_id": i,
                        "account_id": self.account,
                        "member_type": resolved[i][0],
                        "display": displays.get(i) or resolved[i][1],
                    }
                    for i in missing
                ],
            )
        for member_id, display in displays.items():
            if member_id in present and display and display != present[member_id]:
                self.session.execute(
                    sa.update(gm)
                    .where(gm.group_id == row.id, gm.member_id == member_id)
                    .values(display=display)
                )
        self._bump(row)
        return unknown

    def remove_members(
        self, group_type: ResourceType, group_id: str, member_ids: list[str]
    ) -> None:
        """PATCH remove of some members (RFC 7644 §3.5.2.2): delete only those rows."""
        row = self._row(group_type, group_id, lock=True)
        gm = m.GroupMember
        for chunk in _chunks(list(dict.fromkeys(member_ids))):
            self.session.execute(
                sa.delete(gm).where(gm.group_id == row.id, gm.member_id.in_(chunk))
            )
        self._bump(row)

    def clear_members(self, group_type: ResourceType, group_id: str) -> None:
        """PATCH remove of ``members`` as a whole (RFC 7644 §3.5.2.2)."""
        row = self._row(group_type, group_id, lock=True)
        self.session.execute(sa.delete(m.GroupMember).where(m.GroupMember.group_id == row.id))
        self._bump(row)


def _sql_type(kind: str) -> Any:
    return {
        "num": sa.Numeric(),
        "bool": sa.Boolean(),
        "dtcol": m.UTCDateTime(),
    }.get(kind, sa.String())


def _read_position(position: Any, kind: str) -> tuple[str, tuple[bool, Any, str]]:
    """The direction and anchor key of a position that search gave; anything else is a bad cursor."""
    try:
        direction, value, identifier = position["d"], position["k"], position["i"]
    except (TypeError, KeyError):
        raise InvalidCursorException from None
    if direction not in ("next", "previous") or not isinstance(identifier, str):
        raise InvalidCursorException
    if value is None:
        return direction, (True, None, identifier)
    if kind == "dtcol":
        try:
            value = dt.datetime.fromisoformat(value["datetime"])
        except (KeyError, TypeError, ValueError):
            raise InvalidCursorException from None
    elif kind == "bool":
        if not isinstance(value, bool):
            raise InvalidCursorException
    elif kind == "num":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidCursorException
    elif not isinstance(value, str):
        raise InvalidCursorException
    return direction, (False, value, identifier)


@functools.lru_cache(maxsize=1)
def default_provider() -> ScimProvider:
    """Our service description, for writes that do not come through a SCIM request (the domain's
    profile and email edits), so that they derive the same columns as a SCIM write."""
    from scim_server.scim.provider import build_provider  # a description only: no HTTP

    return build_provider()


def rewrite_user_document(
    session: Session, row: m.User, data: dict[str, Any], *, now: dt.datetime
) -> None:
    """Store a new SCIM document for an existing user and re-derive everything kept beside it
    (search document, userName/displayName keys, email column and ``user_emails`` rows), exactly
    as a SCIM PUT would; the status and the password stay the domain's."""
    provider = default_provider()
    user_type = next(rt for rt in provider.resource_types if rt.name == "User")
    storage = SqlScimStorage(
        session=lambda: session, account_id=lambda: row.account_id, provider=provider,
        clock=lambda: now,
    )
    model = storage._model(user_type)
    document = {k: v for k, v in data.items() if k not in ("id", "meta")}
    with provider:
        resource = model.model_validate(document)
    fields, emails = storage._user_fields(resource, current_status=row.status)
    fields.pop("status")
    fields.pop("password_hash")
    storage._check_unique("User", fields["user_name_key"], row.id)
    for name, value in fields.items():
        setattr(row, name, value)
    row.version = (row.version or 0) + 1
    row.modified_at = now
    storage._flush_unique(row, add=False)
    storage._replace_emails(row.id, emails)
