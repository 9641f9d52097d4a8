"""``k2p import`` and ``k2p users-template`` from the command line: checks before any write."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Iterator

import pytest
from click.testing import CliRunner, Result

from k2p.cli import main
from k2p.errors import ExitCode
from k2p.testing.planka.sim import PlankaSimulator
from tests.helpers.export import export_company

PASSWORD = "Importer-Password-2026!"
# Importing only the smallest board keeps these command-line checks fast.
ONE_BOARD = ["--board", "700003"]
# An API key never sent anywhere; it looks random because every registered secret is masked in all
# output k2p writes later in this process (a key of 41 "x" would mask a long "xxx…" in test data).
UNUSED_KEY = "q7Vd2kLm_p9Xr4Tz8Wc1Ny6Hb3Js5Gf0Ae2Ku7Ro"


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_company(tmp_path_factory, "tiny", "cli")


@pytest.fixture()
def planka() -> Iterator[PlankaSimulator]:
    with PlankaSimulator(require_terms=True, idle_timeout=300) as sim:
        yield sim


def run(args: list[str], env: dict[str, str], tmp_path: Path) -> Result:
    base = {"K2P_PLANKA_API_KEY": "", "K2P_PLANKA_USER": "", "K2P_PLANKA_PASSWORD": ""}
    return CliRunner().invoke(main, [*args, "--report", str(tmp_path / "report.json")] if args[0] == "import"
                              else args, env={**base, **env})


def test_planka_1x_is_refused(archive: Path, tmp_path: Path) -> None:
    with PlankaSimulator(v1=True, idle_timeout=60) as old:
        result = run(["import", str(archive), "--planka-url", old.url, "--state", str(tmp_path / "l.sqlite")],
                     {"K2P_PLANKA_API_KEY": UNUSED_KEY}, tmp_path)
        assert result.exit_code == ExitCode.UNSUPPORTED
        assert "Planka 1.x not supported yet" in result.output
        assert old.mutation_count() == 0


def test_terms_step_needs_consent(archive: Path, planka: PlankaSimulator, tmp_path: Path) -> None:
    env = {"K2P_PLANKA_USER": planka.admin_email, "K2P_PLANKA_PASSWORD": planka.admin_password}
    args = ["import", str(archive), "--planka-url", planka.url, "--state", str(tmp_path / "l.sqlite"), *ONE_BOARD]
    refused = run(args, env, tmp_path)
    assert refused.exit_code == ExitCode.REMOTE
    assert "accept its terms of service" in refused.output and "--accept-terms" in refused.output
    assert planka.mutation_count() == 0
    accepted = run([*args, "--accept-terms"], env, tmp_path)
    assert accepted.exit_code == 0, accepted.output
    assert planka.admin_password not in accepted.output
    assert planka.admin_password not in (tmp_path / "report.json").read_text()
    assert planka.admin_password.encode() not in (tmp_path / "l.sqlite").read_bytes()


def test_wrong_credentials_are_one_line_errors(archive: Path, planka: PlankaSimulator, tmp_path: Path) -> None:
    args = ["import", str(archive), "--planka-url", planka.url, "--state", str(tmp_path / "l.sqlite")]
    bad_key = "abcdefgh_" + "0" * 32
    result = run(args, {"K2P_PLANKA_API_KEY": bad_key}, tmp_path)
    assert result.exit_code == ExitCode.REMOTE and "refused the credentials (401)" in result.output
    assert bad_key not in result.output and "Traceback" not in result.output
    result = run(args, {"K2P_PLANKA_USER": planka.admin_email, "K2P_PLANKA_PASSWORD": "wrong-password"}, tmp_path)
    assert result.exit_code == ExitCode.REMOTE and "login" in result.output
    assert "wrong-password" not in result.output
    result = run(args, {}, tmp_path)
    assert result.exit_code == ExitCode.USAGE and "K2P_PLANKA_API_KEY" in result.output
    result = run(["import", str(archive)], {}, tmp_path)
    assert result.exit_code == ExitCode.USAGE and "--planka-url is required" in result.output


def test_damaged_or_incomplete_archive_is_refused_before_any_write(archive: Path, planka: PlankaSimulator,
                                                                   tmp_path: Path) -> None:
    import shutil

    damaged = tmp_path / "damaged.k2p"
    shutil.copytree(archive, damaged)
    blob = max((p for p in (damaged / "blobs").rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)
    blob.unlink()
    env = {"K2P_PLANKA_API_KEY": planka.create_api_key(planka.admin_email)}
    result = run(["import", str(damaged), "--planka-url", planka.url, "--state", str(tmp_path / "l.sqlite")],
                 env, tmp_path)
    assert result.exit_code == ExitCode.ARCHIVE_INVALID and "refusing to import" in result.output
    (damaged / "k2p-archive.json").unlink()
    result = run(["import", str(damaged), "--planka-url", planka.url, "--state", str(tmp_path / "l.sqlite")],
                 env, tmp_path)
    assert result.exit_code == ExitCode.ARCHIVE_INCOMPLETE
    assert len(planka.request_log) == 0, "nothing may reach Planka before the archive is verified"


def test_users_template_and_mapping_errors(archive: Path, planka: PlankaSimulator, tmp_path: Path) -> None:
    key = planka.create_api_key(planka.admin_email)
    target = tmp_path / "users.csv"
    made = run(["users-template", str(archive), "-o", str(target)], {}, tmp_path)
    assert made.exit_code == 0 and "fill in the planka_user column" in made.output
    rows = list(csv.DictReader(target.open(encoding="utf-8")))
    assert rows and set(rows[0]) == {"kaiten_id", "name", "email", "username", "planka_user", "action"}
    assert {row["action"] for row in rows} <= {"create", "skip"} and any(row["action"] == "create" for row in rows)
    assert all(row["planka_user"] == "" for row in rows)
    again = run(["users-template", str(archive), "-o", str(target)], {}, tmp_path)
    assert again.exit_code == ExitCode.REFUSED
    planka.add_user(email=rows[0]["email"] or "x@example.com", name="Mapped", password=PASSWORD)
    matched = run(["users-template", str(archive), "-o", str(target), "--force", "--planka-url", planka.url],
                  {"K2P_PLANKA_API_KEY": key}, tmp_path)
    assert matched.exit_code == 0 and "1 matched" in matched.output
    rows = list(csv.DictReader(target.open(encoding="utf-8")))
    rows[1].update(planka_user="nobody-like-this", action="map")
    with target.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    result = run(["import", str(archive), "--planka-url", planka.url, "--users", str(target),
                  "--state", str(tmp_path / "l.sqlite")], {"K2P_PLANKA_API_KEY": key}, tmp_path)
    assert result.exit_code == ExitCode.USAGE and "nobody-like-this" in result.output
    assert "nothing was imported" in result.output and planka.mutation_count() == 0


def test_ledger_is_bound_to_one_planka(archive: Path, planka: PlankaSimulator, tmp_path: Path) -> None:
    state = tmp_path / "l.sqlite"
    env = {"K2P_PLANKA_API_KEY": planka.create_api_key(planka.admin_email)}
    first = run(["import", str(archive), "--planka-url", planka.url, "--state", str(state), *ONE_BOARD],
                env, tmp_path)
    assert first.exit_code == 0, first.output
    assert "Report:" in first.output and "Archive fingerprint:" in first.output
    with PlankaSimulator(require_terms=False, idle_timeout=60) as other:
        env_other = {"K2P_PLANKA_API_KEY": other.create_api_key(other.admin_email)}
        result = run(["import", str(archive), "--planka-url", other.url, "--state", str(state)], env_other, tmp_path)
        assert result.exit_code == ExitCode.REFUSED and "another Planka server" in result.output
        assert other.mutation_count() == 0


def test_json_output(archive: Path, planka: PlankaSimulator, tmp_path: Path) -> None:
    import json

    env: dict[str, Any] = {"K2P_PLANKA_API_KEY": planka.create_api_key(planka.admin_email)}
    result = run(["import", str(archive), "--planka-url", planka.url, "--state", str(tmp_path / "l.sqlite"),
                  "--json", *ONE_BOARD], env, tmp_path)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["mode"] == "import" and report["counts"]["card"]["created"] > 0
    assert report["fingerprint"] and report["report_path"].endswith("report.json")


def test_one_ledger_serves_one_import_at_a_time(tmp_path: Path) -> None:
    from k2p.errors import Refused
    from k2p.planka.ledger import Ledger

    first = Ledger(tmp_path / "l.sqlite")
    try:
        with pytest.raises(Refused, match="another k2p import is using the ledger"):
            Ledger(tmp_path / "l.sqlite")
    finally:
        first.close()
    Ledger(tmp_path / "l.sqlite").close()
