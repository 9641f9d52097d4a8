"""JSON that never alters source data: fast (orjson) with an exact fallback for huge numbers.

orjson parses integers outside the signed 64-bit range as floats and refuses to encode them. A
backup must keep such numbers exactly, so documents containing a run of 19+ digits (where that
range ends) that does not open a string are parsed by the stdlib instead; the check is cheap, and
a long digit run inside a string after other text only costs the slower path.
"""

from __future__ import annotations

import json
import math
import re
import sys
from typing import Any

import orjson

# Integers past the signed 64-bit range take the stdlib path (orjson would round them to floats).
# The check maps every digit to 9 and looks for a run of 19: 7x faster than a regex on record-sized
# lines; a string that merely holds such a run only costs the slower path. A number whose exponent
# overflows a float needs no check: orjson refuses it ("number is infinity"), and the stdlib path
# then names it. (Looking for 3-digit exponents sent every line with a hex digest or UUID — "3e412"
# — down the slow path.)
# A run that starts right after a quote opens a string (in JSON a closing quote is never followed
# by a digit), so it is text, not a number: Planka's ids ("1920637665284195646") are such runs
# in every answer, and they alone would send every Planka answer down the stdlib path, which
# also decodes the whole document to a str first. When every run is quoted (counted in the mapped
# bytes: as many quoted runs as runs, so none is 38 digits or longer) the regex, which costs three
# orjson parses on a board answer, is not needed.
_LONG_RUN = b"9" * 19
_QUOTED_RUN = b'"' + _LONG_RUN
_DIGITS = bytes.maketrans(b"0123456789", b"9" * 10)
_NUMBER_RUN = re.compile(rb'(?<!["0-9])[0-9]{19}')


def _needs_stdlib(raw: bytes) -> bool:
    digits = raw.translate(_DIGITS)
    runs = digits.count(_LONG_RUN)
    if not runs:
        return False
    if digits.count(_QUOTED_RUN) == runs:
        return False     # every run of 19+ digits (each under 38) opens a string: ids, not numbers
    return _NUMBER_RUN.search(raw) is not None


class Unrepresentable(ValueError):
    """JSON text whose value k2p cannot keep exactly: NaN/Infinity, an integer beyond Python's
    4300-digit conversion limit, nesting deeper than the parser's recursion limit."""


UNREPRESENTABLE = type("Unrepresentable", (), {"__repr__": lambda self: "<unrepresentable>"})()
MAX_INT_DIGITS = sys.get_int_max_str_digits() or 4300


def _reject_constant(name: str) -> Any:
    raise Unrepresentable(f"{name} is not a JSON number")


def _salvage_int(text: str) -> Any:
    return int(text) if len(text.lstrip("-")) <= MAX_INT_DIGITS else UNREPRESENTABLE


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise Unrepresentable(f"{text[:20]} overflows a float")
    return value


def _salvage_float(text: str) -> Any:
    value = float(text)
    return value if math.isfinite(value) else UNREPRESENTABLE


def loads(data: bytes | str, *, salvage: bool = False) -> Any:
    """Parse JSON, keeping integers of any size exact. Raises ``ValueError`` on invalid input
    (:class:`Unrepresentable` when the text is JSON-like but cannot be kept exactly).

    With ``salvage``, NaN, Infinity and over-long integers become :data:`UNREPRESENTABLE` instead,
    so that a caller can keep the usable parts of a document (see :func:`holds_unrepresentable`).
    """
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if not _needs_stdlib(raw):
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass  # not JSON, or NaN/deep nesting: the stdlib parser below tells which
    hooks: dict[str, Any] = ({"parse_constant": lambda name: UNREPRESENTABLE, "parse_int": _salvage_int,
                              "parse_float": _salvage_float}
                             if salvage else {"parse_constant": _reject_constant, "parse_float": _finite})
    try:
        return json.loads(raw, **hooks)
    except RecursionError:
        raise Unrepresentable("nested too deeply") from None
    except ValueError as exc:
        if "integer string conversion" in str(exc):
            raise Unrepresentable("an integer has more digits than k2p converts") from None
        raise


def holds_unrepresentable(value: Any) -> bool:
    """Whether a value parsed with ``salvage=True`` contains :data:`UNREPRESENTABLE` anywhere."""
    pending = [value]
    while pending:
        item = pending.pop()
        if item is UNREPRESENTABLE:
            return True
        if isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def dumps(value: Any) -> bytes:
    """Compact JSON, keys in insertion order, UTF-8, no trailing newline."""
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"),
                          allow_nan=False).encode("utf-8")


def loads_strict(data: bytes) -> Any:
    """Parse like :func:`loads`, refusing what :func:`dumps` never writes: ``NaN``/``Infinity``,
    lone surrogates, invalid UTF-8 and nesting deeper than orjson's limit (1024)."""
    if not _needs_stdlib(data):
        return orjson.loads(data)   # strict already
    try:
        value = loads(data.decode("utf-8"))
        json.dumps(value, ensure_ascii=False).encode("utf-8")   # lone surrogates fail here
    except RecursionError:
        raise ValueError("nesting too deep") from None
    except UnicodeError as exc:
        raise ValueError(f"not valid UTF-8 text ({exc.reason})") from None
    return value
