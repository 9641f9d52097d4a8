"""Board, board-membership, list and label routes of the Planka simulator."""

from __future__ import annotations

from typing import Any

from k2p.testing.planka.access import (board_path, check_keys, is_admin_or_owner, is_finite,
                                       is_project_manager, list_path, membership, require_board_reader,
                                       require_editor, require_manager)
from k2p.testing.planka.card_content import update_positioned
from k2p.testing.planka.cards import CARD_TYPES, delete_card_related, move_card_to_board, sync_linked_tasks
from k2p.testing.planka.http import NOT_IMPLEMENTED, ROUTES, Ctx, conflict, forbidden, not_found, server_error
from k2p.testing.planka.present import cards_included, with_subscription
from k2p.testing.planka.store import Store, now_iso
from k2p.testing.planka.validation import (BOOL, ID_INPUT, NAME_128, NULLABLE_NAME_128, OPT_NAME_128,
                                           OPT_POSITION, POSITION, REQ_ID, Input)

LIST_COLORS = ("berry-red", "pumpkin-orange", "lagoon-blue", "pink-tulip", "light-mud", "orange-peel",
               "bright-moss", "antique-blue", "dark-granite", "turquoise-sea")
LABEL_COLORS = (
    "muddy-grey", "autumn-leafs", "morning-sky", "antique-blue", "egg-yellow", "desert-sand",
    "dark-granite", "fresh-salad", "lagoon-blue", "midnight-blue", "light-orange", "pumpkin-orange",
    "light-concrete", "sunny-grass", "navy-blue", "lilac-eyes", "apricot-red", "orange-peel",
    "silver-glint", "bright-moss", "deep-ocean", "summer-sky", "berry-red", "light-cocoa", "grey-stone",
    "tank-green", "coral-green", "sugar-plum", "pink-tulip", "shady-rust", "wet-rock", "wet-moss",
    "turquoise-sea", "lavender-fields", "piggy-red", "light-mud", "gun-metal", "modern-green",
    "french-coast", "sweet-lilac", "red-burgundy", "pirate-gold",
)
KANBAN_TYPES = ("active", "closed")
_BOARD_FLAGS = ("defaultView", "defaultCardType", "limitCardTypesToDefaultOne", "alwaysDisplayCardCreator",
                "displayCardAges", "expandTaskListsByDefault")


# --- boards --------------------------------------------------------------------------------------
@ROUTES.add("POST", "/api/projects/{projectId}/boards", {
    "projectId": REQ_ID, "position": POSITION, "name": NAME_128,
    "importType": Input(is_in=("trello",)), "requestId": Input(not_empty=True, max_length=128)})
def create_board(ctx: Ctx) -> Any:
    store = ctx.store
    project = store.get("projects", ctx.get("projectId"))
    if not project:
        raise not_found("Project not found")
    require_manager(store, ctx.user, project, "Project not found")
    if ctx.has("importType"):
        raise NOT_IMPLEMENTED
    position = store.place("boards", store.positioned("boards", projectId=project["id"]), ctx.get("position"))
    board = store.insert("boards", {"projectId": project["id"], "position": position, "name": ctx.get("name")})
    member = store.insert("board_memberships", {"projectId": project["id"], "boardId": board["id"],
                                                "userId": ctx.user_id, "role": "editor", "canComment": None})
    for kind in ("archive", "trash"):
        store.insert("lists", {"boardId": board["id"], "type": kind})
    return {"item": board, "included": {"boardMemberships": [member]}}


@ROUTES.add("GET", "/api/boards/{id}", {"id": REQ_ID, "subscribe": BOOL})
def show_board(ctx: Ctx) -> Any:
    """The board read: all lists, but cards only from active and closed lists; no comments."""
    store, me = ctx.store, ctx.user
    board, project = board_path(store, ctx.get("id"), "Board not found")
    require_board_reader(store, me, project, board["id"], "Board not found")
    memberships = store.where("board_memberships", boardId=board["id"])
    lists = store.positioned("lists", boardId=board["id"])
    finite_ids = {lst["id"] for lst in lists if is_finite(lst)}
    cards = store.positioned("cards", listId=finite_ids)
    included = cards_included(store, cards, me, ctx.base_url, ctx.sim.admin_email,
                              extra_groups=store.positioned("custom_field_groups", boardId=board["id"]),
                              extra_user_ids=[m["userId"] for m in memberships])
    return {
        "item": {**board, "isSubscribed": (board["id"], me["id"]) in store.board_subscriptions},
        "included": {
            "boardMemberships": memberships,
            "labels": store.positioned("labels", boardId=board["id"]),
            "lists": lists,
            "cards": with_subscription(store, cards, me["id"]),
            **{key: included[key] for key in ("cardMemberships", "cardLabels", "taskLists", "tasks",
                                              "customFieldGroups", "customFields", "customFieldValues",
                                              "users")},
            "projects": [project],
            "attachments": included["attachments"],
        },
    }


