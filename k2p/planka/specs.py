"""Per-kind Planka routes: how each object is created, updated, and found again after a lost answer.

Finders read the parent (``GET /api/projects``, ``/api/boards/:id``, ``/api/cards/:id``, comment
pages) and match on what k2p sent, so an object whose create response never arrived is adopted
instead of duplicated.
"""

from __future__ import annotations

from typing import Any, Callable

from k2p.planka.client import PlankaClient, PlankaError
from k2p.planka.sync import Spec

Item = dict[str, Any]
COMMENT_PAGES = 40


def _item(answer: dict[str, Any]) -> Item:
    return answer["item"]


def _without_none(payload: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in payload.items() if value is not None}


def _included(client: PlankaClient, path: str, name: str) -> Callable[[], list[Item]]:
    return lambda: list(client.get(path).get("included", {}).get(name, []))


def _patch(client: PlankaClient, prefix: str) -> Callable[[str, dict[str, Any]], Item]:
    return lambda planka_id, changes: _item(client.update(f"{prefix}/{planka_id}", changes))


def _child(kind: str, client: PlankaClient, *, create_at: str, patch_prefix: str, read: str,
           included: str, match: Callable[[Item], bool]) -> Spec:
    """An ordinary object: POST under its parent, PATCH by id, found again in the parent's read."""
    return Spec(kind, create=lambda payload: _item(client.create(create_at, payload)),
                update=_patch(client, patch_prefix), find=_included(client, read, included), match=match)


def _link(kind: str, client: PlankaClient, *, create_at: str, body: dict[str, Any], read: str,
          included: str, match: Callable[[Item], bool]) -> Spec:
    """A join object (membership, card label): nothing to update, and 409 "already …" is adopted."""
    find = _included(client, read, included)

    def create(_payload: dict[str, Any]) -> Item:
        try:
            return _item(client.create(create_at, body))
        except PlankaError as error:
            if error.status != 409:
                raise
            found = next((item for item in find() if match(item)), None)
            if found is None:
                raise
            return found

    return Spec(kind, create=create, find=find, match=match)


def _named(name: str | None, **fields: Any) -> Callable[[Item], bool]:
    return lambda item: item.get("name") == name and all(item.get(k) == v for k, v in fields.items())


def project(client: PlankaClient, name: str, kind: str = "shared") -> Spec:
    return Spec("project",
                create=lambda p: _item(client.create("/api/projects", {"type": kind, **_without_none(p)})),
                update=_patch(client, "/api/projects"),
                find=lambda: list(client.get("/api/projects").get("items", [])),
                match=_named(name), recent_only=True)


def board(client: PlankaClient, project_id: str | None, name: str) -> Spec:
    return _child("board", client, create_at=f"/api/projects/{project_id}/boards", patch_prefix="/api/boards",
                  read=f"/api/projects/{project_id}", included="boards", match=_named(name, projectId=project_id))


def board_membership(client: PlankaClient, board_id: str | None, user_id: str, role: str = "editor",
                     can_comment: bool | None = None) -> Spec:
    body: dict[str, Any] = {"userId": user_id, "role": role}
    if role == "viewer":
        body["canComment"] = bool(can_comment)
    return _link("board_membership", client, create_at=f"/api/boards/{board_id}/board-memberships",
                 body=body, read=f"/api/boards/{board_id}",
                 included="boardMemberships", match=lambda item: item.get("userId") == user_id)


def project_manager(client: PlankaClient, project_id: str | None, user_id: str) -> Spec:
    return _link("project_manager", client, create_at=f"/api/projects/{project_id}/project-managers",
                 body={"userId": user_id}, read=f"/api/projects/{project_id}",
                 included="projectManagers", match=lambda item: item.get("userId") == user_id)


def label(client: PlankaClient, board_id: str | None, name: str | None, color: str) -> Spec:
    return _child("label", client, create_at=f"/api/boards/{board_id}/labels", patch_prefix="/api/labels",
                  read=f"/api/boards/{board_id}", included="labels", match=_named(name, color=color))


def kanban_list(client: PlankaClient, board_id: str | None, name: str, list_type: str) -> Spec:
    return _child("list", client, create_at=f"/api/boards/{board_id}/lists", patch_prefix="/api/lists",
                  read=f"/api/boards/{board_id}", included="lists", match=_named(name, type=list_type))


