"""One Kaiten board → one Planka board plan: lists, labels, custom fields, members and cards."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from k2p.archive.index import BoardRecords, CompanyRecords
from k2p.mapping.cards import plan_card
from k2p.mapping.colors import label_color, lane_color
from k2p.mapping.context import BoardContext
from k2p.mapping.members import board_members, space_roles_of
from k2p.mapping.model import BoardPlan, Fidelity, LabelPlan, ListPlan
from k2p.mapping.ordering import id_order, natural_order, position
from k2p.mapping.projects import bindings, primary_binding
from k2p.mapping.relations import is_blocked, plan_relations
from k2p.mapping.properties import (PropertyFormatter, board_wide, custom_values, plan_custom_fields,
                                   property_details)
from k2p.mapping.rules import MappingRules
from k2p.mapping.text import NAME_MAX, clean
from k2p.mapping.users import UserMap

DONE_COLUMN = 3
LIVE_LANE = 1


@dataclass
class _Slot:
    plan: ListPlan
    done: bool            # a Kaiten done column (whatever list type the rules chose)


@dataclass
class _Lane:
    order: tuple[float, tuple[int, str]]
    title: str
    live: bool


def plan_board(board_id: str, company: CompanyRecords, records: BoardRecords, rules: MappingRules,
               users: UserMap, fidelity: Fidelity, *, linked: Callable[[str], bool] | None = None) -> BoardPlan:
    """The whole board: lists in column order, lane then tag labels, fields, cards grouped by list.
    ``linked(card id)``: whether a related card will be in Planka (its relation a linked task, not
    text in the details); None: no related card is."""
    board_id = str(board_id)
    found = bindings(company, board_id)
    primary = primary_binding(company, board_id, found)
    ctx = BoardContext(board_id, company, records, rules, users, fidelity,
                       space_id=primary["space"] if primary else None, linked=linked)
    unique: dict[str, dict[str, Any]] = {}
    for card in records.cards:
        unique.setdefault(str(card.get("id")), card)
    cards = list(unique.values())
    slots, slot_of = _plan_lists(ctx, cards)
    lanes = _lanes(ctx, cards)
    lane_labels = _lane_labels(ctx, cards, lanes)
    tag_labels = _tag_labels(ctx, cards)
    formatter = PropertyFormatter(ctx)
    values = {str(card.get("id")): formatter.card_values(card) if rules.custom_fields else {} for card in cards}
    wide = board_wide(ctx, values)
    fields = plan_custom_fields(ctx, wide)
    field_names = {field.key: field.name for field in fields}
    missing = {**company.missing_by_id(), **records.missing}
    tag_order = {label.key: index for index, label in enumerate(tag_labels)}
    list_index = {slot.plan.key: index for index, slot in enumerate(slots)}

    def card_order(card: dict[str, Any]) -> tuple[Any, ...]:
        lane = lanes.get(str(card.get("lane_id")))
        return (list_index[slot_of[str(card.get("id"))].plan.key],
                lane.order if lane else (float("inf"), id_order("")),
                position(card.get("sort_order")), id_order(card.get("id")))

    plans = []
    for card in sorted(cards, key=card_order):
        card_id = str(card.get("id"))
        slot = slot_of[card_id]
        lane_key = f"label:{board_id}:lane:{card.get('lane_id')}"
        labels = [lane_key] if lane_key in lane_labels else []
        tags = {f"label:{board_id}:tag:{tag_id}" for tag_id in _tag_ids(card)}
        labels += sorted(tags & tag_order.keys(), key=tag_order.__getitem__)
        board_values = {pid: text for pid, text in values[card_id].items() if pid in wide}
        card_values = {pid: text for pid, text in values[card_id].items() if pid not in wide}
        planned = plan_card(ctx, card, list_key=slot.plan.key, in_done_list=slot.done, label_keys=labels,
                            custom_values=custom_values(ctx, card_id, board_values, field_names),
                            missing=missing, property_details=property_details(ctx, card_values))
        planned.relations, planned.blocked = plan_relations(card, rules), is_blocked(card, rules)
        plans.append(planned)
    for user_id, name in ctx.unmapped.items():
        fidelity.add("unmapped_user", f"board:{board_id}", "members",
                     f"Kaiten user {user_id} ({name}) has no Planka user; named in card details and texts only")
    blocked = [LabelPlan(f"label:{board_id}:blocked", rules.word("blocked_label"), rules.blocked_label_color)] \
        if any(card.blocked for card in plans) else []
    board_raw = (company.boards.get(board_id) or {}).get("raw") or {}
    title = board_raw.get("title") or next((_summary(card, "board").get("title") for card in cards), None)
    return BoardPlan(key=f"board:{board_id}", name=ctx.name(title, NAME_MAX, f"board:{board_id}", "name"),
                     members=board_members(space_roles_of(company, rules, [binding["space"] for binding in found]),
                                           users.mapping, _workers(plans)),
                     labels=blocked + list(lane_labels.values()) + tag_labels,
                     lists=[slot.plan for slot in slots], custom_fields=fields, cards=plans,
                     blocked_label_key=blocked[0].key if blocked else None)


# --- lists -----------------------------------------------------------------------------------
def _plan_lists(ctx: BoardContext, cards: list[dict[str, Any]]) -> tuple[list[_Slot], dict[str, _Slot]]:
    """Lists in column order (subcolumns as ``Column / Sub``) and the list of every card."""
    board = ctx.board_id
    columns, subcolumns = _columns(ctx)
    direct = {str(card.get("column_id")) for card in cards}
    slots: list[_Slot] = []
    by_column: dict[str, _Slot] = {}

    def add(key: str, column_id: str, name: str, kind: Any) -> None:
        done = kind == DONE_COLUMN
        slot = _Slot(ListPlan(key=key, name=ctx.name(name, NAME_MAX, key, "name"),
                              type=ctx.rules.done_list_type if done else "active"), done)
        slots.append(slot)
        by_column[column_id] = slot

    for column in columns:
        column_id = str(column.get("id"))
        subs = subcolumns.get(column_id, [])
        key = f"list:{board}:column:{column_id}"
        title = _title(ctx, column.get("title"), key) if subs else column.get("title")
        if not subs or column_id in direct:
            add(key, column_id, title, column.get("type"))
        for sub in subs:
            sub_id = str(sub.get("id"))
            sub_key = f"list:{board}:subcolumn:{sub_id}"
            name = title + ctx.rules.subcolumn_separator + _title(ctx, sub.get("title"), sub_key)
            add(sub_key, sub_id, name, sub.get("type", column.get("type")))
    slot_of: dict[str, _Slot] = {}
    unknown: dict[str, list[str]] = {}
    for card in cards:
        column_id = str(card.get("column_id"))
        if column_id not in by_column:
            unknown.setdefault(column_id, []).append(str(card.get("id")))
            if "unknown" not in by_column:
                add(f"list:{board}:column:unknown", "unknown", ctx.rules.word("unknown_column"), None)
            column_id = "unknown"
        slot_of[str(card.get("id"))] = by_column[column_id]
    for column_id, card_ids in unknown.items():
        ctx.fidelity.add("lossy", f"board:{board}", "column",
                         f"{len(card_ids)} card(s) in column {column_id}, which is not in the archive, "
                         f"placed in {ctx.rules.word('unknown_column')!r} (e.g. card {card_ids[0]})")
    return slots, slot_of


def _columns(ctx: BoardContext) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    """Top-level columns in order, and each one's subcolumns in order."""
    raws = [record.get("raw") or {} for record in ctx.company.columns.get(ctx.board_id, [])]
    top_ids = {str(raw.get("id")) for raw in raws if raw.get("column_id") is None}
    subs: dict[str, dict[str, dict[str, Any]]] = {}
    for raw in raws:
        for sub in [raw] if raw.get("column_id") is not None else raw.get("subcolumns") or []:
            parent = str(sub.get("column_id", raw.get("id")))
            if isinstance(sub, dict) and parent in top_ids:
                subs.setdefault(parent, {}).setdefault(str(sub.get("id")), sub)
    ordered = sorted((raw for raw in raws if str(raw.get("id")) in top_ids or
                      str(raw.get("column_id")) not in top_ids), key=_sort_key)
    return ordered, {parent: sorted(children.values(), key=_sort_key) for parent, children in subs.items()}


