"""The home page: the company, the export, counts, the tree of spaces (with document groups and
documents) and their boards, and what the archive is missing."""

from __future__ import annotations

from itertools import islice
from typing import Any, Callable, Iterable

from k2p.archive.index import CompanyRecords
from k2p.archive.reader import ArchiveReader
from k2p.browse import paths
from k2p.mapping.ordering import id_order, position

Record = dict[str, Any]
REASONS = {
    "forbidden": "the token may not read it", "not_in_tariff": "not in the company's Kaiten tariff",
    "method_not_allowed": "Kaiten does not offer it", "not_found": "gone from Kaiten (404)",
    "rejected_by_kaiten": "Kaiten refused it (e.g. flagged as malicious)", "too_large": "over the size limit",
    "size_mismatch": "the bytes received differ from the declared size", "link_expired": "its signed link kept expiring",
    "download_failed": "the download kept breaking off", "too_slow": "the download missed its deadline",
    "refused_url": "its URL is outside the allowed hosts", "invalid_payload": "Kaiten's answer held a value k2p cannot keep",
    "no_url": "no URL to download it from", "count_mismatch": "fewer items than Kaiten announced",
    "http_error": "Kaiten answered with an error",
}


def _text(value: Any, fallback: str) -> str:
    return value if isinstance(value, str) and value.strip() else fallback


def home_model(reader: ArchiveReader, company: CompanyRecords, selected: set[str], documents: list[dict[str, Any]],
               summary: Any, when: Callable[[object], str],
               in_site: Callable[[str], bool] = lambda card_id: True) -> dict[str, Any]:
    manifest = reader.manifest
    nodes: dict[str, dict[str, Any]] = {}
    for space_id, record in company.spaces.items():
        raw = record.get("raw") or {}
        uid = str(raw.get("uid") or f"space:{space_id}")
        nodes[uid] = {"kind": "space", "title": _text(raw.get("title"), f"space {space_id}"), "id": space_id,
                      "archived": raw.get("archived") is True, "parent": raw.get("parent_entity_uid"),
                      "order": (position(raw.get("sort_order")), id_order(space_id)), "children": [], "boards": [],
                      "access": raw.get("access")}
    if reader.has_collection("document_groups"):
        for record in reader.iter_records("document_groups"):
            raw = record.get("raw") or {}
            uid = str(raw.get("uid") or record.get("id"))
            nodes.setdefault(uid, {"kind": "group", "title": _text(raw.get("title"), "document group"), "id": uid,
                                   "archived": raw.get("archived") is True, "parent": raw.get("parent_entity_uid"),
                                   "order": (position(raw.get("sort_order")), id_order(uid)), "children": [],
                                   "boards": []})
    for document in documents:
        nodes.setdefault(document["uid"], {"kind": "document", "title": document["title"], "id": document["id"],
                                           "href": document["page"], "archived": False, "parent": document["parent"],
                                           "order": (position(document["sort_order"]), id_order(document["id"])),
                                           "children": [], "boards": []})
    for node in nodes.values():
        node.setdefault("outside", False)
        node.setdefault("href", None)
        node.setdefault("access", None)
    by_space = {record.get("id"): uid for uid, record in nodes.items() if record["kind"] == "space"}
    placed: set[str] = set()
    for binding in sorted(company.space_boards, key=lambda rec: (position((rec.get("raw") or {}).get("sort_order")),
                                                                 id_order(rec.get("id")))):
        ref = binding.get("ref") or {}
        uid = by_space.get(str(ref.get("space_id")))
        board_id = str(ref.get("board_id"))
        if uid is None:
            continue
        nodes[uid]["boards"].append(_board_entry(company, board_id, selected))
        placed.add(board_id)
    roots, orphans = [], []
    for uid, node in nodes.items():
        parent = node["parent"]
        if parent and str(parent) in nodes and str(parent) != uid:
            nodes[str(parent)]["children"].append(node)
        elif parent:
            node["outside"] = True         # its parent (a tree entity) is not in the archive
            orphans.append(node)
        else:
            roots.append(node)
    for node in nodes.values():
        node["children"].sort(key=lambda child: child["order"])
    roots.sort(key=lambda node: node["order"])
    orphans.sort(key=lambda node: node["order"])
    loose = [_board_entry(company, board_id, selected) for board_id in sorted(set(company.boards) - placed, key=id_order)]
    counts = [(name, entry.records) for name, entry in manifest.collections.items()]
    missing = manifest.missing
    return {
        "source": manifest.source.model_dump(), "archive_id": manifest.archive_id, "created": when(manifest.created_at),
        "completed": when(manifest.completed_at), "exporter": f"{manifest.exporter.name} {manifest.exporter.version}",
        "fingerprint": summary.fingerprint, "scope": manifest.scope, "counts": counts,
        "blobs": manifest.blobs.model_dump(), "tree": roots + orphans, "loose_boards": loose,
        "missing_total": missing.count,
        "missing_reasons": [(reason, count, REASONS.get(reason, "")) for reason, count in missing.by_reason.items()],
        "missing_first": missing_rows(islice(reader.iter_records("missing"), 20), in_site), "summary": summary,
        "partial": bool(selected) and len(selected) < len(set(company.boards) | set(company.card_counts)),
    }


def _board_entry(company: CompanyRecords, board_id: str, selected: set[str]) -> dict[str, Any]:
    raw = (company.boards.get(board_id) or {}).get("raw") or {}
    return {"id": board_id, "title": _text(raw.get("title"), f"board {board_id}"),
            "cards": company.card_counts.get(board_id, 0),
            "href": paths.board_path(board_id) if board_id in selected else None,
            "list_href": paths.board_path(board_id, view="list") if board_id in selected else None}


def missing_rows(entries: Iterable[Record], in_site: Callable[[str], bool] = lambda card_id: True) -> list[dict[str, Any]]:
    """The ``missing`` entries as readable rows: what, which, why, details."""
    rows = []
    for entry in entries:
        reason = str(entry.get("reason") or "")
        ref = entry.get("ref") if isinstance(entry.get("ref"), dict) else {}
        card = ref.get("card_id")
        rows.append({"entity": str(entry.get("entity") or ""), "id": str(entry.get("id") or ""),
                     "name": str(entry.get("name") or entry.get("collection") or ""), "reason": reason,
                     "why": REASONS.get(reason, ""), "status": entry.get("http_status") or "",
                     "detail": str(entry.get("detail") or ""),
                     "card": paths.card_path(card) if card is not None and in_site(str(card)) else None, "card_id": str(card or "")})
    return rows
