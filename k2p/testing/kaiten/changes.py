"""A week of work in a simulated Kaiten company: deterministic changes between two exports.

:func:`evolve_company` edits a :class:`~k2p.testing.kaiten.company.KaitenCompany` in place the way
the team's work would (card edits, new comments, moves, checked checklist items, new files, time
logs, deleted and new cards, a new board, a deactivated user) and returns a :class:`ChangeLog`
naming every record it touched, for ground-truth assertions.

How each change shows on the card list (``GET /cards``) follows the research notes where they say
something and otherwise takes the harder road for an incremental exporter (docs/FORMAT.md,
"Incremental exports"):

* a card edit is a write of the card: ``updated`` and ``version`` change (research §4.9:
  ``version`` "increments on every successful write");
* a new comment changes only ``comments_total`` and ``comment_last_added_at``; ``updated`` stays;
* a move changes ``column_id`` (and ``state``), ``last_moved_at``, ``column_changed_at`` and adds a
  location-history entry; ``updated`` stays;
* checking a checklist item changes only the counters (``goals_done`` on the card,
  ``checked_items`` on the listed checklist); ``updated`` stays;
* a new (legacy) file appears in the list's ``files[]``; ``updated`` stays;
* a time log changes only ``time_spent_sum``;
* a deleted card gets condition 3 (never served again); a deactivated user keeps its id, with
  ``activated: false`` and a new ``updated`` — every payload embedding it changes.

The same call on two companies generated from the same scale and seed makes the same changes.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from k2p.testing.kaiten.compact import peek, peek_items, read_field
from k2p.testing.kaiten.files import FileBlob
from k2p.testing.kaiten.formats import DEFAULT_FILES_ORIGIN, at, rng_uuid

if TYPE_CHECKING:
    from k2p.testing.kaiten.company import KaitenCompany

Record = dict[str, Any]
STEP = 3  # simulated minutes between two changes


@dataclass
class ChangeLog:
    """What :func:`evolve_company` changed (card ids unless named otherwise)."""

    edited: list[int] = field(default_factory=list)
    commented: list[int] = field(default_factory=list)          # new comment, same ``updated``
    new_comments: list[int] = field(default_factory=list)       # comment ids
    moved: list[int] = field(default_factory=list)
    checked: list[int] = field(default_factory=list)            # a checklist item got checked
    checked_items: list[int] = field(default_factory=list)      # checklist item ids
    filed: list[int] = field(default_factory=list)              # a new legacy file
    new_files: list[int] = field(default_factory=list)          # file ids
    time_logged: list[int] = field(default_factory=list)
    deleted: list[int] = field(default_factory=list)            # now condition 3
    created: list[int] = field(default_factory=list)            # new cards on existing boards
    new_board: int | None = None
    new_board_cards: list[int] = field(default_factory=list)
    deactivated_user: int | None = None

    def changed_cards(self) -> set[int]:
        """Cards whose own data changed and that are still served (new ones included)."""
        return {*self.edited, *self.commented, *self.moved, *self.checked, *self.filed,
                *self.time_logged, *self.created, *self.new_board_cards}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Evolver:
    def __init__(self, co: "KaitenCompany", seed: int) -> None:
        self.co = co
        self.rng = random.Random(co.seed * 7907 + seed)
        self.log = ChangeLog()
        self.taken: set[int] = set()

    # --- helpers --------------------------------------------------------------------------
    def now(self) -> str:
        minutes = self.co.landmarks.get("clock", 0) + STEP
        self.co.landmarks["clock"] = minutes
        return at(minutes)

    def pick(self, count: int, accept: Any = lambda card: True, *, live: bool = True) -> list[int]:
        """``count`` distinct served cards not changed yet (sorted candidates, seeded choice)."""
        co = self.co
        candidates = [cid for cid in sorted(co.cards) if cid not in self.taken
                      and read_field(co.cards, cid, "condition") in ((1,) if live else (1, 2))
                      and accept(peek(co.cards, cid))]  # read-only: compact storage stays packed
        chosen = sorted(self.rng.sample(candidates, k=min(count, len(candidates))))
        self.taken.update(chosen)
        return chosen

    def isolated(self, card: Record) -> bool:
        """No relation to other cards: changing it leaves every other card's payload alone."""
        return not (card["parents_ids"] or card["children_ids"] or card["blocked_by_card_ids"]
                    or card["blocks_card_ids"] or self.co.blockers.get(card["id"]))

    @staticmethod
    def next_id(rows: Any) -> int:
        return max((row for row in rows if isinstance(row, int)), default=0) + 1

    # --- the changes ----------------------------------------------------------------------
    def edit(self, count: int) -> None:
        for card_id in self.pick(count, self.isolated):
            card = self.co.cards[card_id]
            card["title"] = f"{card['title']} (revised)"
            card["description"] = (card["description"] or "") + "\n\nUpdated after the review."
            card["updated"] = self.now()
            card["version"] += 1
            card["updater_id"] = card["owner_id"]
            self.log.edited.append(card_id)

    def comment(self, count: int) -> None:
        co = self.co
        for card_id in self.pick(count):
            card = co.cards[card_id]
            comment_id = self.next_id(c["id"] for rows in co.comments.values() for c in rows)
            members = [uid for uid, _ in co.card_members.get(card_id, [])]
            created = self.now()
            co.comments.setdefault(card_id, []).append({
                "id": comment_id, "uid": rng_uuid(self.rng), "text": "Checked with the customer: **go**.",
                "type": 1, "edited": False, "card_id": card_id,
                "author_id": (members or [card["owner_id"]])[0], "internal": False, "deleted": False,
                "email_addresses_to": None, "sd_external_recipients_cc": None, "sd_description": False,
                "notification_sent": False, "created": created, "updated": created})
            card["comments_total"] += 1
            card["comment_last_added_at"] = created
            self.log.commented.append(card_id)
            self.log.new_comments.append(comment_id)

    def move(self, count: int) -> None:
        co = self.co
        movable = [cid for cid in sorted(co.cards)
                   if len(co.board_column_ids(read_field(co.cards, cid, "board_id"), top_level=True)) > 1]
        for card_id in self.pick(count, lambda card: card["id"] in movable and self.isolated(card)):
            card = co.cards[card_id]
            columns = [c for c in co.board_column_ids(card["board_id"], top_level=True)
                       if c != card["column_id"]]
            target = columns[self.rng.randrange(len(columns))]
            moved = self.now()
            card.update(column_id=target, state=co.columns[target]["type"], last_moved_at=moved,
                        column_changed_at=moved)
            history = co.location_history.setdefault(card_id, [])
            history_id = self.next_id(int(row["id"]) for _, rows in peek_items(co.location_history)
                                      for row in rows)
            history.append({"id": str(history_id), "card_id": card_id, "board_id": card["board_id"],
                            "column_id": target, "subcolumn_id": None, "lane_id": card["lane_id"],
                            "sprint_id": None, "condition": card["condition"],
                            "author_id": card["owner_id"], "changed": moved})
            self.log.moved.append(card_id)

    def check_items(self, count: int) -> None:
        co = self.co
        owners: dict[int, list[int]] = {}
        for cid, checklist_ids in co.card_checklists.items():
            for checklist_id in checklist_ids:
                owners.setdefault(checklist_id, []).append(cid)

        def open_item(card: Record, pin: bool = False) -> Record | None:
            for checklist_id in co.card_checklists.get(card["id"], []):
                if owners[checklist_id] != [card["id"]]:
                    continue  # shared checklists change several cards at once
                checklist = co.checklists[checklist_id] if pin else peek(co.checklists, checklist_id)
                for item in checklist["items"]:
                    if not item["checked"] and not item["deleted"]:
                        return item
            return None

        for card_id in self.pick(count, lambda card: open_item(card) is not None):
            card = co.cards[card_id]
            item = open_item(card, pin=True)  # pinned: the item is changed in place
            assert item is not None
            when = self.now()
            item.update(checked=True, checker_id=card["owner_id"], checked_at=when, updated=when)
            card["goals_done"] += 1
            self.log.checked.append(card_id)
            self.log.checked_items.append(item["id"])

    def add_files(self, count: int) -> None:
        co = self.co
        for card_id in self.pick(count):
            card = co.cards[card_id]
            blob = FileBlob(key=rng_uuid(self.rng), name="minutes-of-the-review.txt", mime_type="text/plain",
                            size=1500 + self.rng.randrange(4000), content_seed=self.rng.getrandbits(32),
                            kind="text")
            co.blobs[blob.key] = blob
            file_id = self.next_id(f["id"] for _, rows in peek_items(co.files) for f in rows)
            created = self.now()
            co.files.setdefault(card_id, []).append({
                "id": file_id, "url": f"{DEFAULT_FILES_ORIGIN}/{blob.key}.txt", "name": blob.name, "type": 1,
                "size": blob.size, "mime_type": blob.mime_type, "deleted": False, "card_id": card_id,
                "external": False, "author_id": card["owner_id"], "comment_id": None,
                "sort_order": self.rng.uniform(1, 10), "card_cover": False, "created": created,
                "updated": created, "uid": rng_uuid(self.rng), "custom_property_id": None,
                "thumbnail_url": None})
            self.log.filed.append(card_id)
            self.log.new_files.append(file_id)

    def log_time(self, count: int) -> None:
        co = self.co
        for card_id in self.pick(count):
            card = co.cards[card_id]
            when = self.now()
            log_id = self.next_id(row["id"] for _, rows in peek_items(co.time_logs) for row in rows)
            co.time_logs.setdefault(card_id, []).append({
                "id": log_id, "card_id": card_id, "user_id": card["owner_id"], "author_id": card["owner_id"],
                "updater_id": card["owner_id"], "role_id": -1, "time_spent": 45, "for_date": when[:10],
                "comment": "Cutover rehearsal", "created": when, "updated": when})
            card["time_spent_sum"] += 45
            self.log.time_logged.append(card_id)

    def delete(self, count: int) -> None:
        for card_id in self.pick(count, self.isolated, live=False):
            self.co.cards[card_id].update(condition=3, updated=self.now())
            self.log.deleted.append(card_id)

    def create(self, count: int) -> None:
        co = self.co
        boards = sorted({read_field(co.cards, cid, "board_id") for cid in co.cards})
        for n in range(count):
            board_id = boards[n % len(boards)]
            like = next(cid for cid in sorted(co.cards) if read_field(co.cards, cid, "board_id") == board_id
                        and read_field(co.cards, cid, "condition") == 1)
            card_id = co.add_card(board_id, like=like, title=f"Follow-up task {n + 1}")
            self.taken.add(card_id)
            self.log.created.append(card_id)

    def new_board(self, cards: int) -> None:
        """A copy of the first board's shape (columns, one lane) bound to the same space."""
        co = self.co
        template_id = min(co.boards)
        created = self.now()
        board_id = self.next_id(co.boards)
        co.boards[board_id] = {**co.boards[template_id], "id": board_id, "uid": rng_uuid(self.rng),
                               "title": "Cutover checklist", "description": None,
                               "email_key": f"{self.rng.getrandbits(64):016x}", "card_properties": None,
                               "created": created, "updated": created}
        column_ids: dict[int, int] = {}
        next_column = self.next_id(co.columns)
        for column_id in sorted(co.board_column_ids(template_id), key=lambda cid: co.columns[cid]["column_id"] or 0):
            column = co.columns[column_id]
            column_ids[column_id] = next_column
            co.columns[next_column] = {**column, "id": next_column, "uid": rng_uuid(self.rng), "board_id": board_id,
                                       "column_id": column_ids.get(column["column_id"]) if column["column_id"] else None,
                                       "created": created, "updated": created}
            next_column += 1
        lane_id = self.next_id(co.lanes)
        template_lane = next(lane for lane in co.lanes.values() if lane["board_id"] == template_id
                             and lane["condition"] == 1)
        co.lanes[lane_id] = {**template_lane, "id": lane_id, "uid": rng_uuid(self.rng), "board_id": board_id,
                             "title": "Default lane", "created": created, "updated": created}
        space_id = next(b["space_id"] for b in co.bindings if b["board_id"] == template_id and b["primary"])
        co.bindings.append({"space_id": space_id, "board_id": board_id, "top": 0, "left": 304 * 9,
                            "sort_order": 999.0, "type": 1, "primary": True})
        self.log.new_board = board_id
        for n in range(cards):
            card_id = co.add_card(board_id, title=f"Cutover step {n + 1}")
            self.taken.add(card_id)
            self.log.new_board_cards.append(card_id)

    def deactivate(self) -> None:
        """The active, non-admin user with the fewest card references leaves the company."""
        co = self.co
        protected = {co.landmarks.get("admin_user"), co.landmarks.get("normal_user")}
        counts = {uid: 0 for uid, user in co.users.items() if user["activated"] and uid not in protected
                  and user.get("role") != 1}
        if not counts:
            return
        for card_id in co.cards:
            owner = read_field(co.cards, card_id, "owner_id")
            if owner in counts:
                counts[owner] += 1
        for rows in co.card_members.values():
            for uid, _ in rows:
                if uid in counts:
                    counts[uid] += 1
        user_id = min(sorted(counts), key=lambda uid: counts[uid])
        co.users[user_id].update(activated=False, updated=self.now())
        self.log.deactivated_user = user_id


