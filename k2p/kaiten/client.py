"""HTTP access to the Kaiten API: pacing, bounded retries, pagination, token hygiene.

The token goes only to the API origin. Everything else (legacy file hosts, signed storage URLs)
is fetched by a separate session that never carries credentials, and redirects are never followed
automatically, so a redirect cannot carry the token elsewhere.
"""

from __future__ import annotations

import email.utils
import threading
import time
from typing import Any, Iterator
from urllib.parse import urlsplit

import requests
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from k2p import __version__, jsoncodec
from k2p.errors import RemoteError
from k2p.kaiten.endpoint import KaitenEndpoint
from k2p.kaiten.ratelimit import RateLimiter
from k2p.kaiten.stats import STORAGE, RequestStats, endpoint_template
from k2p.redaction import register_secret

USER_AGENT = f"k2p/{__version__} (+kaiten export)"
DEFAULT_TIMEOUT = (10.0, 60.0)


# Why something could not be fetched, as recorded in missing.jsonl.zst (docs/FORMAT.md §4).
REASON_BY_STATUS = {401: "forbidden", 402: "not_in_tariff", 403: "forbidden", 404: "not_found",
                    405: "method_not_allowed", 410: "not_found", 413: "too_large",
                    422: "rejected_by_kaiten"}


class KaitenHTTPError(Exception):
    """A definitive (not retried) HTTP answer such as 402, 403, 404, 405 or 422."""

    def __init__(self, status: int, method: str, target: str, message: str = "") -> None:
        super().__init__(f"{method} {target} answered {status}" + (f": {message}" if message else ""))
        self.status = status
        self.target = target
        self.message = message

    @property
    def reason(self) -> str:
        """The ``missing`` reason this answer stands for."""
        return REASON_BY_STATUS.get(self.status, "http_error")


class TransientError(Exception):
    """A failure worth retrying: 429, 5xx, timeouts, dropped connections, garbled JSON."""

    def __init__(self, description: str, *, throttled: bool = False) -> None:
        super().__init__(description)
        self.throttled = throttled


