"""The Audit log page: who did what through which door, in words.

Authors and targets are named ("Name (email)"; a deleted user as "deleted user" and a short id),
read in one query per page for users and one for groups; changes are shown attribute by
attribute ("Type: Viewer → Member") in the admin's language rather than as JSON. The filters
(user, door, action, date range) are in the query, on the log's indexes.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from flask import g, render_template, request

from admin_ui import blueprint
from admin_ui.common import find_user_by_email, looks_like_email
from admin_ui.i18n import UTC, format_number, gettext
from admin_ui.security import current
from scim_server.domain.actors import DOORS
from scim_server.domain.audit import REDACTED, Person, group_names, list_audit, people
from scim_server.storage.domain_tables import AuditEntry

PAGE_SIZE = 50

# The actions the doors write, with their names on the page (the filter's menu); an action not
# listed is shown by its code.
ACTIONS: dict[str, str] = {
    "user.create": "User created",
    "user.update": "User changed (SCIM)",
    "user.delete": "User deleted",
    "user.invite": "User invited",
    "user.accept_invitation": "Invitation accepted",
    "user.activate": "User activated",
    "user.deactivate": "User deactivated",
    "user.change_type": "Type changed",
    "user.bulk_change_type": "Type changed (bulk)",
    "user.bulk_change_status": "Status changed (bulk)",
    "user.update_profile": "Profile changed",
    "user.email_change_requested": "Email change requested",
    "user.email_changed": "Email changed",
    "group.create": "Group created",
    "group.update": "Group changed (SCIM)",
    "group.delete": "Group deleted",
    "group.rename": "Group renamed",
    "group.add_members": "Members added",
    "group.remove_members": "Members removed",
    "group.members": "Members changed (SCIM)",
    "token.issue": "Token issued",
    "token.revoke": "Token revoked",
    "token.reassign": "Token reassigned",
    "oauth_client.create": "OAuth client created",
    "oauth_client.revoke": "OAuth client revoked",
    "resource.create": "Resource created",
    "resource.transfer": "Ownership transferred",
    "resource.claim": "Resources claimed",
    "resource.enable": "Resource enabled",
    "resource.disable": "Resource disabled",
    "permission.grant": "Permission granted",
    "permission.revoke": "Permission revoked",
    "duty.set": "Duty schedule set",
    "duty.delete": "Duty schedule deleted",
    "duty.window_add": "Duty window added",
    "duty.window_remove": "Duty window removed",
    "duty.exception_add": "Duty exception added",
    "duty.exception_remove": "Duty exception removed",
    "account.settings": "Account settings changed",
    "account.update": "Plan changed",
    "account.rate_limit": "Rate limit changed",
    "account.suspended": "Account suspended",
    "account.active": "Account resumed",
}

# Attribute names of ``before``/``after`` (the domain's and SCIM's spellings) → their label.
ATTRIBUTES: dict[str, str] = {
    "user_type": "Type", "userType": "Type", "status": "Status", "active": "Active",
    "display_name": "Display name", "displayName": "Display name", "userName": "User name",
    "given_name": "Given name", "family_name": "Family name", "title": "Title",
    "phone": "Phone", "locale": "Locale", "email": "Email", "password": "Password",
    "notifications": "Email notifications", "added": "Added", "removed": "Removed",
    "cleared": "All members removed", "count": "Count", "skipped_unknown": "Unknown members",
    "owner": "Owner", "owners": "Owners", "resources": "Resources", "level": "Level",
    "principal_type": "Kind", "principal_id": "Holder", "kind": "Kind", "name": "Name",
    "user_id": "Holder", "enabled": "Enabled", "domains": "Email domains",
    "guest_allowlist": "Guests allowed from", "guest_denylist": "Guests refused from",
    "default_user_type": "Default type", "plan": "Plan", "seats_limit": "Seats",
    "operators_limit": "Operators", "per_second": "Requests per second", "burst": "Burst",
    "window": "Duty window", "exception": "Duty exception", "time_zone": "Time zone",
}
# Attributes whose values are words of the UI (translated), not names or ids.
WORD_VALUES = frozenset({"user_type", "userType", "status", "default_user_type", "kind",
                         "principal_type", "level"})
HIDDEN = frozenset({"id"})
USER_ID = re.compile(r"^[0-9a-f]{32}$")
ACTION_CODE = re.compile(r"^[a-z_]+(\.[a-z0-9_]+)+$")
SHOWN_ITEMS = 10
MISSING = object()


@blueprint.get("/audit")
def audit() -> Any:
    args = request.args
    problems: list[str] = []
    invalid = gettext("That request is not valid.")
    door = args.get("door") or ""
    if door and door not in DOORS:
        problems.append(f"{invalid} ({door[:20]})")
        door = ""
    action = (args.get("action") or "")[:60]
    if action and not ACTION_CODE.match(action):
        problems.append(f"{invalid} ({action[:20]})")
        action = ""
    email = (args.get("user") or "").strip()[:400]
    user_id = (args.get("user_id") or "")[:64]
    if email:
        found = find_user_by_email(email) if looks_like_email(email) else None
        if found is None:
            problems.append(gettext("No user with that email."))
            user_id = ""
        else:
            user_id = found.id
    day_from, since = _day(args.get("from"), problems)
    day_to, until = _day(args.get("to"), problems, next_day=True)
    if since and until and since >= until:
        problems.append(gettext("The start date is after the end date."))
        day_from = day_to = ""
        since = until = None
    try:
        before_id = int(args["before"]) if args.get("before") else None
    except ValueError:
        before_id = None
    entries = list_audit(
        g.db, current().account, limit=PAGE_SIZE + 1, before_id=before_id,
        target_type="user" if user_id else None, target_id=user_id or None,
        action=action or None, door=door or None, since=since, until=until)
    next_before = entries[PAGE_SIZE - 1].id if len(entries) > PAGE_SIZE else None
    entries = entries[:PAGE_SIZE]
    names = _Names(entries)
    filters = {"door": door, "action": action, "user": email, "from": day_from, "to": day_to,
               "user_id": user_id if not email else ""}
    rows = [{
        "entry": e,
        "who": names.person(e.actor_user_id) if e.actor_user_id else "—",
        "action": gettext(ACTIONS[e.action]) if e.action in ACTIONS else None,
        "target": names.target(e),
        "changes": readable_changes(e.before, e.after, names),
    } for e in entries]
    return render_template(
        "admin/audit.html", rows=rows, filters=filters, doors=DOORS, problems=problems,
        actions=sorted(((code, gettext(label)) for code, label in ACTIONS.items()),
                       key=lambda item: item[1].lower()),
        next_before=next_before,
        older={k: v for k, v in filters.items() if v} | {"before": next_before},
    )


def _day(value: str | None, problems: list[str], *,
         next_day: bool = False) -> tuple[str, dt.datetime | None]:
    """A date of the filter (YYYY-MM-DD, a day in the admin's zone) → (as typed, its start in
    UTC; with ``next_day`` the start of the next day, the range being end-exclusive)."""
    text = (value or "").strip()
    if not text:
        return "", None
    try:
        day = dt.date.fromisoformat(text) if len(text) == 10 else None
    except ValueError:
        day = None
    if day is None:
        problems.append(gettext("Enter a date as YYYY-MM-DD."))
        return "", None
    if next_day:
        day += dt.timedelta(days=1)
    start = dt.datetime.combine(day, dt.time(), tzinfo=g.get("zone") or UTC)
    return text, start.astimezone(dt.UTC)


class _Names:
    """The names of the people and groups a page of entries mentions, read at once."""

    def __init__(self, entries: list[AuditEntry]) -> None:
        account = current().account
        user_ids: set[str] = set()
        group_ids: set[str] = set()
        for e in entries:
            if e.actor_user_id:
                user_ids.add(e.actor_user_id)
            if e.target_id and e.target_type == "user":
                user_ids.add(e.target_id)
            elif e.target_id and e.target_type == "group":
                group_ids.add(e.target_id)
            user_ids.update(_ids_in(e.before))
            user_ids.update(_ids_in(e.after))
        self.people: dict[str, Person] = people(g.db, account, user_ids)
        self.groups = group_names(g.db, account, group_ids)

    def person(self, user_id: str) -> str:
        found = self.people.get(user_id)
        if found is None:
            return gettext("unknown user %(id)s", id=user_id[:8])
        if found.deleted:
            return gettext("deleted user %(id)s", id=user_id[:8])
        if found.display_name and found.email and found.display_name != found.email:
            return f"{found.display_name} ({found.email})"
        return found.display_name or found.email or user_id[:8]

    def target(self, entry: AuditEntry) -> str:
        if not entry.target_id:
            return gettext(entry.target_type)
        if entry.target_type == "user":
            return self.person(entry.target_id)
        if entry.target_type == "group" and entry.target_id in self.groups:
            return gettext("Group %(name)s", name=self.groups[entry.target_id])
        return f"{gettext(entry.target_type)} {entry.target_id[:8]}"

    def value(self, value: str) -> str:
        return self.person(value) if value in self.people else value


def _ids_in(change: Any) -> set[str]:
    """The user ids a ``before``/``after`` mentions (owners, members added or removed)."""
    if isinstance(change, dict):
        return set().union(*(_ids_in(v) for v in change.values())) if change else set()
    if isinstance(change, list):
        return set().union(*(_ids_in(v) for v in change[:SHOWN_ITEMS])) if change else set()
    return {change} if isinstance(change, str) and USER_ID.match(change) else set()


def readable_changes(before: Any, after: Any, names: _Names) -> list[str]:
    """One line per changed attribute: "Type: Viewer → Member", "Display name: changed" (a
    personal value is not kept), "Added: Ann (ann@x.io)"."""
    old_values = before if isinstance(before, dict) else {}
    new_values = after if isinstance(after, dict) else {}
    lines = []
    for key in dict.fromkeys([*old_values, *new_values]):
        if key in HIDDEN:
            continue
        old, new = old_values.get(key, MISSING), new_values.get(key, MISSING)
        if old == new:
            continue
        if REDACTED in (old, new):
            text = gettext("changed")
        elif old is MISSING:
            text = _shown(key, new, names)
        else:
            text = f"{_shown(key, old, names)} → {_shown(key, new, names)}"
        label = gettext(ATTRIBUTES.get(key, key.replace("_", " ").capitalize()))
        lines.append(gettext("%(label)s: %(value)s", label=label, value=text))
    return lines


def _shown(key: str, value: Any, names: _Names) -> str:
    if value is MISSING or value is None:
        return "—"
    if isinstance(value, bool):
        return gettext("yes") if value else gettext("no")
    if isinstance(value, int | float):
        return format_number(value)
    if isinstance(value, str):
        return gettext(value) if key in WORD_VALUES else names.value(value)
    if isinstance(value, list):
        shown = ", ".join(_shown(key, v, names) for v in value[:SHOWN_ITEMS])
        more = len(value) - SHOWN_ITEMS
        return shown + (" " + gettext("and %(n)s more", n=more) if more > 0 else "")
    if isinstance(value, dict):
        return "; ".join(
            gettext("%(label)s: %(value)s",
                    label=gettext(ATTRIBUTES.get(k, str(k).replace("_", " ").capitalize())),
                    value=_shown(k, v, names))
            for k, v in value.items())
    return str(value)
