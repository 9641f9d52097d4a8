"""The bounded-memory paths of the import give exactly what the in-memory ones gave (issue 15).

The archive index keeps cards, their sub-records and their ``missing`` entries on disk and hands
out one board at a time; fidelity notes past the first ones go to a spill file; the ledger is read
a page at a time. Each is compared here with a plain in-memory reading of the same data. And
the card pool is handed a board's longest cards first, which keeps an import's throughput from
depending on where a long comment thread sits in the plan.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner

from k2p.archive import collections as C
from k2p.archive.index import PER_CARD, ArchiveIndex
from k2p.archive.reader import ArchiveReader
from k2p.cli import main
from k2p.mapping.model import Fidelity, Note
from k2p.mapping.relations import LinkPlan, RelationListPlan
from k2p.planka.ledger import Ledger
from k2p.planka.relations import CardRelations, RelationSpool
from k2p.planka.report import with_notes, write_report
from k2p.testing.kaiten.company import generate_company
from k2p.testing.kaiten.sim import KaitenSimulator
from tests.helpers.export import export


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small company rescaled from the huge mix, exported with a file size limit: files above it
    are ``missing`` entries tied to their card, next to the company-level entries."""
    out = tmp_path_factory.mktemp("scale-paths") / "a.k2p"
    with KaitenSimulator(generate_company("huge", seed=5, cards=400), idle_timeout=120) as sim:
        export(sim, out, max_file_size=20_000)
    return out


