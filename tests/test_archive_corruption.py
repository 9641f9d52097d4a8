"""Corruption matrix: every kind of damage is detected by `k2p verify` with a specific message."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import Callable

import pytest
from click.testing import CliRunner

from k2p.archive.format import CHECKSUMS, MANIFEST
from k2p.archive.pack import pack_archive
from k2p.archive.reader import ArchiveReader
from k2p.cli import main
from k2p.errors import ArchiveInvalid, ExitCode
from tests.helpers.archives import rewrite_manifest, write_archive


def flip_bit(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x04
    path.write_bytes(bytes(data))


def some_blob(root: Path) -> Path:
    return max((p for p in (root / "blobs").rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)


def damage_checksums_digit(root: Path) -> None:
    lines = (root / CHECKSUMS).read_text().splitlines()
    index = next(i for i, line in enumerate(lines) if line.endswith("records/cards.jsonl.zst"))
    digest, rest = lines[index].split("  ", 1)
    lines[index] = ("0" if digest[0] != "0" else "1") + digest[1:] + "  " + rest
    (root / CHECKSUMS).write_text("\n".join(lines) + "\n")


def rename_blob(root: Path) -> None:
    blob = some_blob(root)
    fake = "f" * 64
    (root / "blobs/sha256/ff").mkdir(parents=True, exist_ok=True)
    blob.rename(root / "blobs/sha256/ff" / fake)


CASES: dict[str, tuple[Callable[[Path], None], list[str], bool]] = {
    # name: (damage, expected message fragments, detected at the fast level too)
    "bit flip in a record file": (
        lambda r: flip_bit(r / "records/cards.jsonl.zst", 60),
        ["records/cards.jsonl.zst: checksum mismatch"], False),
    "bit flip in a blob": (
        lambda r: flip_bit(some_blob(r), 100),
        ["blob content does not match its name", "checksum mismatch"], False),
    "bit flip in the manifest": (
        lambda r: flip_bit(r / MANIFEST, 40),
        ["k2p-archive.json: checksum mismatch"], True),
    "bit flip in SHA256SUMS": (
        damage_checksums_digit,
        ["records/cards.jsonl.zst: SHA256SUMS entry is damaged"], False),
    "truncated record file": (
        lambda r: (r / "records/cards.jsonl.zst").write_bytes((r / "records/cards.jsonl.zst").read_bytes()[:-20]),
        ["records/cards.jsonl.zst: size is", "file truncated"], True),
    "missing blob": (
        lambda r: some_blob(r).unlink(),
        ["listed in SHA256SUMS but missing from the archive", "holds 2 blobs"], True),
    "extra unknown file": (
        lambda r: (r / "records" / "notes.txt").write_text("hello"),
        ["records/notes.txt: unexpected file (not listed in SHA256SUMS)"], True),
    "blob renamed": (
        rename_blob,
        ["listed in SHA256SUMS but missing", "blobs/sha256/ff/" + "f" * 64 + ": unexpected file",
         "blob content does not match its name"], True),
    "record count mismatch": (
        lambda r: rewrite_manifest(r, lambda m: m["collections"]["comments"].update(records=13)),
        ["records/comments.jsonl.zst: record count mismatch: the file holds 12 records, the manifest says 13"],
        False),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_full_verify_detects(tmp_path: Path, case: str) -> None:
    root = tmp_path / "a.k2p"
    write_archive(root)
    damage, fragments, _ = CASES[case]
    damage(root)
    result = CliRunner().invoke(main, ["verify", str(root)])
    assert result.exit_code == ExitCode.ARCHIVE_INVALID, result.output
    assert "at the full level: FAILED" in result.output
    for fragment in fragments:
        assert fragment in result.output, f"{case}: {fragment!r} not in\n{result.output}"


@pytest.mark.parametrize("case", sorted(name for name, spec in CASES.items() if spec[2]))
def test_fast_verify_detects_structural_damage(tmp_path: Path, case: str) -> None:
    root = tmp_path / "a.k2p"
    write_archive(root)
    CASES[case][0](root)
    result = CliRunner().invoke(main, ["verify", "--fast", str(root)])
    assert result.exit_code == ExitCode.ARCHIVE_INVALID, result.output
    assert "at the fast level: FAILED" in result.output


def test_fast_level_says_what_it_skipped(tmp_path: Path) -> None:
    root = tmp_path / "a.k2p"
    write_archive(root)
    flip_bit(some_blob(root), 100)  # content damage: invisible without hashing
    fast = CliRunner().invoke(main, ["verify", "--fast", str(root)])
    assert fast.exit_code == 0 and "fast: presence, sizes and counts only" in fast.output
    assert CliRunner().invoke(main, ["verify", str(root)]).exit_code == ExitCode.ARCHIVE_INVALID


def test_newer_major_version_is_refused_naming_both(tmp_path: Path) -> None:
    root = tmp_path / "a.k2p"
    write_archive(root)
    rewrite_manifest(root, lambda m: m.update(format_version="2.3", added_in_two={"x": 1}))
    result = CliRunner().invoke(main, ["verify", str(root)])
    assert result.exit_code == ExitCode.UNSUPPORTED
    assert "archive format 2.3 is newer than this k2p supports (1.x" in result.output
    inspect = CliRunner().invoke(main, ["inspect", str(root)])
    assert inspect.exit_code == ExitCode.UNSUPPORTED and "2.3" in inspect.output


def test_newer_minor_version_is_read_and_unknown_fields_ignored(tmp_path: Path) -> None:
    root = tmp_path / "a.k2p"
    write_archive(root)
    rewrite_manifest(root, lambda m: m.update(format_version="1.9", future_field=[1, 2]))
    assert CliRunner().invoke(main, ["verify", str(root)]).exit_code == 0
    with ArchiveReader(root) as reader:
        assert reader.manifest.format_version == "1.9"


def test_incomplete_archive(tmp_path: Path) -> None:
    root = tmp_path / "a.k2p"
    write_archive(root)
    (root / MANIFEST).unlink()
    result = CliRunner().invoke(main, ["verify", str(root)])
    assert result.exit_code == ExitCode.ARCHIVE_INCOMPLETE
    assert "incomplete archive" in result.output
    result = CliRunner().invoke(main, ["cat", str(root), "cards"])
    assert result.exit_code == ExitCode.ARCHIVE_INCOMPLETE and "incomplete archive" in result.output


def _hostile_tar(tmp_path: Path, member: tarfile.TarInfo, data: bytes = b"") -> Path:
    root = tmp_path / "a.k2p"
    write_archive(root)
    packed = pack_archive(root).path
    hostile = tmp_path / "hostile.k2p.tar"
    with tarfile.open(packed) as source, tarfile.open(hostile, "w") as target:
        for info in source.getmembers():
            target.addfile(info, source.extractfile(info))
        target.addfile(member, io.BytesIO(data) if member.isfile() else None)
    return hostile


def _file_member(name: str, data: bytes) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info


def _symlink_member(name: str, target: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.SYMTYPE
    info.linkname = target
    return info


HOSTILE = {
    "dotdot": (lambda: _file_member("a.k2p/../../evil.txt", b"pwned"), "path escapes the archive"),
    "absolute": (lambda: _file_member("/tmp/evil.txt", b"pwned"), "absolute path"),
    "symlink": (lambda: _symlink_member("a.k2p/records/link.jsonl.zst", "/etc/passwd"), "link member"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_tar_members(tmp_path: Path, case: str) -> None:
    make_member, reason = HOSTILE[case]
    member = make_member()
    hostile = _hostile_tar(tmp_path, member, b"pwned" if member.isfile() else b"")
    result = CliRunner().invoke(main, ["verify", str(hostile)])
    assert result.exit_code == ExitCode.ARCHIVE_INVALID
    assert f"unsafe entry: {reason}" in result.output
    with pytest.raises(ArchiveInvalid, match="unsafe entry"):
        ArchiveReader(hostile)
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["unpack", str(hostile), "-o", str(out)])
    assert result.exit_code == ExitCode.ARCHIVE_INVALID
    assert not out.exists() and not (tmp_path / "evil.txt").exists()
    assert not list(tmp_path.glob(".out.*"))


def test_corrupt_json_line_names_file_and_line(tmp_path: Path) -> None:
    import zstandard

    root = tmp_path / "a.k2p"
    write_archive(root)
    path = root / "records/comments.jsonl.zst"
    lines = zstandard.ZstdDecompressor().decompressobj().decompress(path.read_bytes()).split(b"\n")
    lines[3] = b'{"kind": "comment", "id": '
    path.write_bytes(zstandard.ZstdCompressor().compress(b"\n".join(lines)))
    result = CliRunner().invoke(main, ["cat", str(root), "comments"])
    assert result.exit_code == ExitCode.ARCHIVE_INVALID
    assert "records/comments.jsonl.zst line 4: invalid JSON" in result.output
