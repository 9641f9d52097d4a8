"""``k2p check`` against a real Planka 2.x: a clean import checks clean with GET requests only (and
the login), three tamperings are named, ``--repair`` brings them back and a second check is clean.

Skipped unless ``K2P_LIVE_PLANKA_URL`` and credentials are set (see ``tests/test_live_planka.py``);
every run adds a few projects to that server.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from k2p.check import CheckOptions, CheckOutcome, run_check
from k2p.planka.importer import ImportOptions, run_import
from k2p.testing.kaiten.company import generate_company
from k2p.testing.kaiten.sim import KaitenSimulator
from tests.helpers.export import export
from tests.test_live_planka import LIVE_URL, Live, live_credentials, recording

pytestmark = [pytest.mark.live,
              pytest.mark.skipif(not LIVE_URL, reason="set K2P_LIVE_PLANKA_URL (and credentials) to run")]

LOGIN = ("POST", "/api/access-tokens")


@pytest.fixture(scope="module")
def live() -> Live:
    assert LIVE_URL is not None
    return Live(LIVE_URL, live_credentials())


@pytest.fixture(scope="module")
def imported(live: Live, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    work = tmp_path_factory.mktemp("live-check")
    with KaitenSimulator(generate_company("tiny"), idle_timeout=300) as kaiten:
        export(kaiten, work / "tiny.k2p")
    outcome = run_import(ImportOptions(archive=work / "tiny.k2p", planka_url=live.url, state=work / "ledger.sqlite",
                                       accept_terms=True, report=work / "import.json"), live.credentials)
    assert outcome.tally.failed == 0, outcome.report["failures"][:3]
    return {"archive": work / "tiny.k2p", "ledger": work / "ledger.sqlite", "work": work}


def _check(live: Live, imported: dict[str, Any], **options: Any) -> CheckOutcome:
    return run_check(CheckOptions(archive=imported["archive"], planka_url=live.url, state=imported["ledger"],
                                  accept_terms=True, **options), live.credentials)


def _rows(ledger: Path, prefix: str) -> dict[str, str]:
    import sqlite3
    with sqlite3.connect(ledger) as db:
        return dict(db.execute("SELECT key, planka_id FROM objects WHERE status = 'done' AND key GLOB ?",
                               (prefix,)))


def _cards(ledger: Path) -> dict[str, str]:
    return {key: planka_id for key, planka_id in _rows(ledger, "card:*").items() if key.count(":") == 1}


def test_clean_import_checks_clean_with_gets_only(live: Live, imported: dict[str, Any]) -> None:
    with recording() as calls:
        outcome = _check(live, imported, all_files=True)
    assert {(method, path) for method, path, _ in calls if method != "GET"} <= {LOGIN}
    assert outcome.exit_code == 0, [item.text() for item in outcome.verdict.failures][:10]
    assert outcome.report["counts"]["card"]["found"] == len(_cards(imported["ledger"]))
    assert outcome.report["files"]["hashed"] > 0


def test_three_tamperings_named_and_repaired(live: Live, imported: dict[str, Any]) -> None:
    client = live.client
    cards = _cards(imported["ledger"])
    renamed, card_id = next(iter(sorted(cards.items())))
    client.update(f"/api/cards/{card_id}", {"name": "Renamed on the live server"})
    label_key = next(iter(sorted(_rows(imported["ledger"], "card:*:label:label:*"))))
    card_key, label = label_key.split(":label:", 1)
    label_id = _rows(imported["ledger"], label)[label]
    client.delete(f"/api/cards/{cards[card_key]}/card-labels/labelId:{label_id}")
    comment_key, comment_id = next(iter(sorted(_rows(imported["ledger"], "comment:*").items())))
    client.delete(f"/api/comments/{comment_id}")
    expected = {("card", renamed, "name", "differs"), ("card_label", label_key, "", "missing"),
                ("comment", comment_key, "", "missing")}

    with recording() as calls:
        first = _check(live, imported)
    assert {(method, path) for method, path, _ in calls if method != "GET"} <= {LOGIN}
    assert first.exit_code == 11
    assert {(item.kind, item.key, item.field, item.problem) for item in first.verdict.failures} == expected

    repaired = _check(live, imported, repair=True)
    assert repaired.repair is not None and not repaired.repair["failed"], repaired.repair
    assert repaired.exit_code == 0, [item.text() for item in repaired.verdict.failures]
    again = _check(live, imported)
    assert again.exit_code == 0 and not again.report["informational"]
