"""The words k2p itself writes into Planka, in the team's language (docs/MAPPING.md §7 "Language").

Everything an import adds that is not Kaiten data — the card details group and its field names,
relation task lists, the ``Blocked`` label, the lane label prefix, placeholders, units (``3 h 20 min``),
``yes``/``no`` — comes from :data:`WORDS` by message id, in ``mapping.toml``'s ``language``
(``auto``: the language most of the archive's people use in Kaiten, :func:`archive_language`).
Any message can be overridden by ``texts = { <id> = "…" }``; the older per-name keys
(``details_group_name``, ``subtasks_list_name``, …) still win over both. Kaiten data (titles,
names, property values) is never translated.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

LANGUAGES = ("en", "ru")
DEFAULT_LANGUAGE = "en"

WORDS: dict[str, dict[str, str]] = {
    "en": {
        # names of what the import creates
        "details_group": "Details",
        "subtasks_list": "Subtasks",
        "parents_list": "Parents",
        "blocked_by_list": "Blocked by",
        "blocks_list": "Blocks",
        "blocked_label": "Blocked",
        "lane_label_prefix": "Lane: ",
        "placeholder_name": "(untitled)",
        "unknown_column": "(unknown column)",
        "truncation_marker": "\n\n… [truncated by k2p; the full text is in the archive]",
        "kaiten_link": "Kaiten card {id}",
        "property": "Property {id}",
        # card detail fields
        "detail.kaiten_card": "Kaiten card",
        "detail.created": "Created",
        "detail.owner": "Owner",
        "detail.type": "Type",
        "detail.size": "Size",
        "detail.asap": "ASAP",
        "detail.responsible": "Responsible",
        "detail.unmapped_members": "Members without a Planka user",
        "detail.blocked": "Blocked",
        "detail.planned": "Planned",
        "detail.time_spent": "Time spent",
        "detail.parents": "Parents",
        "detail.children": "Children",
        "detail.card_links": "Card links",
        "detail.external_id": "External id",
        "detail.comment_files": "Files from comments",
        "detail.held_links": "Links kept as text",
        # values
        "yes": "yes",
        "no": "no",
        "and_more": "{list} and {count} more",
        "no_reason": "no reason given",
        "blocker_card": "card #{id} {title}",
        "hours": "{n} h",
        "minutes": "{n} min",
        "under_a_minute": "< 1 min",
        "link.blocks": "blocks",
        "link.blocked_by": "blocked by",
        "link.related": "related",
        # comments
        "edited": "edited",
        "attached_to_card": "Attached to the card: {names}",
        # documents (documents = "board")
        "documents_board": "Documents",
        "documents_project": "Documents",
        "documents_list": "Documents",
    },
    "ru": {
        "details_group": "Подробности",
        "subtasks_list": "Дочерние карточки",
        "parents_list": "Родительские карточки",
        "blocked_by_list": "Заблокирована карточками",
        "blocks_list": "Блокирует карточки",
        "blocked_label": "Заблокирована",
        "lane_label_prefix": "Дорожка: ",
        "placeholder_name": "(без названия)",
        "unknown_column": "(неизвестная колонка)",
        "truncation_marker": "\n\n… [текст сокращён k2p; полный текст — в архиве]",
        "kaiten_link": "Карточка Kaiten {id}",
        "property": "Поле {id}",
        "detail.kaiten_card": "Карточка Kaiten",
        "detail.created": "Создана",
        "detail.owner": "Автор",
        "detail.type": "Тип",
        "detail.size": "Размер",
        "detail.asap": "Срочно",
        "detail.responsible": "Ответственный",
        "detail.unmapped_members": "Участники без аккаунта Planka",
        "detail.blocked": "Блокировка",
        "detail.planned": "Сроки",
        "detail.time_spent": "Затрачено",
        "detail.parents": "Родительские карточки",
        "detail.children": "Дочерние карточки",
        "detail.card_links": "Связи",
        "detail.external_id": "Внешний ID",
        "detail.comment_files": "Файлы из комментариев",
        "detail.held_links": "Ссылки текстом",
        "yes": "да",
        "no": "нет",
        "and_more": "{list} и ещё {count}",
        "no_reason": "причина не указана",
        "blocker_card": "карточка #{id} {title}",
        "hours": "{n} ч",
        "minutes": "{n} мин",
        "under_a_minute": "< 1 мин",
        "link.blocks": "блокирует",
        "link.blocked_by": "заблокирована",
        "link.related": "связана с",
        "edited": "изменён",
        "attached_to_card": "Прикреплено к карточке: {names}",
        "documents_board": "Документы",
        "documents_project": "Документы",
        "documents_list": "Документы",
    },
}

# The named mapping.toml keys of k2p 0.1 that set one message each (they win over ``texts``).
NAMED_KEYS = {
    "details_group": "details_group_name", "subtasks_list": "subtasks_list_name",
    "parents_list": "parents_list_name", "blocked_by_list": "blocked_by_list_name",
    "blocks_list": "blocks_list_name", "blocked_label": "blocked_label",
    "lane_label_prefix": "lane_label_prefix", "placeholder_name": "placeholder_name",
    "unknown_column": "unknown_column_name", "truncation_marker": "truncation_marker",
    "documents_board": "documents_board_name", "documents_project": "documents_project_name",
    "documents_list": "documents_root_list",
}

MAY_BE_EMPTY = {"lane_label_prefix", "blocked_label"}   # "" = no prefix / no Blocked label


def word(language: str, texts: dict[str, str], message: str, **values: Any) -> str:
    """Message ``message`` in ``language`` (``texts`` overrides), placeholders filled."""
    table = WORDS.get(language, WORDS[DEFAULT_LANGUAGE])
    template = texts.get(message, table.get(message, WORDS[DEFAULT_LANGUAGE][message]))
    return template.format(**values) if values else template


def language_of(value: object) -> str | None:
    """A Kaiten ``lng`` (``ru``, ``en``, ``ru-RU``…) as one of :data:`LANGUAGES`, else None."""
    if not isinstance(value, str):
        return None
    prefix = value.strip().replace("_", "-").split("-")[0].lower()
    return prefix if prefix in LANGUAGES else None


def archive_language(company: Any) -> str:
    """The language most of the archive's people use in Kaiten (their ``lng``); a tie goes to the
    exporting account's language, then to the earlier one of :data:`LANGUAGES`; nobody known: en."""
    people: dict[str, str] = {}
    for collection in (company.users, company.company_users):
        for key, record in collection.items():
            language = language_of((record.get("raw") or {}).get("lng"))
            if language:
                people.setdefault(str(key), language)
    current = language_of(((company.current_user or {}).get("raw") or {}).get("lng"))
    counts = Counter(people.values())
    if not counts:
        return current or DEFAULT_LANGUAGE
    top = max(counts.values())
    leaders = [language for language in LANGUAGES if counts.get(language) == top]
    return current if current in leaders else leaders[0]
