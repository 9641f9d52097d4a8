"""One request pacer shared by every worker thread, slowing down adaptively after a 429.

Requests are scheduled on a virtual clock (GCRA): each one takes the next free slot ``1/rate``
seconds after the previous one, so the rate holds across threads without bursts beyond ``burst``.
A 429 pauses every worker until the server's ``Retry-After`` (or ``X-RateLimit-Reset``) and lowers
the rate; the rate creeps back to the configured maximum after a run of successes.
"""

from __future__ import annotations

import threading
import time
from typing import Callable

SLOWDOWN = 0.8           # rate multiplier after a 429
RECOVERY = 1.05          # rate multiplier after RECOVERY_AFTER successes in a row
RECOVERY_AFTER = 50
MIN_RATE = 0.2
# Share of a server-advertised limit actually used: pacing at exactly the limit puts requests on
# the edge of a sliding window, where arrival jitter turns some into 429s that each cost a full
# Retry-After pause for every worker.
HEADROOM = 0.97


class RateLimiter:
    """Thread-safe pacer: call :meth:`acquire` before every request."""

    def __init__(self, rate: float, *, burst: int = 1,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.max_rate = rate
        self.rate = rate
        self._burst = max(1, burst)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next = clock()
        self._paused_until = 0.0
        self._successes = 0
        self.throttled = 0

    def acquire(self) -> None:
        """Block until this caller may send one request."""
        with self._lock:
            now = self._clock()
            earliest = max(now - (self._burst - 1) / self.rate, self._paused_until)
            slot = max(self._next, earliest)
            self._next = slot + 1.0 / self.rate
        delay = slot - now
        if delay > 0:
            self._sleep(delay)

    def pause(self, seconds: float) -> None:
        """Hold every worker for ``seconds`` (e.g. the server's ``Retry-After``)."""
        with self._lock:
            until = self._clock() + max(0.0, seconds)
            self._paused_until = max(self._paused_until, until)
            self._next = max(self._next, until)

    def cap(self, limit: float) -> None:
        """Keep below a limit the server advertises (with :data:`HEADROOM`); never raises the rate."""
        target = limit * HEADROOM
        with self._lock:
            if 0 < target < self.max_rate:
                self.max_rate = target
                self.rate = min(self.rate, target)

    def throttle(self, retry_after: float | None) -> None:
        """Record a 429: pause for ``retry_after`` (default one second) and slow down.

        The slowdown applies once per overload: 429s that arrive while the pause of an earlier one
        is still running answer requests already under way and do not lower the rate again.
        """
        with self._lock:
            self.throttled += 1
            self._successes = 0
            if self._clock() >= self._paused_until:
                self.rate = max(MIN_RATE, self.rate * SLOWDOWN)
        self.pause(retry_after if retry_after is not None else 1.0)

    def success(self) -> None:
        """Record a successful request; after a run of them, recover towards the maximum rate."""
        with self._lock:
            if self.rate >= self.max_rate:
                return
            self._successes += 1
            if self._successes >= RECOVERY_AFTER:
                self._successes = 0
                self.rate = min(self.max_rate, self.rate * RECOVERY)
