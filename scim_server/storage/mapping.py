"""Type mappings: where each SCIM attribute of a User or Group lives in SQL (columns, the
search document, join tables), for the filter compiler and the sorts (RFC 7644 §3.4.2)."""

from __future__ import annotations

from typing import Any, cast

import sqlalchemy as sa
from scim2_models import Resource
from scim2_models.path import Comparison, ValuePath
from scim2_models.path.resolution import AttributeBinding

from scim_server.storage import models as m
from scim_server.storage.dialects import Predicate
from scim_server.storage.filters import (
    Elements,
    ResourceContext,
    Uncomparable,
    binding_of,
    comparable,
    eq_terms,
)
from scim_server.storage.schema import ACCOUNT_EXTENSION_URN
from scim_server.storage.scope import AccountScope


def context_for(scope: AccountScope, kind: str, model: type[Resource[Any]]) -> ResourceContext:
    """The mapping of one resource type, for the current account."""
    return (_UserContext if kind == "User" else _GroupContext)(scope, model)


class _UserContext(ResourceContext):
    """Users: userName/displayName/externalId/active/status in columns, groups and emails in tables."""

    def __init__(self, scope: AccountScope, model: type[Resource[Any]]):
        super().__init__(scope.json, m.User, model)
        self.account_id = scope.account

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

    def __init__(self, scope: AccountScope, model: type[Resource[Any]]):
        super().__init__(scope.json, m.Group, model)
        self.account_id = scope.account

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


def sql_type(kind: str) -> Any:
    return {
        "num": sa.Numeric(),
        "bool": sa.Boolean(),
        "dtcol": m.UTCDateTime(),
    }.get(kind, sa.String())
