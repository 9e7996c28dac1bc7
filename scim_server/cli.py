"""The ``scim-server`` command: init, token create/revoke, account update, db upgrade, serve."""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import sys
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from scim_server.db import make_engine, make_session_factory
from scim_server.domain.accounts import OPERATOR, open_account, set_rate_limit
from scim_server.domain.credentials import issue_credential, revoke_credential
from scim_server.domain.errors import DomainError
from scim_server.migrate import upgrade
from scim_server.settings import Settings, SettingsError
from scim_server.storage.models import Account, Credential, User

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,99}$")
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


class CliError(Exception):
    """A user error: printed as one line, exit status 1."""


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as exc:
        raise CliError(str(exc)) from None


def _session(settings: Settings) -> Session:
    engine = make_engine(settings.database_url)
    upgrade(engine)
    return make_session_factory(engine)()


def scim_base_url(settings: Settings) -> str:
    return settings.base_url.rstrip("/") + "/scim/v2"


def create_account(session: Session, settings: Settings, name: str, domain: str) -> dict[str, Any]:
    """An account, its first Admin (with a password) and a SCIM token for that Admin."""
    if not _NAME.match(name):
        raise CliError("--account must be 1-100 letters, digits, spaces, '.', '_' or '-'")
    domain = domain.lower()
    if not _DOMAIN.match(domain):
        raise CliError(f"--domain {domain!r} is not a valid domain name")
    try:
        opened = open_account(session, name=name, domain=domain)
    except DomainError as exc:
        raise CliError(exc.message) from None
    session.commit()
    return {
        "account_id": opened.account.id,
        "account": opened.account.name,
        "scim_base_url": scim_base_url(settings),
        "scim_token": opened.scim_token,
        "admin_email": opened.admin_email,
        "admin_password": opened.admin_password,
    }


def cmd_init(args: argparse.Namespace) -> int:
    settings = _settings()
    with _session(settings) as session:
        result = create_account(session, settings, args.account, args.domain)
    _print(result, args.json)
    return 0


def _account(session: Session, name: str) -> Account:
    account = session.scalar(select(Account).where(Account.name == name))
    if account is None:
        raise CliError(f"No account named {name!r}")
    return account


def cmd_token_create(args: argparse.Namespace) -> int:
    settings = _settings()
    with _session(settings) as session:
        account = _account(session, args.account)
        query = select(User).where(User.account_id == account.id, User.status == "active")
        if args.user:
            query = query.where(func.lower(User.email) == args.user.lower())
        else:
            query = query.where(User.user_type == "Admin").order_by(User.created_at, User.id)
        user = session.scalars(query).first()
        if user is None:
            raise CliError(
                f"No active user {args.user!r} in {account.name!r}" if args.user
                else f"Account {account.name!r} has no active Admin"
            )
        try:
            issued = issue_credential(session, account, user, kind=args.kind, name=args.name)
        except DomainError as exc:
            raise CliError(str(exc)) from None
        session.commit()
        result = {
            "token": issued.secret,
            "token_id": issued.credential.id,
            "kind": args.kind,
            "account": account.name,
            "user": user.email,
        }
        if args.kind == "scim":
            result["scim_base_url"] = scim_base_url(settings)
    _print(result, args.json)
    return 0


def cmd_token_revoke(args: argparse.Namespace) -> int:
    settings = _settings()
    with _session(settings) as session:
        account = _account(session, args.account)
        token_id = args.token_id
        if args.token:
            from scim_server.security import hash_token

            credential = session.scalar(
                select(Credential).where(Credential.secret_hash == hash_token(args.token))
            )
            token_id = credential.id if credential else "-"
        try:
            credential = revoke_credential(session, account, token_id)
        except DomainError as exc:
            raise CliError(str(exc)) from None
        session.commit()
        _print({"token_id": credential.id, "revoked_at": credential.revoked_at.isoformat()
                if credential.revoked_at else None}, args.json)
    return 0


def _limit(value: str | None, current: int | None) -> int | None:
    if value is None:
        return current
    if value == "default":
        return None
    try:
        return int(value)
    except ValueError:
        raise CliError(f"{value!r} is not a whole number or 'default'") from None


