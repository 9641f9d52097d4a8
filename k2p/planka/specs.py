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


def project(client: PlankaClient, name: str) -> Spec:
    return Spec("project",
                create=lambda p: _item(client.create("/api/projects", {"type": "shared", **_without_none(p)})),
                update=_patch(client, "/api/projects"),
                find=lambda: list(client.get("/api/projects").get("items", [])),
                match=lambda item: item.get("name") == name, recent_only=True)


def board(client: PlankaClient, project_id: str | None, name: str) -> Spec:
    return Spec("board",
                create=lambda p: _item(client.create(f"/api/projects/{project_id}/boards", p)),
                update=_patch(client, "/api/boards"),
                find=_included(client, f"/api/projects/{project_id}", "boards"),
                match=lambda item: item.get("name") == name and item.get("projectId") == project_id)


def _adopt_on_conflict(create: Callable[[dict[str, Any]], Item],
                       find: Callable[[], list[Item]], match: Callable[[Item], bool]) -> Callable[[dict[str, Any]], Item]:
    """A create that treats 409 "already …" as success by adopting the existing object."""
    def run(payload: dict[str, Any]) -> Item:
        try:
            return create(payload)
        except PlankaError as error:
            if error.status != 409:
                raise
            for item in find():
                if match(item):
                    return item
            raise
    return run


def board_membership(client: PlankaClient, board_id: str | None, user_id: str) -> Spec:
    find = _included(client, f"/api/boards/{board_id}", "boardMemberships")
    match = lambda item: item.get("userId") == user_id  # noqa: E731
    create = lambda p: _item(client.create(f"/api/boards/{board_id}/board-memberships",  # noqa: E731
                                           {"userId": user_id, "role": "editor"}))
    return Spec("board_membership", create=_adopt_on_conflict(create, find, match), find=find, match=match)


def label(client: PlankaClient, board_id: str | None, name: str | None, color: str) -> Spec:
    return Spec("label",
                create=lambda p: _item(client.create(f"/api/boards/{board_id}/labels", p)),
                update=_patch(client, "/api/labels"),
                find=_included(client, f"/api/boards/{board_id}", "labels"),
                match=lambda item: item.get("name") == name and item.get("color") == color)


def kanban_list(client: PlankaClient, board_id: str | None, name: str, list_type: str) -> Spec:
    return Spec("list",
                create=lambda p: _item(client.create(f"/api/boards/{board_id}/lists", p)),
                update=_patch(client, "/api/lists"),
                find=_included(client, f"/api/boards/{board_id}", "lists"),
                match=lambda item: item.get("name") == name and item.get("type") == list_type)


def field_group(client: PlankaClient, board_id: str | None, name: str) -> Spec:
    return Spec("custom_field_group",
                create=lambda p: _item(client.create(f"/api/boards/{board_id}/custom-field-groups", p)),
                update=_patch(client, "/api/custom-field-groups"),
                find=_included(client, f"/api/boards/{board_id}", "customFieldGroups"),
                match=lambda item: item.get("name") == name and item.get("boardId") == board_id)


def custom_field(client: PlankaClient, board_id: str | None, group_id: str | None, name: str) -> Spec:
    return Spec("custom_field",
                create=lambda p: _item(client.create(f"/api/custom-field-groups/{group_id}/custom-fields", p)),
                update=_patch(client, "/api/custom-fields"),
                find=_included(client, f"/api/boards/{board_id}", "customFields"),
                match=lambda item: item.get("name") == name and item.get("customFieldGroupId") == group_id)


def card(client: PlankaClient, board_id: str | None, list_id: str | None, name: str) -> Spec:
    return Spec("card",
                create=lambda p: _item(client.create(f"/api/lists/{list_id}/cards", p)),
                update=_patch(client, "/api/cards"),
                find=_included(client, f"/api/boards/{board_id}", "cards"),
                match=lambda item: item.get("name") == name and item.get("listId") == list_id)


def card_label(client: PlankaClient, card_id: str | None, label_id: str) -> Spec:
    find = _included(client, f"/api/cards/{card_id}", "cardLabels")
    match = lambda item: item.get("labelId") == label_id  # noqa: E731
    create = lambda p: _item(client.create(f"/api/cards/{card_id}/card-labels", {"labelId": label_id}))  # noqa: E731
    return Spec("card_label", create=_adopt_on_conflict(create, find, match), find=find, match=match)


def card_membership(client: PlankaClient, card_id: str | None, user_id: str) -> Spec:
    find = _included(client, f"/api/cards/{card_id}", "cardMemberships")
    match = lambda item: item.get("userId") == user_id  # noqa: E731
    create = lambda p: _item(client.create(f"/api/cards/{card_id}/card-memberships", {"userId": user_id}))  # noqa: E731
    return Spec("card_membership", create=_adopt_on_conflict(create, find, match), find=find, match=match)


def task_list(client: PlankaClient, card_id: str | None, name: str) -> Spec:
    return Spec("task_list",
                create=lambda p: _item(client.create(f"/api/cards/{card_id}/task-lists", p)),
                update=_patch(client, "/api/task-lists"),
                find=_included(client, f"/api/cards/{card_id}", "taskLists"),
                match=lambda item: item.get("name") == name and item.get("cardId") == card_id)


def task(client: PlankaClient, card_id: str | None, task_list_id: str | None, name: str) -> Spec:
    return Spec("task",
                create=lambda p: _item(client.create(f"/api/task-lists/{task_list_id}/tasks", p)),
                update=_patch(client, "/api/tasks"),
                find=_included(client, f"/api/cards/{card_id}", "tasks"),
                match=lambda item: item.get("name") == name and item.get("taskListId") == task_list_id)


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
