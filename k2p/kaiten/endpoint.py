"""Normalising ``--kaiten-url``: a company URL or a full ``/api/latest`` or ``/api/v1`` base."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from k2p.errors import K2PError

API_VERSIONS = ("latest", "v1")


@dataclass(frozen=True)
class KaitenEndpoint:
    """Where the Kaiten API lives. ``origin`` is the only place the token is ever sent."""

    origin: str          # scheme://host[:port]
    api_base: str        # origin + /api/<version>
    api_version: str

    def url(self, path: str) -> str:
        """Absolute URL of an API path such as ``/cards/12``."""
        return self.api_base + (path if path.startswith("/") else "/" + path)

    def same_origin(self, url: str) -> bool:
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc}".lower() == self.origin.lower()


def parse_kaiten_url(text: str) -> KaitenEndpoint:
    """Accept ``https://acme.kaiten.ru``, ``…/api/latest`` or ``…/api/v1`` (any trailing slash)."""
    parts = urlsplit(text.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        # The value is not echoed: a mistyped option could hold a pasted secret.
        raise K2PError("--kaiten-url is not an http(s) URL; pass e.g. https://acme.kaiten.ru",
                       exit_code=2)
    if parts.username or parts.password:
        raise K2PError("--kaiten-url must not contain credentials; pass the token with --token-file "
                       "or K2P_KAITEN_TOKEN", exit_code=2)
    if parts.query or parts.fragment:
        raise K2PError(f"--kaiten-url must not carry a query or fragment: {parts.scheme}://"
                       f"{parts.netloc}{parts.path}", exit_code=2)
    origin = urlunsplit((parts.scheme, parts.netloc, "", "", ""))
    path = parts.path.rstrip("/")
    if path == "":
        return KaitenEndpoint(origin, f"{origin}/api/latest", "latest")
    for version in API_VERSIONS:
        if path.endswith(f"/api/{version}"):
            return KaitenEndpoint(origin, origin + path, version)
    raise K2PError(f"--kaiten-url path {path!r} is neither empty nor /api/latest nor /api/v1; pass the "
                   f"company URL such as https://acme.kaiten.ru", exit_code=2)
