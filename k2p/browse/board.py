"""A board as Kaiten draws it: columns (with subcolumns) across, lanes (swimlanes) down, cards in
each cell in Kaiten order; archived cards apart."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from k2p.archive.index import CompanyRecords
from k2p.mapping.ordering import id_order, position

Record = dict[str, Any]


def _order(raw: Record) -> tuple[float, tuple[int, str]]:
    return position(raw.get("sort_order")), id_order(raw.get("id"))


@dataclass
class Layout:
    """Header rows and the grid of one board."""

    columns: list[dict[str, Any]] = field(default_factory=list)   # top level: title, span, subcolumns
    leaves: list[dict[str, Any]] = field(default_factory=list)    # the columns cards sit in, in order
    lanes: list[dict[str, Any]] = field(default_factory=list)     # rows: title, archived, cells
    has_subcolumns: bool = False


def layout(board_id: str, company: CompanyRecords, cards: list[Record]) -> tuple[Layout, dict[str, tuple[int, int]]]:
    """The board's layout and, per live card id, its cell (lane row, leaf column)."""
    raws = [record.get("raw") or {} for record in company.columns.get(board_id, [])]
    tops = sorted((raw for raw in raws if raw.get("column_id") is None), key=_order)
    nested: dict[str, list[Record]] = {}
    for raw in raws:
        for sub in ([raw] if raw.get("column_id") is not None else raw.get("subcolumns") or []):
            if isinstance(sub, dict):
                nested.setdefault(str(sub.get("column_id", raw.get("id"))), []).append(sub)
    direct = {str(card.get("column_id")) for card in cards}
    result = Layout()
    leaf_of: dict[str, int] = {}
    for top in tops:
        top_id = str(top.get("id"))
        subs = sorted({str(sub.get("id")): sub for sub in nested.get(top_id, [])}.values(), key=_order)
        entry = {"title": top.get("title"), "type": top.get("type"), "wip": top.get("wip_limit"),
                 "subcolumns": [], "span": 0}
        if not subs or top_id in direct:
            leaf_of[top_id] = len(result.leaves)
            result.leaves.append({"id": top_id, "title": "" if subs else top.get("title"), "type": top.get("type")})
            entry["span"] += 1
            if subs:
                entry["subcolumns"].append({"title": "(column itself)"})
        for sub in subs:
            leaf_of[str(sub.get("id"))] = len(result.leaves)
            result.leaves.append({"id": str(sub.get("id")), "title": sub.get("title"), "type": sub.get("type", top.get("type"))})
            entry["subcolumns"].append({"title": sub.get("title")})
            entry["span"] += 1
        result.has_subcolumns = result.has_subcolumns or bool(subs)
        result.columns.append(entry)
    lane_raws = sorted((record.get("raw") or {} for record in company.lanes.get(board_id, [])), key=_order)
    used_lanes = {str(card.get("lane_id")) for card in cards}
    lane_of: dict[str, int] = {}
    for lane in lane_raws:
        lane_id = str(lane.get("id"))
        if lane.get("condition") in (2, 3) and lane_id not in used_lanes:
            continue                       # an archived or deleted lane without cards is not drawn
        lane_of[lane_id] = len(result.lanes)
        result.lanes.append({"title": lane.get("title"), "archived": lane.get("condition") == 2,
                             "deleted": lane.get("condition") == 3, "cells": []})
    cells: dict[str, tuple[int, int]] = {}
    for card in cards:
        column_id, lane_id = str(card.get("column_id")), str(card.get("lane_id"))
        if column_id not in leaf_of:
            leaf_of[column_id] = len(result.leaves)
            result.leaves.append({"id": column_id, "title": f"column {column_id} (not in the archive)", "type": None})
            result.columns.append({"title": f"column {column_id} (not in the archive)", "type": None, "wip": None,
                                   "subcolumns": [{"title": ""}] if result.has_subcolumns else [], "span": 1})
        if lane_id not in lane_of:
            lane_of[lane_id] = len(result.lanes)
            summary = card.get("lane") if isinstance(card.get("lane"), dict) else {}
            result.lanes.append({"title": summary.get("title") or f"lane {lane_id} (not in the archive)",
                                 "archived": False, "deleted": False, "cells": []})
        cells[str(card.get("id"))] = (lane_of[lane_id], leaf_of[column_id])
    if not result.lanes:
        result.lanes.append({"title": "", "archived": False, "deleted": False, "cells": []})
    for lane in result.lanes:
        lane["cells"] = [[] for _ in result.leaves]
    return result, cells


def card_order(card: Record) -> tuple[float, tuple[int, str]]:
    """Kaiten order within a cell: ``sort_order``, then id."""
    return position(card.get("sort_order")), id_order(card.get("id"))
