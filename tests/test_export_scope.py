"""Scope options (``--board``, ``--space``, ``--no-files``, ``--max-file-size``, ``--json``) and
paging over a changing card list."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from k2p.archive.reader import ArchiveReader
from k2p.testing.kaiten.sim import KaitenSimulator
from tests.helpers.export import (
    assert_valid, by_id, export, export_args, export_into, raws, records, run_cli, sim_fixture, simulator,
    token_of,
)

DICTIONARIES = ("users", "company_users", "user_roles", "card_types", "custom_properties", "select_values",
                "catalog_values", "sprints")

sim = sim_fixture("tiny")


@pytest.fixture(scope="module")
def full(sim: KaitenSimulator, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_into(tmp_path_factory, sim, "full")


def cards_on(sim: KaitenSimulator, boards: set[int]) -> set[str]:
    co = sim.company
    return {str(cid) for cid in co.cards_visible_to("admin") if co.cards[cid]["board_id"] in boards}


def assert_structure_limited_to(root: Path, sim: KaitenSimulator, boards: set[int], spaces: set[int]) -> None:
    """Boards, their columns, lanes and cards, and the spaces around them: nothing else."""
    wanted = {str(board) for board in boards}
    assert set(by_id(root, "boards")) == wanted
    assert set(by_id(root, "spaces")) == {str(space) for space in spaces}
    for collection in ("columns", "lanes", "cards"):
        assert {row["ref"]["board_id"] for row in records(root, collection)} == wanted, collection
    assert set(by_id(root, "cards")) == cards_on(sim, boards)
    assert {row["ref"]["board_id"] for row in records(root, "space_boards")} == wanted
    assert {row["ref"]["space_id"] for row in records(root, "space_boards")} <= {str(space) for space in spaces}
    assert {row["ref"]["space_id"] for row in records(root, "space_members")} == {str(space) for space in spaces}
    for row in by_id(root, "boards").values():
        assert set(row["ref"]["space_ids"]) <= {str(space) for space in spaces}


def test_board_scope_keeps_one_board_and_every_dictionary(sim: KaitenSimulator, full: Path,
                                                          tmp_path: Path) -> None:
    co = sim.company
    board = co.landmarks["two_space_board"]
    root = tmp_path / "board.k2p"
    export(sim, root, boards=(board,))
    holding = set(co.board_space_ids(board))
    assert len(holding) == 2
    assert_structure_limited_to(root, sim, {board}, holding)
    assert len(records(root, "space_boards")) == 2
    for name in DICTIONARIES:
        rel = f"records/{name}.jsonl.zst"
        assert (root / rel).read_bytes() == (full / rel).read_bytes(), name
    listed = {tag_id for tag_id, row in by_id(full, "tags").items() if "seen_via" not in row}
    assert listed <= set(by_id(root, "tags"))  # /tags is a company list
    with ArchiveReader(root) as reader:
        assert reader.manifest.scope["boards"] == [board]
        assert reader.manifest.collections["cards"].expected == len(cards_on(sim, {board}))
    assert_valid(root)


def test_space_scope_includes_nested_spaces(sim: KaitenSimulator, tmp_path: Path) -> None:
    co = sim.company
    product, nested = co.landmarks["product_space"], co.landmarks["nested_space"]
    assert co.spaces[nested]["parent_entity_uid"] == co.spaces[product]["uid"]
    root = tmp_path / "space.k2p"
    export(sim, root, spaces=(product,))
    boards = {b["board_id"] for b in co.bindings if b["space_id"] in (product, nested)}
    assert co.landmarks["hidden_board"] not in boards and len(boards) == 2
    assert_structure_limited_to(root, sim, boards, {product, nested})
    two = by_id(root, "boards")[str(co.landmarks["two_space_board"])]
    assert two["ref"]["space_ids"] == [str(product), str(nested)]


def test_nested_space_alone_leaves_its_parent_out(sim: KaitenSimulator, tmp_path: Path) -> None:
    co = sim.company
    nested = co.landmarks["nested_space"]
    root = tmp_path / "nested.k2p"
    export(sim, root, spaces=(nested,))
    boards = {b["board_id"] for b in co.bindings if b["space_id"] == nested}
    assert_structure_limited_to(root, sim, boards, {nested})


def test_no_files_stores_no_bytes(sim: KaitenSimulator, tmp_path: Path) -> None:
    root = tmp_path / "nofiles.k2p"
    start = len(sim.request_log)
    result = run_cli(export_args(sim, root, "--no-files", "--json"), token_of(sim))
    assert result.returncode == 0, result.stderr
    log = sim.request_log.snapshot()[start:]
    report = json.loads(result.stdout)
    files = records(root, "files")
    cloud = {row["id"] for row in files if row["raw"].get("type") in (2, 3, 4, 5, 6)}
    assert cloud, "the tiny company has cloud-drive links"
    assert files and all(row["status"] == ("external" if row["id"] in cloud else "skipped") for row in files)
    assert all(row["blob"] is None for row in files)
    assert not (root / "blobs").exists() or not any((root / "blobs").rglob("*"))
    assert not [row for row in records(root, "missing") if row["entity"] == "file"]
    assert not [entry for entry in log if entry.origin == "storage" or "/files/" in entry.path]
    # --json prints the export report, the archive and its fingerprint
    saved = json.loads((root / "reports/export-report.json").read_text())
    assert {key: report[key] for key in saved} == saved
    with ArchiveReader(root) as reader:
        assert report["fingerprint"] == reader.fingerprint()
        manifest = reader.manifest
        assert report["collections"] == {name: entry.records for name, entry in manifest.collections.items()}
        assert reader.manifest.scope["files"] is False
    assert report["archive"] == str(root) and report["requests"]["file_downloads"] == 0


def test_max_file_size_lists_larger_files_as_too_large(sim: KaitenSimulator, tmp_path: Path) -> None:
    co = sim.company
    limit = 100_000
    root = tmp_path / "small-files.k2p"
    start = len(sim.request_log)
    export(sim, root, max_file_size=limit)
    log = sim.request_log.snapshot()[start:]
    refs = {str(ref.file_id): ref for ref in co.file_refs(co.cards_visible_to("admin"))}
    large = {fid for fid, ref in refs.items() if ref.key and ref.expected_status == 200 and not ref.reason
             and co.blobs[ref.key].size > limit}
    assert len(large) >= 4
    missing = {row["id"].removeprefix("file:"): row for row in records(root, "missing")
               if row["entity"] == "file"}
    assert {fid for fid, row in missing.items() if row["reason"] == "too_large"} == large
    for row in records(root, "files"):
        ref = refs[row["id"]]
        if row["id"] in large:
            assert row["status"] == "missing" and row["blob"] is None
        elif row["status"] == "stored":
            assert row["blob"]["size"] <= limit and row["blob"]["sha256"] == co.file_sha256(ref.key)
    assert all(path.stat().st_size <= limit for path in (root / "blobs").rglob("*") if path.is_file())
    fetched = {entry.path for entry in log if entry.origin == "storage"}
    assert not [key for key in (refs[fid].key for fid in large) if any(key in path for path in fetched)]


# --- paging over a changing list ----------------------------------------------------------------
def test_drift_neither_duplicates_nor_loses_cards(tmp_path: Path) -> None:
    """New cards appear between pages (offsets shift); the big board needs several 100-card pages."""
    with simulator("small", drift=True) as sim:
        co = sim.company
        before = set(co.cards_visible_to("admin"))
        big = co.landmarks["boards"][0]
        outcome = export(sim, tmp_path / "drift.k2p")
        log = sim.request_log.snapshot()
    inserted = set(co.landmarks["inserted_cards"])
    assert sim.stats.drift_inserts == len(inserted) >= 3
    cards = by_id(tmp_path / "drift.k2p", "cards")  # fails on a duplicate id
    assert {str(cid) for cid in before} <= set(cards)
    assert set(cards) <= {str(cid) for cid in before | inserted}
    for cid, raw in raws(tmp_path / "drift.k2p", "cards").items():
        assert raw == co.card_payload(int(cid), broken_api=False)
    fetched = Counter(entry.path for entry in log if re.fullmatch(r"/api/latest/cards/\d+", entry.path))
    assert set(fetched.values()) == {1}
    listings = [entry for entry in log if entry.path == "/api/latest/cards"]
    assert all("limit=100" in entry.query.split("&") for entry in listings)
    for condition in (1, 2):
        pages = [entry for entry in listings
                 if {f"board_id={big}", f"condition={condition}"} <= set(entry.query.split("&"))]
        assert len(pages) >= 2, condition  # more than 100 cards of each condition
    assert outcome.report["expected"]["cards"] == len(cards)
    assert_valid(tmp_path / "drift.k2p")


@pytest.mark.parametrize("option", ["--board", "--space"])
def test_unknown_scope_ids_are_refused(sim: KaitenSimulator, tmp_path: Path, option: str) -> None:
    result = run_cli(export_args(sim, tmp_path / "x.k2p", option, "424242"), token_of(sim))
    assert result.returncode == 2, result.stderr
    assert f"{option} 424242: not visible to this token" in result.stderr
    assert "Traceback" not in result.stderr


def test_wrong_token_never_wipes_an_archive_even_with_restart(full: Path, sim: KaitenSimulator,
                                                             tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "copy.k2p"
    shutil.copytree(full, copy)
    result = run_cli(export_args(sim, copy, "--restart"), "not-a-valid-token")
    assert result.returncode == 6 and "rejected the token (401)" in result.stderr
    assert (copy / "k2p-archive.json").exists()
    assert_valid(copy)
