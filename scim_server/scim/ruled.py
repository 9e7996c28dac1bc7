"""The SCIM door's link to the domain: every User write passes the account rules first.

This sits in the SCIM layer, between scim2-server's handler and the SQL storage: the storage
stays rule-free, the domain stays protocol-free, and SCIM, the admin API and the admin UI all
refuse the same changes with the same rule ids.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from flask import g
from scim2_models import NotFoundException, Resource, ResourceType

from scim_server.domain import users as user_rules
from scim_server.domain.actors import Actor
from scim_server.domain.audit import record_audit
from scim_server.domain.errors import DomainError
from scim_server.scim.service import scim_exception_of
from scim_server.storage.models import User
from scim_server.storage.scim_storage import SqlScimStorage
from scim_server.storage.scim_storage import _check_version as check_version


def user_state_of(resource: Resource[Any], *, current_status: str | None = None) -> user_rules.UserState:
    """The rule-relevant view of a SCIM User: type, status (from ``active``) and main email."""
    user_type = getattr(resource, "user_type", None) or "Member"
    active = getattr(resource, "active", None)
    if current_status == "pending" and active is not True:
        status = "pending"  # an IdP echoing active=false does not touch an invitation
    else:
        status = "inactive" if active is False else "active"
    emails = getattr(resource, "emails", None) or []
    primary = next((e for e in emails if getattr(e, "primary", False)), None)
    chosen = primary or (emails[0] if emails else None)
    email = str(chosen.value) if chosen is not None and chosen.value else None
    return user_rules.UserState(user_type=str(user_type), status=status, email=email)


def scim_actor() -> Actor:
    principal = g.scim_principal
    return Actor(
        door="scim",
        user_id=principal.user.id if principal.user else None,
        credential_id=principal.credential.id,
        client=g.get("scim_client"),
    )


@contextmanager
def domain_refusals() -> Iterator[None]:
    """Raise a domain refusal as the SCIM error it stands for (RFC 7644 §3.12).

    scim2-flask answers only SCIMException with a SCIM error; a RuleViolation escaping a
    single request would otherwise become a bare 500 (Bulk converts through ``error_of``)."""
    try:
        yield
    except DomainError as error:
        raise scim_exception_of(error) from error


class RuledScimStorage(SqlScimStorage):
    """SqlScimStorage whose User writes are checked by the domain and audited."""

    def _state_row(self, user_id: str) -> User:
        # The row a PATCH or PUT has just read is in the session: no second SELECT.
        row: User | None = self._session().get(User, user_id)
        if row is not None and (row.account_id != self._account_id() or row.status == "deleted"):
            row = None
        if row is None:
            raise NotFoundException(detail=f"Resource {user_id} not found")
        return row

    def create(self, resource_type: ResourceType, resource: Resource[Any]) -> Resource[Any]:
        if resource_type.name == "User":
            with domain_refusals():
                user_rules.check_user_create(
                    self._session(), g.account, user_state_of(resource), actor=scim_actor()
                )
        created = super().create(resource_type, resource)
        self._audit("create", resource_type, created.id, None, created)
        return created

    def create_users(
        self,
        user_type: ResourceType,
        resources: Sequence[Resource[Any]],
        *,
        budget: int | None = None,
        check: Callable[[Resource[Any]], Any] | None = None,
        accept: Callable[[Any], None] | None = None,
    ) -> list[Resource[Any] | Exception] | None:
        """The run of a Bulk full sync, under the same rules and audit as ``create``."""
        checker = user_rules.CreationChecker(self._session(), g.account, actor=scim_actor())

        def check_rules(resource: Resource[Any]) -> user_rules.UserState:
            state = user_state_of(resource)
            with domain_refusals():
                checker.check(state)
            return state

        results = super().create_users(
            user_type, resources, budget=budget, check=check_rules, accept=checker.accept
        )
        for created in results or ():
            if not isinstance(created, Exception):
                self._audit("create", user_type, created.id, None, created)
        return results

    def update(
        self,
        resource_type: ResourceType,
        resource: Resource[Any],
        *,
        expected_version: str | None = None,
    ) -> Resource[Any]:
        before = None
        if resource_type.name == "User":
            row = self._state_row(str(resource.id))
            before = user_rules.state_of(row)
            after = user_state_of(resource, current_status=row.status)
            with domain_refusals():
                user_rules.check_user_change(
                    self._session(), g.account, row.id, before, after, actor=scim_actor()
                )
        updated = super().update(resource_type, resource, expected_version=expected_version)
        self._audit("update", resource_type, updated.id, before, updated)
        return updated

    def delete(
        self,
        resource_type: ResourceType,
        resource_id: str,
        *,
        expected_version: str | None = None,
    ) -> None:
        if resource_type.name != "User":
            super().delete(resource_type, resource_id, expected_version=expected_version)
            self._audit("delete", resource_type, resource_id, None, None)
            return
        # One row read (not a whole SCIM resource): the version check of RFC 7644 §3.14.
        check_version(self._state_row(resource_id), expected_version)
        # The IdP's DELETE is final: deactivate and delete (anonymise) in one transaction.
        with domain_refusals():
            user_rules.delete_user(
                self._session(), g.account, resource_id, actor=scim_actor(), via_scim=True
            )

    def _audit(
        self, action: str, resource_type: ResourceType, target_id: Any, before: Any, after: Any
    ) -> None:
        def summary(value: Any) -> dict[str, Any] | None:
            if value is None:
                return None
            if isinstance(value, user_rules.UserState):
                return {"userType": value.user_type, "status": value.status, "email": value.email}
            return {
                "id": value.id,
                "userName": getattr(value, "user_name", None),
                "displayName": getattr(value, "display_name", None),
                "active": getattr(value, "active", None),
                "userType": getattr(value, "user_type", None),
            }

        record_audit(
            self._session(),
            g.account,
            actor=scim_actor(),
            action=f"{str(resource_type.name).lower()}.{action}",
            target_type=str(resource_type.name),
            target_id=str(target_id) if target_id else None,
            before=summary(before),
            after=summary(after),
        )

    def update_group_header(
        self, group_type: ResourceType, resource: Resource[Any], *, expected_version: str | None = None
    ) -> Resource[Any]:
        updated = super().update_group_header(group_type, resource, expected_version=expected_version)
        self._audit("update", group_type, updated.id, None, updated)
        return updated

    # Membership steps of the O(delta) group PATCH are audited like any other change.
    def add_members(
        self,
        group_type: ResourceType,
        group_id: str,
        member_ids: list[str],
        displays: Mapping[str, str] | None = None,
    ) -> list[str]:
        unknown = super().add_members(group_type, group_id, member_ids, displays)
        change: dict[str, Any] = {"added": member_ids[:1000], "count": len(member_ids)}
        if unknown:
            change["skipped_unknown"] = unknown[:1000]
        self._audit_members(group_id, change)
        return unknown

    def remove_members(self, group_type: ResourceType, group_id: str, member_ids: list[str]) -> None:
        super().remove_members(group_type, group_id, member_ids)
        self._audit_members(group_id, {"removed": member_ids[:1000], "count": len(member_ids)})

    def clear_members(self, group_type: ResourceType, group_id: str) -> None:
        super().clear_members(group_type, group_id)
        self._audit_members(group_id, {"cleared": True})

    def _audit_members(self, group_id: str, change: dict[str, Any]) -> None:
        record_audit(
            self._session(),
            g.account,
            actor=scim_actor(),
            action="group.members",
            target_type="Group",
            target_id=group_id,
            before=None,
            after=change,
        )
