"""``k2p export``: crawl everything the token can see into an archive, in resumable units.

Units run in a fixed order; each one writes its records, checkpoints the record files and is then
committed in the journal. Rerunning the same command on an interrupted output directory skips
committed units and continues from the last checkpoint, so the sealed archive's ``records/`` and
``blobs/`` are identical to those of an uninterrupted run.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import requests

from k2p import __version__, jsoncodec
from k2p.archive.format import MANIFEST, REPORTS_DIR, WORK_DIR, SourceInfo
from k2p.archive.reader import ArchiveReader
from k2p.archive.writer import ArchiveWriter, SealedArchive
from k2p.errors import ExitCode, K2PError, Refused, RemoteError, local_io_error
from k2p.fileio import crash_point, fsync_dir
from k2p.kaiten.client import KaitenClient, KaitenHTTPError
from k2p.kaiten.context import CrawlContext, UnitOutput
from k2p.kaiten import crawl_company, crawl_structure
from k2p.kaiten.crawl_cards import CardBatchExporter
from k2p.kaiten.delta.carry import CardCarrier
from k2p.kaiten.delta.previous import PreviousArchive, check_previous
from k2p.kaiten.delta.session import DeltaExport
from k2p.kaiten.endpoint import KaitenEndpoint, parse_kaiten_url
from k2p.kaiten.extras import units as extras
from k2p.kaiten.filehosts import FileHostPolicy
from k2p.kaiten.files import FileFetcher
from k2p.kaiten.journal import ExportJournal
from k2p.kaiten.options import ExportOptions
from k2p.timestamps import utc_now

JOURNAL = "export.sqlite"
REPORT = "export-report.json"


@dataclass(frozen=True)
class ExportOutcome:
    sealed: SealedArchive
    report: dict[str, Any]
    resumed: bool


def prepare_output(out: Path, *, restart: bool) -> bool:
    """Decide between a fresh export and a resume; returns True when resuming.

    A manifest next to the journal means the last run died right after sealing: that is a resume
    too, which only removes the journal (see :func:`_finish_seal`).
    """
    has_journal = (out / WORK_DIR / JOURNAL).exists()
    if (out / MANIFEST).exists() and (restart or not has_journal):
        if not restart:
            raise Refused(f"{out} already holds a complete archive; choose another --out, or pass "
                          f"--restart to export into it again from scratch")
        _wipe(out)
        return False
    if has_journal:
        if restart:
            _wipe(out)
            return False
        return True
    if out.exists() and any(out.iterdir()):
        raise Refused(f"{out} is not empty and holds no k2p export; choose a new --out directory")
    return False


def _wipe(out: Path) -> None:
    """Empty ``out`` but keep the directory itself (it carries the lock of this run)."""
    for child in out.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


@contextmanager
def _exclusive(out: Path) -> Iterator[None]:
    """Refuse a second export writing into the same directory at the same time.

    The lock is taken on the directory itself, before anything in it is looked at or changed, so a
    refused second run cannot discard the first one's downloads or wipe it (``--restart``).
    """
    if out.exists() and not out.is_dir():
        raise Refused(f"{out} is a file, not a directory; choose a new --out directory")
    out.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - non-POSIX: no advisory locks
        yield
        return
    fd = os.open(out, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise Refused(f"another k2p export is writing {out}; wait for it or stop it first") from None
        yield
    finally:
        os.close(fd)


class UnitRunner:
    """Runs named units once each and commits them with their record checkpoint."""

    def __init__(self, ctx: CrawlContext) -> None:
        self.ctx = ctx

    def run(self, name: str, step: Callable[[UnitOutput], None]) -> bool:
        journal = self.ctx.journal
        if journal.is_done(name):
            return False
        started = time.monotonic()
        out = UnitOutput()
        try:
            step(out)
        except KaitenHTTPError as error:  # an answer no step expected: the unit fails, resumably
            raise RemoteError(f"export step {name}: {error}; rerun the same command to resume, or "
                              f"report it if it persists") from None
        positions = self.ctx.writer.checkpoint()
        out.counters["active_ms"] += int((time.monotonic() - started) * 1000)
        journal.commit_unit(name, positions, board_cards=out.board_cards, card_tags=out.card_tags,
                            stored_files=out.stored_files, listings=out.listings,
                            counters=dict(out.counters),
                            meta=out.meta, stats=self.ctx.client.stats.to_dict())
        return True


def run_export(options: ExportOptions, token: str, *, restart: bool = False,
               on_progress: Callable[[str, Any], None] | None = None) -> ExportOutcome:
    """Export (or resume exporting) into ``options.out``; returns the sealed archive and report."""
    endpoint = parse_kaiten_url(options.kaiten_url)
    client = KaitenClient(endpoint, token, rps=options.rps, ca_bundle=options.ca_bundle)
    # The token is checked before anything on disk changes: a wrong token must neither wipe an
    # archive (--restart) nor bind the next attempt to this run's options.
    identity = crawl_company.fetch_identity(client)
    if options.since is not None and options.since.resolve() == options.out.resolve():
        raise Refused(f"--out {options.out} is the --since archive itself; write the new archive "
                      f"into a new directory")
    # PREVIOUS is checked before anything under --out exists or changes.
    previous = check_previous(options.since, api_base=endpoint.api_base, company_id=identity.get("company_id"),
                              scope=options.scope()) if options.since is not None else None
    with _exclusive(options.out), _local_io_errors(options.out):
        resumed = prepare_output(options.out, restart=restart)
        if resumed and (options.out / MANIFEST).exists():
            return _finish_seal(options.out)
        writer = ArchiveWriter(options.out, resume=resumed)
        journal = ExportJournal(options.out / WORK_DIR / JOURNAL)
        try:
            return _run(options, client, identity, writer, journal, resumed, on_progress, previous)
        finally:
            journal.close()


@contextmanager
def _local_io_errors(out: Path) -> Iterator[None]:
    """A full disk or a permission problem under ``out`` is a one-line LocalIOError naming the file."""
    try:
        yield
    except (OSError, sqlite3.OperationalError) as exc:
        if isinstance(exc, requests.RequestException):
            raise
        error = exc if isinstance(exc, OSError) else OSError(0, str(exc), str(out / WORK_DIR / JOURNAL))
        raise local_io_error(error, out, "free disk space or fix permissions, then rerun the same "
                                         "command to resume") from None


def _run(options: ExportOptions, client: KaitenClient, identity: dict[str, Any], writer: ArchiveWriter,
         journal: ExportJournal, resumed: bool, on_progress: Callable[[str, Any], None] | None,
         previous: PreviousArchive | None = None) -> ExportOutcome:
    progress = on_progress or (lambda event, value: None)
    client.stats.load(journal.get("stats") or {})
    ctx = CrawlContext(client, writer, journal, options, on_progress=progress)
    _guard_settings(journal, options, client.endpoint)
    _guard_identity(journal, options, identity)
    delta = DeltaExport.start(options, previous, journal, writer.work_dir) if previous is not None else None
    try:
        writer.restore(journal.last_positions() or {})
        journal.put("runs", int(journal.get("runs") or 0) + 1)
        return _run_units(ctx, UnitRunner(ctx), identity, resumed, delta, progress)
    finally:
        if delta is not None:
            delta.close()


def _run_units(ctx: CrawlContext, runner: UnitRunner, identity: dict[str, Any], resumed: bool,
               delta: DeltaExport | None, progress: Callable[[str, Any], None]) -> ExportOutcome:
    options, journal = ctx.options, ctx.journal

    progress("phase", "company")
    runner.run("identity", lambda out: crawl_company.export_identity(ctx, out, identity))
    runner.run("users", lambda out: crawl_company.export_users(ctx, out))
    runner.run("card_types", lambda out: crawl_company.export_card_types(ctx, out))
    runner.run("custom_properties", lambda out: crawl_company.export_custom_properties(ctx, out))
    runner.run("tags", lambda out: crawl_company.export_tags(ctx, out))
    runner.run("sprints", lambda out: crawl_company.export_sprints(ctx, out))

    progress("phase", "spaces")
    runner.run("spaces", lambda out: crawl_structure.export_spaces(ctx, out))
    _refuse_unknown("--space", options.spaces, journal.get("scoped_space_ids") or [])
    for space_id in journal.get("space_ids") or []:
        runner.run(f"space:{space_id}", lambda out, sid=space_id: crawl_structure.export_space(ctx, out, sid))
    runner.run("boards", lambda out: crawl_structure.export_boards(ctx, out))
    board_ids = journal.get("board_ids") or []
    _refuse_unknown("--board", options.boards, board_ids)
    _refuse_unknown("--refresh-board", options.refresh_boards, board_ids)
    if options.lists_company_wide:
        runner.run("listing", lambda out: crawl_structure.export_company_listing(ctx, out))
    progress("boards_total", len(board_ids))
    progress("phase", "boards")
    for board_id in board_ids:
        runner.run(f"board:{board_id}", lambda out, bid=board_id: crawl_structure.export_board(ctx, out, bid))
        progress("board", 1)
    if options.full_scope:
        runner.run("sweep", lambda out: crawl_structure.export_card_sweep(ctx, out))

    if delta is not None:
        runner.run("delta_plan", lambda out: delta.plan(ctx, out))
        runner.run("delta_blobs", lambda out: delta.place_blobs(ctx, out))
    _export_cards(ctx, runner, options, [str(board) for board in board_ids] + ["sweep"], progress,
                  delta.carrier(ctx) if delta is not None else None)
    if delta is not None:
        runner.run("deleted_cards", lambda out: delta.export_deleted_cards(ctx, out))
    runner.run("card_tags", lambda out: crawl_company.export_card_only_tags(ctx, out))
    extras.run_units(ctx, runner, progress, delta.carrier(ctx) if delta is not None else None)

    progress("phase", "sealing")
    crash_point("seal:start")
    return _seal(ctx, identity, resumed, delta)


def _batches(ctx: CrawlContext, groups: list[str], size: int) -> Iterator[tuple[str, list[str]]]:
    """``(unit name, card ids)`` of every card batch, one board's ids read at a time."""
    for group in groups:
        ids = ctx.journal.board_card_ids(group)
        for start in range(0, len(ids), size):
            yield f"cards:{group}:{start // size}", ids[start:start + size]


