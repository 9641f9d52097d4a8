"""The archive commands end to end: verify, inspect, cat, pack, unpack (directory and tar)."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from k2p.archive.format import FORMAT_VERSION
from k2p.cli import main
from k2p.errors import ExitCode
from tests.helpers.archives import tree_bytes, write_archive


def run(*args: str) -> "CliRunner.invoke":
    return CliRunner().invoke(main, list(args))


@pytest.fixture()
def archive(tmp_path: Path) -> tuple[Path, str]:
    sealed = write_archive(tmp_path / "acme.k2p")
    return sealed.root, sealed.fingerprint


def test_help_and_version() -> None:
    assert run("--version").output.startswith("k2p, version ")
    for command in ("verify", "inspect", "cat", "pack", "unpack"):
        result = run(command, "--help")
        assert result.exit_code == 0 and "Usage:" in result.output


def test_verify_json_reports_level_and_fingerprint(archive: tuple[Path, str]) -> None:
    root, fingerprint = archive
    for args, level in ((["verify", "--json"], "full"), (["verify", "--fast", "--json"], "fast")):
        result = run(*args, str(root))
        assert result.exit_code == 0, result.output
        report = json.loads(result.output)
        assert report["level"] == level and report["status"] == "ok"
        assert report["fingerprint"] == fingerprint and report["problems"] == []


def test_inspect_text_and_json(archive: tuple[Path, str]) -> None:
    root, fingerprint = archive
    text = run("inspect", str(root))
    assert text.exit_code == 0
    for fragment in (f"k2p-archive {FORMAT_VERSION}", "https://acme.kaiten.ru/api/latest", "cards", "Missing      1",
                     "not_found: 1", fingerprint):
        assert fragment in text.output
    info = json.loads(run("inspect", "--json", str(root)).output)
    assert info["collections"]["cards"] == {"records": 40, "expected": 40, "bytes": info["collections"]["cards"]["bytes"]}
    assert info["blobs"]["count"] == 3 and info["missing"]["count"] == 1
    assert info["fingerprint"] == fingerprint


def test_cat_streams_records_and_filters_by_id(archive: tuple[Path, str]) -> None:
    root, _ = archive
    lines = run("cat", str(root), "cards").output.splitlines()
    assert len(lines) == 40 and json.loads(lines[0])["id"] == "100"
    one = run("cat", str(root), "comments", "--id", "503").output.splitlines()
    assert [json.loads(line)["raw"]["id"] for line in one] == [503]
    raw = run("cat", str(root), "cards", "--id", "101", "--raw").output
    assert json.loads(raw) == {"id": 101, "title": "Card 1 — ünïcödé 🚀", "sort_order": 1 / 3,
                               "description": None}
    unknown = run("cat", str(root), "boards")
    assert unknown.exit_code == ExitCode.ARCHIVE_INVALID and "no collection 'boards'" in unknown.output


def test_pack_verify_inspect_cat_unpack(tmp_path: Path, archive: tuple[Path, str]) -> None:
    root, fingerprint = archive
    packed = run("pack", str(root))
    assert packed.exit_code == 0, packed.output
    tar_path = root.with_name("acme.k2p.tar")
    assert fingerprint in packed.output and tar_path.is_file()
    with tarfile.open(tar_path) as tar:
        names = tar.getnames()
    assert names[:2] == ["acme.k2p/k2p-archive.json", "acme.k2p/SHA256SUMS"]
    for args in (["verify"], ["verify", "--fast"]):
        result = run(*args, str(tar_path))
        assert result.exit_code == 0 and fingerprint in result.output, result.output
    assert fingerprint in run("inspect", str(tar_path)).output
    assert run("cat", str(tar_path), "cards").output == run("cat", str(root), "cards").output
    out = tmp_path / "restored.k2p"
    result = run("unpack", str(tar_path), "-o", str(out))
    assert result.exit_code == 0 and fingerprint in result.output
    assert tree_bytes(out, ".") == tree_bytes(root, ".")


def test_pack_is_deterministic(tmp_path: Path, archive: tuple[Path, str]) -> None:
    root, _ = archive
    first = tmp_path / "one.tar"
    second = tmp_path / "two.tar"
    assert run("pack", str(root), "-o", str(first)).exit_code == 0
    assert run("pack", str(root), "-o", str(second)).exit_code == 0
    assert first.read_bytes() == second.read_bytes()


def test_pack_refuses_damaged_incomplete_or_existing(tmp_path: Path, archive: tuple[Path, str]) -> None:
    root, _ = archive
    existing = tmp_path / "exists.tar"
    existing.write_bytes(b"x")
    result = run("pack", str(root), "-o", str(existing))
    assert result.exit_code == ExitCode.REFUSED and "already exists" in result.output
    (root / "records" / "stray.txt").write_text("x")
    result = run("pack", str(root))
    assert result.exit_code == ExitCode.ARCHIVE_INVALID and "refusing to pack" in result.output
    (root / "records" / "stray.txt").unlink()
    (root / "k2p-archive.json").unlink()
    result = run("pack", str(root))
    assert result.exit_code == ExitCode.ARCHIVE_INCOMPLETE


def test_unpack_refuses_damaged_member_and_leaves_nothing(tmp_path: Path, archive: tuple[Path, str]) -> None:
    root, _ = archive
    assert run("pack", str(root), "-o", str(tmp_path / "a.tar")).exit_code == 0
    data = bytearray((tmp_path / "a.tar").read_bytes())
    marker = data.find(b"hello world\n")
    data[marker] ^= 0x01
    (tmp_path / "a.tar").write_bytes(bytes(data))
    out = tmp_path / "out.k2p"
    result = run("unpack", str(tmp_path / "a.tar"), "-o", str(out))
    assert result.exit_code == ExitCode.ARCHIVE_INVALID and "does not match SHA256SUMS" in result.output
    assert not out.exists() and not list(tmp_path.glob(".out.k2p.*"))
    assert run("verify", str(tmp_path / "a.tar")).exit_code == ExitCode.ARCHIVE_INVALID


def test_unpack_refuses_non_empty_target(tmp_path: Path, archive: tuple[Path, str]) -> None:
    root, _ = archive
    assert run("pack", str(root), "-o", str(tmp_path / "a.tar")).exit_code == 0
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "x").write_text("x")
    result = run("unpack", str(tmp_path / "a.tar"), "-o", str(tmp_path / "busy"))
    assert result.exit_code == ExitCode.REFUSED


def test_missing_path_is_one_line_error(tmp_path: Path) -> None:
    result = run("verify", str(tmp_path / "nope.k2p"))
    assert result.exit_code == ExitCode.ARCHIVE_INVALID
    assert "no such archive" in result.output and "Traceback" not in result.output


def test_cat_keeps_huge_integers_exact(tmp_path: Path) -> None:
    from tests.helpers.archives import sample_content

    content = sample_content()
    content["records"]["cards"] = [{"kind": "card", "id": "1", "raw": {"n": 2 ** 70 + 1}}]
    root = write_archive(tmp_path / "big.k2p", content).root
    for args in (["--raw"], ["--id", "1", "--raw"]):
        assert json.loads(run("cat", str(root), "cards", *args).output)["n"] == 2 ** 70 + 1
    assert json.loads(run("cat", str(root), "cards", "--id", "1").output)["raw"]["n"] == 2 ** 70 + 1
