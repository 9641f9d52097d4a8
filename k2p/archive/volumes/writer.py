"""Cutting a byte stream into volumes; the index is written last, when the set is complete."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from k2p.archive.volumes.index import (
    MAX_VOLUMES, VolumeEntry, VolumeIndex, index_path_for, render_sums, sums_path_for, volume_name,
)
from k2p.errors import ExitCode, K2PError, Refused
from k2p.fileio import atomic_write_bytes, fsync_dir


def set_paths(single: Path) -> list[Path]:
    """Files of an existing set (or single file) that a new pack must not overwrite."""
    index = index_path_for(single)
    taken = [path for path in (single, index, sums_path_for(index)) if path.exists()]
    taken += sorted(single.parent.glob(f"{single.name}.[0-9][0-9][0-9]"))
    return taken


def refuse_existing(single: Path) -> None:
    taken = set_paths(single)
    if taken:
        raise Refused(f"{taken[0]} already exists; remove it (and the rest of that set) or pass "
                      f"another -o FILE")


class VolumeWriter:
    """A write-only stream that becomes ``single.001``, ``single.002``, … and the index."""

    def __init__(self, single: Path, volume_size: int) -> None:
        if volume_size < 1:
            raise K2PError("--volume-size must be at least 1 byte", exit_code=ExitCode.USAGE)
        self.single = single
        self.volume_size = volume_size
        self._temps: list[Path] = []
        self._entries: list[VolumeEntry] = []
        self._total = hashlib.sha256()
        self._size = 0
        self._handle = None
        self._digest = hashlib.sha256()
        self._used = 0
        single.parent.mkdir(parents=True, exist_ok=True)

    def _next(self) -> None:
        self._finish_volume()
        number = len(self._temps) + 1
        if number > MAX_VOLUMES:
            raise K2PError(f"--volume-size {self.volume_size} would need more than {MAX_VOLUMES} "
                           f"volumes; choose a larger size", exit_code=ExitCode.USAGE)
        name = volume_name(self.single.name, number)
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=self.single.parent)
        self._temps.append(Path(tmp))
        self._handle = os.fdopen(fd, "wb")
        self._digest = hashlib.sha256()
        self._used = 0

    def _finish_volume(self) -> None:
        if self._handle is None:
            return
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._handle.close()
        self._handle = None
        number = len(self._temps)
        self._entries.append(VolumeEntry(name=volume_name(self.single.name, number), size=self._used,
                                         sha256=self._digest.hexdigest()))

    def write(self, data: bytes | bytearray | memoryview) -> int:
        view = memoryview(data).cast("B")
        while view:
            if self._handle is None or self._used >= self.volume_size:
                self._next()
            part = view[: self.volume_size - self._used]
            self._handle.write(part)          # type: ignore[union-attr]
            self._digest.update(part)
            self._total.update(part)
            self._used += len(part)
            self._size += len(part)
            view = view[len(part):]
        return len(data)

    def flush(self) -> None:
        return None

    def close(self, *, encrypted: bool, fingerprint: str | None) -> tuple[VolumeIndex, Path, list[Path]]:
        """Make the set durable: volumes renamed into place, then the index and its checksums."""
        if self._handle is None and not self._temps:
            self._next()                        # an empty stream still makes one (empty) volume
        self._finish_volume()
        finals = []
        for temp, entry in zip(self._temps, self._entries):
            final = self.single.with_name(entry.name)
            os.replace(temp, final)
            finals.append(final)
        self._temps = []
        fsync_dir(self.single.parent)
        index = VolumeIndex(archive=self.single.name, encrypted=encrypted, size=self._size,
                            sha256=self._total.hexdigest(), fingerprint=fingerprint,
                            volume_size=self.volume_size, volumes=self._entries)
        index_path = index_path_for(self.single)
        data = index.model_dump_json(indent=2).encode() + b"\n"
        atomic_write_bytes(index_path, data)
        atomic_write_bytes(sums_path_for(index_path),
                           render_sums(index, hashlib.sha256(data).hexdigest(), index_path.name))
        return index, index_path, finals

    def abort(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None
        for temp in self._temps:
            temp.unlink(missing_ok=True)
        self._temps = []


def parse_size(text: str) -> int:
    """``4G`` → 4 000 000 000 (K, M, G, T are decimal, like disk makers; KiB, MiB, GiB, TiB binary)."""
    import re

    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([KMGT]?)(i?)B?\s*", text, re.IGNORECASE)
    if not match:
        raise K2PError(f"--volume-size {text!r}: expected a size such as 4G, 700M, 2GiB or 1000000",
                       exit_code=ExitCode.USAGE)
    number, unit, binary = match.groups()
    power = "KMGT".find(unit.upper()) + 1 if unit else 0
    size = int(float(number) * ((1024 if binary else 1000) ** power))
    if size < 1:
        raise K2PError(f"--volume-size {text!r} is less than one byte", exit_code=ExitCode.USAGE)
    return size
