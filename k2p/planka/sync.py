"""Bringing one planned object into Planka: leave it, update what changed, or create it safely.

Every create follows the same protocol: an intent row first; on an unknown outcome (lost
response, dropped connection, earlier crash) read the parent in Planka and adopt the object if it
is there; only when it is provably absent send the create again. A dry run takes the same
decisions from the ledger alone and sends nothing, so its counts match the real run.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

from k2p.errors import RemoteError
from k2p.timestamps import parse_time
from k2p.planka.client import AmbiguousWrite
from k2p.planka.ledger import Ledger, Row, field_hashes

CREATE_ATTEMPTS = 5
CLOCK_SKEW = 600.0   # seconds tolerated between our clock and the server's when adopting


@dataclass
class Failure:
    key: str
    kind: str
    message: str


@dataclass
class Tally:
    """Thread-safe outcome counts per kind: created, updated, unchanged, failed (+ adopted)."""

    counts: dict[str, Counter[str]] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, kind: str, outcome: str) -> None:
        with self._lock:
            self.counts.setdefault(kind, Counter())[outcome] += 1

    def fail(self, key: str, kind: str, message: str) -> None:
        with self._lock:
            self.counts.setdefault(kind, Counter())["failed"] += 1
            self.failures.append(Failure(key, kind, message))

    def table(self) -> dict[str, dict[str, int]]:
        with self._lock:
            return {kind: {outcome: counts.get(outcome, 0)
                           for outcome in ("created", "updated", "unchanged", "failed", "adopted")}
                    for kind, counts in sorted(self.counts.items())}

    @property
    def failed(self) -> int:
        with self._lock:
            return sum(counts.get("failed", 0) for counts in self.counts.values())


@dataclass
class Spec:
    """How to create, update and find one kind of object under one parent."""

    kind: str
    create: Callable[[dict[str, Any]], dict[str, Any]]            # payload → created item
    update: Callable[[str, dict[str, Any]], dict[str, Any]] | None = None   # (id, changes) → item
    find: Callable[[], list[dict[str, Any]]] | None = None       # candidates under the parent
    match: Callable[[dict[str, Any]], bool] = lambda item: False  # is this candidate ours?
    recent_only: bool = False   # adopt only objects created after the intent (top-level objects)


@dataclass(frozen=True)
class Result:
    planka_id: str | None      # None only in a dry run for objects that do not exist yet
    outcome: str               # created | updated | unchanged
    item: dict[str, Any] | None = None


def _seen_times(item: dict[str, Any], before: dict[str, Any] | None = None) -> dict[str, Any]:
    """``{"at": [createdAt, updatedAt]}`` as Planka answered them (the fix-up's guard values)."""
    created = item.get("createdAt") or ((before or {}).get("at") or [None])[0]
    if created is None and "updatedAt" not in item:
        return {}
    return {"at": [created, item.get("updatedAt")]}


# Plan pseudo-fields and the Planka attribute that shows them (a card's list_key is its listId).
PLANKA_ATTRIBUTE = {"list_key": "listId"}


def seen_hashes(names: Any, item: dict[str, Any] | None) -> dict[str, str]:
    """Hashes of what Planka answered for the plan fields ``names`` (keyed by plan field name):
    what k2p last set, as the server stores it, so that a later edit in Planka can be told apart."""
    if not item:
        return {}
    shown = {name: item[PLANKA_ATTRIBUTE.get(name, name)] for name in names
             if PLANKA_ATTRIBUTE.get(name, name) in item}
    return field_hashes(shown)


class FieldGuard(Protocol):
    """Decides which changed fields of an existing object are sent (see :mod:`k2p.delta.conflicts`)."""

    def review(self, row: Row, kind: str, changes: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
        """The part of ``changes`` to send; names left out are kept as Planka has them."""
        ...


def _created_at(item: dict[str, Any]) -> float:
    moment = parse_time(item.get("createdAt"))
    return moment.timestamp() if moment else 0.0


class Syncer:
    """Applies plan objects through the ledger; shared by all worker threads of an import."""

    def __init__(self, ledger: Ledger, tally: Tally, *, dry_run: bool) -> None:
        self.ledger = ledger
        self.tally = tally
        self.dry_run = dry_run
        self.high_water: str | None = None   # newest server timestamp seen in an answer
        self.guard: FieldGuard | None = None  # conflict check of changed fields (re-imports)
        self._lock = threading.Lock()

    def saw(self, item: dict[str, Any] | None) -> None:
        """Note the server timestamps of an answer (ISO 8601 UTC strings compare as text)."""
        stamps = [value for value in ((item or {}).get("createdAt"), (item or {}).get("updatedAt"))
                  if isinstance(value, str)]
        if stamps:
            with self._lock:
                self.high_water = max([*stamps, *([self.high_water] if self.high_water else [])])

    def row(self, key: str) -> Row | None:
        return self.ledger.get(key)

    def ensure(self, key: str, parent_id: str | None, fields: dict[str, Any], spec: Spec, *,
               position: float | None = None, create_extra: dict[str, Any] | None = None,
               state: dict[str, Any] | None = None) -> Result:
        """Make ``key`` exist in Planka with ``fields`` (and ``position`` for ordered objects)."""
        row = self.ledger.get(key)
        if row is not None and row.done:
            return self._refresh(row, parent_id, fields, spec, position, state)
        if self.dry_run:
            self.tally.add(spec.kind, "created")
            return Result(None, "created")
        payload = {**fields, **(create_extra or {})}
        if position is not None:
            payload["position"] = position
        item, adopted = self._create(key, parent_id, payload, spec, row)
        self.saw(item)
        self.ledger.done(key, spec.kind, str(item["id"]), parent_id, position=item.get("position"),
                         state={**(state or {}), "h": field_hashes(fields), "p": seen_hashes(fields, item),
                                **_seen_times(item)})
        self.tally.add(spec.kind, "created")
        if adopted:
            self.tally.add(spec.kind, "adopted")
        return Result(str(item["id"]), "created", item)

    def _refresh(self, row: Row, parent_id: str | None, fields: dict[str, Any], spec: Spec,
                 position: float | None, state: dict[str, Any] | None) -> Result:
        hashes = field_hashes(fields)
        old = row.state.get("h", {})
        changes = {name: value for name, value in fields.items() if hashes[name] != old.get(name)}
        if position is not None and position != row.position:
            changes["position"] = position
        wanted = set(changes)
        if changes and spec.update is not None and self.guard is not None:
            changes = self.guard.review(row, spec.kind, changes, fields)
        kept = wanted - set(changes)     # changed in Planka since: left as Planka has them
        if not changes or spec.update is None:
            self.tally.add(spec.kind, "unchanged")
            return Result(row.planka_id, "unchanged")
        if self.dry_run:
            self.tally.add(spec.kind, "updated")
            return Result(row.planka_id, "updated")
        assert row.planka_id is not None
        item = spec.update(row.planka_id, changes)
        self.saw(item)
        new_position = item.get("position", row.position) if "position" in changes else row.position
        sent = {**{name: value for name, value in hashes.items() if name not in kept},
                **{name: old[name] for name in kept if name in old}}
        seen = {**row.state.get("p", {}), **seen_hashes([name for name in changes if name in fields], item)}
        self.ledger.done(row.key, spec.kind, row.planka_id, parent_id, position=new_position,
                         state={**row.state, **(state or {}), "h": sent, "p": seen, **_seen_times(item, row.state)})
        self.tally.add(spec.kind, "updated")
        return Result(row.planka_id, "updated", item)

    def _create(self, key: str, parent_id: str | None, payload: dict[str, Any], spec: Spec,
                row: Row | None) -> tuple[dict[str, Any], bool]:
        if row is not None:          # an intent left by an interrupted run: was it committed?
            found = self._reconcile(spec, row.intent_at)
            if found is not None:
                return found, True
        intent_at = self.ledger.intent(key, spec.kind, parent_id)
        for _ in range(CREATE_ATTEMPTS):
            try:
                return spec.create(payload), False
            except AmbiguousWrite:
                found = self._reconcile(spec, intent_at)
                if found is not None:
                    return found, True
        raise RemoteError(f"Planka did not answer {CREATE_ATTEMPTS} attempts to create {key} (and it was "
                          f"not created); check the server, then rerun the import to resume")

    def _reconcile(self, spec: Spec, intent_at: float | None) -> dict[str, Any] | None:
        """The unclaimed object matching ``spec`` that an earlier, unanswered create made."""
        if spec.find is None:
            return None
        candidates = [item for item in spec.find()
                      if spec.match(item) and not self.ledger.claimed(str(item["id"]))]
        if spec.recent_only and intent_at is not None:
            candidates = [item for item in candidates
                          if _created_at(item) >= intent_at - CLOCK_SKEW]
        return max(candidates, key=lambda item: int(item["id"])) if candidates else None

    def merge_state(self, key: str, **values: Any) -> None:
        """Remember extra facts about an existing object (e.g. that a card was archived)."""
        row = self.ledger.get(key)
        if row is not None and row.done and row.planka_id is not None and not self.dry_run:
            self.ledger.done(key, row.kind, row.planka_id, row.parent_id, position=row.position,
                             state={**row.state, **values})
