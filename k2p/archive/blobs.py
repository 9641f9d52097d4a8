"""Content-addressed, write-once blob storage: ``blobs/sha256/<2 hex>/<64 hex>``."""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Iterable

from k2p.archive.format import WORK_DIR, blob_path
from k2p.fileio import fsync_dir


@dataclass(frozen=True)
class BlobRef:
    """A stored blob: its SHA-256 (also its name) and size in bytes."""

    sha256: str
    size: int


class BlobSink:
    """A file-like target that hashes while writing and files the bytes under their hash on close.

    Use as a context manager; an exception inside the block (or :meth:`abort`) discards the bytes.
    After a successful exit, :attr:`ref` names the stored blob.
    """

    def __init__(self, store: "BlobStore") -> None:
        self._store = store
        fd, name = tempfile.mkstemp(prefix="blob-", suffix=".part", dir=store.work_dir)
        self._tmp = Path(name)
        self._handle = os.fdopen(fd, "wb")
        self._hash = hashlib.sha256()
        self.size = 0
        self.ref: BlobRef | None = None

    def write(self, data: bytes) -> int:
        self._handle.write(data)
        self._hash.update(data)
        self.size += len(data)
        return len(data)

    def abort(self) -> None:
        if not self._handle.closed:
            self._handle.close()
        self._tmp.unlink(missing_ok=True)

    def commit(self) -> BlobRef:
        """Make the bytes durable and move them to their content address (deduplicating)."""
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._handle.close()
        ref = BlobRef(self._hash.hexdigest(), self.size)
        self._store.adopt(self._tmp, ref)
        self.ref = ref
        return ref

    def __enter__(self) -> "BlobSink":
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()


class BlobStore:
    """Blob area of an archive being written."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.work_dir = root / WORK_DIR / "blobs"
        self.work_dir.mkdir(parents=True, exist_ok=True)

    def path_for(self, sha256: str) -> Path:
        return self.root / blob_path(sha256)

    def has(self, sha256: str) -> bool:
        return self.path_for(sha256).is_file()

    def sink(self) -> BlobSink:
        """Open a :class:`BlobSink` writing into this store."""
        return BlobSink(self)

    def put_bytes(self, data: bytes) -> BlobRef:
        return self.put_chunks([data])

    def put_chunks(self, chunks: Iterable[bytes]) -> BlobRef:
        with self.sink() as sink:
            for chunk in chunks:
                sink.write(chunk)
        assert sink.ref is not None
        return sink.ref

    def adopt(self, tmp: Path, ref: BlobRef) -> None:
        """Move a fully written, fsynced temp file to its address; drop it if already stored."""
        target = self.path_for(ref.sha256)
        if target.exists():
            tmp.unlink()
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, target)
        fsync_dir(target.parent)

    def discard_scratch(self) -> None:
        """Remove temp files of downloads that never finished (after a crash)."""
        for leftover in self.work_dir.glob("blob-*.part"):
            leftover.unlink(missing_ok=True)
