"""One status per collection k2p knows, for the manifest's ``coverage`` (docs/FORMAT.md §2.1).

Statuses: ``collected`` (the route answered; the collection may be empty), ``partial`` (records
were written but parts are listed in ``missing``), ``forbidden`` (401/403), ``not_on_tariff`` (402),
``not_supported`` (k2p does not export it, or Kaiten answered 405), ``not_requested`` (an option
enables it: ``option`` names it), ``out_of_scope`` (the export's scope excludes it), ``failed``
(refused with another status, see ``missing``).
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Iterable

from k2p.archive.format import CoverageEntry
from k2p.kaiten.extras.registry import KNOWN, Known

STATUS_BY_REASON = {"forbidden": "forbidden", "not_in_tariff": "not_on_tariff",
                    "method_not_allowed": "not_supported"}
# missing entries about single items, by their entity → the collection they belong to
ITEM_ENTITIES = {"card": "cards", "file": "files", "document": "documents", "document_file": "document_files",
                 "comments": "comments", "checklists": "cards", "time_logs": "time_logs"}
DOCUMENT_FAMILY = {"tree_entities", "documents", "document_groups", "document_files"}
SPACE_FAMILY = {"automations", "webhooks", "external_webhooks", "template_checklists", "iterations"}


def _out_of_scope(known: Known, options: Any) -> str | None:
    if options.full_scope:
        return None
    if known.name in DOCUMENT_FAMILY | SPACE_FAMILY and not options.spaces:
        return "a --board export holds no documents or space settings (use --space or a full export)"
    return None


def compute(known: Iterable[Known], records: dict[str, int], missing: Iterable[dict[str, Any]],
            options: Any, expected: dict[str, int]) -> dict[str, CoverageEntry]:
    refusals: dict[str, list[dict[str, Any]]] = {}
    items: Counter[str] = Counter()
    for entry in missing:
        collection = entry.get("collection")
        if entry.get("entity") == "collection" and isinstance(collection, str):
            refusals.setdefault(collection, []).append(entry)
        elif isinstance(collection, str):
            items[collection] += 1
        elif entry.get("entity") in ITEM_ENTITIES:
            items[ITEM_ENTITIES[str(entry["entity"])]] += 1
    out: dict[str, CoverageEntry] = {}
    for item in known:
        base = {"route": item.route, "records": records.get(item.name), "expected": expected.get(item.name)}
        if not item.supported:
            out[item.name] = CoverageEntry(status="not_supported", note=item.note or None, **base)
            continue
        if not item.requested(options):
            out[item.name] = CoverageEntry(status="not_requested", option=item.option,
                                           note=item.note or None, **base)
            continue
        scope = _out_of_scope(item, options)
        if scope:
            out[item.name] = CoverageEntry(status="out_of_scope", note=scope, **base)
            continue
        refused = refusals.get(item.name, [])
        written = records.get(item.name, 0)
        count = len(refused) + items[item.name]
        if refused and not written:
            first = refused[0]
            status = STATUS_BY_REASON.get(str(first.get("reason")), "failed")
            out[item.name] = CoverageEntry(status=status, reason=first.get("reason"),
                                           http_status=first.get("http_status"), missing=count, **base)
        elif count:
            out[item.name] = CoverageEntry(status="partial", missing=count,
                                           reason=(refused[0].get("reason") if refused else None), **base)
        else:
            out[item.name] = CoverageEntry(status="collected", **base)
    return out


def coverage(writer: Any, options: Any, expected: dict[str, int]) -> dict[str, CoverageEntry]:
    return compute(KNOWN, writer.record_counts(), writer.missing_entries(), options, expected)