@ROUTES.add("PATCH", "/api/boards/{id}", {
    "id": REQ_ID, "position": OPT_POSITION, "name": OPT_NAME_128,
    "defaultView": Input(is_in=("kanban", "grid", "list")), "defaultCardType": Input(is_in=CARD_TYPES),
    "limitCardTypesToDefaultOne": BOOL, "alwaysDisplayCardCreator": BOOL, "displayCardAges": BOOL,
    "expandTaskListsByDefault": BOOL, "isSubscribed": BOOL})
def update_board(ctx: Ctx) -> Any:
    store, me = ctx.store, ctx.user
    board, project = board_path(store, ctx.get("id"), "Board not found")
    is_manager = is_project_manager(store, me["id"], project["id"])
    is_member = membership(store, board["id"], me["id"]) is not None
    if not is_manager and not is_member:
        raise not_found("Board not found")
    allowed = {"id"} | ({"position", "name", *_BOARD_FLAGS} if is_manager else set())
    if is_member:
        allowed.add("isSubscribed")
    # Planka throws an undefined `Errors.NOT_ENOUGH_RIGHTS` here, which ends as a 500.
    check_keys(ctx.inputs, allowed, server_error())
    values = {k: v for k, v in ctx.inputs.items() if k not in ("id", "isSubscribed")}
    if values:
        board = update_positioned(store, "boards", board, values, projectId=project["id"])
    if ctx.has("isSubscribed"):
        store.board_subscriptions.set(board["id"], me["id"], ctx.get("isSubscribed"))
    return {"item": board}


def delete_board_related(store: Store, board_id: str) -> None:
    for card in store.where("cards", boardId=board_id):
        delete_card_related(store, card["id"])
        store.delete("cards", card["id"])
    for group in store.where("custom_field_groups", boardId=board_id):
        for field in store.where("custom_fields", customFieldGroupId=group["id"]):
            store.delete("custom_fields", field["id"])
        store.delete("custom_field_groups", group["id"])
    for table in ("board_memberships", "labels", "lists"):
        for record in store.where(table, boardId=board_id):
            store.delete(table, record["id"])
    store.board_subscriptions.drop([board_id])


@ROUTES.add("DELETE", "/api/boards/{id}", {"id": REQ_ID})
def delete_board(ctx: Ctx) -> Any:
    board, project = board_path(ctx.store, ctx.get("id"), "Board not found")
    require_manager(ctx.store, ctx.user, project, "Board not found")
    delete_board_related(ctx.store, board["id"])
    return {"item": ctx.store.delete("boards", board["id"])}


# --- board memberships -----------------------------------------------------------------------------
def _can_comment(role: str, value: bool | None) -> bool | None:
    """Editors never carry ``canComment``; viewers default to ``False``."""
    if role == "editor":
        return None
    return False if value is None else value


@ROUTES.add("POST", "/api/boards/{boardId}/board-memberships", {
    "boardId": REQ_ID, "userId": REQ_ID, "role": Input(required=True, is_in=("editor", "viewer")),
    "canComment": Input("boolean", allow_null=True)})
def add_board_member(ctx: Ctx) -> Any:
    store, me = ctx.store, ctx.user
    board, project = board_path(store, ctx.get("boardId"), "Board not found")
    require_manager(store, me, project, "Board not found")
    if not is_admin_or_owner(me) and ctx.get("userId") != me["id"]:
        raise forbidden()
    user = store.get("users", ctx.get("userId"))
    if not user or user["isDeactivated"]:
        raise not_found("User not found")
    if membership(store, board["id"], user["id"]):
        raise conflict("User already board member")
    return {"item": store.insert("board_memberships", {
        "projectId": project["id"], "boardId": board["id"], "userId": user["id"], "role": ctx.get("role"),
        "canComment": _can_comment(ctx.get("role"), ctx.get("canComment"))})}


