"""What Planka holds for one imported board, read with GET requests only.

One ``GET /api/boards/:id`` gives the board's lists, labels, memberships, the cards of its active
and closed lists and everything hanging from them (labels, members, task lists, tasks,
attachments, custom fields and values). Archived cards are not in it, and Planka 2.1.1 cannot page
its archive list over HTTP (``before[...]`` answers 500), so the first page of the archive list is
read once and every other card the ledger or the plan knows is read by its Planka id
(``GET /api/cards/:id``; 404: gone). Those reads run on a bounded pool of workers.

Every item is kept with only the attributes the comparison reads (``keep``), so what a board holds
while it is compared is a fraction of Planka's answer. Comments are not kept with the board: they
are read card by card (``GET /api/cards/:id/comments``, 50 a page, newest first) by
:func:`read_comments`, in small batches, and dropped once the card's comments are compared.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

from k2p.errors import RemoteError
from k2p.planka.client import PlankaClient, PlankaError

Item = dict[str, Any]
PAGE = 50
COMMENT_PAGES = 400        # 20,000 comments on one card at most (a bound on what is read)
REFUSED = (403, 404)
COMMENT_BATCH = 32         # cards whose comments are held at once
CARD_ONLY = frozenset({"createdAt"})   # kept of cards only (their creation date is compared)


def _by_parent(items: Iterable[Item], parent: str) -> dict[str, list[Item]]:
    grouped: dict[str, list[Item]] = {}
    for item in items:
        grouped.setdefault(str(item.get(parent)), []).append(item)
    return grouped


@dataclass
class BoardFound:
    """Planka's side of one board, indexed for the comparison (ids are strings)."""

    board: Item | None                      # None: the board is gone (or no longer visible)
    lists: dict[str, Item] = field(default_factory=dict)
    labels: dict[str, Item] = field(default_factory=dict)
    memberships: dict[str, Item] = field(default_factory=dict)
    cards: dict[str, Item] = field(default_factory=dict)
    card_labels: dict[str, list[Item]] = field(default_factory=dict)     # card id → items
    card_members: dict[str, list[Item]] = field(default_factory=dict)
    task_lists: dict[str, list[Item]] = field(default_factory=dict)      # card id → task lists
    tasks: dict[str, list[Item]] = field(default_factory=dict)           # task list id → tasks
    attachments: dict[str, list[Item]] = field(default_factory=dict)     # card id → attachments
    groups: dict[str, Item] = field(default_factory=dict)
    fields: dict[str, list[Item]] = field(default_factory=dict)          # group id → fields
    values: dict[str, list[Item]] = field(default_factory=dict)          # card id → values
    gone_cards: set[str] = field(default_factory=set)                    # read by id: 404
    refused: list[str] = field(default_factory=list)                     # reads Planka refused
    keep: frozenset[str] | None = None            # the attributes kept of each item (None: all)

    @property
    def archive_list_id(self) -> str | None:
        return next((item_id for item_id, item in self.lists.items() if item.get("type") == "archive"), None)

    def absorb(self, included: Item, cards: Iterable[Item] = ()) -> None:
        """Add a board, list-cards or card read (``included`` sets and their cards)."""
        for card in [*cards, *included.get("cards", [])]:
            self.cards[str(card["id"])] = self._slim(card, CARD_ONLY)
        for name, target, parent in (("cardLabels", self.card_labels, "cardId"),
                                     ("cardMemberships", self.card_members, "cardId"),
                                     ("taskLists", self.task_lists, "cardId"),
                                     ("tasks", self.tasks, "taskListId"),
                                     ("attachments", self.attachments, "cardId"),
                                     ("customFieldValues", self.values, "cardId"),
                                     ("customFields", self.fields, "customFieldGroupId")):
            for parent_id, items in _by_parent(included.get(name, []), parent).items():
                known = {str(item["id"]) for item in target.get(parent_id, [])}
                target.setdefault(parent_id, []).extend(self._slim(item) for item in items
                                                        if str(item["id"]) not in known)
        for name, target in (("lists", self.lists), ("labels", self.labels),
                             ("boardMemberships", self.memberships), ("customFieldGroups", self.groups)):
            target.update({str(item["id"]): self._slim(item) for item in included.get(name, [])})

    def _slim(self, item: Item, extra: frozenset[str] = frozenset()) -> Item:
        if self.keep is None:
            return item
        return {name: value for name, value in item.items() if name in self.keep or name in extra}

    def card_values(self, card_id: str) -> dict[tuple[str, str], Item]:
        return {(str(value.get("customFieldGroupId")), str(value.get("customFieldId"))): value
                for value in self.values.get(card_id, [])}


def get_or_none(client: PlankaClient, path: str, params: dict[str, Any] | None = None) -> Item | None:
    """A read; ``None`` when Planka answers 404 or 403 (gone, or no longer visible)."""
    try:
        return client.get(path, params)
    except PlankaError as error:
        if error.status in REFUSED:
            return None
        raise RemoteError(f"{error}; check that the account can read the imported boards") from None


def comments_of(client: PlankaClient, card_id: str) -> list[Item] | None:
    """Every comment of a card, oldest first (None: the card cannot be read)."""
    found: list[Item] = []
    before: str | None = None
    for _ in range(COMMENT_PAGES):
        answer = get_or_none(client, f"/api/cards/{card_id}/comments", {"beforeId": before} if before else None)
        if answer is None:
            return None
        page = list(answer.get("items", []))
        found.extend(page)
        if len(page) < PAGE:
            break
        before = str(page[-1]["id"])
    return sorted(found, key=lambda item: int(item["id"]))


def read_board(client: PlankaClient, board_id: str, card_ids: Iterable[str], concurrency: int,
               keep: frozenset[str] | None = None, on_read: Callable[[int], None] = lambda count: None) -> BoardFound:
    """Planka's side of the board ``board_id`` (comments aside: :func:`read_comments`);
    ``card_ids`` are the cards k2p knows (plan and ledger) that must be read by id when the board
    payload does not hold them; ``keep``: the attributes kept of each item (None: all)."""
    answer = get_or_none(client, f"/api/boards/{board_id}")
    if answer is None:
        return BoardFound(None)
    found = BoardFound(answer["item"], keep=keep)
    found.absorb(answer.pop("included", {}))
    del answer
    archive = found.archive_list_id
    if archive is not None:
        page = get_or_none(client, f"/api/lists/{archive}/cards")
        if page is None:
            found.refused.append(f"GET /api/lists/{archive}/cards")
        else:
            found.absorb(page.get("included", {}), page.get("items", []))
    wanted = [card_id for card_id in dict.fromkeys(card_ids) if card_id not in found.cards]

    def read_card(card_id: str) -> tuple[str, Item | None]:
        return card_id, get_or_none(client, f"/api/cards/{card_id}")

    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="check") as pool:
        for card_id, card in pool.map(read_card, wanted):
            on_read(1)
            if card is None:
                found.gone_cards.add(card_id)
            else:
                found.absorb(card.get("included", {}), [card["item"]])
    return found


def read_comments(client: PlankaClient, card_ids: list[str],
                  concurrency: int) -> Iterator[tuple[str, list[Item] | None]]:
    """(card id, its comments oldest first, or None when refused) for ``card_ids``, in order; at
    most ``COMMENT_BATCH`` cards' comments are held at once."""
    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="comments") as pool:
        for start in range(0, len(card_ids), COMMENT_BATCH):
            batch = card_ids[start:start + COMMENT_BATCH]
            yield from zip(batch, pool.map(lambda card_id: comments_of(client, card_id), batch))
