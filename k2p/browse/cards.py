"""What a board and a card page show, built from the raw Kaiten payloads of one board.

Everything here is plain data for the templates (the templates escape every value); texts that
carry markup (descriptions, comments) come out of :mod:`k2p.browse.markup` already sanitised.
Field meanings follow the Kaiten research notes: members of ``type`` 2 are responsible, column
``type`` 3 is done, lane and card ``condition`` 2 is archived, properties are keyed ``id_<id>``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from k2p.archive.index import BoardRecords, CompanyRecords
from k2p.browse.markup import comment_html, markdown_html, safe_url
from k2p.browse.paths import page_token
from k2p.mapping.context import BoardContext
from k2p.mapping.model import Fidelity
from k2p.mapping.ordering import id_order, position, time_order
from k2p.mapping.properties import PropertyFormatter, property_name
from k2p.mapping.relations import related_ids
from k2p.mapping.rules import MappingRules, localized
from k2p.mapping.users import UserMap, display_name
from k2p.timestamps import human_utc, parse_time

Record = dict[str, Any]

# Kaiten does not publish its palette (research §5): distinct hues by index, neutral grey otherwise.
PALETTE_HEX: dict[int, str] = {
    1: "#9e9e9e", 2: "#e53935", 3: "#fb8c00", 4: "#fdd835", 5: "#43a047", 6: "#00acc1", 7: "#1e88e5",
    8: "#3949ab", 9: "#8e24aa", 10: "#d81b60", 11: "#8d6e63", 12: "#546e7a", 13: "#ff7043",
    14: "#ffb74d", 15: "#9ccc65", 16: "#558b2f", 17: "#4fc3f7", 18: "#283593", 19: "#6a1b9a",
    20: "#f06292", 21: "#d7ccc8", 22: "#78909c", 23: "#26a69a", 24: "#01579b", 25: "#ce93d8",
    26: "#ef6c00", 27: "#2e7d32", 28: "#880e4f", 29: "#c9a227", 30: "#4db6ac",
}
NEUTRAL = "#b0bec5"
STATES = {1: "queued", 2: "in progress", 3: "done"}


def colour(index: object) -> str:
    """The CSS class of a Kaiten palette index (``c0``, neutral, when unknown): classes, not inline
    styles, so that the Content-Security-Policy can forbid every inline style."""
    if isinstance(index, bool) or not isinstance(index, int) or index not in PALETTE_HEX:
        return "c0"
    return f"c{index}"


def palette_css() -> str:
    """The rules of the palette classes, written into ``site.css``."""
    rules = [f".c0{{--c:{NEUTRAL}}}"] + [f".c{index}{{--c:{value}}}" for index, value in PALETTE_HEX.items()]
    return "\n".join(rules) + "\n"


def when(value: object) -> str:
    """``2022-11-14 09:41 UTC`` for a Kaiten timestamp; the text as is when it does not parse."""
    return day(value)


def day(value: object, with_time: object = True) -> str:
    """:func:`~k2p.timestamps.human_utc`, or the text as is when it does not parse."""
    return human_utc(value, with_time=bool(with_time)) or (value if isinstance(value, str) else "")


def minutes(value: object) -> str:
    """``1 h 30 min`` for a count of minutes."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return ""
    total = int(value)
    hours, rest = divmod(abs(total), 60)
    sign = "-" if total < 0 else ""
    return f"{sign}{hours} h {rest:02d} min" if hours else f"{sign}{rest} min"


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))