def _managed_membership(ctx: Ctx) -> dict[str, Any]:
    message = "Board membership not found"
    member = ctx.store.get("board_memberships", ctx.get("id"))
    if not member:
        raise not_found(message)
    _board, project = board_path(ctx.store, member["boardId"], message)
    if member["userId"] != ctx.user_id or ctx.method != "DELETE":
        require_manager(ctx.store, ctx.user, project, message)
    return member


@ROUTES.add("PATCH", "/api/board-memberships/{id}", {
    "id": REQ_ID, "role": Input(is_in=("editor", "viewer")), "canComment": Input("boolean", allow_null=True)})
def update_board_member(ctx: Ctx) -> Any:
    member = _managed_membership(ctx)
    role = ctx.get("role") or member["role"]
    can_comment = ctx.get("canComment") if ctx.has("canComment") else member["canComment"]
    values = {"role": role, "canComment": _can_comment(role, can_comment)}
    changed = {key: value for key, value in values.items() if member[key] != value}
    return {"item": ctx.store.update("board_memberships", member["id"], changed)}


@ROUTES.add("DELETE", "/api/board-memberships/{id}", {"id": REQ_ID})
def remove_board_member(ctx: Ctx) -> Any:
    store = ctx.store
    member = _managed_membership(ctx)
    card_ids = {card["id"] for card in store.where("cards", boardId=member["boardId"])}
    for card_membership in store.where("card_memberships", cardId=card_ids, userId=member["userId"]):
        store.delete("card_memberships", card_membership["id"])
    store.card_subscriptions.drop(card_ids, keep=lambda user: user != member["userId"])
    store.board_subscriptions.set(member["boardId"], member["userId"], False)
    task_list_ids = {t["id"] for t in store.where("task_lists", cardId=card_ids)}
    for task in store.where("tasks", taskListId=task_list_ids, assigneeUserId=member["userId"]):
        store.update("tasks", task["id"], {"assigneeUserId": None})
    return {"item": store.delete("board_memberships", member["id"])}


# --- lists -----------------------------------------------------------------------------------------
@ROUTES.add("POST", "/api/boards/{boardId}/lists", {
    "boardId": REQ_ID, "type": Input(required=True, is_in=KANBAN_TYPES), "position": POSITION,
    "name": NAME_128})
def create_list(ctx: Ctx) -> Any:
    store = ctx.store
    board, _project = board_path(store, ctx.get("boardId"), "Board not found")
    require_editor(store, ctx.user, board, "Board not found")
    siblings = store.positioned("lists", boardId=board["id"], type=KANBAN_TYPES)
    position = store.place("lists", siblings, ctx.get("position"))
    return {"item": store.insert("lists", {"boardId": board["id"], "type": ctx.get("type"),
                                           "position": position, "name": ctx.get("name")})}


@ROUTES.add("GET", "/api/lists/{id}", {"id": REQ_ID})
def show_list(ctx: Ctx) -> Any:
    store, me = ctx.store, ctx.user
    lst, board, project = list_path(store, ctx.get("id"), "List not found")
    if not is_finite(lst):
        raise not_found("List not found")
    require_board_reader(store, me, project, board["id"], "List not found")
    cards = store.positioned("cards", listId=lst["id"])
    included = cards_included(store, cards, me, ctx.base_url, ctx.sim.admin_email)
    return {"item": lst, "included": {"cards": with_subscription(store, cards, me["id"]), **included}}


def _editable_list(ctx: Ctx) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    store = ctx.store
    lst, board, project = list_path(store, ctx.get("id"), "List not found")
    member = membership(store, board["id"], ctx.user_id)
    if not member:
        raise not_found("List not found")
    if lst["type"] not in KANBAN_TYPES or member["role"] != "editor":
        raise forbidden()
    return lst, board, project


@ROUTES.add("PATCH", "/api/lists/{id}", {
    "id": REQ_ID, "boardId": ID_INPUT, "type": Input(is_in=KANBAN_TYPES), "position": OPT_POSITION,
    "name": OPT_NAME_128, "color": Input(is_in=LIST_COLORS, allow_null=True)})
def update_list(ctx: Ctx) -> Any:
    store = ctx.store
    lst, board, project = _editable_list(ctx)
    target = board
    if ctx.has("boardId"):
        target, target_project = board_path(store, ctx.get("boardId"), "Board not found")
        require_editor(store, ctx.user, target, "Board not found")
        if target_project["id"] != project["id"]:
            raise server_error()  # `boardInValuesMustBelongToProject` is not intercepted
    values = {k: v for k, v in ctx.inputs.items() if k in ("type", "position", "name", "color")}
    if target["id"] != board["id"]:
        values["boardId"] = target["id"]
        _move_list_cards(ctx, lst, board, target)
    was_closed = lst["type"] == "closed"
    lst = update_positioned(store, "lists", lst, values, boardId=target["id"], type=KANBAN_TYPES)
    if (lst["type"] == "closed") != was_closed:
        for card in store.where("cards", listId=lst["id"]):
            sync_linked_tasks(store, store.update("cards", card["id"], {"isClosed": not was_closed}))
    return {"item": lst}


