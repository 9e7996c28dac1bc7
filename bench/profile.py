"""py-spy on the gunicorn workers during a phase, summarised as the hottest frames (evidence for misses)."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

PY_SPY = Path(sys.executable).parent / "py-spy"


class WorkerProfile:
    """``py-spy record`` on every worker for ``seconds``; start before the phase, ``wait`` after."""

    def __init__(self, pids: list[int], seconds: int, out_dir: Path, label: str) -> None:
        out_dir.mkdir(parents=True, exist_ok=True)
        self.files = [out_dir / f"{label}-{pid}.folded" for pid in pids]
        self.procs = [
            subprocess.Popen(  # noqa: S603 - our own argv
                [str(PY_SPY), "record", "--pid", str(pid), "--duration", str(seconds),
                 "--rate", "200", "--format", "raw", "--output", str(path), "--nonblocking"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
            for pid, path in zip(pids, self.files, strict=True)
        ]

    def wait(self, timeout: float = 120) -> list[Path]:
        for proc in self.procs:
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.terminate()
        return [f for f in self.files if f.exists()]


def _short(frame: str) -> str:
    """``func (path/to/site-packages/pkg/mod.py:12)`` -> ``func (pkg/mod.py)``: lines vary."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "/work/main/", "lib/python3.11/"):
        if marker in where:
            where = where.split(marker, 1)[1]
            break
    return f"{name} ({where})"


# Frames every request passes through; left out of the inclusive list so that it shows the work.
_PLUMBING = ("threading.py", "concurrent/futures", "gunicorn/", "flask/app.py",
             "scim_server/scim/server.py", "scim2_server/handler.py)")
_DRIVER = ("psycopg/", "sqlite3", "selectors.py")


def summarize(files: list[Path], top: int = 18) -> dict[str, object]:
    """Samples, and as (share %, frame): hottest frames inclusive (minus the plumbing) and self,
    and where the database-driver time comes from (the deepest frame of our own code)."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    db_by_caller: Counter[str] = Counter()
    total = db_total = 0
    for path in files:
        for line in path.read_text(errors="replace").splitlines():
            stack, _, count = line.rpartition(" ")
            if not stack or not count.isdigit():
                continue
            n = int(count)
            frames = [_short(f) for f in stack.split(";") if f and not f.startswith("process ")
                      and not f.startswith("thread ")]
            if not frames:
                continue
            total += n
            for frame in set(frames):
                if not any(p in frame for p in _PLUMBING):
                    inclusive[frame] += n
            own[frames[-1]] += n
            if any(d in frames[-1] for d in _DRIVER):
                db_total += n
                ours = [f for f in frames if "(scim_server/" in f
                        and "scim_server/scim/server.py" not in f]
                db_by_caller[ours[-1] if ours else "(outside scim_server)"] += n

    def share(counter: Counter[str]) -> list[tuple[float, str]]:
        return [(100 * n / total, f) for f, n in counter.most_common(top)] if total else []

    return {"samples": total, "inclusive": share(inclusive), "self": share(own),
            "driver_share": 100 * db_total / total if total else 0.0,
            "driver_by_caller": share(db_by_caller)[:10]}
