"""Progress and end-of-run summary of ``k2p check`` (and of ``--repair``)."""

from __future__ import annotations

from typing import Any

from k2p.check.run import CheckOutcome
from k2p.check.verdict import OUTCOMES
from k2p.console import human_bytes, say, table
from k2p.views.importing import ImportProgress

SHOWN = 20


class CheckProgress(ImportProgress):
    """The import's bars (a repair replays boards and cards), reset for each pass of the check:
    boards (with an ETA), cards checked, bytes hashed."""

    def __call__(self, event: str, value: Any) -> None:
        if self._bar is None:
            return
        if event == "boards_total":
            self._bar.reset(self._task("boards", "boards"), total=value)
        elif event == "cards_total":
            self._bar.reset(self._task("cards", "cards"), total=value)
        elif event == "cards":
            self._bar.advance(self._task("cards", "cards"), value)
        elif event == "bytes":
            self._bar.advance(self._task("hashed", "bytes hashed", unit="bytes"), value)
        else:
            super().__call__(event, value)


def show_check(outcome: CheckOutcome) -> None:
    report = outcome.report
    if outcome.first is not None and outcome.repair is not None:
        repair = outcome.repair
        say(f"Repair: {len(outcome.first.failures)} difference(s) on {len(repair['boards'])} board(s); "
            f"{repair['forgotten']} object(s) re-created, {repair['made_stale']} updated, "
            f"{repair['reordered']} re-placed, {repair['duplicates_removed']} duplicate(s) and "
            f"{repair['broken_uploads_removed']} broken upload(s) removed")
        for line in repair["left_alone"][:SHOWN]:
            say(f"  LEFT {line}")
        for line in repair["failed"][:SHOWN]:
            say(f"  FAILED {line}")
        say("Check after the repair:")
    say(f"Checked {report['archive']} against {report['planka']['url']} (Planka {report['planka']['version']}); "
        f"files: {report['files_policy']}")
    table("Objects", ("kind", *OUTCOMES), [(kind, *(counts[name] for name in OUTCOMES))
                                           for kind, counts in report["counts"].items()])
    files = report["files"]
    say(f"Files: {files.get('hashed', 0)} hashed ({human_bytes(files.get('bytes', 0))}), "
        f"{files.get('size_only', 0) + files.get('budget', 0)} checked by size only, "
        f"{files.get('unreadable', 0)} unreadable")
    for item in report["differences"][:SHOWN]:
        say(f"  {item['text']}")
    more = len(report["differences"]) - SHOWN + report["differences_not_listed"]
    if more > 0:
        say(f"  … {more} more difference(s){' in the report' if outcome.report_path else ' (--report FILE lists them)'}")
    if report["informational"]:
        say(f"Informational: {len(report['informational'])} object(s) in Planka that k2p did not create "
            f"(someone works there; never a failure), e.g. {report['informational'][0]['text']}")
    for note in report["notes"]:
        say(f"Note: {note}")
    if outcome.report_path:
        say(f"Report: {outcome.report_path}")
    say("Verdict: " + ("everything k2p imported is in Planka as imported" if report["clean"] else
                       "Planka differs from the import (exit 11); `k2p check … --repair` brings it back"))
