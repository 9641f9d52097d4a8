"""The importing account subscribes to no card: its subscribing settings are off while it writes.

Planka subscribes a commenter to the card when their ``subscribeToCardWhenCommenting`` is on (the
default) and a card's creator when their ``subscribeToOwnCards`` is on (``comments/create-one``,
``cards/create-one``). The importing account posts every card and comment k2p cannot write as
their author, so it would end up subscribed to them, and notified of every later comment and move
(during the replay too). Before its first such write, k2p turns those of its settings that are on
off, and puts them back at the end of the run. The ledger row ``me:settings`` remembers the values
while they are off, so that a run that stopped half-way has them put back by the next one; a run
that creates nothing sends nothing.
"""

from __future__ import annotations

import threading
from typing import Any

from k2p.planka.client import PlankaClient
from k2p.planka.ledger import Ledger

SUBSCRIBING = ("subscribeToCardWhenCommenting", "subscribeToOwnCards")
KEY = "me:settings"


class QuietAccount:
    """Switches the importing account's subscribing settings off around its writes."""

    def __init__(self, client: PlankaClient | None, ledger: Ledger, me: dict[str, Any] | None, *,
                 dry_run: bool) -> None:
        self.client, self.ledger, self.dry_run = client, ledger, dry_run
        self.user_id = str(me["id"]) if me else None
        row = ledger.get(KEY)
        left = dict(row.state.get("saved") or {}) if row is not None and row.done else {}
        self.saved = left or {name: True for name in SUBSCRIBING if (me or {}).get(name)}
        self.off = bool(left)          # an earlier run stopped with them off
        self.requests = 0
        self._lock = threading.Lock()

    def before_write(self) -> None:
        """Call before the importing account creates a card or a comment."""
        if self.off or not self.saved or self.dry_run or self.client is None:
            return
        with self._lock:
            if not self.off:
                self.ledger.done(KEY, "account_settings", str(self.user_id), None, state={"saved": self.saved})
                self.client.update(f"/api/users/{self.user_id}", {name: False for name in self.saved})
                self.requests += 1
                self.off = True

    def restore(self) -> None:
        """Put the settings back (at the end of a run, also after a failure)."""
        if not self.off or self.dry_run or self.client is None:
            return
        self.client.update(f"/api/users/{self.user_id}", dict(self.saved))
        self.requests += 1
        self.ledger.done(KEY, "account_settings", str(self.user_id), None, state={})
        self.off = False
