"""The ``scim-server`` command: init, token create/revoke, account and plan (the operator's),
signing-key rotate, db upgrade, serve, worker (webhook deliveries)."""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from scim_server.db import make_engine, make_session_factory
from scim_server.domain import accounts as operator
from scim_server.domain.accounts import DEFAULT_PLAN, OPERATOR, open_account, set_rate_limit
from scim_server.domain.credentials import issue_credential, revoke_credential
from scim_server.domain.errors import DomainError
from scim_server.domain.operators import issue_operator_token, revoke_operator_token
from scim_server.domain.sets import jwks, rotate_key
from scim_server.migrate import upgrade
from scim_server.settings import Settings, SettingsError
from scim_server.storage.models import Account, Credential, User


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


def create_account(session: Session, settings: Settings, name: str, domain: str, *,
                   more_domains: Sequence[str] = (), plan: str = DEFAULT_PLAN,
                   seats: int | None = None, operators: int | None = None) -> dict[str, Any]:
    """An account, its first Admin (with a password) and a SCIM token for that Admin."""
    try:
        opened = open_account(session, name=name, domain=domain, more_domains=more_domains, plan=plan,
                              seats=seats, operators=operators)
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
        if args.user:
            user = session.scalars(select(User).where(
                User.account_id == account.id, User.status == "active",
                func.lower(User.email) == args.user.lower())).first()
        else:
            user = operator.first_admin(session, account)
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


def _operated(session: Session, name: str) -> Account:
    try:
        return operator.find_account(session, name)
    except DomainError as exc:
        raise CliError(exc.message) from None


def _overview(session: Session, settings: Settings, account: Account) -> dict[str, Any]:
    (seen,) = operator.account_overviews(session, account)
    return _shown(seen, settings)


def _shown(seen: operator.AccountOverview, settings: Settings) -> dict[str, Any]:
    view = operator.account_view(seen)
    return {
        "name": view["name"], "account_id": view["id"], "status": view["status"],
        "plan": view["plan"], "domains": view["domains"],
        "seats": f"{view['seats_used']}/{view['seats_limit']}",
        "operators": f"{view['operators_used']}/{view['operators_limit']}",
        "users": view["users"],
        "rate_limit_per_second": settings.rate_limit_per_second
        if view["rate_limit_per_second"] is None else view["rate_limit_per_second"],
        "rate_limit_burst": settings.rate_limit_burst
        if view["rate_limit_burst"] is None else view["rate_limit_burst"],
        "last_scim_activity": view["last_scim_activity"].isoformat()
        if view["last_scim_activity"] else None,
    }


def cmd_account_create(args: argparse.Namespace) -> int:
    settings = _settings()
    with _session(settings) as session:
        domains = args.domain or ["example.com"]
        result = create_account(session, settings, args.name, domains[0],
                                more_domains=domains[1:], plan=args.plan,
                                seats=args.seats, operators=args.operators)
    _print(result, args.json)
    return 0


def cmd_account_list(args: argparse.Namespace) -> int:
    settings = _settings()
    with _session(settings) as session:
        rows = [_shown(seen, settings) for seen in operator.account_overviews(session)]
    if args.json:
        print(json.dumps(rows))
        return 0
    columns = ("name", "account_id", "plan", "seats", "operators", "status", "last_scim_activity")
    widths = [max([len(c), *(len(str(r[c])) for r in rows)]) for c in columns]
    for line in [dict(zip(columns, columns, strict=True)), *rows]:
        print("  ".join(str(line[c]).ljust(w) for c, w in zip(columns, widths, strict=True)))
    return 0


def cmd_account_show(args: argparse.Namespace) -> int:
    settings = _settings()
    with _session(settings) as session:
        _print(_overview(session, settings, _operated(session, args.name)), args.json)
    return 0


def cmd_account_update(args: argparse.Namespace) -> int:
    settings = _settings()
    with _session(settings) as session:
        account = _operated(session, args.name)
        try:
            operator.update_account(
                session, account, plan=args.plan, seats=args.seats, operators=args.operators,
                domains=args.domain, force=args.force)
            if args.rate_limit is not None or args.rate_burst is not None:
                set_rate_limit(session, account,
                               per_second=_limit(args.rate_limit, account.rate_limit_per_second),
                               burst=_limit(args.rate_burst, account.rate_limit_burst),
                               actor=OPERATOR)
        except DomainError as exc:
            raise CliError(exc.message) from None
        session.commit()
        _print(_overview(session, settings, account), args.json)
    return 0


def _set_status(args: argparse.Namespace, status: str) -> int:
    settings = _settings()
    with _session(settings) as session:
        account = operator.set_account_status(session, _operated(session, args.name), status)
        session.commit()
        _print({"name": account.name, "status": account.status}, args.json)
    return 0


