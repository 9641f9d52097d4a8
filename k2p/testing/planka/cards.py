"""Card routes of the Planka simulator: create, move/update, reads, delete, and the card actions."""

from __future__ import annotations

import re
from typing import Any

from k2p.testing.planka.access import (board_path, card_path, check_keys, is_finite, list_path,
                                       membership, require_board_reader, require_editor)
from k2p.testing.planka.http import ROUTES, Ctx, not_found, server_error, unprocessable
from k2p.testing.planka.notifications import notify_action
from k2p.testing.planka.present import cards_included, present_users, with_subscription
from k2p.testing.planka.store import Store, iso_of, now_iso
from k2p.testing.planka.validation import (ID_INPUT, MAX_STRING_ID, REQ_ID, Input, is_due_date, is_id,
                                           is_id_in_range, is_stopwatch, parse_iso_datetime)

CARD_TYPES = ("project", "story")
PAGE_SIZE = 50
POSITION_GAP = 65536
_EDITOR_FIELDS = {"boardId", "listId", "coverAttachmentId", "type", "position", "name", "description",
                  "dueDate", "isDueCompleted", "stopwatch"}
_TYPE_STATE = {"active": "opened", "closed": "closed"}


def normalize_due_date(value: str | None) -> str | None:
    """Read-back form of a stored due date (``timestamp without time zone``, printed as UTC)."""
    if value is None:
        return None
    parsed = parse_iso_datetime(value)
    assert parsed is not None
    return iso_of(parsed)


def record_action(ctx: Ctx, card: dict[str, Any], kind: str, data: dict[str, Any]) -> None:
    """``actions.createOne`` by the caller, with the notifications it causes."""
    action = ctx.store.insert("actions", {"boardId": card["boardId"], "cardId": card["id"], "userId": ctx.user_id,
                                          "type": kind, "data": data})
    notify_action(ctx, card, action)


def list_summary(lst: dict[str, Any]) -> dict[str, Any]:
    return {"id": lst["id"], "type": lst["type"], "name": lst["name"]}


def sync_linked_tasks(store: Store, card: dict[str, Any]) -> None:
    """Tasks linked to ``card`` follow its closed state."""
    for task in store.where("tasks", linkedCardId=card["id"]):
        store.update("tasks", task["id"], {"isCompleted": card["isClosed"]})


def delete_card_related(store: Store, card_id: str) -> None:
    """``cards.deleteRelated``: memberships, labels, tasks, attachments, groups, comments, actions."""
    store.card_subscriptions.drop([card_id])
    for table in ("card_memberships", "card_labels", "attachments", "comments", "actions",
                  "custom_field_values"):
        for record in store.where(table, cardId=card_id):
            store.delete(table, record["id"])
            store.files.pop(record["id"], None)
    for task_list in store.where("task_lists", cardId=card_id):
        for task in store.where("tasks", taskListId=task_list["id"]):
            store.delete("tasks", task["id"])
        store.delete("task_lists", task_list["id"])
    for task in store.where("tasks", linkedCardId=card_id):
        store.update("tasks", task["id"], {"linkedCardId": None})
    for group in store.where("custom_field_groups", cardId=card_id):
        for field in store.where("custom_fields", customFieldGroupId=group["id"]):
            store.delete("custom_fields", field["id"])
        store.delete("custom_field_groups", group["id"])


# --- create --------------------------------------------------------------------------------------
_CARD_COMMON = {
    "type": Input(is_in=CARD_TYPES),
    "position": Input("number", min=0, allow_null=True),
    "name": Input(required=True, max_length=1024),
    "description": Input(not_empty=True, max_length=1048576, allow_null=True),
    "dueDate": Input(custom=is_due_date),
    "isDueCompleted": Input("boolean", allow_null=True),
    "stopwatch": Input("json", custom=is_stopwatch),
}


@ROUTES.add("POST", "/api/lists/{listId}/cards", {
    "listId": REQ_ID, **_CARD_COMMON, "type": _CARD_COMMON["type"].extend(required=True)})
