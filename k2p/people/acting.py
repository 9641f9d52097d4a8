"""Acting as the accounts k2p created: lazily issued per-user API keys, revoked at the end.

Planka records the caller as author of a card, comment or attachment, and notifies a card member
added by somebody else. For the accounts it created itself (and only those: never an account that
existed before), k2p issues an API key (``POST /api/users/:id/api-key``) the first time a write
must be made as that person, keeps it in memory only, and revokes it (``PATCH /api/users/:id
{apiKey: null}``) when the import ends, also after a failure. A process killed in between leaves a
key that nobody holds; the next run replaces it. Reads always go through the importing account.

A write that Planka refuses to that person (403/404: a viewer may not create cards, …) is sent
again as the importing account, which is safe because a refusal created nothing; the SQL fix-up
then sets the true author.
"""

from __future__ import annotations

import threading
from typing import Any

from k2p.planka.client import MultipartFile, PlankaClient, PlankaError

FALL_BACK_STATUSES = (403, 404)


class Actors:
    """Planka user id → a client that writes as that person (or the importing account)."""

    def __init__(self, admin: PlankaClient | None, own: set[str], *, inactive: set[str] = frozenset()) -> None:
        self.admin = admin
        self.own = set(own) - set(inactive)
        self._keys: dict[str, PlankaClient] = {}
        self._lock = threading.Lock()
        self.fallbacks = 0

    def can_act(self, user_id: str | None) -> bool:
        return user_id is not None and user_id in self.own

    def client(self, user_id: str | None) -> PlankaClient | None:
        """A client for writes as ``user_id`` when k2p may act as them, else the importing one."""
        if self.admin is None or not self.can_act(user_id):
            return self.admin
        return _Acting(self, str(user_id))  # type: ignore[return-value]

    def _as(self, user_id: str) -> PlankaClient:
        with self._lock:
            acting = self._keys.get(user_id)
            if acting is None:
                assert self.admin is not None
                answer = self.admin.post_repeatable(f"/api/users/{user_id}/api-key", {})
                acting = self.admin.acting_as(str(answer["included"]["apiKey"]))
                self._keys[user_id] = acting
            return acting

    def revoke_all(self) -> int:
        """Revoke every key this run issued; returns how many."""
        with self._lock:
            issued, self._keys = list(self._keys), {}
        for user_id in issued:
            assert self.admin is not None
            self.admin.update(f"/api/users/{user_id}", {"apiKey": None})
        return len(issued)


class _Acting:
    """The write methods of :class:`PlankaClient`, sent as one person; reads as the importer."""

    def __init__(self, actors: Actors, user_id: str) -> None:
        self._actors = actors
        self.user_id = user_id
        assert actors.admin is not None
        self._admin: PlankaClient = actors.admin

    def get(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self._admin.get(path, params)

    def create(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        return self._write("create", path, payload)

    def update(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        return self._write("update", path, payload)

    def delete(self, path: str) -> dict[str, Any]:
        return self._write("delete", path)

    def upload(self, path: str, body: MultipartFile) -> dict[str, Any]:
        # A multipart body is a stream that can be read once: no second try as another account.
        return self._actors._as(self.user_id).upload(path, body)

    def _write(self, method: str, *args: Any) -> dict[str, Any]:
        try:
            return getattr(self._actors._as(self.user_id), method)(*args)
        except PlankaError as error:
            if error.status not in FALL_BACK_STATUSES:
                raise
            with self._actors._lock:
                self._actors.fallbacks += 1
            return getattr(self._admin, method)(*args)
