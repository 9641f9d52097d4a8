"""Timestamps as k2p reads and writes them: Kaiten's ISO 8601 strings, Planka's, and the reports'.

Kaiten and Planka send ISO 8601 in UTC with milliseconds and ``Z``; archives, ledgers and reports
use seconds precision. Parsing is lenient (any offset, 1–9 fraction digits, a missing zone means
UTC) and never raises: an absent or invalid value is ``None``.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

_FRACTION = re.compile(r"(?<=:\d\d)\.(\d+)")


def utc_now() -> str:
    """Current time as ISO 8601 UTC with seconds precision and a ``Z``."""
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def parse_time(value: object) -> datetime | None:
    """A Kaiten ISO 8601 timestamp as an aware UTC datetime (``None`` when absent or invalid)."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    # Python 3.10 parses only 3 or 6 fraction digits.
    text = _FRACTION.sub(lambda match: "." + (match.group(1) + "000000")[:6], text, count=1)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def iso_utc(moment: datetime) -> str:
    """``2026-08-01T09:15:00.000Z``: the form Planka itself returns."""
    return (f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T{moment.hour:02d}:{moment.minute:02d}:"
            f"{moment.second:02d}.{moment.microsecond // 1000:03d}Z")


def human_utc(value: object, *, with_time: bool = True) -> str | None:
    """``2026-08-01 09:15 UTC`` (or ``2026-08-01``) for footers and attribution lines."""
    moment = parse_time(value)
    if moment is None:
        return None
    day = f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
    return f"{day} {moment.hour:02d}:{moment.minute:02d} UTC" if with_time else day
