"""The SCIM request log: what each identity provider sent, what it was answered, redacted.

A request hands its entry to :meth:`RequestLog.record`, which only appends it to a bounded
in-memory buffer (the oldest dropped, and counted, when full); a background thread of the
process drains the buffer every ``flush_interval`` seconds and writes it in one short
transaction. Everything costly (decoding the bodies, redacting them, finding the resources
touched, the scimType and rule id) happens in that thread, never in the request: a request
never waits for the log, and a log failure (its disk full, its table gone, its database
down) is logged and counted, never raised to the request. A killed process loses what its
buffer held: at most ``capacity`` entries, in practice the last ``flush_interval`` seconds.

Redaction: any value under a key naming a password, a secret or a token (at any depth), and
the ``value`` of a PATCH operation whose ``path`` names one, is replaced by ``[REDACTED]``;
headers are never kept (only the User-Agent). A body that is not JSON, or too large to
decode, is kept as text only when it names no secret at all.
"""

from __future__ import annotations

import atexit
import datetime as dt
import functools
import json
import logging
import os
import re
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from scim_server.domain.actors import Actor
from scim_server.domain.audit import record_audit
from scim_server.domain.errors import InvalidInput, NotFound
from scim_server.storage import request_log as store
from scim_server.storage.models import Account, Credential, utcnow

logger = logging.getLogger(__name__)

PROFILES = ("okta", "entra", "google", "jumpcloud", "onelogin", "generic")
REDACTED = "[REDACTED]"
WITHHELD = "[not stored: the body is not JSON, or too large to redact, and names a secret]"

# Keys whose values are secrets, wherever they appear in a body.
_SECRET_KEY = re.compile(r"pass(word|wd|phrase)|secret|token|api_?key|authori[sz]ation|"
                         r"private_?key|^otp$", re.I)
_RULE_ID = re.compile(r"^([a-z_]+(?:\.[a-z_]+)+): ")
_RESOURCE_PATH = re.compile(r"^/scim/v2/(Users|Groups)/([^/?]+)")
_LOCATION_ID = re.compile(r"/(?:Users|Groups)/([^/?\"]+)$")
_ANSWER_ID = re.compile(rb'"id"\s*:\s*"([^"\\]{1,64})"')
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')

# A body larger than this is not decoded by the writer (a full Bulk): it costs the process
# CPU for a log entry cut at ``body_cap`` anyway.
DECODE_LIMIT = 256 * 1024
MAX_RESOURCE_IDS = 200

# User-Agent fragments of each identity provider's provisioning client.
_AGENTS = (
    ("okta", ("okta",)),
    ("entra", ("azure", "microsoft", "entra", "aad")),
    ("google", ("google",)),
    ("jumpcloud", ("jumpcloud",)),
    ("onelogin", ("onelogin",)),
)
# Request shapes only one identity provider sends (see docs/quirks.md).
_SHAPES = {
    "entra-member-remove-by-value": "entra",
    "foreign-schema-dropped": "entra",
    "dotted-path-in-value": "entra",
    "okta-id-in-patch-value": "okta",
}


@functools.lru_cache(maxsize=256)
def _agent_profile(user_agent: str) -> str | None:
    agent = user_agent.lower()
    for profile, fragments in _AGENTS:
        if any(f in agent for f in fragments):
            return profile
    return None


def detect_profile(user_agent: str | None, quirks: Iterable[str] = ()) -> str | None:
    """The identity provider a request comes from, by its User-Agent, else by a request
    shape only one sends; None when nothing tells."""
    found = _agent_profile(user_agent[:200]) if user_agent else None
    if found is not None:
        return found
    for quirk in quirks:
        if quirk in _SHAPES:
            return _SHAPES[quirk]
    return None


# -- redaction ----------------------------------------------------------------------------------

def _names_secret(path: Any) -> bool:
    return isinstance(path, str) and bool(_SECRET_KEY.search(path))


def redact(value: Any) -> Any:
    """A copy of a decoded body with every secret replaced by ``[REDACTED]``."""
    if isinstance(value, dict):
        secret_value = _names_secret(value.get("path"))
        out: dict[str, Any] = {}
        for key, item in value.items():
            if _SECRET_KEY.search(str(key)) or (secret_value and key.lower() == "value"):
                out[key] = REDACTED
            else:
                out[key] = redact(item)
        return out
    if isinstance(value, list):
        return [redact(item) for item in value]
    return value


