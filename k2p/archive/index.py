"""Random access to a Kaiten export for the importer: company records in memory, boards on demand.

Company-level collections (users, spaces, boards, columns, lanes, tags, …) are small and loaded
once. Cards and their sub-records can be large, so they are streamed once into a temporary SQLite
index keyed by board and card; :meth:`ArchiveIndex.board` then loads one board at a time. The
``missing`` entries that belong to a card (a file that could not be downloaded, a comment count
that fell short) go into the same index and come back with their card's board; only the others
(collections, boards, documents) stay in memory. Nothing held in memory grows with the number of
cards except a per-board count: which card is on which board is a query (:meth:`board_of`).
"""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import tempfile
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from k2p import jsoncodec
from k2p.archive import collections as C
from k2p.archive.reader import ArchiveReader

Record = dict[str, Any]

PER_CARD = (C.COMMENTS, C.FILES, C.TIME_LOGS, C.LOCATION_HISTORY)
BATCH_ROWS = 5000
BATCH_BYTES = 2 * 1024 * 1024
REPEATED_KEPT = 100   # ids of repeated card records kept for the report


def _ref(record: Record, name: str) -> str | None:
    ref = record.get("ref") or {}
    value = ref.get(name)
    return None if value is None else str(value)


@dataclass
class CompanyRecords:
    """The small collections, as record envelopes keyed by source id (``raw`` is the payload)."""

    current_user: Record | None = None
    users: dict[str, Record] = field(default_factory=dict)
    company_users: dict[str, Record] = field(default_factory=dict)
    spaces: dict[str, Record] = field(default_factory=dict)
    space_members: dict[str, list[Record]] = field(default_factory=dict)   # space id → members
    space_boards: list[Record] = field(default_factory=list)
    boards: dict[str, Record] = field(default_factory=dict)
    columns: dict[str, list[Record]] = field(default_factory=dict)         # board id → columns
    lanes: dict[str, list[Record]] = field(default_factory=dict)           # board id → lanes
    card_types: dict[str, Record] = field(default_factory=dict)
    tags: dict[str, Record] = field(default_factory=dict)
    custom_properties: dict[str, Record] = field(default_factory=dict)
    select_values: dict[str, Record] = field(default_factory=dict)          # value id → record
    catalog_values: dict[str, Record] = field(default_factory=dict)
    missing: list[Record] = field(default_factory=list)   # entries not tied to an archived card
    card_counts: dict[str, int] = field(default_factory=dict)              # board id → cards
    # Card records that repeat an earlier record's id (k2p never writes them; a crafted or
    # damaged archive may): the first is the card, the later ones are left out; how many, and
    # the ids of the first REPEATED_KEPT.
    repeated_cards: int = 0
    repeated_card_ids: list[str] = field(default_factory=list)
    # Only card payloads say which space is a board's primary (board.spaces[].primary_path).
    primary_spaces: dict[str, str] = field(default_factory=dict)           # board id → space id
    _missing_by_id: tuple[tuple[int, int], dict[str, Record]] | None = field(default=None, repr=False, compare=False)

    def missing_by_id(self) -> dict[str, Record]:
        """The company-level ``missing`` entries by id, built once (a board's own entries are
        :attr:`BoardRecords.missing`)."""
        stamp = (id(self.missing), len(self.missing))
        if self._missing_by_id is None or self._missing_by_id[0] != stamp:
            self._missing_by_id = (stamp, {str(entry.get("id")): entry for entry in self.missing})
        return self._missing_by_id[1]

    def user(self, user_id: object) -> Record | None:
        """A user's raw payload from either user collection."""
        key = str(user_id)
        record = self.users.get(key) or self.company_users.get(key)
        return None if record is None else record["raw"]


@dataclass
class BoardRecords:
    """One board's cards (raw payloads, archive order) and their sub-records by card id.

    From :meth:`ArchiveIndex.board` the sub-records are :class:`CardRows`: read from the index
    when a card's are asked for, so that a board in memory is its cards, not their comments."""

    board_id: str
    cards: list[Record] = field(default_factory=list)
    comments: Mapping[str, list[Record]] = field(default_factory=dict)
    files: Mapping[str, list[Record]] = field(default_factory=dict)        # file records (blob, status)
    time_logs: Mapping[str, list[Record]] = field(default_factory=dict)
    location_history: Mapping[str, list[Record]] = field(default_factory=dict)
    missing: dict[str, Record] = field(default_factory=dict)              # entry id → entry, this board's cards