def _in_memory(reader: ArchiveReader) -> tuple[dict[str, str], dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """What the index should hold, read naively: card → board, per-board records, other missing."""
    board_of: dict[str, str] = {}
    boards: dict[str, dict[str, Any]] = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    for record in reader.iter_records(C.CARDS.name):
        board = str(record["raw"]["board_id"])
        board_of[record["id"]] = board
        boards[board]["cards"]["all"].append(record["raw"])
    for collection in PER_CARD:
        for record in reader.iter_records(collection.name):
            card = str(record["ref"]["card_id"])
            boards[board_of[card]][collection.name][card].append(record)
    company_missing = []
    for entry in reader.iter_records("missing"):
        card = str((entry.get("ref") or {}).get("card_id"))
        if card in board_of:
            boards[board_of[card]]["missing"][str(entry["id"])].append(entry)
        else:
            company_missing.append(entry)
    return board_of, boards, company_missing


def test_the_index_serves_each_board_as_the_archive_holds_it(archive: Path) -> None:
    with ArchiveReader(archive) as reader, ArchiveIndex(reader) as index:
        board_of, boards, company_missing = _in_memory(reader)
        assert index.company.missing == company_missing
        assert any(rows[0]["entity"] == "file" for board in boards.values() for rows in board["missing"].values()), \
            "the size limit must leave card-level missing entries"
        assert sorted(index.company.card_counts) == sorted(boards)
        for card, board in board_of.items():
            assert index.board_of(card) == board and index.has_card(card)
        assert index.board_of("no-such-card") is None and not index.has_card("no-such-card")
        for board, expected in boards.items():
            records = index.board(board)
            assert records.cards == expected["cards"]["all"]
            assert index.company.card_counts[board] == len(records.cards)
            for collection, target in ((C.COMMENTS, records.comments), (C.FILES, records.files),
                                       (C.TIME_LOGS, records.time_logs),
                                       (C.LOCATION_HISTORY, records.location_history)):
                assert target == dict(expected[collection.name]), (board, collection.name)
            assert records.missing == {key: rows[-1] for key, rows in expected["missing"].items()}


def test_a_card_record_repeated_in_the_archive_is_indexed_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """k2p writes each card once; an archive that repeats a card's id (crafted, or joined from two)
    is indexed with the first record only, on the first record's board, so that no step plans the
    card twice (two workers creating one card at once) or counts it on a board that lacks it."""
    from tests.helpers.archives import sample_content, write_archive

    content = sample_content()
    cards = content["records"]["cards"][:6]
    for n, card in enumerate(cards):
        card["raw"]["board_id"] = 7 if n < 3 else 8
    repeated = {**cards[1], "raw": {**cards[1]["raw"], "board_id": 8, "title": "the second record"}}
    content["records"]["cards"] = [*cards, repeated, dict(cards[4])]
    write_archive(tmp_path / "a.k2p", content)
    with ArchiveReader(tmp_path / "a.k2p") as reader, ArchiveIndex(reader) as index:
        assert index.company.card_counts == {"7": 3, "8": 3}
        assert (index.company.repeated_cards, index.company.repeated_card_ids) == (2, ["101", "104"])
        assert index.board_of("101") == "7"
        assert [card["id"] for card in index.board("7").cards] == [100, 101, 102]
        assert index.board("7").cards[1]["title"] == cards[1]["raw"]["title"]
        assert [card["id"] for card in index.board("8").cards] == [103, 104, 105]
    monkeypatch.chdir(tmp_path)        # the dry run writes its plan report here
    result = CliRunner().invoke(main, ["import", str(tmp_path / "a.k2p"), "--dry-run", "--json",
                                       "--state", str(tmp_path / "ledger.sqlite")])
    assert result.exit_code == 0, result.output
    notes = json.loads(result.output)["fidelity_notes"]
    assert sorted((note["entity"], note["category"]) for note in notes if note["field"] == "record") == [
        ("card:101", "skipped"), ("card:104", "skipped")]
    import k2p.archive.index as index_module

    monkeypatch.setattr(index_module, "REPEATED_KEPT", 1)   # past the ids kept: the total is said once
    result = CliRunner().invoke(main, ["import", str(tmp_path / "a.k2p"), "--dry-run", "--json",
                                       "--state", str(tmp_path / "ledger.sqlite")])
    notes = [note for note in json.loads(result.output)["fidelity_notes"] if note["field"] == "record"]
    assert [note["entity"] for note in notes] == ["card:101", "archive"]
    assert "2 card records" in notes[1]["detail"] and "the other 1" in notes[1]["detail"]


def test_fidelity_notes_past_memory_are_spilled_and_reported_in_full(tmp_path: Path) -> None:
    fidelity = Fidelity(in_memory=5)
    added = [Note(f"cat{n % 3}", f"card:{n}", "field", f"détail «{n}»\nline") for n in range(40)]
    for note in added:
        fidelity.add(note.category, note.entity, note.field, note.detail)
    assert len(fidelity) == 40 and fidelity.notes == added and list(fidelity.iter_notes()) == added
    assert [group["count"] for group in fidelity.summary()] == [14, 13, 13]
    assert fidelity.summary()[0]["examples"] == ["card:0: détail «0»\nline", "card:3: détail «3»\nline",
                                                 "card:6: détail «6»\nline"]
    copy = Fidelity(in_memory=2)
    copy.extend(fidelity)
    assert copy.notes == added

    report = {"mode": "import", "fidelity": fidelity.summary(), "counts": {}}
    write_report(tmp_path / "report.json", report, fidelity)
    written = orjson.loads((tmp_path / "report.json").read_bytes())
    as_dicts = [{"category": n.category, "entity": n.entity, "field": n.field, "detail": n.detail} for n in added]
    assert written == {**report, "fidelity_notes": as_dicts}
    kept = with_notes(report, fidelity)
    assert kept["fidelity_notes_total"] == 40 and kept["fidelity_notes"] == as_dicts   # 40 < NOTES_IN_MEMORY

    empty = tmp_path / "empty.json"
    write_report(empty, {}, Fidelity())
    assert orjson.loads(empty.read_bytes()) == {"fidelity_notes": []}


def test_the_ledger_is_read_a_page_at_a_time_even_while_written(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite")
    try:
        for n in range(250):
            ledger.done(f"card:{n:04d}", "card", f"p{n}", "board-1")
        ledger.done("board:1", "board", "board-1", None)
        assert list(ledger.iter_kind("card", page=7)) == ledger.of_kind("card")
        seen = []
        for row in ledger.iter_kind("card", page=10):   # what a deletion pass does: write in between
            seen.append(row.key)
            ledger.done(f"{row.key}:label", "card_label", "x", row.planka_id)
        assert seen == [f"card:{n:04d}" for n in range(250)]
        generation = ledger.generation()
        ledger.forget("card:0000:label")
        assert ledger.generation() != generation
    finally:
        ledger.close()


def test_the_relation_spool_gives_back_every_card_in_order() -> None:
    cards = [CardRelations(f"card:{n}", [RelationListPlan(f"tasklist:{n}:relation:parents", "Родители «p»",
                                                          [LinkPlan(f"task:{n}:parents:{m}", f"card:{m}")
                                                           for m in range(n % 4)])],
                           [f"tasklist:{n}:{k}" for k in range(n % 3)]) for n in range(2500)]
    spool = RelationSpool()
    try:
        for card in cards[:1200]:
            spool.add(card)
        assert [card for chunk in spool.chunks(size=500) for card in chunk] == cards[:1200]
        for card in cards[1200:]:   # adding after a read appends
            spool.add(card)
        chunks = list(spool.chunks())
        assert [len(chunk) for chunk in chunks] == [1000, 1000, 500]
        assert [card for chunk in chunks for card in chunk] == cards
    finally:
        spool.close()


def test_the_card_pool_starts_the_longest_cards_first(monkeypatch: pytest.MonkeyPatch) -> None:
    """A card's children are written one after another, so a card with hundreds of comments is a
    long chain; started last, it would hold its board long after the other workers ran dry. The
    pool is handed the cards by descending length (equal ones in plan order), whatever the plan's
    order, and replays every card once."""
    import threading
    from concurrent.futures import ThreadPoolExecutor
    from types import SimpleNamespace

    from k2p.mapping.model import BoardPlan, CardPlan, CommentPlan
    from k2p.planka import replay

    lengths = [3, 0, 250, 7, 1, 40, 0, 120, 2]
    cards = [CardPlan(f"card:{n}", "list:1", f"card {n}", "project",
                      comments=[CommentPlan(f"comment:{n}:{i}", "text") for i in range(count)])
             for n, count in enumerate(lengths)]
    handed: list[str] = []
    replayed: list[str] = []
    lock = threading.Lock()

    class Pool(ThreadPoolExecutor):
        def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
            handed.append(args[0].key)
            return super().submit(fn, *args, **kwargs)

    def replay_card(ctx: Any, state: Any, card: CardPlan, position: float) -> None:
        with lock:
            replayed.append(card.key)

    monkeypatch.setattr(replay, "ThreadPoolExecutor", Pool)
    monkeypatch.setattr(replay, "replay_card", replay_card)
    ctx = SimpleNamespace(syncer=SimpleNamespace(row=lambda key: None), concurrency=2, client=None,
                          on_progress=lambda event, value: None)
    replay._replay_cards(ctx, BoardPlan("board:1", "Board", cards=cards), SimpleNamespace())  # type: ignore[arg-type]
    assert handed == ["card:2", "card:7", "card:5", "card:3", "card:0", "card:8", "card:4", "card:1", "card:6"]
    assert sorted(replayed) == sorted(card.key for card in cards)


def test_the_planned_cards_answer_as_the_set_of_their_keys(archive: Path) -> None:
    """The import keeps which cards it planned without a key per card: by board, through the
    index. It must answer exactly as the set of planned keys would, for Kaiten cards on planned
    and unplanned boards, Documents cards (not in the archive), and a card planned elsewhere."""
    from k2p.mapping.model import BoardPlan, CardPlan
    from k2p.planka.importer import PlannedCards

    with ArchiveReader(archive) as reader, ArchiveIndex(reader) as index:
        boards = sorted(index.company.card_counts)
        assert len(boards) >= 3
        every = {board: [f"card:{card['id']}" for card in index.board(board).cards] for board in boards}
        planned = PlannedCards(index.board_of)
        expected: set[str] = set()
        elsewhere = every[boards[-1]][0]           # the index has it on the last board, not planned
        for board in boards[:-1]:
            keys = every[board] + ([elsewhere] if board == boards[0] else [])
            planned.add(BoardPlan(f"board:{board}", "B", cards=[CardPlan(key, "list:1", "c", "story") for key in keys]))
            expected.update(keys)
        documents = ["card:document:abc", "card:document:def"]
        planned.add(BoardPlan("board:document:space1", "Docs", cards=[CardPlan(key, "list:1", "d", "story")
                                                                      for key in documents]))
        expected.update(documents)
        probes = [key for keys in every.values() for key in keys] + documents + [
            "card:document:other", "card:999999999", "board:" + boards[0], "comment:1", ""]
        assert {key for key in probes if key in planned} == expected & set(probes)
        assert elsewhere in planned and every[boards[-1]][1] not in planned