def _export_cards(ctx: CrawlContext, runner: UnitRunner, options: ExportOptions, groups: list[str],
                  progress: Callable[[str, Any], None], carrier: CardCarrier | None = None) -> None:
    progress("phase", "cards")
    progress("cards_total", sum(ctx.journal.board_card_count(group) for group in groups))
    fetcher = FileFetcher(ctx.client, ctx.writer.blobs, download=options.files, max_size=options.max_file_size,
                          on_bytes=lambda size: progress("bytes", size),
                          policy=FileHostPolicy(ctx.client.endpoint, options.allow_file_hosts))
    exporter = CardBatchExporter(ctx, fetcher, carrier)
    try:
        for name, ids in _batches(ctx, groups, options.batch_size):
            if not runner.run(name, lambda out, batch=ids: exporter.export_batch(out, batch)):
                progress("card", len(ids))
    finally:
        exporter.close()


def _refuse_unknown(option: str, chosen: tuple[int, ...], found: list[Any]) -> None:
    """Stop when a chosen space or board is not visible to the token (an empty export helps nobody)."""
    unknown = sorted(set(chosen) - {int(item) for item in found})
    if unknown:
        raise K2PError(f"{option} {', '.join(map(str, unknown))}: not visible to this token (or not "
                       f"in any space it can see); check the id, then rerun with --restart",
                       exit_code=ExitCode.USAGE)


