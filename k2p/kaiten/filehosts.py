"""Where file downloads may go: the guard against a card's ``files[].url`` pointing anywhere (SSRF).

A file URL comes from an untrusted Kaiten answer. k2p fetches it only when

* its scheme is https, or http while the API itself is served over http;
* its host is the API's host, a documented Kaiten file host (:data:`KAITEN_FILE_HOSTS`), a host
  the API named in a signed-URL redirect for this very file, or one given with
  ``--allow-file-host``;
* every address the host resolves to is public, unless the API itself is on a private, loopback
  or link-local address (an on-premises Kaiten, or the test simulator).

Every redirect hop is checked again. Ports are not restricted. See docs/SECURITY.md.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from typing import Callable, Iterable
from urllib.parse import urlsplit

from k2p.kaiten.endpoint import KaitenEndpoint

KAITEN_FILE_HOSTS = frozenset({"files.kaiten.ru"})  # legacy attachments (research §4.12)

Resolver = Callable[[str], list[str]]


class HostRefused(Exception):
    """A download target outside the policy; the message says why (no query string in it)."""


def resolve(host: str) -> list[str]:
    """Every address ``host`` resolves to (an IP literal resolves to itself)."""
    return sorted({info[4][0] for info in socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)})


def _public(address: str) -> bool:
    return ipaddress.ip_address(address.split("%", 1)[0]).is_global


def normalise_host(host: str) -> str:
    return host.strip().lower().rstrip(".")


class FileHostPolicy:
    """Decides whether a download URL may be fetched; thread-safe, resolves each host once."""

    def __init__(self, endpoint: KaitenEndpoint, allowed: Iterable[str] = (), *,
                 resolver: Resolver = resolve) -> None:
        api = urlsplit(endpoint.origin)
        self._api_scheme = api.scheme
        self._api_host = normalise_host(api.hostname or "")
        self._hosts = {self._api_host, *KAITEN_FILE_HOSTS, *(normalise_host(host) for host in allowed)}
        self._resolver = resolver
        self._lock = threading.Lock()
        self._public: dict[str, bool] = {}

    def check(self, url: str, trusted: Iterable[str] = ()) -> None:
        """Raise :class:`HostRefused` unless ``url`` may be fetched (``trusted``: hosts the API named)."""
        try:
            parts = urlsplit(url)
            host = normalise_host(parts.hostname or "")
            parts.port  # noqa: B018 - raises ValueError on a malformed port
        except ValueError:
            raise HostRefused("not a valid URL") from None
        schemes = ("https", "http") if self._api_scheme == "http" else ("https",)
        if parts.scheme.lower() not in schemes:
            raise HostRefused(f"scheme {parts.scheme or '(none)'!r} refused (allowed: {', '.join(schemes)})")
        if not host or parts.username is not None:
            raise HostRefused(f"{parts.scheme}://{host}: no host, or credentials in the URL")
        if host not in self._hosts and host not in {normalise_host(name) for name in trusted}:
            raise HostRefused(f"host {host} is neither the Kaiten API, a Kaiten file host nor named "
                              f"by --allow-file-host")
        if not self._is_public(host) and self._is_public(self._api_host):
            raise HostRefused(f"host {host} resolves to a private, loopback or link-local address")

    def _is_public(self, host: str) -> bool:
        """Whether every address of ``host`` is public (OSError if it does not resolve)."""
        with self._lock:
            known = self._public.get(host)
        if known is None:
            known = all(_public(address) for address in self._resolver(host))
            with self._lock:
                self._public[host] = known
        return known
