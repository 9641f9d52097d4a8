"""Things that live on a card in the Planka simulator: labels and members on the card, task lists,
tasks and comments."""

from __future__ import annotations

from typing import Any

from k2p.testing.planka.access import (card_path, check_keys, is_project_manager, membership,
                                       require_board_reader, require_editor, require_member,
                                       task_list_path)
from k2p.testing.planka.cards import PAGE_SIZE, record_action
from k2p.testing.planka.http import ROUTES, Ctx, conflict, forbidden, not_found, server_error
from k2p.testing.planka.notifications import notify_comment
from k2p.testing.planka.present import present_users
from k2p.testing.planka.store import Store
from k2p.testing.planka.validation import (BOOL, ID_INPUT, NAME_128, OPT_NAME_128, OPT_POSITION,
                                           POSITION, REQ_ID, Input)

_TEXT_MAX = 1048576


def _editable_card(ctx: Ctx, card_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    card, _lst, board, _project = card_path(ctx.store, card_id)
    require_editor(ctx.store, ctx.user, board, "Card not found")
    return card, board


# --- card labels -----------------------------------------------------------------------------------
@ROUTES.add("POST", "/api/cards/{cardId}/card-labels", {"cardId": REQ_ID, "labelId": REQ_ID})
def add_label(ctx: Ctx) -> Any:
    card, board = _editable_card(ctx, ctx.get("cardId"))
    label = ctx.store.first("labels", id=ctx.get("labelId"), boardId=board["id"])
    if not label:
        raise not_found("Label not found")
    if ctx.store.first("card_labels", cardId=card["id"], labelId=label["id"]):
        raise conflict("Label already in card")
    return {"item": ctx.store.insert("card_labels", {"cardId": card["id"], "labelId": label["id"]})}


@ROUTES.add("DELETE", "/api/cards/{cardId}/card-labels/labelId:{labelId}", {"cardId": REQ_ID, "labelId": REQ_ID})
def remove_label(ctx: Ctx) -> Any:
    card, _board = _editable_card(ctx, ctx.get("cardId"))
    card_label = ctx.store.first("card_labels", cardId=card["id"], labelId=ctx.get("labelId"))
    if not card_label:
        raise not_found("Label not in card")
    return {"item": ctx.store.delete("card_labels", card_label["id"])}


# --- card memberships ------------------------------------------------------------------------------
def _member_data(user: dict[str, Any], card: dict[str, Any]) -> dict[str, Any]:
    return {"user": {"id": user["id"], "name": user["name"]}, "card": {"name": card["name"]}}


@ROUTES.add("POST", "/api/cards/{cardId}/card-memberships", {"cardId": REQ_ID, "userId": REQ_ID})
def add_member(ctx: Ctx) -> Any:
    store = ctx.store
    card, board = _editable_card(ctx, ctx.get("cardId"))
    user = store.get("users", ctx.get("userId"))
    if not user or not membership(store, board["id"], user["id"]):
        raise not_found("User not found")
    if store.first("card_memberships", cardId=card["id"], userId=user["id"]):
        raise conflict("User already card member")
    item = store.insert("card_memberships", {"cardId": card["id"], "userId": user["id"]})
    store.card_subscriptions.set(card["id"], user["id"], permanent=False)
    record_action(ctx, card, "addMemberToCard", _member_data(user, card))
    return {"item": item}


@ROUTES.add("DELETE", "/api/cards/{cardId}/card-memberships/userId:{userId}", {"cardId": REQ_ID, "userId": REQ_ID})
def remove_member(ctx: Ctx) -> Any:
    store = ctx.store
    card, _board = _editable_card(ctx, ctx.get("cardId"))
    card_membership = store.first("card_memberships", cardId=card["id"], userId=ctx.get("userId"))
    if not card_membership:
        raise not_found("User not card member")
    deleted = store.delete("card_memberships", card_membership["id"])
    if store.card_subscriptions.is_permanent(card["id"], card_membership["userId"]) is False:
        store.card_subscriptions.set(card["id"], card_membership["userId"], False)
    user = store.get("users", card_membership["userId"]) or {"id": card_membership["userId"], "name": None}
    record_action(ctx, card, "removeMemberFromCard", _member_data(user, card))
    return {"item": deleted}


# --- task lists ------------------------------------------------------------------------------------
@ROUTES.add("POST", "/api/cards/{cardId}/task-lists", {
    "cardId": REQ_ID, "position": POSITION, "name": NAME_128,
    "showOnFrontOfCard": BOOL, "hideCompletedTasks": BOOL})
def create_task_list(ctx: Ctx) -> Any:
    store = ctx.store
    card, _board = _editable_card(ctx, ctx.get("cardId"))
    position = store.place("task_lists", store.positioned("task_lists", cardId=card["id"]), ctx.get("position"))
    values = {key: ctx.get(key) for key in ("name", "showOnFrontOfCard", "hideCompletedTasks") if ctx.has(key)}
    return {"item": store.insert("task_lists", {**values, "cardId": card["id"], "position": position})}


def _task_list(ctx: Ctx, editable: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    message = "Task list not found"
    task_list, card, _lst, board, project = task_list_path(ctx.store, ctx.get("id"), message)
    if editable:
        require_editor(ctx.store, ctx.user, board, message)
    else:
        require_board_reader(ctx.store, ctx.user, project, board["id"], message)
    return task_list, card


@ROUTES.add("GET", "/api/task-lists/{id}", {"id": REQ_ID})
def show_task_list(ctx: Ctx) -> Any:
    task_list, _card = _task_list(ctx, editable=False)
    return {"item": task_list, "included": {"tasks": ctx.store.positioned("tasks", taskListId=task_list["id"])}}


def update_positioned(store: Store, table: str, record: dict[str, Any], values: dict[str, Any],
                      **siblings_of: Any) -> dict[str, Any]:
    """Apply ``values``; a new ``position`` is normalised among the siblings (record excluded)."""
    if values.get("position") is not None:
        siblings = [s for s in store.positioned(table, **siblings_of) if s["id"] != record["id"]]
        values["position"] = store.place(table, siblings, values["position"])
    return store.update(table, record["id"], values)


@ROUTES.add("PATCH", "/api/task-lists/{id}", {
    "id": REQ_ID, "position": OPT_POSITION, "name": OPT_NAME_128,
    "showOnFrontOfCard": BOOL, "hideCompletedTasks": BOOL})
def update_task_list(ctx: Ctx) -> Any:
    task_list, card = _task_list(ctx, editable=True)
    values = {k: v for k, v in ctx.inputs.items() if k != "id"}
    return {"item": update_positioned(ctx.store, "task_lists", task_list, values, cardId=card["id"])}


@ROUTES.add("DELETE", "/api/task-lists/{id}", {"id": REQ_ID})
def delete_task_list(ctx: Ctx) -> Any:
    task_list, _card = _task_list(ctx, editable=True)
    for task in ctx.store.where("tasks", taskListId=task_list["id"]):
        ctx.store.delete("tasks", task["id"])
    return {"item": ctx.store.delete("task_lists", task_list["id"])}


# --- tasks -----------------------------------------------------------------------------------------
@ROUTES.add("POST", "/api/task-lists/{taskListId}/tasks", {
    "taskListId": REQ_ID, "linkedCardId": ID_INPUT, "position": POSITION,
    "name": Input(not_empty=True, max_length=1024, allow_null=True), "isCompleted": BOOL})
def create_task(ctx: Ctx) -> Any:
    store, me = ctx.store, ctx.user
    message = "Task list not found"
    task_list, _card, _lst, board, _project = task_list_path(store, ctx.get("taskListId"), message)
    require_editor(store, me, board, message)
    linked = None
    if ctx.has("linkedCardId"):
        linked, _l, linked_board, linked_project = card_path(store, ctx.get("linkedCardId"), "Linked card not found")
        require_board_reader(store, me, linked_project, linked_board["id"], "Linked card not found")
    if not linked and not ctx.get("name"):
        # Planka 2.1.1's tasks/create-one helper declares this exit under a misspelt key
        # (`exists:`), so its `throw 'linkedCardOrNameMustBeInValues'` escapes the controller's
        # intercept: a plain-text 500, not the documented 422.
        raise server_error()
    values = {key: ctx.get(key) for key in ("name", "isCompleted") if ctx.has(key)}
    if linked:
        values.update({"linkedCardId": linked["id"], "name": linked["name"]})
        if linked["isClosed"]:
            values["isCompleted"] = True
    position = store.place("tasks", store.positioned("tasks", taskListId=task_list["id"]), ctx.get("position"))
    return {"item": store.insert("tasks", {**values, "taskListId": task_list["id"], "position": position})}


@ROUTES.add("PATCH", "/api/tasks/{id}", {
    "id": REQ_ID, "taskListId": ID_INPUT, "assigneeUserId": ID_INPUT.extend(allow_null=True),
    "position": OPT_POSITION, "name": Input(not_empty=True, max_length=1024), "isCompleted": BOOL})
def update_task(ctx: Ctx) -> Any:
    store = ctx.store
    task = store.get("tasks", ctx.get("id"))
    if not task:
        raise not_found("Task not found")
    _task_list_record, card, _lst, board, _project = task_list_path(store, task["taskListId"], "Task not found")
    require_editor(store, ctx.user, board, "Task not found")
    if task["linkedCardId"]:
        check_keys(ctx.inputs, {"id", "taskListId", "position"})
    target_list_id = task["taskListId"]
    if ctx.has("taskListId"):
        target = store.first("task_lists", id=ctx.get("taskListId"), cardId=card["id"])
        if not target:
            raise not_found("Task list not found")
        target_list_id = target["id"]
    if ctx.get("assigneeUserId") and not membership(store, board["id"], ctx.get("assigneeUserId")):
        raise not_found("User not found")
    values = {k: v for k, v in ctx.inputs.items() if k != "id"}
    was_completed = task["isCompleted"]
    task = update_positioned(store, "tasks", task, values, taskListId=target_list_id)
    if task["isCompleted"] != was_completed:
        record_action(ctx, card, "completeTask" if task["isCompleted"] else "uncompleteTask",
                      {"card": {"name": card["name"]}, "task": {"id": task["id"], "name": task["name"]}})
    return {"item": task}


@ROUTES.add("DELETE", "/api/tasks/{id}", {"id": REQ_ID})
def delete_task(ctx: Ctx) -> Any:
    task = ctx.store.get("tasks", ctx.get("id"))
    if not task:
        raise not_found("Task not found")
    _task_list_record, _card, _lst, board, _project = task_list_path(ctx.store, task["taskListId"], "Task not found")
    require_editor(ctx.store, ctx.user, board, "Task not found")
    return {"item": ctx.store.delete("tasks", task["id"])}


# --- comments --------------------------------------------------------------------------------------
def _require_commenter(member: dict[str, Any]) -> None:
    if member["role"] != "editor" and not member["canComment"]:
        raise forbidden()


def _bump_comments(store: Store, card_id: str, delta: int) -> None:
    card = store.get("cards", card_id)
    if card:
        store.update("cards", card_id, {"commentsTotal": card["commentsTotal"] + delta})


@ROUTES.add("POST", "/api/cards/{cardId}/comments", {
    "cardId": REQ_ID, "text": Input(required=True, max_length=_TEXT_MAX)})
def create_comment(ctx: Ctx) -> Any:
    store, me = ctx.store, ctx.user
    card, _lst, board, _project = card_path(store, ctx.get("cardId"))
    _require_commenter(require_member(store, me, board, "Card not found"))
    comment = store.insert("comments", {"cardId": card["id"], "userId": me["id"], "text": ctx.get("text")})
    _bump_comments(store, card["id"], 1)
    notify_comment(ctx, card, comment)
    if me["subscribeToCardWhenCommenting"]:
        store.card_subscriptions.set(card["id"], me["id"])
    return {"item": comment}


@ROUTES.add("GET", "/api/cards/{cardId}/comments", {"cardId": REQ_ID, "beforeId": ID_INPUT})
def list_comments(ctx: Ctx) -> Any:
    """50 comments a page, newest first; ``beforeId`` pages back."""
    store = ctx.store
    card, _lst, board, project = card_path(store, ctx.get("cardId"))
    require_board_reader(store, ctx.user, project, board["id"], "Card not found")
    comments = store.where("comments", cardId=card["id"])
    if ctx.get("beforeId"):
        comments = [c for c in comments if int(c["id"]) < int(ctx.get("beforeId"))]
    comments = list(reversed(comments))[:PAGE_SIZE]
    users = present_users(store, (c["userId"] for c in comments), ctx.user, ctx.sim.admin_email)
    return {"items": comments, "included": {"users": users}}


def _comment(ctx: Ctx) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    comment = ctx.store.get("comments", ctx.get("id"))
    if not comment:
        raise not_found("Comment not found")
    _card, _lst, board, project = card_path(ctx.store, comment["cardId"], "Comment not found")
    return comment, board, project


@ROUTES.add("PATCH", "/api/comments/{id}", {
    "id": REQ_ID, "text": Input(not_empty=True, max_length=_TEXT_MAX)})
def update_comment(ctx: Ctx) -> Any:
    comment, board, _project = _comment(ctx)
    if comment["userId"] != ctx.user_id:
        raise not_found("Comment not found")
    _require_commenter(require_member(ctx.store, ctx.user, board, "Comment not found"))
    values = {"text": ctx.get("text")} if ctx.has("text") else {}
    return {"item": ctx.store.update("comments", comment["id"], values)}


@ROUTES.add("DELETE", "/api/comments/{id}", {"id": REQ_ID})
def delete_comment(ctx: Ctx) -> Any:
    store = ctx.store
    comment, board, project = _comment(ctx)
    if not is_project_manager(store, ctx.user_id, project["id"]):
        if comment["userId"] != ctx.user_id:
            raise forbidden()
        _require_commenter(require_member(store, ctx.user, board, "Comment not found"))
    deleted = store.delete("comments", comment["id"])
    _bump_comments(store, comment["cardId"], -1)
    return {"item": deleted}
