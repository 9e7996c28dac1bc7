"""SCIM filters and sorts compiled to SQL (RFC 7644 §3.4.2.2 and §3.4.2.3), for SQLite and PostgreSQL.

Does: turn the filter tree of scim2-models into one SQLAlchemy boolean expression per resource
type, with the semantics of ``ScimFilter.match``; turn ``sortBy`` into the SQL expression
``SearchRequest.sort_value`` orders by; build the normalised ``search`` document both read.
Does not: run queries, or evaluate anything in Python over loaded rows.

Layout of the ``search`` document: the layout of ``data`` (the SCIM payload: core attributes by
their SCIM name, extension attributes under their schema URN), complex values as objects of their sub-attributes,
multi-valued ones as arrays whose first entry is the ``primary`` one (so the sort value of
RFC 7643 §2.4, "the primary value, or else the first", is entry 0). Strings are replaced by the
comparison key of the policy (NFC, lower case unless caseExact), dateTimes by a fixed-width UTC
ISO string, binaries by their base64 text; nothing missing is stored, so SQL NULL means absent.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from inspect import isclass
from typing import Any

import sqlalchemy as sa
from pydantic import EmailStr
from scim2_models import InvalidFilterException, InvalidPathException, Resource, ScimFilter
from scim2_models.base import BaseModel
from scim2_models.path import (
    AttrPath,
    CompareOperator,
    Comparison,
    FilterNode,
    FilterVisitor,
    LogicalExpr,
    LogicalOperator,
    Not,
    Present,
    ValuePath,
)
from scim2_models.path.resolution import AttributeBinding, _bind, coerce_value
from sqlalchemy.sql.elements import ColumnElement

from scim_server.storage.dialects import JsonDialect, Predicate
from scim_server.storage.schema import ACCOUNT_EXTENSION_URN

# Attributes the search document never holds: kept in columns, derived on read, or secret.
_NOT_SEARCHED = {"schemas", "id", "meta", "password", "groups", "members", "external_id"}

Operand = tuple[ColumnElement[Any], str]
"""A SQL expression and its kind: str, bytes, num, bool, dt (ISO text), dtcol (a timestamp
column) or complex."""


def iso_utc(value: dt.datetime) -> str:
    """A dateTime as fixed-width UTC text, whose text order is the time order."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def kind_of(python_type: Any) -> str:
    """The kind a SCIM attribute type is stored and compared as (RFC 7643 §2.3)."""
    if not isclass(python_type):
        return "any"
    if issubclass(python_type, EmailStr):
        return "str"  # pydantic's email type validates to a plain str
    if issubclass(python_type, bool):
        return "bool"
    if issubclass(python_type, int | float):
        return "num"
    if issubclass(python_type, dt.datetime):
        return "dt"
    if issubclass(python_type, bytes):
        return "bytes"
    if issubclass(python_type, str):
        return "str"
    if issubclass(python_type, BaseModel):
        return "complex"
    return "any"


class Uncomparable(ValueError):
    """A string the policy cannot prepare: it equals no other value (only ``ne`` holds)."""


class OutOfRange(ValueError):
    """A dateTime valid where it was written whose UTC form falls outside years 1-9999 (e.g.
    9999-12-31T23:59:59-05:00): neither engine nor Python can hold it."""


# The SQL of a filter is one flat AND/OR chain per level, which SQLite parses into a tree one
# level deeper per term: past about 490 terms it refuses the statement (maximum depth 1000).
# scim2-models already bounds the nesting (32); this bounds the width, the same on both engines,
# far above what identity providers send.
MAX_FILTER_TERMS = 200


def comparable(binding: AttributeBinding, kind: str, value: Any) -> Any:
    """The stored form of a value of an attribute, as the search document and the columns hold it."""
    if value is None:
        return None
    if kind in ("dt", "dtcol") and isinstance(value, dt.datetime):
        try:
            if kind == "dt":
                return iso_utc(value)
            return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)
        except OverflowError as exc:
            raise OutOfRange(f"{value.isoformat()} is outside years 1-9999 in UTC") from exc
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, str):
        if "\x00" in value:
            # Never stored (writes refuse it) and PostgreSQL cannot even bind it: it equals nothing.
            raise Uncomparable("the NUL character is never stored")
        try:
            return binding.comparable(value)
        except ValueError as exc:
            raise Uncomparable(str(exc)) from exc
    return value


