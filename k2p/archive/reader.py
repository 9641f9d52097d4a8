"""Reading a complete archive (directory or tar) as streams of records and blobs."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, BinaryIO, Iterator

from k2p import jsoncodec
from k2p.archive.container import Container, open_container
from k2p.archive.format import (
    CHECKSUMS, MANIFEST, MISSING_COLLECTION, Manifest, blob_path, load_manifest, record_path,
)
from k2p.archive.records import check_header, declared_content_size, iter_lines, iter_parsed
from k2p.errors import ArchiveIncomplete, ArchiveInvalid, K2PError


def refuse_unsafe(container: Container) -> None:
    """Raise when the container holds anything a reader must not touch."""
    if container.unsafe:
        first = container.unsafe[0]
        more = f" (and {len(container.unsafe) - 1} more)" if len(container.unsafe) > 1 else ""
        raise ArchiveInvalid(f"{container.label}: unsafe entry {first.path!r}: {first.reason}{more}; "
                             f"refusing to read it — run `k2p verify` for the full list")


def check_record_file(container: Container, rel: str, *, name: str | None = None) -> int:
    """The declared decompressed size of record file ``rel``, refusing a decompression bomb
    without decompressing anything (see :func:`declared_content_size`)."""
    with container.open(rel) as handle:
        return declared_content_size(handle, name=name or f"{container.label}/{rel}",
                                     compressed_size=container.require(rel).size)


def record_files(manifest: Manifest) -> dict[str, str]:
    """``{record file path: collection}`` for every record file the manifest names."""
    files = {entry.file: name for name, entry in manifest.collections.items()}
    files[manifest.missing.file] = MISSING_COLLECTION
    return files


def check_record_files(container: Container, manifest: Manifest) -> None:
    """:func:`check_record_file` for every record file the manifest names and the archive holds."""
    for rel in record_files(manifest):
        if container.has(rel):
            check_record_file(container, rel)


def incomplete_message(label: str) -> str:
    return (f"{label}: incomplete archive (no {MANIFEST}): the export that wrote it did not finish; "
            f"rerun the same `k2p export` command to resume it")


class ArchiveReader:
    """A complete archive opened for reading. Use as a context manager."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.container = open_container(path)
        try:
            refuse_unsafe(self.container)
            if not self.container.has(MANIFEST):
                raise ArchiveIncomplete(incomplete_message(self.container.label))
            self.manifest: Manifest = load_manifest(self.container.read_bytes(MANIFEST),
                                                    origin=self.container.label)
        except BaseException:
            self.container.close()
            raise

    @property
    def label(self) -> str:
        return self.container.label

    def fingerprint(self) -> str | None:
        """SHA-256 of ``SHA256SUMS``: compare it on both sides of an air gap."""
        if not self.container.has(CHECKSUMS):
            return None
        return hashlib.sha256(self.container.read_bytes(CHECKSUMS)).hexdigest()

    def has_collection(self, collection: str) -> bool:
        return collection in self.manifest.collections

    def _record_file(self, collection: str) -> tuple[str, int, str]:
        """Path, record count and hash of ``collection``'s record file, from the manifest."""
        if collection == MISSING_COLLECTION:
            missing = self.manifest.missing
            return record_path(MISSING_COLLECTION), missing.count, missing.sha256
        entry = self.manifest.collections.get(collection)
        if entry is None:
            known = ", ".join(sorted(self.manifest.collections)) or "none"
            raise K2PError(f"{self.label}: no collection {collection!r} in this archive "
                           f"(collections: {known}, missing)", exit_code=ArchiveInvalid.exit_code)
        return entry.file, entry.records, entry.sha256

    def check_record_files(self) -> None:
        """Refuse the archive if any record file is a decompression bomb (headers only; cheap)."""
        check_record_files(self.container, self.manifest)

    def iter_parsed(self, collection: str) -> Iterator[tuple[bytes, dict[str, Any]]]:
        """Stream ``(line, record)`` of ``collection`` (``missing`` for the missing entries).

        Each line gets the checks of full verification (bounded decompression, strict JSON,
        envelope), and the file is hashed in the same pass: a file that does not match the
        manifest's hash or record count fails once fully read.
        """
        def parsed(handle: BinaryIO, name: str, size: int, feed: Any) -> Iterator[tuple[bytes, dict[str, Any]]]:
            for _, line, record in iter_parsed(handle, name=name, collection=collection,
                                               compressed_size=size, on_compressed=feed):
                yield line, record
        yield from self._hashed(collection, parsed)

    def iter_unparsed_lines(self, collection: str) -> Iterator[bytes]:
        """Stream the record lines of ``collection`` without parsing them (the header is checked,
        the file hashed and counted as in :meth:`iter_parsed`). For callers that verified the
        archive in full first and parse only what they need."""
        def unparsed(handle: BinaryIO, name: str, size: int, feed: Any) -> Iterator[bytes]:
            lines = iter_lines(handle, name=name, compressed_size=size, on_compressed=feed)
            first = next(lines, None)
            if first is None:
                raise ArchiveInvalid(f"{name}: empty record file (no header line)")
            check_header(first[1], name=name, collection=collection)
            for _, line in lines:
                yield line
        yield from self._hashed(collection, unparsed)

    def _hashed(self, collection: str, read: Any) -> Iterator[Any]:
        """Items of ``read(handle, name, compressed size, feed)`` over ``collection``'s record file,
        hashed and counted against the manifest once fully read."""
        rel, count, sha256 = self._record_file(collection)
        name = f"{self.label}/{rel}"
        check_record_file(self.container, rel, name=name)
        digest = hashlib.sha256()
        seen = 0
        with self.container.open(rel) as handle:
            for item in read(handle, name, self.container.members[rel].size, digest.update):
                seen += 1
                yield item
        if digest.hexdigest() != sha256 or seen != count:
            raise ArchiveInvalid(f"{name}: does not match the manifest (hash or record count "
                                 f"differs); the file is damaged, run `k2p verify {self.label}`")

    def iter_records(self, collection: str) -> Iterator[dict[str, Any]]:
        """Stream the records of ``collection`` (``missing`` for the missing entries)."""
        for _, record in self.iter_parsed(collection):
            yield record

    def iter_record_lines(self, collection: str) -> Iterator[bytes]:
        """Stream the JSON lines of ``collection`` as stored (each one checked)."""
        for line, _ in self.iter_parsed(collection):
            yield line

    def select_lines(self, collection: str, *, record_id: str | None = None,
                     raw: bool = False) -> Iterator[bytes]:
        """JSON lines for ``k2p cat``: every record as stored, or only the one with ``record_id``,
        or (``raw``) just the source payloads. Each line is parsed once."""
        if record_id is None and not raw:
            yield from self.iter_record_lines(collection)
            return
        for record in self.iter_records(collection):
            if record_id is None or str(record.get("id")) == record_id:
                yield jsoncodec.dumps(record.get("raw") if raw else record)

    def open_blob(self, sha256: str) -> BinaryIO:
        """Open a blob by its hash (validated as 64 hex before any path is built)."""
        return self.container.open(blob_path(sha256))

    def close(self) -> None:
        self.container.close()

    def __enter__(self) -> "ArchiveReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
