"""The delta plan streams (issue 15): PREVIOUS's cards and the current listing are looked up one
card at a time instead of being loaded whole, and the result is exactly the in-memory plan's.

The reference below is the in-memory algorithm the export used before (every card of PREVIOUS and
of the listing in dicts); it is compared with :func:`plan_rereads` fed by a real export journal
and a real PREVIOUS index, with pages and batches shrunk so that every page boundary is crossed.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any, Iterator

import pytest

from k2p import jsoncodec
from k2p.archive import collections as C
from k2p.archive.reader import ArchiveReader
from k2p.kaiten.context import id_order
from k2p.kaiten.delta import previous as previous_module
from k2p.kaiten.delta.plan import PARTS, plan_rereads
from k2p.kaiten.delta.previous import PreviousIndex, build_index, embedded_users
from k2p.kaiten.delta.session import _Exported, _JournalListing
from k2p.kaiten.delta.signals import SUB_LIST_SIGNALS, differing
from k2p.kaiten.journal import ExportJournal
from k2p.testing.kaiten.company import generate_company
from k2p.testing.kaiten.sim import KaitenSimulator
from tests.helpers.export import export


def reference_plan(states: dict[str, Any], flagged: set[str], by_user: set[str], by_role: set[str],
                   listing: dict[str, tuple[str, str, dict[str, Any]]], wanted: list[str], *, full: bool,
                   refresh_boards: set[str]) -> dict[str, list[str]]:
    """The plan as the export computed it with everything in memory (before streaming)."""
    exported = set(wanted)
    plan: dict[str, set[str]] = {}
    for card in wanted:
        board, digest, signals = listing.get(card, ("", None, {}))
        before = states.get(card)
        if full or board in refresh_boards or before is None or card in flagged or card in by_user:
            plan[card] = set(PARTS)
            continue
        _, old_digest, old_signals, _ = before
        parts: set[str] = set()
        if old_digest is None or old_digest != digest or differing(signals, old_signals):
            parts.add(C.CARDS.name)
        for sub, keys in SUB_LIST_SIGNALS.items():
            if any(signals.get(key) != old_signals.get(key) for key in keys):
                parts.add(sub)
        if card in by_role:
            parts.add(C.TIME_LOGS.name)
        if parts:
            plan[card] = parts
    sources = {card for card, parts in plan.items() if C.CARDS.name in parts} | (set(states) - exported)
    for source in sorted(sources):
        related: set[str] = set(states[source][3]) if source in states else set()
        signals = listing.get(source, ("", None, {}))[2]
        for key in ("parents_ids", "children_ids"):
            related.update(str(item) for item in signals.get(key) or [] if item is not None)
        for card in sorted(related & exported):
            plan.setdefault(card, set()).add(C.CARDS.name)
    return {card: [part for part in PARTS if part in parts] for card, parts in plan.items()}


@pytest.fixture(scope="module")
def previous(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, PreviousIndex]]:
    company = generate_company("tiny")
    root = tmp_path_factory.mktemp("plan")
    with KaitenSimulator(company, idle_timeout=300) as sim:
        export(sim, root / "before.k2p")
    patch = pytest.MonkeyPatch()
    patch.setattr(previous_module, "BATCH", 3)    # flush refs and rows every few records
    patch.setattr(previous_module, "PAGE", 4)     # card_states crosses many pages
    build_index(root / "before.k2p", root / "previous.sqlite")
    index = PreviousIndex(root / "previous.sqlite")
    yield root / "before.k2p", index
    index.close()
    patch.undo()


def _current_listing(index: PreviousIndex, seed: int) -> tuple[dict[str, tuple[str, str, dict[str, Any]]], list[str]]:
    """A listing derived from PREVIOUS with some cards changed, some gone and some new."""
    rng = random.Random(seed)
    listing: dict[str, tuple[str, str, dict[str, Any]]] = {}
    wanted: list[str] = []
    for card, board, digest, signals, _ in index.card_states():
        roll = rng.random()
        if roll < 0.1:
            continue                                          # deleted in Kaiten
        signals = dict(signals)
        if roll < 0.2:
            signals["updated"] = "2030-01-01T00:00:00Z"        # payload changed
        elif roll < 0.3:
            signals["comments_total"] = int(signals.get("comments_total") or 0) + 1
        elif roll < 0.35:
            signals["children_ids"] = [int(card) + 1]          # a new child
        listing[card] = (board, digest if roll >= 0.4 else "other-digest", signals)
        wanted.append(card)
    for extra in range(5):
        card = str(900_000 + extra)
        listing[card] = ("1", "new", {"updated": "2030-01-01T00:00:00Z"})
        wanted.append(card)
    wanted.append("42424242")                                 # exported but not listed
    return listing, sorted(wanted, key=id_order)


def _journal(tmp_path: Path, listing: dict[str, tuple[str, str, dict[str, Any]]], wanted: list[str]) -> ExportJournal:
    journal = ExportJournal(tmp_path / "export.sqlite")
    shuffled = list(wanted)
    random.Random(7).shuffle(shuffled)
    half = len(shuffled) // 2
    journal.commit_unit("board:a", {}, board_cards=("a", shuffled[:half]))
    journal.commit_unit("board:b", {}, board_cards=("b", shuffled[half:] + shuffled[:3]))   # listed twice
    journal.commit_unit("listing", {}, listings=[(card, board, digest, jsoncodec.dumps(signals).decode())
                                                 for card, (board, digest, signals) in listing.items()])
    return journal


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("full,refresh", [(False, set()), (False, {"1"}), (True, set())])
def test_streamed_plan_equals_the_in_memory_plan(previous: tuple[Path, PreviousIndex], tmp_path: Path,
                                                 seed: int, full: bool, refresh: set[str]) -> None:
    _, index = previous
    listing, wanted = _current_listing(index, seed)
    users = {ref for (ref,) in index._rows("SELECT DISTINCT ref_id FROM refs WHERE kind = 'user'")}
    changed_users = set(sorted(users)[:: 3][:2])
    changed = {C.USERS.name: changed_users, C.COMPANY_USERS.name: set(), C.USER_ROLES.name: {"1", "2"}}
    states = {card: (board, digest, signals, related)
              for card, board, digest, signals, related in index.card_states()}
    expected = reference_plan(states, index.flagged(), index.cards_referencing("user", changed_users),
                              index.cards_referencing("role", {"1", "2"}), listing, wanted, full=full,
                              refresh_boards=refresh)
    journal = _journal(tmp_path, listing, wanted)
    try:
        streamed = plan_rereads(index, _JournalListing(journal), journal.iter_card_ids(), full=full,
                                refresh_boards=refresh, changed=changed, exported=_Exported(journal))
    finally:
        journal.close()
    in_memory = plan_rereads(index, listing, wanted, full=full, refresh_boards=refresh, changed=changed)
    assert list(streamed.items()) == list(expected.items())
    assert list(in_memory.items()) == list(expected.items())
    assert streamed, "the derived listing must change something"


def test_journal_streams_card_ids_in_id_order(tmp_path: Path) -> None:
    rng = random.Random(5)
    ids = list({str(rng.randint(0, 10 ** 7)) for _ in range(2500)}) + ["abc", "x1", "10a", ""]
    journal = ExportJournal(tmp_path / "export.sqlite")
    try:
        journal.commit_unit("board:a", {}, board_cards=("a", ids[:1500]))
        journal.commit_unit("board:b", {}, board_cards=("b", ids[1000:]))   # 500 ids on both boards
        assert list(journal.iter_card_ids()) == sorted(set(ids), key=id_order)
        assert all(journal.has_card(card) for card in ids)
        assert not journal.has_card("99999999999") and not journal.has_card("ab")
        assert journal.listed_card(ids[0]) is None
    finally:
        journal.close()


def test_index_built_in_batches_names_every_reference(previous: tuple[Path, PreviousIndex]) -> None:
    """The ``refs`` rows written batch by batch are exactly what one company-wide set held."""
    root, index = previous
    expected: set[tuple[str, str, str]] = set()
    with ArchiveReader(root) as reader:
        for collection in (C.CARDS, *previous_module.PER_CARD, C.FILES):
            if not reader.has_collection(collection.name):
                continue
            for record in reader.iter_records(collection.name):
                card = record["id"] if collection is C.CARDS else str((record.get("ref") or {}).get("card_id"))
                found: set[str] = set()
                embedded_users(record["raw"], found)
                expected.update((card, "user", user) for user in found)
                if collection is C.TIME_LOGS and record["raw"].get("role_id") is not None:
                    expected.add((card, "role", str(record["raw"]["role_id"])))
    rows = set(index._rows("SELECT card_id, kind, ref_id FROM refs"))
    assert rows == expected and len(rows) > 10
    for kind in ("user", "role"):
        ids = {ref for _, k, ref in expected if k == kind}
        for ref in ids:
            assert index.cards_referencing(kind, {ref}) == {card for card, k, r in expected if k == kind and r == ref}
    order = [row[0] for row in index._rows("SELECT card_id FROM cards ORDER BY seq")]
    assert [state[0] for state in index.card_states()] == order and len(order) > 3 * previous_module.PAGE
    for card, board, digest, signals, related in index.card_states():
        assert index.card_state(card) == (board, digest, signals, related)
    assert index.card_state("no-such-card") is None
    assert all(index.is_flagged(card) for card in index.flagged())
    assert not index.is_flagged("no-such-card")