class CardRows(Mapping[str, list[Record]]):
    """One per-card collection of one board, card id → records in archive order, read on demand
    (the last card read is kept: the mapping asks for a card's files more than once)."""

    def __init__(self, index: "ArchiveIndex", collection: str, board_id: str) -> None:
        self._index, self._collection, self._board = index, collection, board_id
        self._last: tuple[str, list[Record]] | None = None

    def __getitem__(self, card_id: str) -> list[Record]:
        card_id = str(card_id)
        last = self._last
        if last is not None and last[0] == card_id:
            return last[1]
        found = [jsoncodec.loads(line) for (line,) in self._index._query(
            "SELECT rows.line FROM rows JOIN cards ON cards.card = rows.card WHERE rows.card = ? "
            "AND rows.collection = ? AND cards.board = ? ORDER BY rows.seq", (card_id, self._collection, self._board))]
        if not found:
            raise KeyError(card_id)
        self._last = (card_id, found)
        return found

    def _cards(self) -> list[str]:
        return [card for (card,) in self._index._query(
            "SELECT rows.card FROM cards JOIN rows ON rows.card = cards.card WHERE cards.board = ? "
            "AND rows.collection = ? GROUP BY rows.card ORDER BY min(rows.seq)", (self._board, self._collection))]

    def __iter__(self) -> Iterator[str]:
        return iter(self._cards())

    def __len__(self) -> int:
        return len(self._cards())


