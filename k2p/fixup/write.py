"""``k2p fixup-sql``: write the reviewed fix-up script and its undo script."""

from __future__ import annotations

import os
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from k2p import __version__
from k2p.archive.reader import ArchiveReader
from k2p.archive.verify import verify_archive
from k2p.errors import ExitCode, K2PError, Refused
from k2p.fileio import atomic_writer
from k2p.fixup.source import SLACK_SECONDS, LedgerView, Targets, collect_targets, read_ledger
from k2p.fixup.sql import TABLES, fixup_script, undo_script
from k2p.timestamps import utc_now

APPLY = "psql -v ON_ERROR_STOP=1 -1 -f {script} <connection options or URL of the Planka database>"


@dataclass
class FixupOutcome:
    """What ``write_fixup`` wrote: planned rows per Planka table (an upper bound of what changes)."""

    output: Path
    undo_output: Path
    counts: dict[str, int] = field(default_factory=dict)   # table → target rows
    moves: int = 0                                          # moveCard actions planned (--history)
    people: int = 0                                         # Kaiten people with a Planka account
    created_accounts: int = 0                               # … of which k2p created the account
    without_time: int = 0                                   # ledger objects without a Kaiten time

    def table(self) -> list[tuple[str, int]]:
        """Rows for the CLI's summary table: ``(what, planned rows)``."""
        rows = [(table.name, self.counts.get(table.name, 0)) for table in TABLES]
        rows.append(("action (createCard)", self.counts.get("card", 0)))
        if self.moves:
            rows.append(("action (moveCard history)", self.moves))
        return rows


def default_undo_path(output: Path) -> Path:
    """``fixup.sql`` → ``fixup-undo.sql``."""
    return output.with_name(f"{output.stem}-undo{output.suffix or '.sql'}")


def _header(title: str, archive: Path, ledger: LedgerView, fingerprint: str | None,
            lines: list[str]) -> str:
    body = [f"k2p {__version__} {title}, generated {utc_now()}",
            f"archive: {archive.name} (fingerprint {fingerprint or 'unknown'})",
            f"ledger: {ledger.path.name}",
            f"guard: rows count as imported when updated_at (else created_at) <= {ledger.high_water} UTC",
            *lines]
    return "\n".join(f"-- {line}" for line in body)


def write_fixup(archive: Path, ledger: Path, output: Path, *, undo_output: Path | None = None,
                history: bool = False, force: bool = False,
                slack_seconds: float = SLACK_SECONDS) -> FixupOutcome:
    """Write ``output`` (the fix-up) and ``undo_output`` (default ``<output>-undo.sql``).

    CLI options: ``ARCHIVE``, ``--state LEDGER`` (required), ``-o/--output FILE`` (required),
    ``--undo-output FILE``, ``--history`` (Kaiten location history as moveCard actions),
    ``--force`` (replace existing output files), ``--slack SECONDS`` (guard tolerance, default 10).
    Both files are written atomically with mode 0600; nothing is written when a check fails.
    """
    undo_output = undo_output or default_undo_path(output)
    if output.resolve() == undo_output.resolve():
        raise K2PError(f"--undo-output must differ from --output ({output})", exit_code=ExitCode.USAGE)
    for path in (output, undo_output):
        if path.exists() and not force:
            raise Refused(f"{path} already exists; choose another -o/--undo-output or pass --force "
                          f"to replace it")
    view = read_ledger(ledger, slack_seconds=slack_seconds)
    try:
        return _write(archive, ledger, output, undo_output, view, history)
    finally:
        view.close()


def _write(archive: Path, ledger: Path, output: Path, undo_output: Path, view: LedgerView,
           history: bool) -> FixupOutcome:
    check = verify_archive(archive, level="fast")
    if not check.ok:
        raise K2PError(f"{archive}: the archive failed verification ({check.problems[0]}); run "
                       f"`k2p verify {archive}`", exit_code=check.exit_code)
    with ArchiveReader(archive) as reader:
        source = reader.manifest.source
        if view.source and view.source != {"base_url": source.base_url, "company_id": source.company_id}:
            raise Refused(f"ledger {ledger} belongs to another Kaiten company ({view.source}) than "
                          f"{archive}; pass the --state file of this archive's import")
        targets = collect_targets(reader, view, history=history)
    try:
        return _write_scripts(archive, output, undo_output, view, check.fingerprint, targets)
    finally:
        targets.close()


def _write_scripts(archive: Path, output: Path, undo_output: Path, view: LedgerView, fingerprint: str | None,
                   targets: Targets) -> FixupOutcome:
    outcome = FixupOutcome(output, undo_output, dict(Counter(row.table for row in targets.rows)),
                           len(targets.moves), len(view.people), len(view.created_people),
                           targets.without_time)
    planned = "; ".join(f"{name}: {count} row(s)" for name, count in outcome.table())
    apply, undo = APPLY.format(script=output.name), APPLY.format(script=undo_output.name)
    scripts = (
        fixup_script(targets.rows, targets.moves, view, _header(
            "SQL fix-up", archive, view, fingerprint,
            [f"apply: {apply}", f"undo:  {undo}", f"planned: {planned}"])),
        undo_script(_header("SQL fix-up undo", archive, view, fingerprint,
                            [f"restores what {output.name} saved in k2p_fixup_saved: {undo}"])))
    with ExitStack() as stack:      # both files, or neither
        for path, statements in zip((output, undo_output), scripts):
            handle = stack.enter_context(atomic_writer(path))
            os.fchmod(handle.fileno(), 0o600)
            for statement in statements:
                handle.write(statement.encode("utf-8") + b"\n\n")
    return outcome
