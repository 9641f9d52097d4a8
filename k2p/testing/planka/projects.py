"""Project, project-manager and base custom field group routes of the Planka simulator."""

from __future__ import annotations

from typing import Any

from k2p.testing.planka.access import (base_group_path, check_keys, is_admin_or_owner,
                                       is_project_manager, require_manager)
from k2p.testing.planka.http import ROUTES, Ctx, conflict, forbidden, not_found, unprocessable
from k2p.testing.planka.present import present_users
from k2p.testing.planka.store import Store, position_key
from k2p.testing.planka.validation import (ID_INPUT, NAME_128, OPT_NAME_128, REQ_ID, Input)

BACKGROUND_GRADIENTS = (
    "old-lime", "ocean-dive", "tzepesch-style", "jungle-mesh", "strawberry-dust", "purple-rose",
    "sun-scream", "warm-rust", "sky-change", "green-eyes", "blue-xchange", "blood-orange",
    "sour-peel", "green-ninja", "algae-green", "coral-reef", "steel-grey", "heat-waves",
    "velvet-lounge", "purple-rain", "blue-steel", "blueish-curve", "prism-light", "green-mist",
    "red-curtain",
)
_DESCRIPTION = Input(not_empty=True, max_length=1024, allow_null=True)


def _with_favorite(store: Store, project: dict[str, Any], user_id: str) -> dict[str, Any]:
    return {**project, "isFavorite": (project["id"], user_id) in store.project_favorites}


def _projects_included(ctx: Ctx, project_ids: list[str], boards: list[dict[str, Any]],
                       memberships: list[dict[str, Any]]) -> dict[str, Any]:
    store = ctx.store
    managers = store.where("project_managers", projectId=set(project_ids))
    base_groups = store.where("base_custom_field_groups", projectId=set(project_ids))
    fields = sorted(store.where("custom_fields", baseCustomFieldGroupId={g["id"] for g in base_groups}),
                    key=position_key)
    return {
        "projectManagers": managers,
        "baseCustomFieldGroups": base_groups,
        "boards": boards,
        "boardMemberships": memberships,
        "customFields": fields,
        "notificationServices": [],
        "users": present_users(store, (m["userId"] for m in managers), ctx.user, ctx.sim.admin_email),
        "backgroundImages": [],
    }


@ROUTES.add("GET", "/api/projects")
def index(ctx: Ctx) -> Any:
    store, me = ctx.store, ctx.user
    manager_ids = [pm["projectId"] for pm in store.where("project_managers", userId=me["id"])]
    fully_visible = list(manager_ids)
    shared: list[dict[str, Any]] = []
    if me["role"] == "admin":
        shared = [p for p in store.where("projects", ownerProjectManagerId=None) if p["id"] not in manager_ids]
        fully_visible += [p["id"] for p in shared]
    memberships = store.where("board_memberships", userId=me["id"])
    membership_boards = [b for b in store.where("boards", id={m["boardId"] for m in memberships})
                         if b["projectId"] not in fully_visible]
    membership_project_ids = list(dict.fromkeys(b["projectId"] for b in membership_boards))
    projects = store.where("projects", id=set(manager_ids) | set(membership_project_ids)) + shared
    boards = sorted(store.where("boards", projectId=set(fully_visible)), key=position_key) + membership_boards
    project_ids = [p["id"] for p in projects]
    return {"items": [_with_favorite(store, p, me["id"]) for p in projects],
            "included": _projects_included(ctx, project_ids, boards, memberships)}


@ROUTES.add("POST", "/api/projects", {
    "type": Input(required=True, is_in=("private", "shared")),
    "name": NAME_128,
    "description": _DESCRIPTION,
}, access="admin_or_owner")
def create(ctx: Ctx) -> Any:
    store = ctx.store
    project = store.insert("projects", {"name": ctx.get("name"), "description": ctx.get("description")})
    manager = store.insert("project_managers", {"projectId": project["id"], "userId": ctx.user_id})
    if ctx.get("type") == "private":
        project = store.update("projects", project["id"], {"ownerProjectManagerId": manager["id"]})
    return {"item": project, "included": {"projectManagers": [manager]}}


def _project(ctx: Ctx, project_id: str) -> dict[str, Any]:
    project = ctx.store.get("projects", project_id)
    if not project:
        raise not_found("Project not found")
    return project


