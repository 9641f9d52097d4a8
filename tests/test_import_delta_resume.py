"""A delta import killed at any moment resumes to the same Planka as an undisturbed one."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from k2p.fileio import CRASH_AT_ENV
from k2p.testing.kaiten.company import generate_company
from k2p.testing.kaiten.sim import KaitenSimulator
from k2p.testing.planka.sim import PlankaSimulator
from tests.helpers.delta import assert_same, second_pass
from tests.helpers.planka_state import import_cli, import_into, kill_then_resume, snapshot

# share of the undisturbed delta import's mutating requests at which the importer is killed, and
# the phase ("committed": after Planka committed it, before the answer — the worst moment)
LOOPBACK = re.compile(r"127\.0\.0\.1:\d+")
KILL_POINTS = [(0.0, "committed"), (0.1, "received"), (0.3, "committed"), (0.55, "committed"),
               (0.8, "received"), (0.97, "committed")]


class Seqs:
    """Mutation sequence numbers Planka saw (committed ones)."""

    def __init__(self) -> None:
        self.seen: list[int] = []

    def __call__(self, seq: int, method: str, path: str, phase: str) -> None:
        if phase == "committed":
            self.seen.append(seq)


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What an undisturbed delta import leaves, and how many mutations it sends."""
    root = tmp_path_factory.mktemp("delta-clean")
    with KaitenSimulator(generate_company("tiny"), idle_timeout=300) as kaiten, \
            PlankaSimulator(require_terms=False, idle_timeout=300) as planka:
        key = planka.create_api_key(planka.admin_email)
        done = second_pass(root, kaiten, planka, key)
        seqs = Seqs()
        planka.hooks.on_mutation = seqs
        outcome = import_into(planka, done.week2, done.ledger, api_key=key)
        planka.hooks.clear()
        assert outcome.tally.failed == 0 and outcome.report["deleted_in_kaiten"]["items"]
        assert outcome.report["conflicts"]["items"]
        return {"snapshot": _seen(planka, key, kaiten), "mutations": len(seqs.seen)}


def _seen(planka: PlankaSimulator, key: str, kaiten: KaitenSimulator) -> Any:
    """The Planka snapshot with the simulators' loopback ports (in rewritten links) left out."""
    return json.loads(LOOPBACK.sub("127.0.0.1:PORT", json.dumps(snapshot(planka.url, key), ensure_ascii=False)))


def _world(tmp_path: Path) -> Any:
    kaiten = KaitenSimulator(generate_company("tiny"), idle_timeout=300).start()
    planka = PlankaSimulator(require_terms=False, idle_timeout=300).start()
    key = planka.create_api_key(planka.admin_email)
    seqs = Seqs()
    planka.hooks.on_mutation = seqs
    done = second_pass(tmp_path, kaiten, planka, key)
    planka.hooks.clear()
    return kaiten, planka, key, done, max(seqs.seen)


@pytest.mark.parametrize("point", KILL_POINTS, ids=[f"{share:.0%}-{phase}" for share, phase in KILL_POINTS])
def test_sigkill_during_delta_import_then_resume(clean: dict[str, Any], tmp_path: Path,
                                                 point: tuple[float, str]) -> None:
    share, phase = point
    kaiten, planka, key, done, base = _world(tmp_path)
    try:
        assert clean["mutations"] > 10
        target = base + max(1, int(share * clean["mutations"]))
        kill_then_resume(planka, done.week2, done.ledger, key, target, phase)
        assert_same(_seen(planka, key, kaiten), clean["snapshot"])
    finally:
        kaiten.stop()
        planka.stop()


@pytest.mark.parametrize("step", ["delta:card-moved", "delta:child-handled"])
def test_crash_between_planka_and_ledger_resumes(clean: dict[str, Any], tmp_path: Path, step: str,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    kaiten, planka, key, done, _ = _world(tmp_path)
    try:
        monkeypatch.setenv(CRASH_AT_ENV, step)
        crashed = import_cli(planka.url, done.week2, done.ledger, key)
        crashed.communicate(timeout=120)
        assert crashed.returncode == 70, f"{step} was never reached"
        monkeypatch.delenv(CRASH_AT_ENV)
        before = planka.mutation_count()
        resumed = import_cli(planka.url, done.week2, done.ledger, key)
        out, err = resumed.communicate(timeout=180)
        assert resumed.returncode == 0, out + err
        assert planka.mutation_count() > before
        assert_same(_seen(planka, key, kaiten), clean["snapshot"])
    finally:
        kaiten.stop()
        planka.stop()
