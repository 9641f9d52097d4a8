"""``k2p import``: replay a verified archive into Planka, or plan it with ``--dry-run``.

Order: verify the archive (fast level) → probe the server (2.x only) → authenticate → resolve the
user mapping → bind the ledger → plan projects → for each board: plan it, replay it. Nothing is
written to Planka before every check passed. A dry run takes every decision the real run would
take, from the ledger, and sends no mutating request.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import orjson
from pydantic import BaseModel, ConfigDict, Field

from k2p import __version__
from k2p.archive.index import ArchiveIndex
from k2p.archive.reader import ArchiveReader
from k2p.archive.verify import verify_archive
from k2p.archive.writer import utc_now
from k2p.errors import ExitCode, K2PError
from k2p.fileio import atomic_write_bytes
from k2p.redaction import redact_bytes
from k2p.mapping.board import plan_board
from k2p.mapping.model import Fidelity, ProjectPlan
from k2p.mapping.projects import plan_projects
from k2p.mapping.rules import load_rules
from k2p.mapping.users import UserMap, parse_user_csv, resolve_user_map
from k2p.planka import specs
from k2p.planka.client import Credentials, PlankaClient, normalize_url
from k2p.planka.ledger import Ledger
from k2p.planka.positions import plan_positions
from k2p.planka.replay import ImportContext, guarded, known_positions, replay_board
from k2p.planka.sync import Syncer, Tally

PROJECT_ROLES = ("admin", "projectOwner")


class ImportOptions(BaseModel):
    """``k2p import`` options."""

    model_config = ConfigDict(frozen=True)

    archive: Path
    planka_url: str | None = None
    dry_run: bool = False
    state: Path | None = None
    users: Path | None = None
    mapping: Path | None = None
    concurrency: int = Field(8, ge=1, le=64)
    spaces: tuple[int, ...] = ()
    boards: tuple[int, ...] = ()
    ca_bundle: str | None = None
    accept_terms: bool = False
    report: Path | None = None


@dataclass
class ImportOutcome:
    report: dict[str, Any]
    report_path: Path
    tally: Tally
    dry_run: bool
    offline: bool

    @property
    def exit_code(self) -> int:
        return ExitCode.PARTIAL if self.tally.failed else ExitCode.OK


def default_ledger_path(company_id: object) -> Path:
    return Path(f"k2p-ledger-{company_id or 'company'}.sqlite")


def run_import(options: ImportOptions, credentials: Credentials,
               on_progress: Callable[[str, Any], None] | None = None) -> ImportOutcome:
    """Import (or plan) ``options.archive`` into the Planka at ``options.planka_url``."""
    progress = on_progress or (lambda event, value: None)
    if options.planka_url is None and not options.dry_run:
        raise K2PError("--planka-url is required (or use --dry-run to plan offline)", exit_code=ExitCode.USAGE)
    check = verify_archive(options.archive, level="fast")
    if not check.ok:
        raise K2PError(f"{options.archive}: refusing to import, the archive failed verification "
                       f"({len(check.problems)} problem(s), first: {check.problems[0]}); run "
                       f"`k2p verify {options.archive}`", exit_code=check.exit_code)
    started = utc_now()
    with ArchiveReader(options.archive) as reader:
        progress("phase", "indexing archive")
        with ArchiveIndex(reader) as index:
            return _run(options, credentials, reader, index, check.fingerprint, started, progress)


def _connect(options: ImportOptions, credentials: Credentials) -> tuple[PlankaClient, dict[str, Any], list[dict]]:
    assert options.planka_url is not None
    client = PlankaClient(options.planka_url, credentials, accept_terms=options.accept_terms,
                          ca_bundle=options.ca_bundle)
    client.probe()
    client.authenticate()
    me = client.get("/api/users/me")["item"]
    if me.get("role") not in PROJECT_ROLES:
        raise K2PError(f"the Planka account {me.get('username') or me.get('email')!r} has role "
                       f"{me.get('role')!r}; importing creates projects, which needs an admin or "
                       f"projectOwner account", exit_code=ExitCode.REMOTE)
    return client, me, list(client.get("/api/users").get("items", []))


def _user_map(options: ImportOptions, index: ArchiveIndex, planka_users: list[dict] | None) -> UserMap:
    if options.users is None:
        return UserMap({}, index.company)
    try:
        text = options.users.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise K2PError(f"cannot read --users file {options.users}: {exc.strerror}", exit_code=ExitCode.USAGE) from None
    wanted = parse_user_csv(text, source=str(options.users))
    if planka_users is None:  # offline plan: the names cannot be checked against Planka
        return UserMap(dict(wanted), index.company)
    users, problems = resolve_user_map(wanted, planka_users, index.company)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise K2PError(f"{problems[0]}{more}; fix {options.users} (see `k2p users-template`) and run "
                       f"again — nothing was imported", exit_code=ExitCode.USAGE)
    return users


def _open_ledger(options: ImportOptions, source: dict[str, Any], target: dict[str, Any] | None,
                 scratch: Path) -> Ledger:
    path = options.state or default_ledger_path(source.get("company_id"))
    if options.dry_run and not path.exists():
        path = scratch / "ledger.sqlite"   # a plan must not leave a ledger behind
    ledger = Ledger(path)
    ledger.bind(source, target)
    return ledger


def _select(projects: list[ProjectPlan], options: ImportOptions) -> list[ProjectPlan]:
    if not options.spaces and not options.boards:
        return projects
    spaces = {f"project:{space}" for space in options.spaces}
    boards = {str(board) for board in options.boards}
    known_boards = {ref.board_id for project in projects for ref in project.boards}
    unknown = [f"--space {key.split(':', 1)[1]}" for key in sorted(spaces - {p.key for p in projects})]
    unknown += [f"--board {board}" for board in sorted(boards - known_boards)]
    if unknown:
        raise K2PError(f"{', '.join(unknown)}: not in the archive {options.archive}; see `k2p cat "
                       f"{options.archive} boards` for the ids it holds — nothing was imported",
                       exit_code=ExitCode.USAGE)
    chosen = []
    for project in projects:
        if project.key in spaces:
            chosen.append(project)
        elif boards:
            kept = [ref for ref in project.boards if ref.board_id in boards]
            if kept:
                chosen.append(ProjectPlan(project.key, project.name, project.description, kept))
    return chosen


def _run(options: ImportOptions, credentials: Credentials, reader: ArchiveReader, index: ArchiveIndex,
         fingerprint: str | None, started: str, progress: Callable[[str, Any], None]) -> ImportOutcome:
    rules = load_rules(options.mapping)
    tally, fidelity = Tally(), Fidelity()
    projects = _select(plan_projects(index.company, rules, fidelity), options)  # before any request
    client, me, planka_users = (None, None, None)
    if options.planka_url is not None:
        progress("phase", "connecting")
        client, me, planka_users = _connect(options, credentials)
    users = _user_map(options, index, planka_users)
    source = {"base_url": reader.manifest.source.base_url, "company_id": reader.manifest.source.company_id}
    target = {"url": normalize_url(options.planka_url) if options.planka_url else None}
    with tempfile.TemporaryDirectory(prefix="k2p-plan-") as scratch:
        ledger = _open_ledger(options, source, target if client else None, Path(scratch))
        try:
            ctx = ImportContext(client, Syncer(ledger, tally, dry_run=options.dry_run), tally, reader,
                                me["id"] if me else None, options.concurrency, progress)
            progress("boards_total", sum(len(project.boards) for project in projects))
            for project in projects:
                _replay_project(ctx, project, index, rules, users, fidelity)
            ledger_path = ledger.path
        finally:
            ledger.close()
    report = _report(options, reader, fingerprint, client, started, tally, fidelity, users,
                     ledger_path if not options.dry_run or options.state else None)
    path = options.report or Path(f"k2p-import-{'plan' if options.dry_run else 'report'}-"
                                  f"{started.replace('-', '').replace(':', '')}.json")
    atomic_write_bytes(path, redact_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2) + b"\n"))
    return ImportOutcome(report, path, tally, options.dry_run, client is None)


def _replay_project(ctx: ImportContext, project: ProjectPlan, index: ArchiveIndex, rules: Any,
                    users: UserMap, fidelity: Fidelity) -> None:
    result = guarded(ctx, project.key, "project", lambda: ctx.syncer.ensure(
        project.key, None, project.fields(), specs.project(ctx.client, project.name)))  # type: ignore[arg-type]
    if result is None:
        return
    order = [ref.key for ref in project.boards]
    positions = plan_positions(order, known_positions(ctx, order))
    for ref in project.boards:
        ctx.on_progress("board", ref.board_id)
        plan = plan_board(ref.board_id, index.company, index.board(ref.board_id), rules, users, fidelity)
        replay_board(ctx, result.planka_id, plan, positions[ref.key])


def _report(options: ImportOptions, reader: ArchiveReader, fingerprint: str | None,
            client: PlankaClient | None, started: str, tally: Tally, fidelity: Fidelity,
            users: UserMap, ledger_path: Path | None) -> dict[str, Any]:
    return {
        "k2p_version": __version__,
        "mode": "dry-run" if options.dry_run else "import",
        "offline": client is None,
        "archive": str(options.archive),
        "fingerprint": fingerprint,
        "source": reader.manifest.source.model_dump(),
        "planka": {"url": client.base_url if client else None, "version": client.version if client else None},
        "ledger": str(ledger_path) if ledger_path else None,
        "started_at": started,
        "finished_at": utc_now(),
        "counts": tally.table(),
        "failures": [{"key": failure.key, "kind": failure.kind, "message": failure.message}
                     for failure in tally.failures],
        "fidelity": fidelity.summary(),
        "fidelity_notes": [{"category": note.category, "entity": note.entity, "field": note.field,
                            "detail": note.detail} for note in fidelity.notes],
        "mapped_users": len(users),
    }