def redact_query(query: str) -> str:
    """A filter naming a secret keeps its shape, not its values."""
    if query and _SECRET_KEY.search(query):
        return _QUOTED.sub(f'"{REDACTED}"', query)
    return query


def _cut(text: str, cap: int) -> tuple[str, bool]:
    encoded = text.encode()
    if len(encoded) <= cap:
        return text, False
    return encoded[:cap].decode(errors="ignore"), True


# A cheap first look (a case-insensitive regex over the bytes costs more than decoding them):
# a body holding none of these names no secret.
_SECRET_HINTS = (b"pass", b"secret", b"token", b"key", b"authori", b"otp")


def _may_name_secret(raw: bytes) -> bool:
    lowered = raw.lower()
    return any(hint in lowered for hint in _SECRET_HINTS)


def render_body(raw: bytes | None, cap: int, *, decode: bool = True
                ) -> tuple[str | None, bool, Any]:
    """The body as stored (redacted, cut at ``cap`` bytes), whether it was cut, and the
    decoded document (None when it was not JSON). ``decode=False``: the document is not
    needed, and a body naming no secret is kept as it is, without decoding it."""
    if not raw:
        return None, False, None
    if not decode and len(raw) <= DECODE_LIMIT and not _may_name_secret(raw):
        try:
            text, cut = _cut(raw.decode(), cap)
            return text, cut, None
        except UnicodeDecodeError:
            pass
    document: Any = None
    if len(raw) <= DECODE_LIMIT:
        try:
            document = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            document = None
    if document is not None:
        text, cut = _cut(json.dumps(redact(document), ensure_ascii=False), cap)
        return text, cut, document
    text = raw[: cap * 4].decode(errors="replace")
    if _SECRET_KEY.search(text) or len(raw) > cap * 4:
        return WITHHELD, len(raw) > cap, None
    text, cut = _cut(text, cap)
    return text, cut, None


# -- what a request touched ---------------------------------------------------------------------

def _member_values(document: Any) -> list[str]:
    found: list[str] = []
    if not isinstance(document, dict):
        return found
    for key, value in document.items():
        if key.lower() == "members" and isinstance(value, list):  # a group's POST or PUT
            found += [m["value"] for m in value
                      if isinstance(m, dict) and isinstance(m.get("value"), str)]
    operations = document.get("Operations")
    if not isinstance(operations, list):
        return found
    for op in operations:
        if not isinstance(op, dict):
            continue
        value = op.get("value")
        if isinstance(value, dict):
            value = next((v for k, v in value.items() if k.lower() == "members"), None)
        path = str(op.get("path") or "")
        if path and not path.lower().startswith("members"):
            continue
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, dict) and isinstance(item.get("value"), str):
                found.append(item["value"])
        match = re.search(r'value\s+eq\s+"([^"]+)"', path, re.I)
        if match:
            found.append(match.group(1))
    return found


def touched_ids(path: str, request_doc: Any, response_doc: Any) -> list[str]:
    ids: list[str] = []
    match = _RESOURCE_PATH.match(path)
    if match:
        ids.append(match.group(2))
    if isinstance(response_doc, dict):
        if isinstance(response_doc.get("id"), str):
            ids.append(response_doc["id"])
        for op in response_doc.get("Operations") or []:
            if isinstance(op, dict) and isinstance(op.get("location"), str):
                found = _LOCATION_ID.search(op["location"])
                if found:
                    ids.append(found.group(1))
    ids += _member_values(request_doc)
    unique = list(dict.fromkeys(i[:64] for i in ids if i))
    return unique[:MAX_RESOURCE_IDS]


# -- the buffer and its writer ------------------------------------------------------------------

@dataclass
class Captured:
    """A request as the HTTP layer hands it over: references, nothing decoded yet."""

    at: dt.datetime
    account_id: str
    connection_id: str | None
    connection_label: str | None
    user_agent: str | None
    method: str
    path: str
    query: str
    status: int
    duration_ms: float
    quirks: list[str]
    request_body: bytes | None
    response_body: bytes | None

    @property
    def size(self) -> int:
        return len(self.request_body or b"") + len(self.response_body or b"") + 512


