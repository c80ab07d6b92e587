"""Where a webhook may be sent: http(s) only, and never into the service's own network.

A URL's host can resolve to anything, and differently each time (DNS rebinding), so checking it
when the endpoint is registered proves nothing. The check that counts is made on the socket
itself: `guarded_http()` gives a `requests.Session` whose connections look at the address they
actually connected to, before a single byte of the request is sent, and refuse a loopback,
private, link-local (cloud metadata), shared, multicast or reserved one. Registration only
refuses what is wrong on its face (another scheme, a literal private address).
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

SCHEMES = ("http", "https")


class BlockedAddress(Exception):
    """The URL is not one a webhook may be sent to; the message says why.

    Deliberately not an OSError: urllib3 would take it for a network hiccup and retry."""


def address_is_public(address: str) -> bool:
    """Whether `address` (an IP, v4 or v6) is on the public internet."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_url(url: str, allow_private: bool) -> str:
    """`url` if it may be registered, else BlockedAddress. A host that is an IP literal is
    checked here; a name is checked on every connection (see the module docstring)."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError as exc:
        raise BlockedAddress(f"{url!r} is not a valid URL") from exc
    if parts.scheme not in SCHEMES:
        raise BlockedAddress("the URL must start with http:// or https://")
    if not host:
        raise BlockedAddress("the URL has no host")
    if parts.username or parts.password:
        raise BlockedAddress("the URL must not carry a user name or password")
    if not allow_private:
        try:
            public = address_is_public(host)
        except ValueError:  # a name, not an address
            public = True
        if not public:
            raise BlockedAddress(f"{host} is a private or loopback address")
    return url.strip()


class _PeerCheck:
    """Checks the address a new connection reached, before TLS and before the request."""

    host: str

    def _new_conn(self):
        sock = super()._new_conn()  # type: ignore[misc]
        peer = sock.getpeername()[0]
        if not address_is_public(peer):
            sock.close()
            raise BlockedAddress(f"{self.host} resolved to {peer}, a private or loopback address")
        return sock


class _GuardedConnection(_PeerCheck, HTTPConnection):
    pass


class _GuardedHTTPSConnection(_PeerCheck, HTTPSConnection):
    pass


class _GuardedPool(HTTPConnectionPool):
    ConnectionCls = _GuardedConnection


class _GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


class _GuardedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs) -> None:  # type: ignore[override]
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _GuardedPool,
                                                   "https": _GuardedHTTPSPool}


@lru_cache(maxsize=2)
def guarded_http(allow_private: bool) -> requests.Session:
    """One pooled HTTP session per process for webhook deliveries. No proxies from the
    environment (the address checked must be the receiver's), and, unless `allow_private`,
    every connection checked as the module docstring says."""
    session = requests.Session()
    session.trust_env = False
    session.headers["User-Agent"] = "Fieldline-Webhooks/1"
    adapter = HTTPAdapter(pool_maxsize=32) if allow_private else _GuardedAdapter(pool_maxsize=32)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