def create(ctx: Ctx) -> Any:
    store, me = ctx.store, ctx.user
    lst, board, _project = list_path(store, ctx.get("listId"), "List not found")
    require_editor(store, me, board, "List not found")
    values = {key: ctx.get(key) for key in ("type", "name", "description", "stopwatch") if ctx.has(key)}
    if ctx.get("dueDate"):
        values["dueDate"] = normalize_due_date(ctx.get("dueDate"))
        values["isDueCompleted"] = bool(ctx.get("isDueCompleted"))
    if is_finite(lst):
        if not ctx.has("position"):
            raise unprocessable("Position must be present")
        if ctx.get("position") is None:
            raise server_error()  # the helper's `position: {required: true}` input throws
        values["position"] = store.place("cards", store.positioned("cards", listId=lst["id"]), ctx.get("position"))
    card = store.insert("cards", {**values, "boardId": board["id"], "listId": lst["id"],
                                  "creatorUserId": me["id"], "isClosed": lst["type"] == "closed",
                                  "listChangedAt": now_iso()})
    if me["subscribeToOwnCards"]:
        store.card_subscriptions.set(card["id"], me["id"])
    record_action(ctx, card, "createCard", {"card": {"name": card["name"]}, "list": list_summary(lst)})
    return {"item": card}


# --- update --------------------------------------------------------------------------------------
@ROUTES.add("PATCH", "/api/cards/{id}", {
    "id": REQ_ID,
    "boardId": ID_INPUT,
    "listId": ID_INPUT,
    "coverAttachmentId": ID_INPUT.extend(allow_null=True),
    **_CARD_COMMON,
    "name": Input(not_empty=True, max_length=1024),
    "dueDate": Input(custom=is_due_date, allow_null=True),
    "isSubscribed": Input("boolean"),
})
def update(ctx: Ctx) -> Any:
    store, me = ctx.store, ctx.user
    card, lst, board, project = card_path(store, ctx.get("id"))
    member = membership(store, board["id"], me["id"])
    if not member:
        raise not_found("Card not found")
    check_keys(ctx.inputs, {"id", "isSubscribed"} | (_EDITOR_FIELDS if member["role"] == "editor" else set()))
    next_board = None
    if ctx.has("boardId"):
        next_board, next_project = board_path(store, ctx.get("boardId"), "Board not found")
        require_editor(store, me, next_board, "Board not found")
        if next_project["id"] != project["id"]:
            raise server_error()  # `boardInValuesMustBelongToProject` is not intercepted
    next_list = None
    if ctx.has("listId"):
        next_list = store.first("lists", id=ctx.get("listId"), boardId=(next_board or board)["id"])
        if not next_list:
            raise not_found("List not found")
    cover = None
    if ctx.get("coverAttachmentId"):
        cover = store.first("attachments", id=ctx.get("coverAttachmentId"), cardId=card["id"])
        if not cover or cover["type"] != "file":
            raise not_found("Cover attachment not found")

    values = {key: ctx.get(key) for key in ("coverAttachmentId", "type", "position", "name",
                                            "description", "dueDate", "isDueCompleted", "stopwatch")
              if ctx.has(key)}
    if next_board and next_board["id"] == board["id"]:
        next_board = None
    if next_board:
        values["boardId"] = next_board["id"]
    if next_list:
        if next_list["id"] == lst["id"]:
            next_list = None
        else:
            values["listId"] = next_list["id"]
    elif next_board:
        raise unprocessable("List must be present")
    target_list = next_list or lst
    if is_finite(target_list):
        if next_list and "position" not in values:
            raise unprocessable("Position must be present")
    else:
        values["position"] = None
    if cover and not (cover["data"] or {}).get("image"):
        raise unprocessable("Cover attachment must contain image")
    if "dueDate" in values:
        values["dueDate"] = normalize_due_date(values["dueDate"])
    if values.get("dueDate", card["dueDate"]):
        if values.get("isDueCompleted", card["isDueCompleted"]) is None:
            values["isDueCompleted"] = False
    else:
        values["isDueCompleted"] = None

    if values.get("position") is not None:
        siblings = [c for c in store.positioned("cards", listId=target_list["id"]) if c["id"] != card["id"]]
        values["position"] = store.place("cards", siblings, values["position"])
    if next_board:
        move_card_to_board(store, card, board, next_board, me)
    if next_list:
        if next_board or lst["type"] == "trash":
            values["prevListId"] = None
        elif next_list["type"] in ("archive", "trash"):
            values["prevListId"] = lst["id"]
        elif lst["type"] == "archive":
            values["prevListId"] = None
        state = _TYPE_STATE.get(next_list["type"])
        if card["isClosed"] and state == "opened":
            values["isClosed"] = False
        elif not card["isClosed"] and state == "closed":
            values["isClosed"] = True
        values["listChangedAt"] = now_iso()
    card = store.update("cards", card["id"], values)
    if "isClosed" in values:
        sync_linked_tasks(store, card)
    if next_list and not next_board:
        record_action(ctx, card, "moveCard", {"card": {"name": card["name"]}, "fromList": list_summary(lst),
                                              "toList": list_summary(next_list)})
    if ctx.has("isSubscribed"):
        store.card_subscriptions.set(card["id"], me["id"], ctx.get("isSubscribed"))
    return {"item": card}


