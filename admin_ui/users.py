"""The Users page: search, filters, sort, keyset paging, the row menu and the bulk panel.

Every action calls the domain service the admin API calls (``scim_server.domain.users``); a
refusal comes back as the rule's sentence next to the row, form or panel the admin used.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import abort, g, redirect, render_template, request, url_for

from admin_ui import blueprint
from admin_ui.common import (
    actor,
    back_to_users,
    flash_done,
    flash_refusal,
    looks_like_email,
    mail_configured,
    mailer,
    public_link,
    refusal,
    refusal_text,
    status_for,
    text_field,
    user_label,
    users_page,
)
from admin_ui.i18n import gettext
from admin_ui.security import current
from scim_server.domain import users as domain
from scim_server.domain.directory import count_users, list_users
from scim_server.domain.documents import comparison_key
from scim_server.domain.errors import DomainError, InvalidInput, NotFound, RuleViolation
from scim_server.domain.resources import deactivation_effects
from scim_server.storage.models import User

PAGE_SIZES = (25, 50, 100, 200)
DEFAULT_PAGE_SIZE = 50
# The UI's sort keys → the directory's (sort, order). The sortable columns link to these.
SORTS = {
    "name_asc": ("name", "asc"),
    "name_desc": ("name", "desc"),
    "type_asc": ("type", "asc"),
    "type_desc": ("type", "desc"),
    "status_asc": ("status", "asc"),
    "status_desc": ("status", "desc"),
    "activity_desc": ("last_activity", "desc"),
    "activity_asc": ("last_activity", "asc"),
}
# Sort keys of earlier links (bookmarks), still understood.
OLD_SORTS = {"name": "name_asc"}
SORT_LABELS = {
    "activity_desc": "Most recent activity first",
    "activity_asc": "Least recent activity first",
    "name_asc": "Name A–Z",
    "name_desc": "Name Z–A",
    "type_asc": "Type (Admin first)",
    "type_desc": "Type (Guest first)",
    "status_asc": "Status (active first)",
    "status_desc": "Status (inactive first)",
}
# Column → the sort a first click asks for (activity: the most recent first, as the seed).
COLUMN_SORTS = {"name": "name_asc", "type": "type_asc", "status": "status_asc",
                "activity": "activity_desc"}


def _user_or_404(user_id: str) -> Any:
    # Another account's user id is "not found", exactly like an id that does not exist.
    try:
        return domain.get_user(g.db, current().account, user_id)
    except NotFound:
        abort(404)


def _user_filter(source: Any, problems: list[str]) -> dict[str, Any]:
    """The list's filter and sort from a query string (or the bulk form), each bad value
    replaced by its default with a message."""
    q = (source.get("q") or "").strip()[:200]
    user_type = source.get("type") or ""
    status = source.get("status") or ""
    sort_key = OLD_SORTS.get(source.get("sort") or "", source.get("sort") or "activity_desc")
    if user_type and user_type not in domain.USER_TYPES:
        problems.append(gettext("That request is not valid.") + f" ({user_type[:40]})")
        user_type = ""
    if status and status not in domain.STATUSES:
        problems.append(gettext("That request is not valid.") + f" ({status[:40]})")
        status = ""
    if sort_key not in SORTS:
        sort_key = "activity_desc"
    return {"q": q, "type": user_type, "status": status, "sort": sort_key}


def _matches(user: User, filters: dict[str, Any]) -> bool:
    """Whether ``user`` is among the users the filter lists (as the directory's query)."""
    if filters["type"] and user.user_type != filters["type"]:
        return False
    if filters["status"] and user.status != filters["status"]:
        return False
    if filters["q"]:
        key = comparison_key(filters["q"])
        return any(key in (v or "") for v in (user.display_name_key, user.email,
                                               user.user_name_key))
    return True


def _query(filters: dict[str, Any]) -> dict[str, Any]:
    return {"q": filters["q"] or None, "user_type": filters["type"] or None,
            "status": filters["status"] or None}


def _sort_links(filters: dict[str, Any], per_page: int) -> dict[str, dict[str, str | None]]:
    """For each sortable column: its link (the other direction when it is the current sort)
    and its aria-sort value."""
    links: dict[str, dict[str, str | None]] = {}
    for column, first in COLUMN_SORTS.items():
        field, direction = filters["sort"].rsplit("_", 1)
        if field == column:
            target = f"{column}_{'desc' if direction == 'asc' else 'asc'}"
            state: str | None = "ascending" if direction == "asc" else "descending"
        else:
            target, state = first, None
        links[column] = {
            "href": url_for("admin_ui.users", **{**_plain(filters), "sort": target,
                                                 "per": per_page}),
            "aria_sort": state,
        }
    return links


def _plain(filters: dict[str, Any]) -> dict[str, Any]:
    # Empty values are left out of links: shorter URLs, and the same page either way.
    return {k: v for k, v in filters.items() if v}


@blueprint.get("/users")
def users() -> Any:
    ctx = current()
    account = ctx.account
    args = request.args
    problems: list[str] = []
    filters = _user_filter(args, problems)
    try:
        per_page = int(args.get("per") or DEFAULT_PAGE_SIZE)
    except ValueError:
        per_page = DEFAULT_PAGE_SIZE
    if per_page not in PAGE_SIZES:
        per_page = DEFAULT_PAGE_SIZE
    try:
        start = max(int(args.get("start") or 0), 0)
    except ValueError:
        start = 0
    sort, order = SORTS[filters["sort"]]
    cursor = args.get("cursor") or None
    before = None if cursor else (args.get("before") or None)
    query = _query(filters)
    try:
        page = list_users(g.db, account, **query, sort=sort, order=order, limit=per_page,
                          cursor=cursor, before=before)
    except InvalidInput as exc:
        # A stale or edited cursor: say so and show the first page instead of failing.
        problems.append(refusal_text(exc))
        cursor = before = None
        page = list_users(g.db, account, **query, sort=sort, order=order, limit=per_page)
    if not cursor and not before or (before and page.prev_cursor is None):
        start = 0  # the first page, whatever ``start`` said
    total = count_users(g.db, account, **query)
    link = {**_plain(filters), "per": per_page}
    # The bulk bar's "select all" takes the first users of the filter across pages, the
    # acting admin left out (a bulk change never includes oneself).
    selectable = total - int(_matches(ctx.admin, filters))
    return render_template(
        "admin/users.html",
        page=page,
        filters=filters,
        link=link,
        per_page=per_page,
        start=start,
        total=total,
        filter_pick=min(selectable, domain.BULK_MAX),
        prev_link=url_for("admin_ui.users", **link, before=page.prev_cursor,
                          start=max(start - per_page, 0)) if page.prev_cursor else None,
        next_link=url_for("admin_ui.users", **link, cursor=page.next_cursor,
                          start=start + len(page.users)) if page.next_cursor else None,
        first_link=url_for("admin_ui.users", **link) if start or cursor or before else None,
        sort_links=_sort_links(filters, per_page),
        problems=problems,
        user_types=domain.USER_TYPES,
        statuses=domain.STATUSES,
        sort_labels=SORT_LABELS,
        page_sizes=PAGE_SIZES,
        bulk_max=domain.BULK_MAX,
        since=account.activity_tracking_since,
        self_id=ctx.admin.id,
        shown_targets=[u.id for u in page.users] + ["bulk"],
    )


def _row_action(user_id: str, run: Callable[[], User], done: Callable[[User], str]) -> Any:
    """Run one domain change of one user; show its refusal on that user's row."""
    try:
        user = run()
    except NotFound:
        abort(404)
    except DomainError as exc:
        flash_refusal(exc, target=user_id)
    else:
        flash_done(done(user), target=user_id)
    return redirect(back_to_users())


@blueprint.get("/users/<user_id>/deactivate")
def confirm_deactivate(user_id: str) -> Any:
    """What deactivating will do, before it does: what the user owns that stops or closes,
    and the way to hand it over first."""
    ctx = current()
    try:
        user = domain.get_user(g.db, ctx.account, user_id)
    except NotFound:
        abort(404)
    effects = deactivation_effects(g.db, ctx.account, user.id)
    return _user_page("admin/user_deactivate.html", user, effects=effects)


@blueprint.post("/users/<user_id>/deactivate")
def deactivate(user_id: str) -> Any:
    ctx = current()
    return _row_action(
        user_id,
        lambda: domain.deactivate_user(g.db, ctx.account, user_id, actor=actor()),
        lambda user: gettext("%(name)s was deactivated.", name=user_label(user)),
    )


@blueprint.get("/users/<user_id>/activate")
def confirm_activate(user_id: str) -> Any:
    """What activating will do, before it does: sign-in restored, a seat taken (with the
    seats in use), and what stays as deactivation left it."""
    ctx = current()
    user = _user_or_404(user_id)
    effects = domain.activation_effects(g.db, ctx.account, user.id)
    return _user_page("admin/user_activate.html", user, effects=effects)


@blueprint.post("/users/<user_id>/activate")
def activate(user_id: str) -> Any:
    ctx = current()
    return _row_action(
        user_id,
        lambda: domain.activate_user(g.db, ctx.account, user_id, actor=actor()),
        lambda user: gettext("%(name)s was activated.", name=user_label(user)),
    )


@blueprint.post("/users/<user_id>/resend-invitation")
def resend_invitation(user_id: str) -> Any:
    ctx = current()

    def done(user: User) -> str:
        if mail_configured():
            return gettext("A new invitation was sent to %(name)s; earlier links no longer "
                           "work.", name=user_label(user))
        return gettext("A new invitation was made for %(name)s, but not mailed: mail is not "
                       "configured on this server. Earlier links no longer work.",
                       name=user_label(user))

    return _row_action(
        user_id,
        lambda: domain.resend_invitation(
            g.db, ctx.account, user_id, actor=actor(), mailer=mailer(),
            accept_url=lambda token: public_link("admin_ui.accept_invitation", token=token),
        )[0],
        done,
    )


@blueprint.post("/users/<user_id>/type")
def change_type(user_id: str) -> Any:
    ctx = current()
    # An unknown type is not checked here: the domain refuses it with its own rule
    # (``user_type.invalid``) and sentence, as it does for the other doors.
    new_type = (request.form.get("user_type") or "").strip()[:40]
    return _row_action(
        user_id,
        lambda: domain.change_user_type(g.db, ctx.account, user_id, new_type, actor=actor()),
        lambda user: gettext("%(name)s is now %(type)s.", name=user_label(user),
                             type=gettext(user.user_type)),
    )


def _user_page(template: str, user: User, status: int = 200, **values: Any) -> Any:
    """A page about one user, whose Cancel link and form go back to the users list it came
    from: ``next`` of the query string (GET) or of the form (POST), once validated."""
    source = request.args if request.method == "GET" else request.form
    return render_template(template, user=user, next=users_page(source.get("next")),
                           **values), status


@blueprint.route("/users/<user_id>/delete", methods=["GET", "POST"])
def delete(user_id: str) -> Any:
    ctx = current()
    user = _user_or_404(user_id)
    page = "admin/user_delete.html"
    if request.method == "GET":
        return _user_page(page, user)
    try:
        shown_as = text_field("display_name")
    except ValueError as exc:
        return _user_page(page, user, 400, error={"text": str(exc)})
    if request.form.get("confirm") != "yes":
        return _user_page(page, user, 400, shown_as=shown_as,
                          error={"text": gettext("Tick the box to confirm the deletion.")})
    # Named before the deletion erases what names them.
    label = user_label(user)
    try:
        domain.delete_user(g.db, ctx.account, user.id, actor=actor(), display_name=shown_as)
    except NotFound:
        abort(404)
    except DomainError as exc:
        # Rendered, not redirected: the 4xx status makes the app roll the transaction back.
        return _user_page(page, user, status_for(exc), shown_as=shown_as, error=refusal(exc))
    flash_done(gettext("%(name)s was deleted.", name=label))
    return redirect(back_to_users())


@blueprint.route("/users/<user_id>/email", methods=["GET", "POST"])
def change_email(user_id: str) -> Any:
    ctx = current()
    user = _user_or_404(user_id)
    page, mailed = "admin/user_email.html", mail_configured()
    if request.method == "GET":
        return _user_page(page, user, mail_configured=mailed)
    new_email = (request.form.get("email") or "").strip()
    if not looks_like_email(new_email):
        return _user_page(page, user, 400, mail_configured=mailed, new_email=new_email[:400],
                          error={"text": gettext("Enter a valid email address.")})
    try:
        domain.start_email_change(
            g.db, ctx.account, user.id, new_email, actor=actor(), mailer=mailer(),
            confirm_url=lambda token: public_link("admin_ui.confirm_email", token=token),
        )
    except NotFound:
        abort(404)
    except DomainError as exc:
        return _user_page(page, user, status_for(exc), mail_configured=mailed,
                          new_email=new_email, error=refusal(exc))
    if mailed:
        flash_done(gettext("A confirmation link for %(name)s was sent to %(email)s; the email "
                           "changes once it is followed.", name=user_label(user),
                           email=new_email), target=user.id)
    else:
        flash_done(gettext("No confirmation link for %(name)s was mailed to %(email)s: mail is "
                           "not configured on this server.", name=user_label(user),
                           email=new_email), target=user.id)
    return redirect(back_to_users())


PROFILE_FORM = ("given_name", "family_name", "display_name", "title", "phone", "locale")


@blueprint.route("/users/<user_id>/profile", methods=["GET", "POST"])
def edit_profile(user_id: str) -> Any:
    ctx = current()
    user = _user_or_404(user_id)
    from scim_server.domain.documents import read_profile

    page = "admin/user_profile.html"
    profile = read_profile(user)
    notifications = domain.notifications_of(g.db, user)
    if request.method == "GET":
        return _user_page(page, user, profile=profile, notifications=notifications)
    changes: dict[str, Any] = {}
    try:
        for name in PROFILE_FORM:
            value = text_field(name, limit=40 if name == "locale" else 400)
            # Only what changed is sent: an untouched field must not be rewritten (or audited).
            if value != profile.get(name):
                changes[name] = value
    except ValueError as exc:
        return _user_page(page, user, 400, profile=request.form, notifications=notifications,
                          error={"text": str(exc)})
    wanted = {"email": request.form.get("notify_email") == "on"}
    if wanted["email"] != bool(notifications.get("email", True)):
        changes["notifications"] = {**notifications, **wanted}
    if changes:
        try:
            domain.update_profile(g.db, ctx.account, user.id, changes, actor=actor())
        except NotFound:
            abort(404)
        except DomainError as exc:
            return _user_page(page, user, status_for(exc), profile=request.form,
                              notifications=notifications, error=refusal(exc))
    flash_done(gettext("The profile of %(name)s was saved.", name=user_label(user)),
               target=user.id)
    return redirect(back_to_users())


def _invite_page(status: int = 200, **values: Any) -> Any:
    return render_template("admin/user_invite.html", user_types=domain.USER_TYPES,
                           mail_configured=mail_configured(), **values), status


@blueprint.route("/users/invite", methods=["GET", "POST"])
def invite() -> Any:
    ctx = current()
    if request.method == "GET":
        return _invite_page(values={"user_type": "Member"})
    email = (request.form.get("email") or "").strip()
    user_type = request.form.get("user_type") or "Member"
    values = {"email": email[:400], "user_type": user_type,
              "display_name": (request.form.get("display_name") or "")[:400]}
    if not looks_like_email(email):
        return _invite_page(400, values=values,
                            error={"text": gettext("Enter a valid email address.")})
    try:
        domain.invite_user(
            g.db, ctx.account, email=email, user_type=user_type,
            display_name=values["display_name"].strip() or None, actor=actor(), mailer=mailer(),
            accept_url=lambda token: public_link("admin_ui.accept_invitation", token=token),
        )
    except DomainError as exc:
        return _invite_page(status_for(exc), values=values, error=refusal(exc))
    if mail_configured():
        flash_done(gettext("%(email)s was invited.", email=email))
    else:
        flash_done(gettext("%(email)s was invited, but no invitation was mailed: mail is not "
                           "configured on this server.", email=email))
    return redirect(url_for("admin_ui.users", status="pending"))


@blueprint.post("/users/bulk")
def bulk() -> Any:
    ctx = current()
    ids = [i for i in request.form.getlist("user_id") if i][: domain.BULK_MAX + 1]
    user_type = request.form.get("user_type") or None
    status = request.form.get("status") or None
    picked = None
    if request.form.get("scope") == "filter":
        # "Select all": the first users of the list's filter, in its order, resolved now,
        # across pages; the review then names exactly these and applies only them.
        problems: list[str] = []
        filters = _user_filter({k: request.form.get(f"filter_{k}") for k in
                                ("q", "type", "status", "sort")}, problems)
        sort, order = SORTS[filters["sort"]]
        listed = list_users(g.db, ctx.account, **_query(filters), sort=sort, order=order,
                            limit=domain.BULK_MAX + 1)
        ids = [u.id for u in listed.users if u.id != ctx.admin.id][: domain.BULK_MAX]
        picked = {"n": len(ids), "total": count_users(g.db, ctx.account, **_query(filters)),
                  "max": domain.BULK_MAX}
    problem = None
    if not ids:
        problem = gettext("Select at least one user.")
    elif not user_type and not status:
        problem = gettext("Choose a type or a status to apply.")
    elif user_type and status:
        problem = gettext("Choose a type or a status, not both.")
    if problem:
        flash_refusal(InvalidInput(problem), target="bulk")
        return redirect(back_to_users())
    preview = request.form.get("confirm") != "yes"
    try:
        # The preview is the change itself, made and rolled back: exactly who would change
        # and who would be skipped, and why, by the same rules.
        savepoint = g.db.begin_nested() if preview else None
        report = domain.bulk_change(g.db, ctx.account, ids, actor=actor(), user_type=user_type,
                                    status=status)
        if savepoint is not None:
            savepoint.rollback()
    except DomainError as exc:
        # bulk.too_many, bulk.self, an unknown type: nobody was changed.
        flash_refusal(exc, target="bulk")
        return redirect(back_to_users())
    names = _names(report.applied + [uid for uid, _, _ in report.skipped])
    return render_template(
        "admin/bulk_result.html",
        report=report,
        names=names,
        reasons={uid: refusal_text(exc) for uid, exc in report.refusals.items()},
        preview=preview,
        ids=ids,
        user_type=user_type,
        status=status,
        change=gettext(user_type) if user_type else gettext(status or ""),
        picked=picked,
        next=back_to_users(),
    )


def _names(user_ids: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for uid in user_ids:
        try:
            out[uid] = user_label(domain.get_user(g.db, current().account, uid))
        except NotFound:
            out[uid] = uid
    return out


# --- links followed by users who are not admins (from the emails) ----------------------------

@blueprint.route("/email-confirmation/<token>", methods=["GET", "POST"])
def confirm_email(token: str) -> Any:
    # GET only describes the link and shows a button: mail scanners that prefetch links must
    # not confirm anything.
    return _link_page("email", token[:200], domain.email_change_details,
                      domain.confirm_email_change)


@blueprint.route("/invitation/<token>", methods=["GET", "POST"])
def accept_invitation(token: str) -> Any:
    return _link_page("invitation", token[:200], domain.invitation_details,
                      domain.accept_invitation)


def _link_page(kind: str, token: str, describe: Callable[..., domain.LinkDetails],
               act: Callable[..., User]) -> Any:
    """The page of an emailed link: which account, which address, who sent it and until when
    (read only), then on POST the action. An unknown or used link is 404, an expired one 410."""
    page = "admin/confirm.html"
    try:
        details = describe(g.db, token=token)
    except NotFound as exc:
        return render_template(page, kind=kind, error=refusal(exc)), 404
    if details.expired:
        expired = RuleViolation(
            "email.confirmation_required",
            "this confirmation link has expired; the email was not changed",
        ) if kind == "email" else NotFound("this invitation link is unknown, used or expired")
        return render_template(page, kind=kind, details=details, error=refusal(expired)), 410
    if request.method == "GET":
        return render_template(page, kind=kind, details=details)
    try:
        act(g.db, token=token)
    except DomainError as exc:
        return render_template(page, kind=kind, details=details,
                               error=refusal(exc)), status_for(exc)
    return render_template(page, kind=kind, details=details, done=True)