@ROUTES.add("GET", "/api/projects/{id}", {"id": REQ_ID})
def show(ctx: Ctx) -> Any:
    store, me = ctx.store, ctx.user
    project = _project(ctx, ctx.get("id"))
    is_manager = is_project_manager(store, me["id"], project["id"])
    memberships = store.where("board_memberships", projectId=project["id"], userId=me["id"])
    boards = None
    if (me["role"] != "admin" or project["ownerProjectManagerId"]) and not is_manager:
        if not memberships:
            raise not_found("Project not found")
        boards = store.where("boards", id={m["boardId"] for m in memberships})
    if boards is None:
        boards = store.positioned("boards", projectId=project["id"])
    return {"item": _with_favorite(store, project, me["id"]),
            "included": _projects_included(ctx, [project["id"]], boards, memberships)}


@ROUTES.add("PATCH", "/api/projects/{id}", {
    "id": REQ_ID,
    "ownerProjectManagerId": ID_INPUT.extend(allow_null=True),
    "backgroundImageId": ID_INPUT.extend(allow_null=True),
    "name": OPT_NAME_128,
    "description": _DESCRIPTION,
    "backgroundType": Input(is_in=("gradient", "image"), allow_null=True),
    "backgroundGradient": Input(is_in=BACKGROUND_GRADIENTS, allow_null=True),
    "isHidden": Input("boolean"),
    "isFavorite": Input("boolean"),
})
def update(ctx: Ctx) -> Any:
    store, me = ctx.store, ctx.user
    project = _project(ctx, ctx.get("id"))
    manager = store.first("project_managers", projectId=project["id"], userId=me["id"])
    allowed = {"id", "isFavorite"}
    if project["ownerProjectManagerId"]:
        if manager:
            if ctx.get("ownerProjectManagerId") is not None:
                raise forbidden()
            allowed |= {"ownerProjectManagerId", "isHidden"}
    elif me["role"] == "admin":
        allowed |= {"ownerProjectManagerId", "isHidden"}
    elif manager:
        allowed.add("isHidden")
    if manager:
        allowed |= {"backgroundImageId", "name", "description", "backgroundType", "backgroundGradient"}
    check_keys(ctx.inputs, allowed)
    values = {k: v for k, v in ctx.inputs.items() if k not in ("id", "isFavorite", "ownerProjectManagerId")}
    owner_id = ctx.get("ownerProjectManagerId")
    if owner_id:
        owner = store.first("project_managers", id=owner_id, projectId=project["id"])
        if not owner:
            raise not_found("Owner project manager not found")
        if project["ownerProjectManagerId"]:
            if owner_id != project["ownerProjectManagerId"]:
                raise conflict("Project already has owner project manager")
        elif len(store.where("project_managers", projectId=project["id"])) > 1:
            raise unprocessable("Owner project manager must be last manager")
        else:
            values["ownerProjectManagerId"] = owner_id
    elif ctx.has("ownerProjectManagerId"):
        values["ownerProjectManagerId"] = None
    if ctx.get("backgroundImageId"):
        raise not_found("Background image not found")
    background = values.get("backgroundType", project["backgroundType"])
    if background is None:
        values.update({"backgroundImageId": None, "backgroundGradient": None})
    elif background == "gradient":
        if not values.get("backgroundGradient", project["backgroundGradient"]):
            raise unprocessable("Background gradient must be present")
        values["backgroundImageId"] = None
    else:
        raise unprocessable("Background image must be present")
    if ctx.has("isFavorite"):
        if (me["role"] != "admin" or project["ownerProjectManagerId"]) and not manager \
                and not store.where("board_memberships", projectId=project["id"], userId=me["id"]):
            raise not_found("Project not found")
        favorite = (project["id"], me["id"])
        (store.project_favorites.add if ctx.get("isFavorite") else store.project_favorites.discard)(favorite)
    project = store.update("projects", project["id"], values)
    return {"item": _with_favorite(store, project, me["id"])}


