"""A full export with the admin token (small company) equals the simulator's data record by record."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import orjson
import pytest

from k2p.archive.reader import ArchiveReader
from k2p.testing.kaiten import documents as kaiten_documents
from k2p.kaiten.export import REPORT
from k2p.testing.kaiten.sim import KaitenSimulator
from k2p.testing.loopback import LoggedRequest
from tests.helpers.export import assert_valid, export_into, records, sim_fixture
from tests.helpers.ground_truth import CHECKS

sim = sim_fixture("small")


@pytest.fixture(scope="module")
def archive(sim: KaitenSimulator, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_into(tmp_path_factory, sim, "truth")


@pytest.fixture(scope="module")
def log(sim: KaitenSimulator, archive: Path) -> list[LoggedRequest]:
    return sim.request_log.snapshot()


@pytest.mark.parametrize("check", sorted(CHECKS))
def test_archive_matches_simulator(archive: Path, sim: KaitenSimulator, check: str) -> None:
    CHECKS[check](archive, sim.company, "admin")


def test_archive_verifies_and_coreutils_accept_the_checksums(archive: Path) -> None:
    assert_valid(archive)


def test_report_and_manifest_counts_match_the_records(archive: Path, sim: KaitenSimulator,
                                                     log: list[LoggedRequest]) -> None:
    report = orjson.loads((archive / "reports" / REPORT).read_bytes())
    with ArchiveReader(archive) as reader:
        manifest = reader.manifest
    counts = {name: len(records(archive, name)) for name in manifest.collections}
    assert report["collections"] == counts
    assert counts == {name: entry.records for name, entry in manifest.collections.items()}
    missing = records(archive, "missing")
    assert report["missing"] == {"count": len(missing), "by_reason": dict(sorted(Counter(
        row["reason"] for row in missing).items()))}
    assert manifest.missing.by_reason == report["missing"]["by_reason"]
    co = sim.company
    admin = co.token_info("admin")
    assert report["expected"] == {
        "cards": len(co.cards_visible_to("admin")),
        "comments": sum(co.cards[cid]["comments_total"] for cid in co.cards_visible_to("admin")),
        "documents": len(kaiten_documents.visible_nodes(co, admin, "document")),
        "document_groups": len(kaiten_documents.visible_nodes(co, admin, "document_group"))}
    assert manifest.collections["cards"].expected == counts["cards"]
    stored = [row for name in ("files", "document_files") for row in records(archive, name)
              if row["status"] == "stored"]
    assert manifest.blobs.count == len({row["blob"]["sha256"] for row in stored})
    assert report["requests"]["file_downloads"] == len(stored)
    assert report["requests"]["requests_total"] == len(log)
    assert report["requests"]["requests_by_endpoint"]["/cards/{id}"] == counts["cards"]
    statuses = Counter(str(entry.status) for entry in log)
    assert report["requests"]["responses_by_status"] == dict(sorted(statuses.items()))
    assert report["source"]["user_id"] == sim.company.token_info("admin").user_id
    assert report["runs"] == 1


def test_each_card_is_read_once_and_embedded_lists_are_not_requested(log: list[LoggedRequest],
                                                                     sim: KaitenSimulator) -> None:
    per_card = Counter(entry.path.rsplit("/cards/", 1)[1] for entry in log
                       if entry.origin == "api" and "/cards/" in entry.path)
    cards = sim.company.cards_visible_to("admin")
    assert all(per_card[str(cid)] == 1 for cid in cards)
    embedded = ("members", "tags", "children", "parents", "blockers", "external-links", "checklists")
    assert not [path for path in per_card if path.rsplit("/", 1)[-1] in embedded]
    assert all(entry.status < 500 for entry in log)
