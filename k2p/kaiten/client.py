"""HTTP access to the Kaiten API: pacing, bounded retries, pagination, token hygiene.

The token goes only to the API origin. Everything else (legacy file hosts, signed storage URLs)
is fetched by a separate session that never carries credentials, and redirects are never followed
automatically, so a redirect cannot carry the token elsewhere.
"""

from __future__ import annotations

import email.utils
import itertools
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
from k2p.transport import BROKEN_TRANSFER

USER_AGENT = f"k2p/{__version__} (+kaiten export)"
DEFAULT_TIMEOUT = (10.0, 60.0)   # connect, and each socket read
# Limits on what a (possibly hostile) server can make the exporter do; docs/SECURITY.md.
MAX_JSON_BYTES = 64 << 20        # largest API answer read into memory
REQUEST_GRACE = 300.0            # a request may take this many seconds ...
MIN_BODY_RATE = 64 << 10         # ... plus one second per this many body bytes received
MAX_RETRY_WAIT = 60.0            # longest pause a 429 may ask for
MAX_PAGES = 10_000               # pages of one list (1 000 000 items at 100 per page)
IDENTITY_ATTEMPTS = 3            # the first request fails fast: a wrong URL should not take minutes
READ_CHUNK = 1 << 16


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


class UnusablePayload(KaitenHTTPError):
    """A 200 whose JSON k2p cannot keep exactly (NaN, an integer of thousands of digits, ...).

    Retrying changes nothing, so the record is listed in ``missing`` (reason ``invalid_payload``).
    """

    def __init__(self, target: str, message: str) -> None:
        super().__init__(200, "GET", target, f"unusable JSON ({message})")

    @property
    def reason(self) -> str:
        return "invalid_payload"


class UnusableItem(dict):  # type: ignore[type-arg]
    """Stands in a list page for an item holding a value k2p cannot keep exactly: only its ``id``
    is kept (when usable), so a listing can go on and the item be reported as missing."""

    def __init__(self, item: Any, target: str) -> None:
        ident = item.get("id") if isinstance(item, dict) else None
        super().__init__(id=None if jsoncodec.holds_unrepresentable(ident) else ident)
        self.detail = f"GET {target}: a list item holds a value k2p cannot keep exactly"


def _salvaged_page(content: bytes, target: str, problem: str) -> list[Any]:
    """A list page whose unusable items are replaced by :class:`UnusableItem` (the rest kept)."""
    try:
        page = jsoncodec.loads(content, salvage=True)
    except jsoncodec.Unrepresentable as exc:
        raise UnusablePayload(target, str(exc)) from None
    if not isinstance(page, list):
        raise UnusablePayload(target, problem)
    return [UnusableItem(item, target) if jsoncodec.holds_unrepresentable(item) else item for item in page]


class RefusedBody(Exception):
    """A body k2p stops reading: larger than allowed, or slower than the request deadline."""

    def __init__(self, reason: str, description: str) -> None:
        super().__init__(description)
        self.reason = reason


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
        if value.isascii() and value.isdigit():
            return float(value)  # 400 digits give inf, capped by the caller
        try:
            parsed = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, OverflowError):
            parsed = None
        if parsed is not None:
            return max(0.0, parsed.timestamp() - now)
    reset = (headers.get("X-RateLimit-Reset") or "").strip()
    if reset.isascii() and reset.replace(".", "", 1).isdigit():
        return max(0.0, float(reset) - now)
    return None


