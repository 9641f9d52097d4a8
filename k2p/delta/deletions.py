"""Deleted in Kaiten: what k2p imported and a newer archive no longer has.

Nothing here trusts a deletion list: an object is deleted when the ledger says k2p imported it and
the newer archive, within its scope, does not plan it any more. A card is deleted when its Kaiten
id is in no card record of the archive and its board is replayed by this run (or the board itself
is gone from an archive of the whole company, imported without ``--space``/``--board``). A
child of a card that is still there (comment, checklist, checklist item, file, link, label,
member, relation, field value) is deleted when the card's plan no longer has it. The archive's
``deleted_cards`` collection, when present, only adds the title and the time the card was last
seen.

What happens, per ``--on-deleted`` (``archive`` is the default; nothing is ever deleted by it):

=====================  ==========================================  =========================  =====
kind                   archive                                     trash                      keep
=====================  ==========================================  =========================  =====
card                   moved to the board's archive list, label    moved to the trash list,   left
                       ``Deleted in Kaiten``                       same label
comment                first line ``**[Deleted in Kaiten]**``      deleted                    left
checklist (task list)  name prefixed ``[Deleted in Kaiten]``       deleted with its tasks     left
checklist item (task)  name prefixed                               deleted                    left
file, link             attachment name prefixed                    deleted                    left
tag, member            taken off the card                          taken off                  left
relation list / link   taken off (linked task or its list)         taken off                  left
board field value      cleared                                     cleared                    left
=====================  ==========================================  =========================  =====

Each handled object gets a ledger row ``deleted:<key>`` holding the action; a rerun with the same
action writes nothing, another action applies the difference. A card that comes back (restored
in Kaiten) is moved back to its list and loses the label. Every deleted object is listed in
the report (and the dry run) with what was, or would be, done.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from k2p.fileio import crash_point
from k2p.mapping.model import BoardPlan, CardPlan
from k2p.planka import specs
from k2p.planka.client import PlankaError
from k2p.planka.ledger import Row
from k2p.planka.sync import Result, Spec

if TYPE_CHECKING:
    from k2p.delta.snapshot import BoardSnapshot
    from k2p.planka.replay import ImportContext

ARCHIVE, TRASH, KEEP = "archive", "trash", "keep"
POLICIES = (ARCHIVE, TRASH, KEEP)
LABEL_NAME = "Deleted in Kaiten"
LABEL_KEY = "deleted_in_kaiten"  # label:<board>:deleted_in_kaiten
LABEL_COLOR = "light-mud"
LABEL_POSITION = 1_048_576.0     # after the labels the mapping plans
NAME_PREFIX = "[Deleted in Kaiten] "
COMMENT_MARK = "**[Deleted in Kaiten]**\n\n"
NAME_LIMITS = {"attachment": 128, "task_list": 128, "task": 1024}
PATHS = {"comment": "comments", "attachment": "attachments", "task_list": "task-lists", "task": "tasks",
         "linked_task": "tasks"}
CHILD_KINDS = ("comment", "attachment", "task_list", "card_label", "card_membership", "custom_value")


@dataclass(frozen=True)
class Deleted:
    """One object deleted in Kaiten, as the report lists it."""

    key: str
    kind: str             # card | comment | task_list | task | attachment | card_label | …
    planka_id: str | None
    card: str | None      # the card's plan key (for a card: itself)
    title: str | None
    action: str           # archive | trash | keep (what --on-deleted asked for)
    done: str             # what is, or would be, done in Planka (one phrase)
    last_seen_at: str | None = None

    def as_record(self) -> dict[str, Any]:
        return {"key": self.key, "kind": self.kind, "planka_id": self.planka_id, "card": self.card,
                "title": self.title, "action": self.action, "done": self.done, "last_seen_at": self.last_seen_at}


def planned_children(card: CardPlan) -> set[str]:
    """Ledger keys of everything the plan of a live card hangs on it."""
    keys = {comment.key for comment in card.comments} | {item.key for item in card.attachments}
    for task_list in card.task_lists:
        keys.add(task_list.key)
        keys.update(task.key for task in task_list.tasks)
    for relation in card.relations:
        keys.add(relation.key)
        keys.update(link.key for link in relation.links)
    keys.update(f"{card.key}:label:{label_key}" for label_key in card.label_keys)
    keys.update(f"{card.key}:member:{user_id}" for user_id in card.member_user_ids)
    keys.update(f"{card.key}:value:{field_key}" for field_key in card.custom_values)
    keys.update(f"{detail.key}:value" for detail in card.details)
    return keys


def forget_card(ctx: "ImportContext", row: Row) -> None:
    """Drop a card that is gone from Planka and everything under it from the ledger."""
    def drop(parent: Row) -> None:
        if parent.planka_id:
            for child in ctx.syncer.ledger.children(parent.planka_id):
                drop(child)
        ctx.syncer.ledger.forget(parent.key)
    drop(row)


def _marked(name: str, limit: int) -> str:
    return name if name.startswith(NAME_PREFIX) else (NAME_PREFIX + name)[:limit]


def _gone(call: Callable[[], Any]) -> None:
    """Run a deletion; 404 means somebody in Planka already removed it."""
    try:
        call()
    except PlankaError as error:
        if error.status != 404:
            raise


class Deletions:
    """Finds and handles deleted objects for one import run (card workers share it)."""

    def __init__(self, policy: str) -> None:
        if policy not in POLICIES:
            raise ValueError(policy)
        self.policy = policy
        self.planned_other: set[str] = set()   # cards planned that the archive does not hold (Documents)
        self.planned_boards: set[str] = set()
        self.found: list[Deleted] = []
        self._labels: dict[str, Result] = {}     # the board's "Deleted in Kaiten" label, by key
        self._lock = threading.Lock()

    def observe(self, plan: BoardPlan, in_archive: Callable[[str], bool]) -> None:
        """A board this run plans; ``in_archive(kaiten id)``: whether the archive holds the card
        (those are not kept: the deletion pass asks the archive, not a key per card)."""
        self.planned_boards.add(plan.key)
        self.planned_other.update(card.key for card in plan.cards if not in_archive(card.key.split(":", 1)[1]))

    def _list(self, entry: Deleted) -> None:
        with self._lock:
            self.found.append(entry)

    def records(self) -> list[dict[str, Any]]:
        with self._lock:
            return [entry.as_record() for entry in sorted(self.found, key=lambda entry: entry.key)]

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        with self._lock:
            for entry in self.found:
                counts[entry.kind] = counts.get(entry.kind, 0) + 1
        return dict(sorted(counts.items()))

    # --- the children of cards that are still there ----------------------------------------
    def card_children(self, ctx: "ImportContext", card: CardPlan, snapshot: "BoardSnapshot | None") -> None:
        """Handle what ``card``'s plan no longer has (called once the card is replayed)."""
        row = ctx.syncer.row(card.key)
        if row is None or not row.done or row.planka_id is None:
            return
        planned = planned_children(card)
        rows = [child for child in ctx.syncer.ledger.children(row.planka_id)
                if child.kind in CHILD_KINDS and child.key != f"{card.key}:blocked"
                and not child.key.endswith(f":{LABEL_KEY}")       # k2p's own label: see restore()
                and not child.key.startswith(f"{card.key}:detail:")]   # the card's details drop their own
        gone = [child for child in rows if child.key not in planned]
        for task_list in rows:            # tasks of the checklists that are still there
            if task_list.kind == "task_list" and task_list.key in planned and task_list.planka_id:
                gone.extend(task for task in ctx.syncer.ledger.children(task_list.planka_id)
                            if task.kind in ("task", "linked_task") and task.key not in planned)
        for child in gone:
            self._child(ctx, card, row.planka_id, child, snapshot)

    def _child(self, ctx: "ImportContext", card: CardPlan, card_id: str, child: Row,
               snapshot: "BoardSnapshot | None") -> None:
        kind = "task_list" if child.kind == "task_list" else child.kind
        link = child.kind in ("card_label", "card_membership", "linked_task", "custom_value") or (
            child.kind == "task_list" and ":relation:" in child.key)
        current = snapshot.lookup(child.kind, child.planka_id, card_id) if snapshot is not None else None
        title = None
        if child.kind == "comment" and snapshot is not None:
            current = snapshot.comments(card_id).get(str(child.planka_id))
        if current is not None:
            title = current.get("name") if child.kind != "comment" else str(current.get("text") or "")[:120]
        if self.policy == KEEP:
            done = "left as it is"
        elif link:
            done = "cleared" if child.kind == "custom_value" else "taken off the card"
        elif self.policy == TRASH:
            done = "deleted in Planka"
        else:
            done = "marked 'Deleted in Kaiten'"
        self._list(Deleted(child.key, kind, child.planka_id, card.key, title, self.policy, done))
        if self.policy == KEEP:
            ctx.tally.add(f"deleted_{kind}", "unchanged")
            return

        def apply(*_: Any) -> dict[str, Any]:
            if link or self.policy == TRASH:
                self._remove(ctx, card_id, child)
            else:
                self._mark(ctx, child, current)
            crash_point("delta:child-handled")    # written in Planka, not yet in the ledger
            return {"id": child.planka_id}

        spec = Spec(f"deleted_{kind}", create=apply, update=lambda planka_id, changes: apply())
        from k2p.planka.replay import guarded
        guarded(ctx, child.key, f"deleted_{kind}", lambda: ctx.syncer.ensure(
            f"deleted:{child.key}", card_id, {"action": "remove" if link else self.policy}, spec))

    def _remove(self, ctx: "ImportContext", card_id: str, child: Row) -> None:
        api = ctx.api
        if child.kind == "card_label":
            label = ctx.syncer.row(child.key.split(":label:", 1)[1])
            if label is not None and label.planka_id:
                _gone(lambda: api.delete(f"/api/cards/{card_id}/card-labels/labelId:{label.planka_id}"))
        elif child.kind == "card_membership":
            _gone(lambda: api.delete(f"/api/cards/{card_id}/card-memberships/userId:{child.key.rsplit(':', 1)[1]}"))
        elif child.kind == "custom_value":
            field = ctx.syncer.row(child.key.split(":value:", 1)[1]) if ":value:" in child.key else None
            if field is not None and field.planka_id:
                _gone(lambda: api.delete(f"/api/cards/{card_id}/custom-field-values/customFieldGroupId:"
                                         f"{field.parent_id}:customFieldId:{field.planka_id}"))
        else:
            _gone(lambda: api.delete(f"/api/{PATHS[child.kind]}/{child.planka_id}"))
        if child.kind == "task_list" and child.planka_id:
            for task in ctx.syncer.ledger.children(child.planka_id):
                ctx.syncer.ledger.forget(task.key)
        ctx.syncer.ledger.forget(child.key)

    def _mark(self, ctx: "ImportContext", child: Row, current: dict[str, Any] | None) -> None:
        if current is None:
            return                         # gone in Planka already: nothing left to mark
        if child.kind == "comment":
            text = str(current.get("text") or "")
            if text.startswith(COMMENT_MARK):
                return
            writer = ctx.writer(str(current.get("userId"))) if current.get("userId") != ctx.me else ctx.api
            (writer or ctx.api).update(f"/api/comments/{child.planka_id}", {"text": COMMENT_MARK + text})
            return
        name = str(current.get("name") or "")
        marked = _marked(name, NAME_LIMITS.get(child.kind, 128))
        if marked != name:
            ctx.api.update(f"/api/{PATHS[child.kind]}/{child.planka_id}", {"name": marked})

    # --- cards back in Kaiten ------------------------------------------------------------------
    def restore(self, ctx: "ImportContext", card: CardPlan, list_id: str | None, archive_list_id: str | None) -> None:
        """A card k2p archived or trashed as deleted that the newer archive has again (restored in
        Kaiten): back to its list (or the archive list, when Kaiten archived it), label off."""
        marker = ctx.syncer.row(f"deleted:{card.key}")
        row = ctx.syncer.row(card.key)
        if marker is None or not marker.done or row is None or row.planka_id is None:
            return
        card_id = row.planka_id
        target = archive_list_id if card.archived else list_id
        self._list(Deleted(card.key, "card", card_id, card.key, card.name, self.policy,
                           "restored in Kaiten: moved back, label taken off"))
        if ctx.syncer.dry_run:
            ctx.tally.add("restored_card", "updated")
            return
        from k2p.planka.replay import guarded

        def back() -> Result:
            patch: dict[str, Any] = {"listId": target}
            if not card.archived:
                patch["position"] = row.position if row.position is not None else 65536.0
            try:
                ctx.syncer.saw(ctx.api.update(f"/api/cards/{card_id}", patch)["item"])
            except PlankaError as error:
                if error.status != 404:
                    raise
                forget_card(ctx, row)          # emptied from Planka's trash: the next run creates it anew
            label_id = marker.state.get("label_id")
            if label_id:
                _gone(lambda: ctx.api.delete(f"/api/cards/{card_id}/card-labels/labelId:{label_id}"))
            crash_point("delta:card-restored")
            for key in (marker.state.get("label_key"), marker.key):
                if key:
                    ctx.syncer.ledger.forget(str(key))
            ctx.tally.add("restored_card", "updated")
            return Result(card_id, "updated")

        if target is None:
            ctx.tally.fail(card.key, "restored_card", f"the list of {card.key} is not in Planka; rerun the import")
            return
        guarded(ctx, card.key, "restored_card", back)

    # --- cards -----------------------------------------------------------------------------
    def cards(self, ctx: "ImportContext", in_archive: Callable[[str], bool], archive_boards: set[str], whole_company: bool,
              snapshot_of: Callable[[Row], "BoardSnapshot | None"], seen: dict[str, tuple[str | None, str | None]]) -> None:
        """Handle every card the ledger has and the archive does not (after all boards);
        ``in_archive(kaiten id)``: whether the archive holds the card (then it is still in Kaiten,
        maybe on a board this run did not replay); cards this run planned (documents too) stay."""
        boards = {row.planka_id: row for row in ctx.syncer.ledger.of_kind("board")}
        for row in ctx.syncer.ledger.iter_kind("card"):
            kaiten_id = row.key.split(":", 1)[1]
            if row.key in self.planned_other or in_archive(kaiten_id):
                continue                         # still in Kaiten (maybe on a board not replayed now)
            board = boards.get(row.parent_id)
            if board is None:
                continue
            board_id = board.key.split(":", 1)[1]
            if board.key not in self.planned_boards and not (whole_company and board_id not in archive_boards):
                continue                         # outside what this archive and run cover
            self._card(ctx, row, board, snapshot_of(board), seen.get(kaiten_id, (None, None)))

    def _card(self, ctx: "ImportContext", row: Row, board: Row, snapshot: "BoardSnapshot | None",
              seen: tuple[str | None, str | None]) -> None:
        title, last_seen = seen
        current = snapshot.item("card", row.planka_id) if snapshot is not None else None
        if current is not None:
            title = current.get("name") or title
        done = {ARCHIVE: "moved to the archive list, labelled 'Deleted in Kaiten'",
                TRASH: "moved to the trash list, labelled 'Deleted in Kaiten'", KEEP: "left as it is"}[self.policy]
        self._list(Deleted(row.key, "card", row.planka_id, row.key, title, self.policy, done, last_seen))
        if self.policy == KEEP:
            ctx.tally.add("deleted_card", "unchanged")
            return
        from k2p.planka.replay import guarded
        card_id = str(row.planka_id)
        label_key = f"label:{board.key.split(':', 1)[1]}:{LABEL_KEY}"
        label = self._labels.get(label_key)      # once per board and run (a dry run creates none)
        if label is None:
            label = guarded(ctx, label_key, "label", lambda: ctx.syncer.ensure(
                label_key, board.planka_id, {"name": LABEL_NAME, "color": LABEL_COLOR},
                specs.label(ctx.client, board.planka_id, LABEL_NAME, LABEL_COLOR),  # type: ignore[arg-type]
                create_extra={"position": LABEL_POSITION}))   # placed once; Planka may renumber it
            if label is None:
                return
            self._labels[label_key] = label
        card_label_key = f"{row.key}:label:{label_key}"
        labelled = guarded(ctx, card_label_key, "card_label", lambda: ctx.syncer.ensure(
            card_label_key, card_id, {}, self._card_label_spec(ctx, card_id, label.planka_id),
            state={"label": label.planka_id}))
        if labelled is None:
            return
        target = "archive" if self.policy == ARCHIVE else "trash"
        list_id = None if snapshot is None else (
            snapshot.archive_list_id if target == "archive" else snapshot.trash_list_id)
        if ctx.client is not None and list_id is None:
            ctx.tally.fail(row.key, "deleted_card", f"board {board.key} (Planka {board.planka_id}) is gone from "
                           f"Planka or has no {target} list; the card could not be moved")
            return

        def move(*_: Any) -> dict[str, Any]:
            if target == "trash" or snapshot is None or snapshot.card_in_finite_list(card_id):
                try:
                    ctx.syncer.saw(ctx.api.update(f"/api/cards/{card_id}", {"listId": list_id})["item"])
                except PlankaError as error:
                    if error.status != 404:      # deleted in Planka meanwhile: nothing to move
                        raise
            crash_point("delta:card-moved")       # moved in Planka, not yet in the ledger
            return {"id": card_id}

        spec = Spec("deleted_card", create=move, update=lambda planka_id, changes: move())
        guarded(ctx, row.key, "deleted_card", lambda: ctx.syncer.ensure(
            f"deleted:{row.key}", board.planka_id, {"action": self.policy}, spec,
            state={"label_key": card_label_key, "label_id": label.planka_id}))

    @staticmethod
    def _card_label_spec(ctx: "ImportContext", card_id: str, label_id: str | None) -> Spec:
        base = specs.card_label(ctx.client, card_id, label_id)  # type: ignore[arg-type]

        def create(payload: dict[str, Any]) -> dict[str, Any]:
            try:
                return base.create(payload)
            except PlankaError as error:
                if error.status == 404:         # the card is gone from Planka: nothing to label
                    return {"id": f"{card_id}:{label_id}"}
                raise

        return Spec("card_label", create=create, find=base.find, match=base.match)

