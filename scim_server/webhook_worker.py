"""The webhook delivery worker (``scim-server worker``): the events of each endpoint, in order,
at least once, signed (Standard Webhooks); retries with backoff; the retention purge.

Its loop: take an endpoint with events after its position (see :mod:`storage.webhooks` for
how several workers share them), send those events one by one over one connection, move the
position past the ones answered 2xx (recorded in small groups), and stop at the first
failure, which schedules the next attempt
``backoff_base * 2^(attempt-1)`` seconds later (capped at ``backoff_max``, times a random
factor in [0.5, 1) so that failed endpoints do not all come back at once). After
``retry_window`` seconds of failure the endpoint is marked failing (Admins see it); its
retries go on at the capped interval, so a receiver that recovers gets every event, in order.

Nothing is lost when a worker dies: the position moves only past events the receiver
answered 2xx, so the event in flight (and any delivered but not yet recorded, at most a
fifth of a second's worth) is sent again by the next worker: at least once; receivers dedup
on ``webhook-id``. SIGTERM stops after the current delivery, and records it.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine

from scim_server.db import reading
from scim_server.domain.actors import as_utc
from scim_server.domain.webhook_transport import Outcome, Sender
from scim_server.domain.webhooks import (
    SecretUnreadable,
    body_of,
    event_document,
    headers_for,
    signing_secrets,
)
from scim_server.settings import Settings
from scim_server.storage import webhooks as store
from scim_server.storage.events import read_events
from scim_server.storage.models import utcnow

log = logging.getLogger("scim_server.webhooks")

BATCH = 100
# Events one worker sends to one endpoint before it lets the others have their turn.
PER_TURN = 1000
PURGE_EVERY = 3600.0
# Deliveries are recorded in groups of at most this many, and at least this often (seconds).
RECORD_EVERY = 50
RECORD_AFTER = 0.2


class Worker:
    def __init__(self, engine: Engine, settings: Settings, *, owner: str | None = None,
                 clock: Callable[[], dt.datetime] = utcnow,
                 jitter: Callable[[], float] = random.random) -> None:
        self.engine, self.settings, self.clock, self.jitter = engine, settings, clock, jitter
        self.owner = owner or f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.server_key = settings.effective_secret_key
        self.lease = dt.timedelta(seconds=settings.webhook_lease)

    # --- the loop --------------------------------------------------------------------------------

    def run(self, stop: threading.Event, *, parent_pid: int | None = None) -> None:
        log.info("webhook worker %s started", self.owner)
        next_purge = 0.0
        while not stop.is_set():
            if parent_pid is not None and os.getppid() != parent_pid:
                log.info("the server that started this worker is gone: stopping")
                break
            worked = False
            try:
                if time.monotonic() >= next_purge:
                    self.purge(stop)
                    next_purge = time.monotonic() + PURGE_EVERY
                worked = self.run_once(stop)
            except Exception:  # the database may be down: keep trying, but not in a busy loop
                log.exception("webhook worker: a turn failed")
            if not worked:
                stop.wait(self.settings.webhook_poll_interval)
        log.info("webhook worker %s stopped", self.owner)

    def run_once(self, stop: threading.Event | None = None) -> bool:
        """Serve one due endpoint; False when none has anything to deliver now."""
        stop = stop or threading.Event()
        now = self.clock()
        with self.engine.begin() as conn:
            endpoint = store.claim_endpoint(conn, owner=self.owner, now=now,
                                            lease_until=now + self.lease)
        if endpoint is None:
            return False
        try:
            self._serve(endpoint, stop)
        finally:
            with self.engine.begin() as conn:
                store.release(conn, endpoint.id, self.owner)
        return True

    def purge(self, stop: threading.Event | None = None) -> int:
        """Events and delivery logs older than the retention period, in short batches."""
        before = self.clock() - dt.timedelta(days=self.settings.event_retention_days)
        total = 0
        while stop is None or not stop.is_set():
            with self.engine.begin() as conn:
                removed = store.purge_before(conn, before)
            total += removed
            if not removed:
                break
        if total:
            log.info("purged %s events and delivery logs older than %s days", total,
                     self.settings.event_retention_days)
        return total

    # --- one endpoint ------------------------------------------------------------------------------

    def _serve(self, endpoint: Any, stop: threading.Event) -> None:
        position, attempts = int(endpoint.position), int(endpoint.attempts or 0)
        first_failure = endpoint.first_failure_at
        failing_since = endpoint.failing_since
        try:
            keys = signing_secrets(endpoint, self.server_key, self.clock())
        except SecretUnreadable as exc:
            self._failed(endpoint, position, attempts + 1, first_failure, failing_since,
                         Outcome(False, None, 0, str(exc)), event=None)
            return
        types = set(endpoint.event_types or ())
        sender = Sender(endpoint.url, timeout=self.settings.webhook_timeout,
                        allow_private=self.settings.webhook_allow_private)
        # One connection for the whole turn (idle, outside any transaction, while a request
        # is out), and deliveries recorded in small groups: with a backlog, a transaction per
        # delivery would bound the rate by database round trips. The position still moves
        # only past events that got their 2xx; a worker killed before recording a group sends
        # those events again (at least once), never skips one.
        conn = self.engine.connect()
        recorded = position  # the endpoint's position in the database
        pending: list[dict[str, Any]] = []
        last_record = time.monotonic()

        def record() -> bool:
            """Write the pending log rows and move the position; False if the endpoint is no
            longer this worker's at ``recorded`` (replayed, or taken over)."""
            nonlocal recorded, pending, last_record
            last_record = time.monotonic()
            if position == recorded and not pending:
                return True
            done = self.clock()
            with conn.begin():
                if pending:
                    store.without_flush_wait(conn)
                    store.log_deliveries(conn, pending)
                held = store.advance(conn, endpoint.id, owner=self.owner,
                                     from_position=recorded, to_position=position, now=done,
                                     lease_until=done + self.lease, delivered=bool(pending))
            pending = []
            recorded = position
            return held

        sent = 0
        try:
            while sent < PER_TURN and not stop.is_set():
                with reading(), conn.begin():
                    rows = read_events(conn, endpoint.account_id, after=position, limit=BATCH)
                if not rows:
                    break
                for row in rows:
                    if stop.is_set():
                        break
                    if types and row.event_type not in types:
                        position = row.position  # passed over, recorded with the next group
                        continue
                    body = body_of(event_document(row))
                    outcome = sender.send(body, headers_for(keys, row.id, body, self.clock()))
                    attempts += 1
                    if not outcome.ok:
                        if record():
                            self._failed(endpoint, position, attempts, first_failure,
                                         failing_since, outcome, event=row)
                        return
                    pending.append(self._log(endpoint, row, attempts, outcome))
                    position, attempts, first_failure, failing_since = row.position, 0, None, None
                    sent += 1
                    if ((len(pending) >= RECORD_EVERY
                         or time.monotonic() - last_record >= RECORD_AFTER)
                            and not record()):
                        return  # replayed or taken over meanwhile: the new state wins
            record()
        finally:
            sender.close()
            conn.close()

    def _failed(self, endpoint: Any, position: int, attempts: int, first_failure: Any,
                failing_since: Any, outcome: Outcome, *, event: Any) -> None:
        now = self.clock()
        first = as_utc(first_failure) if first_failure is not None else now
        s = self.settings
        delay = min(s.webhook_backoff_max, s.webhook_backoff_base * 2 ** min(attempts - 1, 40))
        delay *= 0.5 + self.jitter() / 2
        if failing_since is None and (now - first).total_seconds() >= s.webhook_retry_window:
            failing_since = now
            log.warning("webhook endpoint %s is failing: no 2xx for %s s (%s)", endpoint.id,
                        int(s.webhook_retry_window), outcome.error)
        with self.engine.begin() as conn:
            if event is not None:
                store.log_deliveries(conn, [self._log(endpoint, event, attempts, outcome)])
            store.note_failure(conn, endpoint.id, owner=self.owner, position=position, now=now,
                               attempts=attempts, first_failure_at=first,
                               next_attempt_at=now + dt.timedelta(seconds=delay),
                               failing_since=failing_since, error=outcome.error or "failed")

    def _log(self, endpoint: Any, event: Any, attempt: int, outcome: Outcome) -> dict[str, Any]:
        return {"account_id": endpoint.account_id, "endpoint_id": endpoint.id,
                "event_id": event.id, "position": event.position, "event_type": event.event_type,
                "at": self.clock(), "attempt": attempt, "status_code": outcome.status,
                "duration_ms": outcome.duration_ms, "ok": outcome.ok, "error": outcome.error}
