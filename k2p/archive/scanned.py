"""An archive tar that can only be read once, in order — the plaintext of an age stream.

Random access into age ciphertext is impossible without the file key (which pyrage does not
expose), and nothing decrypted may be written to disk. So the stream is read exactly once, when
the archive is opened: every member is hashed; the small members (manifest, ``SHA256SUMS``,
reports, record files and ``missing``) are kept in memory, at most :data:`MAX_KEPT_BYTES` in all;
blobs — the bulk — are hashed and dropped. Afterwards the container answers like any other for
everything but blob contents: ``verify`` (with the precomputed blob hashes), ``inspect``, ``cat``,
``users-template``. Reading a blob's bytes (``import``) needs ``k2p unpack`` first.

:func:`walk_tar_stream` is the shared sequential walk, also used by ``k2p unpack`` to extract such
a stream while it is decrypted.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import PurePosixPath
from typing import Any, BinaryIO, Callable, Iterator

from k2p.archive.container import Container, Member, Unsafe, common_prefix, unsafe_member_reason
from k2p.archive.format import BLOBS_DIR
from k2p.errors import ArchiveInvalid, ExitCode, K2PError

MAX_KEPT_BYTES = 1 << 30      # everything but blobs, kept in memory while an encrypted tar is read
READ_CHUNK = 1 << 20


def walk_tar_stream(stream: Any, label: str) -> Iterator[tuple[tarfile.TarInfo, str | None, BinaryIO | None]]:
    """``(info, unsafe reason or None, reader of a regular file's data or None)`` in tar order."""
    try:
        with tarfile.open(fileobj=stream, mode="r|") as tar:
            for info in tar:
                reason = unsafe_member_reason(info)
                reader = tar.extractfile(info) if reason is None and info.isfile() else None
                yield info, reason, reader
    except tarfile.TarError as exc:
        raise ArchiveInvalid(f"{label}: not a readable tar stream ({exc}); k2p reads archives made "
                             f"by `k2p pack`") from None


def copy_member(reader: BinaryIO, sink: Callable[[bytes], None] | None, size: int, label: str,
                name: str) -> str:
    """Read one member to its end, feeding ``sink``; its SHA-256."""
    digest = hashlib.sha256()
    left = size
    while left > 0:
        chunk = reader.read(min(READ_CHUNK, left))
        if not chunk:
            raise ArchiveInvalid(f"{label}: member {name} ends early (truncated tar)")
        digest.update(chunk)
        if sink is not None:
            sink(chunk)
        left -= len(chunk)
    return digest.hexdigest()


class ScannedContainer(Container):
    """Members of a tar read once from ``stream``; blob contents are hashed, not kept."""

    def __init__(self, stream: Any, label: str, *, details: dict[str, Any] | None = None,
                 after_scan: Callable[[], list[tuple[str, str]]] | None = None) -> None:
        self.label = label
        self.details = details or {}
        self.members = {}
        self.unsafe = []
        self._kept: dict[str, bytes] = {}
        self._digests: dict[str, str] = {}
        raw: list[tuple[str, int, str, bytes | None]] = []
        kept_total = 0
        for info, reason, reader in walk_tar_stream(stream, label):
            if reason:
                self.unsafe.append(Unsafe(info.name, reason))
                continue
            if reader is None:
                continue
            name = PurePosixPath(info.name).as_posix()
            keep = f"/{BLOBS_DIR}/" not in f"/{name}"
            if keep:
                kept_total += info.size
                if kept_total > MAX_KEPT_BYTES:
                    raise K2PError(f"{label}: its record files hold more than {MAX_KEPT_BYTES >> 20} "
                                   f"MiB, more than k2p keeps in memory to read an encrypted archive "
                                   f"without writing plaintext; unpack it first (`k2p unpack {label} "
                                   f"-o DIR`) and read DIR", exit_code=ExitCode.REFUSED)
            parts: list[bytes] = []
            digest = copy_member(reader, parts.append if keep else None, info.size, label, name)
            raw.append((name, info.size, digest, b"".join(parts) if keep else None))
        # Reading to the end is what authenticates the last chunk: only now is the content trusted.
        while stream.read(READ_CHUNK):
            pass
        self._carrier = after_scan() if after_scan else []
        prefix = common_prefix([name for name, *_ in raw])
        for name, size, digest, data in raw:
            rel = PurePosixPath(name[len(prefix):] if prefix else name).as_posix()
            if rel in self.members:
                self.unsafe.append(Unsafe(name, "duplicate member"))
                continue
            self.members[rel] = Member(rel, size)
            self._digests[rel] = digest
            if data is not None:
                self._kept[rel] = data

    def open(self, path: str) -> BinaryIO:
        self.require(path)
        data = self._kept.get(path)
        if data is None:
            raise K2PError(f"{self.label}: {path} cannot be read here — an encrypted archive is read "
                           f"as a stream and blob contents are not kept; unpack it first "
                           f"(`k2p unpack {self.label} -o DIR`, then use DIR)",
                           exit_code=ExitCode.USAGE)
        return io.BytesIO(data)

    def known_digest(self, path: str) -> str | None:
        return self._digests.get(path) if path not in self._kept else None

    def carrier_problems(self, *, full: bool,
                         on_bytes: Callable[[int], None] | None = None) -> list[tuple[str, str]]:
        return list(self._carrier)
