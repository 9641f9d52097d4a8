"""The outcome of a check: counts per kind and the named differences.

Per kind: ``expected`` (the mapping plans it and/or the ledger says it was imported), ``found``
(Planka holds it), ``differing`` (found, but a field k2p owns differs), ``missing``,
``duplicate`` (a second Planka object for one key) and ``unexpected`` (found under an imported
board, not created by k2p: someone works there — informational, never a failure).
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from k2p.errors import ExitCode
from k2p.timestamps import parse_time

OUTCOMES = ("expected", "found", "differing", "missing", "duplicate", "unexpected")
FAILING = ("differs", "missing", "duplicate")
KEPT = 10_000          # differences kept for the report (counts are always complete)
DATE_KIND = "creation_date"   # cards' and comments' createdAt, compared once the fix-up set any


@dataclass(frozen=True)
class Difference:
    """One named finding: ``card:50000017 (Planka 1234) description differs: …``."""

    kind: str
    key: str | None          # the plan key (Kaiten ids); None for an object k2p did not create
    planka_id: str | None
    problem: str             # differs | missing | duplicate | unexpected
    field: str = ""          # which field differs (Planka's name; ``position``, ``list``, …)
    detail: str = ""
    board: str | None = None  # the board key it belongs to (what a repair re-runs)

    @property
    def failing(self) -> bool:
        return self.problem in FAILING

    def text(self) -> str:
        where = self.key or self.kind
        planka = f" (Planka {self.planka_id})" if self.planka_id else ""
        what = f"{self.field} {self.problem}" if self.field else self.problem
        return f"{where}{planka} {what}" + (f": {self.detail}" if self.detail else "")

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "key": self.key, "planka_id": self.planka_id, "problem": self.problem,
                "field": self.field, "detail": self.detail, "board": self.board, "text": self.text()}


@dataclass
class Verdict:
    """Thread-safe accumulation over every board of the check."""

    counts: dict[str, Counter[str]] = field(default_factory=dict)
    differences: list[Difference] = field(default_factory=list)
    dropped: int = 0                  # differences beyond KEPT (counted, not kept)
    files: Counter[str] = field(default_factory=Counter)   # hashed, bytes, size_only, unreadable
    notes: list[str] = field(default_factory=list)
    requests: int = 0
    dates: Counter[str] = field(default_factory=Counter)   # creation dates: "kaiten" / "import"
    undated: list[Difference] = field(default_factory=list)   # the first import-dated objects
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, kind: str, outcome: str, number: int = 1) -> None:
        with self._lock:
            self.counts.setdefault(kind, Counter())[outcome] += number

    def add(self, difference: Difference, *, counted: bool = True) -> None:
        outcome = {"differs": "differing"}.get(difference.problem, difference.problem)
        with self._lock:
            if counted:
                self.counts.setdefault(difference.kind, Counter())[outcome] += 1
            if len(self.differences) < KEPT:
                self.differences.append(difference)
            else:
                self.dropped += 1

    def dated(self, kind: str, key: str, planka_id: str | None, kaiten: str, found: Any) -> None:
        """One creation date: Kaiten's (the SQL fix-up set it) or the import's. Whether the latter is
        a difference is decided once every board is read (:meth:`settle_dates`)."""
        same = parse_time(kaiten) == parse_time(found)
        with self._lock:
            self.dates["kaiten" if same else "import"] += 1
            if not same and len(self.undated) < KEPT:
                self.undated.append(Difference(kind, key, planka_id, "differs", "created",
                                               f"expected {kaiten} (Kaiten's), found {found}"))

    def settle_dates(self) -> None:
        """Creation dates are Kaiten's only after ``k2p fixup-sql``: none fixed is a note (the import's
        dates, as documented); some fixed and others not is a difference per object not fixed."""
        if not self.dates:
            return
        total = self.dates["kaiten"] + self.dates["import"]
        if not self.dates["kaiten"]:
            self.note(f"creation dates of {self.dates['import']} cards and comments are the import's: "
                      f"the SQL fix-up (k2p fixup-sql) has not been applied, so they were not compared")
            return
        with self._lock:
            self.counts[DATE_KIND] = Counter(expected=total, found=total, differing=self.dates["import"])
        if self.dates["import"]:
            for difference in self.undated:
                self.add(difference, counted=False)
            self.dropped += max(0, self.dates["import"] - len(self.undated))
            self.note(f"{self.dates['import']} of {total} cards and "
                      f"comments do not carry Kaiten's creation date although the fix-up set the others: "
                      f"run k2p fixup-sql again (it is idempotent)")
        else:
            self.note(f"creation dates of all {self.dates['kaiten']} cards and comments are Kaiten's (fix-up applied)")

    def note(self, text: str) -> None:
        with self._lock:
            if text not in self.notes:
                self.notes.append(text)

    @property
    def failures(self) -> list[Difference]:
        return [item for item in self.differences if item.failing]

    @property
    def clean(self) -> bool:
        with self._lock:
            return not any(counts.get(name, 0) for counts in self.counts.values()
                           for name in ("differing", "missing", "duplicate"))

    @property
    def exit_code(self) -> int:
        return ExitCode.OK if self.clean else ExitCode.CHECK_DIFFERS

    def table(self) -> dict[str, dict[str, int]]:
        with self._lock:
            return {kind: {outcome: counts.get(outcome, 0) for outcome in OUTCOMES}
                    for kind, counts in sorted(self.counts.items())}

    def summary(self) -> dict[str, Any]:
        failing = [item.as_dict() for item in self.differences if item.failing]
        informational = [item.as_dict() for item in self.differences if not item.failing]
        return {"clean": self.clean, "counts": self.table(), "differences": failing,
                "informational": informational, "differences_not_listed": self.dropped,
                "files": dict(self.files), "notes": list(self.notes)}
