"""A faithful simulator of the Kaiten REST API, serving a generated company on loopback.

Two origins run side by side: the API (``sim.base_url``; ``/api/v1`` and ``/api/latest``) and the
file storage (``sim.storage_url``; public legacy URLs ``/files/<uuid>.<ext>`` and short-lived
presigned URLs ``/signed/<key>?X-Amz-…``). Behaviour follows research §8: bearer auth with a
plain-text 401, per-token visibility, silent limit clamping, a strict per-token sliding window with
HTML 429s, 402/403/405 where Kaiten answers them, seeded faults and optional offset drift.

Standalone: ``python -m k2p.testing.kaiten.sim --scale small --seed 0 [--rps 5] [--port N]``.
"""

from __future__ import annotations

import argparse
import itertools
import math
import random
import re
import threading
import time
import traceback
from collections import deque
from dataclasses import dataclass, replace
from typing import Callable, Mapping
from urllib.parse import parse_qs, urlsplit

from k2p.testing.kaiten import routes as kaiten_routes  # noqa: F401  (importing it registers every route)
from k2p.testing.kaiten.api import Reply, Request, dispatch
from k2p.testing.kaiten.company import KaitenCompany, TokenInfo, generate_company
from k2p.testing.kaiten.compact import read_field
from k2p.testing.kaiten.files import FileBlob, UrlSigner, s3_error
from k2p.testing.loopback import FaultPlan, LoopbackServer, RequestLog, SimHandler, Simulator

__all__ = ["FaultPlan", "KaitenSimulator", "RateLimiter", "SimEvent", "SimStats", "main"]

API_PREFIXES = ("/api/v1", "/api/latest")
Answer = tuple[Reply | None, str | None]  # (reply or None to drop the connection, principal kind)
TOO_MANY = "Too many requests, please try again later."
XML = "application/xml"


@dataclass(frozen=True)
class SimEvent:
    """What an ``on_request`` hook sees: a request arriving, or part of a streamed body sent.

    ``seq`` numbers arrivals across both origins (0-based); ``stage`` is ``"arrived"`` (before the
    simulator decides anything: auth, rate limit, faults) or ``"body"`` (after each chunk of a
    streamed file body, with ``sent`` of ``length`` bytes written so far).
    """

    seq: int
    time: float  # time.monotonic() of the event
    origin: str  # "api" | "storage"
    method: str
    path: str
    query: str
    stage: str = "arrived"
    sent: int = 0
    length: int = 0


RequestHook = Callable[[SimEvent], None]


class SimStats:
    """Thread-safe counters of what the simulator did (429s served, faults injected …)."""

    FIELDS = ("api_requests", "storage_requests", "rate_limited", "server_errors", "dropped", "truncated",
              "drift_inserts", "signed_urls", "storage_rejected", "internal_errors")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values = dict.fromkeys(self.FIELDS, 0)

    def incr(self, name: str) -> None:
        with self._lock:
            self._values[name] += 1

    def __getattr__(self, name: str) -> int:
        if name in SimStats.FIELDS:
            with self._lock:
                return self._values[name]
        raise AttributeError(name)

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._values)


class RateLimiter:
    """One sliding one-second window per token; rejected requests do not consume the window."""

    def __init__(self, rps: float) -> None:
        self.limit = max(1, int(rps))
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, key: str) -> tuple[bool, dict[str, str]]:
        now = time.monotonic()
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - 1.0:
                hits.popleft()
            allowed = len(hits) < self.limit
            if allowed:
                hits.append(now)
            reset_in = (hits[0] + 1.0 - now) if hits else 1.0
        headers = {"X-RateLimit-Limit": str(self.limit),
                   "X-RateLimit-Remaining": str(max(0, self.limit - len(hits))),
                   "X-RateLimit-Reset": str(math.ceil(time.time() + reset_in))}
        return allowed, headers

    def exhaust(self, key: str) -> None:
        """Use up the whole window now, as another client sharing the token would."""
        now = time.monotonic()
        with self._lock:
            self._hits[key] = deque([now] * self.limit)