# --- the search document ------------------------------------------------------------------


@lru_cache(maxsize=4096)
def binding_of(model: type[BaseModel], field_name: str, sub: str | None = None) -> AttributeBinding:
    """The binding scim2-models gives an attribute, so the policy sees what a filter gives it."""
    return _bind(model, field_name, sub)


def alias(model: Any, field_name: str) -> str:
    """The SCIM name of a field, as ``data`` (and so ``search``) spells it."""
    fields = getattr(model, "model_fields", None) if isclass(model) else None
    field = fields.get(field_name) if fields else None
    return (field.serialization_alias if field is not None else None) or field_name


def _normalised(model: type[BaseModel], field_name: str, value: Any) -> Any:
    binding = binding_of(model, field_name)
    items = value if isinstance(value, list) else [value]
    out: list[Any] = []
    for item in items:
        if item is None:
            continue
        if isinstance(item, BaseModel):
            entry = {}
            for sub in type(item).model_fields:
                sub_value = getattr(item, sub, None)
                if sub_value is None or sub == "schemas":
                    continue
                sub_binding = binding_of(model, field_name, sub)
                try:
                    entry[alias(type(item), sub)] = comparable(
                        sub_binding, kind_of(sub_binding.target_type), sub_value
                    )
                except (Uncomparable, OutOfRange):
                    continue
            out.append(entry)
        else:
            try:
                out.append(comparable(binding, kind_of(binding.target_type), item))
            except (Uncomparable, OutOfRange):
                continue
    if not isinstance(value, list):
        return out[0] if out else None
    # RFC 7643 §2.4: the primary entry stands for the attribute when sorting; keep it first.
    primary = next(
        (i for i, item in enumerate(items) if item is not None and getattr(item, "primary", None)),
        None,
    )
    if primary:
        kept = [item for item in items if item is not None]
        index = kept.index(items[primary])
        out.insert(0, out.pop(index))
    return out


def _document_of(model: type[BaseModel], instance: Any, skip: set[str]) -> dict[str, Any]:
    document: dict[str, Any] = {}
    for field_name in model.model_fields:
        if field_name in skip:
            continue
        value = getattr(instance, field_name, None)
        if value is None:
            continue
        normalised = _normalised(model, field_name, value)
        if normalised is not None:
            document[alias(model, field_name)] = normalised
    return document


def search_document(resource: Resource[Any]) -> dict[str, Any]:
    """The normalised copy of a resource that filters and sorts read (see the module docstring)."""
    model = type(resource)
    extensions = dict(model.get_extension_models())
    skip = _NOT_SEARCHED | {ext.__name__ for ext in extensions.values()}
    document = _document_of(model, resource, skip)
    for schema, ext_model in extensions.items():
        if schema == ACCOUNT_EXTENSION_URN:
            continue  # read-only, kept in columns the domain owns
        instance = getattr(resource, ext_model.__name__, None)
        if instance is not None:
            ext_doc = _document_of(ext_model, instance, {"schemas"})
            if ext_doc:
                document[schema] = ext_doc
    return document


# --- predicates -----------------------------------------------------------------------------


