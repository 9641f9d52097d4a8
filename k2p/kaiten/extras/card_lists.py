"""Extra per-card routes, called by :mod:`k2p.kaiten.crawl_cards` next to its own sub-lists.

* activity — ``GET /cards/{id}/activity`` (offset paging, 100 per page), only with
  ``--with-activity``: one request per card (plus one per further 100 events), the largest single
  addition to an export's cost. The company-wide feed (``/company/activity``) would be cheaper but
  is not in Kaiten's documentation (research §4.18), so k2p does not rely on it.
* baselines — ``GET /cards/{id}/baselines`` (unpaged), only with ``--with-baselines``.
* SLA measurements — ``GET /cards/{id}/sla-rules-measurements``, only for live service-desk
  requests (``service_id`` set): Kaiten answers 400 for every other card (research §4.22).

A 402/403/405 on any of them holds for every card: it is reported once (entity ``collection``)
and the route is not asked again in this run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from k2p.archive import collections as C
from k2p.kaiten.client import KaitenClient

ACTIVITY_PAGE = 100


@dataclass(frozen=True)
class CardList:
    """A per-card route (same interface as ``crawl_cards.SubList``)."""

    collection: C.Collection
    route: str
    page_size: int | None = None
    service_desk_only: bool = False

    def needed(self, card: dict[str, Any]) -> bool:
        if self.service_desk_only:
            return card.get("service_id") is not None and card.get("condition", 1) == 1
        return True

    def fetch(self, client: KaitenClient, card_id: str) -> Any:
        path = f"/cards/{card_id}/{self.route}"
        if self.page_size:
            return list(client.paginate(path, page_size=self.page_size))
        return client.get_json(path)


ACTIVITY = CardList(C.CARD_ACTIVITY, "activity", page_size=ACTIVITY_PAGE)
BASELINES = CardList(C.CARD_BASELINES, "baselines")
SLA = CardList(C.SLA_MEASUREMENTS, "sla-rules-measurements", service_desk_only=True)


def card_lists(options: Any) -> tuple[CardList, ...]:
    """The extra per-card routes an export with ``options`` asks."""
    chosen = [SLA]
    if getattr(options, "with_activity", False):
        chosen.append(ACTIVITY)
    if getattr(options, "with_baselines", False):
        chosen.append(BASELINES)
    return tuple(chosen)
