"""Shared plumbing of the API simulators: a loopback-only threaded HTTP server that stops by itself,
a thread-safe request log and seeded fault decisions.

Both simulators subclass :class:`SimHandler` and run it inside a :class:`LoopbackServer`.
"""

from __future__ import annotations

import random
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterable
from urllib.parse import parse_qs, urlsplit

import orjson

LOOPBACK = "127.0.0.1"


class SimulatorBug(RuntimeError):
    """A simulator answered some request by way of an internal exception (turned into a 500 so
    that clients do not hang); raised when it stops, so that such a bug cannot pass as a fault."""




@dataclass(frozen=True)
class LoggedRequest:
    """One request as the simulator saw it (never holds credentials)."""

    seq: int
    time: float
    method: str
    path: str
    query: str
    status: int
    origin: str = "api"
    principal: str | None = None
    had_authorization: bool = False
    mutating: bool = False
    note: str = ""


class RequestLog:
    """Append-only, thread-safe list of :class:`LoggedRequest` for test assertions."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[LoggedRequest] = []

    def add(self, **fields: Any) -> LoggedRequest:
        with self._lock:
            entry = LoggedRequest(seq=len(self._items), time=time.monotonic(), **fields)
            self._items.append(entry)
            return entry

    def snapshot(self) -> list[LoggedRequest]:
        with self._lock:
            return list(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def count(self, predicate: Callable[[LoggedRequest], bool] | None = None) -> int:
        items = self.snapshot()
        return len(items) if predicate is None else sum(1 for item in items if predicate(item))

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def __iter__(self) -> Iterable[LoggedRequest]:
        return iter(self.snapshot())


@dataclass
class FaultPlan:
    """Seeded random fault decisions: a server error, a dropped connection, a truncated body,
    added latency.

    ``error_rate``, ``drop_rate`` and ``truncate_rate`` are probabilities per request (a truncated
    answer announces its full ``Content-Length`` and closes after half of the body); ``latency_ms``
    is added to every request. The decision is drawn under a lock so concurrent handlers share one
    reproducible stream.
    """

    error_rate: float = 0.0
    drop_rate: float = 0.0
    truncate_rate: float = 0.0
    latency_ms: float = 0.0
    seed: int = 0
    _rng: random.Random = field(init=False, repr=False)
    _lock: threading.Lock = field(init=False, repr=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def bands(self) -> tuple[tuple[str, float], ...]:
        """The outcomes :meth:`draw` picks from, in order, with their probabilities."""
        return (("error", self.error_rate), ("drop", self.drop_rate), ("truncate", self.truncate_rate))

    def draw(self) -> str:
        """Return one outcome of :meth:`bands` (``"error"``, ``"drop"``, ...) or ``"ok"``."""
        bands = self.bands()
        if sum(rate for _, rate in bands) <= 0:
            return "ok"
        with self._lock:
            roll = self._rng.random()
        edge = 0.0
        for outcome, rate in bands:
            edge += rate
            if roll < edge:
                return outcome
        return "ok"

    def delay(self) -> None:
        if self.latency_ms > 0:
            time.sleep(self.latency_ms / 1000.0)


class SimHandler(BaseHTTPRequestHandler):
    """Base request handler with JSON/text helpers; silent (no stderr access log)."""

    protocol_version = "HTTP/1.1"
    server_version = "k2p-sim"
    sys_version = ""

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without TCP_NODELAY, Nagle's algorithm and
        # delayed ACKs add ~40 ms to every keep-alive request.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    # --- request helpers -------------------------------------------------------------------
    @property
    def url_path(self) -> str:
        return urlsplit(self.path).path

    @property
    def url_query(self) -> str:
        return urlsplit(self.path).query

    def query_params(self) -> dict[str, list[str]]:
        return parse_qs(self.url_query, keep_blank_values=True)

    def read_body(self, limit: int | None = None) -> bytes | None:
        """Read the request body; ``None`` when it exceeds ``limit`` (the body is still drained).

        A client that disconnects before sending ``Content-Length`` bytes aborted its request: like
        a real server, raise instead of processing a truncated body.
        """
        length = int(self.headers.get("Content-Length") or 0)
        if limit is not None and length > limit:
            remaining = length
            while remaining > 0:
                chunk = self.rfile.read(min(remaining, 1 << 16))
                if not chunk:
                    break
                remaining -= len(chunk)
            return None
        body = self.rfile.read(length) if length else b""
        if len(body) < length:
            raise ConnectionResetError(f"client sent {len(body)} of {length} body bytes, then closed")
        return body

    # --- response helpers ------------------------------------------------------------------
    def send_bytes(self, status: int, body: bytes, content_type: str | None,
                   headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        if content_type is not None:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        self.send_bytes(status, orjson.dumps(payload), "application/json; charset=utf-8", headers)

    def send_text(self, status: int, text: str, content_type: str = "text/plain; charset=utf-8",
                  headers: dict[str, str] | None = None) -> None:
        self.send_bytes(status, text.encode("utf-8"), content_type, headers)

    def send_truncated(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        """Announce all of ``body`` but send only its first half, then close (a cut-off answer)."""
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2])
        self.wfile.flush()
        self.drop_connection()

    def drop_connection(self) -> None:
        """Close the socket without an answer, as a crashed proxy or a network cut would."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        return


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that was killed or gave up resets its connection: expected, not worth a traceback.
        import sys

        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class LoopbackServer:
    """Run a handler class on 127.0.0.1 in a background thread.

    The server stops on :meth:`stop`, on leaving the ``with`` block, or by itself after
    ``idle_timeout`` seconds without a request (so a forgotten simulator never outlives its use).
    Handlers reach shared state through ``self.server.sim`` (the ``owner`` given here).
    """

    def __init__(self, handler_class: type[SimHandler], owner: Any, *, port: int = 0,
                 idle_timeout: float | None = None) -> None:
        self._httpd = _Server((LOOPBACK, port), handler_class)
        self._httpd.sim = owner  # type: ignore[attr-defined]
        self._idle_timeout = idle_timeout
        self._last_activity = time.monotonic()
        self._thread: threading.Thread | None = None
        self._watchdog: threading.Thread | None = None
        self._stopped = threading.Event()

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def touch(self) -> None:
        """Record activity (handlers call this) so the idle watchdog does not fire."""
        self._last_activity = time.monotonic()

    def start(self) -> "LoopbackServer":
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        name=f"sim-{self.port}", daemon=True)
        self._thread.start()
        if self._idle_timeout:
            self._watchdog = threading.Thread(target=self._watch_idle, daemon=True)
            self._watchdog.start()
        return self

    def _watch_idle(self) -> None:
        assert self._idle_timeout is not None
        while not self._stopped.wait(0.5):
            if time.monotonic() - self._last_activity > self._idle_timeout:
                self.stop()
                return

    def stop(self) -> None:
        if self._stopped.is_set():
            return
        self._stopped.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def wait(self) -> None:
        """Block until the server has stopped (standalone mode)."""
        self._stopped.wait()

    def __enter__(self) -> "LoopbackServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Simulator:
    """Lifecycle shared by the simulators: their servers start and stop together, and leaving the
    ``with`` block raises :class:`SimulatorBug` if a request was answered by an internal error."""

    name = "API"
    errors: list[str]

    def _servers(self) -> list[LoopbackServer]:
        """The servers to run, in start order (the main one last)."""
        raise NotImplementedError

    def start(self) -> Any:
        for server in self._servers():
            server.start()
        return self

    def stop(self) -> None:
        for server in reversed(self._servers()):
            server.stop()

    def wait(self) -> None:
        """Block until the main server stops (idle timeout or :meth:`stop`), then stop the rest."""
        self._servers()[-1].wait()
        self.stop()

    def touch(self) -> None:
        for server in self._servers():
            server.touch()

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        self.stop()
        if exc_type is None and self.errors:
            raise SimulatorBug(f"the {self.name} simulator hit {len(self.errors)} internal error(s); "
                               f"first:\n{self.errors[0]}")
