"""Planka's insert-time position normalisation (``insertToPositionables``), ported to Python.

Planka keeps a client's position unless it collides with, or crowds, its siblings. Then it shifts
the crowded run by ``GAP`` steps (or takes a midpoint when there is room) and, when a value would
exceed ``MAX_POSITION``, renumbers everything to ``GAP * (i + 1)``. The rules, including the implicit
``0`` sentinel in front of the siblings and "a new record goes after an equal sibling", follow the
research notes (§3) exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

GAP = 2 ** 14
MIN_GAP = 0.125
MAX_POSITION = 2 ** 50

Position = float | int | None


def js_number(value: float | int) -> float | int:
    """Return ``value`` as JSON would carry it from Node: integral floats become ints."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2 ** 53:
        return int(value)
    return value


def _num(value: Position) -> float | int:
    # JavaScript coerces null to 0 in comparisons and arithmetic.
    return 0 if value is None else value


@dataclass(frozen=True)
class Placement:
    """Result of :func:`insert_to_positionables`.

    ``position`` is the value stored for the new (or moved) record; ``repositions`` lists
    ``(sibling_index, new_position)`` for siblings whose stored position must change.
    """

    position: float | int
    repositions: tuple[tuple[int, float | int], ...]


def _find_beginnings(positions: list[Position]) -> list[Position]:
    """The crowded run ending at the requested position (walking back through the lowers)."""
    positions = [0, *positions]
    prev = positions.pop()
    beginnings = [prev]
    for position in reversed(positions):
        if _num(prev) - MIN_GAP >= _num(position):
            break
        prev = position
        beginnings.insert(0, prev)
    return beginnings


def _push(mapping: dict[Position, list[float]], key: Position, value: float) -> None:
    mapping.setdefault(key, []).append(value)


def _repositions_map(positions: list[Position]) -> dict[Position, list[float]] | None:
    mapping: dict[Position, list[float]] = {}
    if len(positions) <= 1:
        if positions and _num(positions[0]) > MAX_POSITION:
            return None
        return mapping
    prev = _num(positions[0])
    rest = positions[1:]
    for index, position in enumerate(rest):
        nxt = rest[index + 1] if index + 1 < len(rest) else None
        has_next = index + 1 < len(rest)
        if prev + MIN_GAP <= _num(position):
            break
        if has_next and prev + MIN_GAP * 2 <= _num(nxt):
            _push(mapping, position, prev + (_num(nxt) - prev) / 2)
            break
        prev += GAP
        if prev > MAX_POSITION:
            return None
        _push(mapping, position, prev)
    return mapping


def _full_repositions_map(positions: list[Position]) -> dict[Position, list[float]]:
    mapping: dict[Position, list[float]] = {}
    for index, position in enumerate(positions):
        _push(mapping, position, GAP * (index + 1))
    return mapping


def insert_to_positionables(position: float | int, siblings: Sequence[Position]) -> Placement:
    """Place ``position`` among ``siblings`` (their positions in ``(position, id)`` order).

    The record being moved must not be part of ``siblings``.
    """
    lowers = [p for p in siblings if _num(p) <= position]
    uppers = [p for p in siblings if _num(p) > position]
    beginnings = _find_beginnings([*lowers, position])
    mapping = _repositions_map([*beginnings, *uppers])
    if mapping is None:
        mapping = _full_repositions_map([*lowers, position, *uppers])
    slot = mapping.get(position)
    # An empty list is truthy in JavaScript: the lookup succeeds whenever the key exists.
    result = slot.pop() if slot is not None else position
    repositions: list[tuple[int, float | int]] = []
    for index in range(len(siblings) - 1, -1, -1):
        values = mapping.get(siblings[index])
        if not values:
            continue
        repositions.insert(0, (index, js_number(values.pop())))
    return Placement(js_number(result), tuple(repositions))
