"""What the fix-up sets: ledger objects joined with the archive records they were made from.

:func:`read_ledger` reads the ledger read-only (done rows, people, import runs) and derives the
guard bounds; :func:`collect_targets` streams the archive once and yields, for every ledger object
it has a Kaiten record for, the values the SQL must set (:class:`Target`) and, with history, the
card moves (:class:`Move`). Times are returned as naive UTC ``YYYY-MM-DD HH:MM:SS.ffffff`` strings,
the form of Planka's ``timestamp without time zone`` columns.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import IO, Any, Callable, Generic, Iterator, NamedTuple, TypeVar

from k2p import jsoncodec
from k2p.archive import collections as C
from k2p.archive.reader import ArchiveReader
from k2p.errors import ExitCode, K2PError, Refused
from k2p.timestamps import parse_time

# Planka bumps a card's updated_at while k2p adds its comments and attachments, and the ledger's
# high-water mark is the newest time Planka answered: rows up to this much later still count as
# "as imported".
SLACK_SECONDS = 10.0
CLOCK_SKEW = timedelta(seconds=600)   # k2p's clock (run windows) against the server's
Row = TypeVar("Row")


def sql_time(moment: datetime) -> str:
    """``2022-11-14 09:41:00.000000`` (UTC, naive)."""
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def utc(value: object) -> str | None:
    """A Kaiten or Planka ISO 8601 string (any offset) as naive UTC SQL text; None if absent."""
    moment = parse_time(value)
    return None if moment is None else sql_time(moment)


@dataclass(frozen=True)
class LedgerObject:
    planka_id: int
    parent_id: int | None
    seen_created: str | None       # createdAt Planka answered when k2p made the object


class LedgerObjects:
    """The ledger's done objects (not people) by key, looked up one at a time in the read-only
    ledger: a company's objects are never all in memory."""

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)

    def close(self) -> None:
        self._db.close()

    def get(self, key: str) -> LedgerObject | None:
        row = self._db.execute("SELECT kind, planka_id, parent_id, state FROM objects WHERE key = ? AND "
                               "status = 'done' AND planka_id IS NOT NULL", (key,)).fetchone()
        if row is None:
            return None
        kind, planka_id, parent_id, state_text = row
        planka = _int(planka_id)
        if planka is None or (kind == "user" and key.startswith("user:")):
            return None
        at = jsoncodec.loads(state_text or "{}").get("at") or []
        first = parse_time(at[0]) if at else None
        return LedgerObject(planka, _int(parent_id), sql_time(first) if first else None)


@dataclass
class LedgerView:
    """The parts of an import ledger the fix-up reads."""

    path: Path
    objects: LedgerObjects | dict[str, LedgerObject]
    people: dict[str, int]          # Kaiten user id → Planka user id (every origin)
    created_people: list[int]       # Planka ids of accounts k2p created (origin "created")
    sso_people: list[int]           # of those, the ones created with --sso (is_sso_user to set)
    high_water: str                 # newest server time the import saw, plus the slack
    low_water: str                  # oldest time the import can have written (skew included)
    source: dict[str, Any]          # the Kaiten company the ledger is bound to

    def planka_id(self, key: str) -> int | None:
        found = self.objects.get(key)
        return None if found is None else found.planka_id

    def close(self) -> None:
        if isinstance(self.objects, LedgerObjects):
            self.objects.close()