def _like_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def compare(
    json: JsonDialect,
    operand: Operand,
    op: CompareOperator,
    value: Any,
    binding: AttributeBinding,
) -> Predicate:
    """One value compared as scim2-models' ``_compare`` does (RFC 7644 §3.4.2.2), never SQL NULL.

    A missing value equals only null and differs from everything else (the NULL-safe ``ne``);
    ordering and substring operators never match a missing value nor null.
    """
    expr, kind = operand
    if value is None:
        if op == CompareOperator.eq:
            return expr.is_(None)
        if op == CompareOperator.ne:
            return expr.is_not(None)
        return sa.false()
    if kind == "complex":
        # A complex value equals no scalar; ne holds whether it is there or not.
        return sa.true() if op == CompareOperator.ne else sa.false()
    try:
        key = comparable(binding, kind, value)
    except Uncomparable:
        return sa.true() if op == CompareOperator.ne else sa.false()
    except OutOfRange as exc:
        raise InvalidFilterException(detail=str(exc)) from None
    if op in (CompareOperator.co, CompareOperator.sw, CompareOperator.ew):
        if kind != "str" or not isinstance(key, str):
            return sa.false()
        escaped = _like_escape(key)
        pattern = {
            CompareOperator.co: f"%{escaped}%",
            CompareOperator.sw: f"{escaped}%",
            CompareOperator.ew: f"%{escaped}",
        }[op]
        predicate: Predicate = expr.like(pattern, escape="\\")
        if json.name == "sqlite" and binding.case_exact and key.lower() != key.upper():
            # SQLite's LIKE folds ASCII case: confirm case-exactly.
            exact = {
                CompareOperator.co: sa.func.instr(expr, key) > 0,
                CompareOperator.sw: sa.func.substr(expr, 1, len(key)) == key,
                CompareOperator.ew: sa.func.substr(expr, -len(key)) == key,
            }[op]
            predicate = sa.and_(predicate, exact)
        return sa.and_(expr.is_not(None), predicate)
    if kind in ("str", "bytes", "dt") and not isinstance(key, str):
        return sa.true() if op == CompareOperator.ne else sa.false()
    if kind == "dtcol" and not isinstance(key, dt.datetime):
        return sa.true() if op == CompareOperator.ne else sa.false()
    if kind == "bool" and not isinstance(key, bool):
        return sa.true() if op == CompareOperator.ne else sa.false()
    if kind == "num" and (isinstance(key, bool) or not isinstance(key, int | float)):
        return sa.true() if op == CompareOperator.ne else sa.false()
    param = sa.literal(key, type_=expr.type) if kind in ("dtcol",) else sa.literal(key)
    if op == CompareOperator.eq:
        return sa.and_(expr.is_not(None), expr == param)
    if op == CompareOperator.ne:
        return sa.or_(expr.is_(None), expr != param)
    left = json.ordered(expr, kind)
    if kind == "bool":
        return sa.false()  # RFC 7644 §3.4.2.2: no ordering on booleans (refused upstream too)
    ordering = {
        CompareOperator.gt: left > param,
        CompareOperator.ge: left >= param,
        CompareOperator.lt: left < param,
        CompareOperator.le: left <= param,
    }[op]
    return sa.and_(expr.is_not(None), ordering)


def present(operand: Operand) -> Predicate:
    """``pr`` on a single value: an empty string is not present, false and 0 are (RFC 7644 §3.4.2.2)."""
    expr, kind = operand
    if kind in ("str", "bytes"):
        return sa.and_(expr.is_not(None), expr != "")
    return expr.is_not(None)


@dataclass
class Elements:
    """The entries of a multi-valued attribute, as rows a correlated EXISTS walks."""

    source: sa.FromClause
    correlation: Predicate
    head_present: Predicate
    sub: Callable[[str | None, str], ColumnElement[Any] | None]
    """The SQL expression of a sub-attribute of an entry (None: the entry itself), given its kind."""

    def exists(self, condition: Predicate) -> Predicate:
        return sa.exists(
            sa.select(sa.literal(1)).select_from(self.source).where(self.correlation, condition)
        )


def _fields(model: Any) -> list[str]:
    fields = getattr(model, "model_fields", None) if isclass(model) else None
    return [name for name in fields or () if name != "schemas"]


