"""The Groups page: every group (empty ones first), create, rename, members.

Groups carry no account rule, so there is no domain service for them: writes go through the
same SQL storage the SCIM door uses (``SqlScimStorage``: uniqueness of names per account,
O(delta) member changes, versions for ETags), and each one is audited with the UI as the door.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import abort, current_app, g, redirect, render_template, request, url_for
from scim2_models import SCIMException
from sqlalchemy import func, select

from admin_ui import blueprint
from admin_ui.common import actor, find_user_by_email, flash_done, flash_refusal, looks_like_email
from admin_ui.i18n import gettext
from admin_ui.security import current
from scim_server.domain.audit import record_audit
from scim_server.domain.errors import InvalidInput
from scim_server.storage.models import Group, GroupMember
from scim_server.storage.scim_storage import SqlScimStorage

PAGE = 100
MAX_NAME = 200


@contextmanager
def _group_storage() -> Iterator[tuple[SqlScimStorage, Any, Any]]:
    provider = current_app.extensions["scim_provider"]
    account_id = current().account.id
    storage = SqlScimStorage(session=lambda: g.db, account_id=lambda: account_id,
                             provider=provider)
    group_type = next(rt for rt in provider.resource_types if rt.name == "Group")
    # scim2-models validates against the provider's schemas inside this block.
    with provider:
        yield storage, group_type, provider.model_for(group_type)


def _list_groups(offset: int) -> tuple[int, list[tuple[str, str | None, int]]]:
    """(total, rows of id, name, member count): empty groups first, then by name.

    A read model the hub does not have yet (its card lists only the first empty groups); one
    grouped query over ``group_members``' primary key, paged."""
    account_id = current().account.id
    count = (
        select(GroupMember.group_id, func.count().label("n"))
        .where(GroupMember.account_id == account_id)
        .group_by(GroupMember.group_id)
        .subquery()
    )
    members = func.coalesce(count.c.n, 0)
    rows = g.db.execute(
        select(Group.id, Group.display_name, members)
        .outerjoin(count, count.c.group_id == Group.id)
        .where(Group.account_id == account_id)
        .order_by((members > 0), Group.display_name_key, Group.id)
        .limit(PAGE)
        .offset(offset)
    ).all()
    total = g.db.scalar(select(func.count()).select_from(Group)
                        .where(Group.account_id == account_id)) or 0
    return int(total), [(r[0], r[1], int(r[2])) for r in rows]


def _name_field() -> str:
    name = (request.form.get("display_name") or "").strip()
    if not name:
        raise InvalidInput(gettext("Enter a group name."), field="display_name")
    if len(name) > MAX_NAME:
        raise InvalidInput(gettext("%(field)s is too long (at most %(n)s characters).",
                                   field=gettext("Group name"), n=MAX_NAME))
    return name


def _scim_refusal(exc: SCIMException, name: str, target: str) -> None:
    if exc.scim_type == "uniqueness":
        message = gettext("A group named %(name)s already exists.", name=name)
    else:
        message = exc.detail or gettext("That request is not valid.")
    flash_refusal(InvalidInput(str(message)), target=target)


@blueprint.get("/groups")
def groups() -> Any:
    try:
        offset = max(0, int(request.args.get("offset") or 0))
    except ValueError:
        offset = 0
    total, rows = _list_groups(offset)
    return render_template("admin/groups.html", rows=rows, total=total, offset=offset,
                           size=PAGE, shown_targets=["new-group", *[r[0] for r in rows]])


@blueprint.post("/groups")
def create_group() -> Any:
    try:
        name = _name_field()
    except InvalidInput as exc:
        flash_refusal(exc, target="new-group")
        return redirect(url_for("admin_ui.groups"))
    try:
        with _group_storage() as (storage, group_type, model):
            created = storage.create(group_type, model(display_name=name))
    except SCIMException as exc:
        _scim_refusal(exc, name, "new-group")
        return redirect(url_for("admin_ui.groups"))
    record_audit(g.db, current().account, actor=actor(), action="group.create",
                 target_type="group", target_id=created.id, before=None,
                 after={"members": 0})
    flash_done(gettext("Group %(name)s was created.", name=name), target=created.id)
    return redirect(url_for("admin_ui.groups"))


@blueprint.post("/groups/<group_id>/rename")
def rename_group(group_id: str) -> Any:
    _group_or_404(group_id)
    try:
        name = _name_field()
        with _group_storage() as (storage, group_type, _model):
            # The header only: members stay untouched and unread, whatever the group's size.
            group = storage.get_group_header(group_type, group_id)
            group.display_name = name
            storage.update_group_header(group_type, group)
    except InvalidInput as exc:
        flash_refusal(exc, target=group_id)
    except SCIMException as exc:
        _scim_refusal(exc, request.form.get("display_name", "")[:MAX_NAME], group_id)
    else:
        record_audit(g.db, current().account, actor=actor(), action="group.rename",
                     target_type="group", target_id=group_id, before=None, after=None)
        flash_done(gettext("The group was renamed."), target=group_id)
    if request.form.get("back") == "group":
        return redirect(url_for("admin_ui.group", group_id=group_id))
    return redirect(url_for("admin_ui.groups"))


def _group_or_404(group_id: str) -> Group:
    group = g.db.get(Group, group_id)
    # Another account's group is "not found", exactly like an id that does not exist.
    if group is None or group.account_id != current().account.id:
        abort(404)
    return group


@blueprint.get("/groups/<group_id>")
def group(group_id: str) -> Any:
    grp = _group_or_404(group_id)
    members = g.db.execute(
        select(GroupMember.member_id, GroupMember.member_type, GroupMember.display)
        .where(GroupMember.group_id == grp.id, GroupMember.account_id == grp.account_id)
        .order_by(GroupMember.display, GroupMember.member_id)
        .limit(500)
    ).all()
    return render_template("admin/group.html", group=grp, members=members,
                           shown_targets=["members"])


@blueprint.post("/groups/<group_id>/members")
def add_member(group_id: str) -> Any:
    _group_or_404(group_id)
    email = (request.form.get("email") or "").strip()
    user = find_user_by_email(email) if looks_like_email(email) else None
    back = url_for("admin_ui.group", group_id=group_id)
    if user is None:
        flash_refusal(InvalidInput(gettext("No user with that email.")), target="members")
        return redirect(back)
    try:
        with _group_storage() as (storage, group_type, _model):
            storage.add_members(group_type, group_id, [user.id])
    except SCIMException as exc:
        _scim_refusal(exc, "", "members")
        return redirect(back)
    record_audit(g.db, current().account, actor=actor(), action="group.add_members",
                 target_type="group", target_id=group_id, before=None,
                 after={"added": [user.id]})
    flash_done(gettext("Member added."), target="members")
    return redirect(back)


@blueprint.post("/groups/<group_id>/members/<member_id>/remove")
def remove_member(group_id: str, member_id: str) -> Any:
    _group_or_404(group_id)
    with _group_storage() as (storage, group_type, _model):
        storage.remove_members(group_type, group_id, [member_id])
    record_audit(g.db, current().account, actor=actor(), action="group.remove_members",
                 target_type="group", target_id=group_id, before=None,
                 after={"removed": [member_id]})
    flash_done(gettext("Member removed."), target="members")
    return redirect(url_for("admin_ui.group", group_id=group_id))
