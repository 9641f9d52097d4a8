"""Documents survive archive → import (``documents = "board"``) with their structure: one Documents
board per space, one list per document group, Markdown from ProseMirror, images and files as
attachments with the simulator's bytes, card links pointing at the imported Planka cards."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

from k2p.archive.index import ArchiveIndex
from k2p.archive.reader import ArchiveReader
from k2p.kaiten.extras.documents import references
from k2p.mapping.wording import WORDS, archive_language
from k2p.mapping.prosemirror import prosemirror_to_markdown
from k2p.testing.kaiten import documents as kaiten_documents
from k2p.testing.kaiten.company import KaitenCompany, generate_company
from k2p.testing.kaiten.sim import KaitenSimulator
from k2p.testing.planka.sim import PlankaSimulator
from tests.helpers.export import export
from tests.helpers.planka_state import import_into, ledger_ids, snapshot


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    company = generate_company("tiny")
    work = tmp_path_factory.mktemp("documents")
    archive = work / "tiny.k2p"
    with KaitenSimulator(company, idle_timeout=300) as sim:
        export(sim, archive)
        # the served payloads (with the files host of this run), before the simulator stops
        served = {node["uid"]: company.expected("admin", f"/documents/{node['uid']}")
                  for node in kaiten_documents.readable_documents(company, company.token_info("admin"))}
    with ArchiveReader(archive) as reader, ArchiveIndex(reader, cards=False) as index:
        words = WORDS[archive_language(index.company)]   # language "auto": the names k2p adds
    mapping = work / "mapping.toml"
    mapping.write_text('documents = "board"\n', encoding="utf-8")
    with PlankaSimulator(idle_timeout=300) as planka:
        key = planka.create_api_key(planka.admin_email)
        outcome = import_into(planka, archive, work / "ledger.sqlite", mapping=mapping, api_key=key)
        start = len(planka.request_log.snapshot())
        again = import_into(planka, archive, work / "ledger.sqlite", mapping=mapping, api_key=key)
        rerun = [entry for entry in planka.request_log.snapshot()[start:] if entry.mutating]
        yield {"company": company, "planka": planka, "key": key, "outcome": outcome, "again": again,
               "rerun_mutations": rerun, "served": served, "ledger": work / "ledger.sqlite",
               "snapshot": snapshot(planka.url, key), "archive": archive, "work": work,
               "board": words["documents_board"], "project": words["documents_project"],
               "root_list": words["documents_list"]}


def _home(co: KaitenCompany, uid: str, project: str, root: str) -> tuple[str, str]:
    """Ground truth: (project name, list name) of a document, from the simulator's tree."""
    groups: list[str] = []
    parent = co.tree_nodes[uid]["parent_entity_uid"]
    while parent:
        space = co.space_by_uid(parent)
        if space is not None:
            names = [space["title"]]
            above = space["parent_entity_uid"]
            while above and co.space_by_uid(above):
                names.insert(0, co.space_by_uid(above)["title"])
                above = co.space_by_uid(above)["parent_entity_uid"]
            return " / ".join(names), " / ".join(reversed(groups)) or root
        groups.append(co.tree_nodes[parent]["title"])
        parent = co.tree_nodes[parent]["parent_entity_uid"]
    return project, " / ".join(reversed(groups)) or root


def test_every_readable_document_is_a_card_in_its_group_list(imported: dict[str, Any]) -> None:
    co, snap = imported["company"], imported["snapshot"]
    assert imported["outcome"].tally.failed == 0, imported["outcome"].report["failures"][:3]
    expected: dict[str, dict[str, list[str]]] = {}
    for uid in sorted(imported["served"], key=lambda uid: (co.tree_nodes[uid]["sort_order"])):
        project, list_name = _home(co, uid, imported["project"], imported["root_list"])
        expected.setdefault(project, {}).setdefault(list_name, []).append(co.tree_nodes[uid]["title"])
    found = {project: {name: sorted(card["name"] for card in cards)
                       for name, cards in boards[imported["board"]]["cards"].items()}
             for project, boards in snap.items() if imported["board"] in boards}
    assert found == {project: {name: sorted(titles) for name, titles in lists.items()}
                     for project, lists in expected.items()}
    # nested groups keep their path; a space without boards still gets its project for documents
    assert "Engineering notes / Runbooks" in found["Product"]
    restricted = co.tree_nodes[co.landmarks["restricted_document"]]["title"]
    assert restricted in str(found)   # the admin may read it


def test_markdown_structure_files_and_card_links(imported: dict[str, Any]) -> None:
    co, snap, planka = imported["company"], imported["snapshot"], imported["planka"]
    cards = ledger_ids(imported["ledger"], "card")
    uid = co.landmarks["document_with_links"]
    data = imported["served"][uid]["data"]
    linked, _ = references(data)
    urls = {card_id: f"{planka.url}/cards/{cards[f'card:{card_id}']}" for card_id in linked}
    card = next(card for card in snap["Product"][imported["board"]]["cards"]["Engineering notes / Runbooks"]
                if card["name"] == "Release checklist")
    assert card["description"] == prosemirror_to_markdown(
        data, card_link=lambda card_id: (urls.get(card_id), co.cards[int(card_id)]["title"]),
        image_link=lambda attrs: None,
        file_link=lambda attrs: None).markdown
    for piece in ("## Before the release", "- ☑ Freeze the branch", "1. **Tag** the release",
                  "| Step | Owner |", "```bash\nmake release\nmake deploy\n```", "📎 release-checklist.pdf"):
        assert piece in card["description"], piece
    for card_id, url in urls.items():
        assert f"]({url})" in card["description"]
        assert f"#{card_id} " in card["description"]      # the link's label names the card (its title)
    blobs = co.landmarks["document_blobs"]
    assert card["attachments"] == sorted([("Architecture.png", "file", co.file_sha256(blobs[0])),
                                          ("release-checklist.pdf", "file", co.file_sha256(blobs[1]))])
    assert card["cover"] == "Architecture.png"
    architecture = next(card for card in snap["Product"][imported["board"]]["cards"]["Engineering notes"])
    assert architecture["attachments"] == []          # its only image is deleted in Kaiten
    assert "graph TD; A--&gt;B" in architecture["description"]   # unknown node: its text kept (escaped)
    notes = {(item["category"], item["field"]) for item in imported["outcome"].report["fidelity"]}
    assert ("lossy", "data") in notes and ("missing_file", "attachments") in notes


def test_rerun_changes_nothing(imported: dict[str, Any]) -> None:
    assert imported["again"].tally.failed == 0
    assert imported["rerun_mutations"] == []


def test_default_keeps_documents_in_the_archive(imported: dict[str, Any], tmp_path: Path) -> None:
    from k2p.planka.importer import ImportOptions, run_import
    from k2p.planka.client import Credentials

    def boards(mapping: Path | None) -> int:
        options = ImportOptions(archive=imported["archive"], dry_run=True, mapping=mapping,
                                report=tmp_path / f"plan-{mapping is None}.json")
        return run_import(options, Credentials()).report["counts"]["board"]["created"]

    with_documents = sum(1 for boards_ in imported["snapshot"].values() if imported["board"] in boards_)
    assert boards(imported["work"] / "mapping.toml") == boards(None) + with_documents
