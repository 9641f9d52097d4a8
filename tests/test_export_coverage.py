"""Nothing skipped silently: the manifest and ``k2p inspect`` account for every collection k2p
knows; opt-in collections, the newer documents API, card counters and hostile document bodies."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterator

import pytest

from k2p.kaiten.extras.documents import references
from k2p.kaiten.extras.registry import KNOWN
from k2p.testing.kaiten.sim import KaitenSimulator
from tests.helpers.export import (
    assert_valid, by_id, export, export_args, expected_pages, records, run_cli, simulator, token_of,
)

DOCS = Path(__file__).resolve().parents[1] / "docs"


@pytest.fixture(scope="module")
def sim() -> Iterator[KaitenSimulator]:
    with simulator("tiny") as running:
        yield running


@pytest.fixture(scope="module")
def full(sim: KaitenSimulator, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """An export with every opt-in collection, and the requests it made."""
    root = tmp_path_factory.mktemp("full") / "acme.k2p"
    start = len(sim.request_log)
    outcome = export(sim, root, with_activity=True, with_baselines=True)
    return {"root": root, "outcome": outcome, "log": sim.request_log.snapshot()[start:]}


def test_registry_format_doc_and_collections_agree() -> None:
    """Every known collection is in docs/FORMAT.md; every exported one is a known one."""
    from k2p.archive import collections as C
    doc = (DOCS / "FORMAT.md").read_text(encoding="utf-8")
    names = [known.name for known in KNOWN]
    assert len(names) == len(set(names))
    assert {collection.name for collection in C.ALL} == {known.name for known in KNOWN if known.supported}
    rows = [line for line in doc.splitlines() if line.startswith("| `")]
    for known in KNOWN:
        if known.supported:
            assert any(f"`{known.name}`" in row.split("|")[1] for row in rows), known.name
        else:
            assert known.note, known.name


def test_opt_in_collections_hold_what_the_simulator_serves(full: dict[str, Any], sim: KaitenSimulator) -> None:
    co, root = sim.company, full["root"]
    assert_valid(root)
    cards = [int(card_id) for card_id in by_id(root, "cards")]
    activity: dict[str, list[Any]] = {}
    for row in records(root, "card_activity"):
        activity.setdefault(row["ref"]["card_id"], []).append(row["raw"])
    assert activity == {str(cid): expected_pages(co, "admin", f"/cards/{cid}/activity") for cid in cards}
    busy = co.landmarks["busy_activity_card"]
    assert len(activity[str(busy)]) > 100   # more than one page was read
    pages = [e for e in full["log"] if e.path.endswith(f"/cards/{busy}/activity")]
    assert len(pages) == len(activity[str(busy)]) // 100 + 1
    baselines = {row["ref"]["card_id"] for row in records(root, "card_baselines")}
    assert baselines == {str(cid) for cid in co.landmarks["baseline_cards"]}


def test_default_export_lists_opt_in_collections_as_not_requested(sim: KaitenSimulator, tmp_path: Path) -> None:
    """``k2p inspect`` (text and JSON) shows every known collection and how to enable the others."""
    root = tmp_path / "acme.k2p"
    result = run_cli(export_args(sim, root, "--board", str(sim.company.landmarks["boards"][0])), token_of(sim))
    assert result.returncode == 0, result.stderr
    shown = run_cli(["inspect", str(root), "--json"])
    assert shown.returncode == 0, shown.stderr
    coverage = json.loads(shown.stdout)["coverage"]
    assert list(coverage) == [known.name for known in KNOWN]
    assert coverage["card_activity"] == {"status": "not_requested", "route": "GET /cards/{id}/activity",
                                         "option": "--with-activity", "missing": 0,
                                         "note": "about one request per card"}
    assert coverage["card_baselines"]["option"] == "--with-baselines"
    for name in ("documents", "document_groups", "tree_entities", "automations", "webhooks", "iterations"):
        assert coverage[name]["status"] == "out_of_scope", name
    assert coverage["company_activity"]["status"] == "not_supported" and coverage["company_activity"]["note"]
    text = run_cli(["inspect", str(root)])
    assert text.returncode == 0, text.stderr
    for known in KNOWN:
        assert re.search(rf"\b{known.name}\b", text.stdout), known.name
    assert "enable with --with-activity" in text.stdout and "not_on_tariff" in text.stdout


def test_requests_per_card_with_and_without_the_new_collections(sim: KaitenSimulator, full: dict[str, Any],
                                                                tmp_path: Path) -> None:
    """``--with-activity`` costs one request per card plus one per further page; baselines one."""
    start = len(sim.request_log)
    export(sim, tmp_path / "plain.k2p")
    plain = sim.request_log.snapshot()[start:]
    cards = len(by_id(full["root"], "cards"))
    api = lambda log: [e for e in log if e.origin == "api"]   # noqa: E731
    extra = len(api(full["log"])) - len(api(plain))
    feeds: dict[str, int] = {}
    for row in records(full["root"], "card_activity"):
        feeds[row["ref"]["card_id"]] = feeds.get(row["ref"]["card_id"], 0) + 1
    activity_pages = sum(feeds.get(card_id, 0) // 100 + 1 for card_id in by_id(full["root"], "cards"))
    assert activity_pages == cards + 1        # one card's feed runs over two pages
    assert extra == activity_pages + cards    # plus one baselines request per card
    assert not [e for e in plain if e.path.endswith(("/activity", "/baselines"))]


def test_newer_documents_api_gives_the_same_documents(sim: KaitenSimulator, full: dict[str, Any],
                                                      tmp_path: Path) -> None:
    """A company whose version 1 list answers 404 is read through ``version=2`` (cursor pages)."""
    co = sim.company
    co.configuration["documents_v1"] = False
    try:
        start = len(sim.request_log)
        export(sim, tmp_path / "v2.k2p")
        log = sim.request_log.snapshot()[start:]
    finally:
        co.configuration["documents_v1"] = True
    assert by_id(tmp_path / "v2.k2p", "documents") == by_id(full["root"], "documents")
    assert by_id(tmp_path / "v2.k2p", "document_groups") == by_id(full["root"], "document_groups")
    assert [e.status for e in log if e.path.endswith("/documents") and "version=2" not in e.query] == [404]
    assert any("version=2" in e.query for e in log if e.path.endswith("/documents"))


def test_card_counters_turn_a_shortfall_into_count_mismatch(sim: KaitenSimulator, tmp_path: Path) -> None:
    """A card announcing more comments, checklist items and minutes than Kaiten serves."""
    co = sim.company
    card_id = next(cid for cid in co.cards_visible_to("admin") if co.card_checklists.get(cid)
                   and co.time_logs.get(cid) and co.cards[cid]["condition"] == 1)
    card = co.cards[card_id]
    saved = {key: card[key] for key in ("comments_total", "goals_total", "time_spent_sum")}
    card.update(comments_total=saved["comments_total"] + 2, goals_total=saved["goals_total"] + 1,
                time_spent_sum=saved["time_spent_sum"] + 30)
    try:
        outcome = export(sim, tmp_path / "short.k2p")
    finally:
        card.update(saved)
    missing = by_id(tmp_path / "short.k2p", "missing")
    for entity in ("comments", "checklists", "time_logs"):
        entry = missing[f"{entity}:{card_id}"]
        assert (entry["reason"], entry["ref"]) == ("count_mismatch", {"card_id": str(card_id)}), entity
    assert outcome.sealed.manifest.coverage["comments"].status == "partial"
    assert outcome.report["expected"]["comments"] == sum(
        co.cards[cid]["comments_total"] for cid in co.cards_visible_to("admin")) + 2


@pytest.mark.parametrize("body", ["deep", "not_json", "object"])
def test_hostile_document_bodies(body: str) -> None:
    """``data`` nested far beyond any limit, not JSON, or an object: no crash, bounded walk."""
    values: dict[str, Any] = {"not_json": "{not json", "object": {"type": "doc", "content": [
        {"type": "inline_card_link", "attrs": {"card_id": 7}}, {"type": "image", "attrs": {"src": "/x.png"}}]}}
    if body == "deep":
        text = '{"type":"doc","content":[' + '{"type":"paragraph","content":[' * 5000 + ']}' * 5000 + ']}'
        assert references(text) == ([], [])
    elif body == "not_json":
        assert references(values["not_json"]) == ([], [])
    else:
        cards, files = references(values["object"])
        assert cards == ["7"] and files == [{"node": "image", "src": "/x.png"}]


def test_space_scope_takes_the_documents_and_settings_below_the_chosen_space(sim: KaitenSimulator,
                                                                           tmp_path: Path) -> None:
    co = sim.company
    product = co.landmarks["product_space"]
    root = tmp_path / "product.k2p"
    outcome = export(sim, root, spaces=(product,))
    chosen = {product, co.landmarks["nested_space"]}      # --space includes the spaces nested in it
    uids = {co.spaces[space_id]["uid"] for space_id in chosen}

    def below(uid: str) -> bool:
        parent = co.tree_nodes[uid]["parent_entity_uid"]
        while parent and parent not in uids:
            parent = (co.tree_nodes.get(parent) or {}).get("parent_entity_uid")
        return parent in uids

    documents = {uid for uid, node in co.tree_nodes.items() if node["entity_type"] == "document" and below(uid)}
    groups = {uid for uid, node in co.tree_nodes.items() if node["entity_type"] == "document_group" and below(uid)}
    assert documents and set(by_id(root, "documents")) == documents
    assert set(by_id(root, "document_groups")) == groups
    assert {row["ref"]["space_id"] for row in records(root, "automations")} <= {str(s) for s in chosen}
    assert {row["ref"]["space_id"] for row in records(root, "template_checklists")} == {str(s) for s in chosen}
    assert outcome.sealed.manifest.collections["documents"].expected == len(documents)
    assert outcome.sealed.manifest.coverage["documents"].status == "collected"


def test_a_tariff_without_documents_is_not_on_tariff(sim: KaitenSimulator, tmp_path: Path) -> None:
    """402 on the document lists: one missing entry each, coverage ``not_on_tariff``, no records."""
    co = sim.company
    co.configuration["documents_tariff"] = False
    try:
        outcome = export(sim, tmp_path / "no-docs.k2p")
    finally:
        co.configuration["documents_tariff"] = True
    missing = by_id(tmp_path / "no-docs.k2p", "missing")
    for name in ("documents", "document_groups"):
        entry = missing[f"collection:{name}"]
        assert (entry["reason"], entry["http_status"]) == ("not_in_tariff", 402)
        coverage = outcome.sealed.manifest.coverage[name]
        assert (coverage.status, coverage.records, coverage.http_status) == ("not_on_tariff", 0, 402)
        assert records(tmp_path / "no-docs.k2p", name) == []
    assert outcome.sealed.manifest.coverage["tree_entities"].status == "collected"