def _guard_settings(journal: ExportJournal, options: ExportOptions, endpoint: KaitenEndpoint) -> None:
    wanted = options.content_settings(endpoint.api_base)
    saved = journal.get("settings")
    if saved is None:
        journal.put("settings", wanted)
        journal.put("created_at", utc_now())
        return
    changed = [f"{key} {saved.get(key)!r} → {wanted.get(key)!r}" for key in wanted
               if saved.get(key) != wanted.get(key)]
    if changed:
        raise Refused(f"{options.out} holds an interrupted export started with other options "
                      f"({'; '.join(changed)}); rerun with the same options, or pass --restart")


def _guard_identity(journal: ExportJournal, options: ExportOptions, identity: dict[str, Any]) -> None:
    saved = journal.get("user_id")
    if saved is None:
        journal.put("user_id", identity["id"])
    elif saved != identity["id"]:
        raise Refused(f"{options.out} holds an interrupted export made with another user's token "
                      f"(user {saved}, now {identity['id']}); use the same token, or pass --restart")


def _company_name(identity: dict[str, Any]) -> str | None:
    """The company's name if ``/users/current`` states it (a ``company`` object or a flat field)."""
    company = identity.get("company")
    return company.get("name") if isinstance(company, dict) else identity.get("company_name")


def _finish_seal(out: Path) -> ExportOutcome:
    """The last run died after writing the manifest: the archive is complete, only the journal
    (the writer's scratch directory) is left to remove."""
    shutil.rmtree(out / WORK_DIR)
    fsync_dir(out)
    with ArchiveReader(out) as reader:
        sealed = SealedArchive(out, reader.manifest, reader.fingerprint() or "")
    report = jsoncodec.loads((out / REPORTS_DIR / REPORT).read_bytes())
    return ExportOutcome(sealed, report, resumed=True)