def _title(ctx: BoardContext, value: Any, entity: str) -> str:
    text = clean(value).strip() if isinstance(value, str) else ""
    if not text:
        ctx.fidelity.add("renamed", entity, "name", f"empty → {ctx.rules.word('placeholder_name')!r}")
    return text or ctx.rules.word("placeholder_name")


# --- labels ----------------------------------------------------------------------------------
def _lanes(ctx: BoardContext, cards: list[dict[str, Any]]) -> dict[str, _Lane]:
    """Every lane the archive knows for the board: the lane records, then lanes seen on cards."""
    lanes = {}
    embedded = [_summary(card, "lane") for card in cards]
    for raw in [record.get("raw") or {} for record in ctx.company.lanes.get(ctx.board_id, [])] + embedded:
        lane_id = str(raw.get("id"))
        if raw and lane_id not in lanes:
            lanes[lane_id] = _Lane(_sort_key(raw), str(raw.get("title") or ""), raw.get("condition") == LIVE_LANE)
    return lanes


def _lane_labels(ctx: BoardContext, cards: list[dict[str, Any]], lanes: dict[str, _Lane]) -> dict[str, LabelPlan]:
    """``Lane: <title>`` labels for the lanes holding cards, only on boards with several lanes;
    none for the default lane (the first live one) unless ``lane_label_default``."""
    used = {str(card.get("lane_id")) for card in cards if card.get("lane_id") is not None}
    counted = used | {lane_id for lane_id, lane in lanes.items() if lane.live}
    if ctx.rules.lanes != "label" or len(counted) <= 1:
        return {}
    unknown = _Lane((float("inf"), id_order("")), "", False)
    every = sorted(lanes.keys() | used, key=lambda lane_id: (lanes.get(lane_id, unknown).order, id_order(lane_id)))
    default = next((lane_id for lane_id in every if lane_id in lanes and lanes[lane_id].live), every[0])
    skip = None if ctx.rules.lane_label_default else default
    # A lane's colour follows its rank among all the board's lanes, so that it stays put when a
    # newer archive has cards in a lane that held none before.
    rank = {lane_id: index for index, lane_id in enumerate(lane_id for lane_id in every if lane_id != skip)}
    ordered = [lane_id for lane_id in every if lane_id in used]
    labels = {}
    for lane_id in ordered:
        if lane_id == skip:
            continue
        key = f"label:{ctx.board_id}:lane:{lane_id}"
        title = _title(ctx, lanes.get(lane_id, unknown).title, key)
        name = ctx.rules.word("lane_label_prefix") + title
        labels[key] = LabelPlan(key=key, name=ctx.name(name, NAME_MAX, key, "name"),
                                color=lane_color(rank[lane_id], ctx.rules.lane_label_color))
    return labels


