"""The identity-provider workload of issue 6, run against any SCIM server (ours or the reference).

Every figure is the median over ``runs`` runs of a phase; single-shot steps (building the big
group, seeding the 1,000 groups) say so in their metric name. Each phase is bounded by a request
count and a duration; a phase cut short by its duration reports what it managed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from bench.load import Client, PhaseResult, Target, median, run_driver, run_phase

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
BULK_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


@dataclass(frozen=True)
class Sizes:
    users: int  # N: users seeded through /Bulk, and members of the big group
    runs: int = 3
    bulk_batch: int = 500
    posts_per_run: int = 1000  # users created by single POSTs in each run (not group members)
    groups: int = 1000
    small_group: int = 100
    mid_group: int = 5000
    member_chunk: int = 1000  # members per PATCH while building the big group
    lookups_per_run: int = 2000
    writes_per_run: int = 1000
    membership_reps: int = 7
    get_reps: int = 21
    phase_seconds: float = 20.0  # cap of one run of a load phase
    seed_seconds: float = 600.0  # cap of one seeding slice
    walk_seconds: float = 300.0  # cap of one sequential walk through all users
    walk_runs: int | None = None  # sequential walks per mode (default: runs)

    @classmethod
    def quick(cls) -> Sizes:
        return cls(users=10_000)

    @classmethod
    def full(cls) -> Sizes:
        # One sequential walk per mode: at 100,000 users a walk is 1,000 requests in a row.
        return cls(users=100_000, posts_per_run=2000, seed_seconds=1200.0, walk_seconds=600.0,
                   walk_runs=1)


def user_name(i: int, domain: str) -> str:
    return f"u{i:06d}@{domain}"


def user_doc(i: int, domain: str, *, display: str | None = None) -> dict[str, Any]:
    """A user as identity providers send it: userName, externalId, name, a work email."""
    return {
        "schemas": [USER_SCHEMA],
        "userName": user_name(i, domain),
        "externalId": f"ext-{i:06d}",
        "name": {"givenName": f"Given{i}", "familyName": f"Family{i}"},
        "displayName": display or f"User {i}",
        "emails": [{"value": user_name(i, domain), "type": "work", "primary": True}],
        "active": True,
    }


def group_name(i: int) -> str:
    return f"group-{i:05d}"


def _ok_bulk(body: bytes) -> bool:
    """A Bulk answer is 200 even when its operations fail: every one must be a 2xx."""
    try:
        ops = json.loads(body).get("Operations", [])
    except ValueError:
        return False
    return all(str(op.get("status", "")).startswith("2") for op in ops)


def _found_one(body: bytes) -> bool:
    try:
        return int(json.loads(body).get("totalResults", -1)) == 1
    except ValueError:
        return False


def _id_of(location: str) -> str:
    return location.rstrip("/").rsplit("/", 1)[-1]


class Workload:
    """The phases, in the order of the issue; figures land in ``self.m``, remarks in ``notes``."""

    def __init__(self, name: str, target: Target, domain: str, sizes: Sizes,
                 log: Callable[[str], None] = print) -> None:
        self.name = name
        self.target = target
        self.domain = domain
        self.sizes = sizes
        self.log = log
        self.m: dict[str, Any] = {}
        self.notes: list[str] = []
        self.ids: dict[int, str] = {}  # user index -> id
        self.group_ids: dict[str, str] = {}
        self.client = Client(target)

    # -- helpers -----------------------------------------------------------------------------

    def _note_errors(self, result: PhaseResult) -> None:
        if result.errors or result.timed_out:
            self.notes.append(
                f"{result.name}: {result.errors} of {result.sent} requests failed"
                f"{' (timed out)' if result.timed_out else ''}; first: {result.error_sample}"
            )

    def _runs(self, name: str, make_for_run: Callable[[int], Callable[[int], Any]], *,
              max_requests: int, check: Callable[[bytes], bool] | None = None,
              seconds: float | None = None) -> list[PhaseResult]:
        results = []
        for run in range(self.sizes.runs):
            result = run_phase(
                name, self.target, make_for_run(run), max_requests=max_requests,
                max_seconds=seconds or self.sizes.phase_seconds, check=check,
            )
            self._note_errors(result)
            results.append(result)
        return results

    def _store_load(self, key: str, results: list[PhaseResult], unit_per_request: int = 1) -> None:
        self.m[f"{key}.rps"] = median([r.rps * unit_per_request for r in results])
        self.m[f"{key}.p50"] = median([r.p50 for r in results])
        self.m[f"{key}.p99"] = median([r.p99 for r in results])
        self.m[f"{key}.errors"] = sum(r.errors for r in results)
        self.log(
            f"  [{self.name}] {key}: {self.m[f'{key}.rps']:.1f}/s  p50 {self.m[f'{key}.p50']:.1f} ms"
            f"  p99 {self.m[f'{key}.p99']:.1f} ms  errors {self.m[f'{key}.errors']}"
        )

    def _timed(self, method: str, path: str, body: Any = None, ok: tuple[int, ...] = (200, 201, 204)
               ) -> tuple[float, Any]:
        status, data, ms = self.client.call(method, path, body)
        if status not in ok:
            raise RuntimeError(f"{method} {path[:100]} -> {status}: {str(data)[:300]}")
        return ms, data

    def total(self, endpoint: str = "/Users") -> int:
        _, data = self._timed("GET", f"{endpoint}?count=0")
        return int(data["totalResults"])

    # -- 1. seeding --------------------------------------------------------------------------

    def seed_bulk(self) -> None:
        """N users through /Bulk, in ``runs`` equal slices: users/s is the median slice."""
        s = self.sizes
        batches = -(-s.users // s.bulk_batch)
        per_slice = -(-batches // s.runs)
        domain = self.domain

        def bulk_body(batch: int) -> bytes:
            first = batch * s.bulk_batch
            ops = [
                {"method": "POST", "path": "/Users", "bulkId": f"u{i}", "data": user_doc(i, domain)}
                for i in range(first, min(first + s.bulk_batch, s.users))
            ]
            return json.dumps({"schemas": [BULK_SCHEMA], "Operations": ops}).encode()

        results, elapsed = [], 0.0
        for k in range(s.runs):
            lo, hi = k * per_slice, min((k + 1) * per_slice, batches)
            if lo >= hi:
                continue
            result = run_phase(
                "bulk seed", self.target, lambda j, lo=lo: ("POST", "/Bulk", bulk_body(lo + j)),
                max_requests=hi - lo, max_seconds=s.seed_seconds, check=_ok_bulk,
            )
            self._note_errors(result)
            results.append(result)
            elapsed += result.seconds
        self._store_load("bulk_seed", results, unit_per_request=s.bulk_batch)
        self.m["bulk_seed.total_s"] = elapsed
        self.m["bulk_seed.users"] = self.total()
        self.log(f"  [{self.name}] bulk: {self.m['bulk_seed.users']} users in {elapsed:.1f}s")

    def seed_posts(self) -> None:
        """Users by single POSTs: indexes after N, so that they belong to no group yet."""
        s = self.sizes
        n, per, domain = s.users, s.posts_per_run, self.domain
        results = self._runs(
            "POST users",
            lambda run: lambda i: (
                "POST", "/Users", json.dumps(user_doc(n + run * per + i, domain)).encode()
            ),
            max_requests=per, seconds=max(s.phase_seconds, 60),
        )
        self._store_load("post_user", results)

    # -- 3. paging (also learns the ids) -----------------------------------------------------

    def _walk(self, by_cursor: bool, harvest: bool) -> tuple[float, int, int]:
        """Read every user page by page, as an IdP's full import does; (seconds, pages, users)."""
        count, pages, seen = 100, 0, 0
        deadline = time.monotonic() + self.sizes.walk_seconds
        path = f"/Users?count={count}&" + ("cursor" if by_cursor else "startIndex=1")
        t0 = time.monotonic()
        while time.monotonic() < deadline:
            _, data = self._timed("GET", path)
            resources = data.get("Resources", [])
            pages += 1
            seen += len(resources)
            if harvest:
                for r in resources:
                    local = r.get("userName", "").split("@", 1)[0]
                    if local.startswith("u") and local[1:].isdigit():
                        self.ids[int(local[1:])] = r["id"]
            if by_cursor:
                nxt = data.get("nextCursor")
                if not nxt:
                    break
                path = f"/Users?count={count}&cursor={quote(nxt)}"
            else:
                start = int(data.get("startIndex", 1)) + len(resources)
                if not resources or start > int(data["totalResults"]):
                    break
                path = f"/Users?count={count}&startIndex={start}"
        return time.monotonic() - t0, pages, seen

    def paging(self, cursor_supported: bool) -> None:
        total = self.total()
        modes = [("index", False)] + ([("cursor", True)] if cursor_supported else [])
        for label, by_cursor in modes:
            walk_runs = self.sizes.walk_runs or self.sizes.runs
            # Every walk learns ids: a walk cut short by its cap leaves them to the next one.
            walks = [self._walk(by_cursor, harvest=True) for _ in range(walk_runs)]
            if walk_runs == 1:
                self.notes.append(f"{label} walk: once (not a median)")
            key = f"walk_{label}"
            self.m[f"{key}.seconds"] = median([w[0] for w in walks])
            self.m[f"{key}.pages_s"] = median([w[1] / w[0] for w in walks])
            self.m[f"{key}.users"] = min(w[2] for w in walks)
            if self.m[f"{key}.users"] < total:
                self.notes.append(f"{key}: read {self.m[f'{key}.users']} of {total} users "
                                  f"(walk capped at {self.sizes.walk_seconds:.0f}s)")
            self.log(f"  [{self.name}] {key}: {self.m[f'{key}.seconds']:.1f}s, "
                     f"{self.m[f'{key}.pages_s']:.1f} pages/s sequential")
        # 16 clients reading distinct pages by index, to startIndex 10,000 (the target;
        # deeper offsets are the walk's above)
        pages = min(-(-total // 100), 100)
        results = self._runs(
            "pages by index",
            lambda run: lambda i: ("GET", f"/Users?count=100&startIndex={1 + 100 * (i % pages)}", None),
            max_requests=1000,
        )
        self._store_load("pages_index", results)
        if cursor_supported:
            self.m.update(self._cursor_load())

    def _cursor_load(self) -> dict[str, float]:
        """16 clients, each walking the users by cursor from the start (its chain its own)."""
        target = self.target

        class Chain:
            def __init__(self) -> None:
                self.conn = target.connect()
                self.next: str | None = None

            def close(self) -> None:
                self.conn.close()

        from bench.load import _send

        def perform(chain: Chain, _i: int) -> tuple[int, bytes]:
            path = "/Users?count=100&cursor" + (f"={quote(chain.next)}" if chain.next else "")
            status, body = _send(chain.conn, target, ("GET", path, None))
            chain.next = json.loads(body).get("nextCursor") if status == 200 else None
            return status, b"" if status == 200 else body

        results = []
        for _ in range(self.sizes.runs):
            result = run_driver("pages by cursor", Chain, perform, max_requests=1000,
                                max_seconds=self.sizes.phase_seconds)
            self._note_errors(result)
            results.append(result)
        self._store_load("pages_cursor", results)
        return {}

    # -- groups ------------------------------------------------------------------------------

    def seed_groups(self) -> None:
        """1,000 empty groups through /Bulk (one shot), then the 100, 5,000 and N member groups."""
        s = self.sizes
        batch = 500

        def body(j: int) -> bytes:
            ops = [
                {"method": "POST", "path": "/Groups", "bulkId": f"g{i}",
                 "data": {"schemas": [GROUP_SCHEMA], "displayName": group_name(i)}}
                for i in range(j * batch, min((j + 1) * batch, s.groups))
            ]
            return json.dumps({"schemas": [BULK_SCHEMA], "Operations": ops}).encode()

        result = run_phase("bulk groups", self.target, lambda j: ("POST", "/Bulk", body(j)),
                           max_requests=-(-s.groups // batch), max_seconds=s.seed_seconds,
                           check=_ok_bulk)
        self._note_errors(result)
        self.m["groups_seed.once_s"] = result.seconds
        self.m["groups_seed.groups_s"] = s.groups / result.seconds if result.seconds else 0

        missing = [i for i in range(s.users) if i not in self.ids]
        if missing:
            raise RuntimeError(f"{len(missing)} seeded users were not seen by the walk")
        small = [self.ids[i] for i in range(s.small_group)]
        mid = [self.ids[i] for i in range(s.small_group, s.small_group + s.mid_group)]
        for label, members in (("small", small), ("mid", mid)):
            _, data = self._timed("POST", "/Groups?excludedAttributes=members", {
                "schemas": [GROUP_SCHEMA], "displayName": f"bench-{label}",
                "members": [{"value": m} for m in members],
            })
            self.group_ids[label] = data["id"]

        _, data = self._timed("POST", "/Groups", {"schemas": [GROUP_SCHEMA],
                                                  "displayName": "bench-big"})
        big = self.group_ids["big"] = data["id"]
        # Built as an IdP pushes a big group: PATCHes of a chunk of members each, in order.
        t0 = time.monotonic()
        deadline = t0 + s.seed_seconds
        added = 0
        for lo in range(0, s.users, s.member_chunk):
            if time.monotonic() > deadline:
                self.notes.append(f"big group: stopped at {added} members "
                                  f"(capped at {s.seed_seconds:.0f}s)")
                break
            chunk = [{"value": self.ids[i]} for i in range(lo, min(lo + s.member_chunk, s.users))]
            self._timed("PATCH", f"/Groups/{big}", {
                "schemas": [PATCH_SCHEMA],
                "Operations": [{"op": "add", "path": "members", "value": chunk}],
            })
            added += len(chunk)
        self.m["big_group.members"] = added
        self.m["big_group.build_once_s"] = time.monotonic() - t0
        self.log(f"  [{self.name}] big group: {added} members in {self.m['big_group.build_once_s']:.1f}s")

    # -- 2. lookups --------------------------------------------------------------------------

    def lookups(self, *, users: bool = True, groups: bool = True) -> None:
        n, domain, s = self.sizes.users, self.domain, self.sizes

        def spread(i: int) -> int:
            return (i * 7919) % n  # a prime stride: every run touches rows all over the table

        def filt(expr: str) -> str:
            return quote(expr, safe="")

        kinds: dict[str, tuple[str, Callable[[int], str]]] = {
            "lookup_username": ("/Users", lambda i: f'userName eq "{user_name(spread(i), domain)}"'),
            "lookup_externalid": ("/Users", lambda i: f'externalId eq "ext-{spread(i):06d}"'),
            "lookup_email": ("/Users", lambda i: 'emails[type eq "work"].value eq '
                             f'"{user_name(spread(i), domain)}"'),
            "lookup_group": ("/Groups", lambda i: f'displayName eq "{group_name(i % s.groups)}"'
                             ),
        }
        for key, (endpoint, expr) in kinds.items():
            if not (groups if endpoint == "/Groups" else users):
                continue
            extra = "&excludedAttributes=members" if endpoint == "/Groups" else ""
            results = self._runs(
                key,
                lambda run, endpoint=endpoint, expr=expr, extra=extra: lambda i: (
                    "GET", f"{endpoint}?filter={filt(expr(run * 100_003 + i))}{extra}", None),
                max_requests=s.lookups_per_run, check=_found_one,
            )
            self._store_load(key, results)

    # -- 4. user writes ----------------------------------------------------------------------

    def user_writes(self) -> None:
        s, domain = self.sizes, self.domain
        per = min(s.writes_per_run, s.users // (2 * s.runs))
        # PATCH and PUT touch distinct users in every run, so no run repeats a no-op write.
        patch_body = json.dumps({"schemas": [PATCH_SCHEMA], "Operations": [
            {"op": "replace", "path": "active", "value": False}]}).encode()
        results = self._runs(
            "PATCH active=false",
            lambda run: lambda i: ("PATCH", f"/Users/{self.ids[run * per + i]}", patch_body),
            max_requests=per,
        )
        self._store_load("patch_user", results)
        base = s.runs * per

        def put(run: int) -> Callable[[int], Any]:
            def make(i: int) -> Any:
                k = base + run * per + i
                doc = user_doc(k, domain, display=f"Renamed {k}")
                return "PUT", f"/Users/{self.ids[k]}", json.dumps(doc).encode()
            return make

        results = self._runs("PUT user", put, max_requests=per)
        self._store_load("put_user", results)

    # -- 5. membership -----------------------------------------------------------------------

    def membership(self) -> None:
        """PATCH add 100 / remove 1 on the 100, 5,000 and N member groups, one at a time.

        The 100 added are POST-created users (in no group); each rep's change is undone
        untimed, so every timed PATCH sees the group at its nominal size.
        """
        s = self.sizes
        fresh = [self.ids[i] for i in sorted(self.ids) if i >= s.users]
        if len(fresh) < 100:
            raise RuntimeError("not enough POST-created users for the membership phase")
        sizes = {"small": s.small_group, "mid": s.mid_group, "big": s.users}
        first_member = {"small": 0, "mid": s.small_group, "big": 0}

        def patch(group: str, ops: list[dict[str, Any]]) -> float:
            ms, _ = self._timed("PATCH", f"/Groups/{self.group_ids[group]}",
                                {"schemas": [PATCH_SCHEMA], "Operations": ops})
            return ms

        for label in ("small", "mid", "big"):
            adds, removes = [], []
            # A server whose PATCH is O(group size) can spend minutes here: cap each group's reps
            # by time too (at least one rep, so the figure exists).
            deadline = time.monotonic() + s.phase_seconds * 3
            for rep in range(s.membership_reps):
                if rep and time.monotonic() > deadline:
                    self.notes.append(f"membership {label}: {rep} reps (time cap)")
                    break
                start = (rep * 100) % max(1, len(fresh) - 100)
                batch = [{"value": v} for v in fresh[start:start + 100]]
                adds.append(patch(label, [{"op": "add", "path": "members", "value": batch}]))
                patch(label, [{"op": "remove", "path": f'members[value eq "{b["value"]}"]'}
                              for b in batch])
                member = self.ids[first_member[label] + rep]
                removes.append(patch(label, [{"op": "remove",
                                              "path": f'members[value eq "{member}"]'}]))
                patch(label, [{"op": "add", "path": "members", "value": [{"value": member}]}])
            self.m[f"add100_{label}.ms"] = median(adds)
            self.m[f"remove1_{label}.ms"] = median(removes)
            self.m[f"group_{label}.size"] = sizes[label]
            self.log(f"  [{self.name}] {label} group ({sizes[label]}): add 100 "
                     f"{self.m[f'add100_{label}.ms']:.1f} ms, remove 1 "
                     f"{self.m[f'remove1_{label}.ms']:.1f} ms")
        for op in ("add100", "remove1"):
            self.m[f"{op}_ratio"] = self.m[f"{op}_big.ms"] / self.m[f"{op}_small.ms"]

    def group_reads(self) -> None:
        s = self.sizes
        for label in ("small", "big"):
            times = [self._timed("GET", f"/Groups/{self.group_ids[label]}"
                                 "?excludedAttributes=members")[0] for _ in range(s.get_reps)]
            self.m[f"get_excl_{label}.ms"] = median(times)
        self.m["get_excl_ratio"] = self.m["get_excl_big.ms"] / self.m["get_excl_small.ms"]
        reads = []
        for _ in range(max(5, s.runs)):
            ms, data = self._timed("GET", f"/Groups/{self.group_ids['mid']}")
            reads.append(ms)
        self.m["read_mid.ms"] = median(reads)
        self.m["read_mid.members"] = len(data.get("members") or [])
        # Once, the whole big group: the largest response a worker builds (memory target).
        ms, data = self._timed("GET", f"/Groups/{self.group_ids['big']}")
        self.m["read_big_once.ms"] = ms
        self.m["read_big_once.members"] = len(data.get("members") or [])
        self.log(f"  [{self.name}] GET excl members small {self.m['get_excl_small.ms']:.1f} ms, "
                 f"big {self.m['get_excl_big.ms']:.1f} ms; 5,000 in full "
                 f"{self.m['read_mid.ms']:.1f} ms; big in full {ms:.0f} ms")

    def close(self) -> None:
        self.client.close()


def hub_timing(target: Target, reps: int = 5) -> float | None:
    """Median ms of ``GET /api/v1/hub``; None when the endpoint does not exist (yet)."""
    client = Client(target)
    try:
        times = []
        for _ in range(reps):
            status, data, ms = client.call("GET", "/api/v1/hub")
            if status == 404:
                return None
            if status != 200:
                raise RuntimeError(f"GET /api/v1/hub -> {status}: {str(data)[:300]}")
            times.append(ms)
        return median(times)
    finally:
        client.close()