@dataclass
class LogStats:
    written: int = 0
    dropped: int = 0  # the buffer was full
    failed: int = 0  # a write failed: the batch is lost
    purged: int = 0
    last_error: str | None = None


@dataclass
class RequestLog:
    """The per-process buffer of the request log and its writer thread."""

    engine: Engine
    own_schema: bool = False
    capacity: int = 10_000
    max_bytes: int = 64 * 1024 * 1024
    flush_interval: float = 1.0
    body_cap: int = 16 * 1024
    retention: dt.timedelta = dt.timedelta(days=30)
    purge_every: float = 3600.0
    clock: Callable[[], dt.datetime] = utcnow
    stats: LogStats = field(default_factory=LogStats)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._buffer: deque[Captured] = deque()
        self._bytes = 0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._flushing = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._last_purge = 0.0
        self._schema_ready = not self.own_schema
        self._detected: dict[str, str] = {}
        self.ensure_schema()

    def ensure_schema(self) -> bool:
        if self._schema_ready:
            return True
        try:
            store.create_schema(self.engine)
        except Exception as exc:  # noqa: BLE001 - a log that cannot start is reported, not fatal
            self._failed(exc, 0)
            return False
        self._schema_ready = True
        return True

    # -- the request's side: append, never wait --------------------------------------------

    def record(self, entry: Captured) -> None:
        if os.getpid() != self._pid:
            self._after_fork()
        with self._lock:
            self._buffer.append(entry)
            self._bytes += entry.size
            while len(self._buffer) > self.capacity or (
                    self._bytes > self.max_bytes and len(self._buffer) > 1):
                old = self._buffer.popleft()
                self._bytes -= old.size
                self.stats.dropped += 1
        if self._thread is None:
            self._start()

    @property
    def pending(self) -> int:
        return len(self._buffer)

    def _after_fork(self) -> None:
        # A forked child shares no connection, buffer or thread with its parent.
        self.engine.dispose(close=False)
        self._pid = os.getpid()
        self._buffer = deque()
        self._bytes = 0
        self._thread = None
        self._lock = threading.Lock()
        self._flushing = threading.Lock()

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._run, name="scim-request-log",
                                            daemon=True)
            self._thread.start()
        # An orderly exit (a worker stopped or recycled) writes its buffer first.
        atexit.register(_close_at_exit, weakref.ref(self))

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.flush_interval)
            self._wake.clear()
            try:
                self.flush()
                self.maybe_purge()
            except Exception as exc:  # noqa: BLE001 - the thread must outlive any fault
                self._failed(exc, 0)

    def close(self) -> None:
        """Write what the buffer holds and stop the writer (tests, an orderly shutdown)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.flush()

    # -- the writer's side ------------------------------------------------------------------

    def flush(self) -> int:
        """Write the buffered entries; how many were written (0 on a failure, counted)."""
        with self._flushing:
            with self._lock:
                batch = list(self._buffer)
                self._buffer.clear()
                self._bytes = 0
            if not batch:
                return 0
            fresh: list[str] = []
            try:
                if not self.ensure_schema():
                    raise RuntimeError("the request log's schema could not be created")
                self._load_profiles(batch)
                rows = [self._row(entry, fresh) for entry in batch]
                store.insert_rows(self.engine, rows_for_insert(rows))
            except Exception as exc:  # noqa: BLE001 - a log failure never reaches a request
                for connection_id in fresh:
                    self._detected.pop(connection_id, None)
                if self.own_schema:
                    self._schema_ready = False  # a dropped table is made again next time
                self._failed(exc, len(batch))
                return 0
            self.stats.written += len(rows)
            try:
                self._remember_profiles(rows)
            except Exception as exc:  # noqa: BLE001 - detected again from a later request
                for connection_id in fresh:
                    self._detected.pop(connection_id, None)
                self._failed(exc, 0)
            return len(rows)

    def _failed(self, exc: BaseException, lost: int) -> None:
        self.stats.failed += lost
        self.stats.last_error = f"{type(exc).__name__}: {str(exc)[:300]}"
        logger.warning("request log: %d entries not written: %s", lost, self.stats.last_error)

    def _load_profiles(self, batch: list[Captured]) -> None:
        """The profiles other processes (or earlier runs) detected for the batch's
        connections this process has not seen tell yet."""
        unknown = {e.connection_id for e in batch
                   if e.connection_id is not None and e.connection_id not in self._detected}
        if unknown:
            self._detected.update(store.detected_profiles(self.engine, sorted(unknown)))

    def _row(self, entry: Captured, fresh: list[str]) -> dict[str, Any]:
        # A body is decoded only when something in it is needed: a secret to redact, a
        # group's members, a Bulk's locations, an error's scimType; a user's create or read
        # names its resource in the path or in its answer's "id".
        decode = "/Groups" in entry.path or entry.path.endswith("/Bulk")
        request_text, request_cut, request_doc = render_body(
            entry.request_body, self.body_cap, decode=decode)
        response_text, response_cut, response_doc = render_body(
            entry.response_body, self.body_cap, decode=decode or entry.status >= 400)
        created = None
        if response_doc is None and entry.method == "POST" and entry.response_body:
            found = _ANSWER_ID.search(entry.response_body[:DECODE_LIMIT])
            created = found.group(1).decode(errors="replace") if found else None
        scim_type = rule = None
        if entry.status >= 400 and isinstance(response_doc, dict):
            if isinstance(response_doc.get("scimType"), str):
                scim_type = response_doc["scimType"][:60]
            match = _RULE_ID.match(str(response_doc.get("detail") or ""))
            if match:
                rule = match.group(1)[:80]
        signal = detect_profile(entry.user_agent, entry.quirks)
        connection_id = entry.connection_id
        new = signal is not None and connection_id is not None \
            and connection_id not in self._detected
        if new:
            # The first request of a connection that tells its identity provider decides its
            # detected profile (an Admin may set another).
            self._detected[str(connection_id)] = str(signal)
            fresh.append(str(connection_id))
        profile = signal or (self._detected.get(connection_id) if connection_id else None)
        return {
            "account_id": entry.account_id,
            "at": entry.at,
            "connection_id": entry.connection_id,
            "connection_label": (entry.connection_label or "")[:200] or None,
            "profile": profile or "generic",
            "user_agent": (entry.user_agent or "")[:200] or None,
            "method": entry.method[:10],
            "path": entry.path[:400],
            "query": redact_query(entry.query)[:4000] or None,
            "status": entry.status,
            "status_class": min(max(entry.status // 100, 1), 5),
            "scim_type": scim_type,
            "rule": rule,
            "duration_ms": round(entry.duration_ms, 3),
            "quirks": list(entry.quirks),
            "resource_ids": touched_ids(entry.path, request_doc,
                                        response_doc if created is None else {"id": created}),
            "request_body": request_text,
            "request_truncated": request_cut,
            "response_body": response_text,
            "response_truncated": response_cut,
            # Not a column: the connection's first detection, to record once written.
            "_detected": signal if new else None,
        }

    def _remember_profiles(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            if row.get("_detected"):
                store.record_detected(self.engine, row["account_id"], row["connection_id"],
                                      row["_detected"], row["at"])

    def maybe_purge(self, *, force: bool = False) -> int:
        now = time.monotonic()
        if not force and now - self._last_purge < self.purge_every:
            return 0
        self._last_purge = now
        if not self.ensure_schema():
            return 0
        gone = store.purge_before(self.engine, self.clock() - self.retention)
        self.stats.purged += gone
        return gone


def _close_at_exit(ref: weakref.ref[RequestLog]) -> None:
    log = ref()
    if log is not None and log._pid == os.getpid():
        log.close()


def rows_for_insert(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in row.items() if not k.startswith("_")} for row in rows]


# -- reading it ---------------------------------------------------------------------------------

PAGE_LIMIT = 500


def list_requests(log: RequestLog, account: Account, *, limit: int = 50,
                  **filters: Any) -> tuple[list[dict[str, Any]], int | None]:
    """A page of the account's requests, newest first, and the cursor of the next page."""
    where = store.RequestFilter(**filters)
    rows = store.list_rows(log.engine, account.id, where, min(limit, PAGE_LIMIT) + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1]["id"] if more and rows else None)


