"""Lazy boards: a big simulated company whose cards are generated board by board, on first use.

Generating every card of a 100,000-card company up front takes tens of seconds. With lazy boards
(:func:`generate_company` turns them on for big companies) the simulator starts with only the
company's *skeleton* and generates a board's cards when something first reads one of them:

1. **Skeleton** (at start, from the company's own random stream): the card slots of every board
   (id, board, condition, creation time — :meth:`CardBuilder.plan`), the edge-case roles, and the
   tags of every card (:meth:`CardBuilder.choose_tags`). It is what the listing filters read for
   every card (board, condition, tags), so ``GET /tags``, ``GET /cards?board_id=…`` and the
   visibility rules decode no card of another board.
2. **Board build** (:meth:`LazyBoards.ensure`): the board's cards and everything hanging off them
   (history, comments, checklists, files, time logs, members, links, parents and blockers, the
   auto-archived marks; the edge cases on the first board) come from the board's own random stream
   ``Random("<seed>:board:<index>")`` and from id blocks reserved for that board
   (:class:`BoardIds`). A board's records therefore do not depend on which boards were built
   before it, nor when: built lazily in any order, or all at start (``lazy=False``), the company
   is the same (``tests/test_kaiten_lazy.py``). The first board, which carries the edge cases, is
   built at start.
3. **Tables** (:class:`LazyTable`, :class:`LazySet`): ``company.cards`` and the per-card tables are
   wrapped so that reading a key first builds the board that owns it (found through the skeleton,
   or the id block for checklist ids; a blob key that is not known yet builds every board). The
   card table answers its keys, length and skeleton fields without building anything; iterating a
   per-card table builds every board and yields keys in ascending order. Built records go to the
   same storage as before (:class:`~k2p.testing.kaiten.compact.PackedRecords` for big companies),
   and the records a build pinned are packed again when it ends.
4. **Warm-up** (:meth:`LazyBoards.warm`): the simulator builds the remaining boards on a background
   thread, one board per lock hold, so that a request that needs the whole company (a company-wide
   ``GET /cards`` listing, ``GET /time-logs``) seldom waits for the build.

Everything is built under ``company.lock`` (re-entrant): a request that needs a board another
thread is building waits for it.
"""

from __future__ import annotations

import bisect
import random
import threading
from collections.abc import Callable, Iterator, MutableSet
from typing import TYPE_CHECKING, Any

from k2p.testing.kaiten.compact import PackedRecords, RecordTable
from k2p.testing.kaiten.compact import peek as peek_value
from k2p.testing.kaiten.compact import read_field
from k2p.testing.kaiten.generator import Ids

if TYPE_CHECKING:
    from k2p.testing.kaiten.cards import CardBuilder, Slot
    from k2p.testing.kaiten.model import CompanyData

_MISSING = object()
# Per-card tables keyed by card id (``checklists`` is keyed by checklist id, ``blobs`` by blob key).
CARD_TABLES = ("location_history", "files", "time_logs", "card_members", "card_checklists",
               "comments", "external_links", "blockers")
# Ids one card can use at most, per kind (with the mix's comment counts added), and a margin per
# board for the edge cases of the first board. A build that runs past its block raises.
PER_CARD = {"checklist": 2, "item": 10, "file": 3, "time_log": 3, "history": 4, "blocker": 1, "link": 1}
BOARD_MARGIN = 64
PACK_EVERY = 64  # a build packs the records it wrote after every this many cards
TODO, BUILDING, DONE, FAILED = 0, 1, 2, 3


class BoardIds:
    """The ids one board's build hands out: each kind from the block reserved for that board."""

    def __init__(self, board: int, starts: dict[str, int], ends: dict[str, int]) -> None:
        self.board, self._next, self._ends = board, dict(starts), ends

    def next(self, kind: str) -> int:
        value = self._next.get(kind)
        if value is None:
            raise KeyError(f"board {self.board}: no id block for {kind!r} ids")
        if value >= self._ends[kind]:
            raise RuntimeError(f"board {self.board}: its block of {kind!r} ids is used up")
        self._next[kind] = value + 1
        return value


