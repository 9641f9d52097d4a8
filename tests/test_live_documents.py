"""Documents boards (``documents = "board"``) on a real Planka 2.x server, compared with the simulator.

Skipped unless ``K2P_LIVE_PLANKA_URL`` (and credentials, see ``tests/test_live_planka.py``) name a
server. The simulated ``tiny`` company is exported and imported with ``documents = "board"`` into
the live server and into the Planka simulator: the Documents boards must read back identically
(lists per group, Markdown, attachments with their bytes, covers), and a rerun against the live
server must send no mutating request.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from k2p.mapping.wording import WORDS
from k2p.planka.importer import ImportOptions, run_import
from k2p.testing.kaiten.company import generate_company
from k2p.testing.kaiten.sim import KaitenSimulator
from k2p.testing.planka.sim import PlankaSimulator
from tests.helpers.export import export
from tests.helpers.planka_state import import_into, ledger_ids, snapshot
from tests.test_live_planka import LIVE_URL, Live, live_credentials, recording

pytestmark = [pytest.mark.live,
              pytest.mark.skipif(not LIVE_URL, reason="set K2P_LIVE_PLANKA_URL (and credentials) to run")]
BOARD_NAMES = {language["documents_board"] for language in WORDS.values()}
MUTATING = {"POST", "PATCH", "PUT", "DELETE"}


def documents_boards(view: dict[str, Any]) -> dict[str, Any]:
    """The Documents boards of a snapshot, without board members (the importing account differs
    between the servers; no other user is mapped here)."""
    return {project: {name: {key: value for key, value in board.items() if key != "members"}
                      for name, board in boards.items() if name in BOARD_NAMES}
            for project, boards in view.items() if any(name in BOARD_NAMES for name in boards)}


def test_documents_boards_read_back_like_the_simulator(tmp_path: Path) -> None:
    assert LIVE_URL is not None
    company = generate_company("tiny")
    archive = tmp_path / "tiny.k2p"
    with KaitenSimulator(company, idle_timeout=300) as sim:
        export(sim, archive)
    mapping = tmp_path / "mapping.toml"
    mapping.write_text('documents = "board"\n', encoding="utf-8")
    live = Live(LIVE_URL, live_credentials())
    options = ImportOptions(archive=archive, planka_url=live.url, state=tmp_path / "live.sqlite",
                            mapping=mapping, accept_terms=True, report=tmp_path / "live.json")
    outcome = run_import(options, live.credentials)
    assert outcome.tally.failed == 0, outcome.report["failures"][:3]
    with recording() as calls:
        again = run_import(options.model_copy(update={"report": tmp_path / "again.json"}), live.credentials)
    assert again.tally.failed == 0
    assert [call for call in calls if call[0] in MUTATING and not call[1].startswith("/api/access-tokens")] == []
    projects = set(ledger_ids(tmp_path / "live.sqlite", "project").values())
    on_live = documents_boards(live.snapshot(projects))
    with PlankaSimulator(idle_timeout=300) as planka:
        key = planka.create_api_key(planka.admin_email)
        simulated = import_into(planka, archive, tmp_path / "sim.sqlite", mapping=mapping, api_key=key)
        assert simulated.tally.failed == 0
        on_sim = documents_boards(snapshot(planka.url, key))
    expected = _without_links(on_sim, on_live)
    for project in expected:
        for board in expected[project]:
            for part in expected[project][board]:
                assert on_live[project][board][part] == expected[project][board][part], (project, part)
    assert on_live and on_live == expected


def _without_links(sim_view: dict[str, Any], live_view: dict[str, Any]) -> dict[str, Any]:
    """Card links hold each server's own URL and card ids: compare them by shape only."""
    import re
    pattern = re.compile(r"\]\(https?://[^)]+/cards/\d+\)")

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: strip(item) for key, item in value.items()}
        if isinstance(value, list):
            return [strip(item) for item in value]
        return pattern.sub("](<card>)", value) if isinstance(value, str) else value

    live_view.update(strip(live_view))
    return strip(sim_view)
