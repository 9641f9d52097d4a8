"""``k2p verify``: check an archive at the fast or the full level and list every problem.

fast: presence of every listed file, nothing unlisted, the layout, record-file sizes, blob count and
      total bytes (BagIt's "Oxum"), the manifest's own hash, and the sizes record files declare in
      their zstd frame headers (a decompression bomb is refused without decompressing it).
full: everything in fast, plus every file re-hashed in parallel, every record file decompressed
      and every line parsed (strict JSON, record envelope, header, record counts), blob contents
      equal to their names, and blob references of the ``files`` collection resolved. The checks on
      lines are the ones every reader applies (``ArchiveReader.iter_parsed``).
"""

from __future__ import annotations

import hashlib
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from k2p.archive.container import Container
from k2p.archive.opener import fingerprint_problem, open_container
from k2p.archive.format import (
    BLOBS_DIR, CHECKSUMS, MANIFEST, MISSING_COLLECTION, Manifest, blob_name_problem, load_manifest,
    parse_checksums,
)
from k2p.archive.reader import check_record_file, incomplete_message, record_files
from k2p.archive.records import iter_parsed
from k2p.errors import ArchiveInvalid, ExitCode, UnsupportedVersion

LEVELS = ("fast", "full")
BLOB_COLLECTIONS = ("files", "document_files")   # records whose `blob` must resolve


@dataclass(frozen=True)
class Problem:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@dataclass
class VerifyReport:
    """Outcome of a verification; ``status`` is ok, problems, incomplete or unsupported."""

    archive: str
    level: str
    status: str = "ok"
    fingerprint: str | None = None
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    files_checked: int = 0
    bytes_checked: int = 0
    seconds: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)   # volume set, encryption

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def exit_code(self) -> int:
        return {"ok": ExitCode.OK, "incomplete": ExitCode.ARCHIVE_INCOMPLETE,
                "unsupported": ExitCode.UNSUPPORTED}.get(self.status, ExitCode.ARCHIVE_INVALID)

    def add(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message))

    def to_dict(self) -> dict[str, Any]:
        return {"archive": self.archive, "level": self.level, "status": self.status,
                "fingerprint": self.fingerprint, "files_checked": self.files_checked,
                "bytes_checked": self.bytes_checked, "seconds": round(self.seconds, 3),
                "problems": [{"path": p.path, "message": p.message} for p in self.problems],
                "notes": self.notes, "container": self.details}


@dataclass
class _Hashed:
    path: str
    sha256: str
    size: int
    lines: int | None = None
    error: str | None = None
    blob_refs: list[tuple[int, str]] = field(default_factory=list)


def verify_archive(path: Path, *, level: str = "full", workers: int | None = None,
                   on_file: Callable[[int], None] | None = None) -> VerifyReport:
    """Verify the archive at ``path`` (directory or tar). ``on_file(bytes)`` reports progress."""
    if level not in LEVELS:
        raise ValueError(f"unknown verify level {level!r}")
    started = time.monotonic()
    with open_container(path) as container:
        report = VerifyReport(archive=container.label, level=level)
        _check(container, report, level, workers or max(2, os.cpu_count() or 2), on_file)
        _check_carrier(container, report, level, on_file)
        report.details = container.details
    report.seconds = time.monotonic() - started
    if report.status == "ok" and report.problems:
        report.status = "problems"
    return report


def _check(container: Container, report: VerifyReport, level: str, workers: int,
           on_file: Callable[[int], None] | None) -> None:
    for unsafe in container.unsafe:
        report.add(unsafe.path, f"unsafe entry: {unsafe.reason}")
    if not container.has(MANIFEST):
        report.status = "incomplete"
        report.add(MANIFEST, incomplete_message(container.label))
        return
    manifest = _load_manifest(container, report)
    if report.status == "unsupported":
        return
    sums = _load_checksums(container, report)
    _check_presence(container, report, sums)
    bombs: set[str] = set()
    if manifest is not None:
        _check_layout(container, report, manifest)
        _check_sizes(container, report, manifest)
        bombs = _check_declared_sizes(container, report, manifest)
    if sums is None:
        return
    if level == "full":
        # Unlisted blobs are hashed too: their content must still match their name.
        unlisted_blobs = {rel for rel in container.members if rel.startswith(BLOBS_DIR + "/")}
        paths = sorted(set(sums) | unlisted_blobs)
    else:
        paths = [rel for rel in (MANIFEST,) if rel in sums]
    _check_hashes(container, report, manifest, sums, paths, workers, on_file, bombs)


