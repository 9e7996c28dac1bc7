"""What a change to the write path costs a SCIM POST and PATCH, side by side with an earlier
checkout: ``python -m bench.write_cost --baseline /path/to/checkout [--rounds 4] [--postgres]
[--quantile 0.5]``.

Each round runs, in a fresh process per tree (its code first on ``sys.path``) and a fresh
database, 200 POSTs then 200 ``PATCH active=false`` through the app in process, and keeps the
median time per request (the first 20 left out as warm-up; ``--quantile`` keeps another).
Rounds alternate the trees so the machine's noise falls on both; prints the median of the rounds and the ratio. ``--postgres``
runs on a throwaway PostgreSQL cluster (tests.pgcluster) instead of SQLite.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REQUESTS, WARM_UP = 200, 20


def _at(values: list[float], quantile: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(quantile * len(ordered)))]


def one_run(url: str | None, quantile: float = 0.5) -> dict[str, float]:
    from scim_server.app import create_app
    from scim_server.cli import create_account
    from scim_server.db import make_session_factory
    from scim_server.migrate import upgrade
    from scim_server.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        url = url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        settings = Settings.from_env({}, database_url=url, secret_key="bench-secret-0123456789",
                                     rate_limit_per_second=10**6, rate_limit_burst=10**6)
        app = create_app(settings)
        upgrade(app.extensions["scim_engine"])
        with make_session_factory(app.extensions["scim_engine"])() as session:
            token = create_account(session, settings, "b" + uuid.uuid4().hex[:8],
                                   "bench.example")["scim_token"]
        client = app.test_client()
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}
        posts, patches, ids = [], [], []
        for n in range(REQUESTS):
            body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": f"u{n}@bench.example", "active": True}
            started = time.perf_counter()
            response = client.post("/scim/v2/Users", headers=headers, data=json.dumps(body))
            posts.append(time.perf_counter() - started)
            ids.append(response.get_json()["id"])
        patch = json.dumps({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                            "Operations": [{"op": "replace", "path": "active", "value": False}]})
        for user_id in ids:
            started = time.perf_counter()
            client.patch(f"/scim/v2/Users/{user_id}", headers=headers, data=patch)
            patches.append(time.perf_counter() - started)
        app.extensions["scim_engine"].dispose()
    return {"post": _at(posts[WARM_UP:], quantile) * 1e3,
            "patch": _at(patches[WARM_UP:], quantile) * 1e3}


def _in(tree: Path, url: str | None, quantile: float) -> dict[str, float]:
    # This file by its path, the tree's code first on sys.path: the baseline need not have it.
    argv = [sys.executable, __file__, "--one-run", url or "sqlite", str(quantile)]
    env = {**os.environ, "PYTHONPATH": str(tree)}
    out = subprocess.run(argv, env=env, capture_output=True, text=True, cwd=tree)
    if out.returncode != 0:
        raise SystemExit(f"{tree}: {out.stderr[-2000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    if sys.argv[1:2] == ["--one-run"]:
        url = sys.argv[2]
        print(json.dumps(one_run(None if url == "sqlite" else url, float(sys.argv[3]))))
        return
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--baseline", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--postgres", action="store_true")
    # On a loaded machine the median drifts with the load; a low quantile (0.1) is the cost of
    # a request the scheduler did not interrupt, steadier from run to run.
    parser.add_argument("--quantile", type=float, default=0.5)
    args = parser.parse_args()
    trees = {"this": ROOT, "baseline": args.baseline.resolve()}
    cluster = None
    if args.postgres:
        sys.path.insert(0, str(ROOT))
        from tests.pgcluster import PgCluster

        cluster = PgCluster()
        cluster.start()
    times: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
    try:
        for number in range(args.rounds):
            order = list(trees) if number % 2 == 0 else list(trees)[::-1]
            for name in order:
                url = None
                if cluster is not None:
                    database = f"bench_{name}_{number}"
                    cluster.create_database(database)
                    url = cluster.url(database)
                times[name].append(_in(trees[name], url, args.quantile))
    finally:
        if cluster is not None:
            cluster.stop()
    print(f"{'postgresql' if cluster else 'sqlite'}, {args.rounds} alternating rounds, "
          f"ms per request at quantile {args.quantile} (median of the rounds)")
    for kind in ("post", "patch"):
        this, base = (statistics.median(r[kind] for r in times[n]) for n in ("this", "baseline"))
        print(f"  {kind:5}: this {this:.2f} ms, baseline {base:.2f} ms, ratio {this / base:.3f}")


if __name__ == "__main__":
    main()