def _int(value: object) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def read_ledger(path: Path, *, slack_seconds: float = SLACK_SECONDS, strict: bool = True) -> LedgerView:
    """Read ``path`` without locking or changing it. ``strict`` (for writing a fix-up) refuses a
    ledger whose last import run did not complete or that holds no server times to guard with."""
    if not path.is_file():
        raise K2PError(f"ledger {path} not found; pass the --state file the import wrote",
                       exit_code=ExitCode.USAGE)
    people: dict[str, int] = {}
    created: list[int] = []
    sso: list[int] = []
    newest: datetime | None = None     # of every server time the done rows hold ("at")
    oldest: datetime | None = None
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            meta = {key: jsoncodec.loads(value) for key, value in db.execute("SELECT key, value FROM meta")}
            runs = list(meta.get("runs") or [])
            if strict and not runs:
                raise Refused(f"ledger {path} records no import run; rerun the same `k2p import` with this "
                              f"k2p version (it sends nothing new), then generate the fix-up")
            if strict and not runs[-1].get("completed"):
                raise Refused(f"ledger {path}: the last import run (started {runs[-1].get('started_at')}) did "
                              f"not complete; rerun `k2p import` until it finishes, then generate the fix-up")
            rows = db.execute("SELECT key, kind, planka_id, state FROM objects "
                              "WHERE status = 'done' AND planka_id IS NOT NULL")
            for key, kind, planka_id, state_text in rows:    # a cursor: one row at a time
                state = jsoncodec.loads(state_text or "{}")
                for value in state.get("at") or []:
                    moment = parse_time(value)
                    if moment is not None:
                        newest = moment if newest is None or moment > newest else newest
                        oldest = moment if oldest is None or moment < oldest else oldest
                planka = _int(planka_id)
                if planka is not None and kind == "user" and key.startswith("user:"):
                    people[key[5:]] = planka
                    if state.get("origin") == "created":
                        created.append(planka)
                        if state.get("sso"):
                            sso.append(planka)
        finally:
            db.close()
    except sqlite3.Error as exc:
        raise K2PError(f"ledger {path} cannot be read ({exc}); pass the --state file of the import",
                       exit_code=ExitCode.USAGE) from None
    seen = [moment for moment in (newest, oldest) if moment is not None]
    seen.extend(moment for run in runs if (moment := parse_time(run.get("server_high_water"))))
    if not seen and strict:
        raise Refused(f"ledger {path} holds no server times to guard the fix-up with (an older k2p "
                      f"wrote it); a fix-up needs the ledger of an import by this k2p version")
    started = [moment for run in runs if (moment := parse_time(run.get("started_at")))]
    bounds = [*seen, *started] or [datetime.now(timezone.utc)]
    return LedgerView(path, LedgerObjects(path), people, sorted(set(created)), sorted(set(sso)),
                      sql_time(max(seen or bounds) + timedelta(seconds=slack_seconds)),
                      sql_time(min(bounds) - CLOCK_SKEW),
                      dict(meta.get("source") or {}))


@dataclass(frozen=True)
class Target:
    """The values one Planka row gets; ``user_id`` None leaves the row's author as Planka recorded."""

    table: str
    id: int
    parent_id: int | None
    seen_created: str | None
    created_at: str
    updated_at: str
    user_id: int | None = None
    list_changed_at: str | None = None


@dataclass(frozen=True)
class Move:
    """A Kaiten location change between two lists k2p imported, as a Planka ``moveCard`` action."""

    event: str                     # Kaiten location-history id (the marker in action.data)
    card_id: int
    from_list: int
    to_list: int
    user_id: int | None            # None: the importing account, as Planka recorded the card
    created_at: str


class Spilled(Generic[Row]):
    """An append-only sequence of rows kept in a temporary file, not in memory (a company has a row
    per imported object): appended in order, read back in the same order as often as needed."""

    BUFFER = 2000                  # rows held before they are written out

    def __init__(self, kind: Callable[..., Row]) -> None:
        self._kind = kind
        self._file: IO[bytes] = tempfile.TemporaryFile()
        self._buffer: list[bytes] = []
        self._count = 0

    def append(self, row: Row) -> None:
        self._buffer.append(jsoncodec.dumps(list(vars(row).values())))
        self._count += 1
        if len(self._buffer) >= self.BUFFER:
            self._flush()

    def _flush(self) -> None:
        if self._buffer:
            self._file.seek(0, os.SEEK_END)
            self._file.write(b"\n".join(self._buffer) + b"\n")
            self._buffer.clear()

    def __len__(self) -> int:
        return self._count

    def __bool__(self) -> bool:
        return self._count > 0

    def __iter__(self) -> Iterator[Row]:
        self._flush()
        self._file.seek(0)
        for line in self._file:
            yield self._kind(*jsoncodec.loads(line))

    def close(self) -> None:
        self._file.close()


@dataclass
class Targets:
    rows: Spilled[Target] = field(default_factory=lambda: Spilled(Target))
    moves: Spilled[Move] = field(default_factory=lambda: Spilled(Move))
    without_time: int = 0          # ledger objects whose Kaiten record has no creation time

    def close(self) -> None:
        self.rows.close()
        self.moves.close()



