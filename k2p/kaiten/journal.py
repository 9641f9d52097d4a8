"""The export journal: which units of work are done, and where each record file stood after them.

Lives in the archive's scratch directory (``.k2p-work/export.sqlite``) and disappears when the
archive is sealed. A unit is committed in one SQLite transaction *after* its records were made
durable, so after a crash the last committed unit names a consistent checkpoint: record files are
truncated to it and every later unit runs again.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any, Iterable, Iterator

from k2p import jsoncodec
from k2p.archive.records import FilePosition


def _id_collation() -> Any:
    """SQLite collation ordering ids as :func:`~k2p.kaiten.context.id_order` does (text breaks ties)."""
    from k2p.kaiten.context import id_order   # context imports this module

    def compare(left: str, right: str) -> int:
        a, b = (*id_order(left), left), (*id_order(right), right)
        return (a > b) - (a < b)
    return compare

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS units (seq INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE NOT NULL,
                                  positions TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS board_cards (board_id TEXT NOT NULL, seq INTEGER NOT NULL,
                                        card_id TEXT NOT NULL, PRIMARY KEY (board_id, seq));
CREATE TABLE IF NOT EXISTS card_tags (tag_id TEXT PRIMARY KEY, raw TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS stored_files (file_key TEXT PRIMARY KEY, sha256 TEXT NOT NULL,
                                         size INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS card_listing (card_id TEXT PRIMARY KEY, board_id TEXT NOT NULL,
                                         digest TEXT NOT NULL, signals TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS card_listing_board ON card_listing (board_id);
CREATE INDEX IF NOT EXISTS board_cards_card ON board_cards (card_id);
"""


