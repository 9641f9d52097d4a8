"""Unit tests of the exporter's small pieces: URL parsing, 429 delays, the pacer, endpoint names."""

from __future__ import annotations

from email.utils import format_datetime
from datetime import datetime, timezone

import pytest

from k2p.errors import K2PError
from k2p.kaiten.client import retry_after_seconds
from k2p.kaiten.endpoint import parse_kaiten_url
from k2p.kaiten.ratelimit import HEADROOM, RECOVERY, RECOVERY_AFTER, SLOWDOWN, RateLimiter
from k2p.kaiten.stats import endpoint_template


# --- parse_kaiten_url ---------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "base", "version"), [
    ("https://acme.kaiten.ru", "https://acme.kaiten.ru/api/latest", "latest"),
    ("https://acme.kaiten.ru/", "https://acme.kaiten.ru/api/latest", "latest"),
    ("  https://acme.kaiten.ru/api/latest/ ", "https://acme.kaiten.ru/api/latest", "latest"),
    ("https://acme.kaiten.ru/api/v1", "https://acme.kaiten.ru/api/v1", "v1"),
    ("http://127.0.0.1:8080", "http://127.0.0.1:8080/api/latest", "latest"),
    ("https://kaiten.example.com/prefix/api/v1", "https://kaiten.example.com/prefix/api/v1", "v1"),
])
def test_parse_kaiten_url_accepts_company_and_api_urls(text: str, base: str, version: str) -> None:
    endpoint = parse_kaiten_url(text)
    assert (endpoint.api_base, endpoint.api_version) == (base, version)
    assert endpoint.url("/cards/5") == base + "/cards/5" == endpoint.url("cards/5")
    assert endpoint.same_origin(base + "/cards") and endpoint.same_origin(base.upper().replace("/API", "/api"))
    assert not endpoint.same_origin("https://files.kaiten.ru/x") and not endpoint.same_origin(
        base.replace("://", "://evil.") + "/cards")


@pytest.mark.parametrize(("text", "fragment"), [
    ("acme.kaiten.ru", "not an http(s) URL"),
    ("ftp://acme.kaiten.ru", "not an http(s) URL"),
    ("https://user:secret@acme.kaiten.ru", "must not contain credentials"),
    ("https://acme.kaiten.ru/?token=x", "query or fragment"),
    ("https://acme.kaiten.ru/#x", "query or fragment"),
    ("https://acme.kaiten.ru/space/12", "neither empty nor /api/latest"),
])
def test_parse_kaiten_url_refuses_other_urls(text: str, fragment: str) -> None:
    with pytest.raises(K2PError) as caught:
        parse_kaiten_url(text)
    assert caught.value.exit_code == 2 and fragment in caught.value.message
    assert "secret" not in caught.value.message


# --- retry_after_seconds ------------------------------------------------------------------------
NOW = 1_800_000_000.0


@pytest.mark.parametrize(("headers", "delay"), [
    ({"Retry-After": "1"}, 1.0),
    ({"Retry-After": " 7 "}, 7.0),
    ({"Retry-After": format_datetime(datetime.fromtimestamp(NOW + 30, timezone.utc), usegmt=True)}, 30.0),
    ({"Retry-After": format_datetime(datetime.fromtimestamp(NOW - 30, timezone.utc), usegmt=True)}, 0.0),
    ({"X-RateLimit-Reset": str(int(NOW) + 2)}, 2.0),
    ({"X-RateLimit-Reset": str(NOW + 0.5)}, 0.5),
    ({"X-RateLimit-Reset": str(int(NOW) - 5)}, 0.0),
    ({"Retry-After": "3", "X-RateLimit-Reset": str(int(NOW) + 60)}, 3.0),  # Retry-After wins
    ({}, None),
    ({"X-RateLimit-Reset": "soon"}, None),
])
def test_retry_after_seconds(headers: dict[str, str], delay: float | None) -> None:
    assert retry_after_seconds(headers, now=NOW) == (pytest.approx(delay) if delay is not None else None)


