"""Routing table of the simulated Kaiten API (company-level routes; card routes live in
:mod:`kaiten_card_routes`, imported here so that importing this module registers every route)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from k2p.testing.kaiten import card_routes as kaiten_card_routes  # noqa: F401  (registers the card routes)
from k2p.testing.kaiten import documents as kaiten_documents  # noqa: F401  (registers its routes)
from k2p.testing.kaiten import space_config  # noqa: F401  (registers its routes)
from k2p.testing.kaiten import views
from k2p.testing.kaiten.api import (
    JSON, Request, dispatch, fail, paged, property_or_404, require_admin, route, search, visible_board,
    visible_space, write_only,
)
from k2p.testing.kaiten.compact import peek, read_field
from k2p.testing.kaiten.formats import parse_iso

if TYPE_CHECKING:
    from k2p.testing.kaiten.model import CompanyData, TokenInfo


def expected_json(co: "CompanyData", token: "TokenInfo", path: str, params: dict[str, str]) -> Any:
    """Ground truth: the JSON a GET would answer, computed without HTTP."""
    with co.lock:
        reply = dispatch(Request(co, token, params), "GET", path)
    if reply.status != 200 or reply.content_type != JSON:
        raise LookupError(f"GET {path} answers {reply.status}")
    return orjson.loads(reply.body)


# --- users -------------------------------------------------------------------------------------
@route("/users/current")
def current_user(req: Request) -> Any:
    return views.user_full(req.company, req.token.user_id)


@route("/users")
def list_users(req: Request) -> Any:
    co = req.company
    ids = co.users_visible_to(req.token.token, req.flag("include_inactive"))
    return paged(req, search(req, ((uid, co.users[uid]) for uid in ids),
                             lambda u: f"{u['full_name']} {u['username']} {u['email']}"))


@route("/users/{user_id:int}")
def one_user(req: Request, user_id: int) -> Any:
    if user_id not in req.company.users_visible_to(req.token.token, include_inactive=True):
        raise fail(404)
    return views.user_full(req.company, user_id)


@route("/company/users")
def company_users(req: Request) -> Any:
    require_admin(req)
    return paged(req, [views.company_user(req.company, uid) for uid in sorted(req.company.users)])


@route("/user-roles")
def user_roles(req: Request) -> Any:
    return [dict(role) for role in req.company.user_roles]


# --- spaces, tree, boards ----------------------------------------------------------------------
@route("/spaces")
def list_spaces(req: Request) -> Any:
    visible = req.company.visible_space_ids(req.token.token)
    return [views.space_view(req.company, sid, with_boards=True) for sid in sorted(visible)]


@route("/spaces/{space_id:int}")
def one_space(req: Request, space_id: int) -> Any:
    visible_space(req, space_id)
    return views.space_view(req.company, space_id, with_boards=False)


@route("/spaces/{space_id:int}/boards")
def space_boards(req: Request, space_id: int) -> Any:
    visible_space(req, space_id)
    return [views.board_in_space(req.company, b, with_structure=True)
            for b in req.company.bindings if b["space_id"] == space_id]


@route("/spaces/{space_id:int}/boards/{board_id:int}")
def space_board(req: Request, space_id: int, board_id: int) -> Any:
    visible_space(req, space_id)
    if space_id not in req.company.board_space_ids(board_id):
        raise fail(404)
    return views.board_full(req.company, board_id)


@route("/spaces/{space_id:int}/users")
def space_users(req: Request, space_id: int) -> Any:
    visible_space(req, space_id)
    co = req.company
    inactive = req.flag("inactive")
    return [views.space_member(co, space_id, uid) for uid in sorted(co.space_members.get(space_id, {}))
            if inactive or co.users[uid]["activated"]]


@route("/spaces/{space_uid:uuid}/iterations")
def iterations(req: Request, space_uid: str) -> Any:
    raise fail(402, "Iterations are not available on your tariff plan")


@route("/company/groups")
def groups(req: Request) -> Any:
    raise fail(402, "Groups are not available on your tariff plan")


@route("/tree-entities")
def tree_entities(req: Request) -> Any:
    co = req.company
    nodes = [co.spaces[sid] for sid in sorted(co.visible_space_ids(req.token.token))]
    nodes += [node for node in co.tree_nodes.values() if kaiten_documents.node_visible(co, node, req.token)]
    parents = {node["parent_entity_uid"] for node in nodes if node["parent_entity_uid"]}
    root = req.params.get("parent_entity_uid")
    if root:
        levels = min(max(req.integer("levels_count") or 1, 1), 2)
        wanted, frontier = set(), {root}
        for _ in range(levels):
            frontier = {n["uid"] for n in nodes if n["parent_entity_uid"] in frontier}
            wanted |= frontier
        nodes = [n for n in nodes if n["uid"] in wanted]
    return paged(req, [views.tree_entity(co, node, parents) for node in nodes], 500, 500)


@route("/boards/{board_id:int}")
def one_board(req: Request, board_id: int) -> Any:
    visible_board(req, board_id)
    return views.board_full(req.company, board_id)


@route("/boards/{board_id:int}/columns")
def board_columns(req: Request, board_id: int) -> Any:
    visible_board(req, board_id)
    return views.board_columns(req.company, board_id)


@route("/columns/{column_id:int}/subcolumns")
def column_subcolumns(req: Request, column_id: int) -> Any:
    column = req.company.columns.get(column_id)
    if column is None:
        raise fail(404)
    visible_board(req, column["board_id"])
    return views.subcolumns(req.company, column_id)


@route("/boards/{board_id:int}/lanes")
def board_lanes(req: Request, board_id: int) -> Any:
    """Without ``condition`` only live lanes are listed (research §9 leaves the default open)."""
    visible_board(req, board_id)
    conditions = req.ints("condition") or {1}
    return views.board_lanes(req.company, board_id, conditions)


# --- dictionaries ------------------------------------------------------------------------------
@route("/card-types")
def card_types(req: Request) -> Any:
    return paged(req, [dict(t) for t in req.company.card_types.values()])


@route("/card-types/{type_id:int}")
def one_card_type(req: Request, type_id: int) -> Any:
    if type_id not in req.company.card_types:
        raise fail(404)
    return dict(req.company.card_types[type_id])


@route("/tags")
def tags(req: Request) -> Any:
    """Only tags on at least one live card are listed (research §2.3)."""
    co = req.company
    return paged(req, search(req, ((tid, co.tags[tid]) for tid in co.visible_tag_ids()), lambda t: t["name"]))


@route("/company/custom-properties")
def custom_properties(req: Request) -> Any:
    co = req.company
    rows = search(req, co.custom_properties.items(), lambda p: p["name"])
    if req.flag("include_values"):
        for row in rows:
            if row["type"] == "select":
                row["values"] = [dict(v) for v in co.select_values[row["id"]]]
    return paged(req, rows, 100, 500)


@route("/company/custom-properties/{prop_id:int}")
def one_custom_property(req: Request, prop_id: int) -> Any:
    return dict(property_or_404(req, prop_id))


@route("/company/custom-properties/{prop_id:int}/select-values")
def select_values(req: Request, prop_id: int) -> Any:
    """Without ``v2_select_search=true``: every value incl. removed/inactive, ``limit`` ignored."""
    property_or_404(req, prop_id)
    rows = [dict(v) for v in req.company.select_values.get(prop_id, [])]
    if not req.flag("v2_select_search"):
        return rows
    query = (req.params.get("query") or "").lower()
    rows = [v for v in rows
            if v["condition"] == "active" and not v["deleted"] and query in v["value"].lower()]
    return paged(req, rows)


@route("/company/custom-properties/{prop_id:int}/catalog-values")
def catalog_values(req: Request, prop_id: int) -> Any:
    property_or_404(req, prop_id)
    conditions = set((req.params.get("conditions") or "active,inactive").split(","))
    rows = [dict(v) for v in req.company.catalog_values.get(prop_id, []) if v["condition"] in conditions]
    return paged(req, rows)


# --- sprints, time logs, audit -----------------------------------------------------------------
@route("/sprints")
def sprints(req: Request) -> Any:
    require_admin(req, empty_body=True)
    rows = [dict(s) for s in req.company.sprints.values()]
    if "active" in req.params:
        rows = [s for s in rows if s["active"] == req.flag("active")]
    return paged(req, rows)


@route("/sprints/{sprint_id:int}")
def one_sprint(req: Request, sprint_id: int) -> Any:
    require_admin(req, empty_body=True)
    co = req.company
    if sprint_id not in co.sprints:
        raise fail(404)
    cards = [cid for cid in co.served_card_ids() if read_field(co.cards, cid, "sprint_id") == sprint_id]
    return {**co.sprints[sprint_id], "cards": [views.card_list_item(co, cid) for cid in cards],
            "cardUpdates": [], "customProperties": []}


@route("/time-logs")
def company_time_logs(req: Request) -> Any:
    require_admin(req)
    start, end = req.params.get("from"), req.params.get("to")
    if not start or not end or parse_iso(start) is None or parse_iso(end) is None:
        raise fail(400, "Query parameters 'from' and 'to' (YYYY-MM-DD) are required")
    co = req.company
    rows = []
    for card_id in sorted(co.time_logs):
        if read_field(co.cards, card_id, "condition") == 3:
            continue
        for row in peek(co.time_logs, card_id, []):
            if start[:10] <= row["for_date"] <= end[:10]:
                rows.append({**views.time_log_view(co, row), "card": views.card_list_item(co, card_id)})
    return paged(req, rows, 100, 200)


@route("/audit-logs")
def audit_logs(req: Request) -> Any:
    require_admin(req, empty_body=True)
    return paged(req, [dict(row) for row in req.company.audit_logs], 100, 500)


write_only("/removed/cards", "DELETE")
write_only("/removed/boards", "DELETE")