def evolve_company(co: "KaitenCompany", *, per_kind: int = 2, seed: int = 1, new_board: bool = True,
                   deactivate_user: bool = True) -> ChangeLog:
    """Apply one deterministic round of changes to ``co`` in place (``per_kind`` cards per kind).

    ``per_kind`` cards each are edited, commented, moved, get a checked item, a new file and a time
    log; ``per_kind`` cards are deleted and ``per_kind`` new ones created; optionally a new board
    with two cards and one deactivated user. Returns what changed.
    """
    with co.lock:
        evolver = _Evolver(co, seed)
        evolver.edit(per_kind)
        evolver.comment(per_kind)
        evolver.move(per_kind)
        evolver.check_items(per_kind)
        evolver.add_files(per_kind)
        evolver.log_time(per_kind)
        evolver.delete(per_kind)
        evolver.create(per_kind)
        if new_board:
            evolver.new_board(2)
        if deactivate_user:
            evolver.deactivate()
        co._user_props = None
        return evolver.log


def per_kind_for(co: "KaitenCompany", fraction: float) -> int:
    """``per_kind`` so that about ``fraction`` of the served cards change (eight kinds of change)."""
    return max(1, round(len(co.served_card_ids()) * fraction / 8))


__all__ = ["ChangeLog", "evolve_company", "per_kind_for"]
