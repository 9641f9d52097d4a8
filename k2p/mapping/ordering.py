"""Sort keys for Kaiten records: float ``sort_order`` values, numeric ids, timestamps."""

from __future__ import annotations

import re
from datetime import datetime, timezone

from k2p.timestamps import parse_time

_LAST = 1 << 62
_NEVER = datetime.max.replace(tzinfo=timezone.utc)


def id_order(value: object) -> tuple[int, str]:
    """Numeric ids in number order, anything else (UUIDs) after them."""
    text = str(value)
    return (int(text), text) if text.isdigit() else (_LAST, text)


def position(value: object) -> float:
    """A ``sort_order`` as a float; missing or non-numeric values sort last."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return float("inf")


def time_order(value: object) -> datetime:
    """A timestamp for sorting; missing or invalid ones sort last."""
    return parse_time(value) or _NEVER


def natural_order(text: str) -> tuple[tuple[int, int | str], ...]:
    """Case-insensitive order with digit runs compared as numbers (``api-9`` before ``api-10``)."""
    return tuple((0, int(part)) if part.isdigit() else (1, part)
                 for part in re.split(r"(\d+)", text.casefold()) if part)
