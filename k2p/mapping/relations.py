"""Kaiten card relations → Planka navigation: linked tasks, and the ``Blocked`` label.

A card's children, parents, blocking cards and blocked cards become one task list per kind
("Subtasks", "Parents", "Blocked by", "Blocks"), each task linked to the imported card
(``linkedCardId``: Planka shows the linked card's name and opens it, and keeps the task completed
while that card is closed). Links are planned by Kaiten id here; the importer resolves them
through its ledger after every card of the run exists, so a relation to a card outside the import
becomes no task (it stays text with the Kaiten title, in the card's details) and a later run that
imports that card adds the task. A card whose Kaiten block is active gets the ``Blocked`` label.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from k2p.mapping.rules import MappingRules

KINDS = ("children", "parents", "blocked_by", "blocks")


@dataclass(frozen=True)
class LinkPlan:
    key: str                      # task:<card>:<kind>:<other card id>
    target_key: str               # card:<other card id>


@dataclass
class RelationListPlan:
    key: str                      # tasklist:<card>:relation:<kind>
    name: str                     # ≤ 128
    links: list[LinkPlan] = field(default_factory=list)


def related_ids(card: dict[str, Any], kind: str) -> list[str]:
    """Kaiten ids of the cards related to ``card`` as ``kind``, in Kaiten's order, once each."""
    if kind in ("children", "parents"):
        summaries = [item.get("id") for item in _listed(card, kind) if isinstance(item, dict)]
        ids = summaries + _listed(card, f"{kind}_ids")
    elif kind == "blocked_by":
        ids = [item.get("blocker_card_id") for item in _listed(card, "blockers")
               if isinstance(item, dict) and not item.get("released")] + _listed(card, "blocked_by_card_ids")
    else:
        ids = _listed(card, "blocks_card_ids")
    own = str(card.get("id"))
    return list(dict.fromkeys(str(value) for value in ids
                              if isinstance(value, (int, str)) and not isinstance(value, bool) and str(value) != own))


def _listed(card: dict[str, Any], key: str) -> list[Any]:
    value = card.get(key)
    return value if isinstance(value, list) else []


def list_name(rules: MappingRules, kind: str) -> str:
    return rules.word({"children": "subtasks_list", "parents": "parents_list", "blocked_by": "blocked_by_list",
                       "blocks": "blocks_list"}[kind])


def plan_relations(card: dict[str, Any], rules: MappingRules) -> list[RelationListPlan]:
    """One list per relation kind the card has (none when ``relations = "text"``)."""
    if rules.relations != "tasks":
        return []
    card_id = str(card.get("id"))
    plans = []
    for kind in KINDS:
        links = [LinkPlan(f"task:{card_id}:{kind}:{other}", f"card:{other}") for other in related_ids(card, kind)]
        if links:
            plans.append(RelationListPlan(f"tasklist:{card_id}:relation:{kind}", list_name(rules, kind), links))
    return plans


def is_blocked(card: dict[str, Any], rules: MappingRules) -> bool:
    """Whether the card carries the ``Blocked`` label: its Kaiten block is active."""
    return bool(rules.word("blocked_label")) and card.get("blocked") is True


def resolve(lists: list[RelationListPlan], known: dict[str, str | None]) -> list[RelationListPlan]:
    """The lists with only the links whose card exists in Planka (``known``: card key → Planka id);
    lists left empty are dropped."""
    kept = [RelationListPlan(item.key, item.name, [link for link in item.links if known.get(link.target_key)])
            for item in lists]
    return [item for item in kept if item.links]
