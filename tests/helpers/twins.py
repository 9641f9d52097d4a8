"""Two builds of the same simulated company (compact or not, lazy boards or all at once) must be
indistinguishable: these helpers apply the same changes to both and export both."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from k2p.testing.kaiten.changes import evolve_company
from k2p.testing.kaiten.sim import KaitenSimulator
from tests.helpers.export import content, export


def change_both(first: Any, second: Any) -> None:
    """Drift (changes.py), a direct edit, an appended history row and an added card, on each;
    the two change logs must be equal."""
    assert evolve_company(first, per_kind=3) == evolve_company(second, per_kind=3)
    for company in (first, second):
        card_id = company.served_card_ids()[-1]
        company.cards[card_id]["title"] = "Edited by a test"
        company.location_history.setdefault(card_id, []).append({"id": "1", "changed": "x"})
        company.add_card(company.landmarks["boards"][0], title="Added")


def assert_same_exports(companies: tuple[Any, Any], tmp_path: Path) -> None:
    """Export both companies, served in turn on the same ports (URLs are part of the records and
    digests), and compare the archives' records, blobs and missing entries byte for byte."""
    archives: list[dict[str, bytes]] = []
    ports: dict[str, int] = {}
    for company in companies:
        root = tmp_path / f"{len(archives)}.k2p"
        with KaitenSimulator(company, idle_timeout=120, **ports) as sim:
            export(sim, root, files=False)
            ports = {"port": port_of(sim.base_url), "storage_port": port_of(sim.storage_url)}
        archives.append(content(root))
    assert sorted(archives[0]) == sorted(archives[1])
    for name, data in archives[0].items():
        assert data == archives[1][name], name


def port_of(url: str) -> int:
    return int(url.split("/")[2].rsplit(":", 1)[1])
