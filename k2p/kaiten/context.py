"""What every crawl step needs: the client, the archive writer, the journal, the options.

A step writes records through :meth:`CrawlContext.write` and reports what it could not fetch
through :meth:`CrawlContext.missing`; everything it learns for later units goes into its
:class:`UnitOutput`, which the orchestrator commits atomically with the records.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable

from k2p.archive.collections import Collection, record
from k2p.archive.writer import ArchiveWriter
from k2p.kaiten.client import KaitenClient, KaitenHTTPError, UnusableItem
from k2p.kaiten.journal import ExportJournal
from k2p.kaiten.options import ExportOptions

def id_order(value: object) -> tuple[int, int, str]:
    """Sort key putting numeric ids in numeric order and anything else after them."""
    text = str(value)
    return (0, int(text), "") if text.isdigit() else (1, 0, text)



def missing_entry(entity: str, ident: object, reason: str, *, http_status: int | None = None,
                  detail: str = "", ref: dict[str, Any] | None = None, **extra: object) -> dict[str, Any]:
    """A ``missing`` record: what (``entity:id``), why (``reason``), and the evidence."""
    entry: dict[str, Any] = {"id": f"{entity}:{ident}", "entity": entity}
    if ref:
        entry["ref"] = ref
    entry.update({"reason": reason, "http_status": http_status, "detail": detail, **extra})
    return entry


def missing_from_error(entity: str, ident: object, error: KaitenHTTPError, *,
                       ref: dict[str, Any] | None = None, detail_prefix: str = "",
                       **extra: object) -> dict[str, Any]:
    """A ``missing`` record for a definitive HTTP answer."""
    return missing_entry(entity, ident, error.reason, http_status=error.status,
                         detail=detail_prefix + str(error), ref=ref, **extra)


@dataclass
class UnitOutput:
    """Facts a unit learned, committed with it: card lists and list items, tags seen on cards,
    stored files."""

    board_cards: tuple[str, list[str]] | None = None
    card_tags: list[tuple[str, Any]] = field(default_factory=list)
    stored_files: list[tuple[str, str, int]] = field(default_factory=list)
    # (card id, board id, list digest, list signals as JSON) of each card list item seen
    listings: list[tuple[str, str, str, str]] = field(default_factory=list)
    counters: Counter[str] = field(default_factory=Counter)
    meta: dict[str, Any] = field(default_factory=dict)


class CrawlContext:
    """Shared state of one export run (records are written from the orchestrating thread only)."""

    def __init__(self, client: KaitenClient, writer: ArchiveWriter, journal: ExportJournal,
                 options: ExportOptions, on_progress: Callable[[str, int], None] | None = None) -> None:
        self.client = client
        self.writer = writer
        self.journal = journal
        self.options = options
        self.on_progress = on_progress or (lambda event, amount: None)
        self._lock = threading.Lock()
        self._disabled: dict[str, str] = {}

    def write(self, collection: Collection, source_id: object, raw: object, *,
              ref: dict[str, Any] | None = None, **extra: object) -> None:
        self.writer.records(collection.name).write(record(collection, source_id, raw, ref=ref, **extra))

    def open(self, collection: Collection) -> None:
        """Make sure ``collection`` exists in the archive even when it ends up empty."""
        self.writer.records(collection.name)

    def missing(self, entity: str, ident: object, reason: str, *, http_status: int | None = None,
                detail: str = "", ref: dict[str, Any] | None = None, **extra: object) -> None:
        self.writer.add_missing(missing_entry(entity, ident, reason, http_status=http_status,
                                              detail=detail, ref=ref, **extra))

    def usable(self, collection: Collection, items: list[Any],
               ref: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """The list items worth writing: objects, except :class:`UnusableItem` ones (values k2p
        cannot keep exactly), which become ``missing`` entries (reason ``invalid_payload``)."""
        for item in items:
            if isinstance(item, UnusableItem):
                self.missing(collection.kind, item["id"], "invalid_payload", detail=item.detail, ref=ref,
                             collection=collection.name)
        return [item for item in items if isinstance(item, dict) and not isinstance(item, UnusableItem)]

    def unavailable(self, collection: Collection, error: KaitenHTTPError,
                    ref: dict[str, Any] | None = None) -> None:
        """Record that a whole collection (or its part under ``ref``) could not be read."""
        ident = collection.name if not ref else f"{collection.name}:" + ":".join(map(str, ref.values()))
        self.writer.add_missing(missing_from_error("collection", ident, error, ref=ref,
                                                   collection=collection.name))

    # --- routes that turned out to be unavailable for this token (402/403/405) --------------
    def route_disabled(self, route: str) -> bool:
        with self._lock:
            return route in self._disabled

    def disable_route(self, route: str, reason: str) -> bool:
        """Remember that ``route`` is unavailable; True the first time (so it is reported once)."""
        with self._lock:
            if route in self._disabled:
                return False
            self._disabled[route] = reason
            return True
