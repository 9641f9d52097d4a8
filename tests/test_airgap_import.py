"""The whole crossing through the simulators: export, pack into encrypted volumes, verify each
volume and the set, unpack, import — the Planka result is the same as from the plain archive."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from pyrage import x25519

from k2p.cli import main
from k2p.errors import ExitCode
from k2p.testing.planka.sim import PlankaSimulator
from tests.helpers.export import export_company
from tests.helpers.planka_state import snapshot


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    base = {"K2P_PLANKA_USER": "", "K2P_PLANKA_PASSWORD": "", "K2P_AGE_IDENTITY": ""}
    return CliRunner().invoke(main, list(args), env={**base, **(env or {})})


@pytest.fixture(scope="module")
def crossing(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    archive = export_company(tmp_path_factory, "tiny", "airgap")
    work = archive.parent
    identity = x25519.Identity.generate()
    key = work / "importer.key"
    key.write_text(f"{identity}\n")
    key.chmod(0o600)
    sealed = run("pack", str(archive), "--volume-size", "64K", "--encrypt-to", str(identity.to_public()))
    assert sealed.exit_code == 0, sealed.output
    plain = run("pack", str(archive), "-o", str(work / "plain.k2p.tar"), "--volume-size", "64K")
    assert plain.exit_code == 0, plain.output
    volumes = sorted(work.glob(f"{archive.name}.tar.age.[0-9][0-9][0-9]"))
    assert len(volumes) >= 3
    return {"archive": archive, "work": work, "key": key, "volumes": volumes,
            "index": work / archive.name.replace(".k2p", ".k2p.volumes"),
            "plain_first": work / "plain.k2p.tar.001", "fingerprint": json.loads(
                run("inspect", "--json", str(archive)).output)["fingerprint"]}


def import_snapshot(archive: Path, state: Path, tmp_path: Path) -> dict[str, Any]:
    """Import ``archive`` into a fresh Planka simulator; everything it created, by name."""
    with PlankaSimulator(idle_timeout=300) as planka:
        key = planka.create_api_key(planka.admin_email)
        result = run("import", str(archive), "--planka-url", planka.url, "--state", str(state),
                     "--report", str(tmp_path / f"{state.stem}.json"), "--json",
                     env={"K2P_PLANKA_API_KEY": key})
        assert result.exit_code in (ExitCode.OK, ExitCode.PARTIAL), result.output
        return snapshot(planka.url, key)


def test_split_encrypted_archive_imports_like_the_plain_one(crossing: dict[str, Any], tmp_path: Path) -> None:
    key = str(crossing["key"])
    # Each medium checked alone as it is copied, then the whole set, with the importer's key.
    for volume in crossing["volumes"][1:]:
        alone = run("verify", str(volume))
        assert alone.exit_code == 0 and "intact" in alone.output, alone.output
    verified = run("verify", "--json", str(crossing["volumes"][0]), "--identity", key)
    report = json.loads(verified.output)
    assert report["status"] == "ok" and report["fingerprint"] == crossing["fingerprint"]
    # users-template reads the encrypted set directly (records only, no plaintext on disk).
    template = run("users-template", str(crossing["index"]), "-o", str(tmp_path / "users.csv"),
                   env={"K2P_AGE_IDENTITY": key})
    assert template.exit_code == 0, template.output
    # import needs files at random: it refuses before any work and says how to proceed.
    with PlankaSimulator(idle_timeout=120) as planka:
        refused = run("import", str(crossing["volumes"][0]), "--planka-url", planka.url,
                      "--state", str(tmp_path / "refused.sqlite"),
                      env={"K2P_PLANKA_API_KEY": planka.create_api_key(planka.admin_email),
                           "K2P_AGE_IDENTITY": key})
        assert refused.exit_code == ExitCode.USAGE and "k2p unpack" in refused.output
        assert planka.mutation_count() == 0
    unpacked = tmp_path / "acme.k2p"
    result = run("unpack", str(crossing["volumes"][0]), "-o", str(unpacked), "--identity", key)
    assert result.exit_code == 0 and crossing["fingerprint"] in result.output, result.output

    reference = import_snapshot(crossing["archive"], tmp_path / "reference.sqlite", tmp_path)
    crossed = import_snapshot(unpacked, tmp_path / "crossed.sqlite", tmp_path)
    direct = import_snapshot(crossing["plain_first"], tmp_path / "direct.sqlite", tmp_path)
    assert reference and sum(len(project) for project in reference.values()) > 1
    assert crossed == reference
    assert direct == reference          # a plain volume set is imported in place, not joined


def test_check_reads_a_split_archive_in_place_and_an_encrypted_one_after_unpack(
        crossing: dict[str, Any], tmp_path: Path) -> None:
    key = str(crossing["key"])
    state = tmp_path / "ledger.sqlite"
    with PlankaSimulator(idle_timeout=300) as planka:
        env = {"K2P_PLANKA_API_KEY": planka.create_api_key(planka.admin_email)}
        imported = run("import", str(crossing["plain_first"]), "--planka-url", planka.url, "--state",
                       str(state), "--report", str(tmp_path / "import.json"), "--json", env=env)
        assert imported.exit_code in (ExitCode.OK, ExitCode.PARTIAL), imported.output
        writes = planka.mutation_count()
        # The plain volume set, read in place: clean, GET only.
        checked = run("check", str(crossing["plain_first"]), "--planka-url", planka.url, "--state", str(state),
                      "--json", env=env)
        assert checked.exit_code == ExitCode.OK, checked.output
        # The encrypted set: refused before any work (its index would hold plaintext on disk).
        refused = run("check", str(crossing["volumes"][0]), "--planka-url", planka.url, "--state",
                      str(state), env={**env, "K2P_AGE_IDENTITY": key})
        assert refused.exit_code == ExitCode.USAGE and "k2p unpack" in refused.output
        unpacked = tmp_path / "acme.k2p"
        assert run("unpack", str(crossing["index"]), "-o", str(unpacked), "--identity", key).exit_code == 0
        again = run("check", str(unpacked), "--planka-url", planka.url, "--state", str(state), "--json", env=env)
        assert again.exit_code == ExitCode.OK, again.output
        assert planka.mutation_count() == writes