@dataclass
class Lookups:
    """Company-wide names: users, card types, tags, columns and lanes of every board."""

    company: CompanyRecords
    users: UserMap = field(init=False)
    columns: dict[str, Record] = field(default_factory=dict)
    lanes: dict[str, Record] = field(default_factory=dict)
    rules: MappingRules = field(init=False)   # default rules in the archive's language (yes/no, units)
    _board_ctx: tuple[BoardContext, PropertyFormatter] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.users = UserMap(names=self.company)
        self.rules = localized(MappingRules(), self.company)
        for records in self.company.columns.values():
            for record in records:
                raw = _dict(record.get("raw"))
                self.columns[str(raw.get("id"))] = raw
                for sub in _list(raw.get("subcolumns")):
                    if isinstance(sub, dict):
                        self.columns.setdefault(str(sub.get("id")), sub)
        for records in self.company.lanes.values():
            for record in records:
                raw = _dict(record.get("raw"))
                self.lanes[str(raw.get("id"))] = raw

    def properties(self, records: BoardRecords) -> tuple[BoardContext, PropertyFormatter]:
        """The board's planning context and property formatter, made once per board (the formatter
        indexes the company's users and select values). The site renders a board's cards together,
        so only the last board's are kept."""
        if self._board_ctx is None or self._board_ctx[0].records is not records:
            ctx = BoardContext(records.board_id, self.company, records, self.rules, self.users, Fidelity())
            self._board_ctx = (ctx, PropertyFormatter(ctx))
        return self._board_ctx

    def person(self, user_id: object, embedded: Any = None) -> str:
        name = display_name(embedded) if isinstance(embedded, dict) else None
        if name:
            return name
        if user_id is None or user_id == "":
            return ""
        return self.users.name_of(user_id)

    def card_type(self, card: Record) -> dict[str, Any]:
        raw = _dict(card.get("type")) or _dict((self.company.card_types.get(str(card.get("type_id"))) or {}).get("raw"))
        name = _text(raw.get("name")) or (f"type {card.get('type_id')}" if card.get("type_id") is not None else "")
        letter = _text(raw.get("letter")) or name[:1]
        return {"name": name, "letter": letter[:2], "colour": colour(raw.get("color"))}

    def tags(self, card: Record) -> list[dict[str, str]]:
        tags = []
        seen = set()
        for tag in _list(card.get("tags")):
            if not isinstance(tag, dict):
                continue
            key = str(tag.get("tag_id", tag.get("id")))
            if key in seen:
                continue
            seen.add(key)
            company_tag = _dict((self.company.tags.get(key) or {}).get("raw"))
            name = _text(tag.get("name")) or _text(company_tag.get("name")) or f"tag {key}"
            tags.append({"name": name, "colour": colour(tag.get("color", company_tag.get("color")))})
        for tag_id in _list(card.get("tag_ids")):
            key = str(tag_id)
            if key in seen:
                continue
            seen.add(key)
            company_tag = _dict((self.company.tags.get(key) or {}).get("raw"))
            tags.append({"name": _text(company_tag.get("name")) or f"tag {key}",
                         "colour": colour(company_tag.get("color"))})
        return tags

    def members(self, card: Record) -> list[dict[str, Any]]:
        people = []
        for member in _list(card.get("members")):
            if isinstance(member, dict):
                people.append({"name": self.person(member.get("user_id", member.get("id")), member),
                               "responsible": member.get("type") == 2})
        people.sort(key=lambda person: not person["responsible"])
        return people

    def column_title(self, column_id: object) -> str:
        raw = self.columns.get(str(column_id))
        return _text(raw.get("title")) if raw else (f"column {column_id}" if column_id is not None else "")

    def board_title(self, board_id: object) -> str:
        raw = (self.company.boards.get(str(board_id)) or {}).get("raw") or {}
        return _text(raw.get("title")) or (f"board {board_id}" if board_id is not None else "")

    def lane_title(self, lane_id: object) -> str:
        raw = self.lanes.get(str(lane_id))
        return _text(raw.get("title")) if raw else (f"lane {lane_id}" if lane_id is not None else "")


def tile(card: Record, lookups: Lookups, href: str) -> dict[str, Any]:
    """The short form of a card on a board: title, type, tags, people, due date and counters."""
    checklists = [item for checklist in _list(card.get("checklists")) if isinstance(checklist, dict)
                  for item in _list(checklist.get("items")) if isinstance(item, dict) and not item.get("deleted")]
    return {
        "id": str(card.get("id")), "href": href, "title": _text(card.get("title")) or "(untitled)",
        "type": lookups.card_type(card), "tags": lookups.tags(card), "members": lookups.members(card),
        "due": day(card.get("due_date"), card.get("due_date_time_present")) if card.get("due_date") else "",
        "asap": card.get("asap") is True, "blocked": card.get("blocked") is True,
        "archived": card.get("condition") == 2 or card.get("archived") is True,
        "comments": card.get("comments_total") if isinstance(card.get("comments_total"), int) else 0,
        "checked": sum(1 for item in checklists if item.get("checked")), "todo": len(checklists),
        "files": sum(1 for item in _list(card.get("files")) if isinstance(item, dict) and not item.get("deleted")),
        "children": card.get("children_count") if isinstance(card.get("children_count"), int) else 0,
        "children_done": card.get("children_done") if isinstance(card.get("children_done"), int) else 0,
        "column": lookups.column_title(card.get("column_id")), "lane": lookups.lane_title(card.get("lane_id")),
        "state": STATES.get(card.get("state"), "") if isinstance(card.get("state"), int) else "",
        "updated": when(card.get("updated")),
    }


