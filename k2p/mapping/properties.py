"""Kaiten custom properties → Planka custom fields with text values: a board group for the
properties most cards use, card details (the card's own group) for the others."""

from __future__ import annotations

from typing import Any

import orjson

from k2p.mapping.context import BoardContext
from k2p.mapping.model import CustomFieldPlan
from k2p.mapping.ordering import id_order
from k2p.mapping.text import FIELD_VALUE_MAX, NAME_MAX, clean, js_len, shorten
from k2p.mapping.users import display_name

PREFIX = "id_"


class PropertyFormatter:
    """Renders card property values as the text Planka stores (≤ 512 characters, never empty)."""

    def __init__(self, ctx: BoardContext) -> None:
        self.ctx = ctx
        company = ctx.company
        self.select = {key: (record.get("raw") or {}).get("value") for key, record in company.select_values.items()}
        self.catalog = {key: (record.get("raw") or {}).get("name") for key, record in company.catalog_values.items()}
        self.uids: dict[str, str] = {}
        for collection in (company.users, company.company_users):
            for record in collection.values():
                raw = record.get("raw") or {}
                name = display_name(raw)
                if raw.get("uid") and name:
                    self.uids.setdefault(str(raw["uid"]), name)

    def type_of(self, property_id: str) -> str | None:
        record = self.ctx.company.custom_properties.get(property_id)
        return (record.get("raw") or {}).get("type") if record else None

    def card_values(self, card: dict[str, Any]) -> dict[str, str]:
        """Property id → rendered text for every non-empty property value of the card."""
        properties = card.get("properties")
        if not isinstance(properties, dict):
            return {}
        files = {str(record.get("id")): (record.get("raw") or {}).get("name")
                 for record in self.ctx.records.files.get(str(card.get("id")), [])}
        values = {}
        for key, value in properties.items():
            if not str(key).startswith(PREFIX):
                continue
            text = self.render(key[len(PREFIX):], value, files)
            if text:
                values[key[len(PREFIX):]] = clean(text)
        return values

    def render(self, property_id: str, value: Any, files: dict[str, Any]) -> str | None:
        """One value as text: names for ids, ``yes``/``no``, ``YYYY-MM-DD HH:MM`` dates, else JSON."""
        if value is None or value == "" or value == [] or value == {}:
            return None
        kind = self.type_of(property_id)
        if isinstance(value, bool):
            return self.ctx.rules.word("yes" if value else "no")
        if isinstance(value, dict) and isinstance(value.get("date"), str):
            time = value.get("time")
            return value["date"] + (f" {time[:5]}" if isinstance(time, str) and time else "")
        if isinstance(value, list) and kind in ("select", "catalog", "user", "attachment"):
            names = [self._item(kind, item, files) for item in value]
            return ", ".join(name for name in names if name) or None
        if isinstance(value, (int, float)):
            return repr(value) if isinstance(value, float) else str(value)
        if isinstance(value, str):
            return value
        return orjson.dumps(value).decode("utf-8")

    def _item(self, kind: str | None, item: Any, files: dict[str, Any]) -> str:
        if isinstance(item, dict):
            for key in ("value", "name", "title", "full_name"):
                if isinstance(item.get(key), str):
                    return item[key]
            return orjson.dumps(item).decode("utf-8")
        key = str(item)
        if kind == "select":
            found = self.select.get(key)
        elif kind == "catalog":
            found = self.catalog.get(key)
        elif kind == "attachment":
            found = files.get(key)
        elif isinstance(item, str) and not key.isdigit():
            found = self.uids.get(key)
        else:
            found = self.ctx.users.name_of(key)
        return str(found) if found else f"#{key}"


def board_wide(ctx: BoardContext, values: dict[str, dict[str, str]]) -> set[str]:
    """Properties with a value on at least ``board_field_share`` of the board's cards (all of them
    when card details are off)."""
    share = ctx.rules.board_field_share if ctx.rules.details == "fields" else 0.0
    counts: dict[str, int] = {}
    for card_values in values.values():
        for property_id in card_values:
            counts[property_id] = counts.get(property_id, 0) + 1
    return {pid for pid, count in counts.items() if count >= share * len(values)}


def property_details(ctx: BoardContext, card_values: dict[str, str]) -> list[tuple[str, str, str]]:
    """``(slug, name, value)`` card details for property values without a board-wide field."""
    return [(f"property:{pid}", property_name(ctx, pid), text) for pid, text in card_values.items()]


def property_name(ctx: BoardContext, property_id: str) -> str:
    record = ctx.company.custom_properties.get(property_id) or {}
    return (record.get("raw") or {}).get("name") or ctx.rules.word("property", id=property_id)


def plan_custom_fields(ctx: BoardContext, used: set[str]) -> list[CustomFieldPlan]:
    """Fields for the properties that carry a value on this board, in the board's property order."""
    board = (ctx.company.boards.get(ctx.board_id) or {}).get("raw") or {}
    configured = [str(entry.get("key"))[len(PREFIX):] for entry in board.get("card_properties") or []
                  if isinstance(entry, dict) and str(entry.get("key", "")).startswith(PREFIX)]
    order = {property_id: index for index, property_id in enumerate(configured)}
    fields = []
    for property_id in sorted(used, key=lambda pid: (order.get(pid, len(order)), id_order(pid))):
        key = field_key(ctx.board_id, property_id)
        fields.append(CustomFieldPlan(key=key, name=ctx.name(property_name(ctx, property_id), NAME_MAX, key, "name")))
    return fields


def field_key(board_id: str, property_id: str) -> str:
    """``field:<board>:property:<property id>``."""
    return f"field:{board_id}:property:{property_id}"


def custom_values(ctx: BoardContext, card_id: str, values: dict[str, str], names: dict[str, str]) -> dict[str, str]:
    """Field key → content within 512 characters (cuts noted per card and field)."""
    result = {}
    for property_id, text in values.items():
        key = field_key(ctx.board_id, property_id)
        short = shorten(text, FIELD_VALUE_MAX)
        if short != text:
            ctx.fidelity.add("truncated", f"card:{card_id}", "custom_value",
                             f"{names.get(key, property_id)}: {js_len(text)} → {js_len(short)} characters")
        result[key] = short
    return result