def _move_list_cards(ctx: Ctx, lst: dict[str, Any], board: dict[str, Any], target: dict[str, Any]) -> None:
    for card in ctx.store.where("cards", listId=lst["id"]):
        move_card_to_board(ctx.store, card, board, target, ctx.user)
        ctx.store.update("cards", card["id"], {"boardId": target["id"]})


@ROUTES.add("DELETE", "/api/lists/{id}", {"id": REQ_ID})
def delete_list(ctx: Ctx) -> Any:
    """Deleting a list sends its cards to the board's trash list with a null position."""
    store = ctx.store
    lst, board, _project = _editable_list(ctx)
    trash = store.first("lists", boardId=board["id"], type="trash")
    moved = [store.update("cards", card["id"], {"listId": trash["id"], "position": None,
                                                "listChangedAt": now_iso()})
             for card in store.where("cards", listId=lst["id"])]
    return {"item": store.delete("lists", lst["id"]), "included": {"cards": moved}}


@ROUTES.add("POST", "/api/lists/{id}/sort", {
    "id": REQ_ID, "fieldName": Input(required=True, is_in=("name", "dueDate", "createdAt")),
    "order": Input(is_in=("asc", "desc"))})
def sort_list(ctx: Ctx) -> Any:
    """Renumbers the list's cards to ``65536 × (i + 1)`` in the requested order."""
    store = ctx.store
    lst, _board, _project = _editable_list(ctx)
    field = ctx.get("fieldName")
    cards = store.positioned("cards", listId=lst["id"])
    cards.sort(key=lambda c: (c[field] is None, str(c[field] or "").lower() if field == "name" else c[field] or ""),
               reverse=ctx.get("order") == "desc")
    updated = [store.update("cards", card["id"], {"position": 65536 * (index + 1)})
               for index, card in enumerate(cards)]
    return {"item": lst, "included": {"cards": updated}}


ROUTES.stub("POST", "/api/lists/{id}/move-cards")
ROUTES.stub("POST", "/api/lists/{id}/clear")


# --- labels ----------------------------------------------------------------------------------------
@ROUTES.add("POST", "/api/boards/{boardId}/labels", {
    "boardId": REQ_ID, "position": POSITION, "name": NULLABLE_NAME_128,
    "color": Input(required=True, is_in=LABEL_COLORS)})
def create_label(ctx: Ctx) -> Any:
    store = ctx.store
    board, _project = board_path(store, ctx.get("boardId"), "Board not found")
    require_editor(store, ctx.user, board, "Board not found")
    position = store.place("labels", store.positioned("labels", boardId=board["id"]), ctx.get("position"))
    return {"item": store.insert("labels", {"boardId": board["id"], "position": position,
                                            "name": ctx.get("name"), "color": ctx.get("color")})}


def _editable_label(ctx: Ctx) -> dict[str, Any]:
    label = ctx.store.get("labels", ctx.get("id"))
    if not label:
        raise not_found("Label not found")
    board, _project = board_path(ctx.store, label["boardId"], "Label not found")
    require_editor(ctx.store, ctx.user, board, "Label not found")
    return label


@ROUTES.add("PATCH", "/api/labels/{id}", {
    "id": REQ_ID, "position": OPT_POSITION, "name": NULLABLE_NAME_128, "color": Input(is_in=LABEL_COLORS)})
def update_label(ctx: Ctx) -> Any:
    label = _editable_label(ctx)
    values = {k: v for k, v in ctx.inputs.items() if k != "id"}
    return {"item": update_positioned(ctx.store, "labels", label, values, boardId=label["boardId"])}


@ROUTES.add("DELETE", "/api/labels/{id}", {"id": REQ_ID})
def delete_label(ctx: Ctx) -> Any:
    label = _editable_label(ctx)
    for card_label in ctx.store.where("card_labels", labelId=label["id"]):
        ctx.store.delete("card_labels", card_label["id"])
    return {"item": ctx.store.delete("labels", label["id"])}