def get_request(log: RequestLog, account: Account, request_id: int) -> dict[str, Any]:
    row = store.get_row(log.engine, account.id, request_id)
    if row is None:
        raise NotFound("no request %(id)s", params={"id": request_id})
    return row


# -- connections --------------------------------------------------------------------------------

@dataclass(frozen=True)
class ConnectionView:
    id: str
    label: str | None
    prefix: str
    profile: str
    profile_source: str  # admin | detected | default
    detected_profile: str | None
    last_request: dict[str, Any] | None
    requests_24h: int
    errors_24h: int

    @property
    def error_rate_24h(self) -> float | None:
        return None if not self.requests_24h else self.errors_24h / self.requests_24h


def _scim_tokens(session: Session, account: Account) -> list[Credential]:
    return list(session.scalars(
        select(Credential).where(Credential.account_id == account.id, Credential.kind == "scim",
                                 Credential.revoked_at.is_(None))
        .order_by(Credential.created_at, Credential.id)))


def _view(cred: Credential, detected: dict[str, str],
          activity: dict[str, dict[str, Any]]) -> ConnectionView:
    found = detected.get(cred.id)
    if cred.idp_profile:
        profile, source = cred.idp_profile, "admin"
    elif found:
        profile, source = found, "detected"
    else:
        profile, source = "generic", "default"
    seen = activity.get(cred.id) or {"last": None, "total": 0, "errors": 0}
    return ConnectionView(cred.id, cred.name, cred.prefix, profile, source, found, seen["last"],
                          seen["total"], seen["errors"])


