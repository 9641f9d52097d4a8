"""A cutover's second pass in tests: what a week of work changes on both sides after a first import."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from k2p.testing.kaiten.company import KaitenCompany
from tests.helpers.kaiten_changes import add_comment
from tests.helpers.export import export
from tests.helpers.planka_state import PlankaReader, import_into, ledger_ids


def live_cards(company: KaitenCompany) -> list[int]:
    """Live cards the admin token exports, oldest id first (deterministic picks)."""
    return sorted(card_id for card_id in company.cards_visible_to("admin") if company.cards[card_id]["condition"] == 1)


def _pick(company: KaitenCompany, taken: set[int], test: Any) -> int:
    card_id = next(card_id for card_id in live_cards(company) if card_id not in taken and test(card_id))
    taken.add(card_id)
    return card_id


@dataclass
class KaitenWeek:
    """The Kaiten side of the changes, with the ids a test checks afterwards."""

    deleted_card: int
    comment_card: int
    deleted_comment: int
    task_card: int
    deleted_item: int
    file_card: int
    deleted_file: int
    link_card: int
    deleted_link: int
    renamed_both: int          # renamed in Kaiten and in Planka: a conflict
    touched_in_planka: int     # edited in Planka only: no conflict, Planka's edit stays
    checklist_card: int = 0    # lost a whole checklist
    deleted_checklist: int = 0
    tag_card: int = 0          # lost a tag
    removed_tag: int = 0
    renamed: int = 0           # renamed in Kaiten only: updated
    added_card: int = 0        # new in Kaiten
    added_comment: int = 0     # new on ``renamed``
    extra: dict[str, Any] = field(default_factory=dict)


def kaiten_week(company: KaitenCompany, avoid: set[int] | None = None) -> KaitenWeek:
    """Delete a card, a comment, a checklist, a checklist item, a file and a link, take a tag off a
    card; rename cards, add a comment and a card (on cards other than ``avoid``)."""
    taken: set[int] = set(avoid or ())

    def live_comments(card_id: int) -> list[dict[str, Any]]:
        return [c for c in company.comments.get(card_id, []) if not c["deleted"]]

    def live_items(card_id: int) -> list[dict[str, Any]]:
        return [item for checklist in company.card_checklists.get(card_id, [])
                for item in company.checklists[checklist]["items"] if not item["deleted"]]

    def stored_files(card_id: int) -> list[dict[str, Any]]:
        return [f for f in company.files.get(card_id, []) if not f["deleted"] and f.get("type") == 1
                and not f.get("external") and f.get("size")]

    link_card = _pick(company, taken, lambda cid: len(company.external_links.get(cid, [])) >= 1)
    comment_card = _pick(company, taken, lambda cid: len(live_comments(cid)) >= 2)
    task_card = _pick(company, taken, lambda cid: len(live_items(cid)) >= 2)
    file_card = _pick(company, taken, lambda cid: len(stored_files(cid)) >= 1)
    checklist_card = _pick(company, taken, lambda cid: len(company.card_checklists.get(cid, [])) >= 1)
    tag_card = _pick(company, taken, lambda cid: len(company.cards[cid].get("tag_ids") or []) >= 1)
    deleted_card = _pick(company, taken, lambda cid: True)
    renamed = _pick(company, taken, lambda cid: True)
    touched = _pick(company, taken, lambda cid: True)
    edited = _pick(company, taken, lambda cid: True)

    company.cards[deleted_card]["condition"] = 3
    comment = live_comments(comment_card)[0]
    comment["deleted"] = True
    company.cards[comment_card]["comments_total"] -= 1
    item = live_items(task_card)[0]
    item["deleted"] = True
    company.cards[task_card]["goals_total"] -= 1
    company.cards[task_card]["goals_done"] -= int(bool(item["checked"]))
    gone_file = stored_files(file_card)[0]
    gone_file["deleted"] = True
    link = company.external_links[link_card].pop(0)
    checklist = company.card_checklists[checklist_card].pop(0)
    removed_tag = company.cards[tag_card]["tag_ids"].pop(0)
    company.cards[renamed]["title"] = "Renamed in Kaiten"
    company.cards[edited]["title"] = "Edited in Kaiten only"
    added_comment = add_comment(company, edited, "Written in Kaiten after the first import")
    added_card = company.add_card(company.cards[edited]["board_id"], like=edited, title="Added in Kaiten")
    for card_id in (deleted_card, comment_card, task_card, file_card, link_card, renamed, edited, checklist_card,
                    tag_card):
        company.cards[card_id]["updated"] = "2030-02-01T10:00:00.000Z"
    return KaitenWeek(deleted_card, comment_card, comment["id"], task_card, item["id"], file_card, gone_file["id"],
                      link_card, link["id"], renamed, touched, checklist_card, checklist, tag_card, removed_tag,
                      edited, added_card, added_comment)


class PlankaWriter(PlankaReader):
    """PATCHes as a person working in Planka would (an API key, or a login token)."""

    def patch(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.session.patch(self.url + path, json=body, timeout=30)
        response.raise_for_status()
        return response.json()["item"]


@dataclass
class SecondPass:
    """A first import done, a week of work on both sides, and the second archive exported."""

    week1: Any
    week2: Any
    ledger: Any
    week: KaitenWeek
    planka_key: str


def planka_week(writer: PlankaWriter, ledger: Any, week: KaitenWeek) -> None:
    """Somebody works in Planka: renames one card (Kaiten renames it too) and describes another."""
    cards = ledger_ids(ledger, "card")
    writer.patch(f"/api/cards/{cards[f'card:{week.renamed_both}']}", {"name": "Renamed in Planka"})
    writer.patch(f"/api/cards/{cards[f'card:{week.touched_in_planka}']}", {"description": "Written in Planka"})


def second_pass(root: Any, kaiten: Any, planka: Any, key: str) -> SecondPass:
    """Export and import the company, change it in Kaiten and in Planka, export it again."""
    week1, week2, ledger = root / "week1.k2p", root / "week2.k2p", root / "ledger.sqlite"
    export(kaiten, week1)
    first = import_into(planka, week1, ledger, api_key=key)
    assert first.tally.failed == 0, first.report["failures"]
    week = kaiten_week(kaiten.company)
    planka_week(PlankaWriter(planka.url, key), ledger, week)
    export(kaiten, week2)
    return SecondPass(week1, week2, ledger, week, key)


def first_difference(got: Any, want: Any, path: str = "") -> str | None:
    """The first path where two snapshots differ, with both values (None when equal)."""
    if isinstance(got, dict) and isinstance(want, dict):
        for key in sorted(set(got) | set(want), key=str):
            if key not in got or key not in want:
                return f"{path}/{key}: only in {'the first' if key in got else 'the second'}"
            found = first_difference(got[key], want[key], f"{path}/{key}")
            if found:
                return found
        return None
    if isinstance(got, (list, tuple)) and isinstance(want, (list, tuple)) and len(got) == len(want):
        for index, (left, right) in enumerate(zip(got, want)):
            found = first_difference(left, right, f"{path}[{index}]")
            if found:
                return found
        return None
    return None if got == want else f"{path}: {got!r:.400} != {want!r:.400}"


def assert_same(got: Any, want: Any) -> None:
    difference = first_difference(got, want)
    assert difference is None, difference