class ExportJournal:
    """SQLite-backed progress of one export; used from the orchestrating thread only."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.create_collation("id_order", _id_collation())
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        self._db.close()

    # --- settings --------------------------------------------------------------------------
    def get(self, key: str) -> Any:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else jsoncodec.loads(row[0])

    def put(self, key: str, value: Any) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                         (key, jsoncodec.dumps(value).decode()))

    # --- units -----------------------------------------------------------------------------
    def is_done(self, unit: str) -> bool:
        return self._db.execute("SELECT 1 FROM units WHERE name = ?", (unit,)).fetchone() is not None

    def last_positions(self) -> dict[str, FilePosition] | None:
        """Record-file checkpoint of the last committed unit (``None`` on a fresh export)."""
        row = self._db.execute("SELECT positions FROM units ORDER BY seq DESC LIMIT 1").fetchone()
        if row is None:
            return None
        return {name: FilePosition(*value) for name, value in jsoncodec.loads(row[0]).items()}

    def commit_unit(self, unit: str, positions: dict[str, FilePosition], *,
                    board_cards: tuple[str, list[str]] | None = None,
                    card_tags: Iterable[tuple[str, Any]] = (),
                    stored_files: Iterable[tuple[str, str, int]] = (),
                    listings: Iterable[tuple[str, str, str, str]] = (),
                    counters: dict[str, int] | None = None, meta: dict[str, Any] | None = None,
                    stats: dict[str, Any] | None = None) -> None:
        """Mark ``unit`` done together with everything it learned, atomically."""
        encoded = jsoncodec.dumps({name: [p.offset, p.records] for name, p in positions.items()}).decode()
        with self._db:
            self._db.execute("BEGIN")
            self._db.execute("INSERT INTO units (name, positions) VALUES (?, ?)", (unit, encoded))
            if board_cards is not None:
                board_id, card_ids = board_cards
                self._db.executemany("INSERT INTO board_cards VALUES (?, ?, ?)",
                                     [(board_id, seq, card_id) for seq, card_id in enumerate(card_ids)])
            self._db.executemany("INSERT OR IGNORE INTO card_tags VALUES (?, ?)",
                                 [(tag_id, jsoncodec.dumps(raw).decode()) for tag_id, raw in card_tags])
            self._db.executemany("INSERT OR IGNORE INTO stored_files VALUES (?, ?, ?)", list(stored_files))
            # the first listing of a card wins (a card listed twice while pages drift)
            self._db.executemany("INSERT OR IGNORE INTO card_listing VALUES (?, ?, ?, ?)", list(listings))
            for name, value in (counters or {}).items():
                self._db.execute("INSERT INTO counters VALUES (?, ?) ON CONFLICT(name) DO UPDATE "
                                 "SET value = value + excluded.value", (name, value))
            for key, value in {**(meta or {}), **({"stats": stats} if stats is not None else {})}.items():
                self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                                 (key, jsoncodec.dumps(value).decode()))

    # --- what earlier units learned --------------------------------------------------------
    def board_card_ids(self, board_id: str) -> list[str]:
        rows = self._db.execute("SELECT card_id FROM board_cards WHERE board_id = ? ORDER BY seq",
                                (board_id,))
        return [row[0] for row in rows]

    def all_card_ids(self) -> set[str]:
        return {row[0] for row in self._db.execute("SELECT card_id FROM board_cards")}

    def has_card(self, card_id: str) -> bool:
        """Whether a committed board (or sweep) unit exported ``card_id``."""
        return self._db.execute("SELECT 1 FROM board_cards WHERE card_id = ? LIMIT 1",
                                (card_id,)).fetchone() is not None

    def iter_card_ids(self) -> Iterator[str]:
        """The ids of :meth:`all_card_ids` in :func:`~k2p.kaiten.context.id_order`, streamed from
        SQLite's sorter (the company's ids are never all in memory). Nothing may write
        ``board_cards`` while the iterator is open."""
        rows = self._db.execute("SELECT DISTINCT card_id FROM board_cards ORDER BY card_id COLLATE id_order")
        for (card_id,) in rows:
            yield card_id

    def card_tags(self) -> list[tuple[str, Any]]:
        rows = self._db.execute("SELECT tag_id, raw FROM card_tags")
        return [(tag_id, jsoncodec.loads(raw)) for tag_id, raw in rows]

    def stored_files(self) -> dict[str, tuple[str, int]]:
        """Files already stored as blobs by committed units: ``{file key: (sha256, size)}``."""
        rows = self._db.execute("SELECT file_key, sha256, size FROM stored_files")
        return {key: (sha, int(size)) for key, sha, size in rows}

    def card_digests(self) -> dict[str, str]:
        """``{card id: list digest}`` of every card list item seen by committed units."""
        return dict(self._db.execute("SELECT card_id, digest FROM card_listing"))

    def listed_cards(self, board_id: str | None = None) -> list[str]:
        """Ids of the listed cards (of one board when ``board_id`` is given)."""
        if board_id is None:
            return [row[0] for row in self._db.execute("SELECT card_id FROM card_listing")]
        rows = self._db.execute("SELECT card_id FROM card_listing WHERE board_id = ?", (board_id,))
        return [row[0] for row in rows]

    def card_digest(self, card_id: str) -> str | None:
        """The list digest of one listed card (``None`` when it was not listed)."""
        row = self._db.execute("SELECT digest FROM card_listing WHERE card_id = ?", (card_id,)).fetchone()
        return None if row is None else row[0]

    def board_card_count(self, board_id: str) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM board_cards WHERE board_id = ?", (board_id,)).fetchone()[0])

    def listed_card(self, card_id: str) -> tuple[str, str, dict[str, Any]] | None:
        """``(board id, list digest, list signals)`` of one listed card, or ``None``."""
        row = self._db.execute("SELECT board_id, digest, signals FROM card_listing WHERE card_id = ?",
                               (card_id,)).fetchone()
        return None if row is None else (row[0], row[1], jsoncodec.loads(row[2]))

    def card_listing(self) -> dict[str, tuple[str, str, dict[str, Any]]]:
        """``{card id: (board id, list digest, list signals)}`` of every listed card."""
        rows = self._db.execute("SELECT card_id, board_id, digest, signals FROM card_listing")
        return {card: (board, digest, jsoncodec.loads(signals)) for card, board, digest, signals in rows}

    def counters(self) -> dict[str, int]:
        return {name: int(value) for name, value in self._db.execute("SELECT name, value FROM counters")}
