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
from scim_server.domain.directory import list_users
from scim_server.domain.errors import DomainError, InvalidInput, NotFound, RuleViolation
from scim_server.domain.resources import deactivation_effects
from scim_server.storage.models import User

PAGE_SIZES = (50, 100, 200)
# The UI's sort menu → the directory's (sort, order).
SORTS = {
    "activity_desc": ("last_activity", "desc"),
    "activity_asc": ("last_activity", "asc"),
    "name": ("name", "asc"),
}


def _user_or_404(user_id: str) -> Any:
    # Another account's user id is "not found", exactly like an id that does not exist.
    try:
        return domain.get_user(g.db, current().account, user_id)
    except NotFound:
        abort(404)


@blueprint.get("/users")
def users() -> Any:
    account = current().account
    args = request.args
    problems: list[str] = []
    q = (args.get("q") or "").strip()[:200]
    user_type = args.get("type") or ""
    status = args.get("status") or ""
    sort_key = args.get("sort") or "activity_desc"
    if user_type and user_type not in domain.USER_TYPES:
        problems.append(gettext("That request is not valid.") + f" ({user_type})")
        user_type = ""
    if status and status not in domain.STATUSES:
        problems.append(gettext("That request is not valid.") + f" ({status})")
        status = ""
    if sort_key not in SORTS:
        sort_key = "activity_desc"
    try:
        per_page = int(args.get("per") or PAGE_SIZES[0])
    except ValueError:
        per_page = PAGE_SIZES[0]
    if per_page not in PAGE_SIZES:
        per_page = PAGE_SIZES[0]
    sort, order = SORTS[sort_key]
    cursor = args.get("cursor") or None
    try:
        page = list_users(g.db, account, q=q or None, user_type=user_type or None,
                          status=status or None, sort=sort, order=order, limit=per_page,
                          cursor=cursor)
    except InvalidInput as exc:
        # A stale or edited cursor: say so and show the first page instead of failing.
        problems.append(refusal_text(exc))
        cursor = None
        page = list_users(g.db, account, q=q or None, user_type=user_type or None,
                          status=status or None, sort=sort, order=order, limit=per_page)
    filters = {"q": q, "type": user_type, "status": status, "sort": sort_key, "per": per_page}
    return render_template(
        "admin/users.html",
        page=page,
        filters=filters,
        cursor=cursor,
        problems=problems,
        user_types=domain.USER_TYPES,
        statuses=domain.STATUSES,
        sorts=SORTS,
        page_sizes=PAGE_SIZES,
        bulk_max=domain.BULK_MAX,
        since=account.activity_tracking_since,
        self_id=current().admin.id,
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


@blueprint.post("/users/<user_id>/activate")
def activate(user_id: str) -> Any:
    ctx = current()
    return _row_action(
        user_id,
        lambda: domain.activate_user(g.db, ctx.account, user_id, actor=actor()),
        lambda user: gettext("%(name)s was activated.", name=user_label(user)),
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
        flash_done(gettext("A confirmation link was sent to %(email)s; the email changes once it "
                           "is followed.", email=new_email), target=user.id)
    else:
        flash_done(gettext("No confirmation link was mailed to %(email)s: mail is not "
                           "configured on this server.", email=new_email), target=user.id)
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
    flash_done(gettext("The profile was saved."), target=user.id)
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
