"""Progress and end-of-run summary of ``k2p export``."""

from __future__ import annotations

from typing import Any

from k2p.console import ProgressEvents, human_bytes, say, table
from k2p.kaiten.client import MAX_RETRY_WAIT
from k2p.kaiten.export import ExportOutcome
from k2p.views.archive import chain_line


class ExportProgress(ProgressEvents):
    """Receives crawl events; draws phase, board, card and byte bars when a terminal watches."""

    def __call__(self, event: str, value: Any) -> None:
        if self._bar is None:
            return
        if event == "phase":
            task = self._task("phase", "phase")
            self._bar.update(task, description=f"phase: {value}")
        elif event in ("boards_total", "cards_total"):
            name = event.removesuffix("_total")
            task = self._task(name, name)
            self._bar.update(task, total=value)
        elif event in ("board", "card"):
            self._bar.advance(self._task(event, event), value)
        elif event == "bytes":
            self._bar.advance(self._task("bytes", "file bytes", unit="bytes"), value)


def show_export(outcome: ExportOutcome) -> None:
    report = outcome.report
    requests = report["requests"]
    verb = "Resumed and completed" if outcome.resumed else "Exported"
    say(f"{verb} {report['source']['base_url']} → {outcome.sealed.root}")
    rows = [(name, count, "-" if report["expected"].get(name) is None else report["expected"][name])
            for name, count in report["collections"].items()]
    table("Records", ("collection", "records", "expected"), rows)
    missing = report["missing"]
    if missing["count"]:
        table("Not exported (see missing.jsonl.zst)", ("reason", "count"),
              list(missing["by_reason"].items()))
    absent = [(name, entry["status"], entry.get("option") or entry.get("note") or entry.get("reason") or "")
              for name, entry in (report.get("coverage") or {}).items()
              if entry["status"] not in ("collected", "partial", "not_supported")]
    if absent:
        table("Not collected (k2p inspect shows every collection)", ("collection", "status", "why / enable with"),
              absent)
    table("Requests", ("metric", "value"), [
        ("API requests", requests["api_requests"]),
        ("retries", requests["retries"]),
        ("rate limited (429)", requests["rate_limited_429"]),
        (f"429 waits capped at {MAX_RETRY_WAIT:.0f} s", requests.get("waits_capped", 0)),
        ("files downloaded", requests["file_downloads"]),
        ("file bytes", human_bytes(requests["file_bytes"])),
        ("active time (s)", report["active_seconds"]),
    ])
    if report.get("chain"):
        say(chain_line(report["chain"], "Based on"))
    say(f"Fingerprint: {outcome.sealed.fingerprint}")
