"""A bounded load generator for loopback HTTP: fixed concurrency, a request cap and a deadline.

The client runs on the same two cores as the server, so one Python process with 16 threads would
measure its own GIL as much as the server. The concurrency is therefore split across a few forked
processes, each running a few threads over ``http.client`` (cheaper per request than httpx). Every
phase stops at whichever comes first: ``max_requests`` sent or ``max_seconds`` elapsed.
"""

from __future__ import annotations

import http.client
import multiprocessing as mp
import queue
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# method, path (with query), body (None for GET)
Request = tuple[str, str, bytes | None]
RequestFactory = Callable[[int], Request]

CONCURRENCY = 16
PROCESSES = 2
REQUEST_TIMEOUT = 60.0


@dataclass(frozen=True)
class Target:
    """Where to send requests and with which headers (bearer token, content type)."""

    host: str
    port: int
    prefix: str  # e.g. "/scim/v2"
    headers: dict[str, str] = field(default_factory=dict)

    def connect(self, timeout: float = REQUEST_TIMEOUT) -> http.client.HTTPConnection:
        assert self.host == "127.0.0.1", "benchmark load goes to loopback only"
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)


@dataclass
class PhaseResult:
    """One run of one phase. ``rps`` counts successful (2xx) responses only."""

    name: str
    sent: int
    ok: int
    seconds: float
    latencies_ms: list[float]
    statuses: dict[int, int]
    error_sample: str | None = None
    timed_out: bool = False

    @property
    def rps(self) -> float:
        return self.ok / self.seconds if self.seconds > 0 else 0.0

    @property
    def p50(self) -> float:
        return percentile(self.latencies_ms, 50)

    @property
    def p99(self) -> float:
        return percentile(self.latencies_ms, 99)

    @property
    def errors(self) -> int:
        return self.sent - self.ok


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    # nearest-rank: p99 of 1,000 samples is the 990th, an observed latency, not an interpolation
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def median(values: list[float]) -> float:
    clean = [v for v in values if v == v]  # drop NaN
    return statistics.median(clean) if clean else float("nan")


def _send(conn: http.client.HTTPConnection, target: Target, req: Request) -> tuple[int, bytes]:
    method, path, body = req
    reused = conn.sock is not None
    try:
        conn.request(method, target.prefix + path, body=body, headers=target.headers)
        response = conn.getresponse()
    except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
        if not reused:
            raise
        # The server closed a kept-alive connection between two requests (keep-alive timeout,
        # worker restart): the request was not read, so sending it again is safe.
        conn.close()
        conn.request(method, target.prefix + path, body=body, headers=target.headers)
        response = conn.getresponse()
    return response.status, response.read()


# A driver opens one connection per slot and performs request ``i`` on it: (status, detail).
Connect = Callable[[], Any]
Perform = Callable[[Any, int], tuple[int, bytes]]


