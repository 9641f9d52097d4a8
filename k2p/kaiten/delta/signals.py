"""List-level change signals of a card: what ``GET /cards`` says without fetching the card.

The rule (docs/FORMAT.md, "Incremental exports"): a card is read again when the digest of its list
item differs from the one PREVIOUS stored, or when any of :data:`CARD_SIGNALS` differs from the
value in PREVIOUS's single-card payload. The digest covers the whole list item (counters,
timestamps, members, tags, checklist counters, legacy files, blockers, parents, the embedded
board, column, lane, owner and type summaries), so no single field is trusted; the named signals
also work against an archive written before digests existed.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from k2p import jsoncodec

# Scalar fields the list item and the single-card payload share, with the same values.
CARD_SIGNALS = ("updated", "version", "comment_last_added_at", "comments_total", "last_moved_at",
                "time_spent_sum", "goals_total", "goals_done", "board_id", "column_id", "lane_id",
                "condition", "children_count", "parents_count", "blocked", "tag_ids")
# Which signals make a sub-list worth fetching again.
SUB_LIST_SIGNALS = {
    "comments": ("comments_total", "comment_last_added_at"),
    "time_logs": ("time_spent_sum",),
    "location_history": ("last_moved_at", "board_id", "column_id", "lane_id", "condition"),
}
# Relation ids of the list item: a changed card makes these cards' payloads stale too.
RELATION_FIELDS = ("parents_ids", "children_ids")


def list_digest(item: dict[str, Any]) -> str:
    """SHA-256 of the list item with keys sorted (key order is not data)."""
    try:
        data = orjson.dumps(item, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:  # integers beyond 64 bits: the exact, slower path
        data = jsoncodec.dumps(_sorted(item))
    return hashlib.sha256(data).hexdigest()


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _sorted(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_sorted(item) for item in value]
    return value


def list_signals(item: dict[str, Any]) -> dict[str, Any]:
    """The named signals and relation ids of a list item (absent fields are left out)."""
    return {key: item[key] for key in (*CARD_SIGNALS, *RELATION_FIELDS) if key in item}


def differing(listed: dict[str, Any], previous: dict[str, Any]) -> set[str]:
    """Names of :data:`CARD_SIGNALS` whose values differ (a field absent on one side differs)."""
    return {key for key in CARD_SIGNALS
            if (key in listed or key in previous) and listed.get(key, _ABSENT) != previous.get(key, _ABSENT)}


_ABSENT = object()