class FaultInjector:
    """Applies a :class:`FaultPlan` in request order: 500/502/503 (HTML or empty body), a drop, or
    a truncated answer (the gateway answers normally and :func:`send_reply` cuts the body)."""

    ERROR_BODIES = (b"", b"<html><head><title>{status}</title></head><body><center><h1>{status}</h1>"
                         b"</center><hr><center>nginx</center></body></html>")

    def __init__(self, plan: FaultPlan | None, stats: SimStats) -> None:
        self.plan = plan or FaultPlan()
        self._stats = stats
        self._rng = random.Random(self.plan.seed + 1)
        self._lock = threading.Lock()

    def apply(self) -> Reply | None | bool:
        """``True`` to proceed normally, ``False`` to proceed with a truncated answer, a
        :class:`Reply` for an injected error, ``None`` to drop."""
        self.plan.delay()
        outcome = self.plan.draw()
        if outcome == "ok":
            return True
        if outcome == "truncate":
            self._stats.incr("truncated")
            return False
        if outcome == "drop":
            self._stats.incr("dropped")
            return None
        with self._lock:
            status = self._rng.choice((500, 502, 503))
            template = self._rng.choice(self.ERROR_BODIES)
        self._stats.incr("server_errors")
        body = template.replace(b"{status}", str(status).encode())
        return Reply(status, body, "text/html" if body else None)


def send_reply(handler: SimHandler, reply: Reply,
               on_chunk: Callable[[int, int], None] | None = None) -> None:
    """Write ``reply``; ``on_chunk(sent, length)`` runs after each chunk of a streamed body."""
    handler.send_response(reply.status)
    if reply.content_type:
        handler.send_header("Content-Type", reply.content_type)
    length = reply.length if reply.stream is not None else len(reply.body)
    handler.send_header("Content-Length", str(length))
    for name, value in reply.headers.items():
        handler.send_header(name, value)
    handler.end_headers()
    if handler.command == "HEAD":
        return
    budget = (length or 0) // 2 if reply.truncated else None
    sent = 0
    for chunk in reply.stream if reply.stream is not None else [reply.body]:
        chunk = chunk if budget is None else chunk[: budget - sent]
        handler.wfile.write(chunk)
        sent += len(chunk)
        if on_chunk is not None and reply.stream is not None:
            on_chunk(sent, length or 0)
        if budget is not None and sent >= budget:
            break
    if reply.truncated:
        handler.wfile.flush()
        handler.drop_connection()


class _Handler(SimHandler):
    """Shared request flow: drain the body, ask the gateway, answer (or drop), log."""

    gateway_name = ""

    def _serve(self) -> None:
        sim: KaitenSimulator = self.server.sim  # type: ignore[attr-defined]
        sim.touch()
        if self.headers.get("Content-Length"):
            self.read_body()
        gateway = getattr(sim, self.gateway_name)
        split = urlsplit(self.path)
        event = sim.arrived(gateway.origin, self.command, split.path, split.query)
        reply, principal = gateway.answer(self.command, self.path, self.headers)
        if reply is None:
            self.drop_connection()
        else:
            try:
                send_reply(self, reply, sim.body_progress(event) if reply.stream is not None else None)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True
        sim.request_log.add(method=self.command, path=split.path, query=split.query,
                            status=reply.status if reply else 0, origin=gateway.origin,
                            principal=principal, had_authorization="Authorization" in self.headers,
                            mutating=self.command not in ("GET", "HEAD"),
                            note="dropped" if reply is None else "")

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _serve


class _ApiHandler(_Handler):
    gateway_name = "api"


class _StorageHandler(_Handler):
    gateway_name = "storage"


