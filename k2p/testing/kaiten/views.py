"""API payloads assembled from a :class:`~k2p.testing.kaiten.model.CompanyData`.

The simulator serves these and the ground-truth helpers return them, so "what the API returns"
is defined in exactly one place. Field shapes follow research §4 and the live samples it cites.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable

from k2p.testing.kaiten.compact import peek, read_field
from k2p.testing.kaiten.files import FileRef
from k2p.testing.kaiten.formats import DEFAULT_FILES_ORIGIN

if TYPE_CHECKING:
    from k2p.testing.kaiten.model import CompanyData

Record = dict[str, Any]

USER_EMBED = ("id", "uid", "full_name", "email", "username", "avatar_initials_url",
              "avatar_uploaded_url", "initials", "avatar_type", "lng", "timezone", "theme", "created",
              "updated", "activated", "ui_version", "virtual", "email_blocked", "email_blocked_reason",
              "delete_requested_at")
USER_MINI = ("id", "uid", "full_name", "username", "activated")
SINGLE_ONLY = ("description", "email", "card_permissions", "key", "import_id", "fts_version",
               "blocked_by_card_ids", "blocks_card_ids", "relates_card_ids")
COLUMN_SHORT = ("id", "uid", "title", "sort_order", "col_count", "type", "board_id", "column_id",
                "external_id", "rules", "pause_sla")
LANE_SHORT = ("id", "title", "sort_order", "board_id", "condition", "external_id", "default_card_type_id")
TYPE_SHORT = ("id", "name", "color", "letter", "company_id", "archived", "properties",
              "suggest_fields", "author_uid")
SPACE_SHORT = ("id", "uid", "title", "external_id", "company_id", "sort_order", "path",
               "parent_entity_uid", "entity_type", "access", "archived", "for_everyone_access_role_id",
               "work_calendar_id")
CARD_BRIEF = ("id", "uid", "title", "state", "condition", "archived", "board_id", "column_id",
              "lane_id", "owner_id", "type_id", "children_count", "parents_count")
TREE_FIELDS = ("uid", "id", "title", "entity_type", "parent_entity_uid", "path", "sort_order",
               "archived", "access")
EMPLOYEE_ROLE = {"id": -1, "uid": None, "name": "Employee", "company_id": None}


def pick(record: Record, keys: Iterable[str]) -> Record:
    return {key: record[key] for key in keys if key in record}


def rewrite_links(co: "CompanyData", text: str | None) -> str | None:
    """Point ``files.kaiten.ru`` links at the storage origin the company is currently served from."""
    if not text or co.files_origin == DEFAULT_FILES_ORIGIN or DEFAULT_FILES_ORIGIN not in text:
        return text
    return text.replace(DEFAULT_FILES_ORIGIN, co.files_origin)


# --- users -------------------------------------------------------------------------------------
def user_summary(co: "CompanyData", user_id: int) -> Record:
    return pick(co.users[user_id], USER_EMBED)


def user_full(co: "CompanyData", user_id: int) -> Record:
    return dict(co.users[user_id])


def company_user(co: "CompanyData", user_id: int) -> Record:
    user = co.users[user_id]
    admin = user["role"] == 1
    spaces = [{"space_id": sid, "role_ids": [roles[user_id]], "access_mod": "all"}
              for sid, roles in sorted(co.space_members.items()) if user_id in roles]
    return {**user, "spaces": spaces, "groups": [], "permissions": 4095 if admin else 1,
            "own_permissions": 4095 if admin else 1, "apps_permissions": 1 if user["activated"] else 0,
            "take_licence": user["activated"], "temporarily_inactive": False, "invite_last_sent_at": None}


def space_member(co: "CompanyData", space_id: int, user_id: int) -> Record:
    role = co.space_members[space_id][user_id]
    return {**user_summary(co, user_id), "role": role, "own_role": role, "role_ids": [role],
            "own_role_ids": [role], "access_mod": "all", "own_access_mod": "all", "groups": []}


# --- spaces, boards, columns, lanes ------------------------------------------------------------
def space_entry(co: "CompanyData", binding: Record) -> Record:
    """A space as embedded in ``board.spaces[]`` / ``path_data.space`` (with placement fields)."""
    return {**pick(co.spaces[binding["space_id"]], SPACE_SHORT), "board_id": binding["board_id"],
            "space_id": binding["space_id"], "top": binding["top"], "left": binding["left"],
            "type": binding["type"], "primary_path": binding["primary"]}


def board_bindings(co: "CompanyData", board_id: int) -> list[Record]:
    return sorted((b for b in co.bindings if b["board_id"] == board_id), key=lambda b: not b["primary"])


def board_summary(co: "CompanyData", board_id: int) -> Record:
    board = co.boards[board_id]
    return {**pick(board, ("id", "uid", "title", "external_id", "card_properties")),
            "spaces": [space_entry(co, b) for b in board_bindings(co, board_id)]}


def column_short(co: "CompanyData", column_id: int) -> Record:
    return pick(co.columns[column_id], COLUMN_SHORT)


def lane_short(co: "CompanyData", lane_id: int) -> Record:
    return pick(co.lanes[lane_id], LANE_SHORT)


def _sorted_ids(rows: dict[int, Record], predicate: Any) -> list[int]:
    chosen = [rid for rid, row in rows.items() if predicate(row)]
    return sorted(chosen, key=lambda rid: rows[rid]["sort_order"])


def board_columns(co: "CompanyData", board_id: int) -> list[Record]:
    """``GET /boards/{id}/columns``: top-level columns, each with nested ``subcolumns[]``."""
    tops = _sorted_ids(co.columns, lambda c: c["board_id"] == board_id and c["column_id"] is None)
    return [{**co.columns[cid], "subcolumns": subcolumns(co, cid)} for cid in tops]


def subcolumns(co: "CompanyData", column_id: int) -> list[Record]:
    return [dict(co.columns[cid]) for cid in _sorted_ids(co.columns, lambda c: c["column_id"] == column_id)]


def board_lanes(co: "CompanyData", board_id: int, conditions: set[int]) -> list[Record]:
    ids = _sorted_ids(co.lanes, lambda lane: lane["board_id"] == board_id and lane["condition"] in conditions)
    return [dict(co.lanes[lid]) for lid in ids]


def _board_structure(co: "CompanyData", board_id: int) -> Record:
    """Short-form ``columns`` (flat, subcolumns included) and live ``lanes`` of a board object."""
    columns = _sorted_ids(co.columns, lambda c: c["board_id"] == board_id)
    return {"columns": [column_short(co, cid) for cid in columns],
            "lanes": [lane_short(co, lane["id"]) for lane in board_lanes(co, board_id, {1})]}


def board_in_space(co: "CompanyData", binding: Record, with_structure: bool) -> Record:
    """A board as listed under a space, with the placement fields of that space."""
    board = co.boards[binding["board_id"]]
    extra = _board_structure(co, board["id"]) if with_structure else {}
    return {**board, **extra, "space_id": binding["space_id"], "board_id": board["id"],
            "top": binding["top"], "left": binding["left"], "sort_order": binding["sort_order"],
            "type": binding["type"]}


def space_view(co: "CompanyData", space_id: int, with_boards: bool) -> Record:
    """A space; ``boards`` is present only when asked for and the space has boards."""
    space = dict(co.spaces[space_id])
    if with_boards:
        boards = [board_in_space(co, b, False) for b in co.bindings if b["space_id"] == space_id]
        if boards:
            space["boards"] = boards
    return space


def board_full(co: "CompanyData", board_id: int) -> Record:
    """``GET /boards/{id}``: settings, short columns, live lanes and every served card."""
    cards = [cid for cid in co.served_card_ids() if read_field(co.cards, cid, "board_id") == board_id]
    return {**co.boards[board_id], **_board_structure(co, board_id),
            "cards": [card_list_item(co, cid) for cid in cards]}


def tree_entity(co: "CompanyData", node: Record, parents: set[str]) -> Record:
    return {**pick(node, TREE_FIELDS), "has_children": node["uid"] in parents}


# --- cards -------------------------------------------------------------------------------------
def _properties(co: "CompanyData", values: Record | None, broken_api: bool) -> Record | None:
    """User-type values are UIDs with ``broken_api=true`` (the default) and ids otherwise."""
    if not values or not broken_api:
        return None if values is None else dict(values)
    user_props = co.user_type_property_ids()
    return {key: [co.users[uid]["uid"] for uid in value] if int(key[3:]) in user_props else value
            for key, value in values.items()}


def card_tags(co: "CompanyData", card_id: int) -> list[Record]:
    return [{"id": tid, "tag_id": tid, "name": co.tags[tid]["name"], "color": co.tags[tid]["color"],
             "card_id": card_id} for tid in read_field(co.cards, card_id, "tag_ids") or []]


def card_members(co: "CompanyData", card_id: int) -> list[Record]:
    return [{**user_summary(co, uid), "card_id": card_id, "user_id": uid, "type": kind}
            for uid, kind in co.card_members.get(card_id, [])]


def path_data(co: "CompanyData", card: Record) -> Record:
    column = co.columns[card["column_id"]]
    parent = column["column_id"]
    primary = board_bindings(co, card["board_id"])[0]
    return {"space": space_entry(co, primary), "board": board_summary(co, card["board_id"]),
            "lane": lane_short(co, card["lane_id"]),
            "column": column_short(co, parent if parent else column["id"]),
            "subcolumn": column_short(co, column["id"]) if parent else None}


def card_brief(co: "CompanyData", card_id: int, link_id: int) -> Record:
    return {**pick(peek(co.cards, card_id), CARD_BRIEF), "card_id": link_id}


def checklist_view(co: "CompanyData", checklist_id: int, with_items: bool) -> Record:
    checklist = peek(co.checklists, checklist_id)
    if with_items:
        return {**checklist, "items": [dict(item) for item in checklist["items"]]}
    live = [item for item in checklist["items"] if not item["deleted"]]
    body = {key: value for key, value in checklist.items() if key != "items"}
    return {**body, "checked_items": sum(item["checked"] for item in live), "total_items": len(live)}


def file_view(co: "CompanyData", record: Record, with_author: bool) -> Record:
    out = dict(record)
    if out["type"] != 11:
        out["url"] = rewrite_links(co, out["url"])
        if with_author:
            out["author"] = user_summary(co, out["author_id"])
    return out


def card_files(co: "CompanyData", card_id: int, full: bool = True) -> list[Record]:
    """Single-card shape (both generations, legacy files with ``author``) or, with ``full=False``,
    the list shape (legacy files only, no ``author``)."""
    return [file_view(co, rec, with_author=full) for rec in peek(co.files, card_id, [])
            if full or rec["type"] != 11]


def blockers(co: "CompanyData", card_id: int) -> list[Record]:
    return [{**row, "blocker": pick(co.users[row["blocker_id"]], USER_MINI)}
            for row in co.blockers.get(card_id, [])]


def external_links(co: "CompanyData", card_id: int) -> list[Record]:
    return [dict(link) for link in co.external_links.get(card_id, [])]


def children(co: "CompanyData", card_id: int) -> list[Record]:
    return [card_brief(co, cid, card_id) for cid in read_field(co.cards, card_id, "children_ids") or []]


def parents(co: "CompanyData", card_id: int) -> list[Record]:
    return [card_brief(co, pid, card_id) for pid in read_field(co.cards, card_id, "parents_ids") or []]


def _card_base(co: "CompanyData", card_id: int, broken_api: bool) -> Record:
    card = peek(co.cards, card_id)
    out = {key: value for key, value in card.items() if key not in SINGLE_ONLY}
    out.update(properties=_properties(co, card["properties"], broken_api),
               owner=user_summary(co, card["owner_id"]),
               type=pick(co.card_types[card["type_id"]], TYPE_SHORT),
               board=board_summary(co, card["board_id"]), column=column_short(co, card["column_id"]),
               lane=lane_short(co, card["lane_id"]), tags=card_tags(co, card_id),
               members=card_members(co, card_id), path_data=path_data(co, card))
    return out


def _set_optional(out: Record, **relations: list[Record]) -> Record:
    """Relation keys are absent (not empty) when a card has none of them."""
    for key, rows in relations.items():
        if rows:
            out[key] = rows
    return out


def card_list_item(co: "CompanyData", card_id: int, broken_api: bool = True,
                   with_description: bool = False) -> Record:
    """One ``GET /cards`` element: no description unless asked, checklist counters, legacy files."""
    out = _card_base(co, card_id, broken_api)
    if with_description:
        out["description"] = rewrite_links(co, read_field(co.cards, card_id, "description"))
    checklists = [checklist_view(co, cid, False) for cid in co.card_checklists.get(card_id, [])]
    return _set_optional(out, checklists=checklists, files=card_files(co, card_id, full=False),
                         blockers=blockers(co, card_id), parents=parents(co, card_id),
                         external_links=external_links(co, card_id))


def card_single(co: "CompanyData", card_id: int, broken_api: bool = True) -> Record:
    """``GET /cards/{id}``: every field and relation, checklist items, both file generations."""
    out = _card_base(co, card_id, broken_api)
    card = peek(co.cards, card_id)
    out.update({key: card[key] for key in SINGLE_ONLY})
    out["description"] = rewrite_links(co, card["description"])
    checklists = [checklist_view(co, cid, True) for cid in co.card_checklists.get(card_id, [])]
    return _set_optional(out, checklists=checklists, files=card_files(co, card_id),
                         children=children(co, card_id), parents=parents(co, card_id),
                         blockers=blockers(co, card_id), external_links=external_links(co, card_id))


def comments(co: "CompanyData", card_id: int) -> list[Record]:
    return [{**row, "text": rewrite_links(co, row["text"]), "author": user_summary(co, row["author_id"])}
            for row in co.comments.get(card_id, [])]


def _role(co: "CompanyData", role_id: int) -> Record:
    return next((dict(role) for role in co.user_roles if role["id"] == role_id), dict(EMPLOYEE_ROLE))


def time_log_view(co: "CompanyData", row: Record) -> Record:
    return {**row, "role": _role(co, row["role_id"]), "user": user_summary(co, row["user_id"]),
            "author": user_summary(co, row["author_id"])}


def time_logs(co: "CompanyData", card_id: int) -> list[Record]:
    return [time_log_view(co, row) for row in peek(co.time_logs, card_id, [])]


def location_history(co: "CompanyData", card_id: int) -> list[Record]:
    return [{**row, "author": user_summary(co, row["author_id"])}
            for row in peek(co.location_history, card_id, [])]


def card_activity(co: "CompanyData", card_id: int) -> list[Record]:
    """A derived event feed (string ids, oldest first): add, moves, comments, member changes."""
    card = peek(co.cards, card_id)
    events: list[tuple[str, str, int, Record]] = [(card["created"], "card_add", card["owner_id"], {})]
    for row in peek(co.location_history, card_id, [])[1:]:
        events.append((row["changed"], "card_move", row["author_id"],
                       {"column_id": row["column_id"], "subcolumn_id": row["subcolumn_id"]}))
    for row in co.comments.get(card_id, []):
        events.append((row["created"], "comment_add", row["author_id"], {"comment_id": row["id"]}))
    for uid, kind in co.card_members.get(card_id, []):
        action = "card_assign_responsible" if kind == 2 else "card_assign_member"
        events.append((card["created"], action, card["owner_id"], {"user_id": uid}))
    events.sort(key=lambda event: event[0])
    return [{"id": str(card_id * 1000 + n), "created": created, "action": action, "author_id": author,
             "author": user_summary(co, author), "card_id": card_id, "board_id": card["board_id"],
             "column_id": card["column_id"], "lane_id": card["lane_id"], "card_version": card["version"],
             **extra, "data": {}}
            for n, (created, action, author, extra) in enumerate(events)]


def file_ref(co: "CompanyData", card_id: int, record: Record) -> FileRef:
    """Ground truth of one file payload: which route serves it and with which first status."""
    if record["type"] == 11:
        blob = co.blobs[record["id"]]
        if blob.deleted:
            return FileRef(card_id, record["id"], blob.key, "private", 404, "deleted file")
        if blob.malicious:
            return FileRef(card_id, record["id"], blob.key, "private", 422, "flagged as malicious")
        return FileRef(card_id, record["id"], blob.key, "private", 200)
    if record["external"]:
        return FileRef(card_id, record["id"], None, "external", None, "cloud-drive link, not downloadable")
    key = record["url"].rsplit("/", 1)[-1].split(".", 1)[0]
    if co.blobs[key].deleted:
        return FileRef(card_id, record["id"], key, "legacy", 404, "deleted file")
    mismatch = record["size"] != co.blobs[key].size
    return FileRef(card_id, record["id"], key, "legacy", 200,
                   "declared size differs from served bytes" if mismatch else "")