class ResourceContext:
    """Where the attributes of one resource type live: columns, the search document, join tables.

    Subclassed by the storage for User and Group; it maps a binding to an operand or to the
    entries of a multi-valued attribute.
    """

    def __init__(self, json: JsonDialect, table: Any, model: type[Resource[Any]]):
        self.json = json
        self.table = table
        self.model = model

    # Overridden for the attributes kept in columns or tables.
    def column(self, binding: AttributeBinding) -> Operand | None:
        if binding.model is self.model or not _is_extension(binding.model):
            if binding.field_name == "id":
                return self.table.id, "str"
            if binding.field_name == "external_id":
                return self.table.external_id, "str"
            if binding.field_name == "meta":
                return self._meta(binding.sub_field_name)
        return None

    def _meta(self, sub: str | None) -> Operand:
        if sub == "created":
            return self.table.created_at, "dtcol"
        if sub == "last_modified":
            return self.table.modified_at, "dtcol"
        if sub == "version":
            return sa.literal('W/"') + sa.cast(self.table.version, sa.String) + sa.literal(
                '"'
            ), "str"
        if sub == "resource_type":
            return sa.literal(self.model.__name__.split("[")[0]), "str"
        if sub is None:
            return sa.literal("meta"), "complex"
        return sa.null(), "str"  # location: the server fills it, the storage holds none

    def special_elements(self, binding: AttributeBinding) -> Elements | None:
        return None

    def lookup(self, node: Comparison | ValuePath, binding: AttributeBinding) -> Predicate | None:
        """An indexed form of an identity-provider lookup, when the resource type has one."""
        return None

    def doc_path(self, binding: AttributeBinding) -> tuple[str, ...]:
        head: tuple[str, ...] = ()
        if _is_extension(binding.model):
            head = (str(getattr(binding.model, "__schema__", "")),)
        return (*head, alias(binding.model, binding.field_name))

    def operand(self, binding: AttributeBinding) -> Operand:
        """A single-valued attribute (or sub-attribute of a single-valued complex one)."""
        special = self.column(binding)
        if special is not None:
            return special
        kind = kind_of(binding.target_type)
        if kind == "any":
            raise InvalidFilterException(detail=f"cannot compare '{binding.urn}' in SQL")
        path = self.doc_path(binding)
        if binding.sub_field_name:
            path = (*path, alias(binding.field_type, binding.sub_field_name))
        if kind == "complex":
            return sa.literal("complex"), "complex"
        return self.json.scalar(self.table.search, path, kind), kind

    def elements(self, binding: AttributeBinding) -> Elements:
        special = self.special_elements(binding)
        if special is not None:
            return special
        path = self.doc_path(binding)
        source, value = self.json.elements(self.table.search, path)
        json = self.json
        item_model = binding.field_type

        def sub(name: str | None, kind: str) -> ColumnElement[Any]:
            return json.scalar(value, () if name is None else (alias(item_model, name),), kind)

        return Elements(source, sa.true(), json.present(self.table.search, path), sub)

    def sort_operand(self, binding: AttributeBinding) -> Operand:
        """What ``SearchRequest.sort_value`` orders a resource by (RFC 7644 §3.4.2.3)."""
        if not binding.is_multivalued:
            return self.operand(binding)
        special = self.special_elements(binding)
        kind = kind_of(binding.target_type)
        if special is not None:
            sub = special.sub(binding.sub_field_name, kind)
            if sub is None:
                raise InvalidPathException(detail=f"cannot sort on '{binding.urn}'")
            # No primary entry here: the first entry in load order (by id) stands for them.
            first = (
                sa.select(sa.func.min(sub)).select_from(special.source).where(special.correlation)
            )
            return first.scalar_subquery(), kind
        path: tuple[str | int, ...] = (*self.doc_path(binding), 0)
        if binding.sub_field_name:
            path = (*path, alias(binding.field_type, binding.sub_field_name))
        return self.json.scalar(self.table.search, path, kind), kind


def _is_extension(model: Any) -> bool:
    from scim2_models import Extension

    return isclass(model) and issubclass(model, Extension)


# --- the compiler ---------------------------------------------------------------------------


