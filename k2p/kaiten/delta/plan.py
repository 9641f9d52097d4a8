"""Which parts of which cards a delta export reads again (the rest is carried over from PREVIOUS).

Parts are the collections of a card: ``cards`` (the single-card payload, with checklists, files,
members …), ``comments``, ``time_logs``, ``location_history``. Rules, in order (docs/FORMAT.md,
"Incremental exports"):

1. everything, for a card PREVIOUS does not have, one a ``missing`` entry of PREVIOUS names, one on
   a ``--refresh-board`` board, and every card under ``--full``;
2. ``cards`` when the list digest differs from PREVIOUS's (or PREVIOUS has none) or any named list
   signal differs (:data:`~k2p.kaiten.delta.signals.CARD_SIGNALS`);
3. a sub-list when one of its own signals differs (:data:`~.signals.SUB_LIST_SIGNALS`);
4. everything, for a card any of whose records embeds a user whose record changed (renamed,
   deactivated …); ``time_logs`` for a card whose time logs name a changed role;
5. ``cards`` for the related cards (parents, children, blocked and blocking cards, before and now)
   of every card whose payload is read again or that was deleted: their payloads embed its brief.
"""

from __future__ import annotations

from typing import Any, Container, Iterable, Iterator, Protocol

from k2p.archive import collections as C
from k2p.kaiten.delta.previous import ENTITY_COLLECTIONS, PreviousIndex, record_digest
from k2p.kaiten.delta.signals import SUB_LIST_SIGNALS, differing

PARTS = (C.CARDS.name, C.COMMENTS.name, C.TIME_LOGS.name, C.LOCATION_HISTORY.name)


def changed_entities(previous: PreviousIndex, current: dict[str, Iterable[dict[str, Any]]]) -> dict[str, set[str]]:
    """Ids per collection (users, company users, roles) whose record differs or disappeared."""
    changed: dict[str, set[str]] = {}
    for collection in ENTITY_COLLECTIONS:
        before = previous.entity_digests(collection.name)
        now = {str(record["id"]): record_digest(record["raw"]) for record in current.get(collection.name, ())}
        changed[collection.name] = {key for key in before.keys() | now.keys() if before.get(key) != now.get(key)}
    return changed


class CardListing(Protocol):
    """The current card listing, looked up one card at a time (the export journal, or a dict)."""

    def get(self, card_id: str, /) -> tuple[str, str, dict[str, Any]] | None: ...


def plan_rereads(previous: PreviousIndex, listing: CardListing, card_ids: Iterable[str], *, full: bool,
                 refresh_boards: set[str], changed: dict[str, set[str]],
                 exported: Container[str] | None = None) -> dict[str, list[str]]:
    """``{card id: parts to read again}`` for the cards to export; absent cards are carried whole.

    Streams: ``card_ids`` is read once, PREVIOUS's cards are looked up one at a time, and
    ``exported`` (default: ``set(card_ids)``) answers membership, so only the plan itself — the
    cards that changed — is held in memory, never the company's listing."""
    if exported is None:
        card_ids = list(card_ids)
        exported = set(card_ids)
    users = changed[C.USERS.name] | changed[C.COMPANY_USERS.name]
    by_user = previous.cards_referencing("user", users)
    by_role = previous.cards_referencing("role", changed[C.USER_ROLES.name])
    plan: dict[str, set[str]] = {}
    for card in card_ids:
        board, digest, signals = listing.get(card) or ("", None, {})
        before = None if full or board in refresh_boards else previous.card_state(card)
        if before is None or card in by_user or previous.is_flagged(card):
            plan[card] = set(PARTS)
            continue
        _, old_digest, old_signals, _ = before
        parts: set[str] = set()
        if old_digest is None or old_digest != digest or differing(signals, old_signals):
            parts.add(C.CARDS.name)
        for sub, keys in SUB_LIST_SIGNALS.items():
            if any(signals.get(key) != old_signals.get(key) for key in keys):
                parts.add(sub)
        if card in by_role:
            parts.add(C.TIME_LOGS.name)
        if parts:
            plan[card] = parts
    for card in _relatives(previous, plan, listing, exported):
        plan.setdefault(card, set()).add(C.CARDS.name)
    return {card: [part for part in PARTS if part in parts] for card, parts in plan.items()}


def _relatives(previous: PreviousIndex, plan: dict[str, set[str]], listing: CardListing,
               exported: Container[str]) -> Iterator[str]:
    """Cards whose payload embeds a brief of a card read again or deleted (one level)."""
    sources = {card: None for card, parts in plan.items() if C.CARDS.name in parts}
    known: dict[str, list[str]] = {}
    for card, _, _, _, related in previous.card_states():
        if card not in exported:   # deleted (or no longer in scope)
            sources[card] = None
            known[card] = related
    for card in sorted(sources):
        if card in known:
            related: set[str] = set(known[card])
        else:
            state = previous.card_state(card)
            related = set(state[3]) if state is not None else set()
        signals = (listing.get(card) or ("", None, {}))[2]
        for key in ("parents_ids", "children_ids"):
            related.update(str(item) for item in signals.get(key) or [] if item is not None)
        yield from sorted(card for card in related if card in exported)