SCRATCH = """
CREATE TABLE events (seq INTEGER PRIMARY KEY, card_id TEXT NOT NULL, changed TEXT NOT NULL, id TEXT NOT NULL,
                     board TEXT NOT NULL, leaf TEXT, author TEXT NOT NULL);
CREATE TABLE card_stamps (card_id TEXT PRIMARY KEY, created TEXT NOT NULL, updated TEXT NOT NULL);
CREATE TABLE moved (event TEXT PRIMARY KEY);
"""
SCRATCH_BATCH = 2000


class _Event(NamedTuple):
    """The parts of a Kaiten location-history record the fix-up uses (records carry big avatars)."""

    changed: str
    id: str
    board: str
    leaf: str | None               # the subcolumn, else the column the card went to
    author: str


def _stamps(raw: dict[str, Any], fallback: tuple[str, str] | None) -> tuple[str, str] | None:
    """(created, updated) of a Kaiten record; updated falls back to created, both to ``fallback``."""
    created = utc(raw.get("created"))
    if created is None:
        return fallback
    return created, utc(raw.get("updated")) or created


class _Collector:
    def __init__(self, reader: ArchiveReader, ledger: LedgerView, history: bool) -> None:
        self.reader = reader
        self.ledger = ledger
        self.history = history
        self.out = Targets()
        # Per-card lookups (location events, card times, events already moved) live in a private
        # temporary SQLite database, not in dicts over the company.
        self.db = sqlite3.connect("")
        self.db.executescript(SCRATCH)

    def records(self, collection: C.Collection) -> Iterator[dict[str, Any]]:
        if self.reader.has_collection(collection.name):
            yield from self.reader.iter_records(collection.name)

    def add(self, table: str, key: str, stamps: tuple[str, str] | None, *, user: object = None,
            list_changed_at: str | None = None) -> bool:
        found = self.ledger.objects.get(key)
        if found is None:
            return False
        if stamps is None:
            self.out.without_time += 1
            return False
        self.out.rows.append(Target(table, found.planka_id, found.parent_id, found.seen_created, *stamps,
                                    self.ledger.people.get(str(user)) if user is not None else None,
                                    list_changed_at))
        return True

    def run(self) -> Targets:
        try:
            return self._run()
        finally:
            self.db.close()

    def _run(self) -> Targets:
        for record in self.records(C.SPACES):
            self.add("project", f"project:{record['id']}", _stamps(record["raw"], None))
        for record in self.records(C.BOARDS):
            self.add("board", f"board:{record['id']}", _stamps(record["raw"], None))
        for record in self.records(C.COLUMNS):
            self._column(record)
        self._history()
        for record in self.records(C.CARDS):
            self._card(record["raw"], self._events(str(record["id"])))
        for record in self.records(C.COMMENTS):
            raw = record["raw"]
            self.add("comment", f"comment:{record['id']}",
                     _stamps(raw, self._card_stamps(str((record.get("ref") or {}).get("card_id")))),
                     user=raw.get("author_id"))
        for record in self.records(C.FILES):
            card = str((record.get("ref") or {}).get("card_id"))
            self.add("attachment", f"attachment:{card}:file:{record['id']}",
                     _stamps(record["raw"], self._card_stamps(card)), user=record["raw"].get("author_id"))
        return self.out

    def _card_stamps(self, card_id: str) -> tuple[str, str] | None:
        row = self.db.execute("SELECT created, updated FROM card_stamps WHERE card_id = ?", (card_id,)).fetchone()
        return None if row is None else (row[0], row[1])

    def _column(self, record: dict[str, Any]) -> None:
        raw = record["raw"]
        board = (record.get("ref") or {}).get("board_id", raw.get("board_id"))
        kind = "column" if raw.get("column_id") is None else "subcolumn"
        self.add("list", f"list:{board}:{kind}:{raw.get('id')}", _stamps(raw, None))
        for sub in raw.get("subcolumns") or []:
            if isinstance(sub, dict):
                self.add("list", f"list:{board}:subcolumn:{sub.get('id')}", _stamps(sub, None))

    def _history(self) -> None:
        """Every location event into the scratch database (card id, archive order)."""
        batch: list[tuple[str, ...] | tuple[Any, ...]] = []
        for record in self.records(C.LOCATION_HISTORY):
            raw = record["raw"]
            changed = utc(raw.get("changed"))
            if changed is None:
                continue
            leaf = raw.get("subcolumn_id") or raw.get("column_id")
            card = str((record.get("ref") or {}).get("card_id", raw.get("card_id")))
            batch.append((card, changed, str(record["id"]), str(raw.get("board_id")),
                          None if leaf is None else str(leaf), str(raw.get("author_id"))))
            if len(batch) >= SCRATCH_BATCH:
                self.db.executemany("INSERT INTO events VALUES (NULL, ?, ?, ?, ?, ?, ?)", batch)
                batch.clear()
        self.db.executemany("INSERT INTO events VALUES (NULL, ?, ?, ?, ?, ?, ?)", batch)
        self.db.execute("CREATE INDEX events_card ON events (card_id, changed)")

    def _events(self, card_id: str) -> list[_Event]:
        """A card's location events, oldest first (ties: shorter id, then id, then archive order);
        without ``history`` only the newest one (the first of the newest in archive order)."""
        if self.history:
            rows = self.db.execute("SELECT changed, id, board, leaf, author FROM events WHERE card_id = ? "
                                   "ORDER BY changed, length(id), id, seq", (card_id,)).fetchall()
        else:
            rows = self.db.execute("SELECT changed, id, board, leaf, author FROM events WHERE card_id = ? "
                                   "ORDER BY changed DESC, seq LIMIT 1", (card_id,)).fetchall()
        return [_Event(*row) for row in rows]

    def _card(self, raw: dict[str, Any], events: list[_Event]) -> None:
        card_id = str(raw.get("id"))
        stamps = _stamps(raw, None)
        if stamps is None:
            self.add("card", f"card:{card_id}", None)
            return
        self.db.execute("INSERT OR REPLACE INTO card_stamps VALUES (?, ?, ?)", (card_id, *stamps))
        moved = utc(raw.get("last_moved_at")) or (events[-1].changed if events else None) or stamps[0]
        if not self.add("card", f"card:{card_id}", stamps, user=raw.get("owner_id"), list_changed_at=moved):
            return
        for checklist in raw.get("checklists") or []:
            if not isinstance(checklist, dict):
                continue
            own = _stamps(checklist, stamps)
            self.add("task_list", f"tasklist:{card_id}:checklist:{checklist.get('id')}", own)
            for item in checklist.get("items") or []:
                if isinstance(item, dict):
                    self.add("task", f"task:{card_id}:item:{item.get('id')}", _stamps(item, own))
        for link in raw.get("external_links") or []:
            if isinstance(link, dict):
                self.add("attachment", f"attachment:{card_id}:link:{link.get('id')}", _stamps(link, stamps))
        if self.history:
            self._moves(card_id, str(raw.get("board_id")), events)

    def _list_of(self, board: str, event: _Event) -> int | None:
        if event.board != board or event.leaf is None:
            return None
        return (self.ledger.planka_id(f"list:{board}:subcolumn:{event.leaf}")
                or self.ledger.planka_id(f"list:{board}:column:{event.leaf}"))

    def _moves(self, card_id: str, board: str, events: list[_Event]) -> None:
        """A move per change between two imported lists (the first event places the card)."""
        planka_card = self.ledger.planka_id(f"card:{card_id}")
        assert planka_card is not None
        previous: int | None = None
        for index, event in enumerate(events):
            current = self._list_of(board, event)
            if index and previous is not None and current is not None and current != previous \
                    and self._first_move(event.id):
                self.out.moves.append(Move(event.id, planka_card, previous, current,
                                           self.ledger.people.get(event.author), event.changed))
            previous = current


    def _first_move(self, event: str) -> bool:
        """Whether no move was planned yet for this location event (then it is, now)."""
        return self.db.execute("INSERT OR IGNORE INTO moved VALUES (?)", (event,)).rowcount == 1


def collect_targets(reader: ArchiveReader, ledger: LedgerView, *, history: bool = False) -> Targets:
    """Every ledger object's target values (archive order), and the card moves when ``history``."""
    return _Collector(reader, ledger, history).run()
