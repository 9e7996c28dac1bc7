"""Rate limits per credential: a token bucket per SCIM token, API token or OAuth client.

Identity providers retry what a 429 refuses after its ``Retry-After`` (Entra ID does, and
sends at most 25 requests/s per tenant), so a limit protects the server without failing a
provisioning cycle. The buckets of an instance live in one memory-mapped file, so all the
workers of a gunicorn master share them: the master creates the file (``gunicorn_conf``) and
names it in ``SCIM_RATE_LIMIT_FILE``; without it (one process: tests, ``flask run``) they live
in anonymous memory. Instances behind a load balancer each keep their own buckets, so an
account's limit is per instance: documented in deploy/README.md.

The table has a fixed number of slots found by hashing the credential's id: a full table
evicts the bucket refilled longest ago, which can only give that credential a full bucket
again, never refuse anyone more.
"""

from __future__ import annotations

import fcntl
import hashlib
import mmap
import os
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

_RECORD = struct.Struct("<16sdd")  # key digest, tokens left, time of the last refill
_SLOTS = 8192
_PROBES = 8  # slots looked at per key; contiguous, so one byte-range lock covers them


@dataclass(frozen=True)
class Limit:
    """``per_second`` tokens flow into a bucket that holds at most ``burst``."""

    per_second: float
    burst: float

    @property
    def unlimited(self) -> bool:
        return self.per_second <= 0


class TokenBuckets:
    def __init__(self, path: str | None = None, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        size = _RECORD.size * _SLOTS
        self._fd: int | None = None
        if path:
            self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            if os.fstat(self._fd).st_size < size:
                os.ftruncate(self._fd, size)
            self._map = mmap.mmap(self._fd, size)
        else:
            self._map = mmap.mmap(-1, size)
        # POSIX record locks exclude other processes only; the threads of one take this.
        self._threads = threading.Lock()
        # CLOCK_MONOTONIC is one clock for every process of the machine.
        self._clock = clock

    def take(self, key: str, limit: Limit) -> float:
        """Take one token from ``key``'s bucket: 0.0 when there was one, else the seconds
        until there will be."""
        if limit.unlimited:
            return 0.0
        digest = hashlib.blake2b(key.encode(), digest_size=16).digest()
        first = int.from_bytes(digest[:4], "little") % (_SLOTS - _PROBES + 1)
        start, length = first * _RECORD.size, _PROBES * _RECORD.size
        with self._threads:
            if self._fd is not None:
                fcntl.lockf(self._fd, fcntl.LOCK_EX, length, start)
            try:
                return self._take(digest, first, limit)
            finally:
                if self._fd is not None:
                    fcntl.lockf(self._fd, fcntl.LOCK_UN, length, start)

    def _take(self, digest: bytes, first: int, limit: Limit) -> float:
        now = self._clock()
        slot: int | None = None
        tokens = limit.burst
        oldest = (float("inf"), first)
        for index in range(first, first + _PROBES):
            key, left, refilled = _RECORD.unpack_from(self._map, index * _RECORD.size)
            if key == digest:
                slot = index
                tokens = min(limit.burst, left + (now - refilled) * limit.per_second)
                break
            if refilled < oldest[0]:  # an empty slot reads 0.0: the oldest of all
                oldest = (refilled, index)
        if slot is None:
            slot = oldest[1]
        if tokens >= 1.0:
            _RECORD.pack_into(self._map, slot * _RECORD.size, digest, tokens - 1.0, now)
            return 0.0
        _RECORD.pack_into(self._map, slot * _RECORD.size, digest, tokens, now)
        return (1.0 - tokens) / limit.per_second
