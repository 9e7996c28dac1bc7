"""One command for issue 6's benchmark: ``python -m bench.run [--quick] [--engines sqlite,postgresql]``.

Runs, in one invocation: the trivial-Flask floor, the reference server (scim2-server, in memory),
our server on each engine, and the raw-SQL floor; prints the table, saves the figures as JSON
under ``bench/results/`` and renders ``bench/RESULTS.md`` from every saved run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sqlite3
import tempfile
import time
from dataclasses import replace
from importlib.metadata import version
from pathlib import Path
from typing import Any

import psutil

from bench import report
from bench.load import Target, median, run_driver, run_phase
from bench.servers import HOST, Server, our_server, reference_server, trivial_server
from bench.workload import BULK_SCHEMA, Sizes, Workload, hub_timing, user_doc, user_name

HERE = Path(__file__).resolve().parent
RESULTS_DIR = HERE / "results"
SCIM_JSON = "application/scim+json"


def log(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {message}", flush=True)


def default_workers() -> int:
    # The deployment's rule (deploy/gunicorn.conf.py): 2 × cores + 1, at most 8.
    return min(2 * (os.cpu_count() or 1) + 1, 8)


def scim_target(server: Server, prefix: str) -> Target:
    return Target(HOST, server.port, prefix, {**server.headers, "Content-Type": SCIM_JSON})


def memory_figures(server: Server) -> dict[str, float]:
    watch = server.memory
    assert watch is not None
    mb = 1024 * 1024
    return {
        "rss_worker_end_mb": max(watch.last_workers.values(), default=0) / mb,
        "rss_worker_peak_mb": watch.peak_worker / mb,
        "rss_peak_total_mb": watch.peak_total / mb,
        "rss_master_mb": watch.master_rss / mb,
    }


# -- anchors ---------------------------------------------------------------------------------


def trivial_floor(workers: int, runs: int, log_dir: Path) -> dict[str, Any]:
    server = trivial_server(workers, log_dir)
    server.start()
    try:
        target = Target(HOST, server.port, "")
        results = [run_phase("trivial", target, lambda i: ("GET", "/ping", None),
                             max_requests=10_000, max_seconds=10) for _ in range(runs)]
    finally:
        server.stop()
    figures = {
        "trivial.rps": median([r.rps for r in results]),
        "trivial.p50": median([r.p50 for r in results]),
        "trivial.p99": median([r.p99 for r in results]),
    }
    log(f"trivial Flask floor: {figures['trivial.rps']:.0f} req/s, p99 {figures['trivial.p99']:.1f} ms")
    return figures


def raw_sql_floor(engine: str, url: str, account_id: str, n: int, runs: int) -> dict[str, Any]:
    """The userName lookup as one indexed SELECT of the stored document, 16 connections."""
    domain = "bench.example"
    if engine == "postgresql":
        import psycopg

        conninfo = url.replace("postgresql+psycopg://", "postgresql://")

        def connect() -> Any:
            return psycopg.connect(conninfo, autocommit=True)

        query = "SELECT id, data FROM users WHERE account_id = %s AND user_name_key = %s"
    else:
        path = url.removeprefix("sqlite:///")

        def connect() -> Any:
            return sqlite3.connect(path, timeout=30)

        query = "SELECT id, data FROM users WHERE account_id = ? AND user_name_key = ?"

    def perform(conn: Any, i: int) -> tuple[int, bytes]:
        key = user_name((i * 7919) % n, domain)
        row = conn.execute(query, (account_id, key)).fetchone()
        return (200, b"") if row else (404, key.encode())

    results = [run_driver("raw SQL", connect, perform, max_requests=20_000, max_seconds=10)
               for _ in range(runs)]
    return {
        "rawsql.qps": median([r.rps for r in results]),
        "rawsql.p99": median([r.p99 for r in results]),
        "rawsql.errors": sum(r.errors for r in results),
    }


# -- one server --------------------------------------------------------------------------------


def run_workload(wl: Workload, cursor: bool) -> None:
    wl.seed_bulk()
    wl.seed_posts()
    wl.paging(cursor_supported=cursor)
    wl.lookups(groups=False)  # before the groups: a server that stops there still has these
    wl.seed_groups()
    wl.lookups(users=False)
    wl.membership()
    wl.group_reads()
    wl.user_writes()


def run_reference(sizes: Sizes, log_dir: Path) -> dict[str, Any]:
    # Its in-memory store sorts every resource for every page: at 100,000 users one walk would
    # take over an hour. Capped walks still give its pages/s; the cap is noted with the figures.
    sizes = replace(sizes, walk_seconds=min(sizes.walk_seconds, 60.0))
    server = reference_server(log_dir)
    server.start()
    wl = Workload("reference", scim_target(server, "/v2"), "bench.example", sizes, log)
    try:
        run_workload(wl, cursor=True)
    except Exception as exc:  # noqa: BLE001 - the anchor's failure is a finding, not a crash
        wl.notes.append(f"stopped early: {exc}")
        log(f"reference stopped early: {exc}")
    finally:
        wl.close()
        server.stop()
    return {**wl.m, **memory_figures(server), "notes": wl.notes}


def seed_small_account(server: Server, token: str, users: int = 1000) -> None:
    target = Target(HOST, server.port, "/scim/v2",
                    {"Authorization": f"Bearer {token}", "Content-Type": SCIM_JSON})

    def body(j: int) -> bytes:
        ops = [{"method": "POST", "path": "/Users", "bulkId": f"s{i}",
                "data": user_doc(i, "small.example")} for i in range(j * 500, (j + 1) * 500)]
        return json.dumps({"schemas": [BULK_SCHEMA], "Operations": ops}).encode()

    run_phase("small account", target, lambda j: ("POST", "/Bulk", body(j)),
              max_requests=users // 500, max_seconds=120)


BASELINE = " (before)"


def run_ours(engine: str, sizes: Sizes, workers: int, log_dir: Path, profile: bool,
             runs: int, *, root: Path | None = None) -> dict[str, Any]:
    """Our server on one engine; ``root``: an earlier checkout's code instead of this one's."""
    cluster = None
    if engine == "postgresql":
        from tests.pgcluster import PgCluster

        cluster = PgCluster()
        cluster.start()
        cluster.create_database("bench")
        url = cluster.url("bench")
    else:
        url = f"sqlite:///{log_dir / 'bench.db'}"
    figures: dict[str, Any] = {}
    try:
        server, accounts = (our_server(url, workers, log_dir, root=root) if root
                            else our_server(url, workers, log_dir))
        server.start()
        wl = Workload(f"ours/{engine}{BASELINE if root else ''}", scim_target(server, "/scim/v2"), "bench.example", sizes,
                      log)
        try:
            seed_small_account(server, accounts["small"]["scim_token"])
            run_workload(wl, cursor=True)
            for key, account in (("hub_small.ms", "small"), ("hub_big.ms", "bench")):
                hub = hub_timing(Target(HOST, server.port, "",
                                        {"Authorization": f"Bearer {accounts[account]['api_token']}"}))
                wl.m[key] = hub if hub is not None else "n/a (not implemented)"
            log(f"  hub: {wl.m['hub_small.ms']} / {wl.m['hub_big.ms']}")
            if profile:
                hub_target = Target(HOST, server.port, "", {
                    "Authorization": f"Bearer {accounts['bench']['api_token']}"})
                wl.m["profiles"] = profile_phases(server, wl, log_dir, hub_target)
        except Exception as exc:  # noqa: BLE001 - report what was measured, and why it stopped
            wl.notes.append(f"stopped early: {exc}")
            log(f"ours/{engine} stopped early: {exc}\n{server.log_tail(15)}")
        finally:
            wl.close()
            server.stop()
        figures = {**wl.m, **memory_figures(server), "notes": wl.notes}
        figures.update(raw_sql_floor(engine, url, accounts["bench"]["account_id"],
                                     sizes.users, runs))
        log(f"  raw SQL floor ({engine}): {figures['rawsql.qps']:.0f} queries/s")
    finally:
        if cluster is not None:
            cluster.stop()
    return figures


def profile_phases(server: Server, wl: Workload, log_dir: Path,
                   hub_target: Target | None = None) -> dict[str, Any]:
    """Re-run the phases that matter with py-spy on every worker; the hottest frames of each."""
    from bench.profile import WorkerProfile, summarize

    summaries: dict[str, Any] = {}
    n, domain = wl.sizes.users, wl.domain
    patch_body = json.dumps({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                             "Operations": [{"op": "replace", "path": "active",
                                             "value": True}]}).encode()
    from urllib.parse import quote

    bulk_base = 20 * n

    def bulk(i: int) -> Any:
        ops = [{"method": "POST", "path": "/Users", "bulkId": f"p{k}",
                "data": user_doc(bulk_base + 100 * i + k, domain)} for k in range(100)]
        return "POST", "/Bulk", json.dumps({"schemas": [BULK_SCHEMA], "Operations": ops}).encode()

    phases = {
        "bulk_seed": bulk,
        "lookup_username": lambda i: ("GET", "/Users?filter=" + quote(
            f'userName eq "{user_name((i * 7919) % n, domain)}"', safe=""), None),
        "patch_user": lambda i: ("PATCH", f"/Users/{wl.ids[i % n]}", patch_body),
        "pages_index": lambda i: ("GET", f"/Users?count=100&startIndex={1 + 100 * (i % min(n // 100, 100))}",
                                  None),
        "post_user": lambda i: ("POST", "/Users", json.dumps(
            user_doc(10 * n + i, domain)).encode()),
    }
    targets = {label: wl.target for label in phases}
    if hub_target is not None:
        phases["hub_summary"] = lambda i: ("GET", "/api/v1/hub", None)
        targets["hub_summary"] = hub_target
    for label, make in phases.items():
        prof = WorkerProfile(server.worker_pids(), 8, log_dir / "profiles", label)
        time.sleep(0.5)  # let py-spy attach before the load starts
        run_phase(f"profile {label}", targets[label], make, max_requests=100_000, max_seconds=7)
        summaries[label] = summarize(prof.wait())
        log(f"  profiled {label}: {summaries[label]['samples']} samples")
    return summaries


# -- report ------------------------------------------------------------------------------------


def environment(workers: int) -> dict[str, Any]:
    def v(pkg: str) -> str:
        try:
            return version(pkg)
        except Exception:  # noqa: BLE001
            return "?"

    pg = "?"
    try:
        from tests.pgcluster import find_bin_dir

        bin_dir = find_bin_dir()
        pg = bin_dir.parent.name if bin_dir else "not found"
    except Exception:  # noqa: BLE001
        pass
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores (nproc), "
                   f"{psutil.virtual_memory().total / 2**30:.1f} GiB RAM, {platform.platform()}",
        "python": platform.python_version(),
        "versions": ", ".join(f"{p} {v(p)}" for p in (
            "scim-server", "scim2-server", "scim2-models", "flask", "gunicorn", "sqlalchemy",
            "psycopg")) + f", SQLite {sqlite3.sqlite_version}, PostgreSQL {pg}",
        "gunicorn": f"deploy/gunicorn.conf.py (gthread), {workers} workers for ours and the "
                    "trivial floor, 1 worker for the reference (in-memory storage is per process); "
                    "worker recycling off (SCIM_MAX_REQUESTS=0) so memory growth stays visible",
        "load_average": " ".join(f"{x:.1f}" for x in os.getloadavg()),
        "client": "127.0.0.1, 16 concurrent requests (2 processes × 8 threads, http.client, "
                  "keep-alive)",
    }


def with_ratios(figures: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    """A column's figures with the ratios issue 10 sets its targets in: to the trivial floor
    and to the reference, both measured in the same run."""
    out = dict(figures)
    trivial = data["anchors"].get("trivial.rps")
    reference = data.get("reference") or {}
    for phase in ("lookup_username", "post_user", "patch_user", "put_user"):
        rps = figures.get(f"{phase}.rps")
        if isinstance(rps, int | float) and trivial:
            out[f"{phase}.floor"] = rps / trivial
        if isinstance(rps, int | float) and reference.get(f"{phase}.rps"):
            out[f"{phase}.reference"] = rps / reference[f"{phase}.rps"]
    return out


def render(runs: dict[str, dict[str, Any]]) -> str:
    out = ["# Benchmark results (issue 6)", "",
           "Generated by `python -m bench.run` from the JSON files in `bench/results/`; "
           "the analysis at the end is `bench/analysis.md`.", ""]
    # full runs first, then the quick ones; a file's stem names its run
    for mode in sorted(runs, key=lambda stem: (not stem.startswith("full"), stem)):
        data = runs[mode]
        env = data["environment"]
        out += [f"## Run `{mode}`: {data['users']:,} users, engines {', '.join(data['engines'])}",
                "",
                f"- date: {env['date']}", f"- machine: {env['machine']}",
                f"- versions: Python {env['python']}, {env['versions']}",
                f"- gunicorn: {env['gunicorn']}", f"- client: {env['client']}",
                f"- load average (1/5/15 min; the machine is shared with other work): "
                f"{env.get('load_average', '?')}",
                f"- every figure is the median of {data['runs']} runs unless it says "
                "\"once\"; ratios are taken within this run", ""]
        columns: dict[str, dict[str, Any]] = {}
        for engine in data["engines"]:
            columns[f"ours {engine}"] = with_ratios(data["ours"][engine], data)
        if data.get("reference"):
            columns["reference (scim2-server, memory)"] = data["reference"]
        verdict_cols = [c for c in columns if c.startswith("ours")]
        out += [report.table(columns, verdict_cols), ""]
        if data["users"] < 100_000:
            out += ["Targets are stated for PostgreSQL at 100,000 users; at 10,000 users the "
                    "verdicts are indicative. The /Bulk target (100,000 users in under a minute) "
                    "is checked as a rate: at least 1,667 users/s.", ""]
        out += ["### Floors, same run", "", "| Floor | value | ours userName eq / floor |",
                "|---|---|---|"]
        trivial = data["anchors"]["trivial.rps"]
        out.append(f"| trivial Flask endpoint, same gunicorn settings | "
                   f"{report.fmt(trivial)} req/s (p99 {report.fmt(data['anchors']['trivial.p99'])} ms)"
                   f" | " + ", ".join(
                       f"{e}: {data['ours'][e]['lookup_username.rps'] / trivial:.2f}"
                       for e in data["engines"] if "lookup_username.rps" in data["ours"][e])
                   + " (target ≥ 0.40) |")
        for engine in data["engines"]:
            figures = data["ours"][engine]
            if "rawsql.qps" in figures:
                ratio = figures.get("lookup_username.rps", 0) / figures["rawsql.qps"]
                out.append(f"| same userName lookup as raw SQL ({engine}, 16 connections) | "
                           f"{report.fmt(figures['rawsql.qps'])} queries/s | {ratio:.3f} |")
        ref = data.get("reference") or {}
        compared = []
        for e in data["engines"]:
            ours = data["ours"][e]
            pairs = [f"{label} {ours[key] / ref[key]:.2f}×" for label, key in (
                ("userName eq", "lookup_username.rps"), ("POST", "post_user.rps"),
                ("/Bulk", "bulk_seed.rps"), ("pages by index", "pages_index.rps"),
                ("PATCH active", "patch_user.rps")) if ours.get(key) and ref.get(key)]
            if pairs:
                compared.append(f"{e}: " + ", ".join(pairs))
        if compared:
            out += ["", "Ours against the reference, same run (ours / reference): "
                    + "; ".join(compared)]
        out.append("")
        notes = [(name, n) for name, figs in [*[(f"ours {e}", data["ours"][e])
                                                for e in data["engines"]],
                                              ("reference", ref)]
                 for n in figs.get("notes", [])]
        if notes:
            out += ["### Errors and caps", ""] + [f"- {name}: {n}" for name, n in notes] + [""]
        for engine in data["engines"]:
            profiles = data["ours"][engine].get("profiles")
            if not profiles:
                continue
            out += [f"### Profiles, ours on {engine} (py-spy on every worker, 200 Hz)", ""]
            for phase, prof in profiles.items():
                out += [f"**{phase}** ({prof['samples']} samples) — hottest frames, inclusive:",
                        "", "```"]
                out += [f"{share:5.1f}%  {frame}" for share, frame in prof["inclusive"]]
                out += ["```", "", "self time:", "", "```"]
                out += [f"{share:5.1f}%  {frame}" for share, frame in prof["self"][:10]]
                out += ["```", ""]
                if prof.get("driver_by_caller"):
                    out += [f"database driver (psycopg/sqlite3 and its socket wait): "
                            f"{prof['driver_share']:.0f}% of samples; by our deepest caller:",
                            "", "```"]
                    out += [f"{share:5.1f}%  {frame}" for share, frame in prof["driver_by_caller"]]
                    out += ["```", ""]
    analysis = HERE / "analysis.md"
    if analysis.exists():
        out += [analysis.read_text().strip(), ""]
    return "\n".join(out)


def print_table(data: dict[str, Any]) -> None:
    columns = {f"ours {e}": data["ours"][e] for e in data["engines"]}
    if data.get("reference"):
        columns["reference"] = data["reference"]
    print()
    print(report.table(columns, [c for c in columns if c.startswith("ours")]))
    for name, figures in columns.items():
        for note in figures.get("notes", []):
            print(f"{name}: {note}")
    print(f"\ntrivial Flask floor: {data['anchors']['trivial.rps']:.0f} req/s")
    for e in data["engines"]:
        if "rawsql.qps" in data["ours"][e]:
            print(f"raw SQL floor ({e}): {data['ours'][e]['rawsql.qps']:.0f} queries/s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="10,000 users instead of 100,000")
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--workers", type=int, default=default_workers())
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-reference", action="store_true")
    parser.add_argument("--baseline", type=Path, metavar="CHECKOUT",
                        help="also run an earlier checkout of ours on PostgreSQL, in the same run "
                             "(e.g. a `git worktree` of the commit before a change)")
    parser.add_argument("--profile", action="store_true",
                        help="afterwards, re-run key phases with py-spy on the workers")
    parser.add_argument("--save-as", help="name of the saved run (default: quick or full)")
    parser.add_argument("--users", type=int, help="a smoke run of this size; nothing is saved")
    parser.add_argument("--render-only", action="store_true",
                        help="only re-render RESULTS.md from bench/results/*.json")
    args = parser.parse_args(argv)

    if not args.render_only:
        mode = "quick" if args.quick else "full"
        sizes = Sizes.quick() if args.quick else Sizes.full()
        if args.users:
            mode = "smoke"
            sizes = replace(sizes, users=args.users, mid_group=min(5000, args.users // 4),
                            posts_per_run=200, lookups_per_run=300, writes_per_run=100,
                            membership_reps=3, get_reps=5, phase_seconds=5)
        if args.runs != sizes.runs:
            sizes = replace(sizes, runs=args.runs)
        engines = [e.strip() for e in args.engines.split(",") if e.strip()]
        log_dir = Path(tempfile.mkdtemp(prefix="scim-bench-"))
        log(f"{mode} run, {sizes.users:,} users, engines {engines}; logs in {log_dir}")
        data: dict[str, Any] = {"users": sizes.users, "runs": sizes.runs, "engines": engines,
                                "environment": environment(args.workers), "ours": {}}
        data["anchors"] = trivial_floor(args.workers, sizes.runs, log_dir)
        if not args.no_reference:
            log("reference server (scim2-server, in memory)")
            data["reference"] = run_reference(sizes, log_dir)
        for engine in engines:
            log(f"ours on {engine}")
            data["ours"][engine] = run_ours(engine, sizes, args.workers, log_dir, args.profile,
                                            sizes.runs)
        if args.baseline:
            before = "postgresql" + BASELINE
            log(f"ours on {before}, from {args.baseline}")
            data["ours"][before] = run_ours("postgresql", sizes, args.workers, log_dir, False,
                                            sizes.runs, root=args.baseline.resolve())
            data["engines"].append(before)
            data["environment"]["baseline"] = str(args.baseline)
        data["environment"]["load_average"] = (
            f"{data['environment']['load_average']} at start, "
            f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} at end")
        print_table(data)
        if mode == "smoke":
            (log_dir / "smoke.json").write_text(json.dumps(data, indent=1, default=str))
            return 0
        RESULTS_DIR.mkdir(exist_ok=True)
        (RESULTS_DIR / f"{args.save_as or mode}.json").write_text(json.dumps(data, indent=1, default=str))
        log(f"server logs kept in {log_dir}")
    runs = {p.stem: json.loads(p.read_text()) for p in sorted(RESULTS_DIR.glob("*.json"))}
    (HERE / "RESULTS.md").write_text(render(runs))
    log(f"wrote {HERE / 'RESULTS.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
