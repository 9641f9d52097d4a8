"""Comparing two archives collection by collection through a temporary SQLite index."""

from __future__ import annotations

import sqlite3
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Literal
from urllib.parse import urlsplit

from k2p import jsoncodec
from k2p.archive.format import MISSING_COLLECTION
from k2p.archive.opener import refuse_encrypted
from k2p.archive.reader import ArchiveReader
from k2p.diff.records import canonical_hash, field_changes, title_of
from k2p.errors import ArchiveInvalid, LocalIOError, Refused

Change = Literal["created", "changed", "deleted"]
BATCH = 5000


@dataclass(frozen=True)
class Difference:
    """One record created, changed or deleted; ``fields`` maps changed field → summary."""

    collection: str
    change: Change
    id: str
    title: str
    fields: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"type": "difference", "collection": self.collection,
                                "change": self.change, "id": self.id, "title": self.title}
        if self.change == "changed":
            data["fields"] = list(self.fields)
            data["details"] = {name: text for name, text in self.fields.items() if text}
        return data


@dataclass
class CollectionTally:
    created: int = 0
    changed: int = 0
    deleted: int = 0
    unchanged: int = 0

    @property
    def differences(self) -> int:
        return self.created + self.changed + self.deleted


@dataclass
class DiffSummary:
    """Counts per collection and what identifies both archives."""

    old: dict[str, Any]
    new: dict[str, Any]
    collections: dict[str, CollectionTally] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def total(self) -> CollectionTally:
        total = CollectionTally()
        for tally in self.collections.values():
            for name in ("created", "changed", "deleted", "unchanged"):
                setattr(total, name, getattr(total, name) + getattr(tally, name))
        return total

    @property
    def identical(self) -> bool:
        return self.total.differences == 0

    def to_dict(self) -> dict[str, Any]:
        total = self.total
        return {"type": "summary", "identical": self.identical, "old": self.old, "new": self.new,
                "collections": {name: vars(tally) for name, tally in self.collections.items()},
                "total": vars(total), "notes": self.notes}


def _identity(reader: ArchiveReader) -> dict[str, Any]:
    return {"archive": reader.label, "archive_id": reader.manifest.archive_id,
            "completed_at": reader.manifest.completed_at, "fingerprint": reader.fingerprint()}


def _company(reader: ArchiveReader) -> tuple[str, str]:
    """(host of the API base, company id): the same company whatever API path the export used."""
    source = reader.manifest.source
    return (urlsplit(source.base_url).netloc.lower(), str(source.company_id))


def refuse_other_company(old: ArchiveReader, new: ArchiveReader) -> None:
    if _company(old) != _company(new):
        (old_host, old_id), (new_host, new_id) = _company(old), _company(new)
        raise Refused(f"{old.label} is company {old_id} at {old_host} but {new.label} is company "
                      f"{new_id} at {new_host}: k2p diff compares two archives of the same company")


def diff_archives(old_path: Path, new_path: Path, on_difference: Callable[[Difference], None], *,
                  on_progress: Callable[[str, int], None] | None = None) -> DiffSummary:
    """Compare two complete archives; every difference goes to ``on_difference`` as soon as it
    is known. ``on_progress`` gets ``("total", records to read)`` (more when a collection is
    read again) and ``("records", records read)``. Returns the counts."""
    for path in (old_path, new_path):   # its temporary index would hold decrypted records
        refuse_encrypted(path, "`k2p diff`", "keeps a temporary index of records on disk")
    with ExitStack() as stack:
        old = stack.enter_context(ArchiveReader(old_path))
        new = stack.enter_context(ArchiveReader(new_path))
        refuse_other_company(old, new)
        old.check_record_files()
        new.check_record_files()
        summary = DiffSummary(old=_identity(old), new=_identity(new))
        if old.manifest.scope != new.manifest.scope:
            summary.notes.append("the archives were exported with different scopes: records outside "
                                 "one scope show as created or deleted")
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="k2p-diff-")))
        names = [*old.manifest.collections,
                 *(name for name in new.manifest.collections if name not in old.manifest.collections),
                 MISSING_COLLECTION]
        try:
            step = _Comparison(old, new, stack.enter_context(_Index(workdir / "index.sqlite")),
                         on_difference, on_progress or (lambda event, value: None))
            step.on_progress("total", sum(_count(reader, name) for reader in (old, new) for name in names))
            for name in names:
                summary.collections[name] = step.compare(name)
        except sqlite3.OperationalError as exc:   # the temporary disk is full, most likely
            raise LocalIOError(f"cannot write the temporary index {workdir}/index.sqlite: {exc}; free "
                               f"space there or point TMPDIR at a larger disk") from None
        return summary


