"""Writing an archive directory: record files, blobs, missing entries, reports, then the seal.

Sealing order (see docs/FORMAT.md): close record files, compute the manifest, write ``SHA256SUMS``
(which covers the manifest's bytes), write the manifest, and only then remove the writer's scratch
directory (with the export journal in it). The manifest's presence is the completeness marker, so a
crash before it leaves an archive that readers refuse as incomplete and the journal to resume from;
a crash after it leaves a complete archive whose scratch directory the rerun removes.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import orjson

from k2p.archive.blobs import BlobStore
from k2p.archive.format import (
    BLOBS_DIR, CHECKSUMS, MANIFEST, ChainInfo, MISSING_COLLECTION, RECORDS_DIR, REPORT_NAME, REPORTS_DIR,
    RECORD_SUFFIX, WORK_DIR, BlobSummary, CollectionEntry, CoverageEntry, ExporterInfo, Manifest,
    MissingSummary, SourceInfo, record_path,
)
from k2p.archive.records import FilePosition, RecordFileWriter, iter_parsed
from k2p.errors import ArchiveInvalid, Refused
from k2p.fileio import atomic_write_bytes, crash_point
from k2p.redaction import redact_bytes
from k2p.timestamps import utc_now

HASH_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class SealedArchive:
    """Result of :meth:`ArchiveWriter.finalize`."""

    root: Path
    manifest: Manifest
    fingerprint: str


class ArchiveWriter:
    """Build an archive directory. Not thread-safe for records; blobs may be stored concurrently."""

    def __init__(self, root: Path, *, resume: bool = False) -> None:
        self.root = root
        if (root / MANIFEST).exists():
            raise Refused(f"{root} is already a complete archive; choose another output directory "
                          f"or remove it to start over")
        if not resume and root.exists() and any(root.iterdir()):
            raise Refused(f"{root} is not empty; choose a new output directory")
        root.mkdir(parents=True, exist_ok=True)
        self.blobs = BlobStore(root)
        if resume:
            self.blobs.discard_scratch()
        self._writers: dict[str, RecordFileWriter] = {}

    @property
    def work_dir(self) -> Path:
        """Scratch space for the archive's writer (removed when sealed)."""
        path = self.root / WORK_DIR
        path.mkdir(parents=True, exist_ok=True)
        return path

    # --- records ---------------------------------------------------------------------------
    def records(self, collection: str) -> RecordFileWriter:
        """The writer of ``collection`` (created with its header on first use)."""
        writer = self._writers.get(collection)
        if writer is None:
            writer = RecordFileWriter(self.root / record_path(collection), collection)
            self._writers[collection] = writer
        return writer

    def add_missing(self, entry: dict[str, Any]) -> None:
        """Record something that could not be fetched; ``entry`` must carry a ``reason``."""
        if not entry.get("reason"):
            raise ValueError("a missing entry needs a reason")
        self.records(MISSING_COLLECTION).write({"kind": "missing", **entry})

    def write_report(self, name: str, data: dict[str, Any]) -> Path:
        """Write ``reports/<name>`` (a JSON document) atomically."""
        if not REPORT_NAME.match(name):
            raise ValueError(f"invalid report name {name!r}")
        target = self.root / REPORTS_DIR / name
        atomic_write_bytes(target, redact_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n"))
        return target

    def iter_written(self, collection: str) -> Iterator[dict[str, Any]]:
        """Records of ``collection`` written so far (made durable first); none if never opened."""
        path = self.root / record_path(collection)
        if collection in self._writers:
            self._writers[collection].checkpoint()
        elif not path.exists():
            return
        with open(path, "rb") as handle:
            for _, _, record in iter_parsed(handle, name=str(path), collection=collection):
                yield record

    def record_counts(self) -> dict[str, int]:
        """Records written so far per collection (the missing entries excluded)."""
        return {name: writer.records for name, writer in sorted(self._writers.items())
                if name != MISSING_COLLECTION}

    def missing_reasons(self) -> dict[str, int]:
        """How many missing entries exist per reason (reads the durable missing file)."""
        self.records(MISSING_COLLECTION).checkpoint()
        return self._count_missing_reasons()

    def missing_entries(self) -> Iterator[dict[str, Any]]:
        """Every missing entry written so far (reads the durable missing file)."""
        self.records(MISSING_COLLECTION).checkpoint()
        rel = record_path(MISSING_COLLECTION)
        with open(self.root / rel, "rb") as handle:
            for _, _, entry in iter_parsed(handle, name=rel, collection=MISSING_COLLECTION):
                yield entry

    def _count_missing_reasons(self) -> dict[str, int]:
        rel = record_path(MISSING_COLLECTION)
        with open(self.root / rel, "rb") as handle:
            reasons = Counter(str(entry.get("reason")) for _, _, entry in
                              iter_parsed(handle, name=rel, collection=MISSING_COLLECTION))
        return dict(sorted(reasons.items()))

    def prune_blobs(self, keep: set[str]) -> int:
        """Delete blobs no record refers to (left by a unit that was interrupted and redone)."""
        removed = 0
        blob_root = self.root / BLOBS_DIR
        for path in blob_root.glob("*/*") if blob_root.exists() else []:
            if path.name not in keep:
                path.unlink()
                removed += 1
        return removed

    # --- resume ----------------------------------------------------------------------------
    def checkpoint(self) -> dict[str, FilePosition]:
        """Close the current frame of every record file and make it durable."""
        return {name: writer.checkpoint() for name, writer in self._writers.items()}

    def restore(self, positions: dict[str, FilePosition]) -> None:
        """Resume from a :meth:`checkpoint`: truncate record files to it, drop newer ones."""
        for writer in self._writers.values():
            writer.close()
        self._writers = {}
        records_dir = self.root / RECORDS_DIR
        known = {record_path(name) for name in positions}
        for path in [*records_dir.glob(f"*{RECORD_SUFFIX}"), self.root / record_path(MISSING_COLLECTION)]:
            if path.exists() and path.relative_to(self.root).as_posix() not in known:
                path.unlink()
        for name, position in positions.items():
            self._writers[name] = RecordFileWriter(self.root / record_path(name), name,
                                                   resume_at=position)

    # --- sealing ---------------------------------------------------------------------------
    def finalize(self, *, source: SourceInfo, exporter_version: str, created_at: str,
                 scope: dict[str, Any] | None = None, expected: dict[str, int] | None = None,
                 archive_id: str | None = None, chain: ChainInfo | None = None,
                 coverage: dict[str, CoverageEntry] | None = None) -> SealedArchive:
        """Seal the archive: write ``SHA256SUMS`` and then the manifest. Returns the fingerprint."""
        self.records(MISSING_COLLECTION)  # the missing file always exists, possibly empty
        positions = {name: writer.close() for name, writer in self._writers.items()}
        sums: dict[str, str] = {}
        collections: dict[str, CollectionEntry] = {}
        for name in sorted(positions):
            if name == MISSING_COLLECTION:
                continue
            rel = record_path(name)
            sums[rel] = sha256_file(self.root / rel)
            collections[name] = CollectionEntry(
                file=rel, records=positions[name].records, bytes=positions[name].offset,
                sha256=sums[rel], expected=(expected or {}).get(name))
        missing = self._summarise_missing(positions[MISSING_COLLECTION], sums)
        blobs = self._summarise_blobs(sums)
        reports = self._summarise_reports(sums)
        self._refuse_strays(set(sums))
        manifest = Manifest(
            archive_id=archive_id or str(uuid.uuid4()), created_at=created_at, completed_at=utc_now(),
            exporter=ExporterInfo(version=exporter_version), source=source, scope=scope or {},
            collections=collections, blobs=blobs, missing=missing, reports=reports, chain=chain,
            coverage=coverage)
        # optional fields are absent, not null: ``chain`` only in incremental exports, ``coverage``
        # only where the exporter recorded it
        omit = {name for name, value in (("chain", chain), ("coverage", coverage)) if value is None}
        manifest_bytes = manifest.model_dump_json(indent=2, exclude=omit or None).encode("utf-8") + b"\n"
        sums[MANIFEST] = hashlib.sha256(manifest_bytes).hexdigest()
        checksum_bytes = render_checksums(sums)
        crash_point("seal:checksums")
        atomic_write_bytes(self.root / CHECKSUMS, checksum_bytes)
        crash_point("seal:manifest")
        atomic_write_bytes(self.root / MANIFEST, manifest_bytes)
        crash_point("seal:cleanup")
        if (self.root / WORK_DIR).exists():
            shutil.rmtree(self.root / WORK_DIR)
        return SealedArchive(self.root, manifest, hashlib.sha256(checksum_bytes).hexdigest())

    def _summarise_missing(self, position: FilePosition, sums: dict[str, str]) -> MissingSummary:
        rel = record_path(MISSING_COLLECTION)
        sums[rel] = sha256_file(self.root / rel)
        return MissingSummary(file=rel, count=position.records, bytes=position.offset,
                              sha256=sums[rel], by_reason=self._count_missing_reasons())

    def _summarise_blobs(self, sums: dict[str, str]) -> BlobSummary:
        count = size = 0
        blob_root = self.root / BLOBS_DIR
        if blob_root.exists():
            for fan in sorted(os.scandir(blob_root), key=lambda entry: entry.name):
                for entry in sorted(os.scandir(fan.path), key=lambda item: item.name):
                    # Names were computed while writing; hashing gigabytes again would add nothing.
                    sums[f"{BLOBS_DIR}/{fan.name}/{entry.name}"] = entry.name
                    count += 1
                    size += entry.stat(follow_symlinks=False).st_size
        return BlobSummary(count=count, bytes=size)

    def _summarise_reports(self, sums: dict[str, str]) -> list[str]:
        reports_dir = self.root / REPORTS_DIR
        names = sorted(path.name for path in reports_dir.glob("*.json")) if reports_dir.exists() else []
        for name in names:
            sums[f"{REPORTS_DIR}/{name}"] = sha256_file(reports_dir / name)
        return [f"{REPORTS_DIR}/{name}" for name in names]

    def _refuse_strays(self, accounted: set[str]) -> None:
        for dirpath, dirnames, filenames in os.walk(self.root):
            if Path(dirpath) == self.root and WORK_DIR in dirnames:
                dirnames.remove(WORK_DIR)  # removed once the manifest is durable
            for filename in filenames:
                rel = (Path(dirpath) / filename).relative_to(self.root).as_posix()
                if rel not in accounted and rel not in (MANIFEST, CHECKSUMS):
                    raise ArchiveInvalid(f"unexpected file {rel} in archive directory {self.root}; "
                                         f"remove it and run the command again")


def render_checksums(sums: dict[str, str]) -> bytes:
    """``SHA256SUMS`` in coreutils format, sorted by path so that it is deterministic."""
    return "".join(f"{digest}  {path}\n" for path, digest in sorted(sums.items())).encode("utf-8")
