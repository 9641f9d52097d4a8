"""The import ledger: which Planka object stands for which Kaiten object, and in which state.

One SQLite file per (source company, target server). Each row maps a plan key (``card:123``)
to a Planka id, with per-field hashes of what was last sent (``state["h"]``) so that a newer
archive updates only what changed, and of the same fields as Planka answered them (``state["p"]``)
so that an edit made in Planka since is seen as a conflict (:mod:`k2p.delta.conflicts`). Rows
``deleted:<key>`` record what was done with objects deleted in Kaiten (:mod:`k2p.delta.deletions`);
the meta entry ``archives`` lists every archive applied (:mod:`k2p.delta.freshness`). A create is preceded by an ``intent`` row: if the process dies or the response is
lost, the next run finds the intent and reconciles it against Planka instead of creating again.

WAL mode with ``synchronous=NORMAL`` survives a killed process (the case that matters here); after
a power loss the last rows may be missing, and intents then fall back to reconciliation.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from k2p import jsoncodec
from k2p.errors import LocalIOError, Refused

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS objects (
    key TEXT PRIMARY KEY, kind TEXT NOT NULL, status TEXT NOT NULL, planka_id TEXT,
    parent_id TEXT, position REAL, state TEXT NOT NULL DEFAULT '{}', intent_at REAL,
    updated_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS objects_planka_id ON objects (planka_id);
CREATE INDEX IF NOT EXISTS objects_parent_id ON objects (parent_id);
CREATE INDEX IF NOT EXISTS objects_kind ON objects (kind);
CREATE INDEX IF NOT EXISTS objects_updated_at ON objects (updated_at);
"""