def move_card_to_board(store: Store, card: dict[str, Any], board: dict[str, Any], next_board: dict[str, Any],
                   actor: dict[str, Any]) -> None:
    """Cross-board move: drop non-members, re-map labels by name, detach board custom fields."""
    members = {m["userId"] for m in store.where("board_memberships", boardId=next_board["id"])}
    store.card_subscriptions.drop([card["id"]], keep=lambda user: user in members)
    for card_membership in store.where("card_memberships", cardId=card["id"]):
        if card_membership["userId"] not in members:
            store.delete("card_memberships", card_membership["id"])
    previous_labels = []
    for card_label in store.where("card_labels", cardId=card["id"]):
        previous_labels.append(store.get("labels", card_label["labelId"]))
        store.delete("card_labels", card_label["id"])
    task_list_ids = {t["id"] for t in store.where("task_lists", cardId=card["id"])}
    for task in store.where("tasks", taskListId=task_list_ids):
        if task["assigneeUserId"] and task["assigneeUserId"] not in members:
            store.update("tasks", task["id"], {"assigneeUserId": None})
    _detach_board_custom_fields(store, card, board)
    by_name = {label["name"]: label for label in store.where("labels", boardId=next_board["id"])}
    for label in filter(None, previous_labels):
        target = by_name.get(label["name"])
        if target is None:
            siblings = store.positioned("labels", boardId=next_board["id"])
            position = store.place("labels", siblings, label["position"])
            target = store.insert("labels", {"boardId": next_board["id"], "position": position,
                                             "name": label["name"], "color": label["color"]})
            by_name[label["name"]] = target
        if not store.first("card_labels", cardId=card["id"], labelId=target["id"]):
            store.insert("card_labels", {"cardId": card["id"], "labelId": target["id"]})


def _detach_board_custom_fields(store: Store, card: dict[str, Any], board: dict[str, Any]) -> None:
    """Copy the old board's groups (and their own fields) onto the card and re-point its values."""
    for index, group in enumerate(store.positioned("custom_field_groups", boardId=board["id"])):
        copy = store.insert("custom_field_groups", {
            "cardId": card["id"], "baseCustomFieldGroupId": group["baseCustomFieldGroupId"],
            "name": group["name"], "position": POSITION_GAP * (index + 1)})
        field_map = {}
        for field in store.positioned("custom_fields", customFieldGroupId=group["id"]):
            field_map[field["id"]] = store.insert("custom_fields", {
                "customFieldGroupId": copy["id"], "position": field["position"], "name": field["name"],
                "showOnFrontOfCard": field["showOnFrontOfCard"]})["id"]
        for value in store.where("custom_field_values", cardId=card["id"], customFieldGroupId=group["id"]):
            store.update("custom_field_values", value["id"], {
                "customFieldGroupId": copy["id"],
                "customFieldId": field_map.get(value["customFieldId"], value["customFieldId"])})


# --- reads -----------------------------------------------------------------------------------------
@ROUTES.add("GET", "/api/cards/{id}", {"id": REQ_ID})
def show(ctx: Ctx) -> Any:
    store, me = ctx.store, ctx.user
    card, _lst, board, project = card_path(store, ctx.get("id"))
    require_board_reader(store, me, project, board["id"], "Card not found")
    return {"item": with_subscription(store, [card], me["id"])[0],
            "included": cards_included(store, [card], me, ctx.base_url, ctx.sim.admin_email)}


def _is_before(value: Any) -> bool:
    return (isinstance(value, dict) and len(value) == 2 and is_due_date(value.get("listChangedAt"))
            and is_id(value.get("id")))


_IDS = Input(max_length=len(MAX_STRING_ID) * 100 + 99,
             regex=(re.compile(r"^[1-9][0-9]*(,[1-9][0-9]*)*$"), "/^[1-9][0-9]*(,[1-9][0-9]*)*$/"),
             custom=lambda value: all(is_id_in_range(part) for part in value.split(",")))


