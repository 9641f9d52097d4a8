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

from typing import Any, Iterable, Iterator

from k2p.archive import collections as C
from k2p.kaiten.delta.previous import ENTITY_COLLECTIONS, PreviousIndex, record_digest
from k2p.kaiten.delta.signals import SUB_LIST_SIGNALS, differing

PARTS = (C.CARDS.name, C.COMMENTS.name, C.TIME_LOGS.name, C.LOCATION_HISTORY.name)
Listing = dict[str, tuple[str, str, dict[str, Any]]]   # card id -> (board id, digest, signals)


def changed_entities(previous: PreviousIndex, current: dict[str, Iterable[dict[str, Any]]]) -> dict[str, set[str]]:
    """Ids per collection (users, company users, roles) whose record differs or disappeared."""
    changed: dict[str, set[str]] = {}
    for collection in ENTITY_COLLECTIONS:
        before = previous.entity_digests(collection.name)
        now = {str(record["id"]): record_digest(record["raw"]) for record in current.get(collection.name, ())}
        changed[collection.name] = {key for key in before.keys() | now.keys() if before.get(key) != now.get(key)}
    return changed


def plan_rereads(previous: PreviousIndex, listing: Listing, card_ids: Iterable[str], *, full: bool,
                 refresh_boards: set[str], changed: dict[str, set[str]]) -> dict[str, list[str]]:
    """``{card id: parts to read again}`` for the cards to export; absent cards are carried whole."""
    wanted = list(card_ids)
    exported = set(wanted)
    states = {card: (board, digest, signals, related)
              for card, board, digest, signals, related in previous.card_states()}
    flagged = previous.flagged()
    users = changed[C.USERS.name] | changed[C.COMPANY_USERS.name]
    by_user = previous.cards_referencing("user", users)
    by_role = previous.cards_referencing("role", changed[C.USER_ROLES.name])
    plan: dict[str, set[str]] = {}
    for card in wanted:
        board, digest, signals = listing.get(card, ("", None, {}))
        before = states.get(card)
        if full or board in refresh_boards or before is None or card in flagged or card in by_user:
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
    for card in _relatives(plan, states, listing, exported):
        plan.setdefault(card, set()).add(C.CARDS.name)
    return {card: [part for part in PARTS if part in parts] for card, parts in plan.items()}


def _relatives(plan: dict[str, set[str]], states: dict[str, Any], listing: Listing,
               exported: set[str]) -> Iterator[str]:
    """Cards whose payload embeds a brief of a card read again or deleted (one level)."""
    sources = {card for card, parts in plan.items() if C.CARDS.name in parts}
    sources |= set(states) - exported  # deleted (or no longer in scope)
    for card in sorted(sources):
        related: set[str] = set(states[card][3]) if card in states else set()
        signals = listing.get(card, ("", None, {}))[2]
        for key in ("parents_ids", "children_ids"):
            related.update(str(item) for item in signals.get(key) or [] if item is not None)
        yield from sorted(related & exported)
