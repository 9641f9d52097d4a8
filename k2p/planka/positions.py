"""Positions for ordered siblings (lists, labels, cards, task lists, tasks) across re-imports.

A first import places siblings at 65536·(i+1), Planka's own gap. On later imports, siblings that
already exist keep their position whenever their relative order is unchanged (the longest run of
increasing known positions); only new or reordered siblings get positions fitted between their
neighbours. So adding one card to a list creates one card and moves nothing else.
"""

from __future__ import annotations

import bisect
from typing import Sequence

GAP = 65536.0


def _longest_increasing(values: Sequence[float]) -> set[int]:
    """Indexes of one longest strictly increasing subsequence of ``values``."""
    tails: list[float] = []
    tail_index: list[int] = []
    previous = [-1] * len(values)
    for index, value in enumerate(values):
        slot = bisect.bisect_left(tails, value)
        if slot == len(tails):
            tails.append(value)
            tail_index.append(index)
        else:
            tails[slot] = value
            tail_index[slot] = index
        previous[index] = tail_index[slot - 1] if slot > 0 else -1
    result: set[int] = set()
    cursor = tail_index[-1] if tail_index else -1
    while cursor != -1:
        result.add(cursor)
        cursor = previous[cursor]
    return result


longest_increasing = _longest_increasing   # also used by ``k2p check`` to name reordered siblings


def plan_positions(order: Sequence[str], known: dict[str, float | None]) -> dict[str, float]:
    """Target position of every key in ``order`` given the positions some of them already have."""
    indexed = [(index, known[key]) for index, key in enumerate(order) if known.get(key) is not None]
    kept_local = _longest_increasing([float(position) for _, position in indexed])  # type: ignore[arg-type]
    kept = {indexed[i][0]: float(indexed[i][1]) for i in kept_local}  # type: ignore[arg-type]
    result: dict[str, float] = {}
    run: list[str] = []
    low = 0.0
    for index, key in enumerate(order):
        if index in kept:
            _fill(run, low, kept[index], result)
            run = []
            low = kept[index]
            result[key] = kept[index]
        else:
            run.append(key)
    _fill(run, low, None, result)
    return result


def _fill(run: list[str], low: float, high: float | None, result: dict[str, float]) -> None:
    for offset, key in enumerate(run, start=1):
        if high is None:
            result[key] = low + GAP * offset
        else:
            result[key] = low + (high - low) * offset / (len(run) + 1)
