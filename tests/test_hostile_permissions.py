"""Everything k2p writes is private (issue 8 item 13): files 0600, directories 0700, and a token
file that group or others can read is refused, not just warned about."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from k2p.archive.writer import ArchiveWriter
from k2p.cli import main
from k2p.errors import ExitCode
from k2p.planka import ledger as ledger_module
from k2p.testing.planka.sim import PlankaSimulator
from tests.helpers.archives import write_archive
from tests.helpers.export import FAST, simulator, token_of

ONE_BOARD = ["--board", "700003"]


def invoke(args: list[str], **env: str) -> Result:
    os.umask(0o022)   # a typical user's umask: k2p must not depend on a stricter one
    return CliRunner().invoke(main, args, env={"K2P_KAITEN_TOKEN": "", "K2P_PLANKA_API_KEY": "",
                                               "K2P_PLANKA_USER": "", "K2P_PLANKA_PASSWORD": "", **env})


def loose_entries(*roots: Path) -> list[str]:
    """Every file not 0600 and every directory not 0700 below (and including) ``roots``."""
    loose = []
    for root in roots:
        for path in [root, *root.rglob("*")] if root.is_dir() else [root]:
            mode = stat.S_IMODE(path.lstat().st_mode)
            if mode != (0o700 if path.is_dir() else 0o600):
                loose.append(f"{path} {oct(mode)}")
    return loose


def token_file(tmp_path: Path, token: str, mode: int) -> Path:
    path = tmp_path / "kaiten.token"
    path.write_text(token + "\n")
    path.chmod(mode)
    return path


def test_everything_k2p_writes_is_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "acme" / "acme.k2p"
    with simulator("tiny") as sim:
        args = ["export", "--kaiten-url", sim.base_url, "--out", str(out), "--rps", FAST,
                "--token-file", str(token_file(tmp_path, token_of(sim), 0o600))]
        # Stopped just before the seal: record files, blobs, the journal and scratch files exist.
        with monkeypatch.context() as patch:
            patch.setattr(ArchiveWriter, "finalize", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt))
            assert invoke(args).exit_code == ExitCode.INTERRUPTED
        assert (out / ".k2p-work").is_dir() and list((out / "records").iterdir())
        assert loose_entries(tmp_path / "acme") == []
        resumed = invoke(args)
        assert resumed.exit_code == 0, resumed.output
    assert loose_entries(tmp_path / "acme") == []
    assert invoke(["pack", str(out)]).exit_code == 0
    assert invoke(["unpack", str(out) + ".tar", "-o", str(tmp_path / "copy.k2p")]).exit_code == 0
    assert invoke(["users-template", str(out), "-o", str(tmp_path / "users.csv")]).exit_code == 0
    with PlankaSimulator(idle_timeout=300) as planka:
        imported = invoke(["import", str(out), "--planka-url", planka.url, "--state", str(tmp_path / "db" / "l.sqlite"),
                           "--report", str(tmp_path / "report.json"), "--accept-terms", *ONE_BOARD],
                          K2P_PLANKA_USER=planka.admin_email, K2P_PLANKA_PASSWORD=planka.admin_password)
        assert imported.exit_code == 0, imported.output
    written = [tmp_path / name for name in ("acme", "acme/acme.k2p.tar", "copy.k2p", "users.csv", "db",
                                            "report.json")]
    assert loose_entries(*written) == []
    assert {path.name for path in (tmp_path / "db").iterdir()} >= {"l.sqlite"}


def test_token_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    with simulator("tiny") as sim:
        path = token_file(tmp_path, token_of(sim), 0o640)
        args = ["export", "--kaiten-url", sim.base_url, "--out", str(tmp_path / "a.k2p"), "--rps", FAST,
                "--token-file", str(path)]
        refused = invoke(args)
        assert refused.exit_code == ExitCode.USAGE
        assert refused.output.count("\n") == 1 and str(path) in refused.output and "chmod 600" in refused.output
        assert not (tmp_path / "a.k2p").exists() and sim.request_log.count() == 0
        allowed = invoke([*args, "--allow-insecure-token-file"])
        assert allowed.exit_code == 0 and "warning" in allowed.output and "chmod 600" in allowed.output


class _FullDisk:
    """A SQLite connection whose writes fail as on a full disk (reads still work)."""

    def __init__(self, real: sqlite3.Connection) -> None:
        self._real = real

    def execute(self, sql: str, args: tuple = ()) -> sqlite3.Cursor:
        if sql.lstrip().upper().startswith(("INSERT", "DELETE", "UPDATE")):
            raise sqlite3.OperationalError("database or disk is full")
        return self._real.execute(sql, args)

    def close(self) -> None:
        self._real.close()


def test_a_full_disk_under_the_ledger_is_a_local_io_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Item 7 for the import: ENOSPC in the ledger names the ledger and exits 9, not 'internal error'."""
    real_connect = sqlite3.connect
    def connect(path: object, *args: object, **kwargs: object) -> object:
        connection = real_connect(path, *args, **kwargs)
        return _FullDisk(connection) if str(path).endswith("ledger.sqlite") else connection
    monkeypatch.setattr(ledger_module.sqlite3, "connect", connect)
    root = tmp_path / "a.k2p"
    write_archive(root)
    with PlankaSimulator(require_terms=False, idle_timeout=60) as planka:
        monkeypatch.setenv("K2P_PLANKA_API_KEY", planka.create_api_key(planka.admin_email))
        result = CliRunner().invoke(main, ["import", str(root), "--planka-url", planka.url,
                                           "--state", str(tmp_path / "ledger.sqlite")])
        assert planka.mutation_count() == 0
    assert result.exit_code == ExitCode.LOCAL_IO, result.output
    assert "ledger.sqlite" in result.output and "disk is full" in result.output
    assert "internal error" not in result.output and result.output.strip().count("\n") == 0
