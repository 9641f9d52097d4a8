"""Uniform, read-only, hostile-input-safe access to an archive as a directory or a ``.k2p.tar``.

Neither form is ever extracted to disk to be read: a tar is indexed once (member offsets) and each
member is read straight from the tar's bytes — a file, a volume set read in place, or a decrypted
buffer (:mod:`k2p.archive.opener` chooses). Symlinks are never followed; unsafe tar members
(absolute paths, ``..``, links, devices) are reported and cannot be opened.
"""

from __future__ import annotations

import os
import stat
import tarfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, Callable

from k2p.errors import ArchiveInvalid


@dataclass(frozen=True)
class Member:
    """A regular file inside the archive."""

    path: str
    size: int


@dataclass(frozen=True)
class Unsafe:
    """Something inside the archive that a reader must not touch."""

    path: str
    reason: str


class Container:
    """Base class: an index of members plus a way to open them."""

    label: str
    members: dict[str, Member]
    unsafe: list[Unsafe]
    # How the archive was carried (volume set, encryption), for reports; empty for a plain form.
    details: dict[str, Any] = {}

    def open(self, path: str) -> BinaryIO:
        raise NotImplementedError

    def known_digest(self, path: str) -> str | None:
        """The SHA-256 of ``path`` when it was already computed while reading (streamed forms)."""
        return None

    def carrier_problems(self, *, full: bool,
                         on_bytes: Callable[[int], None] | None = None) -> list[tuple[str, str]]:
        """``(file, problem)`` about how the archive was carried (volumes, ciphertext)."""
        return []

    def has(self, path: str) -> bool:
        return path in self.members

    def read_bytes(self, path: str) -> bytes:
        with self.open(path) as handle:
            return handle.read()

    def require(self, path: str) -> Member:
        member = self.members.get(path)
        if member is None:
            raise ArchiveInvalid(f"{self.label}: {path} is missing from the archive")
        return member

    def close(self) -> None:
        return None

    def __enter__(self) -> "Container":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class DirContainer(Container):
    """An archive directory, walked without following symlinks."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.label = str(root)
        self.members = {}
        self.unsafe = []
        self._walk(root, PurePosixPath())

    def _walk(self, directory: Path, rel: PurePosixPath) -> None:
        for entry in sorted(os.scandir(directory), key=lambda item: item.name):
            child = rel / entry.name
            mode = entry.stat(follow_symlinks=False).st_mode
            if stat.S_ISLNK(mode):
                self.unsafe.append(Unsafe(child.as_posix(), "symbolic link (never followed)"))
            elif stat.S_ISDIR(mode):
                self._walk(Path(entry.path), child)
            elif stat.S_ISREG(mode):
                self.members[child.as_posix()] = Member(child.as_posix(), entry.stat(follow_symlinks=False).st_size)
            else:
                self.unsafe.append(Unsafe(child.as_posix(), "not a regular file"))

    def open(self, path: str) -> BinaryIO:
        self.require(path)
        fd = os.open(self.root / path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        return os.fdopen(fd, "rb")


class _MemberReader:
    """Bounded reader over one tar member, with its own file handle (safe across threads)."""

    def __init__(self, handle: BinaryIO, offset: int, size: int) -> None:
        self._handle = handle
        self._handle.seek(offset)
        self._start, self._size, self._left = offset, size, size

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        """Move to ``offset`` from the member's start (clamped to the member)."""
        if whence != os.SEEK_SET:
            raise ValueError("a tar member reader seeks from the start only")
        offset = max(0, min(offset, self._size))
        self._handle.seek(self._start + offset)
        self._left = self._size - offset
        return offset

    def read(self, size: int = -1) -> bytes:
        if self._left <= 0:
            return b""
        size = self._left if size is None or size < 0 else min(size, self._left)
        data = self._handle.read(size)
        self._left -= len(data)
        return data

    def readinto(self, buffer: bytearray | memoryview) -> int:
        view = memoryview(buffer)[: max(0, min(len(buffer), self._left))]
        count = self._handle.readinto(view)
        self._left -= count
        return count

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> "_MemberReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def unsafe_member_reason(member: tarfile.TarInfo) -> str | None:
    """Why a tar member must not be read or extracted, or ``None`` when it is a safe file/dir."""
    name = member.name
    parts = PurePosixPath(name).parts
    if name.startswith("/") or (parts and parts[0].endswith(":")):
        return "absolute path"
    if ".." in parts:
        return "path escapes the archive (..)"
    if member.issym() or member.islnk():
        return "link member (never followed)"
    if member.ischr() or member.isblk() or member.isfifo():
        return "device or fifo member"
    if member.issparse():
        return "sparse member"
    if not (member.isfile() or member.isdir()):
        return "unsupported member type"
    return None


class TarContainer(Container):
    """A plain (uncompressed) tar holding one archive directory, read in place.

    ``opener`` gives a fresh seekable handle on the tar's bytes (one per open member, so readers
    in several threads never share a position); by default the file ``tar_path`` itself.
    """

    def __init__(self, tar_path: Path, *, opener: Callable[[], BinaryIO] | None = None,
                 label: str | None = None, details: dict[str, Any] | None = None,
                 carrier: Callable[..., list[tuple[str, str]]] | None = None) -> None:
        self.tar_path = tar_path
        self.label = label or str(tar_path)
        self.details = details or {}
        self._opener = opener or (lambda: open(tar_path, "rb"))
        self._carrier = carrier
        self.members = {}
        self.unsafe = []
        self._offsets: dict[str, int] = {}
        try:
            with self._opener() as handle, tarfile.open(fileobj=handle, mode="r:") as tar:
                infos = tar.getmembers()
        except (tarfile.TarError, OSError) as exc:
            raise ArchiveInvalid(f"{self.label}: not a readable plain tar file ({exc}); k2p reads "
                                 f"archives made by `k2p pack`") from None
        prefix = _common_prefix([info for info in infos if unsafe_member_reason(info) is None])
        for info in infos:
            reason = unsafe_member_reason(info)
            if reason:
                self.unsafe.append(Unsafe(info.name, reason))
                continue
            if info.isdir():
                continue
            rel = info.name[len(prefix):] if prefix else info.name
            rel = PurePosixPath(rel).as_posix()
            if rel in self.members:
                self.unsafe.append(Unsafe(info.name, "duplicate member"))
                continue
            self.members[rel] = Member(rel, info.size)
            self._offsets[rel] = info.offset_data

    def open(self, path: str) -> BinaryIO:
        member = self.require(path)
        return _MemberReader(self._opener(), self._offsets[path], member.size)  # type: ignore[return-value]

    def offset(self, path: str) -> int:
        return self._offsets[path]

    def carrier_problems(self, *, full: bool,
                         on_bytes: Callable[[int], None] | None = None) -> list[tuple[str, str]]:
        return self._carrier(full=full, on_bytes=on_bytes) if self._carrier else []


def _common_prefix(infos: list[tarfile.TarInfo]) -> str:
    return common_prefix([info.name for info in infos])


def common_prefix(names: list[str]) -> str:
    """The single top-level directory (``NAME.k2p/``) every member sits in, or ``""``."""
    tops = {PurePosixPath(name).parts[0] for name in names if PurePosixPath(name).parts}
    if len(tops) == 1:
        top = next(iter(tops))
        if any(len(PurePosixPath(name).parts) > 1 for name in names):
            return top + "/"
    return ""


def open_container(path: Path) -> Container:
    """Open an archive: a directory, a tar, a volume set or an encrypted file (see
    :func:`k2p.archive.opener.open_container`)."""
    from k2p.archive.opener import open_container as open_any

    return open_any(path)

