"""The Groups page: every group (empty ones first), create, rename, members.

Writes go through the domain's group service (``domain.groups``), which writes with the
statements the SCIM door runs and audits with the UI as the door.
"""

from __future__ import annotations

from typing import Any

from flask import abort, g, redirect, render_template, request, url_for
from sqlalchemy import func, select

from admin_ui import blueprint
from admin_ui.common import actor, find_user_by_email, flash_done, flash_refusal, looks_like_email
from admin_ui.i18n import gettext
from admin_ui.security import current
from scim_server.domain import groups as group_service
from scim_server.domain.errors import DomainError, InvalidInput, RuleViolation
from scim_server.storage.models import Group, GroupMember

PAGE = 100
MAX_NAME = 200


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


def _name_refusal(exc: DomainError, name: str, target: str) -> None:
    if isinstance(exc, RuleViolation) and exc.rule == "group.name_taken":
        exc = InvalidInput(gettext("A group named %(name)s already exists.", name=name))
    flash_refusal(exc, target=target)


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
        created = group_service.create_group(g.db, current().account, name, actor=actor())
    except DomainError as exc:
        _name_refusal(exc, name, "new-group")
        return redirect(url_for("admin_ui.groups"))
    flash_done(gettext("Group %(name)s was created.", name=name), target=created)
    return redirect(url_for("admin_ui.groups"))


@blueprint.post("/groups/<group_id>/rename")
def rename_group(group_id: str) -> Any:
    _group_or_404(group_id)
    try:
        name = _name_field()
        group_service.rename_group(g.db, current().account, group_id, name, actor=actor())
    except DomainError as exc:
        _name_refusal(exc, request.form.get("display_name", "")[:MAX_NAME], group_id)
    else:
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
        group_service.add_member(g.db, current().account, group_id, user.id, actor=actor())
    except DomainError as exc:
        flash_refusal(exc, target="members")
        return redirect(back)
    flash_done(gettext("Member added."), target="members")
    return redirect(back)


def _membership_or_404(group: Group, member_id: str) -> Any:
    member = g.db.execute(
        select(GroupMember.member_id, GroupMember.member_type, GroupMember.display)
        .where(GroupMember.group_id == group.id, GroupMember.account_id == group.account_id,
               GroupMember.member_id == member_id)
    ).first()
    if member is None:
        abort(404)
    return member


@blueprint.get("/groups/<group_id>/members/<member_id>/remove")
def confirm_remove_member(group_id: str, member_id: str) -> Any:
    """Who leaves which group, before they do (an identity provider that manages the group
    may add them back at its next push)."""
    grp = _group_or_404(group_id)
    member = _membership_or_404(grp, member_id)
    return render_template("admin/member_remove.html", group=grp, member=member)


@blueprint.post("/groups/<group_id>/members/<member_id>/remove")
def remove_member(group_id: str, member_id: str) -> Any:
    grp = _group_or_404(group_id)
    member = _membership_or_404(grp, member_id)
    group_service.remove_member(g.db, current().account, group_id, member_id, actor=actor())
    flash_done(gettext("%(member)s was removed from %(group)s.",
                       member=member.display or member.member_id,
                       group=grp.display_name or grp.id), target="members")
    return redirect(url_for("admin_ui.group", group_id=group_id))
