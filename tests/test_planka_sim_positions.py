"""Planka's insert-time position normalisation, checked against the research's example table."""

from __future__ import annotations

import pytest

from k2p.testing.planka.positions import GAP, MAX_POSITION, insert_to_positionables

# requested p | existing siblings | stored p | repositioned siblings (research §3, verbatim)
RESEARCH_TABLE = [
    (65536, [], 65536, {}),
    (65536, [65536], 81920, {}),
    (65536, [65536, 131072], 98304, {}),
    (0, [], 16384, {}),
    (0, [65536], 32768, {}),
    (1, [1, 2, 3], 1.5, {}),
    (100, [100.1, 100.2, 200], 100, {0: 16484, 1: 32868, 2: 49252}),
]


@pytest.mark.parametrize(("requested", "siblings", "stored", "moved"), RESEARCH_TABLE)
def test_research_examples(requested: float, siblings: list[float], stored: float, moved: dict[int, float]) -> None:
    placement = insert_to_positionables(requested, siblings)
    assert placement.position == stored
    assert dict(placement.repositions) == moved


def test_integral_results_are_ints_like_json_from_node() -> None:
    assert isinstance(insert_to_positionables(65536.0, [65536]).position, int)
    assert isinstance(insert_to_positionables(1, [1, 2, 3]).position, float)


def test_crowded_run_shifts_by_gap_then_takes_a_midpoint() -> None:
    placement = insert_to_positionables(65536, [65536, 65536.1, 65536.2, 200000])
    assert placement.position == 65536 + GAP
    # 65536.1 is pushed one more GAP; 65536.2 lands halfway to 200000, which keeps its value.
    assert dict(placement.repositions) == {1: 65536 + 2 * GAP, 2: (65536 + 2 * GAP + 200000) / 2}


def test_overflow_renumbers_everything_and_new_goes_after_equal_siblings() -> None:
    crowded = MAX_POSITION - 20000
    placement = insert_to_positionables(crowded, [crowded, crowded])
    assert placement.position == 3 * GAP
    assert dict(placement.repositions) == {0: GAP, 1: 2 * GAP}