def check_filter(root: FilterNode) -> None:
    """Refuse what no engine can run: more than MAX_FILTER_TERMS comparisons (see there), or a
    lone surrogate, which the grammar's JSON escapes can spell ("\\ud800") but which is no
    Unicode text: nothing stored equals it and neither driver can even send it."""
    terms, pending = 0, [root]
    while pending:
        node = pending.pop()
        if isinstance(node, LogicalExpr):
            pending.extend(node.terms)
        elif isinstance(node, Not):
            pending.append(node.expr)
        elif isinstance(node, ValuePath):
            pending.append(node.val_filter)
        else:
            terms += 1
            value = getattr(node, "value", None)
            if isinstance(value, str) and not _is_text(value):
                raise InvalidFilterException(
                    detail="a filter value is not valid Unicode text (a lone surrogate)"
                )
    if terms > MAX_FILTER_TERMS:
        raise InvalidFilterException(
            detail=f"the filter has {terms} comparisons; at most {MAX_FILTER_TERMS} are allowed"
        )


def _is_text(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class SqlFilter(FilterVisitor[Predicate]):
    """A filter tree compiled to one SQL predicate over a resource type (RFC 7644 §3.4.2.2).

    Every node yields a two-valued predicate (never SQL NULL), so ``not`` negates exactly as
    ``ScimFilter.match`` does. An attribute the resource type does not declare matches nothing
    (RFC 7644 §3.4.2.1).
    """

    def __init__(self, context: ResourceContext, scim_filter: ScimFilter[Any]):
        self.context = context
        self.filter = scim_filter

    @classmethod
    def compile(cls, context: ResourceContext, expression: str) -> Predicate:
        from scim2_server.utils import parametrize

        bound = parametrize(ScimFilter, context.model)(expression)
        check_filter(bound.ast)
        return cls(context, bound).visit(bound.ast)

    def visit_comparison(self, node: Comparison) -> Predicate:
        binding = self.filter.resolve_comparison(node.attr_path, strict=False)
        if binding is None:
            return sa.false()
        fast = self.context.lookup(node, binding)
        if fast is not None:
            return fast
        value = coerce_value(binding, node.value, node.op)
        if not binding.is_multivalued:
            return compare(
                self.context.json, self.context.operand(binding), node.op, value, binding
            )
        elements = self.context.elements(binding)
        kind = kind_of(binding.target_type)
        expr = elements.sub(binding.sub_field_name, kind)
        if expr is None or kind == "any":
            raise InvalidFilterException(detail=f"cannot compare '{binding.urn}' in SQL")
        operand = (expr, kind)
        if value is None:
            if node.op == CompareOperator.eq:
                return sa.or_(~elements.head_present, elements.exists(expr.is_(None)))
            if node.op == CompareOperator.ne:
                return sa.and_(elements.head_present, ~elements.exists(expr.is_(None)))
            return sa.false()
        if node.op == CompareOperator.ne:
            # "ne" on a multi-valued attribute: no entry equals the operand (scim2-models' reading).
            equal = compare(self.context.json, operand, CompareOperator.eq, value, binding)
            return ~elements.exists(equal)
        return elements.exists(compare(self.context.json, operand, node.op, value, binding))

    def visit_present(self, node: Present) -> Predicate:
        binding = self.filter.resolve(node.attr_path, strict=False)
        if binding is None:
            return sa.false()
        if not binding.is_multivalued:
            if binding.sub_field_name is None and kind_of(binding.field_type) == "complex":
                subs = [
                    binding_of(binding.model, binding.field_name, s)
                    for s in _fields(binding.field_type)
                ]
                return sa.or_(sa.false(), *(present(self.context.operand(s)) for s in subs))
            return present(self.context.operand(binding))
        elements = self.context.elements(binding)
        if binding.sub_field_name is not None:
            kind = kind_of(binding.target_type)
            expr = elements.sub(binding.sub_field_name, kind)
            return sa.false() if expr is None else elements.exists(present((expr, kind)))
        if kind_of(binding.field_type) == "complex":
            terms = []
            for sub in _fields(binding.field_type):
                kind = kind_of(binding_of(binding.model, binding.field_name, sub).target_type)
                expr = elements.sub(sub, kind)
                if expr is not None:
                    terms.append(present((expr, kind)))
            return elements.exists(sa.or_(sa.false(), *terms))
        kind = kind_of(binding.field_type)
        expr = elements.sub(None, kind)
        return sa.false() if expr is None else elements.exists(present((expr, kind)))

    def visit_not(self, node: Not) -> Predicate:
        return sa.not_(self.visit(node.expr))

    def visit_logical_expr(self, node: LogicalExpr) -> Predicate:
        terms = [self.visit(term) for term in node.terms]
        return sa.and_(*terms) if node.op == LogicalOperator.and_ else sa.or_(*terms)

    def visit_value_path(self, node: ValuePath) -> Predicate:
        binding = self.filter.resolve(node.attr_path, strict=False)
        if binding is None:
            return sa.false()
        if not binding.is_multivalued:
            raise InvalidFilterException(detail=f"'{binding.urn}' holds no values to select")
        fast = self.context.lookup(node, binding)
        if fast is not None:
            return fast
        elements = self.context.elements(binding)
        inner = _EntryFilter(self, node.attr_path, binding, elements)
        return elements.exists(inner.visit(node.val_filter))


class _EntryFilter(FilterVisitor[Predicate]):
    """The filter of a value selection, over one entry of the multi-valued attribute."""

    def __init__(
        self, outer: SqlFilter, attr_path: AttrPath, binding: AttributeBinding, elements: Elements
    ):
        self.outer = outer
        self.attr_path = attr_path
        self.binding = binding
        self.elements = elements
        self.complex = kind_of(binding.field_type) == "complex"

    def _operand(
        self, attr_path: AttrPath, for_comparison: bool
    ) -> tuple[Operand, AttributeBinding] | None:
        if attr_path.uri is not None or attr_path.sub_attr is not None:
            return None
        if not self.complex:
            # RFC 7644 §3.4.2.2 convention: "value" names the entry of a list of scalars.
            if attr_path.attr.lower() != "value":
                return None
            kind = kind_of(self.binding.field_type)
            expr = self.elements.sub(None, kind)
            return None if expr is None else ((expr, kind), self.binding)
        path = AttrPath(self.attr_path.attr, attr_path.attr, self.attr_path.uri)
        resolve = (
            self.outer.filter.resolve_comparison if for_comparison else self.outer.filter.resolve
        )
        binding = resolve(path, strict=False)
        if binding is None or binding.sub_field_name is None:
            return None
        kind = kind_of(binding.target_type)
        expr = self.elements.sub(binding.sub_field_name, kind)
        return None if expr is None else ((expr, kind), binding)

    def visit_comparison(self, node: Comparison) -> Predicate:
        found = self._operand(node.attr_path, True)
        if found is None:
            return sa.false()
        operand, binding = found
        value = coerce_value(binding, node.value, node.op)
        return compare(self.outer.context.json, operand, node.op, value, binding)

    def visit_present(self, node: Present) -> Predicate:
        found = self._operand(node.attr_path, False)
        return sa.false() if found is None else present(found[0])

    def visit_not(self, node: Not) -> Predicate:
        return sa.not_(self.visit(node.expr))

    def visit_logical_expr(self, node: LogicalExpr) -> Predicate:
        terms = [self.visit(term) for term in node.terms]
        return sa.and_(*terms) if node.op == LogicalOperator.and_ else sa.or_(*terms)

    def visit_value_path(self, node: ValuePath) -> Predicate:
        return sa.false()  # errata: a value selection cannot nest another


def eq_terms(node: FilterNode) -> list[tuple[str, Any]] | None:
    """The ``name eq value`` terms of an AND of equalities on plain names, or None.

    This is the shape of the lookups identity providers make (``emails[type eq "work" and
    value eq "x"]``), which the storage answers from indexed tables.
    """
    terms = (
        list(node.terms)
        if isinstance(node, LogicalExpr) and node.op == LogicalOperator.and_
        else [node]
    )
    found: list[tuple[str, Any]] = []
    for term in terms:
        if not isinstance(term, Comparison) or term.op != CompareOperator.eq or term.value is None:
            return None
        if term.attr_path.uri or term.attr_path.sub_attr:
            return None
        found.append((term.attr_path.attr.lower(), term.value))
    return found
