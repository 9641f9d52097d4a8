"""HTTP access to a Planka 2.x server.

Reads and updates (PATCH with the full intended values) are idempotent and retried. Creates are
never retried blindly: when the outcome of a create is unknown (the connection dropped, a timeout,
a 5xx), :class:`AmbiguousWrite` is raised and the caller reconciles by reading the parent.
"""

from __future__ import annotations

import copy
import hashlib
import threading
import uuid
from dataclasses import dataclass
from typing import Any, BinaryIO, Callable
from urllib.parse import urlsplit

import requests
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from k2p import __version__, jsoncodec
from k2p.errors import K2PError, RemoteError, UnsupportedVersion
from k2p.redaction import register_secret
from k2p.transport import BROKEN_TRANSFER

USER_AGENT = f"k2p/{__version__} (+planka import)"
DEFAULT_TIMEOUT = (10.0, 300.0)


class PlankaError(Exception):
    """A definitive error answer (4xx) from Planka."""

    def __init__(self, status: int, method: str, path: str, body: Any) -> None:
        self.status = status
        self.method = method
        self.path = path
        self.code = body.get("code") if isinstance(body, dict) else None
        self.message = (body.get("message") if isinstance(body, dict) else None) or ""
        self.problems = body.get("problems") if isinstance(body, dict) else None
        detail = self.message + (f" {self.problems}" if self.problems else "")
        super().__init__(f"{method} {path} answered {status} {self.code or ''} {detail}".strip())


class AmbiguousWrite(Exception):
    """A write whose effect is unknown: it may or may not have been committed."""


class _Transient(Exception):
    """A read or idempotent update that may succeed when retried."""


@dataclass(frozen=True)
class Credentials:
    api_key: str | None = None
    username: str | None = None
    password: str | None = None