@ROUTES.add("GET", "/api/lists/{listId}/cards", {
    "listId": REQ_ID,
    "before": Input("json", custom=_is_before),
    "search": Input(not_empty=True, max_length=128),
    "userIds": _IDS,
    "labelIds": _IDS,
})
def index(ctx: Ctx) -> Any:
    """The endless-list read: 50 cards a page, ``listChangedAt DESC, id DESC``, any list type."""
    store, me = ctx.store, ctx.user
    lst, board, project = list_path(store, ctx.get("listId"), "List not found")
    require_board_reader(store, me, project, board["id"], "List not found")
    cards = _filtered(ctx, store.where("cards", listId=lst["id"]), board["id"])
    before = ctx.get("before")
    if before:
        pivot = (before["listChangedAt"], int(before["id"]))
        normalized = normalize_due_date(pivot[0])
        cards = [c for c in cards if (c["listChangedAt"], int(c["id"])) < (normalized, pivot[1])]
    cards.sort(key=lambda c: (c["listChangedAt"], int(c["id"])), reverse=True)
    cards = cards[:PAGE_SIZE]
    included = cards_included(store, cards, me, ctx.base_url, ctx.sim.admin_email)
    return {"items": with_subscription(store, cards, me["id"]), "included": included}


def _filtered(ctx: Ctx, cards: list[dict[str, Any]], board_id: str) -> list[dict[str, Any]]:
    """The ``search``/``userIds``/``labelIds`` filters (an invalid regex search finds nothing)."""
    store = ctx.store
    search = ctx.get("search")
    if search:
        if search.startswith("/"):
            try:
                pattern = re.compile(search[1:], re.IGNORECASE)
            except re.error:
                return []
            cards = [c for c in cards if pattern.search(c["name"]) or pattern.search(c["description"] or "")]
        else:
            parts = [p.lower() for p in search.split() if p]
            cards = [c for c in cards if any(all(p in (text or "").lower() for p in parts)
                                             for text in (c["name"], c["description"]))]
    if ctx.has("userIds"):
        members = {m["userId"] for m in store.where("board_memberships", boardId=board_id)}
        wanted = set(ctx.get("userIds").split(",")) & members

        def involves(card: dict[str, Any]) -> bool:
            if store.first("card_memberships", cardId=card["id"], userId=wanted):
                return True
            lists = {t["id"] for t in store.where("task_lists", cardId=card["id"])}
            return bool(store.first("tasks", taskListId=lists, assigneeUserId=wanted))
        cards = [c for c in cards if involves(c)]
    if ctx.has("labelIds"):
        labels = {label["id"] for label in store.where("labels", boardId=board_id)}
        wanted = set(ctx.get("labelIds").split(",")) & labels
        cards = [c for c in cards if store.first("card_labels", cardId=c["id"], labelId=wanted)]
    return cards


@ROUTES.add("DELETE", "/api/cards/{id}", {"id": REQ_ID})
def delete(ctx: Ctx) -> Any:
    store = ctx.store
    card, _lst, board, _project = card_path(store, ctx.get("id"))
    require_editor(store, ctx.user, board, "Card not found")
    delete_card_related(store, card["id"])
    return {"item": store.delete("cards", card["id"])}


# --- actions ---------------------------------------------------------------------------------------
def _actions_page(ctx: Ctx, **criteria: Any) -> Any:
    actions = ctx.store.where("actions", **criteria)
    if ctx.get("beforeId"):
        actions = [a for a in actions if int(a["id"]) < int(ctx.get("beforeId"))]
    actions = list(reversed(actions))[:PAGE_SIZE]
    users = present_users(ctx.store, (a["userId"] for a in actions), ctx.user, ctx.sim.admin_email)
    return {"items": actions, "included": {"users": users}}


@ROUTES.add("GET", "/api/cards/{cardId}/actions", {"cardId": REQ_ID, "beforeId": ID_INPUT})
def card_actions(ctx: Ctx) -> Any:
    card, _lst, board, project = card_path(ctx.store, ctx.get("cardId"))
    require_board_reader(ctx.store, ctx.user, project, board["id"], "Card not found")
    return _actions_page(ctx, cardId=card["id"])


@ROUTES.add("GET", "/api/boards/{boardId}/actions", {"boardId": REQ_ID, "beforeId": ID_INPUT})
def board_actions(ctx: Ctx) -> Any:
    board, project = board_path(ctx.store, ctx.get("boardId"), "Board not found")
    require_board_reader(ctx.store, ctx.user, project, board["id"], "Board not found")
    return _actions_page(ctx, boardId=board["id"])


ROUTES.stub("POST", "/api/cards/{id}/duplicate")
