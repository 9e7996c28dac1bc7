"""Helpers shared by the admin UI's views: the actor, refusals shown where the admin acted, and
the return address of a row action."""

from __future__ import annotations

from typing import Any

from flask import flash, g, request, url_for

from admin_ui.i18n import domain_text, gettext
from admin_ui.security import current
from scim_server.domain.actors import Actor
from scim_server.domain.directory import list_users
from scim_server.domain.documents import comparison_key
from scim_server.domain.errors import DomainError, RuleViolation, Severity
from scim_server.domain.mail import Mailer, mailer_for
from scim_server.storage.models import User

MAX_TEXT = 400


def actor() -> Actor:
    """The audit log's author of a change made here: door ``ui``, the signed-in admin."""
    return Actor(door="ui", user_id=current().admin.id, client="admin-ui")


def mailer() -> Mailer:
    from flask import current_app

    return mailer_for(current_app.config["SCIM_SETTINGS"].smtp_url)


def mail_configured() -> bool:
    """Whether links really go out by mail; without SMTP they only reach the server log
    (``domain.mail``), and the pages that send them say so."""
    from flask import current_app

    return bool(current_app.config["SCIM_SETTINGS"].smtp_url)


def public_link(endpoint: str, **values: Any) -> str:
    """A link for an email: on the configured base URL, not the request's Host header, which
    a client can set to anything."""
    from flask import current_app

    base = current_app.config["SCIM_SETTINGS"].base_url.rstrip("/")
    return base + url_for(endpoint, **values)


def refusal(exc: DomainError) -> dict[str, Any]:
    """What a template shows for a refusal: the domain's sentence in the admin's language,
    and the rule id (if any), which ``_notice.html`` shows after it for support."""
    rule = exc.rule if isinstance(exc, RuleViolation) else None
    return {"text": refusal_text(exc), "rule": rule, "title": gettext("Refused")}


def refusal_text(exc: DomainError) -> str:
    return domain_text(exc.template, exc.params)


def flash_refusal(exc: DomainError, *, target: str) -> None:
    """Show the refusal next to ``target`` (a row id or a panel name) on the next page.

    The transaction is rolled back first: a refused change must leave nothing behind, even
    though the redirect that follows is a success status (which the app would commit)."""
    g.db.rollback()
    flash({**refusal(exc), "target": target}, "error")


def flash_done(text: str, *, target: str | None = None) -> None:
    flash({"text": text, "target": target}, "info")


def status_for(exc: DomainError) -> int:
    if isinstance(exc, RuleViolation):
        return {Severity.INVALID: 400, Severity.FORBIDDEN: 403,
                Severity.CONFLICT: 409}.get(exc.severity, 409)
    return 400


def users_page(target: str | None) -> str | None:
    """``target`` if it is a page of the users list (where a row action returns), else None.

    Every ``next`` from a query string or a form goes through here, whether it ends in a
    redirect or in a link (the Cancel button): a crafted link must not lead off the site."""
    if target and target.startswith("/admin/users") and not target.startswith("//"):
        return target
    return None


def back_to_users() -> str:
    """The users list the admin acted from (its filters and page), or the plain list."""
    return users_page(request.form.get("next")) or url_for("admin_ui.users")


def text_field(name: str, *, required: bool = False, limit: int = MAX_TEXT) -> str | None:
    """A trimmed form value; ``ValueError`` carries the message for the form."""
    value = (request.form.get(name) or "").strip()
    if len(value) > limit:
        raise ValueError(gettext("%(field)s is too long (at most %(n)s characters).",
                                 field=name, n=limit))
    if required and not value:
        raise ValueError(gettext("That request is not valid."))
    return value or None


def looks_like_email(value: str | None) -> bool:
    if not value or len(value) > MAX_TEXT or " " in value:
        return False
    local, _, domain = value.rpartition("@")
    return bool(local) and "." in domain and not domain.startswith(".")


def find_user_by_email(email: str) -> User | None:
    """The account's user with exactly this email, through the same list the Users page reads."""
    key = comparison_key(email.strip())
    page = list_users(g.db, current().account, q=key, limit=200)
    return next((u for u in page.users if u.email == key or u.user_name_key == key), None)


def user_label(user: User) -> str:
    """A user as messages and lists name them: the display name with the address, so that two
    people of one name are told apart."""
    address = user.email or user.user_name
    if user.display_name and address and address != user.display_name:
        return f"{user.display_name} ({address})"
    return user.display_name or address or user.id