def _safe_target(url: str) -> str:
    """The URL without its query (signed URLs carry signatures that must not be logged)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def retry_after_seconds(headers: Any, now: float | None = None) -> float | None:
    """Delay asked by a 429: ``Retry-After`` (seconds or HTTP date), else ``X-RateLimit-Reset``."""
    now = time.time() if now is None else now
    value = headers.get("Retry-After")
    if value:
        value = value.strip()
        if value.isdigit():
            return float(value)
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        if parsed is not None:
            return max(0.0, parsed.timestamp() - now)
    reset = headers.get("X-RateLimit-Reset")
    if reset and reset.strip().replace(".", "", 1).isdigit():
        return max(0.0, float(reset) - now)
    return None


def _message_of(response: requests.Response) -> str:
    """A short, safe description of an error body (JSON ``message`` only; never raw HTML)."""
    if "json" in response.headers.get("Content-Type", ""):
        try:
            body = jsoncodec.loads(response.content)
        except ValueError:
            return ""
        if isinstance(body, dict) and isinstance(body.get("message"), str):
            return body["message"][:200]
    return ""


class KaitenClient:
    """GET-only Kaiten API client shared by all export workers."""

    def __init__(self, endpoint: KaitenEndpoint, token: str, *, rps: float = 4.0,
                 ca_bundle: str | None = None, timeout: tuple[float, float] = DEFAULT_TIMEOUT,
                 max_attempts: int = 8, stats: RequestStats | None = None) -> None:
        register_secret(token)
        self.endpoint = endpoint
        self._token = token
        self._verify: bool | str = ca_bundle or True
        self._timeout = timeout
        self._max_attempts = max_attempts
        self.limiter = RateLimiter(rps)
        self.stats = stats or RequestStats()
        self._local = threading.local()

    # --- sessions --------------------------------------------------------------------------
    def _session(self, authenticated: bool) -> requests.Session:
        name = "api" if authenticated else "public"
        session = getattr(self._local, name, None)
        if session is None:
            session = requests.Session()
            session.headers["User-Agent"] = USER_AGENT
            session.verify = self._verify
            session.trust_env = False  # no .netrc credentials or proxy auth picked up implicitly
            if authenticated:
                session.headers["Authorization"] = f"Bearer {self._token}"
            setattr(self._local, name, session)
        return session

    # --- core request ----------------------------------------------------------------------
    def _retrying(self) -> Retrying:
        def wait(state: RetryCallState) -> float:
            error = state.outcome.exception() if state.outcome else None
            if isinstance(error, TransientError) and error.throttled:
                return 0.0  # the limiter already holds every worker until the server's reset
            return wait_random_exponential(multiplier=0.5, max=20)(state)

        return Retrying(stop=stop_after_attempt(self._max_attempts), wait=wait, reraise=True,
                        retry=retry_if_exception(lambda exc: isinstance(exc, TransientError)),
                        before_sleep=lambda state: self.stats.retry())

    def _send(self, url: str, *, params: dict[str, Any] | None, stream: bool) -> requests.Response:
        """One attempt. Only requests to the API origin are authenticated and paced."""
        authenticated = self.endpoint.same_origin(url)
        if authenticated:
            self.limiter.acquire()
        target = _safe_target(url)
        template = endpoint_template(urlsplit(url).path) if authenticated else STORAGE
        try:
            response = self._session(authenticated).get(url, params=params, stream=stream,
                                                        timeout=self._timeout, allow_redirects=False)
        except requests.exceptions.SSLError as exc:
            raise RemoteError(f"TLS verification failed for {target} ({type(exc).__name__}); pass the "
                              f"company CA with --ca-bundle PEM") from None
        except (requests.ConnectionError, requests.Timeout) as exc:
            self.stats.request(template, type(exc).__name__)
            raise TransientError(f"GET {target}: {type(exc).__name__}") from None
        size = 0 if stream else len(response.content)
        self.stats.request(template, response.status_code, size)
        status = response.status_code
        if authenticated:
            self._observe_budget(response)
        if status == 429:
            self.stats.throttle()
            self.limiter.throttle(retry_after_seconds(response.headers))
            response.close()
            raise TransientError(f"GET {target} answered 429", throttled=True)
        if status >= 500:
            response.close()
            raise TransientError(f"GET {target} answered {status}")
        if status == 401 and authenticated:
            response.close()
            raise RemoteError(f"Kaiten rejected the token (401) at {target}; check that "
                              f"K2P_KAITEN_TOKEN or --token-file holds a valid API token for "
                              f"{self.endpoint.origin}")
        if status >= 400:
            message = "" if stream else _message_of(response)
            response.close()
            raise KaitenHTTPError(status, "GET", target, message)
        if authenticated:
            self.limiter.success()
        return response

    def _observe_budget(self, response: requests.Response) -> None:
        """Never pace faster than the limit the server advertises (``X-RateLimit-Limit``/s).

        ``X-RateLimit-Remaining: 0`` is no reason to wait: Kaiten's window slides, so a slot frees
        within one interval, while ``X-RateLimit-Reset`` is rounded up to a whole second; waiting
        for it would idle up to a second per window. An actual 429 pauses until ``Retry-After``.
        """
        limit = (response.headers.get("X-RateLimit-Limit") or "").strip()
        if limit.isdigit() and int(limit) > 0:
            self.limiter.cap(float(limit))

    def get(self, url: str, *, params: dict[str, Any] | None = None,
            stream: bool = False) -> requests.Response:
        """GET with bounded retries of transient failures; raises KaitenHTTPError on other 4xx."""
        for attempt in self._retrying():
            with attempt:
                return self._send(url, params=params, stream=stream)
        raise AssertionError("unreachable")

    def get_json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """GET an API path and parse its JSON body (exact integers)."""
        url = self.endpoint.url(path)
        for attempt in self._retrying():
            with attempt:
                response = self._send(url, params=params, stream=False)
                if 300 <= response.status_code < 400:
                    raise RemoteError(f"GET {_safe_target(url)} redirected ({response.status_code}); "
                                      f"check --kaiten-url (use the https company URL)")
                try:
                    return jsoncodec.loads(response.content)
                except ValueError:
                    raise TransientError(f"GET {_safe_target(url)} answered invalid JSON") from None
        raise AssertionError("unreachable")

    def paginate(self, path: str, params: dict[str, Any] | None = None, *,
                 page_size: int = 100) -> Iterator[Any]:
        """Yield every item of an offset/limit list, de-duplicated by ``id``.

        Kaiten returns bare arrays without totals and silently clamps ``limit``, so the offset
        advances by the items actually received and the list ends at a page shorter than the
        endpoint's cap (``page_size``, which callers set to the documented maximum).
        """
        offset = 0
        seen: set[Any] = set()
        while True:
            page = self.get_json(path, {**(params or {}), "offset": offset, "limit": page_size})
            if not isinstance(page, list):
                raise RemoteError(f"GET {path} answered a {type(page).__name__} where Kaiten returns a "
                                  f"list; is --kaiten-url a Kaiten API?")
            for item in page:
                key = item.get("id") if isinstance(item, dict) else None
                if key is not None:
                    if key in seen:
                        continue
                    seen.add(key)
                yield item
            if len(page) < page_size:
                return
            offset += len(page)