def _seal(ctx: CrawlContext, identity: dict[str, Any], resumed: bool,
          delta: DeltaExport | None = None) -> ExportOutcome:
    journal, writer, options = ctx.journal, ctx.writer, ctx.options
    counters = journal.counters()
    referenced = {sha for sha, _ in journal.stored_files().values()}
    writer.prune_blobs(keep=referenced)
    expected = {"cards": counters.get("cards_listed", 0), **extras.expected(counters)}
    coverage = extras.collection_coverage(ctx, expected)
    missing = writer.missing_reasons()
    endpoint = ctx.client.endpoint
    source = SourceInfo(base_url=endpoint.api_base, api_version=endpoint.api_version,
                        company_id=identity.get("company_id"),
                        company_name=_company_name(identity),
                        user_id=identity.get("id"), user_name=identity.get("full_name"))
    report = {
        "k2p_version": __version__,
        "source": source.model_dump(),
        "scope": options.scope(),
        "started_at": journal.get("created_at"),
        "finished_at": utc_now(),
        "runs": journal.get("runs"),
        "active_seconds": round(counters.get("active_ms", 0) / 1000, 1),
        "rate": {"configured_rps": options.rps, "final_rps": round(ctx.client.limiter.rate, 2),
                 "concurrency": options.concurrency},
        "requests": ctx.client.stats.to_dict(),
        "collections": writer.record_counts(),
        "expected": expected,
        "missing": {"count": sum(missing.values()), "by_reason": missing},
        "coverage": {name: entry.model_dump(exclude_none=True) for name, entry in coverage.items()},
    }
    chain = delta.chain(counters) if delta is not None else None
    if chain is not None:
        report["chain"] = chain.model_dump()
    writer.write_report(REPORT, report)
    sealed = writer.finalize(source=source, exporter_version=__version__,
                             created_at=journal.get("created_at"), scope=options.scope(),
                             expected=expected, chain=chain, coverage=coverage)
    return ExportOutcome(sealed, report, resumed)

