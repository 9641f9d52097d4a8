"""User routes of the Planka simulator (list, create, show, update, API keys)."""

from __future__ import annotations

import re
from typing import Any

from k2p.testing.planka.access import check_keys, is_admin_or_owner
from k2p.testing.planka.auth import LANGUAGES, generate_api_key
from k2p.testing.planka.http import ROUTES, Ctx, conflict, forbidden, not_found
from k2p.testing.planka.present import PERSONAL_USER_FIELDS, present_user
from k2p.testing.planka.store import Store
from k2p.testing.planka.validation import (MAX_STRING_ID, REQ_ID, USERNAME_REGEX, USERNAME_REGEX_TEXT,
                                           Input, is_id_in_range, is_null, is_strong_password)

ROLES = ("admin", "projectOwner", "boardUser")
_NULLABLE_TEXT = Input(not_empty=True, max_length=128, allow_null=True)


def present(ctx: Ctx, user: dict[str, Any]) -> dict[str, Any]:
    return present_user(user, ctx.user, ctx.sim.admin_email)


def create_user(store: Store, *, email: str, password: str, role: str, name: str,
                username: str | None = None, **extra: Any) -> dict[str, Any]:
    """Insert a user like ``users.createOne`` (lowercased email/username, 409 on duplicates)."""
    email = email.lower()
    username = username.lower() if username else username
    if store.first("users", email=email):
        raise conflict("Email already in use")
    if username and store.first("users", username=username):
        raise conflict("Username already in use")
    return store.insert("users", {"email": email, "password": password, "role": role, "name": name,
                                  "username": username, **extra})


@ROUTES.add("GET", "/api/users")
def list_users(ctx: Ctx) -> Any:
    if not is_admin_or_owner(ctx.user):
        raise forbidden()
    return {"items": [present(ctx, u) for u in ctx.store.where("users")]}


_USER_CREATE = {
    "email": Input(required=True, max_length=256, is_email=True),
    "password": Input(required=True, max_length=256, custom=is_strong_password),
    "role": Input(required=True, is_in=ROLES),
    "name": Input(required=True, max_length=128),
    "username": Input(not_empty=True, min_length=3, max_length=32,
                      regex=(USERNAME_REGEX, USERNAME_REGEX_TEXT), allow_null=True),
    "phone": _NULLABLE_TEXT,
    "organization": _NULLABLE_TEXT,
    "language": Input(is_in=LANGUAGES, allow_null=True),
    "subscribeToOwnCards": Input("boolean"),
    "subscribeToCardWhenCommenting": Input("boolean"),
    "turnOffRecentCardHighlighting": Input("boolean"),
}


@ROUTES.add("POST", "/api/users", _USER_CREATE, access="admin")
def create(ctx: Ctx) -> Any:
    user = create_user(ctx.store, **ctx.inputs)
    return {"item": present(ctx, user)}


_ME_OR_ID = re.compile(r"^[1-9][0-9]*$|^me$")


@ROUTES.add("GET", "/api/users/{id}", {
    "id": Input(required=True, max_length=len(MAX_STRING_ID), regex=(_ME_OR_ID, "/^[1-9][0-9]*$|^me$/"),
                custom=lambda v: v == "me" or is_id_in_range(v)),
    "subscribe": Input("boolean"),
})
def show(ctx: Ctx) -> Any:
    wanted = ctx.get("id")
    if wanted in ("me", ctx.user_id):
        user = ctx.user
    else:
        if not is_admin_or_owner(ctx.user):
            raise not_found("User not found")
        user = ctx.store.get("users", wanted)
        if not user:
            raise not_found("User not found")
    return {"item": present(ctx, user), "included": {"notificationServices": []}}


@ROUTES.add("PATCH", "/api/users/{id}", {
    "id": REQ_ID,
    "role": Input(is_in=ROLES),
    "name": Input(not_empty=True, max_length=128),
    "avatar": Input("json", custom=is_null),
    "phone": _NULLABLE_TEXT,
    "organization": _NULLABLE_TEXT,
    "language": Input(is_in=LANGUAGES),
    "apiKey": Input("json", custom=is_null),
    "subscribeToOwnCards": Input("boolean"),
    "subscribeToCardWhenCommenting": Input("boolean"),
    "turnOffRecentCardHighlighting": Input("boolean"),
    "enableFavoritesByDefault": Input("boolean"),
    "defaultEditorMode": Input(is_in=("wysiwyg", "markup")),
    "defaultHomeView": Input(is_in=("gridProjects", "groupedProjects")),
    "defaultProjectsOrder": Input(is_in=("byDefault", "alphabetically", "byCreationTime")),
    "isSsoUser": Input("boolean", custom=lambda v: v is False),
    "isDeactivated": Input("boolean"),
})
def update(ctx: Ctx) -> Any:
    me = ctx.user
    allowed = {"id", "name", "avatar", "phone", "organization"}
    if ctx.get("id") == me["id"]:
        allowed.update(PERSONAL_USER_FIELDS)
    elif me["role"] == "admin":
        allowed.update({"role", "isSsoUser", "isDeactivated"})
    else:
        raise not_found("User not found")
    if me["role"] == "admin":
        allowed.add("apiKey")
    check_keys(ctx.inputs, allowed)
    user = ctx.store.get("users", ctx.get("id"))
    if not user:
        raise not_found("User not found")
    # The default admin and SSO users (OIDC_IGNORE_ROLES unset) keep their role and name.
    if (user["email"] == ctx.sim.admin_email or user["isSsoUser"]) and (ctx.get("role") or ctx.get("name")):
        raise forbidden()
    values = {key: value for key, value in ctx.inputs.items() if key not in ("id", "apiKey")}
    if ctx.has("apiKey"):
        values.update({"apiKeyPrefix": None, "apiKeyHash": None, "apiKeyCreatedAt": None})
    return {"item": present(ctx, ctx.store.update("users", user["id"], values))}


@ROUTES.add("POST", "/api/users/{id}/api-key", {"id": REQ_ID}, access="admin")
def create_api_key(ctx: Ctx) -> Any:
    user = ctx.store.get("users", ctx.get("id"))
    if not user:
        raise not_found("User not found")
    key = generate_api_key(ctx.store, user)
    return {"item": present(ctx, user), "included": {"apiKey": key}}


ROUTES.stub("PATCH", "/api/users/{id}/email")
ROUTES.stub("PATCH", "/api/users/{id}/password")
ROUTES.stub("PATCH", "/api/users/{id}/username")
ROUTES.stub("POST", "/api/users/{id}/avatar")
ROUTES.stub("DELETE", "/api/users/{id}", access="admin")
