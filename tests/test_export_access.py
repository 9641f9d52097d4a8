"""What a token can see and where it may go: a non-admin export, token hygiene, a rejected token."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from k2p.archive.records import iter_decompressed
from k2p.errors import ExitCode
from k2p.testing.kaiten.sim import KaitenSimulator
from k2p.testing.loopback import LoggedRequest
from tests.helpers.export import assert_valid, by_id, export_args, records, run_cli, sim_fixture, token_of
from tests.helpers.ground_truth import CHECKS

sim = sim_fixture("tiny")


@dataclass(frozen=True)
class CliRun:
    root: Path
    result: subprocess.CompletedProcess[str]
    log: list[LoggedRequest]


def cli_export(sim: KaitenSimulator, factory: pytest.TempPathFactory, kind: str) -> CliRun:
    """``k2p export`` in a subprocess with the token of ``kind``; must succeed."""
    root = factory.mktemp(kind) / "acme.k2p"
    start = len(sim.request_log)
    result = run_cli(export_args(sim, root), token_of(sim, kind))
    assert result.returncode == 0, result.stderr
    return CliRun(root, result, sim.request_log.snapshot()[start:])


@pytest.fixture(scope="module")
def user_run(sim: KaitenSimulator, tmp_path_factory: pytest.TempPathFactory) -> CliRun:
    """An export with the normal user's token (not an admin)."""
    return cli_export(sim, tmp_path_factory, "user")


@pytest.fixture(scope="module")
def admin_run(sim: KaitenSimulator, tmp_path_factory: pytest.TempPathFactory) -> CliRun:
    return cli_export(sim, tmp_path_factory, "admin")


# --- a normal user's token ----------------------------------------------------------------------
@pytest.mark.parametrize("check", sorted(CHECKS))
def test_user_export_holds_exactly_what_the_user_sees(user_run: CliRun, sim: KaitenSimulator,
                                                      check: str) -> None:
    CHECKS[check](user_run.root, sim.company, "user")


def test_admin_only_collections_are_reported_forbidden(user_run: CliRun) -> None:
    root = user_run.root
    assert_valid(root)
    missing = by_id(root, "missing")
    for collection in ("company_users", "sprints"):
        entry = missing[f"collection:{collection}"]
        assert (entry["reason"], entry["http_status"], entry["collection"]) == ("forbidden", 403, collection)
        assert records(root, collection) == []  # the collection exists, empty


def test_hidden_space_board_and_cards_are_absent(user_run: CliRun, sim: KaitenSimulator) -> None:
    root = user_run.root
    co = sim.company
    hidden_space, hidden_board = co.landmarks["hidden_space"], co.landmarks["hidden_board"]
    hidden_cards = {str(cid) for cid in co.expected_missing("user")["cards"]}
    assert hidden_cards and hidden_space in co.visible_space_ids("admin")
    assert str(hidden_space) not in by_id(root, "spaces")
    assert str(hidden_board) not in by_id(root, "boards")
    assert not hidden_cards & set(by_id(root, "cards"))
    assert not any(row["ref"]["board_id"] == str(hidden_board) for row in records(root, "columns"))
    assert not any(row["ref"]["card_id"] in hidden_cards for row in records(root, "comments"))


# --- token hygiene ------------------------------------------------------------------------------
def archive_texts(root: Path) -> Iterator[tuple[str, bytes]]:
    """Every file's bytes, plus the decompressed content of every zstd record file."""
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        data = path.read_bytes()
        yield str(path), data
        if path.name.endswith(".zst"):
            with open(path, "rb") as handle:
                yield f"{path} (decompressed)", b"".join(iter_decompressed(handle, name=str(path)))


@pytest.mark.parametrize("kind", ["admin", "user"])
def test_token_is_in_no_archive_file_and_no_output(sim: KaitenSimulator, kind: str, admin_run: CliRun,
                                                   user_run: CliRun) -> None:
    run = admin_run if kind == "admin" else user_run
    token = token_of(sim, kind)
    needles = {token.encode(), token.replace("-", "").encode()}
    seen = 0
    for name, data in archive_texts(run.root):
        seen += 1
        assert not any(needle in data for needle in needles), name
    assert seen > 20
    assert token not in run.result.stdout + run.result.stderr
    assert "Exported" in run.result.stdout


def test_storage_is_never_sent_the_token(admin_run: CliRun) -> None:
    storage = [entry for entry in admin_run.log if entry.origin == "storage"]
    signed = [entry for entry in storage if entry.path.startswith("/signed/")]
    legacy = [entry for entry in storage if entry.path.startswith("/files/")]
    assert signed and legacy and len(signed) + len(legacy) == len(storage)
    assert not [entry for entry in storage if entry.had_authorization]
    assert all(entry.had_authorization for entry in admin_run.log if entry.origin == "api")
    assert all(entry.status in (200, 404) for entry in storage)  # no signed URL was refused


def test_wrong_token_exits_6_with_one_line(sim: KaitenSimulator, tmp_path: Path) -> None:
    result = run_cli(export_args(sim, tmp_path / "out"), "not-a-valid-token-123")
    assert result.returncode == ExitCode.REMOTE
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("k2p: error:") and "401" in lines[0]
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert "not-a-valid-token-123" not in result.stderr
    # the rejected run bound nothing: the right token may now export with other options
    board = str(sim.company.landmarks["boards"][1])
    retried = run_cli(export_args(sim, tmp_path / "out", "--board", board, "--no-files"), token_of(sim))
    assert retried.returncode == 0, retried.stderr
    assert set(by_id(tmp_path / "out", "boards")) == {board}
