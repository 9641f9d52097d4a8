"""Split volume sets: pack, verify (set and single volume), every reader in place, damage named."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from k2p.archive.volumes.writer import parse_size
from k2p.cli import main
from k2p.errors import ExitCode
from tests.helpers.archives import tree_bytes, write_archive

# The sample's largest blob is 76 800 bytes: every volume is smaller than one blob.
VOLUME = 10_000


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


@pytest.fixture()
def packed(tmp_path: Path) -> dict:
    sealed = write_archive(tmp_path / "acme.k2p")
    result = run("pack", str(sealed.root), "--volume-size", str(VOLUME))
    assert result.exit_code == 0, result.output
    volumes = sorted(tmp_path.glob("acme.k2p.tar.[0-9][0-9][0-9]"))
    return {"root": sealed.root, "fingerprint": sealed.fingerprint, "volumes": volumes,
            "index": tmp_path / "acme.k2p.volumes", "dir": tmp_path}


def test_pack_writes_volumes_index_and_checksums(packed: dict) -> None:
    volumes, index = packed["volumes"], packed["index"]
    assert len(volumes) > 5 and [v.name for v in volumes][:2] == ["acme.k2p.tar.001", "acme.k2p.tar.002"]
    assert all(v.stat().st_size == VOLUME for v in volumes[:-1]) and 0 < volumes[-1].stat().st_size <= VOLUME
    data = json.loads(index.read_text())
    assert data["format"] == "k2p-volumes" and data["fingerprint"] == packed["fingerprint"]
    assert [e["name"] for e in data["volumes"]] == [v.name for v in volumes]
    for entry, volume in zip(data["volumes"], volumes):
        assert entry["size"] == volume.stat().st_size
        assert entry["sha256"] == hashlib.sha256(volume.read_bytes()).hexdigest()
    joined = b"".join(v.read_bytes() for v in volumes)
    assert data["sha256"] == hashlib.sha256(joined).hexdigest() and data["size"] == len(joined)
    assert not list(packed["dir"].glob(".*.tmp"))


def test_sha256sum_checks_the_set(packed: dict) -> None:
    if shutil.which("sha256sum") is None:
        pytest.skip("sha256sum (coreutils) is not installed")
    done = subprocess.run(["sha256sum", "-c", "acme.k2p.volumes.sha256"], cwd=packed["dir"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count(": OK") == len(packed["volumes"]) + 1


def test_cat_of_the_volumes_is_the_plain_tar(packed: dict, tmp_path: Path) -> None:
    plain = tmp_path / "plain.k2p.tar"
    assert run("pack", str(packed["root"]), "-o", str(plain)).exit_code == 0
    assert b"".join(v.read_bytes() for v in packed["volumes"]) == plain.read_bytes()


def test_every_reader_takes_the_first_volume_or_the_index(packed: dict, tmp_path: Path) -> None:
    root, fingerprint = packed["root"], packed["fingerprint"]
    for given in (packed["volumes"][0], packed["index"]):
        report = json.loads(run("verify", "--json", str(given)).output)
        assert report["status"] == "ok" and report["fingerprint"] == fingerprint
        assert report["container"]["volumes"]["volumes"] == len(packed["volumes"])
        info = json.loads(run("inspect", "--json", str(given)).output)
        assert info["fingerprint"] == fingerprint and info["collections"]["cards"]["records"] == 40
        assert run("cat", str(given), "cards").output == run("cat", str(root), "cards").output
        same = run("diff", str(root), str(given))
        assert same.exit_code == ExitCode.OK, same.output
    out = tmp_path / "unpacked.k2p"
    result = run("unpack", str(packed["volumes"][0]), "-o", str(out))
    assert result.exit_code == 0, result.output
    assert len(tree_bytes(root, ".")) > 10 and tree_bytes(out, ".") == tree_bytes(root, ".")


def test_a_later_volume_is_checked_on_its_own(packed: dict) -> None:
    third = packed["volumes"][2]
    result = run("verify", str(third))
    assert result.exit_code == 0, result.output
    assert f"volume 3 of {len(packed['volumes'])}" in result.output and "intact" in result.output
    assert packed["fingerprint"] in result.output
    first_only = json.loads(run("verify", "--volume-only", "--json", str(packed["volumes"][0])).output)
    assert first_only["number"] == 1 and first_only["status"] == "intact"
    # Alone on its medium with the index, the other volumes absent.
    for other in packed["volumes"]:
        if other != third:
            other.unlink()
    assert run("verify", str(third)).exit_code == 0


def test_missing_middle_volume_is_named(packed: dict, tmp_path: Path) -> None:
    second = packed["volumes"][1]
    second.unlink()
    for args in (["verify"], ["verify", "--fast"], ["inspect"], ["cat"], ["unpack"]):
        extra = ["cards"] if args == ["cat"] else ["-o", str(tmp_path / "out")] if args == ["unpack"] else []
        result = run(*args, str(packed["volumes"][0]), *extra)
        assert result.exit_code == ExitCode.ARCHIVE_INCOMPLETE, (args, result.output)
        assert "acme.k2p.tar.002 is missing (volume 2 of" in result.output
    assert not (tmp_path / "out").exists()


def test_corrupted_byte_in_volume_two_is_named(packed: dict, tmp_path: Path) -> None:
    second = packed["volumes"][1]
    data = bytearray(second.read_bytes())
    data[VOLUME // 2] ^= 0x01
    second.write_bytes(bytes(data))
    result = run("verify", "--json", str(packed["index"]))
    assert result.exit_code == ExitCode.ARCHIVE_INVALID
    problems = json.loads(result.output)["problems"]
    assert {"path": "acme.k2p.tar.002"} in [{"path": p["path"]} for p in problems]
    assert any(p["path"] == "acme.k2p.tar.002" and "damaged" in p["message"] for p in problems)
    alone = run("verify", str(second))
    assert alone.exit_code == ExitCode.ARCHIVE_INVALID and "volume 2 of" in alone.output
    assert "damaged" in alone.output and "copy this volume again" in alone.output
    unpacked = run("unpack", str(packed["volumes"][0]), "-o", str(tmp_path / "out"))
    assert unpacked.exit_code == ExitCode.ARCHIVE_INVALID, unpacked.output
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out.*"))


def test_truncated_volume_and_missing_index(packed: dict) -> None:
    second = packed["volumes"][1]
    second.write_bytes(second.read_bytes()[:-1])
    result = run("verify", str(packed["volumes"][0]))
    assert result.exit_code == ExitCode.ARCHIVE_INVALID
    assert "acme.k2p.tar.002 (volume 2 of" in result.output and "truncated" in result.output
    packed["index"].unlink()
    result = run("verify", str(packed["volumes"][0]))
    assert result.exit_code == ExitCode.ARCHIVE_INCOMPLETE and "acme.k2p.volumes" in result.output


def test_hostile_index_is_refused(packed: dict) -> None:
    data = json.loads(packed["index"].read_text())
    data["volumes"][1]["name"] = "../../etc/passwd"
    packed["index"].write_text(json.dumps(data))
    result = run("verify", str(packed["index"]))
    assert result.exit_code == ExitCode.ARCHIVE_INVALID and "volume 2 is named" in result.output


def test_mixed_up_index_is_a_problem(packed: dict) -> None:
    data = json.loads(packed["index"].read_text())
    data["fingerprint"] = "0" * 64
    packed["index"].write_text(json.dumps(data))
    report = json.loads(run("verify", "--json", str(packed["index"])).output)
    assert report["status"] == "problems"
    assert "belongs to another archive" in report["problems"][0]["message"]


def test_pack_refuses_to_overwrite_and_bad_sizes(packed: dict) -> None:
    again = run("pack", str(packed["root"]), "--volume-size", str(VOLUME))
    assert again.exit_code == ExitCode.REFUSED and "already exists" in again.output
    bad = run("pack", str(packed["root"]), "-o", str(packed["dir"] / "x.k2p.tar"), "--volume-size", "lots")
    assert bad.exit_code == ExitCode.USAGE and "--volume-size 'lots'" in bad.output
    many = run("pack", str(packed["root"]), "-o", str(packed["dir"] / "y.k2p.tar"), "--volume-size", "50")
    assert many.exit_code == ExitCode.USAGE and "more than 999 volumes" in many.output
    assert not list(packed["dir"].glob("y.k2p.*")) and not list(packed["dir"].glob(".y.*"))


def test_size_units() -> None:
    assert parse_size("4G") == 4_000_000_000 < 2**32 - 1      # fits FAT32
    assert parse_size("2GiB") == 2 * 2**30 and parse_size("700M") == 700_000_000
    assert parse_size("1000") == 1000 and parse_size("1.5k") == 1500
