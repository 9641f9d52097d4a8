"""The ``huge`` scale and card budgets of the Kaiten simulator's generator.

The huge company itself is a benchmark (benchmarks/scale_bench.py); these tests run it at a small
card budget and check that the lazy comment threads and the compact per-card tables
(:mod:`k2p.testing.kaiten.compact`) give exactly the records of the eager build, served through the
same views, routes and a real export.
"""

from __future__ import annotations

import pytest

from k2p.testing.kaiten import compact as kaiten_compact
from k2p.testing.kaiten import views
from k2p.testing.kaiten.comment_tail import CommentThread
from k2p.testing.kaiten import company as kaiten_company
from k2p.testing.kaiten.company import generate_company
from k2p.testing.kaiten.compact import PackedRecords, peek_items
from k2p.testing.kaiten.generator import SCALES
from tests.helpers.twins import assert_same_exports, change_both

COMPACT_TABLES = ("cards", "location_history", "files", "checklists", "time_logs")


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


# --- compact storage -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def compact_pair():
    """The same small huge-mix company stored compactly (with a tiny pack window, so a generator
    step that kept a record while packing it would lose its change and differ) and eagerly."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(kaiten_compact, "PACK_WINDOW", 3)
        packed = generate_company("huge", seed=5, cards=400, compact=True)
    return packed, generate_company("huge", seed=5, cards=400, compact=False)


def unpinned(company) -> dict[str, int]:
    return {name: getattr(company, name).pinned for name in COMPACT_TABLES}


def test_compact_tables_hold_the_eager_records_packed(compact_pair):
    packed, eager = compact_pair
    for name in COMPACT_TABLES:
        table = getattr(packed, name)
        assert isinstance(table, PackedRecords) and isinstance(getattr(eager, name), dict), name
        assert list(table) == list(getattr(eager, name)), f"{name}: keys or their order differ"
        assert dict(peek_items(table)) == getattr(eager, name), name
    assert unpinned(packed) == dict.fromkeys(COMPACT_TABLES, 0), "generation must end fully packed"
    assert packed.landmarks == eager.landmarks and packed.auto_archived == eager.auto_archived


def test_serving_compact_tables_gives_the_eager_payloads_without_pinning(compact_pair):
    packed, eager = compact_pair
    paths = ["/cards", "/tags", "/time-logs?from=2022-01-01&to=2026-12-31"]
    for card_id in eager.served_card_ids():
        paths += [f"/cards/{card_id}", f"/cards/{card_id}/location-history", f"/cards/{card_id}/files",
                  f"/cards/{card_id}/time-logs", f"/cards/{card_id}/children"]
    for board_id in list(eager.boards)[:5]:
        paths += [f"/boards/{board_id}", f"/cards?board_id={board_id}&condition=2",
                  f"/cards?board_id={board_id}&updated_after=2024-06-01&order_by=title"]
    for path in paths:
        base, _, query = path.partition("?")
        params = dict(pair.split("=") for pair in query.split("&")) if query else {}
        for token in ("admin", "user"):
            try:
                expected = eager.expected(token, base, **params)
            except LookupError as error:
                with pytest.raises(LookupError, match=str(error)):
                    packed.expected(token, base, **params)
                continue
            assert packed.expected(token, base, **params) == expected, (token, path)
    assert unpinned(packed) == dict.fromkeys(COMPACT_TABLES, 0), "read-only serving must not pin"


def test_mutations_of_compact_records_are_kept():
    """Drift (changes.py), add_card and direct edits by tests change pinned records in place."""
    packed = generate_company("huge", seed=2, cards=300, compact=True)
    eager = generate_company("huge", seed=2, cards=300, compact=False)
    change_both(packed, eager)
    assert 0 < packed.cards.pinned < len(packed.cards), "only records handed out are pinned"
    for name in COMPACT_TABLES:
        assert dict(peek_items(getattr(packed, name))) == getattr(eager, name), name
    for card_id in eager.served_card_ids():
        assert packed.card_payload(card_id) == eager.card_payload(card_id)


def test_a_real_export_of_compact_storage_equals_the_eager_one(compact_pair, tmp_path):
    """Both companies served in turn on the same ports (URLs are part of the records and digests)."""
    assert_same_exports(compact_pair, tmp_path)
    assert unpinned(compact_pair[0]) == dict.fromkeys(COMPACT_TABLES, 0), "an export must not pin records"


def test_compact_is_the_default_for_big_budgets_only(monkeypatch):
    monkeypatch.delenv("K2P_SIM_COMPACT", raising=False)
    monkeypatch.delenv("K2P_SIM_LAZY_BOARDS", raising=False)
    assert isinstance(generate_company("tiny").cards, dict)
    big = generate_company("huge", cards=kaiten_company.COMPACT_FROM).cards
    assert isinstance(big.inner, PackedRecords), "a big company keeps its lazily built cards packed"
