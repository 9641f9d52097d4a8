"""A newer archive of the same company updates Planka in place (fix-forward); dry runs are exact."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from k2p.cli import main
from k2p.testing.kaiten.company import KaitenCompany, generate_company
from k2p.testing.kaiten.sim import KaitenSimulator
from k2p.testing.planka.sim import PlankaSimulator
from tests.helpers.export import export
from tests.helpers.kaiten_changes import add_comment
from tests.helpers.planka_state import PlankaReader, import_into, ledger_ids, ledger_keys


def _change_company(company: KaitenCompany) -> dict[str, int]:
    """Rename one card, add one comment to another, add one card: what a week of work does."""
    live = [card_id for card_id in company.cards_visible_to("admin")
            if company.cards[card_id]["condition"] == 1]
    renamed, commented = live[0], live[1]
    company.cards[renamed]["title"] = "Renamed after the first import ✏️"
    new_id = add_comment(company, commented, "A comment written after the first import")
    added = company.add_card(company.cards[renamed]["board_id"], like=renamed, title="Brand-new card")
    return {"renamed": renamed, "commented": commented, "comment": new_id, "added": added}


def _nonzero(counts: dict[str, dict[str, int]], outcome: str) -> dict[str, int]:
    return {kind: row[outcome] for kind, row in counts.items() if row[outcome]}


def _plan_counts(counts: dict[str, dict[str, int]]) -> dict[str, tuple[int, int, int]]:
    return {kind: (row["created"], row["updated"], row["unchanged"]) for kind, row in counts.items()}


def test_fix_forward_and_exact_dry_runs(tmp_path: Path) -> None:
    company = generate_company("tiny")
    with KaitenSimulator(company, idle_timeout=300) as kaiten, \
            PlankaSimulator(require_terms=False, idle_timeout=300) as planka:
        first_archive, second_archive = tmp_path / "week1.k2p", tmp_path / "week2.k2p"
        export(kaiten, first_archive)
        key = planka.create_api_key(planka.admin_email)
        ledger = tmp_path / "ledger.sqlite"

        plan = import_into(planka, first_archive, ledger, api_key=key, dry_run=True)
        assert planka.mutation_count() == 0 and not ledger.exists()
        first = import_into(planka, first_archive, ledger, api_key=key)
        assert _plan_counts(plan.report["counts"]) == _plan_counts(first.report["counts"])
        hidden = f"project:{company.landmarks['hidden_space']}"   # no --users: nobody has an account
        assert (hidden, "members") in {(note["entity"], note["field"]) for note in first.report["fidelity_notes"]}
        ids_before = {kind: ledger_ids(ledger, kind) for kind in ("card", "comment", "board", "list")}
        keys_before = ledger_keys(ledger)

        changed = _change_company(company)
        export(kaiten, second_archive)
        before = planka.mutation_count()
        plan = import_into(planka, second_archive, ledger, api_key=key, dry_run=True)
        assert planka.mutation_count() == before
        second = import_into(planka, second_archive, ledger, api_key=key)
        assert _plan_counts(plan.report["counts"]) == _plan_counts(second.report["counts"])

        assert _nonzero(second.report["counts"], "updated") == {"card": 1}
        created = _nonzero(second.report["counts"], "created")
        assert created["card"] == 1 and created["comment"] == 1
        new_keys = ledger_keys(ledger) - keys_before
        added = f"card:{changed['added']}"
        assert all(key == f"comment:{changed['comment']}" or key.startswith(added) for key in new_keys), new_keys
        for kind, ids in ids_before.items():
            after = ledger_ids(ledger, kind)
            assert {key: after[key] for key in ids} == ids, f"{kind}: Planka ids changed"

        reader = PlankaReader(planka.url, key)
        cards = ledger_ids(ledger, "card")
        renamed, commented = cards[f"card:{changed['renamed']}"], cards[f"card:{changed['commented']}"]
        assert reader.get(f"/api/cards/{renamed}")["item"]["name"] == "Renamed after the first import ✏️"
        texts = [comment["text"] for comment in reader.comments(commented)]
        assert texts[-1].endswith("A comment written after the first import")
        assert reader.get(f"/api/cards/{cards[added]}")["item"]["name"] == "Brand-new card"

        before = planka.mutation_count()
        third = import_into(planka, second_archive, ledger, api_key=key)
        assert planka.mutation_count() == before
        assert not _nonzero(third.report["counts"], "created") and not _nonzero(third.report["counts"], "updated")


def test_offline_dry_run_plans_from_the_ledger_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    company = generate_company("tiny")
    with KaitenSimulator(company, idle_timeout=300) as kaiten:
        export(kaiten, tmp_path / "a.k2p")
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    result = CliRunner().invoke(main, ["import", str(tmp_path / "a.k2p"), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "offline, from the ledger only" in result.output and "would create" in result.output
    assert not list(work.glob("*.sqlite")), "a dry run must not leave a ledger behind"
    assert list(work.glob("k2p-import-plan-*.json"))