def _exclusive_lock(path: Path) -> int | None:
    """Lock ``<ledger>.lock`` so that two imports never work from one ledger at the same time."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - non-POSIX: no advisory locks
        return None
    fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise Refused(f"another k2p import is using the ledger {path}; wait for it to finish") from None
    return fd


def field_hashes(fields: dict[str, Any]) -> dict[str, str]:
    """Short per-field hashes of a payload (what the ledger remembers of each sent value)."""
    return {name: hashlib.sha256(jsoncodec.dumps(value)).hexdigest()[:16]
            for name, value in sorted(fields.items())}


@dataclass(frozen=True)
class Row:
    key: str
    kind: str
    status: str                # intent | done
    planka_id: str | None
    parent_id: str | None
    position: float | None
    state: dict[str, Any]
    intent_at: float | None

    @property
    def done(self) -> bool:
        return self.status == "done"


_COLUMNS = "key, kind, status, planka_id, parent_id, position, state, intent_at"


def _row(found: tuple[Any, ...]) -> Row:
    return Row(found[0], found[1], found[2], found[3], found[4], found[5], jsoncodec.loads(found[6]), found[7])


class Ledger:
    """Thread-safe ledger access (one connection guarded by a lock)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._process_lock = _exclusive_lock(path)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._execute("PRAGMA journal_mode=WAL")
        self._execute("PRAGMA synchronous=NORMAL")
        for statement in SCHEMA.split(";"):
            if statement.strip():
                self._execute(statement)

    def close(self) -> None:
        with self._lock:
            self._db.close()
        if self._process_lock is not None:
            os.close(self._process_lock)
            self._process_lock = None

    # --- identity --------------------------------------------------------------------------
    def bind(self, source: dict[str, Any], target: dict[str, Any] | None) -> bool:
        """Tie the ledger to one source company and one Planka server; True when new.

        ``target`` None (an offline plan) checks the source only.
        """
        saved_source, saved_target = self._meta("source"), self._meta("target")
        if saved_source is None:
            self._put_meta("source", source)
            if target is not None:
                self._put_meta("target", target)
            return True
        if saved_source != source:
            raise Refused(f"ledger {self.path} belongs to another Kaiten company ({saved_source}); "
                          f"pass a different --state file for this archive")
        if target is not None and saved_target is None:
            self._put_meta("target", target)
        elif target is not None and saved_target != target:
            raise Refused(f"ledger {self.path} was used with another Planka server "
                          f"({saved_target.get('url')}); pass a different --state file")
        return False

    def _execute(self, sql: str, args: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        """One statement under the lock; a full disk or an unwritable file is a one-line error."""
        with self._lock:
            try:
                return self._db.execute(sql, args)
            except sqlite3.OperationalError as exc:
                raise LocalIOError(f"cannot write or read the ledger {self.path}: {exc}; free disk space "
                                   f"or fix permissions, then run the same command again (it resumes)") from None

    def _meta(self, key: str) -> Any:
        row = self._execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else jsoncodec.loads(row[0])

    def _put_meta(self, key: str, value: Any) -> None:
        self._execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, jsoncodec.dumps(value).decode()))

    # --- import runs -----------------------------------------------------------------------
    def runs(self) -> list[dict[str, Any]]:
        """Every import run that wrote to this ledger, oldest first (see :meth:`record_run`)."""
        return list(self._meta("runs") or [])

    def record_run(self, run: dict[str, Any]) -> None:
        """Add or replace (by ``started_at``) one run: its window in k2p's clock and the newest
        ``createdAt``/``updatedAt`` Planka answered (``server_high_water``), which bounds what the
        import itself wrote, for the SQL fix-up's guards."""
        runs = [saved for saved in self.runs() if saved.get("started_at") != run.get("started_at")]
        self._put_meta("runs", runs + [run])

    def applied(self) -> dict[str, Any] | None:
        """The last complete, clean application (see :mod:`k2p.planka.applied`)."""
        return self._meta("applied")

    def record_applied(self, record: dict[str, Any]) -> None:
        self._put_meta("applied", record)

    def generation(self) -> list[Any]:
        """Changes whenever a row is written or dropped: the row count and the newest write."""
        count, newest = self._execute("SELECT count(*), max(updated_at) FROM objects").fetchone()
        return [count, newest]

    # --- rows ------------------------------------------------------------------------------
    def get(self, key: str) -> Row | None:
        found = self._execute(f"SELECT {_COLUMNS} FROM objects WHERE key = ?", (key,)).fetchone()
        return None if found is None else _row(found)

    def of_kind(self, kind: str) -> list[Row]:
        """Every finished row of one kind, in key order."""
        return [_row(found) for found in self._execute(
            f"SELECT {_COLUMNS} FROM objects WHERE kind = ? AND status = 'done' ORDER BY key", (kind,)).fetchall()]

    def iter_kind(self, kind: str, page: int = 1000) -> Iterator[Row]:
        """Every finished row of one kind, in key order, read ``page`` rows at a time (the caller
        may write to the ledger in between; memory stays one page)."""
        after = ""
        while True:
            found = self._execute(f"SELECT {_COLUMNS} FROM objects WHERE kind = ? AND status = 'done' "
                                  f"AND key > ? ORDER BY key LIMIT ?", (kind, after, page)).fetchall()
            yield from map(_row, found)
            if len(found) < page:
                return
            after = found[-1][0]

    def children(self, parent_id: str) -> list[Row]:
        """Every finished row whose Planka parent is ``parent_id``, in key order."""
        return [_row(found) for found in self._execute(
            f"SELECT {_COLUMNS} FROM objects WHERE parent_id = ? AND status = 'done' ORDER BY key",
            (parent_id,)).fetchall()]

    # --- applied archives ------------------------------------------------------------------
    def archives(self) -> list[dict[str, Any]]:
        """Every archive an import started to apply with this ledger, in the order applied."""
        return list(self._meta("archives") or [])

    def record_archive(self, stamp: dict[str, Any]) -> None:
        """Add or replace (by ``archive_id``) one applied archive."""
        kept = [saved for saved in self.archives() if saved.get("archive_id") != stamp.get("archive_id")]
        self._put_meta("archives", kept + [stamp])

    def rows(self, kind: str) -> list[Row]:
        """Every settled row of one kind (``k2p check`` reads the people this way)."""
        found = self._execute("SELECT key, kind, status, planka_id, parent_id, position, state, intent_at "
                              "FROM objects WHERE kind = ? AND status = 'done' ORDER BY key", (kind,)).fetchall()
        return [Row(item[0], item[1], item[2], item[3], item[4], item[5], jsoncodec.loads(item[6]), item[7])
                for item in found]

    def intent(self, key: str, kind: str, parent_id: str | None) -> float:
        """Record that a create of ``key`` is about to be sent; returns the intent time."""
        now = time.time()
        self._execute(
            "INSERT INTO objects (key, kind, status, parent_id, intent_at, updated_at) "
            "VALUES (?, ?, 'intent', ?, ?, ?) ON CONFLICT(key) DO UPDATE SET "
            "parent_id = excluded.parent_id, updated_at = excluded.updated_at, "
            "intent_at = COALESCE(objects.intent_at, excluded.intent_at)",
            (key, kind, parent_id, now, now))
        return now

    def done(self, key: str, kind: str, planka_id: str, parent_id: str | None, *,
             position: float | None = None, state: dict[str, Any] | None = None) -> None:
        """Record the Planka object standing for ``key`` (after a create, adoption or update)."""
        self._execute(
            "INSERT INTO objects (key, kind, status, planka_id, parent_id, position, state, updated_at) "
            "VALUES (?, ?, 'done', ?, ?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET status = 'done', "
            "planka_id = excluded.planka_id, parent_id = excluded.parent_id, "
            "position = excluded.position, state = excluded.state, intent_at = NULL, "
            "updated_at = excluded.updated_at",
            (key, kind, planka_id, parent_id, position, jsoncodec.dumps(state or {}).decode(), time.time()))

    def forget_intent(self, key: str) -> None:
        """Drop an intent that reconciliation proved was never committed."""
        self._execute("DELETE FROM objects WHERE key = ? AND status = 'intent'", (key,))

    def forget(self, key: str) -> None:
        """Drop the row of an object k2p deleted in Planka."""
        self._execute("DELETE FROM objects WHERE key = ?", (key,))

    def claimed(self, planka_id: str) -> bool:
        """Whether some ledger row already stands for this Planka object."""
        return self._execute("SELECT 1 FROM objects WHERE planka_id = ? AND status = 'done'",
                             (planka_id,)).fetchone() is not None