@ROUTES.add("DELETE", "/api/projects/{id}", {"id": REQ_ID})
def delete(ctx: Ctx) -> Any:
    store = ctx.store
    project = _project(ctx, ctx.get("id"))
    require_manager(store, ctx.user, project, "Project not found")
    if store.where("boards", projectId=project["id"]):
        raise unprocessable("Must not have boards")
    for manager in store.where("project_managers", projectId=project["id"]):
        store.delete("project_managers", manager["id"])
    for group in store.where("base_custom_field_groups", projectId=project["id"]):
        _delete_base_group(store, group)
    store.project_favorites = {f for f in store.project_favorites if f[0] != project["id"]}
    return {"item": store.delete("projects", project["id"])}


# --- project managers --------------------------------------------------------------------------
@ROUTES.add("POST", "/api/projects/{projectId}/project-managers", {"projectId": REQ_ID, "userId": REQ_ID})
def add_manager(ctx: Ctx) -> Any:
    store, me = ctx.store, ctx.user
    project = _project(ctx, ctx.get("projectId"))
    if me["role"] != "admin":
        require_manager(store, me, project, "Project not found")
    if project["ownerProjectManagerId"]:
        raise forbidden()
    user = store.get("users", ctx.get("userId"))
    if not user or user["isDeactivated"]:
        raise not_found("User not found")
    if not is_admin_or_owner(user):
        raise unprocessable("User must be admin or project owner")
    if is_project_manager(store, user["id"], project["id"]):
        raise conflict("User already project manager")
    return {"item": store.insert("project_managers", {"projectId": project["id"], "userId": user["id"]})}


@ROUTES.add("DELETE", "/api/project-managers/{id}", {"id": REQ_ID})
def remove_manager(ctx: Ctx) -> Any:
    store, me = ctx.store, ctx.user
    manager = store.get("project_managers", ctx.get("id"))
    project = manager and store.get("projects", manager["projectId"])
    if not manager or not project:
        raise not_found("Project manager not found")
    if me["role"] != "admin":
        require_manager(store, me, project, "Project manager not found")
    if project["ownerProjectManagerId"]:
        raise forbidden()
    if len(store.where("project_managers", projectId=project["id"])) <= 1:
        raise unprocessable("Must not be last")
    return {"item": store.delete("project_managers", manager["id"])}


# --- base custom field groups --------------------------------------------------------------------
@ROUTES.add("POST", "/api/projects/{projectId}/base-custom-field-groups",
            {"projectId": REQ_ID, "name": NAME_128})
def create_base_group(ctx: Ctx) -> Any:
    project = _project(ctx, ctx.get("projectId"))
    require_manager(ctx.store, ctx.user, project, "Project not found")
    return {"item": ctx.store.insert("base_custom_field_groups",
                                     {"projectId": project["id"], "name": ctx.get("name")})}


def _managed_base_group(ctx: Ctx) -> dict[str, Any]:
    message = "Base custom field group not found"
    group, project = base_group_path(ctx.store, ctx.get("id"), message)
    require_manager(ctx.store, ctx.user, project, message)
    return group


@ROUTES.add("PATCH", "/api/base-custom-field-groups/{id}", {"id": REQ_ID, "name": OPT_NAME_128})
def update_base_group(ctx: Ctx) -> Any:
    group = _managed_base_group(ctx)
    values = {"name": ctx.get("name")} if ctx.has("name") else {}
    return {"item": ctx.store.update("base_custom_field_groups", group["id"], values)}


def _delete_base_group(store: Store, group: dict[str, Any]) -> dict[str, Any] | None:
    for field in store.where("custom_fields", baseCustomFieldGroupId=group["id"]):
        for value in store.where("custom_field_values", customFieldId=field["id"]):
            store.delete("custom_field_values", value["id"])
        store.delete("custom_fields", field["id"])
    for adopted in store.where("custom_field_groups", baseCustomFieldGroupId=group["id"]):
        for value in store.where("custom_field_values", customFieldGroupId=adopted["id"]):
            store.delete("custom_field_values", value["id"])
        store.delete("custom_field_groups", adopted["id"])
    return store.delete("base_custom_field_groups", group["id"])


@ROUTES.add("DELETE", "/api/base-custom-field-groups/{id}", {"id": REQ_ID})
def delete_base_group(ctx: Ctx) -> Any:
    return {"item": _delete_base_group(ctx.store, _managed_base_group(ctx))}


ROUTES.stub("POST", "/api/projects/{projectId}/background-images")
ROUTES.stub("DELETE", "/api/background-images/{id}")
