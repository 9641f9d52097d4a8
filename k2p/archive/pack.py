"""Single-file form: ``k2p pack`` (directory → plain tar) and ``k2p unpack`` (tar → directory).

The tar is deterministic (sorted members, fixed owner and mtime) and starts with the manifest and
``SHA256SUMS`` so that a streaming reader meets them first. Unpacking never trusts the tar: every
member is checked for safety, written through a temp directory, hashed against ``SHA256SUMS`` on the
way, and the directory appears under its final name only when everything matched. Record files whose
frame headers declare a decompression bomb are refused before anything is written.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from k2p.archive.container import DirContainer, TarContainer, open_container
from k2p.archive.format import CHECKSUMS, MANIFEST, load_manifest, parse_checksums
from k2p.archive.reader import ArchiveReader, check_record_files, refuse_unsafe
from k2p.archive.verify import verify_archive
from k2p.errors import ArchiveInvalid, K2PError, Refused
from k2p.fileio import atomic_writer, fsync_dir

COPY_CHUNK = 1 << 20


@dataclass(frozen=True)
class PackResult:
    path: Path
    files: int
    bytes: int
    fingerprint: str | None


def default_tar_path(directory: Path) -> Path:
    return directory.with_name(directory.name + ".tar")


def _member_order(paths: list[str]) -> list[str]:
    head = [p for p in (MANIFEST, CHECKSUMS) if p in paths]
    return head + sorted(p for p in paths if p not in head)


def pack_archive(directory: Path, output: Path | None = None) -> PackResult:
    """Write ``directory`` (a complete archive) as one plain tar file, atomically.

    A fast verification runs first: carrying a damaged archive across an air gap helps nobody.
    """
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
        target = output or default_tar_path(directory)
        if target.exists():
            raise Refused(f"{target} already exists; remove it or pass another -o FILE")
        top = directory.name
        total = 0
        with atomic_writer(target) as handle:
            with tarfile.open(fileobj=handle, mode="w", format=tarfile.PAX_FORMAT) as tar:
                for rel in _member_order(list(container.members)):
                    info = tarfile.TarInfo(f"{top}/{rel}")
                    info.size = container.members[rel].size
                    info.mode = 0o600   # private data, also after a plain `tar -x`
                    info.mtime = 0
                    info.uid = info.gid = 0
                    info.uname = info.gname = ""
                    with container.open(rel) as source:
                        tar.addfile(info, source)
                    total += info.size
        return PackResult(target, len(container.members), total, fingerprint)


def unpack_archive(tar_path: Path, output: Path) -> PackResult:
    """Extract a ``.k2p.tar`` into ``output`` safely, checking every file against SHA256SUMS."""
    if output.exists() and (not output.is_dir() or any(output.iterdir())):
        raise Refused(f"{output} already exists and is not empty; choose a new -o DIR")
    container = open_container(tar_path)
    if not isinstance(container, TarContainer):
        raise Refused(f"{tar_path} is a directory; `k2p unpack` takes a .k2p.tar file")
    refuse_unsafe(container)
    if container.has(MANIFEST):
        check_record_files(container, load_manifest(container.read_bytes(MANIFEST), origin=str(tar_path)))
    sums = _read_sums(container)
    output.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{output.name}.", suffix=".partial", dir=output.parent))
    total = 0
    try:
        for rel in _member_order(list(container.members)):
            expected = sums.get(rel) if rel != CHECKSUMS else None
            if rel != CHECKSUMS and expected is None:
                raise ArchiveInvalid(f"{tar_path}: member {rel} is not listed in SHA256SUMS; "
                                     f"refusing to unpack (run `k2p verify` on the tar)")
            total += _extract_member(container, rel, staging, expected, tar_path)
        for rel in sums:
            if rel not in container.members:
                raise ArchiveInvalid(f"{tar_path}: {rel} is listed in SHA256SUMS but not in the tar")
        for dirpath, _dirs, _files in os.walk(staging):
            fsync_dir(Path(dirpath))
        if output.exists():
            output.rmdir()
        os.replace(staging, output)
        fsync_dir(output.parent)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    fingerprint = hashlib.sha256((output / CHECKSUMS).read_bytes()).hexdigest()
    return PackResult(output, len(container.members), total, fingerprint)


def _read_sums(container: TarContainer) -> dict[str, str]:
    if not container.has(CHECKSUMS):
        raise ArchiveInvalid(f"{container.label}: no SHA256SUMS in the tar; it is not a complete "
                             f"k2p archive")
    sums, defects = parse_checksums(container.read_bytes(CHECKSUMS))
    if defects:
        raise ArchiveInvalid(f"{container.label}: SHA256SUMS {defects[0]}; refusing to unpack")
    return sums


def _extract_member(container: TarContainer, rel: str, staging: Path, expected: str | None,
                    tar_path: Path) -> int:
    target = staging / rel
    # Member names were validated (no "..", no absolute path); this double-checks the result.
    if not target.resolve().is_relative_to(staging.resolve()):
        raise ArchiveInvalid(f"{tar_path}: member {rel} would be written outside {staging}")
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    with container.open(rel) as source, open(target, "xb") as sink:
        while chunk := source.read(COPY_CHUNK):
            digest.update(chunk)
            sink.write(chunk)
            size += len(chunk)
        sink.flush()
        os.fsync(sink.fileno())
    if expected is not None and digest.hexdigest() != expected:
        raise ArchiveInvalid(f"{tar_path}: member {rel} does not match SHA256SUMS (damaged in "
                             f"transit?); nothing was unpacked — copy the tar again")
    return size
