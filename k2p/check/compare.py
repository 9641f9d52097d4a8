"""One board: the mapping's plan and the ledger's Planka ids (expected) against Planka's answers (found).

Only what k2p owns is compared — the fields it sends (``fields()`` of each plan object), the
parent and the order among k2p's own siblings, the links it makes (labels, members), the cover and
the archive placement. The plan already holds what the mapping intends (truncated names, Planka
Markdown, attribution lines), so an intended difference is no difference here. Objects found under
the board that no ledger row claims are *unexpected* (someone works there: informational), unless
they repeat a k2p object (same name in the same place): then they are *duplicates*.

Memory: the ledger rows of a card are looked up while the card is compared and forgotten after;
its comments are compared when they are read (:meth:`BoardCheck.card_comments`, fed by
:func:`k2p.check.found.read_comments`), not kept with the board.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

from k2p.check.found import BoardFound, Item
from k2p.check.verdict import Difference, Verdict
from k2p.mapping.model import BoardPlan, CardPlan
from k2p.planka.ledger import Ledger
from k2p.planka.positions import longest_increasing
from k2p.timestamps import parse_time

SHOWN_CHARS = 60


@dataclass(frozen=True)
class People:
    """Who wrote what: the importing account, the accounts k2p created, deactivated accounts."""

    me: str
    own: frozenset[str] = frozenset()
    inactive: frozenset[str] = frozenset()


@dataclass
class FileRead:
    """An attachment whose downloaded bytes are to be hashed."""

    key: str
    planka_id: str
    url: str
    sha256: str
    size: int
    board: str


def excerpt(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return repr(text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS] + "…")


def describe(expected: Any, found: Any) -> str:
    """``expected 'abc' (3 chars), found 'abd'`` — short, whatever the size of the texts."""
    if isinstance(expected, str) and isinstance(found, str):
        at = next((index for index, (a, b) in enumerate(zip(expected, found)) if a != b),
                  min(len(expected), len(found)))
        return (f"expected {excerpt(expected)} ({len(expected)} chars), found {excerpt(found)} "
                f"({len(found)} chars; first difference at char {at})")
    return f"expected {excerpt(expected)}, found {excerpt(found)}"


def _same(name: str, expected: Any, found: Any) -> bool:
    if name == "dueDate":
        return parse_time(expected) == parse_time(found)
    if name == "stopwatch":
        return (expected or {}).get("total") == (found or {}).get("total")
    return bool(expected == found)


# Attributes of Planka's items the comparison reads besides the plan's fields (see compared_names).
READ = frozenset({"id", "boardId", "listId", "cardId", "taskListId", "customFieldGroupId", "customFieldId",
                  "labelId", "userId", "position", "type", "name", "text", "color", "role", "data", "content",
                  "linkedCardId", "coverAttachmentId", "creatorUserId", "commentsTotal"})


def compared_names(plan: BoardPlan) -> frozenset[str]:
    """Every attribute of Planka's items that comparing ``plan`` reads: what a found item keeps."""
    names = set(READ)
    boards: list[Any] = [plan, *plan.labels, *plan.lists, *plan.custom_fields, *plan.members]
    for item in boards:
        names.update(item.fields())
    for card in plan.cards:
        names.update(card.fields())
        for task_list in card.task_lists:
            names.update(task_list.fields())
            for task in task_list.tasks:
                names.update(task.fields())
        for detail in card.details:
            names.update(detail.fields())
    return frozenset(names)


def card_keys(card: CardPlan) -> list[tuple[str, str]]:
    """(kind, key) of every ledger object of a card, the card first."""
    keys = [("card", card.key)]
    keys += [("card_label", f"{card.key}:label:{label}") for label in card.label_keys]
    keys += [("card_label", f"{card.key}:blocked")] if card.blocked else []
    for task_list in card.task_lists:
        keys += [("task_list", task_list.key)] + [("task", task.key) for task in task_list.tasks]
    for relation in card.relations:
        keys += [("task_list", relation.key)] + [("linked_task", link.key) for link in relation.links]
    keys += [("comment", comment.key) for comment in card.comments]
    keys += [("attachment", attachment.key) for attachment in card.attachments]
    keys += [("custom_value", f"{card.key}:value:{name}") for name in card.custom_values]
    if card.details:
        keys += [("custom_field_group", f"{card.key}:details")]
        for detail in card.details:
            keys += [("custom_field", detail.key), ("custom_value", f"{detail.key}:value")]
    keys += [("card_placement", f"{card.key}:placement")]
    keys += [("card_membership", f"{card.key}:member:{user}") for user in card.member_user_ids]
    return keys


