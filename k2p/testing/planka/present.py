"""How the Planka simulator serialises records: user views by viewer, attachment URLs, and the
``included`` blocks of the card-bearing reads (board, list, card, list-cards)."""

from __future__ import annotations

import hashlib
from typing import Any, Iterable

from k2p.testing.planka.store import Store, id_key, position_key

Record = dict[str, Any]

INTERNAL_USER_FIELDS = ("password", "apiKeyHash", "termsSignature", "passwordChangedAt",
                        "apiKeyCreatedAt", "termsAcceptedAt")
PRIVATE_USER_FIELDS = ("email", "apiKeyPrefix", "isSsoUser")
PERSONAL_USER_FIELDS = ("language", "subscribeToOwnCards", "subscribeToCardWhenCommenting",
                        "turnOffRecentCardHighlighting", "enableFavoritesByDefault",
                        "defaultEditorMode", "defaultHomeView", "defaultProjectsOrder")
DEFAULT_LANGUAGE = "en-US"


def present_user(user: Record, viewer: Record | None, default_admin_email: str) -> Record:
    """``users.presentOne``: admins and the user see more than other users do."""
    data = {key: value for key, value in user.items() if key not in INTERNAL_USER_FIELDS}
    data["avatar"] = None
    data["language"] = user["language"] or DEFAULT_LANGUAGE
    if viewer is None:
        return data
    is_self = viewer["id"] == user["id"]
    if is_self or viewer["role"] == "admin":
        is_default_admin = user["email"] == default_admin_email
        data["isDefaultAdmin"] = is_default_admin
        data["lockedFieldNames"] = (["email", "password", "name", "role", "username"]
                                    if is_default_admin or user["isSsoUser"] else [])
        if is_self:
            return data
        return _omit(data, PERSONAL_USER_FIELDS)
    return _omit(data, PRIVATE_USER_FIELDS + PERSONAL_USER_FIELDS)


def raw_user(user: Record) -> Record:
    """A user record as Waterline returns it (every column); the simulator keeps plaintext
    passwords, so a bcrypt-shaped stand-in takes the hash's place."""
    digest = hashlib.sha256(str(user["password"]).encode("utf-8")).hexdigest()
    return {**user, "password": f"$2b$10${digest[:53]}"}


def _omit(data: Record, names: Iterable[str]) -> Record:
    dropped = set(names)
    return {key: value for key, value in data.items() if key not in dropped}


def present_users(store: Store, user_ids: Iterable[str], viewer: Record, default_admin_email: str) -> list[Record]:
    users = [store.get("users", uid) for uid in set(user_ids) if uid]
    return [present_user(u, viewer, default_admin_email) for u in sorted(filter(None, users), key=id_key)]


PRELOADED_FAVICONS = frozenset({"codepen.io"})


def present_attachment(attachment: Record, base_url: str) -> Record:
    """``attachments.presentOne``: download and thumbnail URLs for files, favicon for links."""
    data = dict(attachment)
    raw = attachment["data"] or {}
    if attachment["type"] == "file":
        image = raw.get("image")
        prefix = f"{base_url}/attachments/{attachment['id']}/download"
        data["data"] = {
            "mimeType": raw.get("mimeType"),
            "size": raw.get("size"),
            "encoding": raw.get("encoding"),
            "image": image and {"width": image["width"], "height": image["height"]},
            "url": f"{prefix}/{raw.get('filename')}",
            "thumbnailUrls": image and {
                "outside360": f"{prefix}/thumbnails/outside-360.{image['thumbnailsExtension']}",
                "outside720": f"{prefix}/thumbnails/outside-720.{image['thumbnailsExtension']}",
            },
        }
    else:
        hostname = raw.get("hostname")
        # Planka 2.1.1 ships one preloaded favicon (public/preloaded-favicons/codepen.io.png).
        folder = "preloaded-favicons" if hostname in PRELOADED_FAVICONS else "favicons"
        data["data"] = {"url": raw.get("url"), "faviconUrl": f"{base_url}/{folder}/{hostname}.png"}
    return data


def with_subscription(store: Store, cards: list[Record], user_id: str) -> list[Record]:
    """Copies of ``cards`` with the caller's ``isSubscribed`` flag added."""
    return [{**card, "isSubscribed": (card["id"], user_id) in store.card_subscriptions} for card in cards]


def cards_included(store: Store, cards: list[Record], viewer: Record, base_url: str,
                   default_admin_email: str, extra_groups: list[Record] | None = None,
                   extra_user_ids: Iterable[str] = ()) -> dict[str, list[Record]]:
    """The ``included`` block shared by the card-bearing reads.

    ``extra_groups`` (board-level custom field groups) are listed before the card groups.
    """
    card_ids = {card["id"] for card in cards}
    task_lists = sorted(store.where("task_lists", cardId=card_ids), key=position_key)
    task_list_ids = {t["id"] for t in task_lists}
    card_groups = sorted(store.where("custom_field_groups", cardId=card_ids), key=position_key)
    groups = [*(extra_groups or []), *card_groups]
    group_ids = {g["id"] for g in groups}
    user_ids = [*extra_user_ids, *(card["creatorUserId"] for card in cards)]
    return {
        "cardMemberships": store.where("card_memberships", cardId=card_ids),
        "cardLabels": store.where("card_labels", cardId=card_ids),
        "taskLists": task_lists,
        "tasks": sorted(store.where("tasks", taskListId=task_list_ids), key=position_key),
        "customFieldGroups": groups,
        "customFields": sorted(store.where("custom_fields", customFieldGroupId=group_ids), key=position_key),
        "customFieldValues": store.where("custom_field_values", cardId=card_ids),
        "users": present_users(store, user_ids, viewer, default_admin_email),
        "attachments": [present_attachment(a, base_url) for a in store.where("attachments", cardId=card_ids)],
    }
