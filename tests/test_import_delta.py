"""Re-import of a newer archive: deletions, conflicts, the freshness guard, exact dry runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from k2p.delta.deletions import COMMENT_MARK, LABEL_NAME, NAME_PREFIX
from k2p.errors import ExitCode, K2PError
from k2p.planka.ledger import Ledger
from k2p.testing.kaiten_company import generate_company
from k2p.testing.kaiten_sim import KaitenSimulator
from k2p.testing.planka_sim import PlankaSimulator
from tests.helpers.delta import PlankaWriter, second_pass
from tests.helpers.export import export
from tests.helpers.planka_state import PlankaReader, import_into, ledger_ids


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
    assert real.report["deleted_in_kaiten"]["counts"] == {"attachment": 2, "card": 1, "comment": 1, "task": 1}
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
    for card_key, key_ in ((f"card:{week.file_card}", f"attachment:{week.file_card}:file:{week.deleted_file}"),
                           (f"card:{week.link_card}", f"attachment:{week.link_card}:link:{week.deleted_link}")):
        attachments = {a["id"]: a["name"] for a in reader.get(f"/api/cards/{cards[card_key]}")["included"]["attachments"]}
        assert attachments[ledger_ids(ledger, "attachment")[key_]].startswith(NAME_PREFIX)
        assert sum(name.startswith(NAME_PREFIX) for name in attachments.values()) == 1
    renamed = reader.get(f"/api/cards/{cards[f'card:{week.renamed_both}']}")["item"]
    assert renamed["name"] == "Renamed in Planka"
    touched = reader.get(f"/api/cards/{cards[f'card:{week.touched_in_planka}']}")["item"]
    assert touched["description"] == "Written in Planka"


    before = planka.mutation_count()
    again = import_into(planka, world["week2"], ledger, api_key=key)
    assert planka.mutation_count() == before, "a rerun of the same delta wrote to Planka"
    assert _listed(again.report) == _listed(real.report)
    assert _conflicts(again.report) == _conflicts(real.report)
    assert all(row["created"] == row["updated"] == 0 for row in again.report["counts"].values()), \
        again.report["counts"]
