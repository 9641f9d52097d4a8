"""PREVIOUS: checked before anything is carried over, then indexed per card.

:func:`check_previous` refuses an archive that cannot be a base for this export — another Kaiten
URL or company, another scope, an incomplete or a damaged one — with one line and the exit code of
the problem (8 refused, 4 incomplete, 3 damaged, 5 unsupported), from the fast verification and
the manifest. :func:`verify_contents` then hashes every record file and blob (what is carried over
is never read from Kaiten again); the export runs it alongside its first requests.

:class:`PreviousIndex` streams PREVIOUS once (through :class:`~k2p.archive.reader.ArchiveReader`:
headers, hashes and counts checked; lines parsed with orjson, since the full verification already
parsed them strictly) into a SQLite file in the new archive's scratch directory: per card its
record lines, list digest, signals and relations, the users embedded in any of its records, the
stored file blobs by file key, the cards a ``missing`` entry names, and the digests of the user
and role records. The file is derived data: written under a temporary name and renamed, rebuilt
when a crash left none.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import orjson

from k2p import jsoncodec
from k2p.archive import collections as C
from k2p.archive.reader import ArchiveReader
from k2p.archive.verify import verify_archive
from k2p.errors import ArchiveIncomplete, ArchiveInvalid, ExitCode, K2PError, Refused, UnsupportedVersion
from k2p.kaiten.delta.signals import list_signals
from k2p.kaiten.extras.documents import file_url
from k2p.kaiten.files import file_key

# Per-card sub-lists a delta may carry over; the extras (k2p.kaiten.extras) only with the whole card.
PER_CARD = (C.COMMENTS, C.TIME_LOGS, C.LOCATION_HISTORY, C.SLA_MEASUREMENTS, C.CARD_ACTIVITY, C.CARD_BASELINES)
ENTITY_COLLECTIONS = (C.USERS, C.COMPANY_USERS, C.USER_ROLES)
RELATIONS = ("parents_ids", "children_ids", "blocks_card_ids", "blocked_by_card_ids")
INDEX_FILE = "previous.sqlite"

SCHEMA = """
CREATE TABLE cards (card_id TEXT PRIMARY KEY, seq INTEGER NOT NULL, board_id TEXT NOT NULL,
                    digest TEXT, signals TEXT NOT NULL, relations TEXT NOT NULL, line BLOB NOT NULL);
CREATE TABLE subs (collection TEXT NOT NULL, card_id TEXT NOT NULL, seq INTEGER NOT NULL,
                   line BLOB NOT NULL);
CREATE TABLE files (file_key TEXT PRIMARY KEY, url TEXT, size TEXT, sha256 TEXT NOT NULL,
                    blob_size INTEGER NOT NULL);
CREATE TABLE refs (card_id TEXT NOT NULL, kind TEXT NOT NULL, ref_id TEXT NOT NULL,
                   PRIMARY KEY (card_id, kind, ref_id));
CREATE TABLE flagged (card_id TEXT PRIMARY KEY);
CREATE TABLE deleted (card_id TEXT PRIMARY KEY, seq INTEGER NOT NULL, line BLOB NOT NULL);
CREATE TABLE entities (collection TEXT NOT NULL, id TEXT NOT NULL, digest TEXT NOT NULL,
                       PRIMARY KEY (collection, id));
