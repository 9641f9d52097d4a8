"""The import survives kills at any moment, lost responses and flaky servers without duplicates."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any, Iterator

import pytest

from k2p.testing.planka.sim import PlankaFaultPlan, PlankaSimulator
from tests.helpers.export import export_company
from tests.helpers.planka_state import import_cli, import_into, snapshot

# (share of the clean import's mutating requests, phase): the importer is killed at that request,
# "received": before the server commits it, "committed": after the commit but before the response
# is written — the worst moment for a create.
KILL_POINTS = [(0.0, "committed"), (0.004, "received"), (0.015, "committed"), (0.05, "committed"),
               (0.12, "received"), (0.22, "committed"), (0.37, "committed"), (0.55, "received"),
               (0.72, "committed"), (0.86, "committed"), (0.98, "committed")]


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_company(tmp_path_factory, "tiny", "resilience")


@pytest.fixture(scope="module")
def clean(archive: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The state and counts of an undisturbed import, to compare every other run with."""
    with PlankaSimulator(require_terms=False, idle_timeout=300) as planka:
        outcome = import_into(planka, archive, tmp_path_factory.mktemp("clean") / "ledger.sqlite")
        assert outcome.tally.failed == 0
        key = planka.create_api_key(planka.admin_email)
        return {"snapshot": snapshot(planka.url, key), "mutations": planka.mutation_count(),
                "counts": outcome.report["counts"]}


def _created(counts: dict[str, dict[str, int]]) -> dict[str, int]:
    return {kind: row["created"] for kind, row in counts.items()}


@pytest.mark.parametrize("point", KILL_POINTS, ids=[f"{share:.1%}-{phase}" for share, phase in KILL_POINTS])
def test_sigkill_then_resume_equals_clean_import(archive: Path, clean: dict[str, Any], tmp_path: Path,
                                                 point: tuple[float, str]) -> None:
    share, phase = point
    target = max(1, int(share * clean["mutations"]))
    with PlankaSimulator(require_terms=False, idle_timeout=300) as planka:
        key = planka.create_api_key(planka.admin_email)
        state = tmp_path / "ledger.sqlite"
        proc = import_cli(planka.url, archive, state, key)
        fired: list[int] = []

        def kill(seq: int, method: str, path: str, when: str) -> None:
            if seq == target and when == phase and not fired:
                fired.append(seq)
                os.kill(proc.pid, signal.SIGKILL)
        planka.hooks.on_mutation = kill
        proc.communicate(timeout=120)
        assert fired and proc.returncode == -signal.SIGKILL
        planka.hooks.clear()
        resumed = import_cli(planka.url, archive, state, key)
        out, err = resumed.communicate(timeout=180)
        assert resumed.returncode == 0, out + err
        assert snapshot(planka.url, key) == clean["snapshot"]


def test_faults_give_the_same_final_state(archive: Path, clean: dict[str, Any], tmp_path: Path) -> None:
    faults = PlankaFaultPlan(error_rate=0.04, drop_before_commit_rate=0.03, drop_after_commit_rate=0.05,
                             latency_ms=2, seed=7)
    with PlankaSimulator(require_terms=False, idle_timeout=300) as planka:
        key = planka.create_api_key(planka.admin_email)
        planka.faults = faults
        outcome = import_into(planka, archive, tmp_path / "ledger.sqlite", api_key=key, concurrency=8)
        planka.faults = None
        assert outcome.tally.failed == 0, outcome.report["failures"][:3]
        adopted = sum(row["adopted"] for row in outcome.report["counts"].values())
        assert adopted > 0, "no lost response was reconciled: the fault plan did not bite"
        assert _created(outcome.report["counts"]) == _created(clean["counts"])
        assert snapshot(planka.url, key) == clean["snapshot"]


def test_lost_create_response_is_adopted_not_duplicated(archive: Path, clean: dict[str, Any],
                                                        tmp_path: Path) -> None:
    with PlankaSimulator(require_terms=False, idle_timeout=300) as planka:
        key = planka.create_api_key(planka.admin_email)
        dropped: list[str] = []

        def drop_every_20th(seq: int, method: str, path: str, when: str) -> str | None:
            if when == "committed" and method == "POST" and seq % 20 == 0:
                dropped.append(path)
                return "drop"
            return None
        planka.hooks.on_mutation = drop_every_20th
        outcome = import_into(planka, archive, tmp_path / "ledger.sqlite", api_key=key)
        planka.hooks.clear()
        assert len(dropped) > 10
        assert sum(row["adopted"] for row in outcome.report["counts"].values()) == len(dropped)
        assert snapshot(planka.url, key) == clean["snapshot"]