@dataclass
class FileView:
    id: str
    name: str
    size: str
    mime: str
    href: str | None          # None: no local bytes (status or --no-files)
    download: str
    image: bool
    status: str
    note: str
    author: str
    created: str
    comment_id: str | None
    url: str                  # the Kaiten URL, for rewriting links in texts

    @property
    def anchor(self) -> str:
        return f"file-{page_token(self.id)}"


Relation = Callable[[str], "tuple[str, str] | None"]     # card id → (href, title) when in the site


def card_page(card: Record, records: BoardRecords, lookups: Lookups, *, files: list[FileView],
              relation: Relation, missing: dict[str, Record]) -> dict[str, Any]:
    """Everything a card page shows."""
    card_id = str(card.get("id"))
    view = tile(card, lookups, "")
    local = {item.url: item.href for item in files if item.href and item.url}
    by_comment: dict[str, list[FileView]] = {}
    for item in files:
        if item.comment_id:
            by_comment.setdefault(item.comment_id, []).append(item)
    comments = []
    for record in sorted(records.comments.get(card_id, []),
                         key=lambda rec: (time_order(_dict(rec.get("raw")).get("created")), id_order(rec.get("id")))):
        raw = _dict(record.get("raw"))
        comments.append({
            "id": str(record.get("id")), "anchor": f"comment-{page_token(record.get('id'))}",
            "author": lookups.person(raw.get("author_id"), raw.get("author")),
            "created": when(raw.get("created")), "edited": raw.get("edited") is True and raw.get("updated") != raw.get("created"),
            "updated": when(raw.get("updated")), "deleted": raw.get("deleted") is True,
            "internal": raw.get("internal") is True, "html": comment_html(raw.get("text"), raw.get("type"), local),
            "files": by_comment.get(str(raw.get("id")), []),
        })
    view.update({
        "owner": lookups.person(card.get("owner_id"), card.get("owner")),
        "created": when(card.get("created")), "board_id": str(card.get("board_id")),
        "size": _text(card.get("size_text")) or _text(card.get("size")),
        "description": markdown_html(card.get("description"), local),
        "checklists": _checklists(card, lookups), "comments": comments, "files": files,
        "links": [{"url": safe_url(link.get("url")), "text": _text(link.get("url")),
                   "description": _text(link.get("description"))}
                  for link in _list(card.get("external_links")) if isinstance(link, dict)],
        "blockers": _blockers(card, lookups, relation),
        "relations": _relations(card, relation),
        "properties": _properties(card, records, lookups),
        "time_logs": _time_logs(records.time_logs.get(card_id, []), lookups),
        "time_total": minutes(sum(_dict(rec.get("raw")).get("time_spent") or 0 for rec in records.time_logs.get(card_id, [])
                                  if isinstance(_dict(rec.get("raw")).get("time_spent"), (int, float)))),
        "history": _history(records.location_history.get(card_id, []), lookups),
        "missing": [entry for key, entry in missing.items() if _dict(entry.get("ref")).get("card_id") == card_id],
        "dates": [(label, when(card.get(key))) for label, key in (
            ("Planned start", "planned_start"), ("Planned end", "planned_end"),
            ("First moved to in progress", "first_moved_to_in_progress_at"),
            ("Last moved to done", "last_moved_to_done_at"), ("Completed", "completed_at"),
            ("Last moved", "last_moved_at")) if card.get(key)],
    })
    return view