class _Index:
    """The temporary SQLite file: one collection's OLD records at a time, and the changed ones."""

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path, isolation_level=None)
        for pragma in ("journal_mode=OFF", "synchronous=OFF", "temp_store=FILE", "cache_size=-8192"):
            self.db.execute(f"PRAGMA {pragma}")
        self.db.execute("CREATE TABLE old (id TEXT PRIMARY KEY, hash BLOB, title TEXT, "
                        "seen INTEGER DEFAULT 0) WITHOUT ROWID")
        self.db.execute("CREATE TABLE changed (id TEXT PRIMARY KEY, line BLOB) WITHOUT ROWID")

    def __enter__(self) -> "_Index":
        return self

    def __exit__(self, *exc: object) -> None:
        self.db.close()


@dataclass
class _Comparison:
    """Compares the archives one collection at a time (see the package docstring for the steps)."""

    old: ArchiveReader
    new: ArchiveReader
    index: _Index
    emit: Callable[[Difference], None]
    on_progress: Callable[[str, int], None]

    def _stream(self, reader: ArchiveReader, collection: str) -> Iterator[tuple[bytes, dict[str, Any]]]:
        if collection != MISSING_COLLECTION and not reader.has_collection(collection):
            return
        count = 0
        for item in reader.iter_parsed(collection):
            count += 1
            if count == BATCH:
                self.on_progress("records", count)
                count = 0
            yield item
        self.on_progress("records", count)

    def compare(self, collection: str) -> CollectionTally:
        db, tally = self.index.db, CollectionTally()
        db.execute("BEGIN")
        db.execute("DELETE FROM old")
        db.execute("DELETE FROM changed")
        try:
            db.executemany("INSERT INTO old (id, hash, title) VALUES (?, ?, ?)",
                           ((record["id"], canonical_hash(record), title_of(record))
                            for _, record in self._stream(self.old, collection)))
        except sqlite3.IntegrityError:
            raise _duplicate(self.old, collection) from None
        for line, record in self._stream(self.new, collection):
            row = db.execute("SELECT hash, seen FROM old WHERE id = ?", (record["id"],)).fetchone()
            if row is None:
                tally.created += 1
                self.emit(Difference(collection, "created", record["id"], title_of(record)))
                db.execute("INSERT INTO old (id, seen) VALUES (?, 2)", (record["id"],))
                continue
            if row[1]:
                raise _duplicate(self.new, collection)
            db.execute("UPDATE old SET seen = 1 WHERE id = ?", (record["id"],))
            if row[0] == canonical_hash(record):
                tally.unchanged += 1
            else:
                db.execute("INSERT INTO changed VALUES (?, ?)", (record["id"], line))
        if db.execute("SELECT 1 FROM changed LIMIT 1").fetchone():
            self.on_progress("total", _count(self.old, collection))
            tally.changed = self._name_changes(collection)
        for record_id, title in db.execute("SELECT id, title FROM old WHERE seen = 0"):
            tally.deleted += 1
            self.emit(Difference(collection, "deleted", record_id, title))
        db.execute("COMMIT")
        return tally

    def _name_changes(self, collection: str) -> int:
        """Stream OLD again: each parked record gets its changed fields named."""
        count = 0
        for _, old_record in self._stream(self.old, collection):
            row = self.index.db.execute("SELECT line FROM changed WHERE id = ?",
                                        (old_record["id"],)).fetchone()
            if row is not None:
                new_record = jsoncodec.loads(row[0])
                count += 1
                self.emit(Difference(collection, "changed", new_record["id"], title_of(new_record),
                                     field_changes(old_record, new_record)))
        return count


def _count(reader: ArchiveReader, collection: str) -> int:
    if collection == MISSING_COLLECTION:
        return reader.manifest.missing.count
    entry = reader.manifest.collections.get(collection)
    return entry.records if entry else 0


def _duplicate(reader: ArchiveReader, collection: str) -> ArchiveInvalid:
    return ArchiveInvalid(f"{reader.label}: collection {collection!r} holds the same id twice; "
                          f"the archive is not one k2p wrote, run `k2p verify {reader.label}`")
