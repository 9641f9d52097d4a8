"""Deterministic generation of cards and everything attached to them.

Distribution (per served card): ~25% have comments (1-6), ~10% time logs, ~12% were moved
(non-empty location history, ``last_moved_at`` set), ~30% checklists, ~20% files. On top of the
random data, fixed edge cases are placed on the first cards of the first board (see
``EDGE_ROLES``) so even the tiny scale carries every one of them; ``company.landmarks`` names them.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import replace
from typing import TYPE_CHECKING, Any, NamedTuple

from k2p.testing.kaiten.cards_edges import apply_edge_roles
from k2p.testing.kaiten.cards_text import (
    CARD_PERMISSIONS, ITEM_TEXTS, MD_COMMENTS, card_title, short_description,
)
from k2p.testing.kaiten.comment_tail import CommentThread, last_created, thread_records
from k2p.testing.kaiten.compact import read_field
from k2p.testing.kaiten.files import MB, FileBlob
from k2p.testing.kaiten.formats import DEFAULT_FILES_ORIGIN, at, day, rng_uuid
from k2p.testing.kaiten.generator import DAY, Ids, ScaleSpec

if TYPE_CHECKING:
    from k2p.testing.kaiten.model import CompanyData

Record = dict[str, Any]

# Role names by position among the first board's live cards (ascending id).
EDGE_ROLES: tuple[tuple[str, ...], ...] = (
    ("emoji_title", "files_edge", "html_comments"),
    ("arabic_title", "private_files"),
    ("hebrew_title", "cover_image", "time_logs", "moved"),
    ("long_title", "shared_bytes_copy", "external_links"),
    ("markdown_description", "all_properties", "members"),
    ("huge_description", "shared_checklist_owner"),
    ("file_links_description", "shared_checklist_sharer"),
    ("subcolumn", "blocked"),
    ("parent_column", "blocker", "parent"),
    ("child", "archived_lane"),
    ("archived_lane",),
)
ARCHIVED_EDGE_ROLES: tuple[tuple[str, ...], ...] = (("archived_lane", "plain_archived"), ("auto_archived",))


class Slot(NamedTuple):
    card_id: int
    board_id: int
    condition: int
    created: float  # minutes after BASE_TIME


class CardBuilder:
    """Fills ``company.cards`` and the per-card relation tables."""

    def __init__(self, co: "CompanyData", spec: ScaleSpec, rng: random.Random, ids: Ids, *,
                 lazy: bool = True) -> None:
        self.co, self.spec, self.rng, self.ids = co, spec, rng, ids
        self.mix, self.lazy = spec.mix, lazy
        self.marks = co.landmarks
        unassigned = set(self.marks["unassigned_users"]) | set(self.marks["directors_only_users"])
        self.people = [uid for uid, user in co.users.items() if user["activated"] and uid not in unassigned]
        self.everyone = tuple(self.people)  # one shared tuple: thread authors of cards without members
        self.main_board = self.marks["boards"][0]
        self.roles: dict[int, tuple[str, ...]] = {}
        self.large_left = spec.large_files
        self.type_ids = list(co.card_types)[:4]
        self._board_places: dict[int, tuple[list[int], list[int], list[int], list[int]]] = {}

    def board_places(self, board_id: int) -> tuple[list[int], list[int], list[int], list[int]]:
        """Columns, live lanes, done columns and sprints of a board (looked up once per board)."""
        places = self._board_places.get(board_id)
        if places is None:
            co = self.co
            columns = co.board_column_ids(board_id)
            lanes = [lid for lid, lane in co.lanes.items() if lane["board_id"] == board_id]
            places = (columns, [lid for lid in lanes if co.lanes[lid]["condition"] == 1],
                      [cid for cid in columns if co.columns[cid]["type"] == 3],
                      [sid for sid, sprint in co.sprints.items() if sprint["board_id"] == board_id])
            self._board_places[board_id] = places
        return places

    # --- plan ----------------------------------------------------------------------------------
    def run(self) -> None:
        slots = self.plan()
        self.assign_roles(slots)
        for slot in slots:
            self.make_card(slot)
        self.attach_tags()
        self.link_family()
        self.apply_edges()
        self.mark_auto_archived()
        self.marks["clock"] = max(slot.created for slot in slots)

    def plan(self) -> list[Slot]:
        kinds: list[tuple[int, int]] = []
        for index, (live, archived) in enumerate(self.spec.boards):
            board_id = self.marks["boards"][index]
            deleted = 2 if index == 0 else 1
            kinds += [(board_id, 1)] * live + [(board_id, 2)] * archived + [(board_id, 3)] * deleted
        self.rng.shuffle(kinds)
        step = 400 * DAY / len(kinds)
        slots = []
        for n, (board_id, condition) in enumerate(kinds):
            card_id = self.ids.next("card")
            if self.rng.random() < 0.2:  # ids of other companies' cards leave gaps
                self.ids.next("card")
            slots.append(Slot(card_id, board_id, condition, -420 * DAY + n * step + self.rng.randint(0, 60)))
        return slots

    def assign_roles(self, slots: list[Slot]) -> None:
        live = [s.card_id for s in slots if s.board_id == self.main_board and s.condition == 1]
        archived = [s.card_id for s in slots if s.board_id == self.main_board and s.condition == 2]
        for card_id, roles in zip(live, EDGE_ROLES):
            self.roles[card_id] = roles
        for card_id, roles in zip(archived, ARCHIVED_EDGE_ROLES):
            self.roles[card_id] = roles
        for card_id, roles in self.roles.items():
            for role in roles:
                self.marks.setdefault(f"{role}_cards", []).append(card_id)
                self.marks.setdefault(f"{role}_card", card_id)

    # --- one card ------------------------------------------------------------------------------
    def location(self, slot: Slot, roles: tuple[str, ...]) -> tuple[int, int]:
        rng = self.rng
        columns, live_lanes, done, _ = self.board_places(slot.board_id)
        if slot.condition == 2 and (rng.random() < 0.85 or "auto_archived" in roles):
            column = rng.choice(done)
        else:
            column = rng.choice(columns)
        lane = rng.choice(live_lanes)
        if "subcolumn" in roles:
            column = self.marks["subcolumn"]
        if "parent_column" in roles:
            column = self.marks["parent_column"]
        if "archived_lane" in roles:
            lane = self.marks["archived_lane"]
        if slot.condition == 3 and "deleted_lane" in self.marks and slot.board_id == self.main_board:
            lane = self.marks["deleted_lane"]
        return column, lane

    def make_card(self, slot: Slot) -> None:
        rng, roles = self.rng, self.roles.get(slot.card_id, ())
        column, lane = self.location(slot, roles)
        moved = "moved" in roles or rng.random() < self.mix.moved
        card = card_record(self.co, rng, card_id=slot.card_id, board_id=slot.board_id, column_id=column,
                           lane_id=lane, condition=slot.condition, created=slot.created,
                           title=card_title(rng), owner_id=rng.choice(self.people),
                           type_id=rng.choice(self.type_ids))
        self.co.cards[slot.card_id] = card
        if slot.condition == 3:
            return
        if rng.random() < 0.35:
            card["description"] = short_description(rng)
            card["description_filled"] = True
        if moved:
            self.add_history(card, slot.created)
        self.add_random_relations(card, slot.created)

    def add_random_relations(self, card: Record, created: float) -> None:
        rng, card_id, mix = self.rng, card["id"], self.mix
        if rng.random() < 0.6:
            self.add_members(card_id, rng.randint(1, 3))
        if rng.random() < 0.4:
            self.add_properties(card)
        if rng.random() < mix.comments:
            count = rng.randint(1, mix.comments_max)
            if mix.threaded:
                self.add_thread(card, count, created)
            else:
                for n in range(count):
                    self.add_comment(card, created + (n + 1) * 90, rng.choice(MD_COMMENTS), kind=1)
        if mix.tail and rng.random() < mix.tail:
            self.add_thread(card, rng.randint(mix.tail_min, mix.tail_max), created + 30 * DAY)
        if rng.random() < 0.10:
            self.add_time_logs(card, rng.randint(1, 3), created)
        if rng.random() < mix.checklists:
            for n in range(rng.randint(1, 2)):
                self.add_checklist(card, f"Checklist {n + 1}", rng.randint(1, 5), created)
        if rng.random() < mix.files:
            for _ in range(rng.randint(1, 3)):
                self.add_random_file(card, created)
        if rng.random() < 0.05:
            self.add_link(card, "https://example.org/tickets/" + str(rng.randint(100, 999)), "Ticket")
        sprints = self.board_places(card["board_id"])[3]
        if sprints and card["condition"] == 1 and rng.random() < 0.25:
            card["sprint_id"] = rng.choice(sprints)

    # --- relations -----------------------------------------------------------------------------
    def add_members(self, card_id: int, count: int, responsible: bool | None = None) -> None:
        chosen = self.rng.sample(self.people, k=count)
        with_responsible = self.rng.random() < 0.5 if responsible is None else responsible
        self.co.card_members[card_id] = [(uid, 2 if with_responsible and n == 0 else 1)
                                         for n, uid in enumerate(chosen)]

    def add_properties(self, card: Record, every: bool = False) -> None:
        board = self.co.boards[card["board_id"]]
        keys = [int(row["key"][3:]) for row in board["card_properties"] or []]
        props = self.co.custom_properties
        chosen = keys if every else self.rng.sample(keys, k=min(len(keys), self.rng.randint(1, 3)))
        values = card["properties"] or {}
        for prop_id in chosen:
            value = self.property_value(props[prop_id], every)
            if value is not None:
                values[f"id_{prop_id}"] = value
        card["properties"] = values or None

    def property_value(self, prop: Record, every: bool) -> Any:
        rng, kind = self.rng, prop["type"]
        options = self.co.select_values.get(prop["id"], [])
        active = [v["id"] for v in options if v["condition"] == "active" and not v["deleted"]]
        simple = {"string": "Free text ✍️ " + str(rng.randint(1, 99)), "number": rng.randint(1, 100) + 0.5,
                  "email": f"contact{rng.randint(1, 99)}@example.org", "checkbox": rng.random() < 0.5,
                  "url": f"https://example.org/spec/{rng.randint(1, 99)}", "phone": "+7 900 123-45-67",
                  "formula": rng.randint(2, 200), "vote": rng.randint(0, 12),
                  "collective_score": str(rng.randint(1, 5)), "collective_vote": rng.randint(1, 5)}
        if kind in simple:
            return simple[kind]
        if kind == "date":
            with_time = rng.random() < 0.5
            return {"date": day(rng.randint(0, 200) * DAY), "time": "10:30" if with_time else None,
                    "tzOffset": 180 if with_time else None}
        if kind == "select":
            picked = rng.sample(active, k=2 if prop["multi_select"] else 1)
            if every:  # the removed (deleted) option stays on cards that used it
                picked.append(next(v["id"] for v in options if v["deleted"]))
            return picked
        if kind == "user":
            return rng.sample(self.people, k=2 if every else 1)
        if kind == "catalog":
            return [rng.choice(self.co.catalog_values[prop["id"]])["id"]]
        return None  # attachment values are set together with their file

    def add_comment(self, card: Record, minutes: float, text: str, *, kind: int,
                    deleted: bool = False, edited: bool | None = None) -> Record:
        rng = self.rng
        members = [uid for uid, _ in self.co.card_members.get(card["id"], [])]
        edited = rng.random() < 0.1 if edited is None else edited
        comment = {
            "id": self.ids.next("comment"), "uid": rng_uuid(rng), "text": text, "type": kind,
            "edited": edited, "card_id": card["id"], "author_id": rng.choice(members or self.people),
            "internal": False, "deleted": deleted, "email_addresses_to": None,
            "sd_external_recipients_cc": None, "sd_description": False, "notification_sent": False,
            "created": at(minutes), "updated": at(minutes + (300 if edited else 0))}
        self.co.comments.setdefault(card["id"], []).append(comment)
        if not deleted:
            card["comments_total"] += 1
            card["comment_last_added_at"] = comment["created"]
        return comment

    def add_thread(self, card: Record, count: int, start: float) -> None:
        """A long comment thread after the card's own comments, lazily generated (or eagerly)."""
        members = tuple(uid for uid, _ in self.co.card_members.get(card["id"], [])) or self.everyone
        first_id = self.ids.next("comment")
        for _ in range(count - 1):
            self.ids.next("comment")
        args = (card["id"], first_id, count, start, members, self.rng.getrandbits(32))
        rows = self.co.comments.setdefault(card["id"], [])  # comments the card already has come first
        if self.lazy:
            self.co.comments[card["id"]] = CommentThread(*args, head=list(rows))
        else:
            rows.extend(thread_records(*args))
        card["comments_total"] += count
        card["comment_last_added_at"] = last_created(start, count)

    def add_time_logs(self, card: Record, count: int, created: float) -> None:
        roles = [-1] + [role["id"] for role in self.co.user_roles]
        for n in range(count):
            spent = self.rng.choice((15, 30, 60, 90, 240, 480))
            minutes = created + (n + 1) * DAY
            user = self.rng.choice(self.people)
            self.co.time_logs.setdefault(card["id"], []).append({
                "id": self.ids.next("time_log"), "card_id": card["id"], "user_id": user,
                "author_id": user, "updater_id": user, "role_id": self.rng.choice(roles),
                "time_spent": spent, "for_date": day(minutes), "comment": "Работа над задачей" if n else None,
                "created": at(minutes), "updated": at(minutes)})
            card["time_spent_sum"] += spent

    def add_history(self, card: Record, created: float) -> None:
        """Entries from the creation place to the current place (string ids, as live)."""
        co, rng = self.co, self.rng
        columns = self.board_places(card["board_id"])[0]
        stops = [rng.choice(columns) for _ in range(rng.randint(1, 3))] + [card["column_id"]]
        moments = sorted(rng.uniform(created, created + 30 * DAY) for _ in stops[1:])
        when = [created, *moments]
        card["last_moved_at"] = card["column_changed_at"] = at(when[-1])
        card["updated"] = max(card["updated"], card["last_moved_at"])  # same format: sorts as text
        rows = []
        for n, (column_id, minutes) in enumerate(zip(stops, when)):
            column = co.columns[column_id]
            rows.append({"id": str(self.ids.next("history")), "card_id": card["id"],
                         "board_id": card["board_id"], "column_id": column["column_id"] or column_id,
                         "subcolumn_id": column_id if column["column_id"] else None,
                         "lane_id": card["lane_id"], "sprint_id": None,
                         "condition": card["condition"] if n == len(stops) - 1 else 1,
                         "author_id": rng.choice(self.people), "changed": at(minutes)})
        co.location_history[card["id"]] = rows

    def add_checklist(self, card: Record, name: str, items: int, created: float,
                      deleted_item: bool = False) -> int:
        rng = self.rng
        checklist_id = self.ids.next("checklist")
        rows = []
        for n in range(items):
            checked = rng.random() < 0.5
            rows.append({"id": self.ids.next("item"), "uid": rng_uuid(rng), "text": rng.choice(ITEM_TEXTS),
                         "checked": checked, "checker_id": card["owner_id"] if checked else None,
                         "checked_at": at(created + 600 + n) if checked else None,
                         "user_id": card["owner_id"], "responsible_id": None,
                         "due_date": day(created + 7 * DAY) if rng.random() < 0.2 else None,
                         "sort_order": n + 1 + rng.random(), "deleted": deleted_item and n == items - 1,
                         "checklist_id": checklist_id, "created": at(created + 60 + n),
                         "updated": at(created + 600 + n)})
        self.co.checklists[checklist_id] = {
            "id": checklist_id, "uid": rng_uuid(rng), "name": name, "card_id": card["id"],
            "sort_order": rng.uniform(1, 10), "policy_id": None, "checklist_id": checklist_id,
            "created": at(created + 60), "updated": at(created + 600), "items": rows}
        self.attach_checklist(card, checklist_id)
        return checklist_id

    def attach_checklist(self, card: Record, checklist_id: int) -> None:
        self.co.card_checklists.setdefault(card["id"], []).append(checklist_id)
        items = [item for item in self.co.checklists[checklist_id]["items"] if not item["deleted"]]
        card["goals_total"] += len(items)
        card["goals_done"] += sum(item["checked"] for item in items)

    def add_link(self, card: Record, url: str, description: str) -> None:
        link_id = self.ids.next("link")
        self.co.external_links.setdefault(card["id"], []).append({
            "id": link_id, "uid": rng_uuid(self.rng), "url": url, "description": description,
            "card_id": card["id"], "external_link_id": link_id, "external_link_uid": None,
            "created": card["created"], "updated": card["created"]})

    # --- files ---------------------------------------------------------------------------------
    def new_blob(self, name: str, size: int, *, kind: str = "bin", seed: int | None = None,
                 mime: str | None = None, **flags: bool) -> FileBlob:
        blob = FileBlob(key=rng_uuid(self.rng), name=name, mime_type=mime, size=size,
                        content_seed=self.rng.getrandbits(32) if seed is None else seed, kind=kind, **flags)
        self.co.blobs[blob.key] = blob
        return blob

    def legacy_file(self, card: Record, blob: FileBlob, *, declared: int | None = None, ftype: int = 1,
                    comment_id: int | None = None, property_id: int | None = None,
                    cover: bool = False) -> Record:
        extension = blob.name.rsplit(".", 1)[-1] if "." in blob.name else "bin"
        record = {
            "id": self.ids.next("file"), "url": f"{DEFAULT_FILES_ORIGIN}/{blob.key}.{extension}",
            "name": blob.name, "type": ftype, "size": blob.size if declared is None else declared,
            "mime_type": blob.mime_type, "deleted": blob.deleted, "card_id": card["id"], "external": False,
            "author_id": card["owner_id"], "comment_id": comment_id, "sort_order": self.rng.uniform(1, 10),
            "card_cover": cover, "created": card["created"], "updated": card["created"],
            "uid": rng_uuid(self.rng), "custom_property_id": property_id, "thumbnail_url": None}
        self.co.files.setdefault(card["id"], []).append(record)
        return record

    def private_file(self, card: Record, blob: FileBlob, comment: Record | None = None) -> Record:
        self.co.blobs[blob.key] = replace(blob, public=False)
        owner = self.co.users[card["owner_id"]]
        base = f"/api/v1/cards/{card['uid']}"
        url = f"{base}/comments/{comment['uid']}/files/{blob.key}" if comment else f"{base}/files/{blob.key}"
        resizes = ([{"size": 4096, "resize": "224x", "storage_key": f"{blob.key}-224x",
                     "created": card["created"]}] if (blob.mime_type or "").startswith("image/") else [])
        record = {
            "id": blob.key, "name": blob.name, "size": str(blob.size), "mime_type": blob.mime_type,
            "author_uid": owner["uid"], "card_uid": card["uid"],
            "entity_type": "comment" if comment else "card", "created": card["created"],
            "updated": card["created"], "resizes": resizes, "card_cover": False, "deleted": blob.deleted,
            "type": 11, "url": url, "card_id": card["id"], "company_uid": self.co.company["uid"]}
        if comment:
            record.update(comment_id=comment["id"], comment_uid=comment["uid"])
        self.co.files.setdefault(card["id"], []).append(record)
        return record

    def add_random_file(self, card: Record, created: float) -> None:
        rng = self.rng
        name, mime, kind = rng.choice(FILE_NAMES)
        size = int(2 ** rng.uniform(9, 18))
        if self.large_left > 0 and rng.random() < 0.1:
            self.large_left -= 1
            size = MB + rng.randint(0, 2 * MB)
        blob = self.new_blob(name, size, kind=kind, mime=mime)
        if rng.random() < 0.25:
            self.private_file(card, blob)
        else:
            self.legacy_file(card, blob)

    # --- company-wide passes -------------------------------------------------------------------
    def attach_tags(self) -> None:
        cards = self.co.cards
        live = [cid for cid in cards if read_field(cards, cid, "condition") == 1]
        archived = [cid for cid in cards if read_field(cards, cid, "condition") == 2]
        for card_id, tag_ids in self.choose_tags(live, archived).items():
            cards[card_id]["tag_ids"] = tag_ids

    def choose_tags(self, live: list[int], archived: list[int]) -> dict[int, list[int]]:
        """Card id -> its sorted tag ids, for the live and archived cards (ascending ids)."""
        rng, marks = self.rng, self.marks
        chosen: dict[int, set[int]] = defaultdict(set)
        for n, tag_id in enumerate(marks["live_tags"]):  # every "live" tag sits on a live card
            chosen[live[(n * 7) % len(live)]].add(tag_id)
        for card_id in live + archived:
            if rng.random() < 0.45:
                chosen[card_id].update(rng.sample(marks["live_tags"], k=rng.randint(1, 2)))
        for n, tag_id in enumerate(marks["archived_only_tags"]):
            chosen[archived[n % len(archived)]].add(tag_id)
        return {card_id: sorted(tag_ids) for card_id, tag_ids in chosen.items()}

    def link_family(self) -> None:
        """Parent/child links and card blockers between cards of the same board."""
        cards = self.co.cards
        by_board: dict[int, list[int]] = defaultdict(list)
        for card_id in cards:
            if read_field(cards, card_id, "condition") != 3:
                by_board[read_field(cards, card_id, "board_id")].append(card_id)
        for board_cards in by_board.values():
            self.link_board(board_cards)

    def link_board(self, board_cards: list[int]) -> None:
        """Parents and blockers among one board's served cards (ascending ids)."""
        rng, cards = self.rng, self.co.cards
        for child in board_cards[5:]:
            if rng.random() < 0.05:
                self.link_parent(rng.choice(board_cards[:5]), child)
            elif rng.random() < 0.03 and read_field(cards, child, "condition") == 1:
                blocker = rng.choice(board_cards[:5]) if rng.random() < 0.5 else None
                self.add_blocker(child, blocker, "Waiting for a decision")

    def add_blocker(self, card_id: int, blocker_card_id: int | None, reason: str) -> None:
        cards = self.co.cards
        card = cards[card_id]
        user = self.rng.choice(self.people)
        self.co.blockers.setdefault(card_id, []).append({
            "id": self.ids.next("blocker"), "uid": rng_uuid(self.rng), "card_id": card_id,
            "blocker_id": user, "blocker_card_id": blocker_card_id,
            "blocker_card_title": read_field(cards, blocker_card_id, "title") if blocker_card_id else None,
            "reason": reason, "released": False, "released_by_id": None, "due_date": None,
            "due_date_time_present": False, "created": card["updated"], "updated": card["updated"]})
        card.update(blocked=True, block_reason=reason, blocked_at=card["updated"], blocker_id=user)
        if blocker_card_id:
            blocking = cards[blocker_card_id]
            blocking["blocking_card"] = True
            blocking["blocks_card_ids"] = sorted({*(blocking["blocks_card_ids"] or []), card_id})
            card["blocked_by_card_ids"] = sorted({*(card["blocked_by_card_ids"] or []), blocker_card_id})

    def mark_auto_archived(self) -> None:
        """Some archived cards in auto-archiving (done) columns were archived by Kaiten itself."""
        for n, card_id in enumerate(self.co.cards):
            self.auto_archive(n, card_id)
        self.marks["auto_archived_cards"] = sorted(self.co.auto_archived)

    def auto_archive(self, n: int, card_id: int) -> None:
        """Mark the ``n``-th card (in id order) auto-archived if it is one."""
        cards = self.co.cards
        roles = self.roles.get(card_id, ())
        column = self.co.columns[read_field(cards, card_id, "column_id")]
        auto_column = read_field(cards, card_id, "condition") == 2 and column["archive_after_days"] > 0
        chosen = auto_column and n % 5 in (1, 3) and "plain_archived" not in roles
        if "auto_archived" in roles or chosen:
            self.co.auto_archived.add(card_id)

    def apply_edges(self) -> None:
        apply_edge_roles(self)

    def link_parent(self, parent_id: int, child_id: int) -> None:
        cards = self.co.cards
        parent, child = cards[parent_id], cards[child_id]
        child["parents_ids"] = sorted({*(child["parents_ids"] or []), parent_id})
        child["parents_count"] = len(child["parents_ids"])
        parent["children_ids"] = sorted({*(parent["children_ids"] or []), child_id})
        parent["children_count"] = len(parent["children_ids"])
        parent["children_done"] = sum(read_field(cards, c, "state") == 3 for c in parent["children_ids"])