def cmd_account_update(args: argparse.Namespace) -> int:
    settings = _settings()
    with _session(settings) as session:
        account = _account(session, args.name)
        per_second = _limit(args.rate_limit, account.rate_limit_per_second)
        burst = _limit(args.rate_burst, account.rate_limit_burst)
        try:
            set_rate_limit(session, account, per_second=per_second, burst=burst, actor=OPERATOR)
        except DomainError as exc:
            raise CliError(exc.message) from None
        session.commit()
        # What applies: the account's own values, or the server's defaults.
        _print({
            "account": account.name,
            "rate_limit_per_second": settings.rate_limit_per_second if per_second is None
            else per_second,
            "rate_limit_burst": settings.rate_limit_burst if burst is None else burst,
        }, args.json)
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    settings = _settings()
    upgrade(make_engine(settings.database_url))
    print("database schema is up to date")
    return 0


def bootstrap_if_empty(settings: Settings) -> dict[str, Any] | None:
    """On an empty database, create the first account and return its credentials."""
    with _session(settings) as session:
        if session.scalar(select(func.count()).select_from(Account)):
            return None
        domain = os.environ.get("SCIM_BOOTSTRAP_DOMAIN", "example.com")
        name = os.environ.get("SCIM_BOOTSTRAP_ACCOUNT", "default")
        return create_account(session, settings, name, domain)


def cmd_serve(args: argparse.Namespace) -> int:
    host, port = args.host, args.port
    os.environ.setdefault("SCIM_BASE_URL", f"http://{host}:{port}")
    settings = _settings()
    created = bootstrap_if_empty(settings)
    if created:
        print("First account created. Point your identity provider at:")
        print(f"  SCIM base URL: {created['scim_base_url']}")
        print(f"  SCIM token:    {created['scim_token']}   (shown once; store it now)")
        print(f"  Admin sign-in: {created['admin_email']} / {created['admin_password']}")
        sys.stdout.flush()
    if not os.environ.get("SCIM_SECRET_KEY"):
        # Workers must share the secret (cursors, sessions); one per serve run.
        os.environ["SCIM_SECRET_KEY"] = secrets.token_urlsafe(32)
    argv = ["gunicorn", "--config", "python:scim_server.gunicorn_conf", "--bind", f"{host}:{port}"]
    if args.workers:
        argv += ["--workers", str(args.workers)]
    argv.append("scim_server.wsgi:app")
    from gunicorn.app.wsgiapp import run

    sys.argv = argv
    run()
    return 0


def _print(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key}: {value}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scim-server", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("init", help="create the schema, an account, its first Admin and a SCIM token")
    p.add_argument("--account", default="default")
    p.add_argument("--domain", default="example.com")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_init)

    token = sub.add_parser("token", help="issue or revoke tokens").add_subparsers(
        dest="token_command", required=True
    )
    p = token.add_parser("create", help="issue a token (shown once)")
    p.add_argument("--account", required=True)
    p.add_argument("--kind", choices=["scim", "api"], default="scim")
    p.add_argument("--user", help="email of the user (default: the account's first Admin)")
    p.add_argument("--name", help="a label for the token")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_token_create)
    p = token.add_parser("revoke", help="revoke a token")
    p.add_argument("--account", required=True)
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--token-id")
    group.add_argument("--token", help="the token itself")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_token_revoke)

    account = sub.add_parser("account", help="manage accounts").add_subparsers(
        dest="account_command", required=True
    )
    p = account.add_parser("update", help="change an account's limits")
    p.add_argument("name")
    p.add_argument("--rate-limit", metavar="PER_SECOND",
                   help="requests per second of each credential (0: none; 'default': the server's)")
    p.add_argument("--rate-burst", metavar="N",
                   help="requests a credential may send at once ('default': the server's)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_account_update)

    db = sub.add_parser("db", help="database maintenance").add_subparsers(dest="db_command", required=True)
    p = db.add_parser("upgrade", help="apply the migrations")
    p.set_defaults(func=cmd_db_upgrade)

    p = sub.add_parser("serve", help="run the server under gunicorn (bootstraps an empty database)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=0)
    p.set_defaults(func=cmd_serve)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except CliError as exc:
        print(f"scim-server: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
