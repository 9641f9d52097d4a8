"""A simulator that hid one of its own bugs behind a 500 fails loudly when it stops."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from k2p.testing.kaiten import sim as kaiten_sim
from k2p.testing.planka import sim as planka_sim
from k2p.testing.kaiten.company import generate_company
from k2p.testing.loopback import SimulatorBug


def _broken(*args: Any, **kwargs: Any) -> Any:
    raise KeyError("deliberate simulator bug")


def test_planka_simulator_reports_internal_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(planka_sim, "dispatch", _broken)
    with pytest.raises(SimulatorBug, match="deliberate simulator bug"):
        with planka_sim.PlankaSimulator(idle_timeout=30) as sim:
            assert requests.get(sim.url + "/api/bootstrap", timeout=10).status_code == 500


def test_kaiten_simulator_reports_internal_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    company = generate_company("tiny")
    monkeypatch.setattr(kaiten_sim, "dispatch", _broken)
    with pytest.raises(SimulatorBug, match="deliberate simulator bug"):
        with kaiten_sim.KaitenSimulator(company, idle_timeout=30) as sim:
            response = requests.get(sim.base_url + "/api/latest/users/current", timeout=10,
                                    headers={"Authorization": f"Bearer {company.admin_token}"})
            assert response.status_code == 500
