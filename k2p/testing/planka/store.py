"""In-memory data model of the Planka simulator: tables of plain dict records, snowflake-like ids.

Records carry every attribute Planka serialises (``None`` where unset), ``createdAt`` on insert and
``updatedAt`` only once updated, exactly as Planka's model hooks do. All access happens under
:attr:`Store.lock` (the HTTP handler holds it for the whole request).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Iterable

from k2p.testing.planka.positions import insert_to_positionables

PLANKA_EPOCH_MS = 1567191600000  # next_id() epoch in Planka's migrations (2019-08-30)

# Every serialised attribute and its default, per table (id/createdAt/updatedAt are implicit).
MODELS: dict[str, dict[str, Any]] = {
    "users": {
        "email": None, "role": "boardUser", "name": None, "username": None, "avatar": None,
        "phone": None, "organization": None, "language": None, "subscribeToOwnCards": False,
        "subscribeToCardWhenCommenting": True, "turnOffRecentCardHighlighting": False,
        "enableFavoritesByDefault": True, "defaultEditorMode": "wysiwyg",
        "defaultHomeView": "groupedProjects", "defaultProjectsOrder": "byDefault",
        "isSsoUser": False, "isDeactivated": False, "apiKeyPrefix": None,
        # internal, never presented
        "password": None, "apiKeyHash": None, "termsSignature": None, "passwordChangedAt": None,
        "apiKeyCreatedAt": None, "termsAcceptedAt": None,
    },
    "projects": {"ownerProjectManagerId": None, "backgroundImageId": None, "name": None,
                 "description": None, "backgroundType": None, "backgroundGradient": None,
                 "isHidden": False},
    "project_managers": {"projectId": None, "userId": None},
    "boards": {"projectId": None, "position": None, "name": None, "defaultView": "kanban",
               "defaultCardType": "project", "limitCardTypesToDefaultOne": False,
               "alwaysDisplayCardCreator": False, "displayCardAges": False,
               "expandTaskListsByDefault": False},
    "board_memberships": {"projectId": None, "boardId": None, "userId": None, "role": "editor",
                          "canComment": None},
    "lists": {"boardId": None, "type": None, "position": None, "name": None, "color": None},
    "labels": {"boardId": None, "position": None, "name": None, "color": None},
    "cards": {"boardId": None, "listId": None, "creatorUserId": None, "prevListId": None,
              "coverAttachmentId": None, "type": "project", "position": None, "name": None,
              "description": None, "dueDate": None, "isDueCompleted": None, "stopwatch": None,
              "commentsTotal": 0, "isClosed": False, "listChangedAt": None},
    "card_memberships": {"cardId": None, "userId": None},
    "card_labels": {"cardId": None, "labelId": None},
    "task_lists": {"cardId": None, "position": None, "name": None, "showOnFrontOfCard": True,
                   "hideCompletedTasks": False},
    "tasks": {"taskListId": None, "linkedCardId": None, "assigneeUserId": None, "position": None,
              "name": None, "isCompleted": False},
    "comments": {"cardId": None, "userId": None, "text": None},
    "attachments": {"cardId": None, "creatorUserId": None, "type": None, "name": None, "data": None},
    "base_custom_field_groups": {"projectId": None, "name": None},
    "custom_field_groups": {"boardId": None, "cardId": None, "baseCustomFieldGroupId": None,
                            "position": None, "name": None},
    "custom_fields": {"baseCustomFieldGroupId": None, "customFieldGroupId": None, "position": None,
                      "name": None, "showOnFrontOfCard": False},
    "custom_field_values": {"cardId": None, "customFieldGroupId": None, "customFieldId": None,
                            "content": None},
    "actions": {"boardId": None, "cardId": None, "userId": None, "type": None, "data": None},
    "notifications": {"userId": None, "creatorUserId": None, "boardId": None, "cardId": None,
                      "commentId": None, "actionId": None, "type": None, "data": None, "isRead": False},
}


def now_iso() -> str:
    """Current UTC time as JavaScript's ``Date.toISOString()`` prints it."""
    return iso_of(datetime.now(timezone.utc))


