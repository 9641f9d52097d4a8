"""What a card announces against what arrived, and the totals behind the manifest's ``expected``.

Kaiten lists carry no totals (bare arrays), but card payloads carry counters:

* ``comments_total`` — live comments (``comments`` records also keep deleted ones, so the
  collection may hold more records than expected; fewer live ones is a shortfall);
* ``goals_total`` — checklist items, against the items embedded in ``checklists[]``;
* ``time_spent_sum`` — minutes, against the sum of ``time_spent`` of the card's time logs.

Kaiten announces no count of a card's files. A shortfall is a ``count_mismatch`` entry naming
the card and both numbers (comments are checked in :mod:`k2p.kaiten.crawl_cards`). Counters named
``expected:<collection>`` in a unit's output add up, over the run, to that collection's
``expected`` in the manifest.
"""

from __future__ import annotations

from typing import Any

from k2p.kaiten.context import CrawlContext, UnitOutput

PREFIX = "expected:"


def _number(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def check_card(ctx: CrawlContext, out: UnitOutput, card_id: str, card: dict[str, Any],
               lists: dict[str, list[dict[str, Any]]]) -> None:
    ref = {"card_id": card_id}
    comments = _number(card.get("comments_total"))
    if comments is not None:
        out.counters[PREFIX + "comments"] += comments
    goals = _number(card.get("goals_total"))
    if goals is not None:
        items = sum(1 for checklist in card.get("checklists") or [] if isinstance(checklist, dict)
                    for item in checklist.get("items") or [] if isinstance(item, dict) and not item.get("deleted"))
        out.counters["checklist_items_announced"] += goals
        out.counters["checklist_items_received"] += items
        if items < goals:
            ctx.missing("checklists", card_id, "count_mismatch", ref=ref,
                        detail=f"the card announces {goals} checklist items (goals_total), "
                               f"GET /cards/{card_id} embeds {items}")
    spent = _number(card.get("time_spent_sum"))
    if spent and not ctx.route_disabled("time-logs") and "time_logs" in lists:
        logged = sum(row.get("time_spent") for row in lists["time_logs"]
                     if isinstance(row.get("time_spent"), int))
        if logged < spent:
            ctx.missing("time_logs", card_id, "count_mismatch", ref=ref,
                        detail=f"the card announces {spent} minutes (time_spent_sum), "
                               f"GET /cards/{card_id}/time-logs adds up to {logged}")


def expected_totals(counters: dict[str, int]) -> dict[str, int]:
    return {name[len(PREFIX):]: value for name, value in counters.items() if name.startswith(PREFIX)}
