"""The SQL implementation of scim2-server's ``ScimStorage``, multi-account, on SQLite and PostgreSQL.

Does: store Users and Groups of the current account (RFC 7643 §4), answer ``get``/``search``
with filters, sorts, index and cursor paging compiled to SQL (RFC 7644 §3.4.2, RFC 9865), keep
memberships as rows so a PATCH of a big group costs O(members changed). Each request is a few
Core statements: reads return the stored documents (``reads``), writes go through the records
and members APIs (``records``, ``members``), which let the database check uniqueness and
versions. Does not: commit (the HTTP layer owns the transaction), decide a business rule (the
subclass in the SCIM layer asks the domain, through ``written`` and ``settle``), or know HTTP.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, cast

import sqlalchemy as sa
from scim2_models import (
    NotFoundException,
    NotImplementedException,
    Resource,
    ResourceType,
    ResponseParameters,
    ScimProvider,
    SearchRequest,
    UniquenessException,
)
from scim2_models.path import CompareOperator, Comparison, ValuePath
from scim2_server.storage import ScimStorage, SearchPage
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from scim_server.storage import models as m
from scim_server.storage import reads
from scim_server.storage.conversion import (
    document_of,
    given_members,
    group_entries,
    group_fields,
    meta_of,
    resource_of,
    user_data,
    user_fields,
    utc,
    version_number,
)
from scim_server.storage.filters import (
    ResourceContext,
    SqlFilter,
    Uncomparable,
    binding_of,
    check_filter,
    comparable,
    eq_terms,
)
from scim_server.storage.keyset import Keyset, position, read_position
from scim_server.storage.mapping import context_for, sql_type
from scim_server.storage.members import MemberChange, Members, chunks
from scim_server.storage.models import contribution, new_id, utcnow
from scim_server.storage.records import CountShift, Records, VersionConflict, Written
from scim_server.storage.schema import ACCOUNT_EXTENSION_URN, default_provider
from scim_server.storage.scope import AccountScope

# Set by ``SqlScimStorage.plain_documents`` and ``in_bulk`` (context variables: one storage
# serves every thread of a worker).
_PLAIN_DOCUMENTS: ContextVar[bool] = ContextVar("scim_plain_documents", default=False)
_IN_BULK: ContextVar[bool] = ContextVar("scim_in_bulk", default=False)

_CORE_URNS = {"User": "urn:ietf:params:scim:schemas:core:2.0:user",
              "Group": "urn:ietf:params:scim:schemas:core:2.0:group"}
# The attributes an exact lookup reads from an indexed column: its name in a filter → field.
_LOOKUP_FIELDS = {
    "User": {"username": "user_name", "externalid": "external_id", "id": "id"},
    "Group": {"displayname": "display_name", "externalid": "external_id", "id": "id"},
}


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


@dataclass(frozen=True)
class ReadState:
    """What a write needs of the row a request read: its version and rule-relevant state."""

    version: int
    status: str | None
    user_type: str | None
    email: str | None
    emails: Any
    unique_key: str | None
    last_activity_at: dt.datetime | None = None
    document: Any = None  # the stored SCIM document (events name the attributes a write moves)


@dataclass(frozen=True)
class Lookup:
    """An exact lookup (``eq`` on an indexed key) recognised in a parsed filter."""

    attribute: str
    key: Any
    type_key: Any = None


class SqlScimStorage(AccountScope, ScimStorage):
    """Users and Groups of one account at a time, in SQL (RFC 7643 §4, RFC 7644 §3).

    :param session: returns the session of the current request; the storage writes in it and
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
    #: Searches of one resource type take the single-statement paths (exact lookups, pages in
    #: id order); off, every search takes the general one (tests prove both give the same).
    fast_paths = True

    def __init__(
        self,
        *,
        session: Callable[[], Session],
        account_id: Callable[[], str],
        clock: Callable[[], dt.datetime] = utcnow,
        provider: ScimProvider | None = None,
    ) -> None:
        AccountScope.__init__(self, session=session, account_id=account_id)
        self.clock = clock
        self.provider = provider
        self._models: dict[str, type[Resource[Any]]] = {}
        self.records = Records(self, lambda: self.clock())
        self.members = Members(self)
        self.reads = reads.Reads(self)

    # --- plumbing -----------------------------------------------------------------------

    @contextmanager
    def plain_documents(self) -> Iterator[None]:
        """Searches inside return JSON documents instead of models: for a response without
        attribute parameters, which serves each stored document as it is."""
        token = _PLAIN_DOCUMENTS.set(True)
        try:
            yield
        finally:
            _PLAIN_DOCUMENTS.reset(token)

    @contextmanager
    def in_bulk(self) -> Iterator[None]:
        """Operations inside are Bulk operations: each in its own SAVEPOINT (``operation``)."""
        token = _IN_BULK.set(True)
        try:
            yield
        finally:
            _IN_BULK.reset(token)

    def operation(self) -> Any:
        """One SCIM operation. In a Bulk, a SAVEPOINT, so a failed operation rolls back alone
        (RFC 7644 §3.7); a single request is its own transaction, which the HTTP layer rolls
        back on an error, so it needs none."""
        return self.session.begin_nested() if _IN_BULK.get() else nullcontext()

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
        return context_for(self, self._kind(resource_type), self._model(resource_type))

    # --- reading ------------------------------------------------------------------------

    def _remember(self, kind: str, row: Row[Any]) -> None:
        """Keep what a write of this row will need, so the write reads it no second time."""
        if kind == "User":
            state = ReadState(row.version, row.status, row.user_type, row.email,
                              (row.data or {}).get("emails"), row.unique_key,
                              row.last_activity_at, row.data)
        else:
            state = ReadState(row.version, None, None, None, None, row.unique_key,
                              document=row.data)
        self.session.info.setdefault("scim_read", {})[(kind, row.id)] = state

    def read_state(self, kind: str, resource_id: str) -> ReadState:
        """The state of a row as this request last read it (reading it if it did not)."""
        known = self.session.info.get("scim_read", {}).get((kind, resource_id))
        if known is not None:
            return cast(ReadState, known)
        self._one(kind, resource_id)
        known = self.session.info["scim_read"][(kind, resource_id)]
        return cast(ReadState, known)

    def _one(self, kind: str, resource_id: str | None) -> Row[Any]:
        row = self.reads.one(kind, resource_id or "")
        if row is None:
            raise NotFoundException(detail=f"{kind} {resource_id!r} not found")
        self._remember(kind, row)
        return row

    def _user_data(self, model: type[Resource[Any]], row: Row[Any], *, related: bool,
                   for_model: bool) -> dict[str, Any]:
        return user_data(
            model, row.data, status=row.status, last_activity_at=row.last_activity_at,
            groups=group_entries(row.groups) if related else None, for_model=for_model,
        )

    def _group_data(self, row: Row[Any], members: list[dict[str, Any]] | None) -> dict[str, Any]:
        data = dict(row.data)
        if members:
            data["members"] = members
        return data

    def get(
        self,
        resource_type: ResourceType,
        resource_id: str,
        *,
        response_parameters: ResponseParameters[Any] | None = None,
    ) -> Resource[Any]:
        """Read a resource (RFC 7644 §3.4.1): one statement for a user and its groups; a
        group's members only when the response keeps them."""
        kind = self._kind(resource_type)
        model = self._model(resource_type)
        row = self._one(kind, resource_id)
        if kind == "User":
            related = _wants(response_parameters, "groups")
            data = self._user_data(model, row, related=related, for_model=True)
        else:
            members = self._member_entries(row.id) if _wants(response_parameters, "members") else None
            data = self._group_data(row, members)
        return resource_of(model, kind, row, data)

    def get_group_header(self, group_type: ResourceType, group_id: str) -> Resource[Any]:
        """The group with its meta (for ETags, RFC 7644 §3.14) but without loading its members."""
        row = self._one("Group", group_id)
        return resource_of(self._model(group_type), "Group", row, self._group_data(row, None))

    def document(self, resource_type: ResourceType, resource_id: str) -> dict[str, Any]:
        """The JSON document of a resource as a query response carries it (RFC 7644 §3.4.1),
        without a model: a user and its groups in one statement, a group and its members in
        two."""
        kind = self._kind(resource_type)
        model = self._model(resource_type)
        row = self._one(kind, resource_id)
        if kind == "User":
            data = self._user_data(model, row, related=True, for_model=False)
        else:
            data = self._group_data(row, self._member_entries(row.id))
        return document_of(model, kind, row, data)

    def _member_entries(self, group_id: str) -> list[dict[str, Any]]:
        """A group's members as plain JSON entries (RFC 7643 §4.2), in one query: for a large
        group, a model per member costs far more than the query."""
        return [entry for _, entry in self.members.entries([group_id])]

    def _build(self, resource_type: ResourceType, rows: Sequence[Row[Any]], *,
               related: bool, plain: bool) -> list[Any]:
        """Models or documents of read rows; a page of groups loads its members in one query."""
        kind = self._kind(resource_type)
        model = self._model(resource_type)
        make = document_of if plain else resource_of
        if kind == "User":
            return [
                make(model, kind, row,
                     self._user_data(model, row, related=related, for_model=not plain))
                for row in rows
            ]
        members: dict[str, list[dict[str, Any]]] = {row.id: [] for row in rows}
        if related and rows:
            for owner, entry in self.members.entries([row.id for row in rows]):
                members[owner].append(entry)
        return [make(model, kind, row, self._group_data(row, members[row.id])) for row in rows]

    # --- searching ----------------------------------------------------------------------

    def matching(self, resource_type: ResourceType, expression: str | None) -> sa.Select[Any]:
        """The SELECT of the ids of the visible resources a filter keeps (RFC 7644 §3.4.2.2), all in SQL."""
        kind = self._kind(resource_type)
        table = self.table(kind)
        conditions = [self.visible(kind)]
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

        A search of one resource type is one statement (its rows, their groups, the total);
        a root search pages both types as one collection (``_search_union``)."""
        if search_request.filter is not None:
            # Before the exact lookups too, which bind the filter's value without compiling it.
            check_filter(search_request.filter.ast)
        if len(resource_types) != 1 or not self.fast_paths:
            return self._search_union(resource_types, search_request, position)
        resource_type = resource_types[0]
        lookup = None
        if (
            search_request.filter is not None
            and not search_request.sort_by
            and search_request.cursor is None
        ):
            lookup = self.exact_lookup(resource_type, search_request.filter.ast)
        if lookup is not None:
            return self._lookup_page(resource_type, lookup, search_request)
        return self._search_one(resource_type, search_request, position)

    def exact_lookup(self, resource_type: ResourceType, node: Any) -> Lookup | None:
        """The lookup a filter stands for when it is one ``eq`` on an indexed key: ``userName``,
        ``externalId``, ``id``, ``emails.value`` or ``emails[type eq … and value eq …]`` on
        users; ``displayName``, ``externalId``, ``id`` on groups. The keys are the ones the
        general compiler compares (``comparable``), so both paths find the same rows."""
        kind = self._kind(resource_type)
        model = self._model(resource_type)

        def key(field: str, value: Any, sub: str | None = None) -> Any:
            return comparable(binding_of(model, field, sub), "str", value)

        try:
            if isinstance(node, Comparison):
                path = node.attr_path
                if node.op != CompareOperator.eq or not isinstance(node.value, str) or (
                    path.uri is not None and path.uri.lower() != _CORE_URNS[kind]
                ):
                    return None
                attribute = path.attr.lower()
                if path.sub_attr is None and attribute in _LOOKUP_FIELDS[kind]:
                    return Lookup(attribute, key(_LOOKUP_FIELDS[kind][attribute], node.value))
                if kind == "User" and attribute == "emails" and (path.sub_attr or "").lower() == "value":
                    return Lookup("emails", key("emails", node.value, "value"))
                return None
            if not isinstance(node, ValuePath) or kind != "User" or node.sub_attr or (
                node.attr_path.uri or node.attr_path.attr.lower() != "emails"
            ):
                return None
            found = eq_terms(node.val_filter) or []
            terms = dict(found)
            if len(terms) != len(found) or set(terms) not in ({"value"}, {"value", "type"}) or (
                not all(isinstance(v, str) for v in terms.values())
            ):
                return None
            if "type" not in terms:
                return Lookup("emails", key("emails", terms["value"], "value"))
            return Lookup("emails-typed", key("emails", terms["value"], "value"),
                          key("emails", terms["type"], "type"))
        except Uncomparable:
            return Lookup("nothing", None)  # equals no stored value (a NUL, say)

    def _lookup_page(
        self, resource_type: ResourceType, lookup: Lookup, search_request: SearchRequest[Any]
    ) -> SearchPage:
        """An exact lookup: one statement; its rows are the total when they fit the page."""
        kind = self._kind(resource_type)
        if lookup.attribute == "nothing":
            return SearchPage(0, [])
        offset = search_request.start_index_0 or 0
        count = search_request.count
        parameters = {"account": self.account, "key": lookup.key, "type": lookup.type_key}
        total: int | None = None
        rows: list[Row[Any]] = []
        if count != 0:
            limit = (count + 1) if count is not None else 2**31 - 1
            rows = list(self.run(reads.lookup(self.dialect, kind, lookup.attribute),
                                 {**parameters, "limit": limit, "offset": offset}))
            if offset == 0 and (count is None or len(rows) <= count):
                total = len(rows)
            rows = rows[:count] if count is not None else rows
        if total is None:
            total = int(self.run(reads.lookup_count(kind, lookup.attribute), parameters).scalar_one())
        related = _wants(search_request, "groups" if kind == "User" else "members")
        return SearchPage(total, self._build(resource_type, rows, related=related,
                                             plain=_PLAIN_DOCUMENTS.get()))

    def _search_one(
        self, resource_type: ResourceType, search_request: SearchRequest[Any], at: Any
    ) -> SearchPage:
        kind = self._kind(resource_type)
        context = self._context(resource_type)
        table: Any = self.table(kind).__table__
        conditions = [reads.visible(kind)]
        if search_request.filter is not None:
            conditions.append(SqlFilter.compile(context, str(search_request.filter)))
            total_expr = (
                sa.select(sa.func.count()).select_from(table).where(*conditions)
                .correlate(None).scalar_subquery()
            )
        else:
            total_expr = reads.total_of_all(kind)
        binding = search_request.sort_binding(context.model) if search_request.sort_by else None
        if binding is not None:
            sort_key, sort_kind = context.sort_operand(binding)
            keyset = Keyset(sort_key, table.c.id, self.json.ordered(sort_key, sort_kind),
                            sort_kind)
        else:
            keyset = Keyset(None, table.c.id, None, "str")
        descending = (
            binding is not None and search_request.sort_order == SearchRequest.SortOrder.descending
        )
        parameters = {"account": self.account}
        related = _wants(search_request, "groups" if kind == "User" else "members")
        plain = _PLAIN_DOCUMENTS.get()
        columns = reads.columns(self.dialect, kind)
        count = search_request.count

        def total_only() -> int:
            return int(self.run(sa.select(total_expr), parameters).scalar_one())

        if count == 0:
            return SearchPage(total_only(), [])
        query = sa.select(*columns, total_expr.label("total"))
        if keyset.sort_key is not None:
            query = query.add_columns(keyset.sort_key.label("sk"))
        if search_request.cursor is None:
            offset = search_request.start_index_0 or 0
            ids = sa.select(table.c.id).where(*conditions).order_by(*keyset.order(descending))
            if count is not None:
                ids = ids.limit(count)
            if offset:
                # The rows an offset skips are read from an index only, and the documents,
                # groups and total computed for the page's rows alone: PostgreSQL computes the
                # select list of every row an OFFSET skips (a page at 10,000 did 10,000 times
                # the work of the first one).
                skipped = ids.offset(offset).subquery("page")
                query = query.join(skipped, skipped.c.id == table.c.id)
            else:
                query = query.where(*conditions).limit(count)
            rows = list(self.run(query.order_by(*keyset.order(descending)), parameters))
            total = rows[0].total if rows else (total_only() if offset else 0)
            return SearchPage(int(total), self._build(resource_type, rows, related=related,
                                                      plain=plain))

        # In page order, "later" is a greater key when ascending and a smaller one when descending.
        later, earlier = (keyset.before, keyset.after) if descending else (keyset.after, keyset.before)
        backwards = False
        beyond: Any = None
        if at is None:
            query = query.where(*conditions).order_by(*keyset.order(descending))
        else:
            direction, anchor = read_position(at, keyset.kind)
            backwards = direction == "previous"
            if backwards:
                query = query.where(*conditions, earlier(anchor)).order_by(
                    *keyset.order(not descending))
                beyond = later(anchor, inclusive=True)
            else:
                query = query.where(*conditions, later(anchor)).order_by(*keyset.order(descending))
                beyond = earlier(anchor, inclusive=True)
        if beyond is not None:
            # Whether a page lies on the far side of the anchor, in the same statement.
            probe = sa.select(sa.literal(1)).select_from(table).where(*conditions, beyond)
            query = query.add_columns(probe.correlate(None).exists().label("beyond"))
        if count is not None:
            query = query.limit(count + 1)
        rows = list(self.run(query, parameters))
        more = count is not None and len(rows) > count
        rows = rows[:count] if count is not None else rows
        if backwards:
            rows.reverse()
        total = rows[0].total if rows else total_only()
        page = SearchPage(int(total), self._build(resource_type, rows, related=related,
                                                  plain=plain))
        if rows:
            first, last = rows[0], rows[-1]
            sort_of = (lambda row: None) if keyset.sort_key is None else (lambda row: row.sk)
            has_next = rows[0].beyond if backwards else more
            has_previous = more if backwards else (beyond is not None and rows[0].beyond)
            if has_next:
                page.next = position("next", sort_of(last), last.id)
            if has_previous:
                page.previous = position("previous", sort_of(first), first.id)
        return page

    def _search_union(
        self, resource_types: list[ResourceType], search_request: SearchRequest[Any], at: Any
    ) -> SearchPage:
        """A root search (RFC 7644 §3.4.2.1): every resource type contributes ``(type, id,
        sort key)`` rows to one UNION ALL, ordered by missing-last sort key then id."""
        parts = []
        sort_kind = None
        for resource_type in resource_types:
            context = self._context(resource_type)
            kind = self._kind(resource_type)
            conditions = [self.visible(kind)]
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
                    else sa.cast(sa.null(), sql_type(sort_kind or "str"))
                ).label("sk"),
            ).where(*conditions)
            for resource_type, table, conditions, sort_key in parts
        ]
        union = (sa.union_all(*branches) if len(branches) > 1 else branches[0]).subquery("u")
        total = self.run(sa.select(sa.func.count()).select_from(union)).scalar_one()
        descending = (
            search_request.sort_by is not None
            and search_request.sort_order == SearchRequest.SortOrder.descending
        )
        kind = sort_kind or "str"
        keyset = Keyset(union.c.sk, union.c.id, self.json.ordered(union.c.sk, kind), kind)
        query = sa.select(union.c.rt, union.c.id, union.c.sk)
        if search_request.cursor is None:
            query = query.order_by(*keyset.order(descending)).offset(
                search_request.start_index_0 or 0)
            if search_request.count is not None:
                query = query.limit(search_request.count)
            page_rows = list(self.run(query))
            return SearchPage(total, self._load(resource_types, page_rows, search_request))
        if search_request.count == 0:
            return SearchPage(total, [])
        later, earlier = (keyset.before, keyset.after) if descending else (keyset.after, keyset.before)
        if at is None:
            query = query.order_by(*keyset.order(descending))
        else:
            direction, anchor = read_position(at, kind)
            if direction == "next":
                query = query.where(later(anchor)).order_by(*keyset.order(descending))
            else:
                query = query.where(earlier(anchor)).order_by(*keyset.order(not descending))
        if search_request.count is not None:
            query = query.limit(search_request.count)
        page_rows = list(self.run(query))
        if at is not None and at["d"] == "previous":
            page_rows.reverse()
        page = SearchPage(total, self._load(resource_types, page_rows, search_request))
        if page_rows:
            first, last = page_rows[0], page_rows[-1]
            first_key = (first.sk is None, first.sk, first.id)
            last_key = (last.sk is None, last.sk, last.id)
            exists = sa.select(sa.literal(1)).select_from(union)
            if self.run(exists.where(later(last_key)).limit(1)).first():
                page.next = position("next", last.sk, last.id)
            if self.run(exists.where(earlier(first_key)).limit(1)).first():
                page.previous = position("previous", first.sk, first.id)
        return page

    def _load(
        self,
        resource_types: list[ResourceType],
        page_rows: Sequence[Any],
        parameters: SearchRequest[Any],
    ) -> list[Any]:
        """Load the rows of a page, one query per resource type, and keep the page order."""
        by_name = {str(rt.name): rt for rt in resource_types}
        found: dict[tuple[str, str], Any] = {}
        plain = _PLAIN_DOCUMENTS.get()
        for name, resource_type in by_name.items():
            ids = [row.id for row in page_rows if row.rt == name]
            if not ids:
                continue
            kind = self._kind(resource_type)
            table: Any = self.table(kind).__table__
            rows: list[Row[Any]] = []
            for chunk in chunks(ids):
                rows.extend(self.run(
                    sa.select(*reads.columns(self.dialect, kind)).where(
                        table.c.id.in_(chunk), reads.visible(kind)),
                    {"account": self.account},
                ))
            related = _wants(parameters, "groups" if kind == "User" else "members")
            for resource in self._build(resource_type, rows, related=related, plain=plain):
                resource_id = resource["id"] if plain else resource.id
                found[(name, cast(str, resource_id))] = resource
        return [found[(row.rt, row.id)] for row in page_rows if (row.rt, row.id) in found]

    # --- writing ------------------------------------------------------------------------

    # The steps of a user write, which the ruled storage of the SCIM layer gives the domain:
    # ``judge`` before the row is written (the rules; what the counts must respect),
    # ``written`` after it (lifecycle effects, audit), ``settle`` last (the counts). A group
    # write settles too, with no shift: the ruled storage writes every write's events there.

    def judge(self, before: ReadState | None, resource_id: str | None, resource: Resource[Any],
              fields: dict[str, Any]) -> CountShift:
        """The shift of the account's counts a user write makes, and the limits it must
        respect; here none. ``before`` is None for a creation."""
        old = contribution(before.status, before.user_type) if before is not None else (0, 0)
        new = contribution(fields["status"], fields["user_type"])
        return CountShift(new[0] - old[0], new[1] - old[1])

    def written(self, action: str, kind: str, resource_id: str, before: ReadState | None,
                after: Resource[Any] | None, *, document: dict[str, Any] | None = None,
                status: str | None = None) -> None:
        """Called after each write of a row, before ``settle``; ``document`` is the stored
        SCIM document written (no password), ``status`` the user's status written."""

    def written_run(self, created: Sequence[Resource[Any]],
                    stored: Sequence[tuple[dict[str, Any], str]]) -> None:
        """Called after a run of user creations (``create_users``), before ``settle``;
        ``stored`` holds the document and the status written of each."""
        for resource, (document, status) in zip(created, stored, strict=True):
            self.written("create", "User", str(resource.id), None, resource, document=document,
                         status=status)

    def settle(self, shift: CountShift) -> None:
        """Apply a write's shift of the account's counts: the last statement of the write.
        Here whatever the limits (a storage has no rules); the ruled storage refuses."""
        self.records.shift_counts(CountShift(shift.operators, shift.paying))

    def create(self, resource_type: ResourceType, resource: Resource[Any]) -> Resource[Any]:
        """Create a resource (RFC 7644 §3.3): new id, version 1, unique userName/displayName
        per account (the database's unique index decides)."""
        kind = self._kind(resource_type)
        self._models.setdefault(str(resource_type.name), type(resource))
        resource_id = new_id()
        if kind == "Group":
            fields = group_fields(resource)
            written = self.records.insert_group(fields, group_id=resource_id)
            given = given_members(resource)
            self.members.replace(resource_id, given, strict=True)
            created = self._stamped(resource_type, resource, written, None)
            document = dict(fields["data"])
            if given:
                document["members"] = [{"value": member} for member in given]
            self.written("create", kind, resource_id, None, created, document=document)
            self.settle(CountShift())
            return created
        fields, emails = user_fields(resource, current_status=None)
        shift = self.judge(None, None, resource, fields)
        written = self.records.insert_user(fields, emails, user_id=resource_id)
        created = self._stamped(resource_type, resource, written, fields)
        self.written("create", kind, resource_id, None, created, document=fields["data"],
                     status=fields["status"])
        self.settle(shift)
        return created

    def _stamped(self, resource_type: ResourceType, resource: Resource[Any], written: Written,
                 fields: dict[str, Any] | None, before: ReadState | None = None) -> Resource[Any]:
        """The stored resource after a write, from what was written: no SELECT, and for a user
        no second validation (a copy of the resource written, made to read as stored: its
        meta, ``active`` from the status, the account extension, no password)."""
        model = self._model(resource_type)
        if fields is None:
            data = dict(group_fields(resource)["data"])
            if getattr(resource, "members", None):
                data["members"] = self._member_entries(written.id)
            return resource_of(model, "Group", written, data)
        status = fields["status"]
        last_activity = before.last_activity_at if before is not None else None
        if not self.fast_paths:
            stored = resource_of(model, "User", written, user_data(
                model, fields["data"], status=status, last_activity_at=last_activity,
                groups=None, for_model=True))
            stored.groups = getattr(resource, "groups", None)  # type: ignore[attr-defined]
            return stored
        resource = resource.model_copy()  # the caller's resource stays as it gave it
        resource.id = written.id
        resource.meta = meta_of("User", written)
        if status != "active":
            resource.active = False  # type: ignore[attr-defined]
        elif getattr(resource, "active", None) is not None:
            resource.active = True  # type: ignore[attr-defined]
        resource.password = None  # type: ignore[attr-defined]
        for urn, extension in model.get_extension_models().items():
            if urn == ACCOUNT_EXTENSION_URN:
                setattr(resource, extension.__name__, extension(  # type: ignore[call-arg]
                    status=status, last_activity=utc(last_activity) if last_activity else None))
        return resource

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
        accepted ones in two statements. The result of each is the given model, now with the
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
                prepared.append(user_fields(resource, current_status=None))
            except Exception as exc:  # noqa: BLE001 - the op's own error, reported in order
                prepared.append(exc)
        taken = self._taken_user_names(
            [p[0]["user_name_key"] for p in prepared if not isinstance(p, Exception)]
        )
        results: list[Any] = []
        rows: list[tuple[str, dict[str, Any], list[dict[str, Any]]]] = []
        accepted: list[Resource[Any]] = []
        refused = 0
        shift = CountShift()
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
            rows.append((new_id(), fields[0], fields[1]))
            operators, paying = contribution(fields[0]["status"], fields[0]["user_type"])
            shift = shift + CountShift(operators, paying, True, bool(paying))
            accepted.append(resource)
            results.append(None)
        written = self.records.insert_users(rows) if rows else []
        if written is None:
            return None
        created = []
        for resource, meta in zip(accepted, written, strict=True):
            # The given model stands for the created user: validating a copy of each from its
            # row would cost as much again.
            resource.id = meta.id
            resource.meta = meta_of("User", meta)
            created.append(resource)
        self.written_run(created, [(fields["data"], fields["status"]) for _, fields, _ in rows])
        if rows:
            self.settle(shift)
        stream = iter(created)
        return [next(stream) if r is None else r for r in results]

    def _taken_user_names(self, keys: Sequence[str | None]) -> set[str]:
        """Which of these userName keys the account's users already hold (one query per chunk)."""
        taken: set[str] = set()
        for chunk in chunks([k for k in keys if k is not None]):
            taken.update(
                key
                for key in self.run(
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
        """Replace a resource (RFC 7644 §3.5.1) if it is still at the version it was read at
        (RFC 7644 §3.14), checked in the statement that writes it."""
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

    def _update(self, resource_type: ResourceType, resource: Resource[Any],
                expected_version: str | None, *, members: bool) -> Resource[Any]:
        kind = self._kind(resource_type)
        self._models.setdefault(str(resource_type.name), type(resource))
        resource_id = str(resource.id)
        before = self.read_state(kind, resource_id)
        version = self._expected(before, expected_version)
        if kind == "Group":
            fields = group_fields(resource)
            written = self.records.update_group(
                resource_id, fields, version=version,
                renamed=fields["display_name_key"] != before.unique_key,
            )
            added: list[str] = []
            removed: list[str] = []
            if members:
                _, added, removed = self.members.replace_delta(
                    resource_id, given_members(resource), strict=True)
            self._forget(kind, resource_id)
            updated = self._stamped(resource_type, resource, written, None)
            if not members:
                updated.members = None  # type: ignore[attr-defined]
            self.written("update", kind, resource_id, before, updated, document=fields["data"])
            self.members_moved(resource_id, added, removed)
            self.settle(CountShift())
            return updated
        fields, emails = user_fields(resource, current_status=before.status)
        if fields.get("password_hash") is None:
            fields.pop("password_hash", None)  # a replace without password keeps it
        shift = self.judge(before, resource_id, resource, fields)
        # The user_emails rows derive from the payload's emails alone: same emails, same rows.
        emails_changed = before.emails != fields["data"].get("emails")
        written = self.records.update_user(
            resource_id, fields, emails if emails_changed else None, version=version,
            renamed=fields["user_name_key"] != before.unique_key,
        )
        self._forget(kind, resource_id)
        updated = self._stamped(resource_type, resource, written, fields, before)
        self.written("update", kind, resource_id, before, updated, document=fields["data"],
                     status=fields["status"])
        self.settle(shift)
        return updated

    @staticmethod
    def _expected(before: ReadState, expected_version: str | None) -> int:
        """The version a write must find: the one the caller expects, else the one read."""
        if expected_version is None:
            return before.version
        version = version_number(expected_version)
        if version is None:
            raise VersionConflict
        return version

    def _forget(self, kind: str, resource_id: str) -> None:
        self.session.info.get("scim_read", {}).pop((kind, resource_id), None)

    def delete(
        self,
        resource_type: ResourceType,
        resource_id: str,
        *,
        expected_version: str | None = None,
    ) -> None:
        """Delete a resource (RFC 7644 §3.6) still at the version it was read at.

        A user stays as an anonymised row with status ``deleted`` (invisible, its userName
        free again); a group is removed. Either leaves the groups it was in, which get a new
        version.
        """
        kind = self._kind(resource_type)
        before = self.read_state(kind, resource_id)
        version = self._expected(before, expected_version)
        if kind == "Group":
            self.records.lock(kind, resource_id, version=version)
        now = self.clock()
        self.members.leave_all(resource_id, now=now)
        if kind == "Group":
            self.records.delete_group(resource_id, version=version)
            self._forget(kind, resource_id)
            self.written("delete", kind, resource_id, before, None)
            self.settle(CountShift())
            return
        self.records.anonymise_user(resource_id, version=version)
        self._forget(kind, resource_id)
        self.written("delete", kind, resource_id, before, None)
        old = contribution(before.status, before.user_type)
        self.settle(CountShift(-old[0], -old[1]))

    # --- memberships (the O(delta) group PATCH) -------------------------------------------

    def change_members(self, group_type: ResourceType, header: Resource[Any],
                       steps: Sequence[MemberChange],
                       *, changed: bool) -> Resource[Any]:
        """Apply a group PATCH split into its other attributes (``header``: the group as read,
        with them applied; ``changed`` when they changed it) and membership steps (add / remove
        / clear), as one new version of the group if it is still at the version it was read
        at (RFC 7644 §3.14)."""
        group_id = str(header.id)
        before = self.read_state("Group", group_id)
        fields = group_fields(header) if changed else None
        written = self.records.update_group(
            group_id, fields, version=before.version,
            renamed=fields is not None and fields["display_name_key"] != before.unique_key,
        )
        self._forget("Group", group_id)
        unknown: list[list[str]] = []
        # The delta as it happened: an id added then removed in one PATCH is in neither.
        added: dict[str, None] = {}
        removed: dict[str, None] = {}
        for step in steps:
            if step.kind == "add":
                skipped, inserted = self.members.add_delta(group_id, step.ids, step.displays)
                unknown.append(skipped)
                for member in inserted:
                    if removed.pop(member, 0) is None:
                        continue  # removed earlier in this PATCH: back as it was
                    added[member] = None
            else:
                gone = (self.members.remove(group_id, step.ids) if step.kind == "remove"
                        else self.members.clear(group_id))
                unknown.append([])
                for member in gone:
                    if added.pop(member, 0) is None:
                        continue
                    removed[member] = None
        if changed:
            self.written("update", "Group", group_id, before, header,
                         document=fields["data"] if fields is not None else None)
        self.members_changed(group_id, steps, unknown)
        self.members_moved(group_id, list(added), list(removed))
        self.settle(CountShift())
        header.meta = meta_of("Group", written)
        return header

    def members_changed(self, group_id: str, steps: Sequence[MemberChange],
                        unknown: Sequence[Sequence[str]]) -> None:
        """Called after the membership steps of a PATCH: the ruled storage audits here."""

    def members_moved(self, group_id: str, added: Sequence[str], removed: Sequence[str]) -> None:
        """Called after a write of a group's members with the members it added and removed
        (the ruled storage writes the membership event here)."""


__all__ = ["ReadState", "SqlScimStorage", "default_provider"]
