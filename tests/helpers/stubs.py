"""Hostile HTTP servers on 127.0.0.1 for the ``test_hostile_*`` family, and a guard that fails a
test the moment anything connects to an address other than loopback."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any, Callable, Iterator

import pytest

from k2p.testing.loopback import LoopbackServer, SimHandler

Answer = Callable[[SimHandler], None]


class _StubHandler(SimHandler):
    def _serve(self) -> None:
        stub: Stub = self.server.sim  # type: ignore[attr-defined]
        stub.touch()
        with stub.lock:
            stub.paths.append(self.path)
        try:
            stub.answer(self)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up, as it should
            self.close_connection = True

    do_GET = do_HEAD = do_POST = _serve


class Stub:
    """A loopback server answering every request with ``answer(handler)``; remembers the paths.

    It stops on leaving the ``with`` block, or by itself after ``idle_timeout`` seconds.
    """

    def __init__(self, answer: Answer, idle_timeout: float = 60) -> None:
        self.answer = answer
        self.paths: list[str] = []
        self.lock = threading.Lock()
        self._server = LoopbackServer(_StubHandler, self, idle_timeout=idle_timeout)

    @property
    def url(self) -> str:
        return self._server.url

    @property
    def port(self) -> int:
        return self._server.port

    def touch(self) -> None:
        self._server.touch()

    def __enter__(self) -> "Stub":
        self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop()


def drip(handler: SimHandler, body: bytes, pause: float, *, length: int | None = None) -> None:
    """Send ``body`` one byte every ``pause`` seconds (under ``length`` as Content-Length)."""
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body) if length is None else length))
    handler.end_headers()
    for byte in body:
        handler.wfile.write(bytes([byte]))
        handler.wfile.flush()
        time.sleep(pause)


def flood(handler: SimHandler, chunk: bytes, times: int, content_type: str, *, length: str | None = None,
          sent: list[int] | None = None) -> None:
    """Answer 200 with ``chunk`` repeated ``times`` (announcing ``length`` if given, else until the
    connection closes), appending each chunk's size to ``sent``; bounded, so the stub ends by itself."""
    handler.send_response(200)
    handler.send_header("Content-Type", content_type)
    if length is not None:
        handler.send_header("Content-Length", length)
    handler.close_connection = True
    handler.end_headers()
    for _ in range(times):
        handler.wfile.write(chunk)
        if sent is not None:
            sent.append(len(chunk))


LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")


@pytest.fixture()
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Fail the test if anything connects to, or looks up, a non-loopback address; yields the
    refused targets."""
    refused: list[Any] = []
    connect, lookup = socket.socket.connect, socket.getaddrinfo

    def guarded(sock: socket.socket, address: Any) -> Any:
        host = address[0] if isinstance(address, tuple) else address
        if host not in LOOPBACK_HOSTS:
            refused.append(address)
            raise AssertionError(f"test tried to connect to {address!r}")
        return connect(sock, address)

    def guarded_lookup(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in LOOPBACK_HOSTS:
            refused.append(host)
            raise AssertionError(f"test tried to resolve {host!r}")
        return lookup(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    monkeypatch.setattr(socket, "getaddrinfo", guarded_lookup)
    yield refused
    assert not refused, f"connections to non-loopback addresses: {refused}"
