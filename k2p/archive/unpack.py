"""``k2p unpack``: any single-file form (tar, volume set, age) → an archive directory, checked.

Unpacking never trusts the input: every member is checked for safety, written into a temporary
directory beside the output, hashed against ``SHA256SUMS`` on the way, and the directory appears
under its final name only when everything matched. A tar read in place (plain, volumes, or a
passphrase-decrypted buffer) has its record files' declared sizes checked before anything is
written; an age stream with recipients can only be read once, in order, so its members are written
as they are decrypted and the same checks run on the temporary copy before it is renamed. This is
the only command that writes decrypted data to disk, and only into the directory it is given.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path, PurePosixPath

from k2p.archive.container import Container, DirContainer, common_prefix
from k2p.archive.format import CHECKSUMS, MANIFEST, load_manifest, parse_checksums
from k2p.archive.opener import Source, open_source
from k2p.archive.reader import check_record_files, refuse_unsafe
from k2p.archive.scanned import copy_member, walk_tar_stream
from k2p.errors import ArchiveInvalid, Refused
from k2p.fileio import fsync_dir

COPY_CHUNK = 1 << 20


def unpack_archive(tar_path: Path, output: Path) -> "PackResult":
    """Extract a single-file archive into ``output`` safely, checking every file against SHA256SUMS."""
    from k2p.archive.pack import PackResult

    if output.exists() and (not output.is_dir() or any(output.iterdir())):
        raise Refused(f"{output} already exists and is not empty; choose a new -o DIR")
    source = open_source(tar_path)
    if source.form == "directory":
        raise Refused(f"{tar_path} is a directory; `k2p unpack` takes a .k2p.tar file, a volume set "
                      f"or a .k2p.tar.age file")
    output.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{output.name}.", suffix=".partial", dir=output.parent))
    try:
        if source.sequential_only:
            files, total, problems = _unpack_stream(source, staging)
        else:
            files, total, problems = _unpack_container(source, staging)
        for name, message in problems:
            raise ArchiveInvalid(f"{name}: {message}; nothing was unpacked")
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
    return PackResult(output, files, total, fingerprint, details=source.details)


def _unpack_container(source: Source, staging: Path) -> tuple[int, int, list[tuple[str, str]]]:
    with source.container() as container:
        refuse_unsafe(container)
        if container.has(MANIFEST):
            check_record_files(container, load_manifest(container.read_bytes(MANIFEST),
                                                        origin=container.label))
        sums = _read_sums(container)
        total = 0
        for rel in _member_order(list(container.members)):
            expected = sums.get(rel) if rel != CHECKSUMS else None
            if rel != CHECKSUMS and expected is None:
                raise ArchiveInvalid(f"{container.label}: member {rel} is not listed in SHA256SUMS; "
                                     f"refusing to unpack (run `k2p verify` on it)")
            total += _extract_member(container, rel, staging, expected)
        _check_listed(container.label, sums, set(container.members))
        return len(container.members), total, container.carrier_problems(full=True)


def _member_order(paths: list[str]) -> list[str]:
    head = [p for p in (MANIFEST, CHECKSUMS) if p in paths]
    return head + sorted(p for p in paths if p not in head)


def _read_sums(container: Container) -> dict[str, str]:
    if not container.has(CHECKSUMS):
        raise ArchiveInvalid(f"{container.label}: no SHA256SUMS in the tar; it is not a complete "
                             f"k2p archive")
    sums, defects = parse_checksums(container.read_bytes(CHECKSUMS))
    if defects:
        raise ArchiveInvalid(f"{container.label}: SHA256SUMS {defects[0]}; refusing to unpack")
    return sums


def _check_listed(label: str, sums: dict[str, str], present: set[str]) -> None:
    for rel in sums:
        if rel not in present:
            raise ArchiveInvalid(f"{label}: {rel} is listed in SHA256SUMS but not in the tar")


def _safe_target(staging: Path, rel: str, label: str) -> Path:
    target = staging / rel
    # Member names were validated (no "..", no absolute path); this double-checks the result.
    if not target.resolve().is_relative_to(staging.resolve()):
        raise ArchiveInvalid(f"{label}: member {rel} would be written outside {staging}")
    target.parent.mkdir(parents=True, exist_ok=True)
    return target


def _extract_member(container: Container, rel: str, staging: Path, expected: str | None) -> int:
    target = _safe_target(staging, rel, container.label)
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
        raise ArchiveInvalid(f"{container.label}: member {rel} does not match SHA256SUMS (damaged in "
                             f"transit?); nothing was unpacked — copy the archive again")
    return size


def _unpack_stream(source: Source, staging: Path) -> tuple[int, int, list[tuple[str, str]]]:
    """Decrypt and extract in one pass into ``staging/raw``; check; move the archive directory up."""
    raw_root = staging / ".raw"
    raw_root.mkdir()
    digests: dict[str, str] = {}
    total = 0
    with source.decrypt() as (plain, finish):
        for info, reason, reader in walk_tar_stream(plain, source.label):
            if reason:
                raise ArchiveInvalid(f"{source.label}: unsafe entry {info.name!r}: {reason}; refusing "
                                     f"to unpack it")
            if reader is None:
                continue
            name = PurePosixPath(info.name).as_posix()
            if name in digests:
                raise ArchiveInvalid(f"{source.label}: duplicate member {name!r}; refusing to unpack")
            target = _safe_target(raw_root, name, source.label)
            with open(target, "xb") as sink:
                digests[name] = copy_member(reader, sink.write, info.size, source.label, name)
                sink.flush()
                os.fsync(sink.fileno())
            total += info.size
        while plain.read(COPY_CHUNK):     # the end of the stream authenticates its last chunk
            pass
        problems = finish()
    prefix = common_prefix(list(digests))
    top = raw_root / prefix.rstrip("/") if prefix else raw_root
    by_rel = {name[len(prefix):]: digest for name, digest in digests.items()}
    container = DirContainer(top)
    refuse_unsafe(container)
    sums = _read_sums(container)
    for rel, digest in sorted(by_rel.items()):
        if rel == CHECKSUMS:
            continue
        if rel not in sums:
            raise ArchiveInvalid(f"{source.label}: member {rel} is not listed in SHA256SUMS; "
                                 f"refusing to unpack (run `k2p verify` on it)")
        if sums[rel] != digest:
            raise ArchiveInvalid(f"{source.label}: member {rel} does not match SHA256SUMS (damaged "
                                 f"before it was encrypted?); nothing was unpacked")
    _check_listed(source.label, sums, set(by_rel))
    if container.has(MANIFEST):
        check_record_files(container, load_manifest(container.read_bytes(MANIFEST),
                                                    origin=source.label))
    # Move the archive's own directory to the top of the staging directory.
    for entry in list(top.iterdir()):
        os.replace(entry, staging / entry.name)
    shutil.rmtree(raw_root)
    return len(by_rel), total, problems
