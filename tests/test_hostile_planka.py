"""Hostile or broken Planka-side answers (issue 8): cut-off bodies are retried, a server that is not
Planka and ids that are not in the archive stop the import with their documented exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from k2p.cli import main
from k2p.errors import ExitCode
from k2p.testing.planka.sim import PlankaFaultPlan, PlankaSimulator
from tests.helpers.export import export_company
from tests.helpers.planka_state import import_into, snapshot
from tests.helpers.stubs import Stub

BOARD = "700003"  # the smallest board of the tiny company
UNUSED_KEY = "h3Rk8Qw2_Zt5Lp1Mv9Bx4Nc7Jd0Fs6Gy2Ua8Ei3To"  # random-looking: registered secrets are masked


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_company(tmp_path_factory, "tiny", "hostile-planka")


def run(args: list[str], tmp_path: Path) -> Result:
    env = {"K2P_PLANKA_API_KEY": UNUSED_KEY, "K2P_PLANKA_USER": "", "K2P_PLANKA_PASSWORD": ""}
    return CliRunner().invoke(main, [*args, "--report", str(tmp_path / "report.json")], env=env)


def test_truncated_answers_are_retried_and_change_nothing(archive: Path, tmp_path: Path) -> None:
    with PlankaSimulator(require_terms=False, idle_timeout=300) as planka:
        key = planka.create_api_key(planka.admin_email)
        import_into(planka, archive, tmp_path / "clean.sqlite", api_key=key, boards=(int(BOARD),))
        clean = snapshot(planka.url, key)
    with PlankaSimulator(require_terms=False, idle_timeout=300) as planka:
        key = planka.create_api_key(planka.admin_email)
        planka.faults = PlankaFaultPlan(truncate_rate=0.1, seed=5)
        outcome = import_into(planka, archive, tmp_path / "ledger.sqlite", api_key=key, boards=(int(BOARD),))
        planka.faults = None
        truncated = planka.request_log.count(lambda item: item.note == "truncated-after-processing")
        assert truncated >= 3
        assert outcome.tally.failed == 0, outcome.report["failures"][:3]
        assert snapshot(planka.url, key) == clean


def test_an_html_server_is_not_a_planka_server(archive: Path, tmp_path: Path) -> None:
    page = "<!doctype html><html><body>Welcome to nginx!</body></html>"
    with Stub(lambda handler: handler.send_text(200, page, "text/html")) as stub:
        result = run(["import", str(archive), "--planka-url", stub.url, "--state", str(tmp_path / "l.sqlite")],
                     tmp_path)
    assert result.exit_code == ExitCode.REMOTE, result.output
    assert "is not a Planka server" in result.output and "1.x" not in result.output
    assert stub.paths == ["/api/bootstrap", "/api/config"]


@pytest.mark.parametrize("dry_run", [True, False], ids=["dry-run", "import"])
@pytest.mark.parametrize("scope", [["--board", "999"], ["--space", "999"], ["--board", BOARD, "--board", "999"]],
                         ids=["board", "space", "one-unknown"])
def test_ids_not_in_the_archive_are_a_usage_error(archive: Path, tmp_path: Path, scope: list[str],
                                                  dry_run: bool) -> None:
    with PlankaSimulator(require_terms=False, idle_timeout=60) as planka:
        target = ["--dry-run"] if dry_run else ["--planka-url", planka.url]
        result = run(["import", str(archive), *target, "--state", str(tmp_path / "l.sqlite"), *scope], tmp_path)
        assert result.exit_code == ExitCode.USAGE, result.output
        assert "999: not in the archive" in result.output
        assert len(planka.request_log) == 0  # refused before any request
    assert not (tmp_path / "l.sqlite").exists()
