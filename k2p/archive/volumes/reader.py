"""Reading a volume set in place: presence and sizes, one seekable stream, per-volume checks."""

from __future__ import annotations

import bisect
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from k2p.archive.volumes.index import VolumeIndex, find_index, index_path_for, load_index, volume_base
from k2p.errors import ArchiveIncomplete, ArchiveInvalid

HASH_CHUNK = 1 << 20


class ConcatReader:
    """The volumes of a set as one read-only, seekable binary file (one volume open at a time)."""

    def __init__(self, paths: list[Path], sizes: list[int], label: str) -> None:
        self.name = label
        self._paths, self._sizes = paths, sizes
        self._starts = [0]
        for size in sizes:
            self._starts.append(self._starts[-1] + size)
        self._size = self._starts[-1]
        self._position = 0
        self._open_index: int | None = None
        self._handle = None
        self.closed = False

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def writable(self) -> bool:
        return False

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._position, os.SEEK_END: self._size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def _volume_at(self, position: int) -> int:
        return bisect.bisect_right(self._starts, position) - 1

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = self._size - self._position
        parts = []
        while size > 0 and self._position < self._size:
            number = self._volume_at(self._position)
            if self._open_index != number:
                if self._handle is not None:
                    self._handle.close()
                self._handle = open(self._paths[number], "rb")
                self._open_index = number
            inner = self._position - self._starts[number]
            self._handle.seek(inner)
            data = self._handle.read(min(size, self._sizes[number] - inner))
            if not data:
                raise ArchiveInvalid(f"{self._paths[number]}: shorter than the index says (it changed "
                                     f"while being read?)")
            parts.append(data)
            self._position += len(data)
            size -= len(data)
        return b"".join(parts)

    def readinto(self, buffer: bytearray | memoryview) -> int:
        data = self.read(len(buffer))
        memoryview(buffer)[: len(data)] = data
        return len(data)

    def volume_of(self, position: int) -> Path:
        return self._paths[min(self._volume_at(position), len(self._paths) - 1)]

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
        self._handle = None
        self.closed = True

    def __enter__(self) -> "ConcatReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class VolumeSet:
    """A complete, present volume set (sizes checked against the index)."""

    index_path: Path
    index: VolumeIndex
    paths: list[Path]

    @property
    def label(self) -> str:
        return str(self.index_path.with_name(self.index.archive)) + f" ({len(self.paths)} volumes)"

    def open(self) -> ConcatReader:
        return ConcatReader(self.paths, [entry.size for entry in self.index.volumes], self.label)

    def head(self, size: int) -> bytes:
        with self.open() as reader:
            return reader.read(size)

    def hash_problems(self, on_bytes: Callable[[int], None] | None = None) -> list[tuple[str, str]]:
        """``(volume name, problem)`` for every volume whose SHA-256 differs from the index."""
        problems = []
        for path, entry in zip(self.paths, self.index.volumes):
            digest = _hash_file(path, on_bytes)
            if digest != entry.sha256:
                problems.append((entry.name, damaged_message(entry.sha256, digest)))
        return problems

    def details(self) -> dict[str, object]:
        return {"index": str(self.index_path), "archive": self.index.archive,
                "volumes": len(self.paths), "volume_size": self.index.volume_size,
                "bytes": self.index.size, "sha256": self.index.sha256,
                "fingerprint": self.index.fingerprint, "encrypted": self.index.encrypted}


def damaged_message(expected: str, actual: str) -> str:
    return (f"damaged: SHA-256 is {actual[:12]}…, the volume index says {expected[:12]}… — copy this "
            f"volume again")


def _hash_file(path: Path, on_bytes: Callable[[int], None] | None) -> str:
    digest = hashlib.sha256()
    buffer = bytearray(HASH_CHUNK)
    view = memoryview(buffer)
    with open(path, "rb") as handle:
        while count := handle.readinto(view):
            digest.update(view[:count])
            if on_bytes is not None:
                on_bytes(count)
    return digest.hexdigest()


def _check_present(path: Path, expected: int, number: int, count: int) -> None:
    if path.is_symlink():
        raise ArchiveInvalid(f"{path} is a symbolic link; copy the real volume")
    if not path.is_file():
        raise ArchiveIncomplete(f"{path} is missing (volume {number} of {count}); copy it next to "
                                f"the other volumes and run the command again")
    size = path.stat().st_size
    if size != expected:
        raise ArchiveInvalid(f"{path} (volume {number} of {count}) is {size} bytes, the volume index "
                             f"says {expected} — truncated or altered copy; copy it again")


def open_volume_set(path: Path) -> VolumeSet:
    """The set ``path`` (its index or one of its volumes) belongs to, every volume checked present."""
    index_path = find_index(path)
    index = load_index(index_path)
    base = index_path.with_name(index.archive)
    named = volume_base(path)
    if named is not None and named[0].name != index.archive:
        raise ArchiveInvalid(f"{path}: the index next to it ({index_path.name}) describes "
                             f"{index.archive}, not {named[0].name}")
    paths = [base.with_name(entry.name) for entry in index.volumes]
    for number, (volume, entry) in enumerate(zip(paths, index.volumes), start=1):
        _check_present(volume, entry.size, number, len(paths))
    return VolumeSet(index_path, index, paths)


@dataclass(frozen=True)
class VolumeCheck:
    """The verdict on one volume checked alone."""

    path: str
    number: int
    count: int
    archive: str
    status: str           # intact | damaged | wrong_size | not_in_index
    message: str
    sha256: str | None
    fingerprint: str | None

    @property
    def ok(self) -> bool:
        return self.status == "intact"


def check_volume(path: Path) -> VolumeCheck:
    """Which volume ``path`` is and whether its bytes match the index (needs only the index)."""
    named = volume_base(path)
    if named is None:
        raise ArchiveInvalid(f"{path}: not a volume name (NAME.001, NAME.002, …)")
    index_path = find_index(path)
    index = load_index(index_path)
    if not path.is_file() or path.is_symlink():
        raise ArchiveIncomplete(f"{path}: no such volume file")
    number = index.number_of(path.name)
    if number is None:
        return VolumeCheck(str(path), named[1], len(index.volumes), index.archive, "not_in_index",
                           f"not part of the set {index.archive} described by {index_path.name}",
                           None, index.fingerprint)
    entry = index.volumes[number - 1]
    size = path.stat().st_size
    if size != entry.size:
        return VolumeCheck(str(path), number, len(index.volumes), index.archive, "wrong_size",
                           f"is {size} bytes, the index says {entry.size} — truncated or altered; "
                           f"copy it again", None, index.fingerprint)
    digest = _hash_file(path, None)
    if digest != entry.sha256:
        return VolumeCheck(str(path), number, len(index.volumes), index.archive, "damaged",
                           damaged_message(entry.sha256, digest), digest, index.fingerprint)
    return VolumeCheck(str(path), number, len(index.volumes), index.archive, "intact",
                       "intact (size and SHA-256 match the index)", digest, index.fingerprint)


def looks_like_volume_set(path: Path) -> bool:
    """Is ``path`` an index or a NAME.NNN volume (judged by name and the index next to it)?"""
    from k2p.archive.volumes.index import is_index_path

    if is_index_path(path):
        return True
    base = volume_base(path)
    return base is not None and (index_path_for(base[0]).exists() or base[1] == 1)
