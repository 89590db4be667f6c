"""SSRF defence and the one HTTP call of a delivery.

A webhook URL may only reach public addresses: loopback, private, link-local (cloud
metadata lives there), multicast, reserved and unspecified addresses are refused, at
registration and again at every delivery *after* DNS resolution, and the connection goes
to the very address that was checked (the Host header and TLS SNI keep the name), so a
name that re-resolves to 127.0.0.1 between check and connect (DNS rebinding) gets nowhere.
``NEXUS_WEBHOOKS_ALLOW_PRIVATE=1`` admits non-public addresses (tests, private networks)
except the cloud metadata addresses, which stay refused. Redirects are never followed.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(address)
    for address in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200")
)
RESPONSE_READ_LIMIT = 64 * 1024


class UnsafeUrl(Exception):
    """The URL may not be called; ``code`` is the stable error code."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str


def url_parse(url: str) -> Target:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeUrl("webhook_url_invalid", "The URL is not valid.") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeUrl("webhook_url_invalid", "Use an http:// or https:// URL with a host.")
    if parts.username or parts.password:
        raise UnsafeUrl("webhook_url_invalid", "Credentials in the URL are not allowed.")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(
        scheme=parts.scheme,
        host=parts.hostname,
        port=port or (443 if parts.scheme == "https" else 80),
        path=path,
    )


def address_refusal(address: str) -> str | None:
    """Why ``address`` may not be called (None: it may)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if ip.is_global and not ip.is_multicast:
        return None
    if settings.NEXUS_WEBHOOKS_ALLOW_PRIVATE and not (ip.is_multicast or ip.is_unspecified):
        return None
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_private:
        return "a private address"
    return "not a public address"


def resolve_checked(target: Target) -> str:
    """Resolve the host and return an address that may be called, or raise UnsafeUrl.

    Every address the name resolves to must pass: one bad answer among good ones is
    refused too (a rebinding name can alternate).
    """
    try:
        infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeUrl("webhook_url_unresolvable", f"{target.host} does not resolve.") from exc
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not addresses:
        raise UnsafeUrl("webhook_url_unresolvable", f"{target.host} does not resolve.")
    for address in addresses:
        reason = address_refusal(address)
        if reason:
            raise UnsafeUrl(
                "webhook_url_forbidden",
                f"{target.host} resolves to {address}, {reason}; webhooks only call "
                "public addresses (NEXUS_WEBHOOKS_ALLOW_PRIVATE=1 admits private ones).",
            )
    return addresses[0]


def url_check(url: str) -> Target:
    """Registration check: a valid http(s) URL whose host resolves to allowed addresses."""
    target = url_parse(url)
    resolve_checked(target)
    return target


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host, port, *, address: str, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self):
        self.sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host, port, *, address: str, timeout: float):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self):
        sock = socket.create_connection((self._address, self.port), self.timeout)
        # Certificate and SNI checked against the name, while the socket goes to the address.
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


@dataclass
class Response:
    status: int
    body: str
    duration_ms: int


def post(*, url: str, body: bytes, headers: dict[str, str], timeout: float) -> Response:
    """POST ``body`` to ``url`` through the checked address; never follows a redirect.

    Raises UnsafeUrl (refused destination), TimeoutError, OSError (connection problems)
    or http.client.HTTPException (a broken answer).
    """
    target = url_parse(url)
    address = resolve_checked(target)
    cls = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    started = time.monotonic()
    connection = cls(target.host, target.port, address=address, timeout=timeout)
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        raw = response.read(RESPONSE_READ_LIMIT)
    finally:
        connection.close()
    duration_ms = int((time.monotonic() - started) * 1000)
    return Response(
        status=response.status, body=raw.decode("utf-8", "replace"), duration_ms=duration_ms
    )
