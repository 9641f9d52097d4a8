"""What planning one board needs at hand: its records, the rules, and limit-keeping helpers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from k2p.archive.index import BoardRecords, CompanyRecords
from k2p.mapping.model import Fidelity
from k2p.mapping.rules import MappingRules
from k2p.mapping.text import clean, fit_text, js_len, json_size, plain_name, shorten, shorten_filename
from k2p.mapping.users import UserMap, display_name


@dataclass
class BoardContext:
    """One board's inputs and the helpers that keep names and texts within Planka's limits."""

    board_id: str
    company: CompanyRecords
    records: BoardRecords
    rules: MappingRules
    users: UserMap
    fidelity: Fidelity
    space_id: str | None = None                   # the project's space (for card links)
    unmapped: dict[str, str] = field(default_factory=dict)   # Kaiten user id → name, noted once
    # Kaiten card id → whether that card is (or this run makes it) a Planka card that relations
    # link to; None: no card is (every relation stays text)
    linked: Callable[[str], bool] | None = None

    def is_linked(self, card_id: object) -> bool:
        """Whether a relation to ``card_id`` becomes a linked task (so the details leave it out)."""
        return self.rules.relations == "tasks" and self.linked is not None and self.linked(str(card_id))

    def name(self, value: object, limit: int, entity: str, field_name: str, *, filename: bool = False) -> str:
        """A non-empty name within ``limit`` UTF-16 units; placeholders and cuts are noted."""
        text = clean(value) if isinstance(value, str) else ""
        if plain_name(text) != text:
            text = plain_name(text)
            self.fidelity.add("renamed", entity, field_name, "control characters removed")
        if not text.strip():
            self.fidelity.add("renamed", entity, field_name, f"empty → {self.rules.word('placeholder_name')!r}")
            return self.rules.word("placeholder_name")
        short = shorten_filename(text, limit) if filename else shorten(text, limit)
        if short != text:
            self.fidelity.add("truncated", entity, field_name,
                              f"{js_len(text)} → {js_len(short)} characters")
        return short

    def optional_name(self, value: object, limit: int, entity: str, field_name: str) -> str | None:
        """Like :meth:`name`, but ``None`` for an empty value (unnamed labels are allowed)."""
        if not isinstance(value, str) or not clean(value).strip():
            return None
        return self.name(value, limit, entity, field_name)

    def long_text(self, body: str, entity: str, field_name: str, *, prefix: str = "", suffix: str = "") -> str:
        """``prefix + body + suffix`` within the JSON byte budget; a cut body is marked and noted."""
        prefix, body, suffix = clean(prefix), clean(body), clean(suffix)
        text, cut = fit_text(body, budget=self.rules.text_budget_bytes, marker=self.rules.word("truncation_marker"),
                             prefix=prefix, suffix=suffix)
        if cut:
            self.fidelity.add("truncated", entity, field_name,
                              f"{json_size(prefix + body + suffix)} → {json_size(text)} bytes as JSON "
                              f"({js_len(prefix + body + suffix)} → {js_len(text)} characters)")
        return text

    def person(self, user_id: object, embedded: Any = None) -> str:
        """A Kaiten user's name: the embedded user object's, else the archive's."""
        if isinstance(embedded, dict):
            name = display_name(embedded)
            if name:
                return name
        return self.users.name_of(user_id)

    def planka_user(self, user_id: object, embedded: Any = None) -> str | None:
        """The mapped Planka user id; an unmapped person is remembered for one note per board."""
        key = str(user_id)
        mapped = self.users.get(key)
        if mapped is None and key not in self.unmapped:
            self.unmapped[key] = self.person(user_id, embedded)
        return mapped

    def card_url(self, card_id: object) -> str | None:
        """The card's Kaiten link from the ``card_url`` template (``None`` when not configured)."""
        template = self.rules.card_url
        if template is None:
            return None
        return template.format(card_id=card_id, board_id=self.board_id, space_id=self.space_id or "")