def cmd_account_delete(args: argparse.Namespace) -> int:
    if not args.yes:
        raise CliError("deleting an account erases all its users, groups, tokens and audit, "
                       "irreversibly: add --yes")
    settings = _settings()
    with _session(settings) as session:
        account = _operated(session, args.name)
        name, account_id = account.name, account.id
        operator.delete_account(session, account)
        session.commit()
    _print({"deleted": name, "account_id": account_id}, args.json)
    return 0


def cmd_plan_list(args: argparse.Namespace) -> int:
    with _session(_settings()) as session:
        plans = [{"name": p.name, "seats": p.seats_limit, "operators": p.operators_limit}
                 for p in operator.list_plans(session)]
    if args.json:
        print(json.dumps(plans))
    else:
        for plan in plans:
            print(f"{plan['name']}: {plan['seats']} seats, {plan['operators']} operators")
    return 0


def cmd_plan_update(args: argparse.Namespace) -> int:
    with _session(_settings()) as session:
        try:
            plan = operator.update_plan(session, args.name, seats=args.seats,
                                        operators=args.operators)
        except DomainError as exc:
            raise CliError(exc.message) from None
        session.commit()
        _print({"name": plan.name, "seats": plan.seats_limit,
                "operators": plan.operators_limit}, args.json)
    return 0


def cmd_operator_token_create(args: argparse.Namespace) -> int:
    with _session(_settings()) as session:
        token, secret = issue_operator_token(session, name=args.name)
        session.commit()
        _print({"token": secret, "token_id": token.id}, args.json)
    return 0


def cmd_operator_token_revoke(args: argparse.Namespace) -> int:
    with _session(_settings()) as session:
        try:
            token = revoke_operator_token(session, args.token_id)
        except DomainError as exc:
            raise CliError(exc.message) from None
        session.commit()
        _print({"token_id": token.id, "revoked": True}, args.json)
    return 0


def cmd_signing_key_rotate(args: argparse.Namespace) -> int:
    settings = _settings()
    if not settings.secret_key:
        # The new private key is sealed with the secret key: a random one of this command's
        # own would leave the servers a key they cannot open.
        raise CliError("set SCIM_SECRET_KEY (the servers' own) to rotate the signing key")
    with _session(settings) as session:
        kid = rotate_key(session, settings.secret_key)
        session.commit()
        _print({"kid": kid, "keys": len(jwks(session, settings.secret_key)["keys"])}, args.json)
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


def cmd_worker(args: argparse.Namespace) -> int:
    """Deliver webhooks until SIGTERM (or SIGINT), which stops after the current delivery."""
    # First: a SIGTERM during the start-up below must stop the worker cleanly too.
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        # Set from another thread: the handler runs in the main thread, which may hold the
        # event's lock at that moment (inside stop.wait), and the lock is not reentrant.
        signal.signal(signum, lambda *_: threading.Thread(target=stop.set).start())
    settings = _settings()
    if not settings.secret_key:
        # The endpoints' secrets are sealed with it (domain.webhooks): a worker with another
        # key could sign nothing.
        raise CliError("SCIM_SECRET_KEY must be set (the same as the server's) to sign webhooks")
    upgrade_engine = make_engine(settings.database_url)
    upgrade(upgrade_engine)
    upgrade_engine.dispose()
    from scim_server.webhook_worker import Worker

    engine = make_engine(settings.database_url, lock_timeout=settings.db_lock_timeout,
                         statement_timeout=settings.db_statement_timeout,
                         connect_timeout=settings.db_connect_timeout)
    import logging

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        Worker(engine, settings).run(stop, parent_pid=args.parent_pid)
    finally:
        engine.dispose()
    return 0


def start_worker_beside() -> subprocess.Popen[bytes]:
    """One webhook worker next to gunicorn (``serve``), stopped when the server stops; it
    also stops by itself if the server dies without telling it (``--parent-pid``)."""
    import atexit

    server = os.getpid()
    child = subprocess.Popen([sys.executable, "-m", "scim_server.cli", "worker",  # noqa: S603
                              "--parent-pid", str(server)])

    def _stop() -> None:
        # gunicorn's forked workers inherit this hook: only the server stops the worker.
        if os.getpid() == server and child.poll() is None:
            child.terminate()
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()

    atexit.register(_stop)
    return child


