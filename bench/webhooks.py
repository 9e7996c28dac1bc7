"""Webhook delivery: one worker's rate to a loopback receiver, and the delivery lag under load.

``python -m bench.webhooks [--events 5000] [--lag-seconds 10] [--rate 200]
[--postgres | --database-url URL]`` (default: a temporary SQLite file; ``--postgres``: a
throwaway cluster, tests.pgcluster) runs in process, loopback only:

1. **rate**: ``--events`` events are written up front (the events table, as the doors write
   them), then one worker (the same ``Worker`` as ``scim-server worker``, default settings:
   signing, the delivery log, one transaction per delivery) delivers them all to a receiver on
   127.0.0.1 (keep-alive HTTP/1.1, answers 204). Target: at least 500 events/s.
2. **lag**: a writer adds events at ``--rate`` per second for ``--lag-seconds`` while the worker
   runs its loop (default poll interval: 1 s); the lag of an event is its arrival at the
   receiver minus its commit time. Target: p99 under 2 s.

Bounded in count and time; prints the figures and whether each target is met.
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing
import statistics
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sqlalchemy import select

from scim_server.db import make_engine, make_session_factory
from scim_server.domain.actors import Actor
from scim_server.domain.events import CREATE_FULL
from scim_server.domain.webhooks import create_endpoint
from scim_server.migrate import upgrade
from scim_server.settings import Settings
from scim_server.storage.domain_tables import WebhookEndpoint
from scim_server.storage.events import append_events
from scim_server.storage.models import Account, new_id, utcnow
from scim_server.webhook_worker import Worker

KEY = "bench-webhooks-secret-key-0123456789"
RATE_TARGET = 500.0
LAG_TARGET = 2.0


def _receive(port_file: str, log_file: str) -> None:
    """The receiver, in a process of its own (in this one it would compete with the worker for
    the interpreter lock): each message's id and arrival time, one line each."""
    out = open(log_file, "a", buffering=1)  # noqa: SIM115  (open for the process's life)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            out.write(f"{self.headers['webhook-id']} {time.time()}\n")
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    Path(port_file).write_text(str(server.server_port))
    server.serve_forever()


class Receiver:
    def __init__(self, folder: Path) -> None:
        self.log = folder / "arrivals.txt"
        self.log.touch()
        port_file = folder / "port"
        self.process = multiprocessing.Process(target=_receive,
                                               args=(str(port_file), str(self.log)), daemon=True)
        self.process.start()
        deadline = time.monotonic() + 30
        while not port_file.exists() or not port_file.read_text():
            assert time.monotonic() < deadline, "the receiver did not start"
            time.sleep(0.02)
        self.url = f"http://127.0.0.1:{int(port_file.read_text())}/hook"

    def arrivals(self) -> dict[str, float]:
        found: dict[str, float] = {}
        for line in self.log.read_text().splitlines():
            parts = line.split()
            if len(parts) == 2:
                found.setdefault(parts[0], float(parts[1]))
        return found

    def stop(self) -> None:
        self.process.terminate()
        self.process.join(timeout=10)


def _write(factory: Any, account_id: str, n: int) -> list[tuple[str, dt.datetime]]:
    """``n`` create events in one transaction; their ids and commit time."""
    rows = [{"id": new_id(), "at": utcnow(), "door": "scim", "actor_user_id": None,
             "actor_credential_id": None, "client": None, "event_type": CREATE_FULL,
             "resource_type": "User", "resource_id": new_id(), "payload": {},
             "data": {"userName": f"user{i}@bench.test", "active": True}} for i in range(n)]
    with factory() as session:
        append_events(session.connection(), account_id, rows)
        session.commit()
    committed = dt.datetime.now(dt.UTC)
    return [(row["id"], committed) for row in rows]


def _position(factory: Any, endpoint_id: str) -> int:
    with factory() as session:
        return int(session.scalar(select(WebhookEndpoint.position)
                                  .where(WebhookEndpoint.id == endpoint_id)) or 0)