def iter_body(response: requests.Response, target: str, *, limit: int | None = None,
              limit_text: str = "") -> Iterator[bytes]:
    """The body in chunks as they arrive, within the request deadline and ``limit`` bytes.

    ``read1`` returns whatever one socket read brings, so a body dripping one byte per second
    cannot hold the loop past :data:`REQUEST_GRACE` plus one second per :data:`MIN_BODY_RATE`.
    """
    started = time.monotonic()
    received = 0
    declared = (response.headers.get("Content-Length") or "").strip()
    if limit is not None and declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise RefusedBody("too_large", f"GET {target} announces {declared} bytes, over {limit_text}")
    while chunk := response.raw.read1(READ_CHUNK, decode_content=True):
        received += len(chunk)
        if limit is not None and received > limit:
            raise RefusedBody("too_large", f"GET {target} sent more than {limit_text}")
        allowed = REQUEST_GRACE + received / MIN_BODY_RATE
        if time.monotonic() - started > allowed:
            raise RefusedBody("too_slow", f"GET {target} did not finish within {allowed:.0f} s "
                                          f"({received} bytes received)")
        yield chunk


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
                 max_attempts: int = 8, stats: RequestStats | None = None,
                 max_pages: int = MAX_PAGES) -> None:
        register_secret(token)
        self.endpoint = endpoint
        self._token = token
        self._verify: bool | str = ca_bundle or True
        self._timeout = timeout
        self._max_attempts = max_attempts
        self.max_pages = max_pages
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
    def _retrying(self, attempts: int | None = None) -> Retrying:
        def wait(state: RetryCallState) -> float:
            error = state.outcome.exception() if state.outcome else None
            if isinstance(error, TransientError) and error.throttled:
                return 0.0  # the limiter already holds every worker until the server's reset
            return wait_random_exponential(multiplier=0.5, max=20)(state)

        return Retrying(stop=stop_after_attempt(attempts or self._max_attempts), wait=wait, reraise=True,
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
            response = self._session(authenticated).get(url, params=params, stream=True,
                                                        timeout=self._timeout, allow_redirects=False)
            if not stream:
                body = b"".join(iter_body(response, target, limit=MAX_JSON_BYTES,
                                          limit_text=f"the {MAX_JSON_BYTES >> 20} MiB answer limit"))
                response._content = body  # what response.content returns (read with our limits)
                response.close()
        except requests.exceptions.SSLError as exc:
            raise RemoteError(f"TLS verification failed for {target} ({type(exc).__name__}); pass the "
                              f"company CA with --ca-bundle PEM") from None
        except BROKEN_TRANSFER as exc:
            self.stats.request(template, type(exc).__name__)
            raise TransientError(f"GET {target}: {type(exc).__name__}") from None
        size = 0 if stream else len(response.content)
        self.stats.request(template, response.status_code, size)
        status = response.status_code
        if authenticated:
            self._observe_budget(response)
        if status == 429:
            self.stats.throttle()
            self.limiter.throttle(self._capped_wait(retry_after_seconds(response.headers)))
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

    def _capped_wait(self, seconds: float | None) -> float | None:
        """A server-requested pause, at most :data:`MAX_RETRY_WAIT` (counted in the report)."""
        if seconds is not None and seconds > MAX_RETRY_WAIT:
            self.stats.cap_wait()
            return MAX_RETRY_WAIT
        return seconds

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

    def get_json(self, path: str, params: dict[str, Any] | None = None, *,
                 attempts: int | None = None, salvage: bool = False) -> Any:
        """GET an API path and parse its JSON body (exact integers).

        Raises :class:`UnusablePayload` for JSON that cannot be kept exactly (with ``salvage``, a
        list keeps its usable items and has :class:`UnusableItem` for the others), and RemoteError
        when retries do not help (unreachable, persistent non-JSON answers) or the body is refused.
        """
        url = self.endpoint.url(path)
        target = _safe_target(url)
        try:
            for attempt in self._retrying(attempts):
                with attempt:
                    response = self._send(url, params=params, stream=False)
                    if 300 <= response.status_code < 400:
                        raise RemoteError(f"GET {target} redirected ({response.status_code}); "
                                          f"check --kaiten-url (use the https company URL)")
                    try:
                        return jsoncodec.loads(response.content)
                    except jsoncodec.Unrepresentable as exc:
                        if salvage:
                            return _salvaged_page(response.content, target, str(exc))
                        raise UnusablePayload(target, str(exc)) from None
                    except ValueError:
                        kind = response.headers.get("Content-Type") or "no content type"
                        raise TransientError(f"GET {target} answered {response.status_code} "
                                             f"with a body that is not JSON ({kind})") from None
        except TransientError as exc:
            raise RemoteError(f"{exc} (after {attempts or self._max_attempts} attempts); check "
                              f"--kaiten-url and the network, then rerun the same command to "
                              f"resume") from None
        except RefusedBody as exc:
            raise RemoteError(f"{exc}; the Kaiten answer is refused (docs/SECURITY.md), "
                              f"rerun later or report it to the Kaiten administrator") from None
        raise AssertionError("unreachable")

    def paginate(self, path: str, params: dict[str, Any] | None = None, *,
                 page_size: int = 100) -> Iterator[Any]:
        """Yield every item of an offset/limit list, de-duplicated by ``id``.

        Kaiten returns bare arrays without totals and silently clamps ``limit``, so the offset
        advances by the items actually received and the list ends at a page shorter than the
        endpoint's cap (``page_size``, which callers set to the documented maximum).
        A full page that brings no new id, or more than ``max_pages`` pages, means the server
        repeats itself or never ends: the list fails with a RemoteError instead of looping forever.
        """
        offset = 0
        seen: set[Any] = set()
        for pages in itertools.count(1):
            page = self.get_json(path, {**(params or {}), "offset": offset, "limit": page_size},
                                 salvage=True)
            if not isinstance(page, list):
                raise RemoteError(f"GET {path} answered a {type(page).__name__} where Kaiten returns a "
                                  f"list; is --kaiten-url a Kaiten API?")
            new = 0
            for item in page:
                key = item.get("id") if isinstance(item, dict) else None
                if key is not None:
                    if key in seen:
                        continue
                    seen.add(key)
                new += 1
                yield item
            if len(page) < page_size:
                return
            if not new:
                raise RemoteError(f"GET {self.endpoint.url(path)} offset {offset}: a full page brought "
                                  f"no new item (the server repeats itself); rerun later, or report it")
            if pages >= self.max_pages:
                raise RemoteError(f"GET {self.endpoint.url(path)}: more than {self.max_pages} pages of "
                                  f"{page_size}; stopping a list that does not end (limit in "
                                  f"docs/SECURITY.md)")
            offset += len(page)
        raise AssertionError("unreachable")