def embedded_secret_key(database_url: str) -> str | None:
    """The secret key kept in ``<database file>.secret-key`` (created once, readable by its
    owner only) for a SQLite database file; None for any other database."""
    url = make_url(database_url)
    if not url.drivername.startswith("sqlite") or url.database in (None, "", ":memory:"):
        return None
    path = f"{url.database}.secret-key"
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        with open(path, encoding="ascii") as kept:
            return kept.read().strip()
    key = secrets.token_urlsafe(32)
    with os.fdopen(descriptor, "w", encoding="ascii") as created:
        created.write(key + "\n")
    return key


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
        # Workers must share the secret (cursors, sessions, the sealed webhook secrets and SET
        # signing keys): on SQLite it is kept beside the database, so that a restart keeps
        # them readable; elsewhere one per run (production sets SCIM_SECRET_KEY).
        os.environ["SCIM_SECRET_KEY"] = (embedded_secret_key(settings.database_url)
                                         or secrets.token_urlsafe(32))
    if not args.no_worker:
        start_worker_beside()
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

    account = sub.add_parser("account", help="the operator's accounts").add_subparsers(
        dest="account_command", required=True
    )
    p = account.add_parser("create", help="an account, its first Admin and a SCIM token")
    p.add_argument("name")
    p.add_argument("--domain", action="append", default=None,
                   help="an email domain of the account (repeat for more; first: the Admin's)")
    p.add_argument("--plan", default=DEFAULT_PLAN)
    p.add_argument("--seats", type=int, help="the account's own seat limit (default: the plan's)")
    p.add_argument("--operators", type=int, help="its own operator limit (default: the plan's)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_account_create)
    p = account.add_parser("list", help="every account with its plan, usage and activity")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_account_list)
    p = account.add_parser("show", help="one account")
    p.add_argument("name", help="the account's name or id")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_account_show)
    p = account.add_parser("update", help="change an account's plan, limits or domains")
    p.add_argument("name", help="the account's name or id")
    p.add_argument("--plan", help="move to this plan and its limits")
    p.add_argument("--seats", type=int)
    p.add_argument("--operators", type=int)
    p.add_argument("--domain", action="append", help="the account's domains (replaces them)")
    p.add_argument("--force", action="store_true",
                   help="allow a limit below the account's usage (its users stay)")
    p.add_argument("--rate-limit", metavar="PER_SECOND",
                   help="requests per second of each credential (0: none; 'default': the server's)")
    p.add_argument("--rate-burst", metavar="N",
                   help="requests a credential may send at once ('default': the server's)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_account_update)
    for status, verb, doc in (("suspended", "suspend", "refuse every token and sign-in"),
                              ("active", "resume", "end a suspension")):
        p = account.add_parser(verb, help=doc)
        p.add_argument("name", help="the account's name or id")
        p.add_argument("--json", action="store_true")
        p.set_defaults(func=lambda args, status=status: _set_status(args, status))
    p = account.add_parser("delete", help="erase an account and everything of it, irreversibly")
    p.add_argument("name", help="the account's name or id")
    p.add_argument("--yes", action="store_true", help="confirm")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_account_delete)

    plan = sub.add_parser("plan", help="the named plans and their default limits").add_subparsers(
        dest="plan_command", required=True
    )
    p = plan.add_parser("list", help="the plans")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_plan_list)
    p = plan.add_parser("update", help="a plan's limits, for accounts created on it from now on")
    p.add_argument("name")
    p.add_argument("--seats", type=int)
    p.add_argument("--operators", type=int)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_plan_update)

    tokens = sub.add_parser("operator-token", help="the platform API's tokens").add_subparsers(
        dest="operator_token_command", required=True
    )
    p = tokens.add_parser("create", help="issue an operator token (shown once)")
    p.add_argument("--name", help="a label for the token")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_operator_token_create)
    p = tokens.add_parser("revoke", help="revoke an operator token")
    p.add_argument("token_id")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_operator_token_revoke)

    key = sub.add_parser("signing-key", help="the key Security Event Tokens are signed with"
                         ).add_subparsers(dest="signing_key_command", required=True)
    p = key.add_parser("rotate", help="sign with a new key from now on; the earlier keys stay "
                       "in /.well-known/jwks.json so that their SETs still verify (receivers "
                       "fetch the JWKS again when they see a new kid)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_signing_key_rotate)

    db = sub.add_parser("db", help="database maintenance").add_subparsers(dest="db_command", required=True)
    p = db.add_parser("upgrade", help="apply the migrations")
    p.set_defaults(func=cmd_db_upgrade)

    p = sub.add_parser("serve", help="run the server under gunicorn (bootstraps an empty database)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=0)
    p.add_argument("--no-worker", action="store_true",
                   help="do not run a webhook worker beside the server (run `scim-server "
                        "worker` separately)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("worker", help="deliver webhooks (several may run; SIGTERM stops it)")
    p.add_argument("--parent-pid", type=int, help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_worker)
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
