"""Notifications of the Planka simulator: who gets one (and an e-mail), and the notification routes.

Planka 2.1.1 creates notifications in two places only (``helpers/actions/create-one.js`` and
``helpers/comments/create-one.js``):

* action ``addMemberToCard`` → the added member, unless they added themself;
* action ``moveCard`` → card subscribers and board subscribers, except the actor;
* a comment → every user mentioned as ``@[name](userId)`` who is a board member
  (``mentionInComment``), then every card and board subscriber (``commentCard``), never the author.

Deactivated users still get the notification row, but no e-mail. Each unread notification beyond a
user's newest 100 is marked read on the spot (``updatedAt`` untouched). With SMTP configured
(``PlankaSimulator(smtp=True)``) every notification to an active user is one e-mail, recorded in
``sim.outbox``. Notification services (apprise) and webhooks are not simulated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable

from k2p.testing.planka.access import card_path, require_board_reader
from k2p.testing.planka.http import ROUTES, Ctx, not_found
from k2p.testing.planka.present import present_users, raw_user
from k2p.testing.planka.store import Store
from k2p.testing.planka.validation import BOOL, REQ_ID

UNREAD_LIMIT = 100
EMAIL_SUBJECTS = {"moveCard": "Card Moved", "commentCard": "New Comment",
                  "addMemberToCard": "You Were Added to Card", "mentionInComment": "You Were Mentioned in Comment"}
_MENTION = re.compile(r"@\[.*?\]\((.*?)\)")

Record = dict[str, Any]


@dataclass(frozen=True)
class Email:
    """One e-mail Planka would have sent for a notification."""

    to: str
    subject: str
    type: str
    user_id: str
    notification_id: str


# --- creation --------------------------------------------------------------------------------------
def subscriber_ids(store: Store, card: Record, except_user_id: str) -> list[str]:
    """Card subscribers, then board subscribers, each in subscription order, without the actor."""
    found = store.card_subscriptions.users(card["id"]) + store.board_subscriptions.users(card["boardId"])
    return [user for user in dict.fromkeys(found) if user != except_user_id]


def notify(ctx: Ctx, card: Record, recipients: dict[str, str], data: Record,
           comment: Record | None = None, action: Record | None = None) -> None:
    """``notifications.createMany``: one row per ``recipients`` entry (userId → type)."""
    store = ctx.store
    for user_id, kind in recipients.items():
        notification = store.insert("notifications", {
            "userId": user_id, "creatorUserId": ctx.user_id, "boardId": card["boardId"], "cardId": card["id"],
            "commentId": comment and comment["id"], "actionId": action and action["id"], "type": kind,
            "data": data})
        unread = store.where("notifications", userId=user_id, isRead=False)
        for stale in unread[:-UNREAD_LIMIT]:
            store.update("notifications", stale["id"], {"isRead": True}, touch=False)
        user = store.get("users", user_id)
        if ctx.sim.smtp and user and not user["isDeactivated"]:
            ctx.sim.outbox.append(Email(user["email"], EMAIL_SUBJECTS[kind], kind, user_id, notification["id"]))


def notify_action(ctx: Ctx, card: Record, action: Record) -> None:
    if action["type"] == "addMemberToCard":
        member_id = action["data"]["user"]["id"]
        if member_id != ctx.user_id:
            notify(ctx, card, {member_id: action["type"]}, action["data"], action=action)
    elif action["type"] == "moveCard":
        recipients = dict.fromkeys(subscriber_ids(ctx.store, card, ctx.user_id), action["type"])
        notify(ctx, card, recipients, action["data"], action=action)


def notify_comment(ctx: Ctx, card: Record, comment: Record) -> None:
    members = {m["userId"] for m in ctx.store.where("board_memberships", boardId=card["boardId"])}
    mentioned = [uid for uid in dict.fromkeys(_MENTION.findall(comment["text"]))
                 if uid in members and uid != comment["userId"]]
    recipients = dict.fromkeys(mentioned, "mentionInComment")
    for user_id in subscriber_ids(ctx.store, card, comment["userId"]):
        recipients.setdefault(user_id, "commentCard")
    notify(ctx, card, recipients, {"card": {"name": card["name"]}, "text": comment["text"]}, comment=comment)


# --- routes ----------------------------------------------------------------------------------------
def _mark_read(store: Store, notifications: Iterable[Record]) -> list[Record]:
    return [store.update("notifications", n["id"], {"isRead": True}) for n in notifications]


def _own(ctx: Ctx) -> Record:
    notification = ctx.store.first("notifications", id=ctx.get("id"), userId=ctx.user_id)
    if not notification:
        raise not_found("Notification not found")
    return notification


@ROUTES.add("GET", "/api/notifications")
def index(ctx: Ctx) -> Any:
    """The caller's unread notifications, newest first, with their creators."""
    items = list(reversed(ctx.store.where("notifications", userId=ctx.user_id, isRead=False)))
    users = present_users(ctx.store, (n["creatorUserId"] for n in items), ctx.user, ctx.sim.admin_email)
    return {"items": items, "included": {"users": users}}


@ROUTES.add("GET", "/api/notifications/{id}", {"id": REQ_ID})
def show(ctx: Ctx) -> Any:
    """Read or unread; Planka 2.1.1 includes the creator *unpresented* (all columns)."""
    notification = _own(ctx)
    creator = ctx.store.get("users", notification["creatorUserId"])
    return {"item": notification, "included": {"users": [raw_user(creator)] if creator else []}}


@ROUTES.add("PATCH", "/api/notifications/{id}", {"id": REQ_ID, "isRead": BOOL})
def update(ctx: Ctx) -> Any:
    values = {"isRead": ctx.get("isRead")} if ctx.has("isRead") else {}
    return {"item": ctx.store.update("notifications", _own(ctx)["id"], values)}


@ROUTES.add("POST", "/api/notifications/read-all")
def read_all(ctx: Ctx) -> Any:
    return {"items": _mark_read(ctx.store, ctx.store.where("notifications", userId=ctx.user_id, isRead=False))}


@ROUTES.add("POST", "/api/cards/{id}/read-notifications", {"id": REQ_ID})
def read_card_notifications(ctx: Ctx) -> Any:
    store = ctx.store
    card, _lst, board, project = card_path(store, ctx.get("id"))
    require_board_reader(store, ctx.user, project, board["id"], "Card not found")
    unread = store.where("notifications", userId=ctx.user_id, cardId=card["id"], isRead=False)
    return {"item": card, "included": {"notifications": _mark_read(store, unread)}}
