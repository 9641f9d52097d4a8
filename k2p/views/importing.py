"""Progress and end-of-run summary of ``k2p import`` (and of its dry run)."""

from __future__ import annotations

from typing import Any

from k2p.console import ProgressEvents, printable, say, table
from k2p.planka.importer import ImportOutcome


class ImportProgress(ProgressEvents):
    """Board, card and upload-byte bars when a terminal watches."""

    def __call__(self, event: str, value: Any) -> None:
        if self._bar is None:
            return
        if event == "phase":
            self._bar.update(self._task("phase", "phase"), description=f"phase: {value}")
        elif event == "boards_total":
            self._bar.update(self._task("boards", "boards"), total=value)
        elif event == "board":
            self._bar.advance(self._task("boards", "boards"), 1)
            self._bar.update(self._task("cards", "cards"),
                             description=f"cards of board {printable(str(value))}")  # an archive id
        elif event == "card":
            self._bar.advance(self._task("cards", "cards"), value)
        elif event == "bytes":
            self._bar.advance(self._task("bytes", "upload bytes", unit="bytes"), value)


def show_import(outcome: ImportOutcome) -> None:
    report = outcome.report
    if outcome.dry_run:
        where = "offline, from the ledger only (no --planka-url)" if outcome.offline else report["planka"]["url"]
        say(f"Dry run against {where}: nothing was changed in Planka")
        headings = ("kind", "would create", "would update", "unchanged", "failed")
    else:
        say(f"Imported {report['archive']} into {report['planka']['url']} "
            f"(Planka {report['planka']['version']})")
        headings = ("kind", "created", "updated", "unchanged", "failed")
    rows = [(kind, counts["created"], counts["updated"], counts["unchanged"], counts["failed"])
            for kind, counts in report["counts"].items()]
    if report.get("already_applied"):
        before = report["already_applied"]
        say(f"Nothing to do: this archive was applied completely by the run that finished "
            f"{before['finished_at']}, with the same settings, and the ledger has not changed since "
            f"(--recheck replans every board; `k2p check` compares Planka with the archive)")
    else:
        table("Objects", headings, rows)
    if report["fidelity"]:
        table(f"Fidelity (what Planka could not hold as is; all {report['fidelity_notes_total']} notes "
              f"are in the report)", ("category", "field", "count", "example"),
              [(item["category"], item["field"], item["count"], (item["examples"] or [""])[0][:90])
               for item in report["fidelity"]])
    _show_people(report, outcome.dry_run)
    _show_delta(report, outcome.dry_run)
    for failure in report["failures"][:10]:
        say(f"  FAILED {failure['key']}: {failure['message']}")
    if len(report["failures"]) > 10:
        say(f"  … {len(report['failures']) - 10} more failures in the report")
    if report.get("ledger"):
        say(f"Ledger: {report['ledger']}")
    say(f"Report: {outcome.report_path}")
    say(f"Archive fingerprint: {report['fingerprint']}")


def _show_delta(report: dict[str, Any], dry_run: bool) -> None:
    """Deleted in Kaiten and conflicts: each listed (the first 20 here, all in the report)."""
    deleted = report.get("deleted_in_kaiten") or {}
    items = deleted.get("items") or []
    if items:
        table(f"Deleted in Kaiten ({len(items)}; --on-deleted {deleted['policy']}"
              f"{', what the import would do' if dry_run else ''})", ("kind", "key", "title", "done"),
              [(item["kind"], item["key"], (item["title"] or "")[:50], item["done"]) for item in items[:20]])
        if len(items) > 20:
            say(f"  … {len(items) - 20} more in the report")
    conflicts = report.get("conflicts") or {}
    if not conflicts.get("checked", True):
        say("Conflicts: not checked (offline dry run; give --planka-url to compare with Planka)")
    found = conflicts.get("items") or []
    if found:
        table(f"Conflicts: changed in Planka since the last import, changed in Kaiten too ({len(found)}; "
              f"--on-conflict {conflicts['policy']})", ("key", "field", "Planka", "Kaiten", "resolution"),
              [(item["key"], item["field"], str(item["planka"])[:40], str(item["kaiten"])[:40], item["resolution"])
               for item in found[:20]])
        if len(found) > 20:
            say(f"  … {len(found) - 20} more in the report")


def _show_people(report: dict[str, Any], dry_run: bool) -> None:
    people, notes = report.get("people") or {}, report.get("notifications") or {}
    if people.get("passwords_written"):
        say(f"Passwords of {people['passwords_written']} new account(s): {people['credentials_file']} "
            f"(mode 0600; hand them out, then delete the file)")
    if notes.get("caused"):
        verb = "will cause" if dry_run else "caused"
        say(f"Notifications: the import {verb} {notes['caused']} notification(s) to "
            f"{notes['accounts']} pre-existing account(s) (card memberships added by the importing "
            f"account); pause SMTP and webhooks first, see README")
