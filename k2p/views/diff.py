"""Progress and output of ``k2p diff``: a JSON Lines stream, or a table plus the first differences."""

from __future__ import annotations

import sys

from k2p.console import ProgressEvents, emit_json_line, say, table
from k2p.diff import Difference, DiffSummary

VERBS = {"created": "+", "changed": "~", "deleted": "-"}


class DiffProgress(ProgressEvents):
    """One bar of records read (both archives; a collection with changes is read twice)."""

    total = 0

    def __call__(self, event: str, value: int) -> None:
        if self._bar is None:
            return
        task = self._task("records", "comparing records")
        if event == "total":
            self.total += value
            self._bar.update(task, total=self.total)
        else:
            self._bar.advance(task, value)


class JsonDifferences:
    """``--json``: every difference as one JSON line while it is found, then the summary line."""

    def __call__(self, difference: Difference) -> None:
        emit_json_line(difference.to_dict())

    def finish(self, summary: DiffSummary) -> None:
        emit_json_line(summary.to_dict())
        sys.stdout.flush()


class FirstDifferences:
    """Keeps the first ``limit`` differences of each collection (memory stays bounded)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.kept: dict[str, list[Difference]] = {}

    def __call__(self, difference: Difference) -> None:
        kept = self.kept.setdefault(difference.collection, [])
        if len(kept) < self.limit:
            kept.append(difference)

    def finish(self, summary: DiffSummary) -> None:
        say(f"Comparing {summary.old['archive']} (completed {summary.old['completed_at']})")
        say(f"     with {summary.new['archive']} (completed {summary.new['completed_at']})")
        rows = [(name, tally.created, tally.changed, tally.deleted, tally.unchanged)
                for name, tally in summary.collections.items() if tally.differences or tally.unchanged]
        table("Records", ("collection", "created", "changed", "deleted", "unchanged"), rows)
        for name, tally in summary.collections.items():
            if tally.differences:
                shown = self.kept.get(name, [])
                more = f" (first {len(shown)} of {tally.differences})" if tally.differences > len(shown) else ""
                say(f"{name}{more}:")
                for difference in shown:
                    say("  " + describe(difference))
        for note in summary.notes:
            say(f"note: {note}")
        say(one_line(summary))


def describe(difference: Difference) -> str:
    title = f' "{difference.title}"' if difference.title else ""
    line = f"{VERBS[difference.change]} {difference.change} {difference.id}{title}"
    if difference.fields:
        line += ": " + ", ".join(f"{name} ({text})" if text else name
                                 for name, text in difference.fields.items())
    return line


def one_line(summary: DiffSummary) -> str:
    total = summary.total
    if summary.identical:
        return f"Archives are identical: {total.unchanged} record(s) compared, none differ"
    kinds = [name for name, tally in summary.collections.items() if tally.differences]
    return (f"Archives differ: {total.created} created, {total.changed} changed, {total.deleted} "
            f"deleted in {', '.join(kinds)}; {total.unchanged} unchanged")