"""
# Created after the rows are in (and on opening an index an earlier version built without them).
INDEXES = """
CREATE INDEX IF NOT EXISTS subs_card ON subs (card_id, collection, seq);
CREATE INDEX IF NOT EXISTS cards_seq ON cards (seq);
CREATE INDEX IF NOT EXISTS refs_ref ON refs (kind, ref_id);
"""
PAGE = 1000          # rows per query when streaming every card of PREVIOUS
BATCH = 2000         # rows per INSERT batch while building


@dataclass(frozen=True)
class PreviousArchive:
    """What the chain records about PREVIOUS."""

    path: Path
    archive_id: str
    fingerprint: str
    created_at: str

    def chain_entry(self) -> dict[str, str]:
        return {"archive_id": self.archive_id, "fingerprint": self.fingerprint, "created_at": self.created_at}


def check_previous(path: Path, *, api_base: str, company_id: object, scope: dict[str, Any]) -> PreviousArchive:
    """Refuse PREVIOUS unless it is complete and intact as far as the fast verification sees
    (presence, sizes, counts, the manifest's hash) and of this Kaiten URL, company and scope.
    Every hash is checked by :func:`verify_contents`, which the export runs alongside its first
    requests."""
    label = f"--since {path}"
    if not path.exists():
        raise K2PError(f"{label}: no such archive; give the directory or .k2p.tar of the earlier export",
                       exit_code=ExitCode.USAGE)
    _refuse_problems(path, verify_archive(path, level="fast"))
    return _check_identity(path, api_base=api_base, company_id=company_id, scope=scope)


def _refuse_problems(path: Path, report: Any) -> None:
    label = f"--since {path}"
    if report.status == "incomplete":
        raise ArchiveIncomplete(f"{label}: incomplete archive (its export did not finish); rerun that "
                                f"export to complete it, or use another archive")
    if report.status == "unsupported":
        raise UnsupportedVersion(f"{label}: {report.problems[0].message if report.problems else 'unsupported'}")
    if not report.ok:
        first = report.problems[0] if report.problems else None
        more = f" (and {len(report.problems) - 1} more)" if len(report.problems) > 1 else ""
        raise ArchiveInvalid(f"{label}: corrupt archive: {first}{more}; run `k2p verify {path}` and "
                             f"use an intact copy")


def verify_contents(path: Path) -> None:
    """Full verification of PREVIOUS (every record file and blob hashed): nothing carried over is
    ever read from Kaiten again, so a damaged PREVIOUS must stop the export (exit 3)."""
    _refuse_problems(path, verify_archive(path, level="full"))


def _check_identity(path: Path, *, api_base: str, company_id: object, scope: dict[str, Any]) -> PreviousArchive:
    label = f"--since {path}"
    with ArchiveReader(path) as reader:
        manifest = reader.manifest
        fingerprint = reader.fingerprint() or ""
    source = manifest.source
    if source.base_url != api_base:
        raise Refused(f"{label}: exported from {source.base_url}, this export reads {api_base}; use the "
                      f"same --kaiten-url as the earlier export, or export without --since")
    if str(source.company_id) != str(company_id):
        raise Refused(f"{label}: an archive of company {source.company_id}, the token belongs to company "
                      f"{company_id}; use this company's earlier archive, or export without --since")
    if manifest.scope != scope:
        raise Refused(f"{label}: exported with scope {_scope_text(manifest.scope)}, this export asks for "
                      f"{_scope_text(scope)}; use the same --space/--board/--no-files/--max-file-size "
                      f"options, or export without --since")
    return PreviousArchive(path, manifest.archive_id, fingerprint, manifest.created_at)


def document_file_key(url: str) -> str:
    """The files-table key of a document's image or file (documents name them by URL only)."""
    return "document:" + url


def _scope_text(scope: dict[str, Any]) -> str:
    return orjson.dumps(scope, option=orjson.OPT_SORT_KEYS).decode()


def _lines(reader: ArchiveReader, collection: str) -> Iterator[tuple[int, bytes, dict[str, Any]]]:
    for seq, line in enumerate(reader.iter_unparsed_lines(collection)):
        yield seq, line, jsoncodec.loads(line)


def record_digest(raw: Any) -> str:
    try:
        data = orjson.dumps(raw, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:
        data = jsoncodec.dumps(raw)
    return hashlib.sha256(data).hexdigest()


def embedded_users(value: Any, found: set[str]) -> None:
    """Ids of user objects embedded anywhere in ``value`` (owner, members, authors, …)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if "full_name" in item and item.get("id") is not None:
                found.add(str(item["id"]))
            stack.extend(child for child in item.values() if isinstance(child, (dict, list)))
        elif isinstance(item, list):
            stack.extend(child for child in item if isinstance(child, (dict, list)))


class PreviousIndex:
    """Per-card random access to PREVIOUS; thread-safe (one connection behind a lock)."""

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(path, check_same_thread=False)
        self._db.executescript(INDEXES)
        self._lock = threading.Lock()

    @classmethod
    def open_or_build(cls, work_dir: Path, previous: Path) -> "PreviousIndex":
        target = work_dir / INDEX_FILE
        if not target.exists():
            build_index(previous, target)
        return cls(target)

    def close(self) -> None:
        self._db.close()

    def _rows(self, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(query, params).fetchall()

    # --- cards ----------------------------------------------------------------------------
    def card_states(self) -> Iterator[tuple[str, str, str | None, dict[str, Any], list[str]]]:
        """``(card id, board id, digest, signals, related card ids)`` of every card of PREVIOUS,
        in PREVIOUS's order, ``PAGE`` cards per query (never all of them in memory)."""
        after = -1
        while True:
            rows = self._rows("SELECT seq, card_id, board_id, digest, signals, relations FROM cards "
                              "WHERE seq > ? ORDER BY seq LIMIT ?", (after, PAGE))
            for _, card_id, board_id, digest, signals, relations in rows:
                yield card_id, board_id, digest, jsoncodec.loads(signals), jsoncodec.loads(relations)
            if len(rows) < PAGE:
                return
            after = rows[-1][0]

    def card_state(self, card_id: str) -> tuple[str, str | None, dict[str, Any], list[str]] | None:
        """``(board id, digest, signals, related card ids)`` of one card of PREVIOUS, or ``None``."""
        rows = self._rows("SELECT board_id, digest, signals, relations FROM cards WHERE card_id = ?", (card_id,))
        if not rows:
            return None
        board_id, digest, signals, relations = rows[0]
        return board_id, digest, jsoncodec.loads(signals), jsoncodec.loads(relations)

    def card_record(self, card_id: str) -> dict[str, Any] | None:
        rows = self._rows("SELECT line FROM cards WHERE card_id = ?", (card_id,))
        return jsoncodec.loads(rows[0][0]) if rows else None

    def sub_records(self, collection: str, card_id: str) -> list[dict[str, Any]]:
        rows = self._rows("SELECT line FROM subs WHERE card_id = ? AND collection = ? ORDER BY seq",
                          (card_id, collection))
        return [jsoncodec.loads(line) for (line,) in rows]

    def flagged(self) -> set[str]:
        """Cards a ``missing`` entry of PREVIOUS names (read again: retry what failed)."""
        return {row[0] for row in self._rows("SELECT card_id FROM flagged")}

    def is_flagged(self, card_id: str) -> bool:
        """Whether a ``missing`` entry of PREVIOUS names ``card_id``."""
        return bool(self._rows("SELECT 1 FROM flagged WHERE card_id = ?", (card_id,)))

    def cards_referencing(self, kind: str, ids: set[str]) -> set[str]:
        """Cards of PREVIOUS whose records name one of ``ids`` (users, roles): one indexed query
        per id, so only the cards that match are read."""
        found: set[str] = set()
        for ref in sorted(ids):
            found.update(row[0] for row in self._rows("SELECT card_id FROM refs WHERE kind = ? AND ref_id = ?",
                                                      (kind, ref)))
        return found

    def entity_digests(self, collection: str) -> dict[str, str]:
        return dict(self._rows("SELECT id, digest FROM entities WHERE collection = ?", (collection,)))  # type: ignore[arg-type]

    # --- files and deleted cards --------------------------------------------------------
    def stored_file(self, key: str) -> tuple[str | None, str | None, str, int] | None:
        """``(url, declared size, sha256, blob size)`` of a file PREVIOUS stored under ``key``."""
        rows = self._rows("SELECT url, size, sha256, blob_size FROM files WHERE file_key = ?", (key,))
        return rows[0] if rows else None  # type: ignore[return-value]

    def stored_blobs(self) -> list[str]:
        """Every blob a ``stored`` file record of PREVIOUS names (sorted)."""
        return [row[0] for row in self._rows("SELECT DISTINCT sha256 FROM files ORDER BY sha256")]

    def deleted_records(self) -> Iterator[dict[str, Any]]:
        for (line,) in self._rows("SELECT line FROM deleted ORDER BY seq"):
            yield jsoncodec.loads(line)


def build_index(previous: Path, target: Path) -> None:
    """Stream PREVIOUS into a new index file at ``target`` (temporary name, then renamed)."""
    partial = target.with_name(target.name + ".part")
    partial.unlink(missing_ok=True)
    db = sqlite3.connect(partial)
    try:
        db.execute("PRAGMA journal_mode=OFF")
        db.execute("PRAGMA synchronous=OFF")
        db.executescript(SCHEMA)
        with ArchiveReader(previous) as reader:
            _index(reader, db)
        db.executescript(INDEXES)
        db.commit()
    finally:
        db.close()
    os.replace(partial, target)


def _index(reader: ArchiveReader, db: sqlite3.Connection) -> None:
    batch: list[tuple[Any, ...]] = []
    refs: set[tuple[str, str, str]] = set()   # flushed with each batch: the table's key deduplicates
    if reader.has_collection(C.CARDS.name):
        for seq, line, record in _lines(reader, C.CARDS.name):
            raw, card_id = record["raw"], record["id"]
            board = str((record.get("ref") or {}).get("board_id", raw.get("board_id")))
            relations = sorted({str(i) for key in RELATIONS for i in (raw.get(key) or []) if i is not None})
            batch.append((card_id, seq, board, record.get("list_sha256"),
                          jsoncodec.dumps(list_signals(raw)).decode(), jsoncodec.dumps(relations).decode(), line))
            _note_users(refs, card_id, raw)
            if len(batch) >= BATCH:
                db.executemany("INSERT OR IGNORE INTO cards VALUES (?, ?, ?, ?, ?, ?, ?)", batch)
                batch.clear()
                _flush_refs(db, refs)
        db.executemany("INSERT OR IGNORE INTO cards VALUES (?, ?, ?, ?, ?, ?, ?)", batch)
        batch.clear()
    for collection in PER_CARD:
        if not reader.has_collection(collection.name):
            continue
        for seq, line, record in _lines(reader, collection.name):
            card_id = str((record.get("ref") or {}).get("card_id"))
            batch.append((collection.name, card_id, seq, line))
            _note_users(refs, card_id, record["raw"])
            if collection is C.TIME_LOGS and record["raw"].get("role_id") is not None:
                refs.add((card_id, "role", str(record["raw"]["role_id"])))
            if len(batch) >= BATCH:
                db.executemany("INSERT INTO subs VALUES (?, ?, ?, ?)", batch)
                batch.clear()
                _flush_refs(db, refs)
        db.executemany("INSERT INTO subs VALUES (?, ?, ?, ?)", batch)
        batch.clear()
    if reader.has_collection(C.FILES.name):
        for _, _, record in _lines(reader, C.FILES.name):
            raw, blob = record["raw"], record.get("blob")
            card_id = str((record.get("ref") or {}).get("card_id"))
            _note_users(refs, card_id, raw)
            if len(refs) >= BATCH:
                _flush_refs(db, refs)
            if record.get("status") == "stored" and isinstance(blob, dict):
                db.execute("INSERT OR IGNORE INTO files VALUES (?, ?, ?, ?, ?)",
                           (file_key(raw), _text(raw.get("url")), _text(raw.get("size")),
                            str(blob.get("sha256")), int(blob.get("size") or 0)))
    if reader.has_collection(C.DOCUMENT_FILES.name):   # a document's images and files, by URL
        for _, _, record in _lines(reader, C.DOCUMENT_FILES.name):
            raw, blob = record["raw"], record.get("blob")
            url = file_url(raw) if isinstance(raw, dict) else None
            if url and record.get("status") == "stored" and isinstance(blob, dict):
                db.execute("INSERT OR IGNORE INTO files VALUES (?, ?, ?, ?, ?)",
                           (document_file_key(url), url, _text(raw.get("size")),
                            str(blob.get("sha256")), int(blob.get("size") or 0)))
    _flush_refs(db, refs)
    for _, _, entry in _lines(reader, "missing"):
        ref = entry.get("ref") or {}
        card = ref.get("card_id") if isinstance(ref, dict) else None
        if card is None and entry.get("entity") == "card":
            card = str(entry.get("id", "")).partition(":")[2]
        if card:
            db.execute("INSERT OR IGNORE INTO flagged VALUES (?)", (str(card),))
    if reader.has_collection(C.DELETED_CARDS.name):
        for seq, line, record in _lines(reader, C.DELETED_CARDS.name):
            db.execute("INSERT OR IGNORE INTO deleted VALUES (?, ?, ?)", (record["id"], seq, line))
    for collection in ENTITY_COLLECTIONS:
        if reader.has_collection(collection.name):
            db.executemany("INSERT OR IGNORE INTO entities VALUES (?, ?, ?)",
                           [(collection.name, record["id"], record_digest(record["raw"]))
                            for _, _, record in _lines(reader, collection.name)])


def _flush_refs(db: sqlite3.Connection, refs: set[tuple[str, str, str]]) -> None:
    db.executemany("INSERT OR IGNORE INTO refs VALUES (?, ?, ?)", sorted(refs))
    refs.clear()


def _note_users(refs: set[tuple[str, str, str]], card_id: str, raw: Any) -> None:
    found: set[str] = set()
    embedded_users(raw, found)
    refs.update((card_id, "user", user) for user in found)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
