"""Outgoing email: to an SMTP server when ``SCIM_SMTP_URL`` is set, else nowhere.

Without SMTP (the default) a message is not sent: the ``outbox`` table keeps a copy with its
link withheld (``GET /api/v1/outbox`` shows what would have gone out, to whom), and the whole
message, link included, is written to the server log, for development only. The links are
credentials: whoever follows an email-change link confirms an address, so no stored copy and no
API answer may hold one, or an Admin could confirm an address nobody controls.

Both are transactional: the outbox row is part of the transaction, and the log line and SMTP
messages are queued on the session and only written or sent after it commits, so a refused or
rolled-back change mails (and logs) nothing.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Callable
from email.message import EmailMessage
from typing import Any, Protocol
from urllib.parse import urlsplit

from sqlalchemy import event
from sqlalchemy.orm import Session

from scim_server.storage.domain_tables import OutboxEmail
from scim_server.storage.models import Account

SENDER = "no-reply@scim-server.invalid"
WITHHELD = "[link withheld: mail is not configured]"
# The development copy of unsent mail; tests read the records' ``mail`` attribute.
log = logging.getLogger("scim_server.mail")


class Mailer(Protocol):
    def send(
        self, session: Session, account: Account, *, to: str, subject: str, body: str,
        user_id: str | None = None, secret: str | None = None,
    ) -> None:
        """Mail ``body`` once the session commits. ``secret`` (a token inside the body) is
        kept out of anything stored."""


def _after_commit(session: Session, key: str, item: Any,
                  deliver: Callable[[list[Any]], None]) -> None:
    """Queue ``item`` on the session; ``deliver`` gets the queue once it commits, a rollback
    drops it."""
    queue: list[Any] = session.info.setdefault(key, [])
    if not queue:
        def flush(committed: Session) -> None:
            items = committed.info.pop(key, [])
            if items:
                deliver(items)

        def drop(rolled_back: Session) -> None:
            rolled_back.info.pop(key, None)

        event.listen(session, "after_commit", flush, once=True)
        event.listen(session, "after_rollback", drop, once=True)
    queue.append(item)


class OutboxMailer:
    """No SMTP: a copy without the link in the ``outbox`` table, the whole message in the
    server log (development only: the log is the one place the link appears)."""

    def send(
        self, session: Session, account: Account, *, to: str, subject: str, body: str,
        user_id: str | None = None, secret: str | None = None,
    ) -> None:
        stored = body.replace(secret, WITHHELD) if secret else body
        session.add(OutboxEmail(account_id=account.id, user_id=user_id, to_address=to,
                                subject=subject, body=stored))
        _after_commit(session, "dev_mail_log", {"to": to, "subject": subject, "body": body},
                      _log_mail)


def _log_mail(messages: list[dict[str, str]]) -> None:
    for mail in messages:
        log.warning(
            "mail not sent (SCIM_SMTP_URL is unset); development copy, do not use in "
            "production:\nTo: %s\nSubject: %s\n\n%s", mail["to"], mail["subject"],
            mail["body"], extra={"mail": mail},
        )


class SmtpMailer:
    """Sends through ``smtp://host:port`` (or ``smtps://``) once the session commits."""

    def __init__(self, url: str, sender: str = SENDER) -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or "localhost"
        self.ssl = parts.scheme == "smtps"
        self.port = parts.port or (465 if self.ssl else 25)
        self.username = parts.username
        self.password = parts.password
        self.sender = sender

    def send(
        self, session: Session, account: Account, *, to: str, subject: str, body: str,
        user_id: str | None = None, secret: str | None = None,
    ) -> None:
        msg = EmailMessage()
        msg["From"] = self.sender
        msg["To"] = to
        msg["Subject"] = subject
        msg.set_content(body)
        _after_commit(session, "smtp_queue", msg, self._send_all)

    def _send_all(self, queue: list[EmailMessage]) -> None:
        smtp_cls = smtplib.SMTP_SSL if self.ssl else smtplib.SMTP
        with smtp_cls(self.host, self.port, timeout=10) as smtp:
            if self.username:
                smtp.login(self.username, self.password or "")
            for msg in queue:
                smtp.send_message(msg)


def mailer_for(smtp_url: str | None) -> Mailer:
    return SmtpMailer(smtp_url) if smtp_url else OutboxMailer()
