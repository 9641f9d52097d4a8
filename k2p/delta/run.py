"""One import run's re-import checks: board snapshots, the conflict guard and the deletions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from k2p.archive.index import ArchiveIndex
from k2p.archive.reader import ArchiveReader
from k2p.delta.conflicts import ConflictGuard
from k2p.delta.deletions import Deletions
from k2p.delta.snapshot import BoardSnapshot
from k2p.mapping.model import BoardPlan
from k2p.planka.ledger import Row

if TYPE_CHECKING:
    from k2p.planka.replay import ImportContext

DELETED_CARDS = "deleted_cards"
MAX_TITLE = 1024


class DeltaRun:
    """Created by the importer once the ledger is open; the replay calls it around each board."""

    def __init__(self, ctx: "ImportContext", *, on_deleted: str, on_conflict: str,
                 in_archive: Callable[[str], bool] = lambda card_id: False) -> None:
        self.ctx = ctx
        self.in_archive = in_archive            # Kaiten card id → whether the archive holds it
        self.deletions = Deletions(on_deleted)
        self.guard = ConflictGuard(on_conflict, self._current, self._list_name)
        self.snapshots: dict[str, BoardSnapshot | None] = {}     # board key → what Planka had
        self._board: BoardSnapshot | None = None                  # the board being replayed
        self._next: tuple[str, BoardSnapshot | None] | None = None   # read ahead (prefetch)
        if ctx.client is not None:
            ctx.syncer.guard = self.guard

    @property
    def checks_conflicts(self) -> bool:
        """False in an offline dry run: without Planka's state no conflict can be seen."""
        return self.ctx.client is not None

    # --- around each board ----------------------------------------------------------------
    def prefetch(self, board_key: str) -> None:
        """Before the board ``board_key`` is planned: read what Planka holds of it, so that Planka's
        answer is decoded while neither the board's records nor its plan are in memory."""
        row = self.ctx.syncer.row(board_key)
        self._next = (board_key, self._load(row) if row is not None and row.done else None)

    def enter_board(self, plan: BoardPlan) -> None:
        """Before ``plan``'s board is replayed: what Planka holds of it (read once)."""
        self.deletions.observe(plan, self.in_archive)
        ahead, self._next = self._next, None
        if ahead is not None and ahead[0] == plan.key:
            self._board = ahead[1]
        else:
            row = self.ctx.syncer.row(plan.key)
            self._board = self._load(row) if row is not None and row.done else None
        self.snapshots[plan.key] = self._board

    def leave_board(self, plan: BoardPlan, list_ids: dict[str, str | None], archive_list_id: str | None) -> None:
        """After the board's cards: cards back in Kaiten, and the children cards no longer have."""
        if archive_list_id is None and self._board is not None:
            archive_list_id = self._board.archive_list_id
        for card in plan.cards:
            self.deletions.restore(self.ctx, card, list_ids.get(card.list_key), archive_list_id)
            self.deletions.card_children(self.ctx, card, self._board)
        if self._board is not None:   # keep only the cards this run did not plan here: the deleted ones
            planned = {row.planka_id for row in map(self.ctx.syncer.row, (card.key for card in plan.cards))
                       if row is not None}
            self._board.slim(keep=lambda card_id: card_id not in planned)
        self._board = None

    def finish(self, reader: ArchiveReader, index: ArchiveIndex, *, selected: bool) -> None:
        """After every board: handle the deleted cards."""
        scope = reader.manifest.scope or {}
        whole = not selected and not scope.get("spaces") and not scope.get("boards")
        self.deletions.cards(self.ctx, index.has_card, set(index.company.boards), whole,
                             self._snapshot_of, _last_seen(reader))

    def report(self) -> dict[str, Any]:
        return {"deleted_in_kaiten": {"policy": self.deletions.policy, "counts": self.deletions.counts(),
                                      "items": self.deletions.records()},
                "conflicts": {"policy": self.guard.policy, "checked": self.checks_conflicts,
                              "count": len(self.guard.conflicts), "items": self.guard.records()}}

    # --- lookups ---------------------------------------------------------------------------
    def _load(self, row: Row) -> BoardSnapshot | None:
        if self.ctx.client is None or row.planka_id is None:
            return None
        return BoardSnapshot.load(self.ctx.client, row.planka_id)

    def _snapshot_of(self, board: Row) -> BoardSnapshot | None:
        if board.key not in self.snapshots:
            self.snapshots[board.key] = self._load(board)
        return self.snapshots[board.key]

    def _current(self, kind: str, row: Row) -> dict[str, Any] | None:
        board = self._board
        if board is None:
            return None
        if kind == "comment":
            return board.comments(str(row.parent_id)).get(str(row.planka_id)) if row.parent_id else None
        return board.item(kind, row.planka_id)

    def _list_name(self, value: Any) -> Any:
        """A list's name for the report, from a Planka list id or a plan list key."""
        planka_id = value
        if isinstance(value, str) and value.startswith("list:"):
            row = self.ctx.syncer.row(value)
            planka_id = row.planka_id if row is not None else None
        found = self._board.item("list", str(planka_id)) if self._board is not None and planka_id else None
        return found.get("name") if found is not None else value


def _last_seen(reader: ArchiveReader) -> dict[str, tuple[str | None, str | None]]:
    """Kaiten card id → (title, last seen) from the archive's ``deleted_cards``, when it has one."""
    if not reader.has_collection(DELETED_CARDS):
        return {}
    seen: dict[str, tuple[str | None, str | None]] = {}
    for record in reader.iter_records(DELETED_CARDS):
        raw = record.get("raw") if isinstance(record.get("raw"), dict) else {}
        title = raw.get("title") if isinstance(raw.get("title"), str) else None
        last = record.get("last_seen_at") if isinstance(record.get("last_seen_at"), str) else None
        seen[str(record.get("id"))] = (title[:MAX_TITLE] if title else None, last[:64] if last else None)
    return seen