def _worker_process(
    connect: Connect,
    perform: Perform,
    first: int,
    stride: int,
    threads: int,
    max_requests: int,
    deadline: float,
    out: Any,
) -> None:
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    sample: list[str] = []
    lock = threading.Lock()
    bounds: list[float] = []

    def loop(start_index: int) -> None:
        conn = connect()
        mine: list[float] = []
        seen: Counter[int] = Counter()
        t_first = time.monotonic()
        t_last = t_first
        i = start_index
        while i < max_requests and time.monotonic() < deadline:
            t0 = time.monotonic()
            try:
                status, detail = perform(conn, i)
            except Exception as exc:  # noqa: BLE001 - counted as a failed request, reported once
                conn.close()
                conn = connect()
                status, detail = 0, repr(exc).encode()
            t_last = time.monotonic()
            seen[status] += 1
            if 200 <= status < 300:
                mine.append((t_last - t0) * 1000)
            elif not sample:
                sample.append(f"#{i} -> {status}: {detail[:400]!r}")
            i += stride
        conn.close()
        with lock:
            latencies.extend(mine)
            statuses.update(seen)
            bounds.extend((t_first, t_last))

    # slot of process p, thread t is p + t * processes: interleaved, so that a short phase
    # still spreads over every process
    processes = stride // threads
    workers = [
        threading.Thread(target=loop, args=(first + t * processes,)) for t in range(threads)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    out.put((latencies, dict(statuses), sample[0] if sample else None, min(bounds), max(bounds)))


def run_driver(
    name: str,
    connect: Connect,
    perform: Perform,
    *,
    max_requests: int,
    max_seconds: float,
    concurrency: int = CONCURRENCY,
    processes: int = PROCESSES,
) -> PhaseResult:
    """Perform operations 0, 1, ... with ``concurrency`` in flight, until either bound is hit.

    Operation ``i`` runs on slot ``i % concurrency``; each slot runs its operations in order, so
    a factory may rely on distinct indexes (distinct users to create, to PATCH, ...).
    """
    processes = min(processes, concurrency)
    threads = concurrency // processes
    assert threads * processes == concurrency, "concurrency must divide among the processes"
    ctx = mp.get_context("fork")  # fork: the driver (often a closure) is inherited, not pickled
    out = ctx.Queue()
    deadline = time.monotonic() + max_seconds
    children = [
        ctx.Process(
            target=_worker_process,
            args=(connect, perform, p, concurrency, threads, max_requests, deadline, out),
            daemon=True,
        )
        for p in range(processes)
    ]
    for child in children:
        child.start()
    results = []
    timed_out = False
    for _ in children:
        try:
            results.append(out.get(timeout=max_seconds + REQUEST_TIMEOUT + 30))
        except queue.Empty:
            timed_out = True
            break
    for child in children:
        child.join(timeout=5)
        if child.is_alive():
            child.kill()
            timed_out = True
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    sample = None
    starts, ends = [], []
    for lat, st, smp, t0, t1 in results:
        latencies.extend(lat)
        statuses.update(st)
        sample = sample or smp
        starts.append(t0)
        ends.append(t1)
    sent = sum(statuses.values())
    return PhaseResult(
        name=name,
        sent=sent,
        ok=sum(n for s, n in statuses.items() if 200 <= s < 300),
        seconds=(max(ends) - min(starts)) if results else 0.0,
        latencies_ms=latencies,
        statuses=dict(statuses),
        error_sample=sample,
        timed_out=timed_out,
    )


def run_phase(
    name: str,
    target: Target,
    make: RequestFactory,
    *,
    max_requests: int,
    max_seconds: float,
    concurrency: int = CONCURRENCY,
    processes: int = PROCESSES,
    check: Callable[[bytes], bool] | None = None,
) -> PhaseResult:
    """HTTP requests ``make(0)``, ``make(1)``, ... to ``target`` (see :func:`run_driver`).

    ``check`` vets the body of a 2xx answer: a Bulk answers 200 even when its operations fail,
    and a lookup must find its one resource. A body it refuses counts as a failed request.
    """

    def perform(conn: http.client.HTTPConnection, i: int) -> tuple[int, bytes]:
        req = make(i)
        status, body = _send(conn, target, req)
        if 200 <= status < 300 and check is not None and not check(body):
            status = 0
        return status, (b"" if 200 <= status < 300 else f"{req[0]} {req[1][:150]} ".encode() + body)

    return run_driver(
        name,
        target.connect,
        perform,
        max_requests=max_requests,
        max_seconds=max_seconds,
        concurrency=concurrency,
        processes=processes,
    )


class Client:
    """One keep-alive connection for sequential, individually timed requests."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.conn = target.connect()

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any, float]:
        """(status, decoded JSON or None, milliseconds)."""
        import json

        raw = body if body is None or isinstance(body, bytes) else json.dumps(body).encode()
        t0 = time.monotonic()
        try:
            status, data = _send(self.conn, self.target, (method, path, raw))
        except (OSError, http.client.HTTPException):
            # gunicorn sync workers close the connection after each response; reconnect once
            self.conn.close()
            self.conn = self.target.connect()
            t0 = time.monotonic()
            status, data = _send(self.conn, self.target, (method, path, raw))
        ms = (time.monotonic() - t0) * 1000
        try:
            decoded = json.loads(data) if data else None
        except ValueError:
            decoded = data[:500]
        return status, decoded, ms

    def close(self) -> None:
        self.conn.close()