class ArchiveIndex:
    """Index of a complete archive; use as a context manager (the temporary index is deleted)."""

    def __init__(self, reader: ArchiveReader, *, cards: bool = True, workdir: Path | None = None) -> None:
        self.reader = reader
        self._dir = Path(tempfile.mkdtemp(prefix="k2p-index-", dir=workdir))
        self._db = sqlite3.connect(self._dir / "index.sqlite", check_same_thread=False)
        self._lock = threading.Lock()
        self._db.execute("PRAGMA journal_mode=OFF")
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute("CREATE TABLE rows (collection TEXT, card TEXT, seq INTEGER, line BLOB)")
        self._db.execute("CREATE TABLE cards (card TEXT PRIMARY KEY, board TEXT) WITHOUT ROWID")
        self.company = self._load_company()
        self._cards_indexed = False
        if cards:
            self.index_cards()

    def close(self) -> None:
        self._db.close()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> "ArchiveIndex":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _records(self, collection: C.Collection) -> list[Record]:
        if not self.reader.has_collection(collection.name):
            return []
        return list(self.reader.iter_records(collection.name))

    def _load_company(self) -> CompanyRecords:
        company = CompanyRecords()
        current = self._records(C.CURRENT_USER)
        company.current_user = current[0] if current else None
        for target, collection in ((company.users, C.USERS), (company.company_users, C.COMPANY_USERS),
                                   (company.spaces, C.SPACES), (company.boards, C.BOARDS),
                                   (company.card_types, C.CARD_TYPES), (company.tags, C.TAGS),
                                   (company.custom_properties, C.CUSTOM_PROPERTIES),
                                   (company.select_values, C.SELECT_VALUES),
                                   (company.catalog_values, C.CATALOG_VALUES)):
            for record in self._records(collection):
                target.setdefault(str(record["id"]), record)
        for record in self._records(C.SPACE_MEMBERS):
            company.space_members.setdefault(_ref(record, "space_id") or "", []).append(record)
        company.space_boards = self._records(C.SPACE_BOARDS)
        for record in self._records(C.COLUMNS):
            company.columns.setdefault(_ref(record, "board_id") or "", []).append(record)
        for record in self._records(C.LANES):
            company.lanes.setdefault(_ref(record, "board_id") or "", []).append(record)
        return company

    def index_cards(self) -> None:
        """Stream the cards and their sub-records into the index (once; an index made with
        ``cards=False`` serves the company records until this is called)."""
        if self._cards_indexed:
            return
        self._cards_indexed = True
        batch: list[tuple[str, str, int, bytes]] = []
        boards: list[tuple[str, str]] = []
        pending: set[str] = set()   # card ids of the batch not yet in SQLite
        size = [0]

        def insert(row: tuple[str, str, int, bytes] | None = None) -> None:
            """Rows go to SQLite in batches of at most BATCH_ROWS rows and BATCH_BYTES of lines: a
            card line is often 10 KB, so a count alone would hold tens of MB of lines at a time."""
            if row is not None:
                batch.append(row)
                size[0] += len(row[3])
            if row is None or len(batch) >= BATCH_ROWS or size[0] >= BATCH_BYTES:
                self._db.executemany("INSERT INTO rows VALUES (?, ?, ?, ?)", batch)
                self._db.executemany("INSERT OR REPLACE INTO cards VALUES (?, ?)", boards)
                batch.clear()
                boards.clear()
                pending.clear()
                size[0] = 0

        if self.reader.has_collection(C.CARDS.name):
            for seq, (line, record) in enumerate(self.reader.iter_parsed(C.CARDS.name)):
                if record["id"] in pending or self.board_of(record["id"]) is not None:
                    self.company.repeated_cards += 1
                    if len(self.company.repeated_card_ids) < REPEATED_KEPT:
                        self.company.repeated_card_ids.append(str(record["id"]))
                    continue
                pending.add(record["id"])
                board = str(record["raw"].get("board_id", _ref(record, "board_id")))
                self._note_primary_space(board, record["raw"])
                self.company.card_counts[board] = self.company.card_counts.get(board, 0) + 1
                boards.append((record["id"], board))
                insert((C.CARDS.name, record["id"], seq, line))
        for collection in PER_CARD:
            if not self.reader.has_collection(collection.name):
                continue
            for seq, (line, record) in enumerate(self.reader.iter_parsed(collection.name)):
                insert((collection.name, _ref(record, "card_id") or "", seq, line))
        insert()
        for seq, (line, record) in enumerate(self.reader.iter_parsed("missing")):
            card = _ref(record, "card_id")
            if card is not None and self.board_of(card) is not None:
                insert(("missing", card, seq, line))
            else:
                self.company.missing.append(record)
        insert()
        self._db.execute("CREATE INDEX rows_card ON rows (card, collection, seq)")
        self._db.execute("CREATE INDEX cards_board ON cards (board)")
        self._db.commit()

    def _note_primary_space(self, board: str, card: Record) -> None:
        if board in self.company.primary_spaces:
            return
        spaces = (card.get("board") or {}).get("spaces") or []
        for space in spaces:
            if isinstance(space, dict) and space.get("primary_path") is True:
                self.company.primary_spaces[board] = str(space.get("space_id", space.get("id")))
                return

    def _query(self, sql: str, args: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def card(self, card_id: str) -> Record | None:
        """One card's raw payload by id (``None`` when the archive does not hold it)."""
        rows = self._query("SELECT line FROM rows WHERE card = ? AND collection = ? LIMIT 1",
                           (str(card_id), C.CARDS.name))
        return jsoncodec.loads(rows[0][0])["raw"] if rows else None

    def board_of(self, card_id: object) -> str | None:
        """The board of a card the archive holds (``None``: it holds no such card)."""
        rows = self._query("SELECT board FROM cards WHERE card = ?", (str(card_id),))
        return rows[0][0] if rows else None

    def has_card(self, card_id: object) -> bool:
        """Whether the archive holds a card record with this source id (live or archived)."""
        return self.board_of(card_id) is not None

    def board(self, board_id: str) -> BoardRecords:
        """Everything card-level that belongs to ``board_id``, in archive order: the cards (their
        nested objects that repeat from card to card, such as the board, column or owner, shared
        as one read-only object), the board's ``missing`` entries, and the sub-records on demand."""
        board_id = str(board_id)
        records = BoardRecords(board_id, comments=CardRows(self, C.COMMENTS.name, board_id),
                               files=CardRows(self, C.FILES.name, board_id),
                               time_logs=CardRows(self, C.TIME_LOGS.name, board_id),
                               location_history=CardRows(self, C.LOCATION_HISTORY.name, board_id))
        pool: dict[bytes, Any] = {}
        query = ("SELECT rows.collection, rows.line FROM cards JOIN rows ON rows.card = cards.card "
                 "WHERE cards.board = ? AND rows.collection IN (?, 'missing') ORDER BY rows.collection, rows.seq")
        with self._lock:   # a line at a time: the board's lines are never all in memory
            for collection, line in self._db.execute(query, (board_id, C.CARDS.name)):
                record = jsoncodec.loads(line)
                if collection == C.CARDS.name:
                    records.cards.append(_shared(record["raw"], pool))
                else:
                    records.missing[str(record.get("id"))] = record
        return records


def _shared(card: Record, pool: dict[bytes, Any]) -> Record:
    """``card`` with each nested object equal to one seen before on the board replaced by that one
    (a board's cards repeat their board, column, lane, owner and members). Raw payloads are read,
    never changed, so sharing is invisible; it halves the memory of a board's cards."""
    for key, value in card.items():
        if isinstance(value, list) and value and isinstance(value[0], dict):
            value = [_pooled(item, pool) if isinstance(item, dict) else item for item in value]
        if isinstance(value, (dict, list)) and value:
            card[key] = _pooled(value, pool)
    return card


def _pooled(value: Any, pool: dict[bytes, Any]) -> Any:
    """The pool's object equal to ``value`` (keyed by a 128-bit digest of its JSON, so that the
    pool holds digests, not a second copy of the board's text)."""
    try:
        key = hashlib.blake2b(orjson.dumps(value), digest_size=16).digest()
    except (TypeError, orjson.JSONEncodeError):
        return value
    return pool.setdefault(key, value)