def iso_of(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class IdGenerator:
    """Planka's ``next_id()``: ``(ms since 2019-08-30) << 23 | shard << 10 | seq % 1024``, increasing."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sequence = 0
        self._last = 0

    def next(self) -> str:
        with self._lock:
            self._sequence += 1
            millis = int(time.time() * 1000) - PLANKA_EPOCH_MS
            candidate = (millis << 23) | (1 << 10) | (self._sequence % 1024)
            self._last = max(candidate, self._last + 1)
            return str(self._last)


@dataclass
class Session:
    """A login session: an access token, or a pending (terms) token until accepted."""

    user_id: str
    access_token: str | None = None
    pending_token: str | None = None
    pending_expires_at: float = 0.0
    http_only_token: str | None = None
    deleted: bool = False


_COLLECTIONS = (list, set, tuple, frozenset)


def id_key(record: dict[str, Any]) -> tuple[int, str]:
    """Numeric order of decimal id strings without converting them."""
    record_id = record["id"]
    return len(record_id), record_id


def position_key(record: dict[str, Any]) -> tuple[bool, float, int, str]:
    """PostgreSQL ``ORDER BY position, id`` (nulls last)."""
    position = record["position"]
    record_id = record["id"]
    return position is None, position or 0, len(record_id), record_id


class Subscriptions:
    """Board or card subscriptions: target id → {user id: isPermanent}, each target's users in
    creation order (Planka reads them ``ORDER BY id``). A card membership subscribes its user with
    ``permanent=False``; removing the membership drops only such a subscription."""

    def __init__(self) -> None:
        self._by_target: dict[str, dict[str, bool]] = {}

    def __contains__(self, key: tuple[str, str]) -> bool:
        target, user = key
        return user in self._by_target.get(target, {})

    def users(self, target: str) -> list[str]:
        return list(self._by_target.get(target, {}))

    def is_permanent(self, target: str, user: str) -> bool | None:
        return self._by_target.get(target, {}).get(user)

    def set(self, target: str, user: str, subscribed: bool = True, permanent: bool = True) -> None:
        """Subscribe (an existing subscription stays as it is, like Planka's E_UNIQUE catch) or drop."""
        if subscribed:
            self._by_target.setdefault(target, {}).setdefault(user, permanent)
        else:
            self._by_target.get(target, {}).pop(user, None)

    def drop(self, targets: Iterable[str], keep: Callable[[str], bool] = lambda _user: False) -> None:
        """Delete the subscriptions to ``targets`` of every user that ``keep`` refuses."""
        for target in targets:
            users = self._by_target.get(target, {})
            for user in [user for user in users if not keep(user)]:
                del users[user]


@dataclass
class Store:
    """All tables plus the session and file side stores, guarded by :attr:`lock`."""

    lock: threading.RLock = field(default_factory=threading.RLock)
    ids: IdGenerator = field(default_factory=IdGenerator)
    tables: dict[str, dict[str, dict[str, Any]]] = field(
        default_factory=lambda: {name: {} for name in MODELS})
    sessions: dict[str, Session] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)
    project_favorites: set[tuple[str, str]] = field(default_factory=set)
    board_subscriptions: Subscriptions = field(default_factory=Subscriptions)
    card_subscriptions: Subscriptions = field(default_factory=Subscriptions)
    initialized: bool = False
    indexes: dict[tuple[str, str], dict[Any, set[str]]] = field(default_factory=dict)

    # --- basic record operations ----------------------------------------------------------------
    def insert(self, table: str, values: dict[str, Any]) -> dict[str, Any]:
        record = {"id": self.ids.next(), **MODELS[table], **values, "createdAt": now_iso(),
                  "updatedAt": None}
        self.tables[table][record["id"]] = record
        self._reindex(table, record, None)
        return record

    def update(self, table: str, record_id: str, changes: dict[str, Any], touch: bool = True) -> dict[str, Any]:
        """Apply ``changes``; ``touch=False`` keeps ``updatedAt`` (Planka's raw SQL updates)."""
        record = self.tables[table][record_id]
        before = dict(record)
        record.update(changes)
        if touch:
            record["updatedAt"] = now_iso()
        self._reindex(table, record, before)
        return record

    def delete(self, table: str, record_id: str) -> dict[str, Any] | None:
        record = self.tables[table].pop(record_id, None)
        if record is not None:
            self._reindex(table, None, record)
        return record

    def get(self, table: str, record_id: Any) -> dict[str, Any] | None:
        if not isinstance(record_id, str):
            return None
        return self.tables[table].get(record_id)

    def where(self, table: str, **criteria: Any) -> list[dict[str, Any]]:
        """Records matching all criteria (a list/set/tuple value means "one of"), by id."""
        return sorted(self._match(table, criteria), key=id_key)

    def positioned(self, table: str, **criteria: Any) -> list[dict[str, Any]]:
        """Matching records in ``(position, id)`` order."""
        return sorted(self._match(table, criteria), key=position_key)

    def first(self, table: str, **criteria: Any) -> dict[str, Any] | None:
        found = self.where(table, **criteria)
        return found[0] if found else None

    # --- secondary indexes (built on first use, kept up to date by insert/update/delete) ----------
    def _index(self, table: str, column: str) -> dict[Any, set[str]]:
        index = self.indexes.get((table, column))
        if index is None:
            index = {}
            for record in self.tables[table].values():
                index.setdefault(record.get(column), set()).add(record["id"])
            self.indexes[(table, column)] = index
        return index

    def _reindex(self, table: str, record: dict[str, Any] | None, before: dict[str, Any] | None) -> None:
        for (indexed_table, column), index in self.indexes.items():
            if indexed_table != table:
                continue
            if before is not None and (record is None or before.get(column) != record.get(column)):
                index.get(before.get(column), set()).discard(before["id"])
            if record is not None and (before is None or before.get(column) != record.get(column)):
                index.setdefault(record.get(column), set()).add(record["id"])

    def _match(self, table: str, criteria: dict[str, Any]) -> list[dict[str, Any]]:
        rows = self.tables[table]
        if not criteria:
            return list(rows.values())
        (column, wanted), *rest = criteria.items()
        index = self._index(table, column)
        keys = dict.fromkeys(wanted) if isinstance(wanted, _COLLECTIONS) else (wanted,)
        candidates = [rows[rid] for key in keys for rid in index.get(key, ())]
        for key, wanted in rest:
            if isinstance(wanted, _COLLECTIONS):
                candidates = [r for r in candidates if r.get(key) in wanted]
            else:
                candidates = [r for r in candidates if r.get(key) == wanted]
        return candidates

    # --- positions ---------------------------------------------------------------------------------
    def place(self, table: str, siblings: list[dict[str, Any]], position: float) -> float | int:
        """Run Planka's position normalisation and reposition the affected siblings."""
        placement = insert_to_positionables(position, [s["position"] for s in siblings])
        for index, value in placement.repositions:
            self.update(table, siblings[index]["id"], {"position": value})
        return placement.position

    # --- sessions -------------------------------------------------------------------------------
    def session_by_access_token(self, token: str) -> Session | None:
        session = self.sessions.get(token)
        if session is None or session.deleted or session.access_token != token:
            return None
        return session

    def session_by_pending_token(self, token: str) -> Session | None:
        session = self.sessions.get(token)
        if session is None or session.deleted or session.pending_token != token:
            return None
        return session