class ApiGateway:
    """Auth, rate limit, faults, then the routing table — for the API origin."""

    origin = "api"

    def __init__(self, sim: "KaitenSimulator", limiter: RateLimiter | None, retry_after: bool) -> None:
        self.sim = sim
        self.limiter = limiter
        self.retry_after = retry_after

    def authenticate(self, headers: Mapping[str, str]) -> TokenInfo | None:
        scheme, _, token = (headers.get("Authorization") or "").partition(" ")
        if scheme.lower() != "bearer":
            return None
        return self.sim.company.tokens.get(token.strip())

    def answer(self, method: str, raw_path: str, headers: Mapping[str, str]) -> Answer:
        self.sim.stats.incr("api_requests")
        split = urlsplit(raw_path)
        prefix = next((p for p in API_PREFIXES if split.path == p or split.path.startswith(p + "/")), None)
        if prefix is None:
            return Reply(404, f"Cannot {method} {split.path}".encode(), "text/html; charset=utf-8"), None
        token = self.authenticate(headers)
        if token is None:
            return Reply(401, b"Unauthorized", "text/plain; charset=utf-8"), None
        limit_headers: dict[str, str] = {}
        if self.limiter is not None:
            allowed, limit_headers = self.limiter.check(token.token)
            if not allowed:
                self.sim.stats.incr("rate_limited")
                extra = {"Retry-After": "1"} if self.retry_after else {}
                return Reply(429, TOO_MANY.encode(), "text/html; charset=utf-8",
                             {**limit_headers, **extra}), token.kind
        fault = self.sim.faults.apply()
        if fault is None or isinstance(fault, Reply):
            if fault is not None:
                fault.headers.update(limit_headers)
            return fault, token.kind
        reply = self.route(method, split.path[len(prefix):] or "/", split.query, token)
        reply.headers.update(limit_headers)
        reply.truncated = not fault
        return reply, token.kind

    def route(self, method: str, path: str, query: str, token: TokenInfo) -> Reply:
        params = {key: values[0] for key, values in parse_qs(query, keep_blank_values=True).items()}
        try:
            with self.sim.company.lock:
                return dispatch(Request(self.sim.company, token, params, self.sim), method, path)
        except Exception:  # a simulator bug must be visible, not a hung client
            self.sim.stats.incr("internal_errors")
            self.sim.errors.append(traceback.format_exc())
            return Reply(500, traceback.format_exc().encode(), "text/plain; charset=utf-8")


_LEGACY = re.compile(r"^/files/([0-9a-fA-F-]{36})(?:\.[^/]*)?$")
_SIGNED = re.compile(r"^/signed/([0-9a-fA-F-]{36})$")
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class StorageGateway:
    """The files.kaiten.ru / S3 stand-in: public legacy objects and presigned private objects."""

    origin = "storage"

    def __init__(self, sim: "KaitenSimulator") -> None:
        self.sim = sim

    def answer(self, method: str, raw_path: str, headers: Mapping[str, str]) -> Answer:
        self.sim.stats.incr("storage_requests")
        fault = self.sim.faults.apply()
        if fault is None or isinstance(fault, Reply):
            return fault, None
        reply, principal = self._answer(method, raw_path, headers)
        reply.truncated = not fault
        return reply, principal

    def _answer(self, method: str, raw_path: str, headers: Mapping[str, str]) -> tuple[Reply, None]:
        split = urlsplit(raw_path)
        if method not in ("GET", "HEAD"):
            body = s3_error("MethodNotAllowed", "The specified method is not allowed.", "")
            return Reply(405, body, XML), None
        legacy, signed = _LEGACY.match(split.path), _SIGNED.match(split.path)
        key = (legacy or signed).group(1) if (legacy or signed) else ""
        blob = self.sim.company.blobs.get(key)
        if signed:
            problem = self.sim.signer.check(key, parse_qs(split.query), "Authorization" in headers)
            if problem is not None:
                self.sim.stats.incr("storage_rejected")
                return Reply(403, s3_error(*problem, key), XML), None
        if blob is None or blob.deleted or (legacy and not blob.public):
            return Reply(404, s3_error("NoSuchKey", "The specified key does not exist.", key), XML), None
        disposition = (parse_qs(split.query).get("response-content-disposition") or [None])[0]
        return self.serve(blob, headers.get("Range"), disposition), None

    @staticmethod
    def serve(blob: FileBlob, range_header: str | None, disposition: str | None) -> Reply:
        headers = {"Accept-Ranges": "bytes", "ETag": f'"{blob.key}-{blob.size}"'}
        if disposition:
            headers["Content-Disposition"] = disposition
        content_type = blob.mime_type or "application/octet-stream"
        start, end, status = 0, blob.size, 200
        match = _RANGE.match(range_header or "")
        if match and (match.group(1) or match.group(2)):
            first, last = match.group(1), match.group(2)
            start = int(first) if first else max(0, blob.size - int(last))
            end = min(blob.size, int(last) + 1) if first and last else blob.size
            if start >= end:
                return Reply(416, b"", None, {"Content-Range": f"bytes */{blob.size}"})
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{blob.size}"
        return Reply(status, b"", content_type, headers, stream=blob.chunks(start, end), length=end - start)


