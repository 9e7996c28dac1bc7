"""The Groups page: every group (empty ones first), search, create, rename, delete (confirmed
first), members paged, a member added by searching a name or an email; groups an identity
provider manages are marked, since its next push overwrites changes made here.

Writes go through the domain's group service (``domain.groups``), which writes with the
statements the SCIM door runs and audits with the UI as the door.
"""

from __future__ import annotations

from typing import Any

from flask import abort, g, redirect, render_template, request, url_for
from sqlalchemy import select

from admin_ui import blueprint
from admin_ui.common import actor, find_user_by_email, flash_done, flash_refusal, looks_like_email
from admin_ui.i18n import gettext
from admin_ui.security import current
from scim_server.domain import groups as group_service
from scim_server.domain.directory import list_users
from scim_server.domain.errors import DomainError, InvalidInput, RuleViolation
from scim_server.storage.models import Group, GroupMember, User

PAGE = 100
MEMBERS_PAGE = 50
CANDIDATES = 10
MAX_NAME = 200


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


def _offset() -> int:
    try:
        return max(0, min(int(request.args.get("offset") or 0), 10_000_000))
    except ValueError:
        return 0


def _search() -> str:
    return (request.args.get("q") or "").strip()[:MAX_NAME]


@blueprint.get("/groups")
def groups() -> Any:
    offset, q = _offset(), _search()
    page = group_service.list_groups(g.db, current().account, q=q or None, limit=PAGE,
                                     offset=offset, empty_first=True)
    return render_template("admin/groups.html", rows=page.groups, total=page.total,
                           offset=offset, size=PAGE, q=q,
                           shown_targets=["new-group", *[r.id for r in page.groups]])


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
    account = current().account
    offset, q = _offset(), _search()
    row = group_service.get_group(g.db, account, group_id)
    members = group_service.list_members(g.db, account, group_id, limit=MEMBERS_PAGE,
                                         offset=offset, q=q or None)
    find = (request.args.get("find") or "").strip()[:MAX_NAME]
    candidates: list[Any] = []
    if find:
        # Who the search names, and whether each is in the group already (one read).
        found = list_users(g.db, account, q=find, limit=CANDIDATES).users
        inside = set(g.db.scalars(select(GroupMember.member_id).where(
            GroupMember.account_id == account.id, GroupMember.group_id == group_id,
            GroupMember.member_id.in_([u.id for u in found]))))
        candidates = [(u, u.id in inside) for u in found]
    return render_template("admin/group.html", group=grp, row=row, members=members.members,
                           members_total=members.total, offset=offset, size=MEMBERS_PAGE, q=q,
                           find=find, candidates=candidates, shown_targets=["members"])


@blueprint.post("/groups/<group_id>/members")
def add_member(group_id: str) -> Any:
    _group_or_404(group_id)
    back = url_for("admin_ui.group", group_id=group_id)
    user_id = (request.form.get("user_id") or "").strip()
    email = (request.form.get("email") or "").strip()
    user = None
    if user_id:
        user = g.db.get(User, user_id[:64])
        if user is not None and (user.account_id != current().account.id
                                 or user.status == "deleted"):
            user = None
    elif looks_like_email(email):
        user = find_user_by_email(email)
    if user is None:
        flash_refusal(InvalidInput(gettext("No user with that email.") if email and not user_id
                                   else gettext("No such user.")), target="members")
        return redirect(back)
    try:
        added = group_service.add_members(g.db, current().account, group_id, [user.id],
                                          actor=actor())
    except DomainError as exc:
        flash_refusal(exc, target="members")
        return redirect(back)
    # Nothing changed (and nothing was audited) when they were in the group already.
    message = ("%(member)s was added to %(group)s." if added
               else "%(member)s is already a member of %(group)s.")
    flash_done(gettext(message, member=user.display_name or user.email or user.id,
                       group=_group_or_404(group_id).display_name or group_id),
               target="members")
    return redirect(back)


@blueprint.get("/groups/<group_id>/delete")
def confirm_delete_group(group_id: str) -> Any:
    """What deleting the group does, before it does: its name, its members, and whether an
    identity provider manages it."""
    _group_or_404(group_id)
    row = group_service.get_group(g.db, current().account, group_id)
    return render_template("admin/group_delete.html", row=row)


@blueprint.post("/groups/<group_id>/delete")
def delete_group(group_id: str) -> Any:
    grp = _group_or_404(group_id)
    name = grp.display_name or grp.id
    try:
        group_service.delete_group(g.db, current().account, group_id, actor=actor())
    except DomainError as exc:
        flash_refusal(exc, target="new-group")
        return redirect(url_for("admin_ui.groups"))
    flash_done(gettext("Group %(name)s was deleted.", name=name), target="new-group")
    return redirect(url_for("admin_ui.groups"))


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
    """Who leaves which group, before they do; for a group an identity provider manages, that
    its next push may add them back."""
    grp = _group_or_404(group_id)
    member = _membership_or_404(grp, member_id)
    managed = group_service.get_group(g.db, current().account, group_id).managed_by_identity_provider
    return render_template("admin/member_remove.html", group=grp, member=member, managed=managed)


@blueprint.post("/groups/<group_id>/members/<member_id>/remove")
def remove_member(group_id: str, member_id: str) -> Any:
    grp = _group_or_404(group_id)
    member = _membership_or_404(grp, member_id)
    group_service.remove_member(g.db, current().account, group_id, member_id, actor=actor())
    flash_done(gettext("%(member)s was removed from %(group)s.",
                       member=member.display or member.member_id,
                       group=grp.display_name or grp.id), target="members")
    return redirect(url_for("admin_ui.group", group_id=group_id))