def _tag_labels(ctx: BoardContext, cards: list[dict[str, Any]]) -> list[LabelPlan]:
    """One label per tag used on the board's cards, ordered by name."""
    tags: dict[str, dict[str, Any]] = {}
    for card in cards:
        for tag in card.get("tags") or []:
            if isinstance(tag, dict):
                tags.setdefault(str(tag.get("tag_id", tag.get("id"))), tag)
    for tag_id in {tag_id for card in cards for tag_id in _tag_ids(card)} - tags.keys():
        tags[tag_id] = (ctx.company.tags.get(tag_id) or {}).get("raw") or {}
    labels = []
    for tag_id, tag in sorted(tags.items(), key=lambda pair: (natural_order(str(pair[1].get("name") or "")),
                                                              id_order(pair[0]))):
        key = f"label:{ctx.board_id}:tag:{tag_id}"
        labels.append(LabelPlan(key=key, name=ctx.optional_name(tag.get("name"), NAME_MAX, key, "name"),
                                color=label_color(tag.get("color"), ctx.rules.tag_colors)))
    return labels


def _tag_ids(card: dict[str, Any]) -> list[str]:
    ids = [str(tag.get("tag_id", tag.get("id"))) for tag in card.get("tags") or [] if isinstance(tag, dict)]
    return ids or [str(tag_id) for tag_id in card.get("tag_ids") or []]


def _workers(cards: list[Any]) -> list[str]:
    """Planka ids of everyone who worked on the board's cards: members, creators, authors."""
    found: dict[str, None] = {}
    for card in cards:
        for user_id in [*card.member_user_ids, card.creator_user_id,
                        *(comment.author_user_id for comment in card.comments),
                        *(attachment.author_user_id for attachment in card.attachments)]:
            if user_id is not None:
                found.setdefault(user_id)
    return list(found)


def _summary(card: dict[str, Any], key: str) -> dict[str, Any]:
    value = card.get(key)
    return value if isinstance(value, dict) else {}


def _sort_key(raw: dict[str, Any]) -> tuple[float, tuple[int, str]]:
    return position(raw.get("sort_order")), id_order(raw.get("id"))