def _checklists(card: Record, lookups: Lookups) -> list[dict[str, Any]]:
    lists = []
    for checklist in sorted((c for c in _list(card.get("checklists")) if isinstance(c, dict)),
                            key=lambda c: (position(c.get("sort_order")), id_order(c.get("id")))):
        items = []
        for item in sorted((i for i in _list(checklist.get("items")) if isinstance(i, dict) and not i.get("deleted")),
                           key=lambda i: (position(i.get("sort_order")), id_order(i.get("id")))):
            items.append({"text": _text(item.get("text")), "checked": item.get("checked") is True,
                          "checker": lookups.person(item.get("checker_id")) if item.get("checked") else "",
                          "checked_at": when(item.get("checked_at")) if item.get("checked") else "",
                          "due": _text(item.get("due_date")),
                          "responsible": lookups.person(item.get("responsible_id")) if item.get("responsible_id") else ""})
        lists.append({"name": _text(checklist.get("name")) or "Checklist", "entries": items,
                      "done": sum(1 for item in items if item["checked"])})
    return lists


def _blockers(card: Record, lookups: Lookups, relation: Relation) -> list[dict[str, Any]]:
    found = []
    for blocker in _list(card.get("blockers")):
        if not isinstance(blocker, dict):
            continue
        other = blocker.get("blocker_card_id")
        link = relation(str(other)) if other is not None else None
        found.append({"reason": _text(blocker.get("reason")), "released": blocker.get("released") is True,
                      "by": lookups.person(blocker.get("blocker_id"), blocker.get("blocker")),
                      "created": when(blocker.get("created")),
                      "card": {"href": link[0] if link else None,
                               "title": (link[1] if link else "") or _text(blocker.get("blocker_card_title")) or f"card {other}",
                               "id": str(other)} if other is not None else None})
    return found


RELATION_NAMES = (("parents", "Parents"), ("children", "Children"), ("blocked_by", "Blocked by"),
                  ("blocks", "Blocks"), ("relates", "Related"))


def _relations(card: Record, relation: Relation) -> list[dict[str, Any]]:
    titles = {str(item.get("id")): _text(item.get("title")) for key in ("parents", "children")
              for item in _list(card.get(key)) if isinstance(item, dict)}
    groups = []
    for kind, label in RELATION_NAMES:
        ids = ([str(value) for value in _list(card.get("relates_card_ids"))] if kind == "relates"
               else related_ids(card, kind))
        links = []
        for other in ids:
            found = relation(other)
            links.append({"id": other, "href": found[0] if found else None,
                          "title": (found[1] if found else "") or titles.get(other) or f"card {other}"})
        if links:
            groups.append({"label": label, "links": links})
    return groups


def _properties(card: Record, records: BoardRecords, lookups: Lookups) -> list[tuple[str, str]]:
    ctx, formatter = lookups.properties(records)
    values = formatter.card_values(card)
    return [(property_name(ctx, pid), text) for pid, text in sorted(values.items(), key=lambda item: id_order(item[0]))]


def _time_logs(logs: list[Record], lookups: Lookups) -> list[dict[str, str]]:
    rows = []
    for record in sorted(logs, key=lambda rec: (_text(_dict(rec.get("raw")).get("for_date")), id_order(rec.get("id")))):
        raw = _dict(record.get("raw"))
        rows.append({"date": _text(raw.get("for_date"))[:10], "user": lookups.person(raw.get("user_id"), raw.get("user")),
                     "role": _text(_dict(raw.get("role")).get("name")), "spent": minutes(raw.get("time_spent")),
                     "comment": _text(raw.get("comment"))})
    return rows


def _history(events: list[Record], lookups: Lookups) -> list[dict[str, str]]:
    rows = []
    for record in sorted(events, key=lambda rec: (time_order(_dict(rec.get("raw")).get("changed")), id_order(rec.get("id")))):
        raw = _dict(record.get("raw"))
        column = lookups.column_title(raw.get("column_id"))
        if raw.get("subcolumn_id") is not None:
            column += " / " + lookups.column_title(raw.get("subcolumn_id"))
        rows.append({"changed": when(raw.get("changed")), "author": lookups.person(raw.get("author_id"), raw.get("author")),
                     "column": column, "lane": lookups.lane_title(raw.get("lane_id")),
                     "condition": {1: "on the board", 2: "archived", 3: "deleted"}.get(raw.get("condition"), "")
                     if isinstance(raw.get("condition"), int) else "",
                     "board": lookups.board_title(raw.get("board_id"))})
    return rows