# --- RateLimiter --------------------------------------------------------------------------------
class FakeClock:
    """A clock that only moves when the limiter sleeps (or the test says so)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def limiter(rate: float, **kwargs: int) -> tuple[RateLimiter, FakeClock]:
    clock = FakeClock()
    return RateLimiter(rate, clock=clock, sleep=clock.sleep, **kwargs), clock


def test_limiter_spaces_requests_by_the_rate() -> None:
    pacer, clock = limiter(10)
    for _ in range(5):
        pacer.acquire()
    assert clock.slept == pytest.approx([0.1] * 4)
    clock.now += 5  # idle time is not saved up into a burst
    pacer.acquire()
    pacer.acquire()
    assert clock.slept[-1] == pytest.approx(0.1) and len(clock.slept) == 5


def test_limiter_burst_allows_that_many_at_once_after_idling() -> None:
    pacer, clock = limiter(10, burst=3)
    clock.now += 5
    for _ in range(3):
        pacer.acquire()
    assert clock.slept == []
    pacer.acquire()
    assert clock.slept == [pytest.approx(0.1)]


def test_limiter_pause_holds_every_caller() -> None:
    pacer, clock = limiter(10)
    pacer.acquire()
    pacer.pause(2.0)
    pacer.acquire()
    assert clock.now == pytest.approx(1002.0)


def test_one_overload_slows_down_once_and_recovers() -> None:
    pacer, clock = limiter(20)
    for _ in range(4):  # the 429s of four requests already under way
        pacer.throttle(1.0)
    assert pacer.rate == pytest.approx(20 * SLOWDOWN) and pacer.throttled == 4
    pacer.acquire()
    assert clock.now == pytest.approx(1001.0)  # honours the pause
    pacer.throttle(None)  # a later overload slows down again; no Retry-After: one second
    assert pacer.rate == pytest.approx(20 * SLOWDOWN ** 2)
    for _ in range(RECOVERY_AFTER):
        pacer.success()
    assert pacer.rate == pytest.approx(20 * SLOWDOWN ** 2 * RECOVERY)
    for _ in range(RECOVERY_AFTER * 20):
        pacer.success()
    assert pacer.rate == 20


def test_limiter_adopts_a_lower_advertised_limit_only() -> None:
    pacer, clock = limiter(50)
    pacer.cap(80)
    assert (pacer.max_rate, pacer.rate) == (50, 50)
    pacer.cap(20)
    assert (pacer.max_rate, pacer.rate) == (20 * HEADROOM, 20 * HEADROOM)
    pacer.acquire()
    pacer.acquire()
    assert clock.slept == [pytest.approx(1 / (20 * HEADROOM))]
    for _ in range(RECOVERY_AFTER * 5):
        pacer.success()
    assert pacer.rate == 20 * HEADROOM


def test_limiter_refuses_a_zero_rate() -> None:
    with pytest.raises(ValueError):
        RateLimiter(0)


# --- endpoint_template --------------------------------------------------------------------------
@pytest.mark.parametrize(("path", "template"), [
    ("/api/latest/cards/123/comments", "/cards/{id}/comments"),
    ("/api/v1/cards/50000001", "/cards/{id}"),
    ("/api/latest/cards", "/cards"),
    ("/api/v1/cards/be4a565e-3e58-4dd5-aed1-536858116722/files/111475f2-2177-48ac-baca-0a805fd98507",
     "/cards/{id}/files/{id}"),
    ("/api/latest/company/custom-properties/301/select-values", "/company/custom-properties/{id}/select-values"),
    ("/api/latest", "/"),
    ("/api/latest/users/current", "/users/current"),
])
def test_endpoint_template_folds_ids(path: str, template: str) -> None:
    assert endpoint_template(path) == template
