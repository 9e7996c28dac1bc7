"""docs/quirks.md lists every quirk id the server records, and no other."""

from __future__ import annotations

import re
from pathlib import Path

from scim_server.scim.quirks import QUIRKS

DOC = Path(__file__).resolve().parents[2] / "docs" / "quirks.md"


def test_the_quirks_table_lists_every_id() -> None:
    listed = re.findall(r"^\| `([a-z-]+)` \|", DOC.read_text(), re.M)
    assert sorted(listed) == sorted(QUIRKS)
