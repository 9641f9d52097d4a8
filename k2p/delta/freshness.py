"""The freshness guard: never let an older archive revert what a newer one already applied.

An archive's stamp is its manifest's ``archive_id``, ``created_at`` (the export's start), the
verified fingerprint and, when the export was incremental, ``chain.previous`` (the archive it
was built on). The ledger keeps the stamp of every archive an import started to apply
(:meth:`~k2p.planka.ledger.Ledger.record_archive`), recorded before the first write so that an
interrupted import counts too. A new archive is older when an applied archive names it in its
chain, or when its export started before the newest applied one (and its own chain does not name
that one as its ancestor). Re-running the same archive is always allowed (that is how an
interrupted import resumes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from k2p.archive.reader import ArchiveReader
from k2p.errors import Refused
from k2p.planka.ledger import Ledger
from k2p.timestamps import parse_time


@dataclass(frozen=True)
class ArchiveStamp:
    archive_id: str
    created_at: str
    fingerprint: str | None
    previous_id: str | None = None      # chain.previous.archive_id (incremental exports)

    def as_record(self) -> dict[str, Any]:
        return {"archive_id": self.archive_id, "created_at": self.created_at,
                "fingerprint": self.fingerprint, "previous": self.previous_id}


def _chain_previous(reader: ArchiveReader) -> str | None:
    """``chain.previous.archive_id`` of an incremental archive's manifest (None for a full one)."""
    chain = reader.manifest.chain
    return None if chain is None else str(chain.previous.archive_id)[:200]


def stamp_of(reader: ArchiveReader, fingerprint: str | None) -> ArchiveStamp:
    manifest = reader.manifest
    return ArchiveStamp(str(manifest.archive_id), str(manifest.created_at), fingerprint, _chain_previous(reader))


def _moment(value: object) -> float | None:
    moment = parse_time(value) if isinstance(value, str) else None
    return moment.timestamp() if moment else None


def older_than_applied(ledger: Ledger, stamp: ArchiveStamp) -> dict[str, Any] | None:
    """The applied archive that ``stamp`` is older than, or None when it may be applied."""
    applied = ledger.archives()
    if not applied or any(saved.get("archive_id") == stamp.archive_id for saved in applied[-1:]):
        return None
    for saved in applied:                       # an applied archive was built on this one
        if saved.get("previous") == stamp.archive_id:
            return saved
    newest = max(applied, key=lambda saved: _moment(saved.get("created_at")) or 0.0)
    if stamp.previous_id is not None and stamp.previous_id == newest.get("archive_id"):
        return None                             # built on the newest applied one
    mine, theirs = _moment(stamp.created_at), _moment(newest.get("created_at"))
    if mine is not None and theirs is not None and mine < theirs:
        return newest
    return None


def guard(ledger: Ledger, stamp: ArchiveStamp, *, allow_older: bool, archive: str) -> None:
    """Refuse (exit 8) an archive older than one already applied with ``ledger``."""
    newer = older_than_applied(ledger, stamp)
    if newer is None or allow_older:
        return
    raise Refused(f"{archive}: exported {stamp.created_at} (archive {stamp.archive_id}), older than "
                  f"archive {newer.get('archive_id')} exported {newer.get('created_at')} that ledger "
                  f"{ledger.path} already applied; importing it would revert newer edits — import the "
                  f"newest archive, or pass --allow-older to do it anyway")


def record(ledger: Ledger, stamp: ArchiveStamp, *, applied_at: str, completed: bool) -> None:
    """Remember that ``stamp`` is being (or was) applied with this ledger."""
    earlier = next((saved for saved in ledger.archives() if saved.get("archive_id") == stamp.archive_id), {})
    ledger.record_archive({**stamp.as_record(), "first_applied_at": earlier.get("first_applied_at", applied_at),
                           "applied_at": applied_at, "completed": completed or bool(earlier.get("completed"))})
