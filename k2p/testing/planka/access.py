"""Record paths (card → list → board → project) and Planka's permission checks.

Planka hides what a caller may not see behind the parent's *not found* error, and uses
403 ``Not enough rights`` only when the caller sees the object but lacks the role.
"""

from __future__ import annotations

from typing import Any

from k2p.testing.planka.http import ApiError, forbidden, not_found
from k2p.testing.planka.store import Store

Record = dict[str, Any]
FINITE_TYPES = ("active", "closed")


def is_admin_or_owner(user: Record) -> bool:
    return user["role"] in ("admin", "projectOwner")


def is_project_manager(store: Store, user_id: str, project_id: str) -> bool:
    return store.first("project_managers", projectId=project_id, userId=user_id) is not None


def membership(store: Store, board_id: str, user_id: str) -> Record | None:
    return store.first("board_memberships", boardId=board_id, userId=user_id)


def is_finite(lst: Record) -> bool:
    return lst["type"] in FINITE_TYPES


# --- paths -----------------------------------------------------------------------------------------
def _project_child(store: Store, table: str, record_id: str, message: str) -> tuple[Record, Record]:
    record = store.get(table, record_id)
    project = record and store.get("projects", record["projectId"])
    if not record or not project:
        raise not_found(message)
    return record, project


def board_path(store: Store, board_id: str, message: str) -> tuple[Record, Record]:
    return _project_child(store, "boards", board_id, message)


def list_path(store: Store, list_id: str, message: str) -> tuple[Record, Record, Record]:
    lst = store.get("lists", list_id)
    if not lst:
        raise not_found(message)
    board, project = board_path(store, lst["boardId"], message)
    return lst, board, project


def card_path(store: Store, card_id: str, message: str = "Card not found") -> tuple[Record, Record, Record, Record]:
    card = store.get("cards", card_id)
    if not card:
        raise not_found(message)
    lst, board, project = list_path(store, card["listId"], message)
    return card, lst, board, project


def task_list_path(store: Store, task_list_id: str, message: str) -> tuple[Record, Record, Record, Record, Record]:
    task_list = store.get("task_lists", task_list_id)
    if not task_list:
        raise not_found(message)
    return (task_list, *card_path(store, task_list["cardId"], message))


def custom_field_group_path(store: Store, group_id: str, message: str) -> tuple[Record, Record | None, Record, Record]:
    """(group, card or None, board, project) of a board or card custom field group."""
    group = store.get("custom_field_groups", group_id)
    if not group:
        raise not_found(message)
    if group["boardId"]:
        board, project = board_path(store, group["boardId"], message)
        return group, None, board, project
    card, _lst, board, project = card_path(store, group["cardId"], message)
    return group, card, board, project


def base_group_path(store: Store, group_id: str, message: str) -> tuple[Record, Record]:
    return _project_child(store, "base_custom_field_groups", group_id, message)


# --- permission checks ---------------------------------------------------------------------------
def require_editor(store: Store, user: Record, board: Record, message: str) -> Record:
    """Board editor or bust: non-members get the 404 ``message``, viewers 403."""
    member = membership(store, board["id"], user["id"])
    if not member:
        raise not_found(message)
    if member["role"] != "editor":
        raise forbidden()
    return member


def require_member(store: Store, user: Record, board: Record, message: str) -> Record:
    member = membership(store, board["id"], user["id"])
    if not member:
        raise not_found(message)
    return member


def require_board_reader(store: Store, user: Record, project: Record, board_id: str, message: str) -> None:
    """Read access: admins on shared projects, project managers, or board members."""
    if user["role"] == "admin" and not project["ownerProjectManagerId"]:
        return
    if is_project_manager(store, user["id"], project["id"]):
        return
    if not membership(store, board_id, user["id"]):
        raise not_found(message)


def require_manager(store: Store, user: Record, project: Record, message: str) -> None:
    if not is_project_manager(store, user["id"], project["id"]):
        raise not_found(message)


def check_keys(provided: dict[str, Any], allowed: set[str], error: ApiError | None = None) -> None:
    """Planka's ``_.difference(Object.keys(inputs), availableInputKeys)`` guard."""
    if set(provided) - allowed:
        raise error or forbidden()
