"""The words k2p writes (language policy) and card details that do not repeat linked relations:
pure mapping, no server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from k2p.archive.index import BoardRecords, CompanyRecords
from k2p.errors import K2PError
from k2p.mapping.board import plan_board
from k2p.mapping.context import BoardContext
from k2p.mapping.footer import card_details, duration
from k2p.mapping.model import Fidelity
from k2p.mapping.rules import MappingRules, load_rules, localized
from k2p.mapping.users import UserMap
from k2p.mapping.wording import WORDS, archive_language, language_of, word


def env(record_id: Any, raw: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "user", "id": str(record_id), "raw": raw}


def company_speaking(*languages: str | None, current: str | None = None) -> CompanyRecords:
    company = CompanyRecords()
    company.users = {str(n): env(n, {"id": n, "lng": lng}) for n, lng in enumerate(languages)}
    if current is not None:
        company.current_user = env(99, {"id": 99, "lng": current})
    return company


def test_every_language_has_every_message_with_the_same_placeholders() -> None:
    english = WORDS["en"]
    for language, table in WORDS.items():
        assert set(table) == set(english), language
        for message, text in table.items():
            names = {part.split("}")[0] for part in english[message].split("{")[1:]}
            assert {part.split("}")[0] for part in text.split("{")[1:]} == names, (language, message)
            assert text.strip() or message in ("lane_label_prefix",), (language, message)


def test_the_archive_language_is_what_most_people_use() -> None:
    assert archive_language(company_speaking("ru", "ru", "en")) == "ru"
    assert archive_language(company_speaking("en", "ru-RU", "en_US", "de")) == "en"
    assert archive_language(company_speaking("ru", "en", current="ru")) == "ru"      # a tie: the exporter's
    assert archive_language(company_speaking("ru", "en", current="en")) == "en"
    assert archive_language(company_speaking("ru", "en")) == "en"                    # a tie, nobody else: en
    assert archive_language(company_speaking(None, "de", current="ru")) == "ru"      # nobody known: the exporter
    assert archive_language(CompanyRecords()) == "en"
    assert [language_of(value) for value in ("RU", "ru_RU", "pt-BR", 7, None, " en ")] == \
        ["ru", "ru", None, None, None, "en"]


def test_localized_resolves_auto_only() -> None:
    russian = company_speaking("ru")
    assert localized(MappingRules(), russian).language == "ru"
    assert localized(MappingRules(language="en"), russian).language == "en"
    rules = localized(MappingRules(details_group_name="Kaiten facts", texts={"yes": "✓"}), russian)
    assert rules.word("details_group") == "Kaiten facts" and rules.word("yes") == "✓"
    assert rules.word("subtasks_list") == "Дочерние карточки" and rules.word("hours", n=3) == "3 ч"
    assert MappingRules().word("details_group") == "Details"             # unresolved auto reads as English
    assert MappingRules(blocked_label="").word("blocked_label") == ""     # "" = no Blocked label
    assert word("xx", {}, "minutes", n=5) == "5 min"                      # unknown language: English


def test_texts_are_checked(tmp_path: Path) -> None:
    path = tmp_path / "mapping.toml"
    for body, message in [('texts = { nope = "x" }', "unknown message id 'nope'"),
                          ('texts = { "detail.type" = " " }', "must contain a visible character"),
                          ('texts = { hours = "{hours} h" }', "placeholder 'hours'"),
                          ('language = "de"', "key 'language'")]:
        path.write_text(body + "\n", encoding="utf-8")
        with pytest.raises(K2PError, match=message):
            load_rules(path)
    path.write_text('language = "ru"\ntexts = { "detail.type" = "Тип карточки", lane_label_prefix = "" }\n',
                    encoding="utf-8")
    rules = load_rules(path)
    assert rules.word("detail.type") == "Тип карточки" and rules.word("lane_label_prefix") == ""


BOARD = "10"


def context(rules: MappingRules, linked: set[str] | None = None) -> BoardContext:
    company = CompanyRecords()
    return BoardContext(BOARD, company, BoardRecords(BOARD), rules, UserMap({}, {"5": "Ann"}), Fidelity(),
                        linked=None if linked is None else linked.__contains__)


RELATED = {"id": 1, "created": "2026-01-02T03:04:05Z", "owner_id": 5, "asap": True,
           "parents": [{"id": 21, "title": "Parent in the import"}, {"id": 22, "title": "Parent elsewhere"}],
           "parents_ids": [21, 22], "children_ids": [31, 32],
           "blocked": True, "blockers": [
               {"blocker_card_id": 41, "blocker_card_title": "Imported blocker", "reason": "API first"},
               {"blocker_card_id": 42, "blocker_card_title": "Outside blocker", "reason": ""},
               {"blocker_card_id": 43, "blocker_card_title": "Imported, no reason", "reason": None},
               {"blocker_card_id": None, "reason": "Waiting for legal"}],
           "blocked_by_card_ids": [41, 42, 43], "blocks_card_ids": [51, 52], "relates_card_ids": [61]}


def details(rules: MappingRules, card: dict[str, Any], linked: set[str] | None) -> dict[str, str]:
    facts = card_details(context(rules, linked), card, responsible=[], unmapped_members=[], comment_files=[],
                         held_links=[], time_spent=None)
    return {name: value for _, name, value in facts}


def test_relations_to_imported_cards_are_not_repeated_as_text() -> None:
    rules = MappingRules(language="en")
    everything = details(rules, RELATED, None)     # no card is linked: everything stays text
    assert everything["Parents"] == "#21 Parent in the import, #22 Parent elsewhere"
    assert everything["Children"] == "#31, #32"
    assert everything["Card links"] == "blocks #51, #52; blocked by #41, #42, #43; related #61"
    assert everything["Blocked"] == ("API first (card #41 Imported blocker); card #42 Outside blocker; "
                                     "card #43 Imported, no reason; Waiting for legal")
    some = details(rules, RELATED, {"21", "31", "41", "43", "51", "61"})
    assert some["Parents"] == "#22 Parent elsewhere" and some["Children"] == "#32"
    assert some["Card links"] == "blocks #52; blocked by #42; related #61"   # "related" has no task: text
    assert some["Blocked"] == "API first; card #42 Outside blocker; Waiting for legal"
    every = details(rules, RELATED, {"21", "22", "31", "32", "41", "42", "43", "51", "52"})
    assert "Parents" not in every and "Children" not in every
    assert every["Card links"] == "related #61"
    assert every["Blocked"] == "API first; Waiting for legal"
    only_linked = {**RELATED, "blockers": [{"blocker_card_id": 41, "reason": ""}], "block_reason": None}
    assert "Blocked" not in details(rules, only_linked, {"41"})          # the Blocked by list says it all
    assert details(rules, only_linked, set())["Blocked"] == "card #41"
    # relations = "text": no linked tasks, so everything stays text whatever is imported
    assert details(MappingRules(language="en", relations="text"), RELATED, {"21", "31"}) == everything
    assert RELATED["parents_ids"] == [21, 22] and RELATED["blockers"][0]["reason"] == "API first"   # untouched


def test_details_in_russian() -> None:
    facts = details(MappingRules(language="ru"), {**RELATED, "time_spent_sum": None}, set())
    assert facts["Создана"] == "2026-01-02 03:04 UTC" and facts["Автор"] == "Ann" and facts["Срочно"] == "да"
    assert facts["Связи"].startswith("блокирует #51, #52; заблокирована #41")
    assert "карточка #42 Outside blocker" in facts["Блокировка"]
    assert duration(3 * 3600 + 20 * 60, MappingRules(language="ru").word) == "3 ч 20 мин"
    assert duration(20, MappingRules(language="ru").word) == "< 1 мин" and duration(7200) == "2 h"
    many = {"id": 2, "children_ids": list(range(100, 125))}
    assert details(MappingRules(language="ru"), many, set())["Дочерние карточки"].endswith("#119 и ещё 5")


def test_a_russian_board_plan_names_what_k2p_adds_in_russian() -> None:
    company = CompanyRecords()
    company.boards = {BOARD: {"kind": "board", "id": BOARD, "raw": {"id": 10, "title": "Доска"}}}
    company.lanes = {BOARD: [{"kind": "lane", "id": str(n), "raw": {"id": n, "title": f"L{n}", "sort_order": n,
                                                                    "condition": 1}} for n in (1, 2)]}
    cards = [{"id": 1, "title": "", "board_id": 10, "column_id": 9, "lane_id": 2, "sort_order": 1, "state": 1,
              "condition": 1, "blocked": True, "children_ids": [2], "asap": True},
             {"id": 2, "title": "B", "board_id": 10, "column_id": 9, "lane_id": 1, "sort_order": 2, "state": 1,
              "condition": 1}]
    plan = plan_board(BOARD, company, BoardRecords(BOARD, cards=cards), localized(MappingRules(), company_speaking("ru")),
                      UserMap({}, {}), Fidelity(), linked={"1", "2"}.__contains__)
    assert [label.name for label in plan.labels] == ["Заблокирована", "Дорожка: L2"]
    assert [item.name for item in plan.lists] == ["(неизвестная колонка)"]
    first = next(card for card in plan.cards if card.key == "card:1")
    assert first.name == "(без названия)" and first.details_group == "Подробности"
    assert [item.name for item in first.relations] == ["Дочерние карточки"]
    assert {detail.name: detail.content for detail in first.details} == \
        {"Карточка Kaiten": "1", "Срочно": "да", "Блокировка": "да"}
