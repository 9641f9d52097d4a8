"""Conflicts: a field that k2p set, changed in Planka since, that a newer archive changes too.

For every object it creates or updates, k2p keeps in the ledger a hash of each owned field as
Planka answered it (``state["p"]``; ``state["h"]`` is the hash of what the plan asked for). When a
newer archive changes a field, :class:`ConflictGuard` compares what Planka holds now (from the
board's :class:`~k2p.delta.snapshot.BoardSnapshot`, so without a request per object) with that
hash: equal means nobody touched it and the new value is sent; different means somebody works
on it in Planka. Then ``keep-planka`` (the default) leaves Planka's value (and, for a card moved
in Planka, its list and position) and ``take-kaiten`` sends the archive's value; both list the
conflict with the two values. A kept field keeps its old hashes, so every later run that still
disagrees lists it again and writes nothing.

Not covered: positions (reordering in Planka is not a conflict; a changed Kaiten order is
applied), objects Planka's board read leaves out (cards in the archive or trash list), and rows
written by a k2p that did not keep Planka's hashes (their changes are sent as before).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Callable

from k2p.planka.ledger import Row, field_hashes
from k2p.planka.sync import PLANKA_ATTRIBUTE

KEEP_PLANKA, TAKE_KAITEN = "keep-planka", "take-kaiten"
POLICIES = (KEEP_PLANKA, TAKE_KAITEN)
SHOWN_CHARS = 2000   # values longer than this are cut in the report


@dataclass(frozen=True)
class Conflict:
    key: str            # plan key (card:123, task:123:item:9, …)
    kind: str
    field: str          # plan field name (list_key: the card's list)
    planka: Any         # what Planka holds now
    kaiten: Any         # what the newer archive says
    resolution: str     # kept-planka | took-kaiten

    def as_record(self) -> dict[str, Any]:
        return {"key": self.key, "kind": self.kind, "field": self.field, "planka": _shown(self.planka),
                "kaiten": _shown(self.kaiten), "resolution": self.resolution}


def _shown(value: Any) -> Any:
    if isinstance(value, str) and len(value) > SHOWN_CHARS:
        return value[:SHOWN_CHARS] + "…"
    return value


class ConflictGuard:
    """The :class:`~k2p.planka.sync.FieldGuard` of a re-import (shared by the card workers).

    ``current(kind, row)`` gives Planka's object as it is now, or None when unknown (a new board,
    an offline dry run); ``list_name(list_key)`` names a list for the report.
    """

    def __init__(self, policy: str, current: Callable[[str, Row], dict[str, Any] | None],
                 list_name: Callable[[Any], Any]) -> None:
        if policy not in POLICIES:
            raise ValueError(policy)
        self.policy = policy
        self.current = current
        self.list_name = list_name
        self.conflicts: list[Conflict] = []
        self._lock = threading.Lock()

    def review(self, row: Row, kind: str, changes: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
        seen = row.state.get("p")
        if not seen:
            return changes
        current = self.current(kind, row)
        if current is None:
            return changes
        found: list[Conflict] = []
        send = dict(changes)
        for name in changes:
            attribute = PLANKA_ATTRIBUTE.get(name, name)
            if name == "position" or name not in seen or attribute not in current:
                continue
            now = current[attribute]
            if field_hashes({name: now})[name] == seen[name]:
                continue                          # untouched in Planka since k2p set it
            if attribute == name and field_hashes({name: now}) == field_hashes({name: fields.get(name)}):
                continue                          # Planka already holds the archive's value
            planka, kaiten = now, fields.get(name)
            if name == "list_key":
                planka, kaiten = self.list_name(now), self.list_name(kaiten)
            keep = self.policy == KEEP_PLANKA
            found.append(Conflict(row.key, kind, name, planka, kaiten, "kept-planka" if keep else "took-kaiten"))
            if keep:
                send.pop(name, None)
                if name == "list_key":
                    send.pop("position", None)    # the card stays where it was put in Planka
        if found:
            with self._lock:
                self.conflicts.extend(found)
        return send

    def records(self) -> list[dict[str, Any]]:
        with self._lock:
            return [conflict.as_record() for conflict in sorted(self.conflicts, key=lambda c: (c.key, c.field))]
