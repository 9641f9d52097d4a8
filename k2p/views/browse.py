"""Progress and end-of-run summary of ``k2p browse``."""

from __future__ import annotations

from typing import Any

from k2p.browse import BrowseSummary
from k2p.console import ProgressEvents, human_bytes, say, table


class BrowseProgress(ProgressEvents):
    """One bar of cards written, its label naming the current phase (terminal only)."""

    def __call__(self, event: str, value: Any) -> None:
        if self._bar is None:
            return
        task = self._task("cards", "cards")
        if event == "phase":
            self._bar.update(task, description=str(value))
        elif event == "cards_total":
            self._bar.update(task, total=value)
        elif event == "card":
            self._bar.advance(task, value)


def show_browse(summary: BrowseSummary) -> None:
    rows = [("boards", summary.boards), ("cards", summary.cards), ("  of which archived", summary.archived_cards),
            ("comments", summary.comments), ("files linked to the archive", summary.files_linked),
            ("files copied into the site", summary.files_copied),
            ("files without bytes here", summary.files_unavailable), ("documents", summary.documents),
            ("search entries", summary.search_entries), ("pages", summary.pages),
            ("site files", summary.site_files)]
    table("Site", ("what", "count"), rows)
    for note in summary.notes:
        say(f"note: {note}")
    say(f"Wrote {human_bytes(summary.site_bytes)} in {summary.seconds:.1f} s → {summary.index}")
    say(f"Archive fingerprint: {summary.fingerprint or 'unavailable'}")