class LazyBoards:
    """The skeleton of a lazily generated company and the board builds (see the module docstring)."""

    def __init__(self, co: "CompanyData", builder: "CardBuilder", slots: list["Slot"],
                 tags: dict[int, list[int]], seed: int) -> None:
        self.co, self.builder, self.seed = co, builder, seed
        self.board_ids: list[int] = list(builder.marks["boards"])
        index_of = {board_id: n for n, board_id in enumerate(self.board_ids)}
        self.slots: list[list[tuple[int, "Slot"]]] = [[] for _ in self.board_ids]
        self.card_board: dict[int, int] = {}
        self.condition: dict[int, int] = {}
        for n, slot in enumerate(slots):
            board = index_of[slot.board_id]
            self.slots[board].append((n, slot))
            self.card_board[slot.card_id] = board
            self.condition[slot.card_id] = slot.condition
        self.tags = tags
        self.state = [TODO] * len(self.board_ids)
        self._lock = co.lock
        self._fresh: dict[str, list[Any]] | None = None  # keys written by the build under way
        self._building_thread: int | None = None
        self._blocks = self._reserve_blocks()
        self._checklist_starts = [starts["checklist"] for starts, _ in self._blocks]

    # --- id blocks -------------------------------------------------------------------------------
    def _reserve_blocks(self) -> list[tuple[dict[str, int], dict[str, int]]]:
        mix = self.builder.mix
        per_card = {**PER_CARD, "comment": mix.comments_max + (mix.tail_max if mix.tail else 0) + 1}
        cursor = dict(Ids.STARTS)
        blocks = []
        for rows in self.slots:
            starts = {kind: cursor[kind] for kind in per_card}
            ends = {kind: starts[kind] + len(rows) * count + BOARD_MARGIN for kind, count in per_card.items()}
            cursor.update(ends)
            blocks.append((starts, ends))
        return blocks

    # --- building --------------------------------------------------------------------------------
    @property
    def built(self) -> int:
        """How many boards are built."""
        return sum(state == DONE for state in self.state)

    def ensure(self, board: int) -> None:
        """Build board number ``board`` (its index in the company) unless it is built."""
        if self.state[board] == DONE:
            return
        with self._lock:
            if self.state[board] == FAILED:
                raise RuntimeError(f"board {self.board_ids[board]} of the simulated company failed to build")
            if self.state[board] != TODO:  # built meanwhile, or being built by this very thread
                return
            self.state[board] = BUILDING
            try:
                self._build(board)
            except BaseException:
                self.state[board] = FAILED  # half-built: never served as if it were whole
                raise
            self.state[board] = DONE
            for _, slot in self.slots[board]:  # the built records answer from now on
                self.tags.pop(slot.card_id, None)
                self.condition.pop(slot.card_id, None)
            self.slots[board] = []

    def ensure_card(self, card_id: Any) -> None:
        board = self.card_board.get(card_id)
        if board is not None:
            self.ensure(board)

    def ensure_checklist(self, checklist_id: Any) -> None:
        if not isinstance(checklist_id, int):
            return
        board = bisect.bisect_right(self._checklist_starts, checklist_id) - 1
        if board >= 0 and checklist_id < self._blocks[board][1]["checklist"]:
            self.ensure(board)

    def ensure_all(self, stop: threading.Event | None = None) -> None:
        for board in range(len(self.board_ids)):
            if stop is not None and stop.is_set():
                return
            self.ensure(board)

    def skeleton_field(self, card_id: Any, name: str) -> Any:
        """A field the skeleton knows of an unbuilt card (board, condition, tags), or ``_MISSING``."""
        if name == "tag_ids":
            tags = self.tags.get(card_id)
            return None if tags is None else list(tags)
        if name == "board_id" and card_id in self.card_board:
            return self.board_ids[self.card_board[card_id]]
        if name == "condition" and card_id in self.condition:
            return self.condition[card_id]
        return _MISSING

    def card_built(self, card_id: Any) -> bool:
        board = self.card_board.get(card_id)
        return board is None or self.state[board] == DONE

    def warm(self, stop: threading.Event) -> threading.Thread:
        """Build the remaining boards on a daemon thread until done or ``stop`` is set."""
        thread = threading.Thread(target=self.ensure_all, args=(stop,), name="kaiten-sim-warm", daemon=True)
        thread.start()
        return thread

    def note_write(self, table: str, key: Any) -> None:
        """Remember a key the build under way wrote or took (other threads' pins stay pinned)."""
        if self._fresh is not None and threading.get_ident() == self._building_thread:
            self._fresh.setdefault(table, []).append(key)

    def _pack_fresh(self) -> None:
        """Pack what the build under way wrote so far (big boards would otherwise be held whole)."""
        assert self._fresh is not None
        for name, keys in self._fresh.items():
            inner = getattr(self.co, name).inner
            if isinstance(inner, PackedRecords):
                inner.pack(keys=keys)
        self._fresh.clear()

    def _build(self, board: int) -> None:
        b, co = self.builder, self.co
        saved = b.rng, b.ids, b.large_left
        b.rng = random.Random(f"{self.seed}:board:{board}")
        b.ids = BoardIds(board, *self._blocks[board])
        b.large_left = b.spec.large_files if board == 0 else 0
        self._fresh, self._building_thread = {}, threading.get_ident()
        try:
            rows = self.slots[board]
            for n, (_, slot) in enumerate(rows, 1):
                b.make_card(slot)  # a made card and its relations are not held any more: packable
                if n % PACK_EVERY == 0:
                    self._pack_fresh()
            for _, slot in rows:
                if slot.card_id in self.tags:
                    co.cards[slot.card_id]["tag_ids"] = list(self.tags[slot.card_id])
            b.link_board([slot.card_id for _, slot in rows if slot.condition != 3])
            if board == 0:
                b.apply_edges()
            for n, slot in rows:
                b.auto_archive(n, slot.card_id)
            self._pack_fresh()
        finally:
            b.rng, b.ids, b.large_left = saved
            self._fresh = self._building_thread = None