FILE_NAMES: tuple[tuple[str, str | None, str], ...] = (
    ("spec.pdf", "application/pdf", "bin"), ("report.xlsx", None, "bin"),
    ("photo.jpg", "image/jpeg", "bin"), ("notes.txt", "text/plain", "text"),
    ("диаграмма.png", "image/png", "bin"), ("résumé.docx", None, "bin"),
    ("archive.zip", "application/zip", "bin"), ("README.md", "text/markdown", "text"),
)


def card_record(co: "CompanyData", rng: random.Random, *, card_id: int, board_id: int, column_id: int,
                lane_id: int, condition: int, created: float, title: str, owner_id: int,
                type_id: int) -> Record:
    """The stored scalar part of a card, in API field names (relations live in side tables)."""
    state = co.columns[column_id]["type"]
    updated = created + rng.randint(60, 40 * DAY)
    done_at = at(created + 2 * DAY) if state == 3 else None
    sized = rng.random() < 0.2
    size = rng.choice((1, 2, 3, 5, 8)) if sized else None
    return {
        "id": card_id, "uid": rng_uuid(rng), "created": at(created), "updated": at(updated),
        "archived": condition == 2, "title": title, "asap": rng.random() < 0.05,
        "due_date": at(created + 14 * DAY) if rng.random() < 0.2 else None,
        "sort_order": rng.uniform(0.5, 200), "fifo_order": None, "state": state, "condition": condition,
        "expires_later": False, "parents_count": 0, "children_count": 0, "children_done": 0,
        "has_blocked_children": False, "goals_total": 0, "goals_done": 0, "time_spent_sum": 0,
        "time_blocked_sum": 0, "children_number_properties_sum": None, "parent_checklist_ids": None,
        "parents_ids": None, "children_ids": None, "blocking_card": False, "blocked": False,
        "size": size, "size_unit": "SP" if sized else None, "size_text": str(size) if sized else None,
        "due_date_time_present": False, "board_id": board_id, "column_id": column_id,
        "lane_id": lane_id, "owner_id": owner_id, "type_id": type_id, "version": rng.randint(1, 40),
        "updater_id": owner_id if rng.random() < 0.8 else -1, "completed_on_time": None,
        "completed_at": done_at, "last_moved_at": None, "lane_changed_at": at(created),
        "column_changed_at": at(created),
        "first_moved_to_in_progress_at": at(created + DAY) if state >= 2 else None,
        "last_moved_to_done_at": done_at, "sprint_id": None, "external_id": None,
        "comments_total": 0, "comment_last_added_at": None, "properties": None,
        "counters_recalculated_at": at(updated), "service_id": None, "sd_new_comment": False,
        "public": False, "share_id": None, "share_settings": None, "external_user_emails": None,
        "calculated_planned_start": None, "calculated_planned_end": None, "planned_start": None,
        "planned_end": None, "description_filled": False, "estimate_workload": 0, "tag_ids": None,
        "locked": None, "source": rng.choice(("app", "api", "email", None)),
        # present in the single-card payload only (see kaiten_views.SINGLE_ONLY)
        "description": None, "email": f"a+co-{co.company['id']}-c{card_id}@a.kaiten.ru",
        "card_permissions": CARD_PERMISSIONS, "key": None, "import_id": None,
        "fts_version": str(rng.getrandbits(30)), "blocked_by_card_ids": None,
        "blocks_card_ids": None, "relates_card_ids": None,
    }


def new_live_card(co: "CompanyData", rng: random.Random, board_id: int, *, column_id: int | None,
                  lane_id: int | None, title: str | None, like: int | None) -> int:
    """Insert a live card with the next highest id (used by drift and by tests)."""
    template = co.cards[like] if like is not None else None
    if column_id is None:
        column_id = template["column_id"] if template else co.board_column_ids(board_id, top_level=True)[0]
    if lane_id is None:
        lane_id = template["lane_id"] if template else next(
            lid for lid, lane in co.lanes.items() if lane["board_id"] == board_id and lane["condition"] == 1)
    minutes = co.landmarks.get("clock", 0) + 7
    co.landmarks["clock"] = minutes
    card_id = max(co.cards) + 1
    owner = template["owner_id"] if template else co.landmarks["admin_user"]
    co.cards[card_id] = card_record(
        co, rng, card_id=card_id, board_id=board_id, column_id=column_id, lane_id=lane_id, condition=1,
        created=minutes, title=title or f"Inserted card #{card_id}", owner_id=owner,
        type_id=template["type_id"] if template else 1)
    co.landmarks.setdefault("inserted_cards", []).append(card_id)
    return card_id
