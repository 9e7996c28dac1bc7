"""Sign-in (password and OpenID Connect), sign-out, and the admin's language and time zone."""

from __future__ import annotations

from typing import Any

from authlib.integrations.base_client.errors import OAuthError
from flask import (
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from sqlalchemy import select
from werkzeug.wrappers import Response

from admin_ui import blueprint, i18n
from admin_ui.oidc import oidc_client, verified_email
from admin_ui.security import SignInLimiter, current, sign_in, sign_out
from scim_server.domain.actors import Actor
from scim_server.domain.documents import comparison_key
from scim_server.domain.users import record_activity
from scim_server.security import verify_password
from scim_server.storage.models import Account, User

MAX_FIELD = 400
# Enough to tell one account from several: a sign-in checks one password whatever the count.
MAX_CANDIDATES = 2


def _limiter() -> SignInLimiter:
    limiter = current_app.extensions.get("admin_ui_login_limiter")
    if limiter is None:
        limit = current_app.config["SCIM_SETTINGS"].login_rate_limit
        limiter = current_app.extensions["admin_ui_login_limiter"] = SignInLimiter(limit, 300.0)
    return limiter


def _safe_next(target: str | None) -> str:
    # Only our own pages: an open redirect after sign-in is a phishing aid.
    if target and target.startswith("/admin") and not target.startswith("//"):
        return target
    return url_for("admin_ui.hub")


def _candidates(email: str, account_name: str | None) -> list[tuple[User, Account]]:
    """Active Admins with this email (in the named account, if one is named)."""
    stmt = (
        select(User, Account)
        .join(Account, Account.id == User.account_id)
        .where(User.email == comparison_key(email), User.user_type == "Admin",
               User.status == "active")
        .order_by(Account.name)
        .limit(MAX_CANDIDATES)
    )
    if account_name:
        stmt = stmt.where(Account.name == account_name)
    return [(u, a) for u, a in g.db.execute(stmt)]


def _complete_sign_in(user: User, account: Account) -> Any:
    if account.status == "suspended":
        return _login_page(i18n.gettext(SUSPENDED), 403)
    # Read before sign_in(), which starts a fresh session.
    target = _safe_next(session.pop("after_sign_in", None) or request.values.get("next"))
    sign_in(user)
    # The issue counts an admin's sign-in as activity (lists sort by it).
    record_activity(g.db, account, user.id, actor=Actor(door="ui", user_id=user.id,
                                                        client="admin-ui"))
    return redirect(target)


SUSPENDED = "This account is suspended; sign-in is refused until the platform operator resumes it."


def _login_page(error: str | None = None, status: int = 200, **values: Any) -> tuple[str, int]:
    return render_template(
        "admin/login.html",
        error=error,
        sso=oidc_client() is not None,
        next=request.values.get("next", ""),
        values=values,
    ), status


@blueprint.route("/login", methods=["GET", "POST"])
def login() -> Any:
    if request.method == "GET":
        return _login_page()
    email = (request.form.get("email") or "").strip()
    password = request.form.get("password") or ""
    account_name = (request.form.get("account") or "").strip() or None
    if not email or not password or len(email) > MAX_FIELD or len(password) > 1024:
        return _login_page(i18n.gettext("Enter your email and password."), 400,
                           email=email[:MAX_FIELD], account=account_name)
    address, email_key = request.remote_addr or "", comparison_key(email)
    if not _limiter().allows(address, email_key):
        return _login_page(
            i18n.gettext("Too many sign-in attempts; wait a few minutes and try again."), 429,
            email=email, account=account_name)
    # The same work whoever the email belongs to: one query and exactly one password check
    # (against a decoy when there is no Admin or no password), or the answer time would tell
    # which emails are active Admins. An email administering several accounts is checked
    # against the first one's password unless the account is named.
    candidates = _candidates(email, account_name)
    user, account = candidates[0] if candidates else (None, None)
    if not verify_password(password, user.password_hash if user is not None else None):
        _limiter().failed(address, email_key)
        return _login_page(
            i18n.gettext("Email or password is wrong, or this user is not an active Admin."),
            401, email=email, account=account_name)
    if len(candidates) > 1:
        return _login_page(
            i18n.gettext("This email administers several accounts: enter the account name."),
            400, email=email, account=account_name)
    _limiter().succeeded(address, email_key)
    assert user is not None and account is not None
    return _complete_sign_in(user, account)


@blueprint.get("/login/oidc")
def oidc_login() -> Any:
    client = oidc_client()
    if client is None:
        return _login_page(i18n.gettext("That request is not valid."), 404)
    session["after_sign_in"] = _safe_next(request.args.get("next"))
    session["sso_account"] = (request.args.get("account") or "").strip()[:200] or None
    return client.authorize_redirect(url_for("admin_ui.oidc_callback", _external=True))


@blueprint.get("/login/oidc/callback")
def oidc_callback() -> Any:
    client = oidc_client()
    if client is None:
        return _login_page(i18n.gettext("That request is not valid."), 404)
    try:
        token = client.authorize_access_token()
    except OAuthError as exc:
        reason = exc.description or exc.error or "error"
        return _login_page(i18n.gettext("Single sign-on failed: %(reason)s", reason=reason), 401)
    claims = dict(token.get("userinfo") or {})
    email = verified_email(claims)
    if email is None:
        return _login_page(i18n.gettext("The identity provider gave no verified email."), 401)
    matches = _candidates(email, session.pop("sso_account", None))
    if len(matches) != 1:
        message = (i18n.gettext("This email administers several accounts: enter the account name.")
                   if matches else
                   i18n.gettext("%(email)s is not an active Admin of an account here.",
                                email=email))
        return _login_page(message, 403)
    user, account = matches[0]
    return _complete_sign_in(user, account)


@blueprint.post("/logout")
def logout() -> Any:
    sign_out(g.db, current())
    flash({"text": i18n.gettext("You are signed out.")}, "info")
    return redirect(url_for("admin_ui.login"))


@blueprint.route("/preferences", methods=["GET", "POST"])
def preferences() -> Any:
    if request.method == "GET":
        return render_template("admin/preferences.html", zones=i18n.zone_choices())
    response = redirect(url_for("admin_ui.preferences"))
    zone = (request.form.get("zone") or "").strip()
    if zone and i18n.zone_named(zone) is None:
        return render_template("admin/preferences.html", zones=i18n.zone_choices(),
                               error=i18n.gettext("That request is not valid.")), 400
    _set_language(response, request.form.get("lang"))
    if zone:
        response.set_cookie(i18n.TZ_COOKIE, zone, max_age=365 * 86400, samesite="Lax",
                            secure=request.is_secure)
        g.zone = i18n.zone_named(zone)
    flash({"text": i18n.gettext("Preferences saved.")}, "info")
    return response


@blueprint.post("/language")
def set_language() -> Any:
    """The language menu of every page (sign-in included): remembered in a cookie."""
    response = redirect(_safe_next(request.form.get("next")))
    _set_language(response, request.form.get("lang"))
    return response


def _set_language(response: Response, lang: str | None) -> None:
    if lang in i18n.LANGUAGES:
        response.set_cookie(i18n.LANG_COOKIE, lang, max_age=365 * 86400, samesite="Lax",
                            secure=request.is_secure)
        g.lang = lang
