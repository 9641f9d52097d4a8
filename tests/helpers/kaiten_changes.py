"""Edits to a simulated Kaiten company between two exports (what a week of work would change)."""

from __future__ import annotations

from k2p.testing.kaiten.company import KaitenCompany


def add_comment(company: KaitenCompany, card_id: int, text: str) -> int:
    """Append a new, later Markdown comment to ``card_id`` (counters updated); returns its id."""
    template = next(comment for comments in company.comments.values() for comment in comments
                    if not comment["deleted"] and comment["type"] == 1)
    new_id = max(c["id"] for comments in company.comments.values() for c in comments) + 1
    company.comments.setdefault(card_id, []).append(
        {**template, "id": new_id, "card_id": card_id, "text": text,
         "created": "2030-01-01T10:00:00.000Z", "updated": "2030-01-01T10:00:00.000Z"})
    company.cards[card_id]["comments_total"] += 1
    return new_id
