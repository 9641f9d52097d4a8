"""What Planka holds for one board now, from a single ``GET /api/boards/:id``.

Planka's board read carries the board, its lists and labels, and for every card in an active or
closed list the card itself, its labels, memberships, task lists, tasks, attachments, custom
field groups, fields and values. That is enough to tell, without a request per object, whether a
field k2p set was changed in Planka since. Comments are not in it: they are read per card, and
only for a card with a comment that is about to be changed or marked. Cards in the archive and
trash lists are not in it either (Planka leaves them out).

Each object is kept without the attributes k2p never sets (``UNOWNED``: timestamps, creators,
former lists), which are a third of what Planka answers; the import reads the snapshot before it
plans the board (:meth:`k2p.delta.run.DeltaRun.prefetch`), so that the answer is decoded while the
board's records and plan are not in memory.
"""

from __future__ import annotations

import threading
from typing import Any, Callable

from k2p.planka.client import PlankaClient, PlankaError
from k2p.planka.specs import COMMENT_PAGES

Item = dict[str, Any]

# ledger kind → the board read's ``included`` collection holding objects of that kind
INCLUDED = {"list": "lists", "label": "labels", "card": "cards", "task_list": "taskLists", "task": "tasks",
            "linked_task": "tasks", "attachment": "attachments", "custom_field_group": "customFieldGroups",
            "custom_field": "customFields", "custom_value": "customFieldValues",
            "card_label": "cardLabels", "card_membership": "cardMemberships"}


# Attributes of Planka's objects that no k2p plan field maps to (so neither the conflict guard nor
# the deletion pass reads them): dropped from the snapshot's objects.
UNOWNED = frozenset({"createdAt", "updatedAt", "listChangedAt", "prevListId", "baseCustomFieldGroupId",
                     "creatorUserId"})


def _owned(item: Item) -> Item:
    return {name: value for name, value in item.items() if name not in UNOWNED}


class BoardSnapshot:
    """One board as Planka answered it; comments are read lazily per card (thread-safe)."""

    def __init__(self, client: PlankaClient, board_id: str, data: dict[str, Any]) -> None:
        self.client = client
        self.board_id = board_id
        self.board: Item = data.get("item") or {}
        included = data.get("included") or {}
        self.items: dict[str, dict[str, Item]] = {
            kind: {str(item["id"]): _owned(item) for item in included.get(name, [])
                   if isinstance(item, dict) and "id" in item}
            for kind, name in INCLUDED.items()}
        lists = list(included.get("lists", []))
        self.archive_list_id = next((str(item["id"]) for item in lists if item.get("type") == "archive"), None)
        self.trash_list_id = next((str(item["id"]) for item in lists if item.get("type") == "trash"), None)
        self._comments: dict[str, dict[str, Item]] = {}
        self._cards: dict[str, dict[str, dict[str, Item]]] = {}
        self._lock = threading.Lock()

    @classmethod
    def load(cls, client: PlankaClient, board_id: str) -> "BoardSnapshot | None":
        """The board's read, or None when Planka no longer has it (404)."""
        try:
            return cls(client, board_id, client.get(f"/api/boards/{board_id}"))
        except PlankaError as error:
            if error.status == 404:
                return None
            raise

    def item(self, kind: str, planka_id: str | None) -> Item | None:
        if planka_id is None:
            return None
        if kind == "board":
            return self.board if str(self.board.get("id")) == planka_id else None
        return self.items.get(kind, {}).get(planka_id)

    def lookup(self, kind: str, planka_id: str | None, card_id: str) -> Item | None:
        """An object hanging from ``card_id``: from the board read, or for a card Planka's board
        read leaves out (archive or trash list), from one ``GET /api/cards/:id`` (cached)."""
        found = self.item(kind, planka_id)
        if found is not None or planka_id is None or self.card_in_finite_list(card_id):
            return found
        with self._lock:
            cached = self._cards.get(card_id)
        if cached is None:
            try:
                included = self.client.get(f"/api/cards/{card_id}").get("included") or {}
            except PlankaError as error:
                if error.status != 404:
                    raise
                included = {}
            cached = {kind_: {str(item["id"]): item for item in included.get(name, [])
                              if isinstance(item, dict) and "id" in item} for kind_, name in INCLUDED.items()}
            with self._lock:
                self._cards[card_id] = cached
        return cached.get(kind, {}).get(planka_id)

    def slim(self, keep: Callable[[str], bool]) -> None:
        """Keep only what the deleted-card pass needs: the names and lists of the cards ``keep``
        names (those the run did not plan on this board), so that what stays is not the board."""
        cards = {card_id: {"id": card_id, "name": item.get("name"), "listId": item.get("listId")}
                 for card_id, item in self.items["card"].items() if keep(card_id)}
        self.items = {kind: {} for kind in INCLUDED}
        self.items["card"] = cards
        with self._lock:
            self._comments.clear()
            self._cards.clear()

    def card_in_finite_list(self, card_id: str) -> bool:
        """Whether the card is in an active or closed list (not archived, trashed or gone)."""
        return card_id in self.items["card"]

    def comments(self, card_id: str) -> dict[str, Item]:
        """The card's comments by id (read once, ``COMMENT_PAGES`` pages at most)."""
        with self._lock:
            cached = self._comments.get(card_id)
        if cached is not None:
            return cached
        found: dict[str, Item] = {}
        before: str | None = None
        for _ in range(COMMENT_PAGES):
            try:
                page = self.client.get(f"/api/cards/{card_id}/comments",
                                       {"beforeId": before} if before else None).get("items", [])
            except PlankaError as error:
                if error.status == 404:
                    break
                raise
            found.update((str(item["id"]), item) for item in page if isinstance(item, dict) and "id" in item)
            if len(page) < 50:
                break
            before = page[-1]["id"]
        with self._lock:
            self._comments[card_id] = found
        return found
