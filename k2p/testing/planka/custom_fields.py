"""Custom field routes of the Planka simulator: board/card groups, fields, and per-card values.

A group adopted from a project's base group has no fields of its own: its fields are the base
group's. Values are upserted on ``(card, group, field)`` through a path whose last segment is
literally ``customFieldGroupId:<id>:customFieldId:<id>``.
"""

from __future__ import annotations

from typing import Any

from k2p.testing.planka.access import (base_group_path, board_path, card_path, custom_field_group_path,
                                       require_board_reader, require_editor, require_manager)
from k2p.testing.planka.card_content import update_positioned
from k2p.testing.planka.http import ROUTES, Ctx, not_found, unprocessable
from k2p.testing.planka.store import Store
from k2p.testing.planka.validation import (BOOL, ID_INPUT, NAME_128, NULLABLE_NAME_128, OPT_NAME_128,
                                           OPT_POSITION, POSITION, REQ_ID, Input)

_GROUP_INPUTS = {"baseCustomFieldGroupId": ID_INPUT, "position": POSITION, "name": NULLABLE_NAME_128}
_FIELD_INPUTS = {"position": POSITION, "name": NAME_128, "showOnFrontOfCard": BOOL}
_GROUP_NOT_FOUND = "Custom field group not found"


def _create_group(ctx: Ctx, project: dict[str, Any], owner: dict[str, str]) -> Any:
    store = ctx.store
    base = None
    if ctx.get("baseCustomFieldGroupId"):
        base = store.first("base_custom_field_groups", id=ctx.get("baseCustomFieldGroupId"), projectId=project["id"])
        if not base:
            raise not_found("Base custom field group not found")
    elif not ctx.get("name"):
        raise unprocessable("Base custom field group or name must be present")
    position = store.place("custom_field_groups", store.positioned("custom_field_groups", **owner),
                           ctx.get("position"))
    return {"item": store.insert("custom_field_groups", {
        **owner, "baseCustomFieldGroupId": base and base["id"], "position": position, "name": ctx.get("name")})}


@ROUTES.add("POST", "/api/boards/{boardId}/custom-field-groups", {"boardId": REQ_ID, **_GROUP_INPUTS})
def create_board_group(ctx: Ctx) -> Any:
    board, project = board_path(ctx.store, ctx.get("boardId"), "Board not found")
    require_editor(ctx.store, ctx.user, board, "Board not found")
    return _create_group(ctx, project, {"boardId": board["id"]})


@ROUTES.add("POST", "/api/cards/{cardId}/custom-field-groups", {"cardId": REQ_ID, **_GROUP_INPUTS})
def create_card_group(ctx: Ctx) -> Any:
    card, _lst, board, project = card_path(ctx.store, ctx.get("cardId"))
    require_editor(ctx.store, ctx.user, board, "Card not found")
    return _create_group(ctx, project, {"cardId": card["id"]})


@ROUTES.add("GET", "/api/custom-field-groups/{id}", {"id": REQ_ID})
def show_group(ctx: Ctx) -> Any:
    store = ctx.store
    group, _card, board, project = custom_field_group_path(store, ctx.get("id"), _GROUP_NOT_FOUND)
    require_board_reader(store, ctx.user, project, board["id"], _GROUP_NOT_FOUND)
    values = store.where("custom_field_values", customFieldGroupId=group["id"]) if group["cardId"] else []
    return {"item": group, "included": {
        "customFields": store.positioned("custom_fields", customFieldGroupId=group["id"]),
        "customFieldValues": values}}


def _editable_group(ctx: Ctx, key: str = "id") -> dict[str, Any]:
    group, _card, board, _project = custom_field_group_path(ctx.store, ctx.get(key), _GROUP_NOT_FOUND)
    require_editor(ctx.store, ctx.user, board, _GROUP_NOT_FOUND)
    return group


@ROUTES.add("PATCH", "/api/custom-field-groups/{id}", {
    "id": REQ_ID, "position": OPT_POSITION, "name": NULLABLE_NAME_128})
def update_group(ctx: Ctx) -> Any:
    group = _editable_group(ctx)
    if ctx.has("name") and ctx.get("name") is None and not group["baseCustomFieldGroupId"]:
        raise unprocessable("Name must not be null")
    values = {k: v for k, v in ctx.inputs.items() if k != "id"}
    owner = {"boardId": group["boardId"]} if group["boardId"] else {"cardId": group["cardId"]}
    return {"item": update_positioned(ctx.store, "custom_field_groups", group, values, **owner)}


def _delete_field(store: Store, field_id: str) -> dict[str, Any] | None:
    for value in store.where("custom_field_values", customFieldId=field_id):
        store.delete("custom_field_values", value["id"])
    return store.delete("custom_fields", field_id)


@ROUTES.add("DELETE", "/api/custom-field-groups/{id}", {"id": REQ_ID})
def delete_group(ctx: Ctx) -> Any:
    store = ctx.store
    group = _editable_group(ctx)
    for field in store.where("custom_fields", customFieldGroupId=group["id"]):
        _delete_field(store, field["id"])
    for value in store.where("custom_field_values", customFieldGroupId=group["id"]):
        store.delete("custom_field_values", value["id"])
    return {"item": store.delete("custom_field_groups", group["id"])}


