"""End to end: migrated cards read like native Planka cards (issue 14): descriptions hold only the
Kaiten text, Kaiten-only facts are fields of that card (never shown empty), the Kaiten link is a
link attachment, and a newer archive updates those fields in place."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, Iterator

import pytest

from k2p.mapping.footer import duration
from k2p.mapping.rules import MappingRules
from k2p.mapping.text import human_utc
from k2p.mapping.wording import WORDS
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
               "ledger": work / "ledger.sqlite", "cards": cards, "words": WORDS[_team_language(company)]}


def _team_language(company: KaitenCompany) -> str:
    """What ``language = "auto"`` must pick: the ``lng`` most of the company's people use."""
    counts = Counter(user["lng"] for user in company.users.values())
    return max(("en", "ru"), key=lambda language: (counts[language], language == "en"))


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
    words = imported["words"]
    reader = PlankaReader(imported["planka"].url, imported["key"])
    for card_id, data in imported["cards"].items():
        own = card_fields(data)[1]
        assert own and all(own.values()), (card_id, own)
        assert [group["name"] for group in data["included"]["customFieldGroups"]] == [words["details_group"]]
        assert own[words["detail.kaiten_card"]] == str(company.card_payload(card_id)["id"])
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
    words = imported["words"]
    language = next(code for code, table in WORDS.items() if table is words)
    checked = Counter()
    for card_id, data in imported["cards"].items():
        kaiten = company.card_payload(card_id)
        # the card's details under their English names (the words are the team's language)
        english = {word: WORDS["en"][message] for message, word in words.items() if message.startswith("detail.")}
        own = {english.get(name, name): value for name, value in card_fields(data)[1].items()}
        assert (own.get("Created") or "").startswith(human_utc(kaiten["created"]) or "?"), card_id
        assert ("Time spent" in own) == bool(kaiten.get("time_spent_sum"))
        if kaiten.get("time_spent_sum"):
            assert own["Time spent"] == duration(kaiten["time_spent_sum"] * 60,
                                                 MappingRules(language=language).word)
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
    blocked = card_fields(imported["cards"][company.landmarks["blocked_card"]])[1][words["detail.blocked"]] or ""
    assert blocked == "Needs the API first; Waiting for legal"   # the blocking card is a linked task
    assert set(checked) == {"time", "size", "responsible", "type", "blocked"}, checked


def test_linked_relations_are_not_repeated_as_text(imported: dict[str, Any]) -> None:
    """Every related card is in the import, so each relation is a linked task and no detail names
    it; only Kaiten's "related" links (no task kind) stay text, by id."""
    company: KaitenCompany = imported["company"]
    words = imported["words"]
    related = 0
    for card_id, data in imported["cards"].items():
        kaiten = company.card_payload(card_id)
        own = card_fields(data)[1]
        assert words["detail.parents"] not in own and words["detail.children"] not in own, card_id
        links = own.get(words["detail.card_links"]) or ""
        assert words["link.blocks"] + " " not in links and words["link.blocked_by"] not in links, card_id
        if kaiten.get("relates_card_ids"):
            related += 1
            assert links == words["link.related"] + " " + ", ".join(f"#{other}" for other in
                                                                    kaiten["relates_card_ids"]), card_id
        linked = kaiten.get("parents_ids") or kaiten.get("children_ids") or kaiten.get("blocks_card_ids")
        if linked:
            tasks = [task for task in data["included"]["tasks"] if task.get("linkedCardId")]
            assert tasks, card_id


def test_the_kaiten_link_is_a_link_attachment(imported: dict[str, Any]) -> None:
    words = imported["words"]
    for card_id, data in imported["cards"].items():
        links = [item for item in data["included"]["attachments"]
                 if item["type"] == "link" and item["name"] == words["kaiten_link"].format(id=card_id)]
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
        english = tmp_path / "en.toml"
        english.write_text('language = "en"\n', encoding="utf-8")
        import_into(planka, tmp_path / "week1.k2p", ledger, api_key=key, mapping=english)
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
        plan = import_into(planka, tmp_path / "week2.k2p", ledger, api_key=key, dry_run=True, mapping=english)
        second = import_into(planka, tmp_path / "week2.k2p", ledger, api_key=key, mapping=english)
        assert plan.report["counts"] == second.report["counts"]
        assert details(timed)["Time spent"] == "3 h 20 min" and details(sized)["Size"] == "5 SP"
        assert "Size" not in details(unsized) and all(details(unsized).values())
        assert field_ids(timed) == before[timed]
        assert field_ids(sized) == {**before[sized], "Size": field_ids(sized)["Size"]}
        assert field_ids(unsized) == {name: ident for name, ident in before[unsized].items() if name != "Size"}
        assert second.report["counts"]["card_detail"]["updated"] == 1

        mutations = planka.mutation_count()
        third = import_into(planka, tmp_path / "week2.k2p", ledger, api_key=key, mapping=english)
        assert planka.mutation_count() == mutations
        assert not any(row["created"] or row["updated"] for row in third.report["counts"].values())

        off = tmp_path / "off.toml"
        off.write_text('details = "off"\n', encoding="utf-8")
        import_into(planka, tmp_path / "week2.k2p", ledger, api_key=key, mapping=off)
        assert details(timed) == {} and not any(
            group["cardId"] for group in reader.get(f"/api/cards/{cards[f'card:{timed}']}")["included"]["customFieldGroups"])


def test_a_changed_language_renames_in_place(tmp_path: Path) -> None:
    """language = "en" then "ru" over the same ledger: what k2p named is renamed, nothing is
    created twice, and a rerun writes nothing."""
    company = generate_company("tiny")
    blocked = company.landmarks["blocked_card"]
    with KaitenSimulator(company, idle_timeout=300) as kaiten, \
            PlankaSimulator(require_terms=False, idle_timeout=300) as planka:
        export(kaiten, tmp_path / "a.k2p")
        key = planka.create_api_key(planka.admin_email)
        ledger, english, russian = tmp_path / "ledger.sqlite", tmp_path / "en.toml", tmp_path / "ru.toml"
        english.write_text('language = "en"\n', encoding="utf-8")
        russian.write_text('language = "ru"\n', encoding="utf-8")
        import_into(planka, tmp_path / "a.k2p", ledger, api_key=key, mapping=english)
        reader = PlankaReader(planka.url, key)
        card = ledger_ids(ledger, "card")[f"card:{blocked}"]

        def names() -> tuple[list[str], list[str], set[str]]:
            data = reader.get(f"/api/cards/{card}")
            board = reader.get(f"/api/boards/{data['item']['boardId']}")
            return ([group["name"] for group in data["included"]["customFieldGroups"]],
                    sorted(card_fields(data)[1]), {label["name"] for label in board["included"]["labels"]})

        groups, fields, labels = names()
        assert groups == ["Details"] and "Blocked" in fields and "Blocked" in labels
        tables = {name: len(rows) for name, rows in planka.store.tables.items()}
        second = import_into(planka, tmp_path / "a.k2p", ledger, api_key=key, mapping=russian)
        assert second.tally.failed == 0
        assert {name: len(rows) for name, rows in planka.store.tables.items()} == tables   # nothing new
        groups, fields, labels = names()
        assert groups == ["Подробности"] and "Блокировка" in fields and "Blocked" not in fields
        assert "Заблокирована" in labels and "Blocked" not in labels
        before = planka.mutation_count()
        import_into(planka, tmp_path / "a.k2p", ledger, api_key=key, mapping=russian)
        assert planka.mutation_count() == before
