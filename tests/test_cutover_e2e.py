"""The two-pass cutover end to end, through the command line and both simulators.

full export → import → a week of work in Kaiten (and in Planka) → ``export --since`` → ``diff`` →
dry run → import; then Planka equals a fresh import of the changed company, except what the second
pass must do differently: deleted cards archived and labelled, deleted children marked, the
conflicting Planka edits kept.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from k2p.delta.deletions import COMMENT_MARK, LABEL_COLOR, LABEL_NAME, NAME_PREFIX
from k2p.testing.kaiten.changes import evolve_company
from k2p.testing.kaiten.company import generate_company
from k2p.testing.kaiten.sim import KaitenSimulator
from k2p.testing.planka.sim import PlankaSimulator
from tests.helpers.delta import PlankaWriter, assert_same, kaiten_week, planka_week
from tests.helpers.export import export_args, run_cli, token_of
from tests.helpers.planka_state import import_cli, snapshot


def _import(planka: PlankaSimulator, archive: Path, ledger: Path, key: str, *extra: str) -> dict[str, Any]:
    proc = import_cli(planka.url, archive, ledger, key, "--json", *extra)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, out[-2000:] + err
    return json.loads(out)


def _counts(report: dict[str, Any]) -> dict[str, tuple[int, int, int, int]]:
    return {kind: (row["created"], row["updated"], row["unchanged"], row["failed"])
            for kind, row in report["counts"].items()}


def _expected_differences(view: dict[str, Any], fresh: dict[str, Any], renamed: tuple[str, str],
                          described: tuple[str, str], retitled: dict[str, str]) -> dict[str, int]:
    """Undo, in the second pass's snapshot, what it must do unlike a fresh import; count each.

    ``retitled`` maps old to new titles of cards renamed in Kaiten: a task linked to such a card
    keeps the name the card had when it was linked (Planka copies it and refuses to rename a linked
    task; its web UI shows the linked card's current name instead).
    """
    seen = {"deleted_cards": 0, "marked": 0, "conflict_kept": 0, "planka_edit_kept": 0, "label": 0,
            "linked_task_names": 0, "unused_labels": 0}

    def task(item: list[Any]) -> list[Any]:
        if item[0] in retitled:
            seen["linked_task_names"] += 1
            return [retitled[item[0]], *item[1:]]
        return item

    def card(item: dict[str, Any]) -> dict[str, Any]:
        marked = [c for c in item["comments"] if c.startswith(COMMENT_MARK)]
        kept_lists = [(name, items) for name, items in item["tasks"] if not name.startswith(NAME_PREFIX)]
        seen["marked"] += len(item["tasks"]) - len(kept_lists)
        tasks = [(name, [task(t) for t in items if not t[0].startswith(NAME_PREFIX)]) for name, items in kept_lists]
        marked_tasks = sum(len(items) for _, items in kept_lists) - sum(len(items) for _, items in tasks)
        attachments = [a for a in item["attachments"] if not a[0].startswith(NAME_PREFIX)]
        seen["marked"] += len(marked) + marked_tasks + len(item["attachments"]) - len(attachments)
        item = {**item, "comments": [c for c in item["comments"] if not c.startswith(COMMENT_MARK)],
                "tasks": tasks, "attachments": attachments}
        if item["name"] == renamed[0]:
            seen["conflict_kept"] += 1
            item["name"] = renamed[1]
        if item["description"] == described[0]:
            seen["planka_edit_kept"] += 1
            item["description"] = described[1]
        return item

    for project_name, project in view.items():
        for name, board in project.items():
            if name == "#boards":
                continue
            if [LABEL_NAME, LABEL_COLOR] in board["labels"]:
                seen["label"] += 1
                board["labels"].remove([LABEL_NAME, LABEL_COLOR])
            # a tag taken off the last card that had it (or only on deleted cards) leaves its board
            # label unused (not deleted)
            used = {label for cards in board["cards"].values() for item in cards for label in item["labels"]}
            used |= {label for item in board["archived"] for label in item["labels"] if LABEL_NAME not in item["labels"]}
            wanted = fresh[project_name][name]["labels"]
            for label in [label for label in board["labels"] if label not in wanted]:
                assert label[0] not in used, label
                seen["unused_labels"] += 1
                board["labels"].remove(label)
            kept = [item for item in board["archived"] if LABEL_NAME not in item["labels"]]
            seen["deleted_cards"] += len(board["archived"]) - len(kept)
            board["archived"] = sorted((card(item) for item in kept), key=lambda v: json.dumps(v, sort_keys=True))
            board["cards"] = {list_name: [card(item) for item in cards] for list_name, cards in board["cards"].items()}
    return seen


def _tuples(value: Any) -> Any:
    """JSON round trip of a snapshot (tuples become lists on both sides)."""
    return json.loads(json.dumps(value, ensure_ascii=False))


def test_two_pass_cutover(tmp_path: Path) -> None:
    company = generate_company("tiny")
    with KaitenSimulator(company, idle_timeout=600) as kaiten, \
            PlankaSimulator(require_terms=False, idle_timeout=600) as planka, \
            PlankaSimulator(require_terms=False, idle_timeout=600) as fresh_planka:
        token = token_of(kaiten)
        week1, week2, ledger = tmp_path / "week1.k2p", tmp_path / "week2.k2p", tmp_path / "ledger.sqlite"
        exported = run_cli(export_args(kaiten, week1), token, timeout=300)
        assert exported.returncode == 0, exported.stderr
        key = planka.create_api_key(planka.admin_email)
        first = _import(planka, week1, ledger, key)
        assert not first["failures"] and not first["deleted_in_kaiten"]["items"] and not first["conflicts"]["items"]

        # A week of work: in Kaiten (edits, comments, moves, checked items, files, deleted and new
        # cards, a new board; plus deleted children), and somebody already working in Planka.
        titles = {card_id: card["title"] for card_id, card in company.cards.items()}
        log = evolve_company(company)
        week = kaiten_week(company, avoid=log.changed_cards())
        retitled = {titles[card_id]: card["title"] for card_id, card in company.cards.items()
                    if card_id in titles and card["title"] != titles[card_id]}
        planka_week(PlankaWriter(planka.url, key), ledger, week)
        kaiten_description = company.cards[week.touched_in_planka].get("description")

        delta = run_cli(export_args(kaiten, week2, "--since", str(week1)), token, timeout=300)
        assert delta.returncode == 0, delta.stderr
        diffed = run_cli(["diff", "--json", str(week1), str(week2)])
        assert diffed.returncode == 10, diffed.stderr
        lines = [json.loads(line) for line in diffed.stdout.splitlines()]
        deleted_ids = {line["id"] for line in lines if line.get("collection") == "cards" and line["change"] == "deleted"}
        assert deleted_ids == {str(card_id) for card_id in [*log.deleted, week.deleted_card]}

        before = planka.mutation_count()
        plan = _import(planka, week2, ledger, key, "--dry-run")
        text = import_cli(planka.url, week2, ledger, key, "--dry-run")
        out, err = text.communicate(timeout=300)
        assert text.returncode == 0, err
        assert f"Deleted in Kaiten ({len(plan['deleted_in_kaiten']['items'])}; --on-deleted archive" in out
        assert "Conflicts: changed in Planka since the last import" in out and "Renamed in Planka" in out
        assert planka.mutation_count() == before, "the dry runs wrote to Planka"
        applied = _import(planka, week2, ledger, key)
        assert not applied["failures"], applied["failures"]
        assert {k: v for k, v in _counts(plan).items() if _counts(applied).get(k) != v} == \
            {k: v for k, v in _counts(applied).items() if _counts(plan).get(k) != v}
        assert plan["deleted_in_kaiten"]["items"] == applied["deleted_in_kaiten"]["items"]
        assert plan["conflicts"]["items"] == applied["conflicts"]["items"]
        listed_cards = {item["key"] for item in applied["deleted_in_kaiten"]["items"] if item["kind"] == "card"}
        assert listed_cards == {f"card:{card_id}" for card_id in deleted_ids}
        assert [(c["key"], c["field"], c["planka"], c["kaiten"]) for c in applied["conflicts"]["items"]] == [
            (f"card:{week.renamed_both}", "name", "Renamed in Planka", "Renamed in Kaiten")]
        with_chain = applied["archive_stamp"]
        assert with_chain["previous"] == first["archive_stamp"]["archive_id"]

        # The same archive imported fresh is the changed company in Planka.
        fresh_key = fresh_planka.create_api_key(fresh_planka.admin_email)
        fresh_report = _import(fresh_planka, week2, tmp_path / "fresh.sqlite", fresh_key)
        assert not fresh_report["failures"]
        want = _tuples(snapshot(fresh_planka.url, fresh_key))
        got = _tuples(snapshot(planka.url, key))
        seen = _expected_differences(got, want, ("Renamed in Planka", "Renamed in Kaiten"),
                                     ("Written in Planka", kaiten_description), retitled)
        boards_with_deletions = {company.cards[int(key.split(":")[1])]["board_id"] for key in listed_cards}
        assert seen == {"deleted_cards": len(deleted_ids), "marked": 5, "conflict_kept": 1, "planka_edit_kept": 1,
                        "label": len(boards_with_deletions), "linked_task_names": seen["linked_task_names"],
                        "unused_labels": seen["unused_labels"]}
        assert_same(got, want)

        # And the cutover is over: the first archive can no longer be applied by mistake.
        older = import_cli(planka.url, week1, ledger, key)
        _, err = older.communicate(timeout=120)
        assert older.returncode == 8, err
        assert "older than archive" in err