# --- fields ----------------------------------------------------------------------------------------
def _create_field(ctx: Ctx, owner: dict[str, str]) -> Any:
    store = ctx.store
    position = store.place("custom_fields", store.positioned("custom_fields", **owner), ctx.get("position"))
    values = {"name": ctx.get("name")}
    if ctx.has("showOnFrontOfCard"):
        values["showOnFrontOfCard"] = ctx.get("showOnFrontOfCard")
    return {"item": store.insert("custom_fields", {**owner, **values, "position": position})}


@ROUTES.add("POST", "/api/base-custom-field-groups/{baseCustomFieldGroupId}/custom-fields",
            {"baseCustomFieldGroupId": REQ_ID, **_FIELD_INPUTS})
def create_base_field(ctx: Ctx) -> Any:
    message = "Base custom field group not found"
    group, project = base_group_path(ctx.store, ctx.get("baseCustomFieldGroupId"), message)
    require_manager(ctx.store, ctx.user, project, message)
    return _create_field(ctx, {"baseCustomFieldGroupId": group["id"]})


@ROUTES.add("POST", "/api/custom-field-groups/{customFieldGroupId}/custom-fields",
            {"customFieldGroupId": REQ_ID, **_FIELD_INPUTS})
def create_group_field(ctx: Ctx) -> Any:
    group = _editable_group(ctx, "customFieldGroupId")
    return _create_field(ctx, {"customFieldGroupId": group["id"]})


def _editable_field(ctx: Ctx) -> tuple[dict[str, Any], dict[str, str]]:
    store, message = ctx.store, "Custom field not found"
    field = store.get("custom_fields", ctx.get("id"))
    if not field:
        raise not_found(message)
    if field["baseCustomFieldGroupId"]:
        _group, project = base_group_path(store, field["baseCustomFieldGroupId"], message)
        require_manager(store, ctx.user, project, message)
        return field, {"baseCustomFieldGroupId": field["baseCustomFieldGroupId"]}
    _group, _card, board, _project = custom_field_group_path(store, field["customFieldGroupId"], message)
    require_editor(store, ctx.user, board, message)
    return field, {"customFieldGroupId": field["customFieldGroupId"]}


@ROUTES.add("PATCH", "/api/custom-fields/{id}", {
    "id": REQ_ID, "position": OPT_POSITION, "name": OPT_NAME_128, "showOnFrontOfCard": BOOL})
def update_field(ctx: Ctx) -> Any:
    field, owner = _editable_field(ctx)
    values = {k: v for k, v in ctx.inputs.items() if k != "id"}
    return {"item": update_positioned(ctx.store, "custom_fields", field, values, **owner)}


@ROUTES.add("DELETE", "/api/custom-fields/{id}", {"id": REQ_ID})
def delete_field(ctx: Ctx) -> Any:
    field, _owner = _editable_field(ctx)
    return {"item": _delete_field(ctx.store, field["id"])}


# --- values ----------------------------------------------------------------------------------------
_VALUE_PATH = "/api/cards/{cardId}/custom-field-values/customFieldGroupId:{customFieldGroupId}:customFieldId:{customFieldId}"
_VALUE_KEYS = {"cardId": REQ_ID, "customFieldGroupId": REQ_ID, "customFieldId": REQ_ID}


def _value_target(ctx: Ctx) -> tuple[dict[str, Any], dict[str, Any]]:
    store = ctx.store
    card, _lst, board, _project = card_path(store, ctx.get("cardId"))
    require_editor(store, ctx.user, board, "Card not found")
    group = store.get("custom_field_groups", ctx.get("customFieldGroupId"))
    if not group or (group["boardId"] and group["boardId"] != board["id"]) \
            or (group["cardId"] and group["cardId"] != card["id"]):
        raise not_found(_GROUP_NOT_FOUND)
    return card, group


@ROUTES.add("PATCH", _VALUE_PATH, {**_VALUE_KEYS, "content": Input(required=True, max_length=512)})
def upsert_value(ctx: Ctx) -> Any:
    store = ctx.store
    card, group = _value_target(ctx)
    field = store.get("custom_fields", ctx.get("customFieldId"))
    owner_ok = field and (field["baseCustomFieldGroupId"] == group["baseCustomFieldGroupId"]
                          if group["baseCustomFieldGroupId"] else field["customFieldGroupId"] == group["id"])
    if not owner_ok:
        raise not_found("Custom field not found")
    existing = store.first("custom_field_values", cardId=card["id"], customFieldGroupId=group["id"],
                           customFieldId=field["id"])
    if existing:
        return {"item": store.update("custom_field_values", existing["id"], {"content": ctx.get("content")})}
    return {"item": store.insert("custom_field_values", {
        "cardId": card["id"], "customFieldGroupId": group["id"], "customFieldId": field["id"],
        "content": ctx.get("content")})}


@ROUTES.add("DELETE", _VALUE_PATH, _VALUE_KEYS)
def delete_value(ctx: Ctx) -> Any:
    store = ctx.store
    card, _lst, board, _project = card_path(store, ctx.get("cardId"))
    require_editor(store, ctx.user, board, "Card not found")
    group = store.get("custom_field_groups", ctx.get("customFieldGroupId"))
    if not group:
        raise not_found(_GROUP_NOT_FOUND)
    value = store.first("custom_field_values", cardId=card["id"], customFieldGroupId=group["id"],
                        customFieldId=ctx.get("customFieldId"))
    if not value:
        raise not_found("Custom field value not found")
    return {"item": store.delete("custom_field_values", value["id"])}