def _check_carrier(container: Container, report: VerifyReport, level: str,
                   on_file: Callable[[int], None] | None) -> None:
    """Volumes against their index (hashed at the full level) and the index's fingerprint."""
    for name, message in container.carrier_problems(full=level == "full", on_bytes=on_file):
        report.add(name, message)
    mixed = fingerprint_problem(container)
    if mixed is not None:
        report.add(*mixed)


def _load_manifest(container: Container, report: VerifyReport) -> Manifest | None:
    try:
        manifest = load_manifest(container.read_bytes(MANIFEST), origin=container.label)
    except UnsupportedVersion as exc:
        report.status = "unsupported"
        report.add(MANIFEST, exc.message)
        return None
    except ArchiveInvalid as exc:
        report.add(MANIFEST, f"manifest unreadable: {exc.message}")
        return None
    for name, entry in manifest.collections.items():
        # A shortfall is worth a note; more than announced is normal (e.g. deleted comments are kept,
        # while Kaiten's comments_total counts live ones: docs/FORMAT.md §2).
        if entry.expected is not None and entry.records < entry.expected:
            report.notes.append(f"collection {name}: the source announced {entry.expected} records, "
                                f"the archive holds {entry.records} (see missing.jsonl.zst)")
    return manifest


def _load_checksums(container: Container, report: VerifyReport) -> dict[str, str] | None:
    if not container.has(CHECKSUMS):
        report.add(CHECKSUMS, "missing: the archive cannot be checked without it")
        return None
    data = container.read_bytes(CHECKSUMS)
    report.fingerprint = hashlib.sha256(data).hexdigest()
    sums, defects = parse_checksums(data)
    for defect in defects:
        report.add(CHECKSUMS, defect)
    return sums


def _check_presence(container: Container, report: VerifyReport, sums: dict[str, str] | None) -> None:
    listed = set(sums or {})
    for rel in sorted(listed - set(container.members)):
        report.add(rel, "listed in SHA256SUMS but missing from the archive")
    if sums is None:
        return
    for rel in sorted(set(container.members) - listed - {CHECKSUMS}):
        report.add(rel, "unexpected file (not listed in SHA256SUMS)")


def _check_layout(container: Container, report: VerifyReport, manifest: Manifest) -> None:
    expected = {MANIFEST, CHECKSUMS, manifest.missing.file, *manifest.reports,
                *(entry.file for entry in manifest.collections.values())}
    for rel in sorted(container.members):
        if rel.startswith(BLOBS_DIR.split("/")[0] + "/"):
            reason = blob_name_problem(rel)
            if reason:
                report.add(rel, f"invalid blob entry: {reason}")
        elif rel not in expected:
            report.add(rel, "unexpected file (not part of the archive layout in the manifest)")
    for rel in sorted(expected - set(container.members)):
        if rel not in (CHECKSUMS,):
            report.add(rel, "named by the manifest but missing from the archive")


def _check_sizes(container: Container, report: VerifyReport, manifest: Manifest) -> None:
    files = [(entry.file, entry.bytes) for entry in manifest.collections.values()]
    files.append((manifest.missing.file, manifest.missing.bytes))
    for rel, size in files:
        member = container.members.get(rel)
        if member is not None and member.size != size:
            report.add(rel, f"size is {member.size} bytes, the manifest says {size} (truncated or "
                            f"altered)")
    blobs = [m for rel, m in container.members.items() if rel.startswith(BLOBS_DIR + "/")]
    count, total = len(blobs), sum(m.size for m in blobs)
    if (count, total) != (manifest.blobs.count, manifest.blobs.bytes):
        report.add(BLOBS_DIR, f"holds {count} blobs / {total} bytes, the manifest says "
                              f"{manifest.blobs.count} / {manifest.blobs.bytes}")


def _check_declared_sizes(container: Container, report: VerifyReport, manifest: Manifest) -> set[str]:
    """Record files whose frame headers are malformed or declare too much (never decompressed)."""
    refused = set()
    for rel in record_files(manifest):
        if container.has(rel):
            try:
                check_record_file(container, rel, name=rel)
            except ArchiveInvalid as exc:
                report.add(rel, _detail(exc.message, rel))
                refused.add(rel)
    return refused


