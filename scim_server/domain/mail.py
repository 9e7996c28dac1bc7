"""Outgoing email: to an SMTP server when ``SCIM_SMTP_URL`` is set, else to the outbox table.

Both are transactional: the outbox row is part of the transaction, and SMTP messages are
queued on the session and only sent after it commits, so a refused or rolled-back change never
mails anyone.
"""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from typing import Protocol
from urllib.parse import urlsplit

from sqlalchemy import event
from sqlalchemy.orm import Session

from scim_server.storage.domain_tables import OutboxEmail
from scim_server.storage.models import Account

SENDER = "no-reply@scim-server.invalid"


class Mailer(Protocol):
    def send(
        self, session: Session, account: Account, *, to: str, subject: str, body: str,
        user_id: str | None = None,
    ) -> None: ...


class OutboxMailer:
    """Keeps every message in the ``outbox`` table (readable at ``GET /api/v1/outbox``)."""

    def send(
        self, session: Session, account: Account, *, to: str, subject: str, body: str,
        user_id: str | None = None,
    ) -> None:
        session.add(OutboxEmail(account_id=account.id, user_id=user_id, to_address=to,
                                subject=subject, body=body))


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
        user_id: str | None = None,
    ) -> None:
        msg = EmailMessage()
        msg["From"] = self.sender
        msg["To"] = to
        msg["Subject"] = subject
        msg.set_content(body)
        queue: list[EmailMessage] = session.info.setdefault("smtp_queue", [])
        if not queue:
            event.listen(session, "after_commit", self._flush_queue, once=True)
            event.listen(session, "after_rollback", self._drop_queue, once=True)
        queue.append(msg)

    def _drop_queue(self, session: Session) -> None:
        session.info.pop("smtp_queue", None)

    def _flush_queue(self, session: Session) -> None:
        queue = session.info.pop("smtp_queue", [])
        if not queue:
            return
        smtp_cls = smtplib.SMTP_SSL if self.ssl else smtplib.SMTP
        with smtp_cls(self.host, self.port, timeout=10) as smtp:
            if self.username:
                smtp.login(self.username, self.password or "")
            for msg in queue:
                smtp.send_message(msg)


def mailer_for(smtp_url: str | None) -> Mailer:
    return SmtpMailer(smtp_url) if smtp_url else OutboxMailer()