def _log_view(log: RequestLog | None, account: Account, ids: list[str],
              now: dt.datetime) -> tuple[dict[str, str], dict[str, dict[str, Any]]]:
    """What the log knows of the connections; nothing when the log cannot be read (a log
    fault never takes a page down with it)."""
    if log is None:
        return {}, {}
    try:
        return (store.detected_profiles(log.engine, ids),
                store.connection_activity(log.engine, account.id, ids,
                                          now - dt.timedelta(hours=24)))
    except Exception as exc:  # noqa: BLE001
        logger.warning("request log unreadable: %s", exc)
        return {}, {}


def list_connections(session: Session, account: Account, log: RequestLog | None, *,
                     now: dt.datetime | None = None) -> list[ConnectionView]:
    """Each unrevoked SCIM token of the account is a connection."""
    tokens = _scim_tokens(session, account)
    detected, activity = _log_view(log, account, [t.id for t in tokens], now or utcnow())
    return [_view(t, detected, activity) for t in tokens]


def get_connection(session: Session, account: Account, log: RequestLog | None,
                   connection_id: str, *, now: dt.datetime | None = None) -> ConnectionView:
    cred = session.get(Credential, connection_id)
    if cred is None or cred.account_id != account.id or cred.kind != "scim" \
            or cred.revoked_at is not None:
        raise NotFound("no connection %(id)s", params={"id": connection_id})
    detected, activity = _log_view(log, account, [cred.id], now or utcnow())
    return _view(cred, detected, activity)


def set_connection_profile(session: Session, account: Account, log: RequestLog | None,
                           connection_id: str, profile: str | None, *,
                           actor: Actor) -> ConnectionView:
    """The Admin's choice of a connection's profile; None returns it to the detected one.
    A profile names the identity provider: the server accepts every quirk under each."""
    if profile is not None and profile not in PROFILES:
        raise InvalidInput("profile must be one of %(profiles)s", field="profile",
                           params={"profiles": ", ".join(PROFILES)})
    current = get_connection(session, account, log, connection_id)
    cred = session.get(Credential, connection_id)
    assert cred is not None
    before = cred.idp_profile
    cred.idp_profile = profile
    record_audit(session, account, actor=actor, action="connection.profile",
                 target_type="credential", target_id=cred.id,
                 before={"profile": before}, after={"profile": profile})
    session.flush()
    return ConnectionView(current.id, current.label, current.prefix,
                          profile or current.detected_profile or "generic",
                          "admin" if profile else ("detected" if current.detected_profile
                                                   else "default"),
                          current.detected_profile, current.last_request,
                          current.requests_24h, current.errors_24h)