def run(database_url: str, events: int, lag_seconds: float, rate: float,
        folder: Path) -> dict[str, Any]:
    settings = Settings(database_url=database_url, secret_key=KEY, webhook_allow_private=True)
    engine = make_engine(database_url)
    upgrade(engine)
    factory = make_session_factory(engine)
    receiver = Receiver(folder)
    with factory() as session:
        account = Account(name=f"bench-{new_id()[:8]}", domains=["bench.test"])
        session.add(account)
        session.flush()
        endpoint, _secret = create_endpoint(session, account, url=receiver.url,
                                            actor=Actor("cli"), server_key=KEY,
                                            allow_private=True)
        session.commit()
        account_id, endpoint_id = account.id, endpoint.id

    # 1. rate
    for start in range(0, events, 1000):
        _write(factory, account_id, min(1000, events - start))
    worker = Worker(engine, settings)
    started = time.perf_counter()
    deadline = started + 120
    while _position(factory, endpoint_id) < events and time.perf_counter() < deadline:
        worker.run_once()
    elapsed = time.perf_counter() - started
    delivered = _position(factory, endpoint_id)
    per_second = delivered / elapsed if elapsed else 0.0

    # 2. lag under load
    stop = threading.Event()
    loop = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    loop.start()
    written: list[tuple[str, dt.datetime]] = []
    tick = 0.05
    per_tick = max(1, round(rate * tick))
    end = time.monotonic() + lag_seconds
    next_tick = time.monotonic()
    while time.monotonic() < end:
        written += _write(factory, account_id, per_tick)
        next_tick += tick
        time.sleep(max(0.0, next_tick - time.monotonic()))
    wait_until = time.monotonic() + 30
    ids = {i for i, _ in written}
    while time.monotonic() < wait_until and not ids <= receiver.arrivals().keys():
        time.sleep(0.1)
    stop.set()
    loop.join(timeout=30)
    arrivals = receiver.arrivals()
    lags = sorted(arrivals[i] - at.timestamp() for i, at in written if i in arrivals)
    receiver.stop()
    engine.dispose()
    p99 = lags[min(len(lags) - 1, int(len(lags) * 0.99))] if lags else float("inf")
    return {"engine": engine.dialect.name, "events": events, "delivered": delivered,
            "seconds": round(elapsed, 2), "events_per_second": round(per_second, 1),
            "lag_events": len(written), "lag_received": len(lags),
            "lag_median_s": round(statistics.median(lags), 3) if lags else None,
            "lag_p99_s": round(p99, 3)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--lag-seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=200.0, help="events/s during the lag run")
    parser.add_argument("--database-url")
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args(argv)
    cluster = None
    if args.postgres:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from tests.pgcluster import PgCluster

        cluster = PgCluster()
        cluster.start()
        cluster.create_database("bench_webhooks")
    try:
        with tempfile.TemporaryDirectory() as folder:
            url = (cluster.url("bench_webhooks") if cluster else args.database_url
                   or f"sqlite:///{Path(folder) / 'bench.db'}")
            result = run(url, min(args.events, 100_000), min(args.lag_seconds, 120.0),
                         min(args.rate, 5000.0), Path(folder))
    finally:
        if cluster is not None:
            cluster.stop()
    for key, value in result.items():
        print(f"{key}: {value}")
    rate_ok = result["events_per_second"] >= RATE_TARGET
    lag_ok = result["lag_p99_s"] < LAG_TARGET and result["lag_received"] == result["lag_events"]
    print(f"target rate >= {RATE_TARGET:.0f}/s: {'met' if rate_ok else 'NOT met'}")
    print(f"target lag p99 < {LAG_TARGET:.0f} s: {'met' if lag_ok else 'NOT met'}")
    return 0 if rate_ok and lag_ok else 1


if __name__ == "__main__":
    sys.exit(main())