def normalize_url(url: str) -> str:
    """``https://planka.example/`` → ``https://planka.example`` (scheme and host required)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        # The value is not echoed: a mistyped option could hold a pasted secret.
        raise K2PError("--planka-url is not an http(s) URL; pass e.g. https://planka.example.org",
                       exit_code=2)
    if parts.username or parts.password:
        raise K2PError("--planka-url must not contain credentials; use K2P_PLANKA_API_KEY or "
                       "K2P_PLANKA_USER/K2P_PLANKA_PASSWORD", exit_code=2)
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


class MultipartFile:
    """A streamed ``multipart/form-data`` body (text fields, then one file) of known length.

    The file part is hashed while it is read, so the uploaded bytes are checked against the
    archive's blob name without reading the blob twice.
    """

    def __init__(self, fields: dict[str, str], filename: str, source: BinaryIO, size: int,
                 content_type: str = "application/octet-stream") -> None:
        self.boundary = f"k2p-{uuid.uuid4().hex}"
        safe_name = filename.replace('"', "%22").replace("\r", " ").replace("\n", " ")
        head = b"".join(
            f'--{self.boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            + value.encode("utf-8") + b"\r\n" for name, value in fields.items())
        head += (f'--{self.boundary}\r\nContent-Disposition: form-data; name="file"; '
                 f'filename="{safe_name}"\r\nContent-Type: {content_type}\r\n\r\n').encode("utf-8")
        self._parts = [head, None, f"\r\n--{self.boundary}--\r\n".encode()]
        self._length = len(head) + size + len(self._parts[2])
        self._source = source
        self._left = size
        self._index = 0
        self._pending = b""
        self.digest = hashlib.sha256()
        self.on_bytes: Callable[[int], None] = lambda count: None

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def __len__(self) -> int:
        return self._length

    def read(self, size: int = -1) -> bytes:
        out = bytearray()
        want = self._length if size is None or size < 0 else size
        while len(out) < want and (self._pending or self._index < 3):
            if self._pending:
                take = self._pending[: want - len(out)]
                self._pending = self._pending[len(take):]
                out += take
                continue
            part = self._parts[self._index]
            if part is None:
                chunk = self._source.read(min(1 << 20, self._left)) if self._left > 0 else b""
                if chunk:
                    self._left -= len(chunk)
                    self.digest.update(chunk)
                    self.on_bytes(len(chunk))
                    self._pending = chunk
                    continue
                if self._left > 0:
                    raise K2PError("an archive blob ended before its recorded size while uploading; "
                                   "run `k2p verify` on the archive", exit_code=3)
            else:
                self._pending = part
            self._index += 1
        return bytes(out)


class PlankaClient:
    """A Planka 2.x API session shared by the import's worker threads."""

    def __init__(self, base_url: str, credentials: Credentials, *, accept_terms: bool = False,
                 ca_bundle: str | None = None, timeout: tuple[float, float] = DEFAULT_TIMEOUT,
                 max_attempts: int = 6) -> None:
        self.base_url = normalize_url(base_url)
        self._credentials = credentials
        for secret in (credentials.api_key, credentials.password):
            register_secret(secret)
        self._accept_terms = accept_terms
        self._verify: bool | str = ca_bundle or True
        self._timeout = timeout
        self._max_attempts = max_attempts
        self._local = threading.local()
        self._auth_headers: dict[str, str] = {}
        self._download_headers: dict[str, str] = {}
        self.version: str | None = None

    # --- plumbing --------------------------------------------------------------------------
    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.headers["User-Agent"] = USER_AGENT
            session.verify = self._verify
            session.trust_env = False
            self._local.session = session
        return session

    def _send(self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None,
              data: Any = None, headers: dict[str, str] | None = None,
              authenticated: bool = True) -> requests.Response:
        url = self.base_url + path
        all_headers = {**(self._auth_headers if authenticated else {}), **(headers or {})}
        body = jsoncodec.dumps(json) if json is not None else data
        if json is not None:
            all_headers["Content-Type"] = "application/json"
        try:
            return self._session().request(method, url, data=body, params=params, headers=all_headers,
                                           timeout=self._timeout, allow_redirects=False)
        except requests.exceptions.SSLError:
            raise RemoteError(f"TLS verification failed for {self.base_url}; pass the CA with "
                              f"--ca-bundle PEM") from None
        except BROKEN_TRANSFER as exc:
            raise _Transient(f"{method} {path}: {type(exc).__name__}") from None

    @staticmethod
    def _body(response: requests.Response) -> Any:
        try:
            return jsoncodec.loads(response.content) if response.content else None
        except ValueError:
            return None

    def _check(self, method: str, path: str, response: requests.Response) -> Any:
        if response.status_code >= 500:
            raise _Transient(f"{method} {path} answered {response.status_code}")
        body = self._body(response)
        if response.status_code == 401:
            raise RemoteError(f"Planka refused the credentials (401) at {method} {path}; check "
                              f"K2P_PLANKA_API_KEY or K2P_PLANKA_USER/K2P_PLANKA_PASSWORD")
        if response.status_code >= 400:
            raise PlankaError(response.status_code, method, path, body)
        if not isinstance(body, dict):
            raise _Transient(f"{method} {path} answered a non-JSON body")
        return body

    def _retrying(self) -> Retrying:
        return Retrying(stop=stop_after_attempt(self._max_attempts), reraise=True,
                        wait=wait_random_exponential(multiplier=0.3, max=10),
                        retry=retry_if_exception(lambda exc: isinstance(exc, _Transient)))

    def _idempotent(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            for attempt in self._retrying():
                with attempt:
                    return self._check(method, path, self._send(method, path, **kwargs))
        except _Transient as exc:
            raise RemoteError(f"{self.base_url}: {exc} (after {self._max_attempts} attempts); "
                              f"check the server, then rerun the import to resume") from None
        raise AssertionError("unreachable")

    # --- public API ------------------------------------------------------------------------
    def get(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """A read; retried on transient failures."""
        return self._idempotent("GET", path, params=params)

    def update(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        """A PATCH carrying final values (safe to repeat); retried on transient failures."""
        return self._idempotent("PATCH", path, json=payload)

    def delete(self, path: str) -> dict[str, Any]:
        """A DELETE (only used to remove an upload k2p found damaged); retried."""
        return self._idempotent("DELETE", path)

    def post_repeatable(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        """A POST whose repetition is harmless (issuing a fresh API key); retried like a read."""
        return self._idempotent("POST", path, json=payload)

    def acting_as(self, api_key: str) -> "PlankaClient":
        """The same server and connections, authenticated with another account's API key."""
        register_secret(api_key)
        clone = copy.copy(self)
        clone._auth_headers = {"X-Api-Key": api_key}
        clone._download_headers = dict(clone._auth_headers)
        return clone

    def create(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        """A POST; raises :class:`AmbiguousWrite` when the outcome is unknown."""
        try:
            return self._check("POST", path, self._send("POST", path, json=payload))
        except _Transient as exc:
            raise AmbiguousWrite(str(exc)) from None

    def upload(self, path: str, body: MultipartFile) -> dict[str, Any]:
        """A multipart POST (never retried; ambiguous outcomes raise :class:`AmbiguousWrite`)."""
        try:
            response = self._send("POST", path, data=body, headers={"Content-Type": body.content_type})
            return self._check("POST", path, response)
        except _Transient as exc:
            raise AmbiguousWrite(str(exc)) from None

    # --- server and session ----------------------------------------------------------------
    def probe(self) -> str:
        """Check that the server is Planka 2.x; returns its version."""
        try:
            response = self._send("GET", "/api/bootstrap", authenticated=False)
        except _Transient as exc:
            raise RemoteError(f"cannot reach Planka at {self.base_url} ({exc}); check --planka-url "
                              f"and the network") from None
        if "text/html" in response.headers.get("Content-Type", ""):
            if not self._is_planka_1():
                raise RemoteError(f"{self.base_url} is not a Planka server (GET /api/bootstrap answered "
                                  f"{response.status_code} HTML, /api/config no Planka answer); check "
                                  f"--planka-url")
            raise UnsupportedVersion(f"{self.base_url} looks like Planka 1.x (GET /api/bootstrap "
                                     f"answered HTML): Planka 1.x not supported yet; upgrade to 2.x")
        body = self._body(response)
        version = (body or {}).get("item", {}).get("version") if isinstance(body, dict) else None
        if response.status_code != 200 or not isinstance(version, str):
            raise RemoteError(f"{self.base_url}/api/bootstrap answered {response.status_code} without "
                              f"a Planka version; is --planka-url a Planka server?")
        if not version.startswith("2."):
            raise UnsupportedVersion(f"{self.base_url} runs Planka {version}; k2p imports into 2.x")
        self.version = version
        return version

    def _is_planka_1(self) -> bool:
        """Planka 1.x has no ``/api/bootstrap`` (its web app answers) but a JSON ``/api/config``."""
        try:
            response = self._send("GET", "/api/config", authenticated=False)
        except _Transient:
            return False
        body = self._body(response)
        return response.status_code == 200 and isinstance(body, dict) and isinstance(body.get("item"), dict)

    def authenticate(self) -> None:
        """API key (``X-Api-Key``), else login with user and password (terms step if allowed)."""
        creds = self._credentials
        if creds.api_key:
            self._auth_headers = {"X-Api-Key": creds.api_key}
            self._download_headers = dict(self._auth_headers)
            return
        if not (creds.username and creds.password):
            raise K2PError("no Planka credentials: set K2P_PLANKA_API_KEY, or K2P_PLANKA_USER and "
                           "K2P_PLANKA_PASSWORD", exit_code=2)
        token = self._login(creds.username, creds.password)
        register_secret(token)
        self._auth_headers = {"Authorization": f"Bearer {token}"}
        self._download_headers = {"Cookie": f"accessToken={token}"}

    def _login(self, username: str, password: str) -> str:
        payload = {"emailOrUsername": username, "password": password}
        response = self._send("POST", "/api/access-tokens", json=payload, authenticated=False)
        body = self._body(response) or {}
        if response.status_code == 200 and isinstance(body.get("item"), str):
            return body["item"]
        if response.status_code == 403 and body.get("step") == "accept-terms":
            return self._accept(username, body.get("pendingToken", ""))
        if response.status_code == 401:
            raise RemoteError(f"Planka login as {username!r} failed (401 {body.get('message', '')}); "
                              f"check K2P_PLANKA_USER and K2P_PLANKA_PASSWORD")
        raise RemoteError(f"Planka login as {username!r} answered {response.status_code} "
                          f"{body.get('message', '')}".rstrip())

    def _accept(self, username: str, pending: str) -> str:
        register_secret(pending)
        if not self._accept_terms:
            raise K2PError(f"Planka asks {username!r} to accept its terms of service before the first "
                           f"login; log in once in the web UI and accept them, or rerun with "
                           f"--accept-terms to accept them for this account", exit_code=6)
        terms = self._check("GET", "/api/terms", self._send("GET", "/api/terms",
                                                            params={"language": "en-US"},
                                                            authenticated=False))
        signature = terms["item"]["signature"]
        response = self._send("POST", "/api/access-tokens/accept-terms", authenticated=False,
                              json={"pendingToken": pending, "signature": signature})
        body = self._body(response) or {}
        if response.status_code != 200 or not isinstance(body.get("item"), str):
            raise RemoteError(f"accepting Planka's terms failed ({response.status_code} "
                              f"{body.get('message', '')})")
        return body["item"]

    def download_digest(self, url: str, limit: int) -> tuple[str, int]:
        """SHA-256 and size of an attachment download (``data.url``, read on this server's origin,
        at most ``limit`` bytes); retried on transient failures. A read only: ``k2p check``."""
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(self.base_url))

        def read() -> tuple[str, int]:
            try:
                response = self._session().get(origin + path, headers=self.download_headers(), stream=True,
                                               timeout=self._timeout, allow_redirects=False)
            except BROKEN_TRANSFER as exc:
                raise _Transient(f"GET {parts.path}: {type(exc).__name__}") from None
            with response:
                if response.status_code >= 500:
                    raise _Transient(f"GET {parts.path} answered {response.status_code}")
                if response.status_code >= 400:
                    raise PlankaError(response.status_code, "GET", parts.path, None)
                digest, size = hashlib.sha256(), 0
                try:
                    for chunk in response.iter_content(1 << 20):
                        size += len(chunk)
                        if size > limit:
                            raise PlankaError(413, "GET", parts.path, {"message": f"more than {limit} bytes"})
                        digest.update(chunk)
                except BROKEN_TRANSFER as exc:
                    raise _Transient(f"GET {parts.path}: {type(exc).__name__}") from None
                return digest.hexdigest(), size

        try:
            for attempt in self._retrying():
                with attempt:
                    return read()
        except _Transient as exc:
            raise RemoteError(f"{self.base_url}: {exc} (after {self._max_attempts} attempts); check the "
                              f"server, then rerun") from None
        raise AssertionError("unreachable")

    def download_headers(self) -> dict[str, str]:
        """Headers that authenticate attachment downloads (Planka ignores Bearer there)."""
        return dict(self._download_headers)
