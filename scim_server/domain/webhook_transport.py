"""Sending one webhook request safely: which addresses a receiver may be on, and a connection
made to the address that was checked.

A URL is checked when it is registered and again at every delivery, because DNS can change
between the two. The check resolves the host, refuses private, loopback, link-local,
multicast and reserved addresses (unless the operator allows them), and the connection then
goes to the very address that passed, not to a second resolution of the name: a DNS answer
that changes between check and connect (DNS rebinding) cannot lead the request inside.
TLS is still verified against the host name (SNI and certificate), as for any HTTPS client.

Redirects are never followed (a 3xx is a failed delivery): a redirect could point inside.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

# What a receiver's answer may take of memory; the rest is not read.
MAX_ANSWER = 64 * 1024
USER_AGENT = "scim-server-webhooks/1"

Resolver = Callable[..., list[Any]]


class UnsafeTarget(Exception):
    """The URL or the address it resolves to is not one webhooks may be sent to."""


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return bool(ip.is_global) and not (
        ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast
        or ip.is_reserved or ip.is_unspecified)


def check_url(url: str, *, allow_private: bool) -> tuple[str, str, int, str]:
    """``(scheme, host, port, path)`` of a URL webhooks may be sent to (without resolving)."""
    if not isinstance(url, str) or len(url) > 2000:
        raise UnsafeTarget("the URL must be at most 2000 characters")
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise UnsafeTarget("the URL is not valid") from None
    if parts.scheme not in ("https", "http"):
        raise UnsafeTarget("the URL must start with https://")
    if parts.scheme == "http" and not allow_private:
        raise UnsafeTarget("the URL must use https:// (plain http:// is only allowed where "
                           "the operator allows private targets)")
    if not parts.hostname:
        raise UnsafeTarget("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise UnsafeTarget("the URL must not carry a user name or password")
    if parts.fragment:
        raise UnsafeTarget("the URL must not have a #fragment")
    port = port or (443 if parts.scheme == "https" else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, parts.hostname, port, path


def resolve(host: str, port: int, *, allow_private: bool,
            resolver: Resolver = socket.getaddrinfo) -> list[str]:
    """The addresses of ``host``; :class:`UnsafeTarget` if any is not public (one private
    answer is enough to refuse: the receiver must not be reachable inside at all)."""
    try:
        infos = resolver(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise UnsafeTarget(f"the host {host} cannot be resolved ({exc})") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise UnsafeTarget(f"the host {host} has no address")
    if not allow_private:
        for address in addresses:
            if not is_public(address):
                raise UnsafeTarget(f"the host {host} resolves to {address}, a private, "
                                   "loopback, link-local or reserved address")
    return addresses


class _OneWrite(http.client.HTTPConnection):
    """Sends a request's head and body in one write (http.client makes two): half the
    system calls, and no small second segment for Nagle and delayed ACKs to hold up."""

    _held: bytes | None = None
    hold_head = False

    def send(self, data: Any) -> None:
        if self.hold_head and isinstance(data, bytes):
            self.hold_head, self._held = False, data
            return
        if self._held is not None and isinstance(data, bytes):
            data, self._held = self._held + data, None
        super().send(data)


class _PinnedHTTP(_OneWrite):
    """An HTTP connection to ``address``, whose Host header stays the URL's host."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PinnedHTTPS(_OneWrite, http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Outcome:
    ok: bool
    status: int | None
    duration_ms: int
    error: str | None


class Sender:
    """Requests to one endpoint, over one kept-alive connection while the receiver allows it.
    The host is resolved and checked when a connection is opened."""

    def __init__(self, url: str, *, timeout: float, allow_private: bool,
                 resolver: Resolver = socket.getaddrinfo) -> None:
        self.url, self.timeout, self.allow_private = url, timeout, allow_private
        self.resolver = resolver
        self._conn: _OneWrite | None = None

    def _connect(self) -> _OneWrite:
        scheme, host, port, _ = check_url(self.url, allow_private=self.allow_private)
        address = resolve(host, port, allow_private=self.allow_private, resolver=self.resolver)[0]
        kind = _PinnedHTTPS if scheme == "https" else _PinnedHTTP
        return kind(host, port, address, self.timeout)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def send(self, body: bytes, headers: dict[str, str]) -> Outcome:
        started = time.monotonic()
        # A kept-alive connection the receiver closed meanwhile fails before any answer:
        # one more try on a new connection (the receiver saw nothing, or dedups by id).
        for fresh in (self._conn is None, True):
            try:
                if self._conn is None:
                    self._conn = self._connect()
                _, _, _, path = check_url(self.url, allow_private=self.allow_private)
                self._conn.hold_head = bool(body)
                self._conn.request("POST", path, body=body, headers={
                    "Content-Type": "application/json", "User-Agent": USER_AGENT, **headers})
                answer = self._conn.getresponse()
                answer.read(MAX_ANSWER)
                if answer.will_close or not answer.isclosed():
                    self.close()
                status = answer.status
                return Outcome(200 <= status < 300, status, _ms(started),
                               None if 200 <= status < 300 else f"HTTP {status}")
            except UnsafeTarget as exc:
                self.close()
                return Outcome(False, None, _ms(started), f"refused: {exc}")
            except (http.client.RemoteDisconnected, BrokenPipeError,
                    ConnectionResetError) as exc:
                self.close()
                if fresh:
                    return Outcome(False, None, _ms(started), _describe(exc))
            except (OSError, http.client.HTTPException, ValueError) as exc:
                self.close()
                return Outcome(False, None, _ms(started), _describe(exc))
        raise AssertionError("unreachable")  # pragma: no cover


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError | socket.timeout):
        return "timed out"
    text = f"{type(exc).__name__}: {exc}"
    return text[:400]
