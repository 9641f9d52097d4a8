"""Carrying a card's data over from PREVIOUS: its records as a fetch would have returned them,
and its file blobs — hard-linked when PREVIOUS is a directory on the same filesystem, copied
(and hashed on the way) otherwise."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from k2p.archive.blobs import BlobRef, BlobStore
from k2p.archive.container import open_container
from k2p.archive.format import blob_path
from k2p.errors import ArchiveInvalid
from k2p.fileio import fsync_dir
from k2p.kaiten.delta.previous import PreviousIndex, document_file_key
from k2p.kaiten.files import FileOutcome, file_key

COPY_CHUNK = 1 << 20


class CardCarrier:
    """What the card exporter asks of PREVIOUS for one card (thread-safe)."""

    def __init__(self, previous: Path, index: PreviousIndex, store: BlobStore,
                 plan: dict[str, list[str]]) -> None:
        self.previous = previous
        self.index = index
        self.store = store
        self.plan = plan
        self._container = open_container(previous)
        self._lock = threading.Lock()
        self._unsynced: set[Path] = set()  # blob directories with links not yet made durable
        self.linked = self.copied = 0

    def close(self) -> None:
        self._container.close()

    def place_all(self) -> None:
        """Place every blob PREVIOUS stored, then sync once: ≤ 256 directory syncs instead of one
        per file. Blobs no record of the new archive names are pruned when it is sealed."""
        for sha256 in self.index.stored_blobs():
            self._place(sha256)
        self.sync()

    def sync(self) -> None:
        """Make the links placed so far durable (before the unit that wrote them is committed)."""
        with self._lock:
            directories, self._unsynced = self._unsynced, set()
        for directory in sorted(directories):
            fsync_dir(directory)

    def parts(self, card_id: str) -> list[str]:
        """The parts of ``card_id`` to read again (empty: carry the card over whole)."""
        return self.plan.get(card_id, [])

    def card(self, card_id: str) -> dict[str, Any] | None:
        record = self.index.card_record(card_id)
        return None if record is None else record["raw"]

    def sub_list(self, card_id: str, collection: str) -> list[dict[str, Any]]:
        return [record["raw"] for record in self.index.sub_records(collection, card_id)]

    def file(self, file: dict[str, Any]) -> FileOutcome | None:
        """The blob PREVIOUS stored for this file reference, placed into the new archive, or ``None``
        when PREVIOUS has none or the reference changed (other URL or declared size)."""
        stored = self.index.stored_file(file_key(file))
        if stored is None:
            return None
        url, size, sha256, blob_size = stored
        if url != _text(file.get("url")) or size != _text(file.get("size")):
            return None
        self._place(sha256)
        return FileOutcome("stored", blob=BlobRef(sha256, blob_size), carried=True)

    def document_file(self, url: str, size: Any) -> FileOutcome | None:
        """The blob PREVIOUS stored for a document's image or file at ``url`` (same declared size),
        placed into the new archive, or ``None``."""
        stored = self.index.stored_file(document_file_key(url))
        if stored is None or stored[1] != _text(size):
            return None
        self._place(stored[2])
        return FileOutcome("stored", blob=BlobRef(stored[2], stored[3]), carried=True)

    def _place(self, sha256: str) -> None:
        target = self.store.path_for(sha256)
        if target.exists():
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        if self.previous.is_dir():
            try:
                os.link(self.previous / blob_path(sha256), target)
            except FileExistsError:
                return
            except OSError:
                pass  # another filesystem, or links not allowed: copy
            else:
                with self._lock:
                    self._unsynced.add(target.parent)
                    self.linked += 1
                return
        with self._container.open(blob_path(sha256)) as source, self.store.sink() as sink:
            while chunk := source.read(COPY_CHUNK):
                sink.write(chunk)
        if sink.ref is None or sink.ref.sha256 != sha256:
            raise ArchiveInvalid(f"--since {self.previous}: blob {sha256} changed while it was copied; "
                                 f"run `k2p verify {self.previous}`")
        with self._lock:
            self.copied += 1


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