def field_group(client: PlankaClient, owner: str, owner_id: str | None, name: str) -> Spec:
    """A custom field group of a board (``owner`` "boards") or of one card ("cards")."""
    match = _named(name, **{"boardId" if owner == "boards" else "cardId": owner_id})
    return _child("custom_field_group", client, create_at=f"/api/{owner}/{owner_id}/custom-field-groups",
                  patch_prefix="/api/custom-field-groups", read=f"/api/{owner}/{owner_id}",
                  included="customFieldGroups", match=match)


def custom_field(client: PlankaClient, read: str, group_id: str | None, name: str) -> Spec:
    """A field of a group, found again in ``read`` (the board's or the card's own read)."""
    return _child("custom_field", client, create_at=f"/api/custom-field-groups/{group_id}/custom-fields",
                  patch_prefix="/api/custom-fields", read=read, included="customFields",
                  match=_named(name, customFieldGroupId=group_id))


def card(client: PlankaClient, board_id: str | None, list_id: str | None, name: str) -> Spec:
    return _child("card", client, create_at=f"/api/lists/{list_id}/cards", patch_prefix="/api/cards",
                  read=f"/api/boards/{board_id}", included="cards", match=_named(name, listId=list_id))


def card_label(client: PlankaClient, card_id: str | None, label_id: str) -> Spec:
    return _link("card_label", client, create_at=f"/api/cards/{card_id}/card-labels", body={"labelId": label_id},
                 read=f"/api/cards/{card_id}", included="cardLabels",
                 match=lambda item: item.get("labelId") == label_id)


def card_membership(client: PlankaClient, card_id: str | None, user_id: str) -> Spec:
    return _link("card_membership", client, create_at=f"/api/cards/{card_id}/card-memberships",
                 body={"userId": user_id}, read=f"/api/cards/{card_id}", included="cardMemberships",
                 match=lambda item: item.get("userId") == user_id)


def task_list(client: PlankaClient, card_id: str | None, name: str) -> Spec:
    return _child("task_list", client, create_at=f"/api/cards/{card_id}/task-lists", patch_prefix="/api/task-lists",
                  read=f"/api/cards/{card_id}", included="taskLists", match=_named(name, cardId=card_id))


def task(client: PlankaClient, card_id: str | None, task_list_id: str | None, name: str) -> Spec:
    return _child("task", client, create_at=f"/api/task-lists/{task_list_id}/tasks", patch_prefix="/api/tasks",
                  read=f"/api/cards/{card_id}", included="tasks", match=_named(name, taskListId=task_list_id))


def linked_task(client: PlankaClient, card_id: str | None, task_list_id: str | None, target_id: str | None) -> Spec:
    """A task linked to a card: Planka names it after that card; only its position can change."""
    return _child("linked_task", client, create_at=f"/api/task-lists/{task_list_id}/tasks",
                  patch_prefix="/api/tasks", read=f"/api/cards/{card_id}", included="tasks",
                  match=lambda item: item.get("taskListId") == task_list_id and item.get("linkedCardId") == target_id)


def comment(client: PlankaClient, card_id: str | None, text: str, me: str | None) -> Spec:
    def find() -> list[Item]:
        found: list[Item] = []
        before: str | None = None
        for _ in range(COMMENT_PAGES):
            page = client.get(f"/api/cards/{card_id}/comments",
                              {"beforeId": before} if before else None).get("items", [])
            found.extend(page)
            if len(page) < 50:
                break
            before = page[-1]["id"]
        return found

    return Spec("comment",
                create=lambda p: _item(client.create(f"/api/cards/{card_id}/comments", p)),
                update=_patch(client, "/api/comments"), find=find,
                match=lambda item: item.get("text") == text and (me is None or item.get("userId") == me))


def attachment(client: PlankaClient, card_id: str | None, name: str, kind: str, size: int | None,
               create: Callable[[dict[str, Any]], Item]) -> Spec:
    def match(item: Item) -> bool:
        same_size = kind != "file" or size is None or (item.get("data") or {}).get("size") == size
        return item.get("name") == name and item.get("type") == kind and same_size

    return Spec("attachment", create=create, update=_patch(client, "/api/attachments"),
                find=_included(client, f"/api/cards/{card_id}", "attachments"), match=match)


def custom_value(client: PlankaClient, card_id: str | None, group_id: str | None, field_id: str | None) -> Spec:
    path = (f"/api/cards/{card_id}/custom-field-values/"
            f"customFieldGroupId:{group_id}:customFieldId:{field_id}")
    # An upsert: repeating it is harmless, so it is sent as an idempotent (retried) PATCH.
    return Spec("custom_value", create=lambda p: _item(client.update(path, p)),
                update=lambda planka_id, changes: _item(client.update(path, changes)))
