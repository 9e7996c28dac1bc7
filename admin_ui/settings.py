"""The account's settings page: its Admins' display name, domains, guest allowlist and
denylist and default type of SCIM creates, with the plan and its usage read only."""

from __future__ import annotations

from typing import Any

from flask import g, redirect, render_template, request, url_for

from admin_ui import blueprint
from admin_ui.common import actor, flash_done, flash_refusal
from admin_ui.i18n import gettext
from admin_ui.security import current
from scim_server.domain.accounts import (
    SCIM_DEFAULT_TYPES,
    account_settings,
    update_account_settings,
)
from scim_server.domain.errors import DomainError


def _lines(field: str) -> list[str]:
    return [line.strip() for line in (request.form.get(field) or "").splitlines() if line.strip()]


@blueprint.get("/settings")
def settings() -> Any:
    return render_template("admin/settings.html", settings=account_settings(current().account),
                           types=SCIM_DEFAULT_TYPES)


@blueprint.post("/settings")
def save_settings() -> Any:
    allowlist = _lines("guest_allowlist")
    try:
        update_account_settings(
            g.db, current().account, actor=actor(),
            display_name=request.form.get("display_name"),
            domains=_lines("domains"),
            # An empty allowlist admits every domain that is not denied.
            guest_allowlist=allowlist or None,
            guest_denylist=_lines("guest_denylist"),
            default_user_type=request.form.get("default_user_type") or "Member")
    except DomainError as exc:
        flash_refusal(exc, target="settings")
    else:
        flash_done(gettext("Settings saved."), target="settings")
    return redirect(url_for("admin_ui.settings"))