def _detail(message: str, rel: str) -> str:
    """A reader's message without the file name the problem list already shows."""
    for prefix in (f"{rel}: ", f"{rel} ", f"record file {rel} "):
        message = message.removeprefix(prefix)
    return message


def _check_hashes(container: Container, report: VerifyReport, manifest: Manifest | None,
                  sums: dict[str, str], paths: list[str], workers: int,
                  on_file: Callable[[int], None] | None, refused: set[str]) -> None:
    files = record_files(manifest) if manifest is not None else {}
    # A refused record file is hashed but never decompressed.
    files = {rel: collection for rel, collection in files.items() if rel not in refused}
    targets = sorted((rel for rel in paths if rel in container.members),
                     key=lambda rel: -container.members[rel].size)

    def work(rel: str) -> _Hashed:
        known = container.known_digest(rel)
        if known is not None and rel not in files:     # hashed already while it was streamed
            result = _Hashed(path=rel, sha256=known, size=container.members[rel].size)
        else:
            result = _hash_member(container, rel, files.get(rel))
        if on_file is not None:
            on_file(result.size)
        return result

    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = {result.path: result for result in pool.map(work, targets)}
    for rel in paths:
        result = results.get(rel)
        if result is None:
            continue
        report.files_checked += 1
        report.bytes_checked += result.size
        listed = sums.get(rel)
        if listed is not None and result.sha256 != listed:
            report.add(rel, _mismatch_message(rel, result.sha256, listed, manifest))
        if result.error:
            report.add(rel, result.error)
        collection = files.get(rel)
        if collection is not None and manifest is not None and result.lines is not None:
            declared = (manifest.missing.count if collection == MISSING_COLLECTION
                        else manifest.collections[collection].records)
            if result.lines != declared:
                report.add(rel, f"record count mismatch: the file holds {result.lines} records, "
                                f"the manifest says {declared}")
        if rel.startswith(BLOBS_DIR + "/") and result.sha256 != rel.rsplit("/", 1)[-1]:
            report.add(rel, "blob content does not match its name (damaged or renamed blob)")
        for line_no, sha in result.blob_refs:
            if f"{BLOBS_DIR}/{sha[:2]}/{sha}" not in container.members:
                report.add(rel, f"line {line_no} references blob {sha}, which is not in the archive")


def _mismatch_message(rel: str, actual: str, listed: str, manifest: Manifest | None) -> str:
    witness = None
    if rel.startswith(BLOBS_DIR + "/"):
        witness = rel.rsplit("/", 1)[-1]
    elif manifest is not None:
        for entry in manifest.collections.values():
            if entry.file == rel:
                witness = entry.sha256
        if manifest.missing.file == rel:
            witness = manifest.missing.sha256
    if witness == actual:
        return (f"SHA256SUMS entry is damaged: it says {listed[:12]}…, but the file matches its "
                f"{'name' if rel.startswith(BLOBS_DIR) else 'manifest hash'} ({actual[:12]}…)")
    return f"checksum mismatch: SHA256SUMS says {listed[:12]}…, the file hashes to {actual[:12]}…"


def _hash_member(container: Container, rel: str, collection: str | None) -> _Hashed:
    digest = hashlib.sha256()
    size = 0
    result = _Hashed(path=rel, sha256="", size=0)

    def feed(chunk: bytes) -> None:
        nonlocal size
        digest.update(chunk)
        size += len(chunk)

    with container.open(rel) as handle:
        if collection is not None:
            try:
                result.lines = _count_records(handle, rel, collection, feed, result,
                                              container.members[rel].size)
            except ArchiveInvalid as exc:
                result.error = _detail(exc.message, rel)
        buffer = bytearray(1 << 20)
        view = memoryview(buffer)
        while count := handle.readinto(view):
            feed(view[:count])
    result.sha256 = digest.hexdigest()
    result.size = size
    return result


def _count_records(handle: Any, rel: str, collection: str, feed: Callable[[bytes], None],
                   result: _Hashed, compressed_size: int) -> int:
    count = 0
    for line_no, _, record in iter_parsed(handle, name=rel, collection=collection,
                                          compressed_size=compressed_size, on_compressed=feed):
        count += 1
        blob = record.get("blob") if collection in BLOB_COLLECTIONS else None
        if isinstance(blob, dict) and isinstance(blob.get("sha256"), str):
            result.blob_refs.append((line_no, blob["sha256"]))
    return count
