"""Lazy boards (:mod:`k2p.testing.kaiten.lazy`): a big simulated company starts from a skeleton and
builds a board's cards when they are first read.

Every test compares a lazily built company with the same company built eagerly (``lazy=False``:
every board at generation), at a small card budget: the records, the served payloads, a real
export racing the background warm-up, and drift must be identical whatever order the boards are
built in.
"""

from __future__ import annotations

import random

import pytest

from k2p.testing.kaiten import compact as kaiten_compact
from k2p.testing.kaiten import lazy as kaiten_lazy
from k2p.testing.kaiten.company import generate_company
from k2p.testing.kaiten.compact import PackedRecords, peek, peek_items
from tests.helpers.twins import assert_same_exports, change_both

BUDGET = 1500  # 200 boards of 5-30 cards
TABLES = ("cards", "location_history", "files", "checklists", "time_logs", "card_members",
          "card_checklists", "comments", "external_links", "blockers", "blobs")
PACKED = ("cards", "location_history", "files", "checklists", "time_logs")


def make(lazy: bool, seed: int = 7, **options):
    return generate_company("huge", seed=seed, cards=BUDGET, lazy=lazy, lazy_boards=True, **options)


def records(company) -> dict[str, dict]:
    out = {name: dict(peek_items(getattr(company, name))) for name in TABLES}
    out["auto_archived"] = set(company.auto_archived)
    return out


def pinned(company) -> dict[str, int]:
    return {name: getattr(company, name).pinned for name in PACKED}


@pytest.fixture(scope="module")
def eager():
    return make(lazy=False, compact=True)


def test_a_lazy_start_builds_only_what_generation_reads(eager):
    company = make(lazy=True, compact=True)
    boards = company.boards_lazy
    assert eager.boards_lazy.built == len(eager.boards) == 200
    # the first board (edge cases) and the few boards the documents and service desk point at
    assert 1 <= boards.built <= 6, boards.built
    assert len(company.cards) == len(eager.cards) and list(company.cards) == list(eager.cards)
    before = boards.built
    assert company.visible_tag_ids() == eager.visible_tag_ids(), "tags come from the skeleton"
    assert company.served_card_ids() == eager.served_card_ids()
    assert company.cards_visible_to("user") == eager.cards_visible_to("user")
    assert boards.built == before, "keys, boards, conditions and tags must not build a board"
    board_id = next(b for n, b in enumerate(company.landmarks["boards"]) if boards.state[n] != kaiten_lazy.DONE)
    path_params = {"board_id": board_id, "condition": 1}
    assert company.expected("admin", "/cards", **path_params) == eager.expected("admin", "/cards", **path_params)
    assert boards.built == before + 1, "listing one board builds that board only"


def test_boards_built_in_any_order_hold_the_eager_records(eager, monkeypatch):
    """With tiny pack windows, so that a build that packed a record it still held (or left one it
    took pinned) would lose a change or keep records unpacked."""
    monkeypatch.setattr(kaiten_compact, "PACK_WINDOW", 3)
    monkeypatch.setattr(kaiten_lazy, "PACK_EVERY", 2)
    company = make(lazy=True, compact=True)
    card_ids = list(eager.served_card_ids())
    random.Random(3).shuffle(card_ids)
    for card_id in card_ids:  # each first read builds a board, in a random order
        assert company.card_payload(card_id) == eager.card_payload(card_id), card_id
        for path in ("location-history", "files", "time-logs", "children", "blockers"):
            route = f"/cards/{card_id}/{path}"
            try:
                wanted = eager.expected("admin", route)
            except LookupError:
                continue
            assert company.expected("admin", route) == wanted, route
    assert company.boards_lazy.built == 200
    assert records(company) == records(eager)
    assert company.landmarks == eager.landmarks
    assert pinned(company) == dict.fromkeys(PACKED, 0), "built boards must end packed, reading pins nothing"
    assert isinstance(company.cards.inner, PackedRecords)


def test_ids_come_from_each_boards_own_block(eager):
    for name, kind in (("comments", "comment"), ("files", "file"), ("location_history", "history"),
                       ("time_logs", "time_log")):
        ids = [row["id"] for _, rows in peek_items(getattr(eager, name)) for row in rows
               if not isinstance(row["id"], str) or row["id"].isdigit()]
        assert len(ids) == len(set(ids)), f"{kind} ids repeat across boards"
    items = [item["id"] for _, checklist in peek_items(eager.checklists) for item in checklist["items"]]
    assert len(items) == len(set(items))
    lazy = make(lazy=True)
    checklist_id = max(eager.checklists)
    assert peek(lazy.checklists, checklist_id) == peek(eager.checklists, checklist_id), \
        "a checklist id finds the board that owns it"
    block = kaiten_lazy.BoardIds(4, {"comment": 10}, {"comment": 12})
    assert [block.next("comment"), block.next("comment")] == [10, 11]
    with pytest.raises(RuntimeError, match="board 4: its block of 'comment' ids is used up"):
        block.next("comment")


def test_the_mix_holds_when_built_board_by_board(eager):
    served = [card for _, card in peek_items(eager.cards) if card["condition"] != 3]
    moved = sum(card["last_moved_at"] is not None for card in served) / len(served)
    commented = sum(card["comments_total"] > 0 for card in served) / len(served)
    assert moved > 0.9 and 0.4 < commented < 0.6
    for card in served:
        assert card["comments_total"] == sum(not row["deleted"] for row in eager.comments.get(card["id"], []))
    marks = eager.landmarks
    assert marks["emoji_title_card"] in eager.cards and marks["malicious_file"] in eager.blobs
    assert list(marks["auto_archived_cards"]), "auto-archived cards exist"


def test_a_real_export_racing_the_warm_up_equals_the_eager_one(eager, tmp_path):
    """The lazy company is served with the warm-up on: boards are built by the export's requests
    and by the background thread at once. Both are served on the same ports (URLs are in records)."""
    assert_same_exports((make(lazy=True, compact=True), eager), tmp_path)


def test_drift_and_edits_of_lazy_records_are_kept(eager):
    lazy, again = make(lazy=True, seed=9), make(lazy=False, seed=9)
    change_both(lazy, again)
    assert records(lazy) == records(again)


def test_lazy_boards_are_the_default_for_big_budgets_only(monkeypatch):
    monkeypatch.delenv("K2P_SIM_LAZY_BOARDS", raising=False)
    assert generate_company("huge", cards=600).boards_lazy is None
    monkeypatch.setenv("K2P_SIM_LAZY_BOARDS", "1")
    assert generate_company("huge", cards=600).boards_lazy is not None


def test_a_board_that_failed_to_build_is_never_served_half_built(monkeypatch):
    company = make(lazy=True)
    boards = company.boards_lazy
    board = next(n for n, state in enumerate(boards.state) if state == kaiten_lazy.TODO)
    card_id = boards.slots[board][0][1].card_id
    monkeypatch.setattr(boards, "_blocks", [(starts, dict(starts)) for starts, _ in boards._blocks])  # empty blocks
    with pytest.raises(RuntimeError, match="block of .* ids is used up"):
        peek(company.cards, card_id)
    with pytest.raises(RuntimeError, match=f"board {company.landmarks['boards'][board]} .* failed to build"):
        peek(company.cards, card_id)
