"""The ``huge`` scale and card budgets of the Kaiten simulator's generator.

The huge company itself is a benchmark (benchmarks/scale_bench.py); these tests run it at a small
card budget and check that the lazy comment threads give exactly the records of the eager build,
served through the same views.
"""

from __future__ import annotations

import pytest

from k2p.testing.kaiten import views
from k2p.testing.kaiten.comment_tail import CommentThread
from k2p.testing.kaiten.company import generate_company
from k2p.testing.kaiten.generator import SCALES


@pytest.fixture(scope="module")
def pair():
    return generate_company("huge", seed=3, cards=600), generate_company("huge", seed=3, cards=600, lazy=False)


def test_lazy_threads_produce_the_eager_records(pair):
    lazy, eager = pair
    assert sorted(lazy.comments) == sorted(eager.comments)
    threads = [rows for rows in lazy.comments.values() if isinstance(rows, CommentThread)]
    assert threads, "the huge mix must generate comment threads lazily"
    assert not any(isinstance(rows, CommentThread) for rows in eager.comments.values())
    for card_id, rows in eager.comments.items():
        assert list(lazy.comments[card_id]) == rows
        assert list(lazy.comments[card_id]) == rows, "a thread must regenerate the same records"
        assert len(lazy.comments[card_id]) == len(rows)
        assert views.comments(lazy, card_id) == views.comments(eager, card_id)
    assert lazy.cards == eager.cards
    assert lazy.location_history == eager.location_history and lazy.files == eager.files
    assert lazy.checklists == eager.checklists


def test_huge_mix_at_a_small_budget(pair):
    company, _ = pair
    served = [card for card in company.cards.values() if card["condition"] != 3]
    assert len(company.boards) == 200
    assert 550 <= len(served) <= 1100  # every board keeps at least a few cards
    moved = sum(card["last_moved_at"] is not None for card in served) / len(served)
    commented = sum(card["comments_total"] > 0 for card in served) / len(served)
    assert moved > 0.9 and 0.4 < commented < 0.6
    for card in served:  # the counter the exporter trusts matches the records served
        assert card["comments_total"] == sum(not row["deleted"] for row in company.comments.get(card["id"], []))
    ids = [row["id"] for rows in company.comments.values() for row in rows]
    assert len(ids) == len(set(ids)), "comment ids must be unique across threads"


def test_long_tail_threads_and_appends():
    company = generate_company("huge", seed=0, cards=3000)
    longest = max(company.comments.values(), key=len)
    assert len(longest) >= SCALES["huge"].mix.tail_min
    card_id = longest[0]["card_id"]
    before = list(longest)
    longest.append({**before[-1], "id": 1, "text": "added later"})
    assert list(company.comments[card_id]) == [*before, {**before[-1], "id": 1, "text": "added later"}]


def test_budget_rescales_every_scale_and_keeps_the_default():
    assert generate_company("tiny").cards == generate_company("tiny", cards=None).cards
    spec = SCALES["large"].with_cards(1000)
    assert len(spec.boards) == len(SCALES["large"].boards)
    assert 900 <= spec.cards <= 1100
    assert spec.boards[0][0] >= 11 and spec.boards[0][1] >= 2
    with pytest.raises(ValueError, match="too small"):
        SCALES["huge"].with_cards(5)