class LazyTable(RecordTable):
    """A company table whose values appear as their boards are built (see the module docstring).

    ``need(key)`` builds what owns ``key``; ``known`` (the card table only) lists every key in
    order without building; ``skeleton(key, name)`` answers a field of an unbuilt record or
    ``_MISSING``; ``need_on_write`` is false for tables whose new keys no board owns yet (blobs).
    """

    def __init__(self, name: str, inner: Any, boards: LazyBoards, need: Callable[[Any], None], *,
                 known: dict[Any, None] | None = None,
                 skeleton: Callable[[Any, str], Any] | None = None, need_on_write: bool = True) -> None:
        self.name, self.inner, self._boards, self._need = name, inner, boards, need
        self._known, self._skeleton, self._need_on_write = known, skeleton, need_on_write

    # --- mapping protocol ------------------------------------------------------------------------
    def __getitem__(self, key: Any) -> Any:
        self._need(key)
        value = self.inner[key]  # pinned by PackedRecords: the build under way packs it again
        self._boards.note_write(self.name, key)
        return value

    def __setitem__(self, key: Any, value: Any) -> None:
        if self._need_on_write:
            self._need(key)
        self.inner[key] = value
        if self._known is not None:
            self._known[key] = None
        self._boards.note_write(self.name, key)

    def __delitem__(self, key: Any) -> None:
        self._need(key)
        del self.inner[key]
        if self._known is not None:
            self._known.pop(key, None)

    def __contains__(self, key: object) -> bool:
        if self._known is not None:
            return key in self._known
        self._need(key)
        return key in self.inner

    def __iter__(self) -> Iterator[Any]:
        if self._known is not None:
            return iter(list(self._known))
        self._boards.ensure_all()
        return iter(sorted(list(self.inner)))

    def __len__(self) -> int:
        if self._known is not None:
            return len(self._known)
        self._boards.ensure_all()
        return len(self.inner)

    def __repr__(self) -> str:
        return f"<LazyTable {self.name}: {self._boards.built}/{len(self._boards.state)} boards built>"

    # --- read-only access ------------------------------------------------------------------------
    def peek(self, key: Any, default: Any = None) -> Any:
        self._need(key)
        return peek_value(self.inner, key, default)

    def field(self, key: Any, name: str) -> Any:
        if self._skeleton is not None and not self._boards.card_built(key):
            value = self._skeleton(key, name)
            if value is not _MISSING:
                return value
        self._need(key)
        return read_field(self.inner, key, name)

    def cheap_keys_first(self) -> Iterator[Any]:
        return iter(sorted(self, key=lambda key: not self._boards.card_built(key)))  # stable: order kept

    @property
    def pinned(self) -> int:
        return self.inner.pinned if isinstance(self.inner, PackedRecords) else 0


class LazySet(MutableSet):
    """``company.auto_archived``: membership builds the card's board first."""

    def __init__(self, inner: set[Any], boards: LazyBoards) -> None:
        self.inner, self._boards = inner, boards

    def __contains__(self, key: object) -> bool:
        self._boards.ensure_card(key)
        return key in self.inner

    def __iter__(self) -> Iterator[Any]:
        self._boards.ensure_all()
        return iter(sorted(self.inner))

    def __len__(self) -> int:
        self._boards.ensure_all()
        return len(self.inner)

    def add(self, value: Any) -> None:
        self.inner.add(value)

    def discard(self, value: Any) -> None:
        self._boards.ensure_card(value)
        self.inner.discard(value)


def build_lazily(co: "CompanyData", builder: "CardBuilder", seed: int, *, lazy: bool = True) -> LazyBoards:
    """Lay out the skeleton, wrap the company's tables and build the first board (or, with
    ``lazy=False``, every board now); the company keeps the :class:`LazyBoards` as ``boards_lazy``."""
    slots = builder.plan()
    builder.assign_roles(slots)
    live = [slot.card_id for slot in slots if slot.condition == 1]
    archived = [slot.card_id for slot in slots if slot.condition == 2]
    boards = LazyBoards(co, builder, slots, builder.choose_tags(live, archived), seed)
    builder.marks["clock"] = max(slot.created for slot in slots)

    co.cards = LazyTable("cards", co.cards, boards, boards.ensure_card,
                         known=dict.fromkeys(slot.card_id for slot in slots), skeleton=boards.skeleton_field)
    for name in CARD_TABLES:
        setattr(co, name, LazyTable(name, getattr(co, name), boards, boards.ensure_card))
    co.checklists = LazyTable("checklists", co.checklists, boards, boards.ensure_checklist)
    blobs = co.blobs

    def need_blob(key: Any) -> None:
        if key not in blobs:
            boards.ensure_all()

    co.blobs = LazyTable("blobs", blobs, boards, need_blob, need_on_write=False)
    co.auto_archived = LazySet(co.auto_archived, boards)
    co.boards_lazy = boards
    boards.ensure(0)
    if not lazy:
        boards.ensure_all()
    # the marks of every board: a view that builds the company when read, and iterates in id order
    co.landmarks["auto_archived_cards"] = co.auto_archived
    return boards
