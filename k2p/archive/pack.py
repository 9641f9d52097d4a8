"""``k2p pack``: an archive directory → one plain tar, a volume set, and/or age ciphertext.

The tar is deterministic (sorted members, fixed owner and mtime) and starts with the manifest and
``SHA256SUMS`` so that a streaming reader meets them first. Where its bytes go — one file, volumes
of ``--volume-size``, through age — is :mod:`k2p.archive.sinks`'s business; unpacking is
:mod:`k2p.archive.unpack`.
"""

from __future__ import annotations

import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from k2p.archive.container import DirContainer
from k2p.archive.format import CHECKSUMS, MANIFEST
from k2p.archive.reader import ArchiveReader
from k2p.archive.sinks import Encryption, PackSink
from k2p.archive.unpack import unpack_archive  # noqa: F401 - the other half of the single-file form
from k2p.archive.verify import verify_archive
from k2p.archive.volumes.index import MAX_VOLUMES
from k2p.archive.volumes.writer import refuse_existing
from k2p.errors import ExitCode, K2PError, Refused

TAR_BLOCK = 512


@dataclass(frozen=True)
class PackResult:
    path: Path
    files: int
    bytes: int
    fingerprint: str | None
    volumes: list[Path] = field(default_factory=list)
    ciphertext_sha256: str | None = None
    encryption: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


def default_tar_path(directory: Path, *, encrypted: bool = False) -> Path:
    return directory.with_name(directory.name + (".tar.age" if encrypted else ".tar"))


def _member_order(paths: list[str]) -> list[str]:
    head = [p for p in (MANIFEST, CHECKSUMS) if p in paths]
    return head + sorted(p for p in paths if p not in head)


def _estimated_tar_bytes(sizes: list[int]) -> int:
    return sum(TAR_BLOCK + -(-size // TAR_BLOCK) * TAR_BLOCK for size in sizes) + 2 * TAR_BLOCK


def pack_archive(directory: Path, output: Path | None = None, *, volume_size: int | None = None,
                 encryption: Encryption | None = None) -> PackResult:
    """Write ``directory`` (a complete archive) as one tar — or volumes of it, or its age
    ciphertext — atomically. A fast verification runs first: carrying a damaged archive across an
    air gap helps nobody."""
    check = verify_archive(directory, level="fast")
    if not check.ok:
        raise K2PError(f"{directory}: refusing to pack, fast verification found "
                       f"{len(check.problems)} problem(s), first: {check.problems[0]}; "
                       f"run `k2p verify {directory}`", exit_code=check.exit_code)
    with ArchiveReader(directory) as reader:
        container = reader.container
        if not isinstance(container, DirContainer):
            raise Refused(f"{directory} is already a single file; `k2p pack` takes a directory")
        fingerprint = reader.fingerprint()
        target = output or default_tar_path(directory, encrypted=encryption is not None)
        refuse_existing(target)
        members = _member_order(list(container.members))
        if volume_size and _estimated_tar_bytes([container.members[rel].size for rel in members]) \
                > volume_size * MAX_VOLUMES:
            raise K2PError(f"--volume-size {volume_size} would need more than {MAX_VOLUMES} volumes "
                           f"for {directory}; choose a larger size", exit_code=ExitCode.USAGE)
        sink = PackSink(target, volume_size=volume_size, encryption=encryption)
        total = 0
        try:
            with tarfile.open(fileobj=sink, mode="w", format=tarfile.PAX_FORMAT) as tar:  # type: ignore[call-overload]
                top = directory.name
                for rel in members:
                    info = tarfile.TarInfo(f"{top}/{rel}")
                    info.size = container.members[rel].size
                    info.mode = 0o600   # private data, also after a plain `tar -x`
                    info.mtime = 0
                    info.uid = info.gid = 0
                    info.uname = info.gname = ""
                    with container.open(rel) as source:
                        tar.addfile(info, source)
                    total += info.size
            written = sink.finish(fingerprint)
        except BaseException:
            sink.abort()
            raise
        return PackResult(written.index or target, len(container.members), total, fingerprint,
                          volumes=written.files if written.index else [],
                          ciphertext_sha256=written.sha256 if encryption else None,
                          encryption=encryption.method if encryption else None)