def board_keys(plan: BoardPlan) -> list[tuple[str, str]]:
    """(kind, key) of every ledger object of a board, the board first."""
    keys = [("board", plan.key)] + [("board_membership", f"{plan.key}:member:{member.user_id}")
                                    for member in plan.members]
    keys += [("board_membership_role", f"{plan.key}:member:{member.user_id}:role") for member in plan.members]
    keys += [("label", label.key) for label in plan.labels] + [("list", item.key) for item in plan.lists]
    if plan.custom_fields:
        keys += [("custom_field_group", f"{plan.key}:fieldgroup")]
        keys += [("custom_field", item.key) for item in plan.custom_fields]
    for card in plan.cards:
        keys += card_keys(card)
    return keys


# Kinds counted in the verdict (placement and role rows are fields of a card and a membership).
COUNTED = {"board", "board_membership", "label", "list", "custom_field_group", "custom_field", "card",
           "card_label", "card_membership", "task_list", "task", "linked_task", "comment", "attachment",
           "custom_value"}


class BoardCheck:
    """Compares one board; collects the files to hash in ``files``."""

    def __init__(self, plan: BoardPlan, ledger: Ledger, found: BoardFound, verdict: Verdict, people: People,
                 project_id: str | None, want_file: Callable[[str], bool],
                 kaiten_times: dict[str, str] | None = None) -> None:
        self.plan, self.ledger, self.found, self.verdict, self.people = plan, ledger, found, verdict, people
        self.kaiten_times = kaiten_times or {}   # card/comment key → Kaiten's ``created``
        self.project_id = project_id
        self.want_file = want_file
        self.files: list[FileRead] = []
        self.claimed: set[str] = set()
        self.talkative: list[str] = []           # cards whose comments Planka has, to be read
        self._rows: dict[str, Any] = {}
        self._planned: dict[str, CardPlan] = {}  # Planka card id → plan, for the comments

    # --- helpers -------------------------------------------------------------------------------
    def row(self, key: str) -> Any:
        if key not in self._rows:
            self._rows[key] = self.ledger.get(key)
        return self._rows[key]

    def pid(self, key: str) -> str | None:
        row = self.row(key)
        return str(row.planka_id) if row is not None and row.done and row.planka_id else None

    def diff(self, kind: str, key: str | None, planka_id: str | None, problem: str, field_name: str = "",
             detail: str = "", counted: bool = True) -> None:
        self.verdict.add(Difference(kind, key, planka_id, problem, field_name, detail, self.plan.key),
                         counted=counted)

    def _absent(self, key: str) -> str:
        return ("never imported (no ledger row); rerun the import" if self.pid(key) is None
                else "not in Planka (deleted?)")

    def lookup(self, kind: str, key: str, items: dict[str, Item] | None) -> Item | None:
        """Count one expected object; None (and a missing difference) when Planka lacks it."""
        self.verdict.count(kind, "expected")
        planka_id = self.pid(key)
        item = (items or {}).get(planka_id) if planka_id else None
        if item is None:
            self.diff(kind, key, planka_id, "missing", detail=self._absent(key))
            return None
        self.verdict.count(kind, "found")
        self.claimed.add(str(item["id"]))
        return item

    def fields(self, kind: str, key: str, item: Item, expected: dict[str, Any],
               extra: Sequence[tuple[str, Any, Any]] = ()) -> None:
        """Compare the fields k2p sent (and ``extra`` (name, expected, found) triples)."""
        pairs = [(name, value, item.get(name)) for name, value in expected.items()] + list(extra)
        differing = [(name, want, got) for name, want, got in pairs if not _same(name, want, got)]
        for name, want, got in differing:
            self.diff(kind, key, str(item["id"]), "differs", name, describe(want, got), counted=False)
        if differing:
            self.verdict.count(kind, "differing")

    def order(self, kind: str, keys: Iterable[str], items: dict[str, Item], parent: str) -> None:
        """Siblings k2p placed must keep their relative order (those not in the longest ordered
        run are named)."""
        present = [(key, items[self.pid(key)]) for key in keys if self.pid(key) in items]  # type: ignore[index]
        present = [(key, item) for key, item in present if isinstance(item.get("position"), (int, float))]
        kept = longest_increasing([float(item["position"]) for _, item in present])
        for index, (key, item) in enumerate(present):
            if index not in kept:
                after = next((present[i][0] for i in range(index - 1, -1, -1) if i in kept), None)
                self.diff(kind, key, str(item["id"]), "differs", "position",
                          f"out of order in {parent}" + (f" (expected after {after})" if after else " (expected first)"))

    def missing_tree(self, keys: list[tuple[str, str]], detail: str) -> None:
        """The first object is missing, so is everything under it: counted, only the first named."""
        kind, key = keys[0]
        self.verdict.count(kind, "expected")
        under: dict[str, int] = {}
        for child_kind, child_key in keys[1:]:
            conditional = child_kind in ("board_membership", "linked_task") or ":relation:" in child_key
            if child_kind in COUNTED and (self.row(child_key) is not None or not conditional):
                under[child_kind] = under.get(child_kind, 0) + 1
        for child_kind, number in under.items():
            self.verdict.count(child_kind, "expected", number)
            self.verdict.count(child_kind, "missing", number)
        listed = ", ".join(f"{number} {name}" for name, number in sorted(under.items()))
        self.diff(kind, key, self.pid(key), "missing", detail=detail + (f"; with {listed} under it" if listed else ""))

    # --- the board -----------------------------------------------------------------------------
    def run(self) -> None:
        plan, found = self.plan, self.found
        board_id = self.pid(plan.key)
        if board_id is None or found.board is None:
            self.missing_tree(board_keys(plan), "never imported (no ledger row); rerun the import"
                              if board_id is None else "the board is not in Planka (deleted, or not visible "
                              "to this account)")
            return
        self.verdict.count("board", "expected")
        self.verdict.count("board", "found")
        self.claimed.add(board_id)
        self.fields("board", plan.key, found.board, plan.fields(),
                    [("project", self.project_id, found.board.get("projectId"))] if self.project_id else [])
        self._members(board_id)
        for label in plan.labels:
            item = self.lookup("label", label.key, found.labels)
            if item is not None:
                self.fields("label", label.key, item, label.fields())
        self.order("label", [label.key for label in plan.labels], found.labels, plan.key)
        for kanban_list in plan.lists:
            item = self.lookup("list", kanban_list.key, found.lists)
            if item is not None:
                self.fields("list", kanban_list.key, item, kanban_list.fields())
        self.order("list", [item.key for item in plan.lists], found.lists, plan.key)
        self._board_fields()
        for card in plan.cards:
            self._card(card, board_id)
        by_list: dict[str, list[str]] = {}
        for card in plan.cards:
            if not card.archived:
                by_list.setdefault(card.list_key, []).append(card.key)
        for list_key, keys in by_list.items():
            in_place = {card_id: item for card_id, item in found.cards.items()
                        if item.get("listId") == self.pid(list_key)}
            self.order("card", keys, in_place, list_key)
        self._unexpected(board_id)

    def _members(self, board_id: str) -> None:
        found_by_user = {str(item.get("userId")): item for item in self.found.memberships.values()}
        for member in self.plan.members:
            if member.user_id == self.people.me:
                continue
            key = f"{self.plan.key}:member:{member.user_id}"
            if self.row(key) is None and member.user_id in self.people.inactive:
                continue      # the import leaves deactivated accounts out (and says so)
            self.verdict.count("board_membership", "expected")
            item = found_by_user.get(member.user_id)
            if item is None:
                self.diff("board_membership", key, self.pid(key), "missing", detail=f"user {member.user_id}")
                continue
            self.verdict.count("board_membership", "found")
            self.claimed.add(str(item["id"]))
            wanted = member.fields() if member.role == "viewer" else {"role": member.role}
            self.fields("board_membership", key, item, wanted)

    def _board_fields(self) -> None:
        if not self.plan.custom_fields:
            return
        group_key = f"{self.plan.key}:fieldgroup"
        if self.pid(group_key) not in self.found.groups:
            self.missing_tree([("custom_field_group", group_key)] + [
                ("custom_field", item.key) for item in self.plan.custom_fields], self._absent(group_key))
            return
        group = self.lookup("custom_field_group", group_key, self.found.groups)
        assert group is not None
        fields = {str(item["id"]): item for item in self.found.fields.get(str(group["id"]), [])}
        for item_plan in self.plan.custom_fields:
            item = self.lookup("custom_field", item_plan.key, fields)
            if item is not None:
                self.fields("custom_field", item_plan.key, item, item_plan.fields())
        self.order("custom_field", [item.key for item in self.plan.custom_fields], fields, group_key)

    # --- cards ---------------------------------------------------------------------------------
    def _card(self, plan: CardPlan, board_id: str) -> None:
        found = self.found
        card_id = self.pid(plan.key)
        card = found.cards.get(card_id) if card_id else None
        if card is None:
            self.missing_tree(card_keys(plan), "never imported (no ledger row); rerun the import"
                              if card_id is None else "not in Planka (deleted)")
            return
        self.verdict.count("card", "expected")
        self.verdict.count("card", "found")
        self.claimed.add(card_id)
        extra: list[tuple[str, Any, Any]] = []
        if str(card.get("boardId")) != board_id:
            extra.append(("board", board_id, card.get("boardId")))
        archive = found.archive_list_id
        list_id, in_list = self.pid(plan.list_key), card.get("listId")
        if plan.archived and in_list != archive:
            extra.append(("archived", "in the archive", f"in list {self._list_name(in_list)}"))
        elif not plan.archived and in_list == archive:
            extra.append(("archived", f"in list {plan.list_key}", "in the archive"))
        elif not plan.archived and in_list != list_id:
            extra.append(("list", plan.list_key, f"list {self._list_name(in_list)}"))
        cover = self.pid(plan.cover_key) if plan.cover_key else None
        extra.append(("cover", cover, card.get("coverAttachmentId")))
        self._dated("card", plan.key, card_id, card)
        writer = self._writer(plan.creator_user_id)
        if str(card.get("creatorUserId")) not in {writer, str(plan.creator_user_id), self.people.me}:
            extra.append(("creator", writer, card.get("creatorUserId")))
        self.fields("card", plan.key, card, plan.fields(), extra)
        self._card_labels(plan, card_id)
        self._card_members(plan, card_id)
        self._tasks(plan, card_id)
        self._attachments(plan, card_id)
        self._values(plan, card_id)
        self._scan_children(plan, card_id)
        self._planned[card_id] = plan
        if card.get("commentsTotal"):
            self.talkative.append(card_id)      # compared when read: card_comments()
        else:
            self._comments(plan, card_id, [])
        self._forget(plan)

    def _forget(self, plan: CardPlan) -> None:
        """Drop the cached ledger rows of a compared card's objects (the card's own row stays)."""
        for _, key in card_keys(plan)[1:]:
            self._rows.pop(key, None)

    def card_comments(self, card_id: str, comments: list[Item] | None) -> None:
        """Compare the comments read of a card found and planned (None: the read was refused)."""
        plan = self._planned[card_id]
        if comments is None:
            self.verdict.note(f"GET /api/cards/{card_id}/comments was refused; what it holds was not compared")
            comments = []
        self._comments(plan, card_id, comments)
        texts = {comment.text: comment.key for comment in plan.comments}
        self._scan("comment", comments, lambda item: texts.get(item.get("text")))
        self._forget(plan)

    def _dated(self, kind: str, key: str, planka_id: str | None, item: Item) -> None:
        kaiten = self.kaiten_times.get(key)
        if kaiten is not None and item.get("createdAt"):
            self.verdict.dated(kind, key, planka_id, kaiten, item.get("createdAt"))

    def _writer(self, user_id: str | None) -> str:
        """Who the import wrote as: the person where k2p created their account, else itself. The
        SQL fix-up may later put the true person there, and the import falls back to its own
        account where Planka refuses the person: all three are right."""
        return str(user_id) if user_id is not None and user_id in self.people.own else self.people.me

    def _list_name(self, list_id: Any) -> str:
        item = self.found.lists.get(str(list_id))
        if item is None:
            return f"{list_id} (not of this board)"
        return f"{item.get('name') or item.get('type')!r} ({list_id})"

    def _card_labels(self, plan: CardPlan, card_id: str) -> None:
        on_card = {str(item.get("labelId")): item for item in self.found.card_labels.get(card_id, [])}
        wanted = [(f"{plan.key}:label:{key}", self.pid(key)) for key in plan.label_keys]
        if plan.blocked:
            row = self.row(f"{plan.key}:blocked")
            label = (row.state.get("label") if row is not None else None) or (
                self.pid(self.plan.blocked_label_key) if self.plan.blocked_label_key else None)
            wanted.append((f"{plan.key}:blocked", label))
        self._links("card_label", [(key, label_id) for key, label_id in wanted if label_id is not None],
                    on_card, lambda label_id: f"label {label_id} not on card {card_id}")
        # (a label id of None: the label itself is missing, named at board level)

    def _card_members(self, plan: CardPlan, card_id: str) -> None:
        on_card = {str(item.get("userId")): item for item in self.found.card_members.get(card_id, [])}
        self._links("card_membership", [(f"{plan.key}:member:{user_id}", user_id) for user_id in plan.member_user_ids],
                    on_card, lambda user_id: f"user {user_id} not a member of card {card_id}")

    def _links(self, kind: str, wanted: list[tuple[str, Any]], on_card: dict[str, Item],
               absent: Callable[[Any], str]) -> None:
        """Join objects (a card's labels and members): present or missing; others may add more."""
        for key, target in wanted:
            self.verdict.count(kind, "expected")
            item = on_card.get(str(target))
            if item is None:
                self.diff(kind, key, self.pid(key), "missing", detail=absent(target))
            else:
                self.verdict.count(kind, "found")
                self.claimed.add(str(item["id"]))

    def _tasks(self, plan: CardPlan, card_id: str) -> None:
        lists = {str(item["id"]): item for item in self.found.task_lists.get(card_id, [])}
        order: list[str] = []
        for task_list in plan.task_lists:
            order.append(task_list.key)
            item = self.lookup("task_list", task_list.key, lists)
            if item is None:
                continue
            self.fields("task_list", task_list.key, item, task_list.fields())
            tasks = {str(task["id"]): task for task in self.found.tasks.get(str(item["id"]), [])}
            for task in task_list.tasks:
                found = self.lookup("task", task.key, tasks)
                if found is not None:
                    self.fields("task", task.key, found, task.fields())
            self.order("task", [task.key for task in task_list.tasks], tasks, task_list.key)
        for relation in plan.relations:
            if self.row(relation.key) is None:
                continue      # no linked card in Planka yet: the relation stays text (import report)
            order.append(relation.key)
            item = self.lookup("task_list", relation.key, lists)
            if item is None:
                continue
            tasks = {str(task["id"]): task for task in self.found.tasks.get(str(item["id"]), [])}
            for link in relation.links:
                if self.row(link.key) is None:
                    continue
                found = self.lookup("linked_task", link.key, tasks)
                if found is not None:
                    self.fields("linked_task", link.key, found, {"linkedCardId": self.pid(link.target_key)})
        self.order("task_list", order, lists, plan.key)

    def _comments(self, plan: CardPlan, card_id: str, comments: list[Item]) -> None:
        by_id = {str(item["id"]): item for item in comments}
        rank = {str(item["id"]): index for index, item in enumerate(comments)}
        for comment in plan.comments:
            item = self.lookup("comment", comment.key, by_id)
            if item is None:
                continue
            self._dated("comment", comment.key, str(item["id"]), item)
            writer = self._writer(comment.author_user_id)
            extra = [] if str(item.get("userId")) in {writer, str(comment.author_user_id), self.people.me} else [
                ("author", writer, item.get("userId"))]
            self.fields("comment", comment.key, item, comment.fields(), extra)
        # Oldest first, as the import posted them; a comment re-created by a repair comes last.
        placed = [key for key in (comment.key for comment in plan.comments)
                  if self.pid(key) in rank and not (self.row(key).state.get("repaired"))]
        self.order("comment", placed, {self.pid(key): {"id": self.pid(key), "position": rank[self.pid(key)]}
                                       for key in placed}, plan.key)  # type: ignore[misc]

    def _attachments(self, plan: CardPlan, card_id: str) -> None:
        items = {str(item["id"]): item for item in self.found.attachments.get(card_id, [])}
        for attachment in plan.attachments:
            item = self.lookup("attachment", attachment.key, items)
            if item is None:
                continue
            data = item.get("data") or {}
            extra: list[tuple[str, Any, Any]] = [("type", attachment.type, item.get("type"))]
            if attachment.type == "link":
                extra.append(("url", attachment.url, data.get("url")))
            elif attachment.size is not None:
                extra.append(("size", attachment.size, data.get("size")))
            self.fields("attachment", attachment.key, item, {"name": attachment.name}, extra)
            if attachment.type == "file" and attachment.sha256 and data.get("url"):
                if self.want_file(attachment.key):
                    self.files.append(FileRead(attachment.key, str(item["id"]), str(data["url"]),
                                               attachment.sha256, int(attachment.size or data.get("size") or 0),
                                               self.plan.key))
                else:
                    self.verdict.files["size_only"] += 1

    def _values(self, plan: CardPlan, card_id: str) -> None:
        values = self.found.card_values(card_id)
        group_id = self.pid(f"{self.plan.key}:fieldgroup")
        for field_key, content in plan.custom_values.items():
            self._value(f"{plan.key}:value:{field_key}", values.get((str(group_id), str(self.pid(field_key)))),
                        content)
        if not plan.details:
            return
        group_key = f"{plan.key}:details"
        if self.pid(group_key) not in self.found.groups:
            self.missing_tree([("custom_field_group", group_key)] + [
                (kind, key) for detail in plan.details
                for kind, key in (("custom_field", detail.key), ("custom_value", f"{detail.key}:value"))],
                self._absent(group_key))
            return
        group = self.lookup("custom_field_group", group_key, self.found.groups)
        assert group is not None
        self.fields("custom_field_group", group_key, group, {"name": plan.details_group})
        fields = {str(item["id"]): item for item in self.found.fields.get(str(group["id"]), [])}
        for detail in plan.details:
            item = self.lookup("custom_field", detail.key, fields)
            if item is not None:
                self.fields("custom_field", detail.key, item, detail.fields())
                self._value(f"{detail.key}:value", values.get((str(group["id"]), str(item["id"]))), detail.content)
        self.order("custom_field", [detail.key for detail in plan.details], fields, group_key)

    def _value(self, key: str, item: Item | None, content: str) -> None:
        self.verdict.count("custom_value", "expected")
        if item is None:
            self.diff("custom_value", key, None, "missing", detail="no value in Planka")
            return
        self.verdict.count("custom_value", "found")
        self.fields("custom_value", key, item, {"content": content})

    # --- what k2p did not create ---------------------------------------------------------------
    def _unexpected(self, board_id: str) -> None:
        found = self.found
        lists = {(item.name, item.type): item.key for item in self.plan.lists}
        labels = {(item.name, item.color): item.key for item in self.plan.labels}
        cards = {(card.name, self.pid(card.list_key)): card.key for card in self.plan.cards}
        archived = {card.name: card.key for card in self.plan.cards if card.archived}
        self._scan("list", [item for item in found.lists.values() if item.get("type") in ("active", "closed")],
                   lambda item: lists.get((item.get("name"), item.get("type"))))
        self._scan("label", list(found.labels.values()), lambda item: labels.get((item.get("name"), item.get("color"))))
        self._scan("card", [item for item in found.cards.values() if str(item.get("boardId")) == board_id],
                   lambda item: archived.get(item.get("name")) if item.get("listId") == found.archive_list_id
                   else cards.get((item.get("name"), item.get("listId"))))
        self._scan("board_membership", [item for item in found.memberships.values()
                                        if str(item.get("userId")) != self.people.me], lambda item: None)

    def _scan_children(self, plan: CardPlan, card_id: str) -> None:
        """What hangs from a compared card that k2p did not create (its comments: card_comments)."""
        found = self.found
        names = {attachment.name: attachment.key for attachment in plan.attachments}
        self._scan("attachment", found.attachments.get(card_id, []), lambda item: names.get(item.get("name")))
        task_lists = found.task_lists.get(card_id, [])
        self._scan("task_list", task_lists, lambda item: None)
        for task_list in task_lists:
            self._scan("task", found.tasks.get(str(task_list["id"]), []), lambda item: None)

    def _scan(self, kind: str, items: list[Item], twin_of: Callable[[Item], str | None]) -> None:
        for item in items:
            planka_id = str(item["id"])
            if planka_id in self.claimed or self.ledger.claimed(planka_id):
                continue
            twin = twin_of(item)
            name = item.get("name") if item.get("name") is not None else item.get("text", "")
            if twin is not None:
                self.diff(kind, twin, planka_id, "duplicate",
                          detail=f"a second {kind} {excerpt(name)} next to {self.pid(twin)}")
            else:
                self.diff(kind, None, planka_id, "unexpected", detail=f"{excerpt(name)} in {self.plan.key}, "
                          f"not created by k2p (someone works here; left alone)")


def file_chooser(keys: Sequence[str], sample: int | None) -> set[str]:
    """A deterministic sample of ``sample`` attachment keys (all when None): the keys with the
    smallest SHA-256 of their name, so the same files are read on every run."""
    if sample is None or len(keys) <= sample:
        return set(keys)
    return set(sorted(keys, key=lambda key: hashlib.sha256(key.encode()).hexdigest())[:sample])
