"""gunicorn settings for the SCIM server; every knob can be overridden from the environment.

Shipped in the package so an installed server has it: ``scim-server serve`` loads it as
``-c python:scim_server.gunicorn_conf``; ``deploy/gunicorn.conf.py`` re-exports it for images and
hand-run gunicorn. Command-line flags still win over this file.
"""

from __future__ import annotations

import os
from pathlib import Path


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        # Fail the boot, not the first request, like the app's own settings do.
        raise SystemExit(f"{name} must be a whole number, not {raw!r}") from None


def _available_cores() -> int:
    """Cores this process may use, counting a container's CPU quota.

    os.cpu_count() reports the whole node, so a pod limited to 1 CPU on a 64-core node would
    start 129 workers (and 129 connection pools) and be OOM-killed.
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cores = cores or 1
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]  # cgroup v2
        if quota != "max":
            cores = min(cores, max(1, -(-int(quota) // int(period))))
    except (OSError, ValueError):
        pass
    return cores


bind = os.environ.get("SCIM_BIND", "127.0.0.1:8000")

# Requests mostly wait on the database, so threads per worker add concurrency cheaply; the cap
# keeps workers x pool connections under PostgreSQL's default max_connections (100).
workers = _env_int("SCIM_WORKERS", min(2 * _available_cores() + 1, _env_int("SCIM_MAX_WORKERS", 8)))
worker_class = "gthread"
threads = _env_int("SCIM_THREADS", 4)

# A Bulk request (up to SCIM_BULK_MAX_OPERATIONS) is the slowest legitimate request.
timeout = _env_int("SCIM_WORKER_TIMEOUT", 60)
# Let in-flight provisioning requests finish on a rolling restart; below Kubernetes' default
# terminationGracePeriodSeconds (30) so gunicorn, not SIGKILL, ends the stragglers.
graceful_timeout = _env_int("SCIM_GRACEFUL_TIMEOUT", 25)
# Longer than the idle timeout of common load balancers (60 s), or they reuse a connection the
# worker has just closed and answer 502.
keepalive = _env_int("SCIM_KEEPALIVE", 75)

# SCIM filters travel in the query string (?filter=userName eq "..."); allow the longest line
# gunicorn supports, and refuse header floods early.
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190

# Recycle workers now and then so that slow leaks (in us or a dependency) cannot grow forever;
# the jitter keeps them from restarting all at once.
max_requests = _env_int("SCIM_MAX_REQUESTS", 10000)
max_requests_jitter = max_requests // 10

# Not preloaded: each worker must open its own database connections after the fork.
preload_app = False

# Logs go to stdout/stderr for the container runtime to collect.
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("SCIM_LOG_LEVEL", "info")
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s"'

# Which peers may set X-Forwarded-Proto for gunicorn's own scheme detection. The app applies
# X-Forwarded-Proto/Host itself when SCIM_TRUSTED_PROXIES >= 1; keep the two consistent.
forwarded_allow_ips = os.environ.get("SCIM_FORWARDED_ALLOW_IPS", "127.0.0.1")

# The worker heartbeat file: on a container's overlay filesystem (or a read-only root) /tmp can
# block or fail, which gunicorn reports as worker timeouts. It holds no data, only a timestamp.
_SHM = "/dev/shm"  # noqa: S108
if Path(_SHM).is_dir() and os.access(_SHM, os.W_OK):
    worker_tmp_dir = _SHM


def on_starting(server: object) -> None:
    """One rate-limit table for all the workers of this instance (``scim_server.ratelimit``):
    created by the master, named to the workers through their environment."""
    if os.environ.get("SCIM_RATE_LIMIT_FILE"):
        return
    import tempfile

    directory = _SHM if Path(_SHM).is_dir() and os.access(_SHM, os.W_OK) else None
    fd, path = tempfile.mkstemp(prefix="scim-server-rate-limits-", dir=directory)
    os.close(fd)
    os.environ["SCIM_RATE_LIMIT_FILE"] = path
    _created.append(path)


def on_exit(server: object) -> None:
    for path in _created:
        Path(path).unlink(missing_ok=True)


_created: list[str] = []