class KaitenSimulator(Simulator):
    """Serve ``company`` on two loopback origins; use as a context manager or ``start()``/``stop()``.

    ``rps`` enables the per-token rate limit (``int(rps)`` requests per sliding second, HTML 429,
    ``Retry-After: 1`` unless ``retry_after=False``); ``faults`` injects errors/drops/latency;
    ``drift=True`` inserts a live card after every full ``/cards`` page (see
    :meth:`after_full_cards_page`); presigned URLs expire after ``signed_url_ttl`` seconds.
    ``on_request`` (also settable later as ``sim.on_request``) is called in the serving thread with
    a :class:`SimEvent` when a request arrives and while a file body streams, so a test can act at
    an exact point (e.g. kill the client half-way through a download); it must not raise.
    A company generated with lazy boards (:mod:`k2p.testing.kaiten.lazy`) has its remaining boards
    built on a background thread from ``start()`` on, unless ``warm=False``.
    """

    name = "Kaiten"

    def __init__(self, company: KaitenCompany, *, rps: float | None = None, retry_after: bool = True,
                 faults: FaultPlan | None = None, drift: bool = False, signed_url_ttl: float = 15.0,
                 idle_timeout: float | None = None, port: int = 0, storage_port: int = 0,
                 on_request: RequestHook | None = None, warm: bool = True) -> None:
        self.company = company
        self._warm = warm
        self._warm_stop = threading.Event()
        self.request_log = RequestLog()
        self.stats = SimStats()
        self.errors: list[str] = []  # tracebacks of internal errors (see SimulatorBug)
        self.drift = drift
        self.signer = UrlSigner(signed_url_ttl)
        self.on_request = on_request
        self._arrivals = itertools.count()
        self.api = ApiGateway(self, None, retry_after)
        self.storage = StorageGateway(self)
        self.reconfigure(rps=rps, retry_after=retry_after, faults=faults)
        self._api_server = LoopbackServer(_ApiHandler, self, port=port, idle_timeout=idle_timeout)
        self._storage_server = LoopbackServer(_StorageHandler, self, port=storage_port,
                                              idle_timeout=idle_timeout)

    @property
    def tokens(self) -> dict[str, TokenInfo]:
        return self.company.tokens

    @property
    def base_url(self) -> str:
        """API origin (``http://127.0.0.1:PORT``); the API lives under ``/api/v1`` and ``/api/latest``."""
        return self._api_server.url

    @property
    def api_url(self) -> str:
        return self.base_url + "/api/v1"

    @property
    def storage_url(self) -> str:
        return self._storage_server.url

    def _servers(self) -> list[LoopbackServer]:
        return [self._storage_server, self._api_server]

    def start(self) -> "KaitenSimulator":
        self.company.files_origin = self.storage_url + "/files"
        super().start()
        if self._warm and self.company.boards_lazy is not None:
            self.company.boards_lazy.warm(self._warm_stop)
        return self

    def stop(self) -> None:
        self._warm_stop.set()
        super().stop()

    def reconfigure(self, *, rps: float | None = None, retry_after: bool = True,
                    faults: FaultPlan | None = None) -> None:
        """Replace the rate limit and fault plan; company, ports and URLs stay (so exports of the
        same simulator with and without trouble can be compared byte for byte)."""
        self.faults = FaultInjector(faults, self.stats)
        self.api.limiter = RateLimiter(rps) if rps else None
        self.api.retry_after = retry_after

    def exhaust_rate_limit(self, token: str) -> None:
        """Fill ``token``'s rate window (no-op without ``rps``): its next request answers 429."""
        if self.api.limiter is not None:
            self.api.limiter.exhaust(self.company.token_info(token).token)

    def arrived(self, origin: str, method: str, path: str, query: str) -> SimEvent:
        """Number an arriving request and show it to the ``on_request`` hook."""
        event = SimEvent(next(self._arrivals), time.monotonic(), origin, method, path, query)
        hook = self.on_request
        if hook is not None:
            hook(event)
        return event

    def body_progress(self, event: SimEvent) -> Callable[[int, int], None]:
        """The per-chunk callback of a streamed reply to ``event`` (calls the hook, if any)."""
        def report(sent: int, length: int) -> None:
            hook = self.on_request
            if hook is not None:
                hook(replace(event, time=time.monotonic(), stage="body", sent=sent, length=length))
        return report

    # --- hooks used by the routes --------------------------------------------------------------
    def sign_url(self, blob: FileBlob, disposition: str) -> str:
        self.stats.incr("signed_urls")
        return self.storage_url + self.signer.sign(blob.key, blob.name, disposition)

    def after_full_cards_page(self, first_card_id: int) -> None:
        """Drift rule: after a full ``/cards`` page, insert one live card in the same board, column
        and lane as the page's first card. It gets the highest id, so it sorts first in the default
        order and every later page of the same listing starts with a repeat of the previous page's
        last item (an exporter must de-duplicate by id). Listings that exclude live cards
        (``condition=2``) are not shifted."""
        if not self.drift:
            return
        board_id = read_field(self.company.cards, first_card_id, "board_id")
        self.company.add_card(board_id, like=first_card_id)
        self.stats.incr("drift_inserts")


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: print the URLs and tokens, serve until Ctrl-C or the idle timeout."""
    parser = argparse.ArgumentParser(prog="python -m k2p.testing.kaiten.sim",
                                     description="Serve a generated Kaiten company on loopback.")
    parser.add_argument("--scale", default="small", choices=("tiny", "small", "large", "huge"))
    parser.add_argument("--cards", type=int, default=None,
                        help="rescale the company to about this many cards (e.g. --scale huge --cards 20000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rps", type=float, default=None, help="per-token requests per second")
    parser.add_argument("--no-retry-after", action="store_true", help="send 429 without Retry-After")
    parser.add_argument("--port", type=int, default=0, help="API port (0 = random)")
    parser.add_argument("--storage-port", type=int, default=0)
    parser.add_argument("--signed-url-ttl", type=float, default=15.0)
    parser.add_argument("--idle-timeout", type=float, default=600.0, help="stop after this many idle seconds")
    args = parser.parse_args(argv)
    sim = KaitenSimulator(generate_company(args.scale, args.seed, cards=args.cards), rps=args.rps,
                          retry_after=not args.no_retry_after, signed_url_ttl=args.signed_url_ttl,
                          idle_timeout=args.idle_timeout or None, port=args.port,
                          storage_port=args.storage_port)
    with sim:
        print(f"Kaiten simulator ({args.scale}, seed {args.seed}, {len(sim.company.cards)} cards)")
        print(f"  API:     {sim.api_url}   (also {sim.base_url}/api/latest)")
        print(f"  storage: {sim.storage_url}")
        for info in sim.tokens.values():
            role = ", admin" if info.is_admin else ""
            print(f"  token {info.kind:<5} (user {info.user_id}{role}): {info.token}")
        print("Serving; press Ctrl-C to stop.", flush=True)
        try:
            sim.wait()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
