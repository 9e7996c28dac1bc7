"""The SCIM door's link to the domain: every User write passes the account rules first.

This sits in the SCIM layer, between scim2-server's handler and the SQL storage: the storage
stays rule-free, the domain stays protocol-free, and SCIM, the admin API and the admin UI all
refuse the same changes with the same rule ids. The storage calls three steps of each user
write: ``judge`` (the rules, before the row is written), ``written`` (lifecycle effects and
the audit) and ``settle`` (the account's counts, in one conditional statement, last).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from flask import g
from scim2_models import Resource, ResourceType

from scim_server.domain import events
from scim_server.domain import users as user_rules
from scim_server.domain.actors import Actor
from scim_server.domain.audit import record_audit, record_audits
from scim_server.domain.errors import DomainError
from scim_server.scim.service import scim_exception_of
from scim_server.storage.members import MemberChange
from scim_server.storage.records import CountShift
from scim_server.storage.scim_storage import ReadState, SqlScimStorage

PENDING = "scim_pending_events"


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
    if email is None:
        # Without emails the userName is the address the guest domain rules judge: Okta and
        # Entra ID send an email there, and leaving emails out must not slip past the rules.
        user_name = str(getattr(resource, "user_name", None) or "")
        email = user_name if "@" in user_name else None
    return user_rules.UserState(user_type=str(user_type), status=status, email=email)


def _state_read(before: ReadState) -> user_rules.UserState:
    return user_rules.UserState(user_type=before.user_type or "Member",
                                status=before.status or "active", email=before.email)


def scim_actor() -> Actor:
    principal = g.scim_principal
    return Actor(
        door="scim",
        user_id=principal.user_id,
        credential_id=principal.credential_id,
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


def _summary(value: Any) -> dict[str, Any] | None:
    """What the audit keeps of a resource before or after a change (personal data scrubbed)."""
    if value is None:
        return None
    if isinstance(value, ReadState):
        if value.status is None:
            return None
        return {"userType": value.user_type, "status": value.status}
    return {
        "id": value.id,
        "userName": getattr(value, "user_name", None),
        "displayName": getattr(value, "display_name", None),
        "active": getattr(value, "active", None),
        "userType": getattr(value, "user_type", None),
    }


def _default_type(resource: Resource[Any]) -> None:
    """A user created without a type gets the account's default (its Admins choose it), shown
    and filtered on like a type that was sent."""
    if "user_type" in type(resource).model_fields and resource.user_type is None:  # type: ignore[attr-defined]
        resource.user_type = g.account.default_user_type  # type: ignore[attr-defined]


class RuledScimStorage(SqlScimStorage):
    """SqlScimStorage whose User writes are checked by the domain and audited."""

    def create(self, resource_type: ResourceType, resource: Resource[Any]) -> Resource[Any]:
        _default_type(resource)
        return super().create(resource_type, resource)

    def judge(self, before: ReadState | None, resource_id: str | None, resource: Resource[Any],
              fields: dict[str, Any]) -> CountShift:
        with domain_refusals():
            if before is None:
                return user_rules.plan_user_create(g.account, user_state_of(resource))
            after = user_state_of(resource, current_status=before.status)
            if fields["email"] != before.email:  # the primary email, as the column keeps it
                user_rules.check_email_free(self.session, g.account, resource_id, fields["email"])
            return user_rules.plan_user_change(
                self.session, g.account, str(resource_id), _state_read(before), after,
                actor=scim_actor(),
            )

    def written(self, action: str, kind: str, resource_id: str, before: ReadState | None,
                after: Resource[Any] | None, *, document: dict[str, Any] | None = None,
                status: str | None = None) -> None:
        if kind == "User" and before is not None and after is not None:
            user_rules.apply_user_change(
                self.session, g.account, resource_id, _state_read(before),
                user_state_of(after, current_status=before.status),
            )
        self._audit(action, kind, resource_id, before, after)
        if action == "create":
            changes = [events.created(kind, resource_id, document)]
        elif action == "delete":
            changes = [events.deleted(kind, resource_id)]
        else:
            assert before is not None
            changes = events.modified(
                kind, resource_id,
                events.changed_attributes(before.document, document) if document else (),
                replaced=bool(g.get("scim_replacing")),
            )
            if kind == "User":
                changes += events.status_changed(resource_id, before.status, status)
        self._pending().extend(changes)

    def members_moved(self, group_id: str, added: Sequence[str], removed: Sequence[str]) -> None:
        self._pending().extend(events.members_changed(group_id, added=added, removed=removed))

    # A write's events wait for its last statement (``settle``), which takes their positions
    # with the counts: they cost the write no round trip of their own. Kept on the request's
    # session (this storage serves every request), and dropped when an operation begins, so
    # a failed Bulk operation's never reach the next one.
    def _pending(self) -> list[events.Change]:
        return self.session.info.setdefault(PENDING, [])  # type: ignore[no-any-return]

    def operation(self) -> Any:
        self.session.info.pop(PENDING, None)
        return super().operation()

    def settle(self, shift: CountShift) -> None:
        changes = self.session.info.pop(PENDING, None) or []
        rows = events.event_rows(self.session, actor=scim_actor(), changes=changes)
        with domain_refusals():
            user_rules.settle_counts(self.session, g.account, shift, rows)

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
        checker = user_rules.CreationChecker(self.session, g.account, actor=scim_actor())
        for resource in resources:
            _default_type(resource)

        def check_rules(resource: Resource[Any]) -> user_rules.UserState:
            state = user_state_of(resource)
            with domain_refusals():
                checker.check(state)
            return state

        return super().create_users(
            user_type, resources, budget=budget, check=check_rules, accept=checker.accept
        )

    def written_run(self, created: Sequence[Resource[Any]],
                    stored: Sequence[tuple[dict[str, Any], str]]) -> None:
        actor = scim_actor()
        record_audits(self.session, g.account, actor=actor, action="user.create",
                      target_type="user",
                      changes=[(str(r.id), None, _summary(r)) for r in created])
        # The run's events in one statement too (with its counts, ``settle``), in the order
        # of the Bulk's operations.
        self._pending().extend(
            events.created("User", str(r.id), document)
            for r, (document, _) in zip(created, stored, strict=True)
        )

    def delete(
        self,
        resource_type: ResourceType,
        resource_id: str,
        *,
        expected_version: str | None = None,
    ) -> None:
        if resource_type.name != "User":
            super().delete(resource_type, resource_id, expected_version=expected_version)
            return
        # The row, held at the version this request read (RFC 7644 §3.14), then the IdP's
        # DELETE, which is final: deactivate and delete (anonymise) in one transaction.
        before = self.read_state("User", resource_id)
        self.records.lock("User", resource_id, version=self._expected(before, expected_version))
        with domain_refusals():
            user_rules.delete_user(
                self.session, g.account, resource_id, actor=scim_actor(), via_scim=True
            )

    def _audit(
        self, action: str, kind: str, target_id: Any, before: Any, after: Any
    ) -> None:
        record_audit(
            self.session,
            g.account,
            actor=scim_actor(),
            action=f"{kind.lower()}.{action}",
            target_type=kind.lower(),
            target_id=str(target_id) if target_id else None,
            before=_summary(before),
            after=_summary(after),
        )

    def members_changed(self, group_id: str, steps: Sequence[MemberChange],
                        unknown: Sequence[Sequence[str]]) -> None:
        """Membership steps of the O(delta) group PATCH are audited like any other change."""
        for step, skipped in zip(steps, unknown, strict=True):
            if step.kind == "add":
                change: dict[str, Any] = {"added": step.ids[:1000], "count": len(step.ids)}
                if skipped:
                    change["skipped_unknown"] = list(skipped)[:1000]
            elif step.kind == "remove":
                change = {"removed": step.ids[:1000], "count": len(step.ids)}
            else:
                change = {"cleared": True}
            record_audit(self.session, g.account, actor=scim_actor(), action="group.members",
                         target_type="group", target_id=group_id, before=None, after=change)
