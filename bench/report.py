"""The table of figures beside the anchors, the verdicts against the issues' targets (issue 6's
rates, issue 10's ratios to the trivial floor and to the reference of the same run)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Row:
    key: str
    label: str
    unit: str
    peers: str = ""  # the open-source peers' range quoted in the issue (10,000 users, 2 cores)
    target: float | None = None
    higher_is_better: bool = True

    def target_text(self) -> str:
        if self.target is None:
            return ""
        sign = "≥" if self.higher_is_better else "<"
        if self.key.endswith("_ratio"):
            sign = "≤"
        return f"{sign} {fmt(self.target)}"


ROWS = [
    Row("bulk_seed.rps", "Seed users via /Bulk (500/request)", "users/s", "",
        100_000 / 60),
    Row("bulk_seed.total_s", "  time to seed all users via /Bulk", "s"),
    Row("post_user.rps", "Create users by single POST", "users/s", "200–800", 600),
    Row("post_user.p99", "  p99", "ms"),
    Row("post_user.floor", "  ÷ trivial Flask floor, same run", "×", "", 0.18),
    Row("lookup_username.rps", "Lookup userName eq", "req/s", "150–340", 1000),
    Row("lookup_username.p50", "  p50", "ms"),
    Row("lookup_username.p99", "  p99", "ms", "", 50, higher_is_better=False),
    Row("lookup_username.floor", "  ÷ trivial Flask floor, same run", "×", "", 0.40),
    Row("lookup_username.reference", "  ÷ the reference, same run", "×", "", 3.0),
    Row("lookup_externalid.rps", "Lookup externalId eq", "req/s"),
    Row("lookup_externalid.p99", "  p99", "ms"),
    Row("lookup_email.rps", 'Lookup emails[type eq "work"].value eq', "req/s"),
    Row("lookup_email.p99", "  p99", "ms"),
    Row("lookup_group.rps", "Lookup Group displayName eq", "req/s"),
    Row("lookup_group.p99", "  p99", "ms"),
    Row("pages_index.rps", "Pages of 100 users by startIndex to 10,000 (16 clients)", "pages/s", "4–8", 100),
    Row("pages_cursor.rps", "Pages of 100 users by cursor (16 clients)", "pages/s", "4–8", 100),
    Row("walk_index.seconds", "Walk all users by startIndex (1 client)", "s"),
    Row("walk_cursor.seconds", "Walk all users by cursor (1 client)", "s"),
    Row("patch_user.rps", "PATCH user active=false", "req/s", "240–430", 800),
    Row("patch_user.floor", "  ÷ trivial Flask floor, same run", "×", "", 0.18),
    Row("put_user.rps", "PUT user", "req/s"),
    Row("put_user.floor", "  ÷ trivial Flask floor, same run", "×", "", 0.15),
    Row("groups_seed.groups_s", "Seed 1,000 groups via /Bulk (one shot)", "groups/s"),
    Row("big_group.build_once_s", "Build the big group (PATCH 1,000 members each)", "s"),
    Row("add100_small.ms", "PATCH add 100 members, 100-member group", "ms"),
    Row("add100_mid.ms", "PATCH add 100 members, 5,000-member group", "ms", "650–1,800"),
    Row("add100_big.ms", "PATCH add 100 members, big group", "ms", "", 50, False),
    Row("add100_ratio", "  ratio big/small", "×", "", 1.5, False),
    Row("remove1_small.ms", "PATCH remove 1 member, 100-member group", "ms"),
    Row("remove1_mid.ms", "PATCH remove 1 member, 5,000-member group", "ms", "450–1,450"),
    Row("remove1_big.ms", "PATCH remove 1 member, big group", "ms", "", 20, False),
    Row("remove1_ratio", "  ratio big/small", "×", "", 1.5, False),
    Row("get_excl_small.ms", "GET group excludedAttributes=members, 100 members", "ms"),
    Row("get_excl_big.ms", "GET group excludedAttributes=members, big group", "ms"),
    Row("get_excl_ratio", "  ratio big/small", "×", "", 1.5, False),
    Row("read_mid.ms", "GET a 5,000-member group in full", "ms", "", 100, False),
    Row("read_big_once.ms", "GET the big group in full (once)", "ms"),
    Row("hub_small.ms", "Hub summary, 1,000-user account", "ms"),
    Row("hub_big.ms", "Hub summary, big account", "ms"),
    Row("rss_worker_end_mb", "RSS per worker after the run (max)", "MB", "", 200, False),
    Row("rss_peak_total_mb", "Peak RSS, master + all workers", "MB"),
]


def fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, str):
        return value
    if isinstance(value, float) and math.isnan(value):
        return "–"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def verdict(row: Row, value: Any) -> str:
    if row.target is None or value is None or isinstance(value, str) or value != value:
        return ""
    if row.higher_is_better:
        if value <= 0:
            return "missed (nothing succeeded)"
        return "met" if value >= row.target else f"missed ({row.target / value:.1f}× short)"
    if row.key.endswith("_ratio"):
        return "met" if value <= row.target else f"missed ({value:.1f}× vs ≤ {row.target:g}×)"
    return "met" if value < row.target else f"missed ({value / row.target:.1f}× over)"


def table(columns: dict[str, dict[str, Any]], verdict_for: list[str]) -> str:
    """A markdown table: one row per figure, one column per server, verdicts for ``verdict_for``."""
    names = list(columns)
    head = ["Figure", "unit", *names, "peers (issue)", "target",
            *[f"verdict {n}" for n in verdict_for]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in ROWS:
        values = [columns[n].get(row.key) for n in names]
        if all(v is None for v in values):
            continue
        cells = [row.label, row.unit, *[fmt(v) for v in values], row.peers, row.target_text(),
                 *[verdict(row, columns[n].get(row.key)) for n in verdict_for]]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
