"""End to end: migrated cards read like native Planka cards (issue 14): descriptions hold only the
Kaiten text, Kaiten-only facts are fields of that card (never shown empty), the Kaiten link is a
link attachment, and a newer archive updates those fields in place."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, Iterator

import pytest

from k2p.mapping.footer import duration
from k2p.mapping.text import human_utc
from k2p.testing.kaiten.company import KaitenCompany, generate_company
from k2p.testing.kaiten.sim import KaitenSimulator
from k2p.testing.planka.sim import PlankaSimulator
from tests.helpers.export import export
from tests.helpers.planka_state import PlankaReader, card_fields, import_into, ledger_ids

CARD_URL = "https://acme.kaiten.ru/space/{space_id}/card/{card_id}"
FOOTER_MARKS = ("**Kaiten card", "Kaiten card ", "Members without a Planka user", "Links kept as text",
                "Files from comments", "- Responsible:", "- Type:", "- Blocked:")


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    company = generate_company("small")
    _common_property(company)
    work = tmp_path_factory.mktemp("native")
    archive, mapping = work / "small.k2p", work / "mapping.toml"
    mapping.write_text(f'card_url = "{CARD_URL}"\n', encoding="utf-8")
    with KaitenSimulator(company, idle_timeout=300) as kaiten:
        export(kaiten, archive)
    with PlankaSimulator(require_terms=False, idle_timeout=300) as planka:
        key = planka.create_api_key(planka.admin_email)
        outcome = import_into(planka, archive, work / "ledger.sqlite", api_key=key, mapping=mapping)
        assert outcome.report["counts"]["card"]["failed"] == 0
        reader = PlankaReader(planka.url, key)
        cards = {int(card_key.split(":")[1]): reader.get(f"/api/cards/{planka_id}")
                 for card_key, planka_id in ledger_ids(work / "ledger.sqlite", "card").items()}
        yield {"company": company, "planka": planka, "key": key, "archive": archive, "mapping": mapping,
               "ledger": work / "ledger.sqlite", "cards": cards}


def _common_property(company: KaitenCompany) -> None:
    """Give 3 of every 4 cards of the busiest board (with properties) a value of its first property."""
    visible = company.cards_visible_to("admin")
    boards = Counter(company.cards[card_id]["board_id"] for card_id in visible
                     if company.boards[company.cards[card_id]["board_id"]]["card_properties"])
    board_id = boards.most_common(1)[0][0]
    key = company.boards[board_id]["card_properties"][0]["key"]
    for n, card_id in enumerate(card_id for card_id in visible if company.cards[card_id]["board_id"] == board_id):
        if n % 4:
            company.cards[card_id]["properties"] = {**(company.cards[card_id]["properties"] or {}), key: "common"}


def test_descriptions_hold_only_the_kaiten_text(imported: dict[str, Any]) -> None:
    company: KaitenCompany = imported["company"]
    assert len(imported["cards"]) == len(company.cards_visible_to("admin"))
    for card_id, data in imported["cards"].items():
        description = data["item"]["description"]
        kaiten = company.card_payload(card_id)
        if not (kaiten.get("description") or "").strip() and len(kaiten["title"]) <= 256:
            assert description is None, card_id
        for mark in FOOTER_MARKS:
            assert mark not in (description or ""), (card_id, mark)
        assert "- [x] " not in (description or "") and "- [ ] " not in (description or "")


def test_no_card_shows_an_empty_field(imported: dict[str, Any]) -> None:
    company: KaitenCompany = imported["company"]
    reader = PlankaReader(imported["planka"].url, imported["key"])
    for card_id, data in imported["cards"].items():
        own = card_fields(data)[1]
        assert own and all(own.values()), (card_id, own)
        assert [group["name"] for group in data["included"]["customFieldGroups"]] == ["Details"]
        assert own["Kaiten card"] == str(company.card_payload(card_id)["id"])
    wide = 0
    for board_id in ledger_ids(imported["ledger"], "board").values():
        board = reader.get(f"/api/boards/{board_id}")
        cards = board["included"]["cards"]
        used: Counter[str] = Counter()
        for card in cards:
            shown, own = card_fields(board, card["id"])
            assert own and all(own.values())
            used.update(name for name, value in shown.items() if value)
            wide += len(shown)
        for name, count in used.items():      # a board field only for what most cards have (± archived ones)
            assert count >= 0.4 * len(cards), (board_id, name, count, len(cards))
    assert wide, "a property most cards of a board use has a board field"


def test_every_footer_fact_is_a_field_of_its_card(imported: dict[str, Any]) -> None:
    company: KaitenCompany = imported["company"]
    checked = Counter()
    for card_id, data in imported["cards"].items():
        kaiten = company.card_payload(card_id)
        own = card_fields(data)[1]
        assert (own.get("Created") or "").startswith(human_utc(kaiten["created"]) or "?"), card_id
        assert ("Time spent" in own) == bool(kaiten.get("time_spent_sum"))
        if kaiten.get("time_spent_sum"):
            assert own["Time spent"] == duration(kaiten["time_spent_sum"] * 60)
            checked["time"] += 1
        assert ("ASAP" in own) == bool(kaiten.get("asap"))
        if kaiten.get("size_text"):
            assert own["Size"] == f"{kaiten['size_text']} {kaiten['size_unit']}".strip()
            checked["size"] += 1
        if any(member.get("type") == 2 for member in kaiten.get("members") or []):
            assert own.get("Responsible"), card_id
            checked["responsible"] += 1
        if isinstance(kaiten.get("type"), dict) and kaiten["type"].get("name"):
            assert own["Type"] == kaiten["type"]["name"]
            checked["type"] += 1
        if kaiten.get("blocked"):
            assert own.get("Blocked"), card_id
            checked["blocked"] += 1
    blocked = card_fields(imported["cards"][company.landmarks["blocked_card"]])[1]["Blocked"] or ""
    assert "Needs the API first" in blocked and "Waiting for legal" in blocked
    assert set(checked) == {"time", "size", "responsible", "type", "blocked"}, checked


def test_the_kaiten_link_is_a_link_attachment(imported: dict[str, Any]) -> None:
    for card_id, data in imported["cards"].items():
        links = [item for item in data["included"]["attachments"]
                 if item["type"] == "link" and item["name"] == f"Kaiten card {card_id}"]
        assert len(links) == 1 and links[0]["data"]["url"].endswith(f"/card/{card_id}"), card_id


def test_rerun_sends_no_writes(imported: dict[str, Any]) -> None:
    planka: PlankaSimulator = imported["planka"]
    before = planka.mutation_count()
    again = import_into(planka, imported["archive"], imported["ledger"], api_key=imported["key"],
                        mapping=imported["mapping"])
    assert planka.mutation_count() == before
    assert not any(row["created"] or row["updated"] for row in again.report["counts"].values())


def test_a_newer_archive_updates_details_in_place(tmp_path: Path) -> None:
    company = generate_company("tiny")
    live = [card_id for card_id in company.cards_visible_to("admin") if company.cards[card_id]["condition"] == 1]
    timed = live[0]
    sized = next(card_id for card_id in live[1:] if not company.cards[card_id]["size_text"])
    unsized = next(card_id for card_id in live[1:] if company.cards[card_id]["size_text"])
    company.cards[timed]["time_spent_sum"] = 50
    with KaitenSimulator(company, idle_timeout=300) as kaiten, \
            PlankaSimulator(require_terms=False, idle_timeout=300) as planka:
        export(kaiten, tmp_path / "week1.k2p")
        key = planka.create_api_key(planka.admin_email)
        ledger = tmp_path / "ledger.sqlite"
        import_into(planka, tmp_path / "week1.k2p", ledger, api_key=key)
        reader = PlankaReader(planka.url, key)
        cards = ledger_ids(ledger, "card")

        def details(card_id: int) -> dict[str, str | None]:
            return card_fields(reader.get(f"/api/cards/{cards[f'card:{card_id}']}"))[1]

        def field_ids(card_id: int) -> dict[str, str]:
            data = reader.get(f"/api/cards/{cards[f'card:{card_id}']}")
            own = {group["id"] for group in data["included"]["customFieldGroups"] if group["cardId"]}
            return {field["name"]: field["id"] for field in data["included"]["customFields"]
                    if field["customFieldGroupId"] in own}

        before = {card_id: field_ids(card_id) for card_id in (timed, sized, unsized)}
        assert details(timed)["Time spent"] == "50 min" and "Size" not in details(sized)
        company.cards[timed]["time_spent_sum"] = 200
        company.cards[sized].update(size=5, size_text="5", size_unit="SP")
        company.cards[unsized].update(size=None, size_text=None, size_unit=None)
        export(kaiten, tmp_path / "week2.k2p")
        plan = import_into(planka, tmp_path / "week2.k2p", ledger, api_key=key, dry_run=True)
        second = import_into(planka, tmp_path / "week2.k2p", ledger, api_key=key)
        assert plan.report["counts"] == second.report["counts"]
        assert details(timed)["Time spent"] == "3 h 20 min" and details(sized)["Size"] == "5 SP"
        assert "Size" not in details(unsized) and all(details(unsized).values())
        assert field_ids(timed) == before[timed]
        assert field_ids(sized) == {**before[sized], "Size": field_ids(sized)["Size"]}
        assert field_ids(unsized) == {name: ident for name, ident in before[unsized].items() if name != "Size"}
        assert second.report["counts"]["card_detail"]["updated"] == 1

        mutations = planka.mutation_count()
        third = import_into(planka, tmp_path / "week2.k2p", ledger, api_key=key)
        assert planka.mutation_count() == mutations
        assert not any(row["created"] or row["updated"] for row in third.report["counts"].values())

        off = tmp_path / "off.toml"
        off.write_text('details = "off"\n', encoding="utf-8")
        import_into(planka, tmp_path / "week2.k2p", ledger, api_key=key, mapping=off)
        assert details(timed) == {} and not any(
            group["cardId"] for group in reader.get(f"/api/cards/{cards[f'card:{timed}']}")["included"]["customFieldGroups"])
