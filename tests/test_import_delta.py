"""Re-import of a newer archive: deletions, conflicts, the freshness guard, exact dry runs."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import pytest

from k2p.archive.reader import ArchiveReader
from k2p.delta import freshness
from k2p.delta.deletions import COMMENT_MARK, LABEL_NAME, NAME_PREFIX
from k2p.delta.freshness import ArchiveStamp
from k2p.errors import ExitCode, K2PError
from k2p.planka.ledger import Ledger
from k2p.testing.kaiten.company import generate_company
from k2p.testing.kaiten.sim import KaitenSimulator
from k2p.testing.planka.sim import PlankaSimulator
from tests.helpers.delta import second_pass
from tests.helpers.export import export, run_cli
from tests.helpers.planka_state import PlankaReader, import_into, ledger_ids


@contextmanager
def _open(path: Path) -> Iterator[Ledger]:
    ledger = Ledger(path)
    try:
        yield ledger
    finally:
        ledger.close()


def _plan_counts(counts: dict[str, dict[str, int]]) -> dict[str, tuple[int, int, int, int]]:
    return {kind: (row["created"], row["updated"], row["unchanged"], row["failed"]) for kind, row in counts.items()}


def _listed(report: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(item["key"], item["kind"], item["done"]) for item in report["deleted_in_kaiten"]["items"]]


def _conflicts(report: dict[str, Any]) -> list[tuple[str, str, Any, Any, str]]:
    return [(item["key"], item["field"], item["planka"], item["kaiten"], item["resolution"])
            for item in report["conflicts"]["items"]]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """First pass imported, then a week of work on both sides and a second export."""
    root = tmp_path_factory.mktemp("delta")
    with KaitenSimulator(generate_company("tiny"), idle_timeout=600) as kaiten, \
            PlankaSimulator(require_terms=False, idle_timeout=600) as planka:
        key = planka.create_api_key(planka.admin_email)
        done = second_pass(root, kaiten, planka, key)
        yield {"company": kaiten.company, "kaiten": kaiten, "planka": planka, "key": key, "week1": done.week1,
               "week2": done.week2, "ledger": done.ledger, "week": done.week, "root": root}


def test_delta_dry_run_equals_real_run_and_rerun_writes_nothing(world: Any) -> None:
    planka, key, ledger, week = world["planka"], world["key"], world["ledger"], world["week"]
    before = planka.mutation_count()
    plan = import_into(planka, world["week2"], ledger, api_key=key, dry_run=True)
    assert planka.mutation_count() == before
    real = import_into(planka, world["week2"], ledger, api_key=key)
    assert real.tally.failed == 0, real.report["failures"]
    assert _plan_counts(plan.report["counts"]) == _plan_counts(real.report["counts"])
    assert _listed(plan.report) == _listed(real.report)
    assert _conflicts(plan.report) == _conflicts(real.report)

    listed = {item["key"]: item for item in real.report["deleted_in_kaiten"]["items"]}
    assert listed[f"card:{week.deleted_card}"]["kind"] == "card"
    assert listed[f"comment:{week.deleted_comment}"]["kind"] == "comment"
    assert listed[f"attachment:{week.file_card}:file:{week.deleted_file}"]["kind"] == "attachment"
    assert listed[f"attachment:{week.link_card}:link:{week.deleted_link}"]["kind"] == "attachment"
    task_keys = [key_ for key_ in listed if key_.startswith(f"task:{week.task_card}:")]
    assert task_keys == [f"task:{week.task_card}:item:{week.deleted_item}"]
    assert listed[f"tasklist:{week.checklist_card}:checklist:{week.deleted_checklist}"]["kind"] == "task_list"
    tag_key = f"card:{week.tag_card}:label:label:{world['company'].cards[week.tag_card]['board_id']}:tag:{week.removed_tag}"
    assert listed[tag_key]["done"] == "taken off the card"
    assert real.report["deleted_in_kaiten"]["counts"] == {"attachment": 2, "card": 1, "card_label": 1, "comment": 1,
                                                          "task": 1, "task_list": 1}
    assert _conflicts(real.report) == [(f"card:{week.renamed_both}", "name", "Renamed in Planka",
                                        "Renamed in Kaiten", "kept-planka")]

    reader = PlankaReader(planka.url, key)
    cards = ledger_ids(ledger, "card")
    gone = reader.get(f"/api/cards/{cards[f'card:{week.deleted_card}']}")
    board = reader.get(f"/api/boards/{gone['item']['boardId']}")["included"]
    archive = next(item for item in board["lists"] if item["type"] == "archive")
    assert gone["item"]["listId"] == archive["id"]
    labels = {item["id"]: item["name"] for item in board["labels"]}
    assert LABEL_NAME in [labels[item["labelId"]] for item in gone["included"]["cardLabels"]]
    texts = {comment["id"]: comment["text"] for comment in reader.comments(cards[f"card:{week.comment_card}"])}
    comment_id = ledger_ids(ledger, "comment")[f"comment:{week.deleted_comment}"]
    assert texts[comment_id].startswith(COMMENT_MARK)
    assert sum(text.startswith(COMMENT_MARK) for text in texts.values()) == 1
    task = reader.get(f"/api/cards/{cards[f'card:{week.task_card}']}")["included"]["tasks"]
    assert [t["name"].startswith(NAME_PREFIX) for t in task].count(True) == 1
    checklists = reader.get(f"/api/cards/{cards[f'card:{week.checklist_card}']}")["included"]["taskLists"]
    assert [t["name"].startswith(NAME_PREFIX) for t in checklists].count(True) == 1
    tagged = reader.get(f"/api/cards/{cards[f'card:{week.tag_card}']}")["included"]["cardLabels"]
    tag_label = ledger_ids(ledger, "label")[tag_key.split(":label:", 1)[1]]
    assert tag_label not in [item["labelId"] for item in tagged]
    for card_key, key_ in ((f"card:{week.file_card}", f"attachment:{week.file_card}:file:{week.deleted_file}"),
                           (f"card:{week.link_card}", f"attachment:{week.link_card}:link:{week.deleted_link}")):
        attachments = {a["id"]: a["name"] for a in reader.get(f"/api/cards/{cards[card_key]}")["included"]["attachments"]}
        assert attachments[ledger_ids(ledger, "attachment")[key_]].startswith(NAME_PREFIX)
        assert sum(name.startswith(NAME_PREFIX) for name in attachments.values()) == 1
    renamed = reader.get(f"/api/cards/{cards[f'card:{week.renamed_both}']}")["item"]
    assert renamed["name"] == "Renamed in Planka"
    touched = reader.get(f"/api/cards/{cards[f'card:{week.touched_in_planka}']}")["item"]
    assert touched["description"] == "Written in Planka"
    assert reader.get(f"/api/cards/{cards[f'card:{week.renamed}']}")["item"]["name"] == "Edited in Kaiten only"
    assert reader.get(f"/api/cards/{cards[f'card:{week.added_card}']}")["item"]["name"] == "Added in Kaiten"
    texts = [comment["text"] for comment in reader.comments(cards[f"card:{week.renamed}"])]
    assert texts[-1].endswith("Written in Kaiten after the first import")

    before = planka.mutation_count()
    quick = import_into(planka, world["week2"], ledger, api_key=key)
    assert quick.report.get("already_applied"), "the rerun of an applied delta has nothing to do"
    again = import_into(planka, world["week2"], ledger, api_key=key, recheck=True)   # replans every board
    assert planka.mutation_count() == before, "a rerun of the same delta wrote to Planka"
    # what was taken off (a tag) has left Planka and the ledger; the rest is listed again, unchanged
    assert _listed(again.report) == [entry for entry in _listed(real.report) if entry[2] != "taken off the card"]
    assert _conflicts(again.report) == _conflicts(real.report)
    assert all(row["created"] == row["updated"] == 0 for row in again.report["counts"].values()), \
        again.report["counts"]


def test_older_archive_is_refused_with_exit_8(world: Any) -> None:
    planka, key, ledger = world["planka"], world["key"], world["ledger"]
    import_into(planka, world["week2"], ledger, api_key=key)          # applied (a no-op when already)
    with _open(ledger) as opened:
        applied = opened.archives()
    with ArchiveReader(world["week1"]) as reader1, ArchiveReader(world["week2"]) as reader2:
        ids = [reader1.manifest.archive_id, reader2.manifest.archive_id]
        assert [entry["archive_id"] for entry in applied] == ids
        assert [entry["created_at"] for entry in applied] == [reader1.manifest.created_at, reader2.manifest.created_at]
    assert all(entry["fingerprint"] and entry["completed"] for entry in applied)

    before = planka.mutation_count()
    for dry_run in (True, False):
        with pytest.raises(K2PError) as refused:
            import_into(planka, world["week1"], ledger, api_key=key, dry_run=dry_run)
        assert refused.value.exit_code == ExitCode.REFUSED == 8
        assert "--allow-older" in refused.value.message and str(ledger) in refused.value.message
    assert planka.mutation_count() == before
    cli = run_cli(["import", str(world["week1"]), "--dry-run", "--state", str(ledger),
                   "--report", str(world["root"] / "older.json")], None)
    assert cli.returncode == 8, cli.stdout + cli.stderr
    assert len(cli.stderr.strip().splitlines()) == 1 and "older than archive" in cli.stderr
    allowed = run_cli(["import", str(world["week1"]), "--dry-run", "--allow-older", "--state", str(ledger),
                       "--report", str(world["root"] / "older.json")], None)
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr


def test_on_deleted_trash_then_rerun(world: Any) -> None:
    planka, key, ledger, week = world["planka"], world["key"], world["ledger"], world["week"]
    import_into(planka, world["week2"], ledger, api_key=key)          # archived first (default policy)
    plan = import_into(planka, world["week2"], ledger, api_key=key, dry_run=True, on_deleted="trash")
    real = import_into(planka, world["week2"], ledger, api_key=key, on_deleted="trash")
    assert real.tally.failed == 0, real.report["failures"]
    assert _plan_counts(plan.report["counts"]) == _plan_counts(real.report["counts"])
    assert _listed(plan.report) == _listed(real.report)
    assert real.report["counts"]["deleted_card"]["updated"] == 1     # archive → trash
    reader = PlankaReader(planka.url, key)
    cards = ledger_ids(ledger, "card")
    gone = reader.get(f"/api/cards/{cards[f'card:{week.deleted_card}']}")["item"]
    board = reader.get(f"/api/boards/{gone['boardId']}")["included"]
    assert gone["listId"] == next(item["id"] for item in board["lists"] if item["type"] == "trash")
    texts = [comment["text"] for comment in reader.comments(cards[f"card:{week.comment_card}"])]
    assert texts and not any(text.startswith(COMMENT_MARK) for text in texts)
    gone_ids = {ledger_ids(ledger, "task").get(f"task:{week.task_card}:item:{week.deleted_item}"),
                ledger_ids(ledger, "attachment").get(f"attachment:{week.file_card}:file:{week.deleted_file}"),
                ledger_ids(ledger, "attachment").get(f"attachment:{week.link_card}:link:{week.deleted_link}")}
    assert gone_ids == {None}, "trashed objects stay in the ledger"
    for card_key in (f"card:{week.task_card}", f"card:{week.file_card}", f"card:{week.link_card}"):
        included = reader.get(f"/api/cards/{cards[card_key]}")["included"]
        names = [item["name"] for item in included["tasks"] + included["attachments"]]
        assert not any(name.startswith(NAME_PREFIX) for name in names)
    counts = real.report["counts"]
    assert (counts["deleted_comment"]["updated"], counts["deleted_task"]["updated"],
            counts["deleted_attachment"]["updated"], counts["deleted_task_list"]["updated"]) == (1, 1, 2, 1)
    before = planka.mutation_count()
    again = import_into(planka, world["week2"], ledger, api_key=key, on_deleted="trash", recheck=True)
    assert planka.mutation_count() == before
    assert [item["key"] for item in again.report["deleted_in_kaiten"]["items"]] == [f"card:{week.deleted_card}"]


def test_take_kaiten_overwrites_and_lists_the_conflict(tmp_path: Path) -> None:
    with KaitenSimulator(generate_company("tiny"), idle_timeout=300) as kaiten, \
            PlankaSimulator(require_terms=False, idle_timeout=300) as planka:
        key = planka.create_api_key(planka.admin_email)
        done = second_pass(tmp_path, kaiten, planka, key)
        outcome = import_into(planka, done.week2, done.ledger, api_key=key, on_conflict="take-kaiten",
                              on_deleted="keep")
        assert outcome.tally.failed == 0
        assert _conflicts(outcome.report) == [(f"card:{done.week.renamed_both}", "name", "Renamed in Planka",
                                               "Renamed in Kaiten", "took-kaiten")]
        assert {item["done"] for item in outcome.report["deleted_in_kaiten"]["items"]} == {"left as it is"}
        reader = PlankaReader(planka.url, key)
        cards = ledger_ids(done.ledger, "card")
        assert reader.get(f"/api/cards/{cards[f'card:{done.week.renamed_both}']}")["item"]["name"] == "Renamed in Kaiten"
        kept = reader.get(f"/api/cards/{cards[f'card:{done.week.deleted_card}']}")["item"]
        lists = reader.get(f"/api/boards/{kept['boardId']}")["included"]["lists"]
        assert next(item for item in lists if item["id"] == kept["listId"])["type"] in ("active", "closed")
        # the conflict is settled: Planka now holds what k2p set, so the next run finds none
        again = import_into(planka, done.week2, done.ledger, api_key=key, on_deleted="keep")
        assert again.report["conflicts"]["items"] == []


def test_chain_decides_before_clocks(tmp_path: Path) -> None:
    with _open(tmp_path / "ledger.sqlite") as ledger:
        ledger.bind({"base_url": "x", "company_id": 1}, None)
        first = ArchiveStamp("A", "2030-01-02T00:00:00Z", "f1")
        freshness.record(ledger, first, applied_at="now", completed=True)
        # built on A, although its export clock says earlier: newer
        assert freshness.older_than_applied(ledger, ArchiveStamp("B", "2030-01-01T00:00:00Z", "f2", "A")) is None
        # an archive that A was built on is older, whatever its clock says
        freshness.record(ledger, ArchiveStamp("C", "2030-01-03T00:00:00Z", "f3", "Z"), applied_at="now", completed=True)
        assert freshness.older_than_applied(ledger, ArchiveStamp("Z", "2030-01-04T00:00:00Z", "f0"))["archive_id"] == "C"
        # no chain: the export times decide; the same archive again is a resume
        assert freshness.older_than_applied(ledger, ArchiveStamp("D", "2030-01-02T12:00:00Z", "f4"))["archive_id"] == "C"
        assert freshness.older_than_applied(ledger, ArchiveStamp("C", "2030-01-03T00:00:00Z", "f3", "Z")) is None
        assert freshness.older_than_applied(ledger, ArchiveStamp("E", "2030-01-05T00:00:00Z", "f5")) is None


@pytest.mark.parametrize("policy", ["archive", "trash"])
def test_card_restored_in_kaiten_comes_back(tmp_path: Path, policy: str) -> None:
    with KaitenSimulator(generate_company("tiny"), idle_timeout=300) as kaiten, \
            PlankaSimulator(require_terms=False, idle_timeout=300) as planka:
        key = planka.create_api_key(planka.admin_email)
        done = second_pass(tmp_path, kaiten, planka, key)
        reader = PlankaReader(planka.url, key)
        card_id = ledger_ids(done.ledger, "card")[f"card:{done.week.deleted_card}"]
        placed = reader.get(f"/api/cards/{card_id}")["item"]
        assert import_into(planka, done.week2, done.ledger, api_key=key, on_deleted=policy).tally.failed == 0
        assert reader.get(f"/api/cards/{card_id}")["item"]["listId"] != placed["listId"]
        kaiten.company.cards[done.week.deleted_card]["condition"] = 1        # restored in Kaiten
        week3 = tmp_path / "week3.k2p"
        export(kaiten, week3)
        plan = import_into(planka, week3, done.ledger, api_key=key, dry_run=True, on_deleted=policy)
        real = import_into(planka, week3, done.ledger, api_key=key, on_deleted=policy)
        assert real.tally.failed == 0, real.report["failures"]
        assert _plan_counts(plan.report["counts"]) == _plan_counts(real.report["counts"])
        assert real.report["counts"]["restored_card"]["updated"] == 1
        back = reader.get(f"/api/cards/{card_id}")
        assert (back["item"]["listId"], back["item"]["position"]) == (placed["listId"], placed["position"])
        board = reader.get(f"/api/boards/{placed['boardId']}")["included"]
        labels = {item["id"]: item["name"] for item in board["labels"]}
        assert LABEL_NAME not in [labels[item["labelId"]] for item in back["included"]["cardLabels"]]
        before = planka.mutation_count()
        again = import_into(planka, week3, done.ledger, api_key=key, on_deleted=policy)
        assert planka.mutation_count() == before
        assert "restored_card" not in again.report["counts"]
