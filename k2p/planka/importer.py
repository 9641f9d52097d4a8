"""``k2p import``: replay a verified archive into Planka, or plan it with ``--dry-run``.

Order: verify the archive (fast level) → probe the server (2.x only) → authenticate → resolve the
user mapping → bind the ledger → accounts (``--create-users``, :mod:`k2p.people`) → plan projects
→ for each board: plan it, replay it → close the people work (settings, deactivations) and revoke
every per-user key. Nothing is written to Planka before every check passed. A dry run takes every
decision the real run would take, from the ledger, and sends no mutating request.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from pydantic import BaseModel, ConfigDict, Field

from k2p import __version__, heap
from k2p.archive.index import ArchiveIndex
from k2p.archive.opener import refuse_encrypted
from k2p.archive.reader import ArchiveReader
from k2p.archive.verify import verify_archive
from k2p.timestamps import utc_now
from k2p.delta import freshness
from k2p.delta.conflicts import KEEP_PLANKA, POLICIES as CONFLICT_POLICIES
from k2p.delta.deletions import ARCHIVE, POLICIES as DELETION_POLICIES
from k2p.delta.run import DeltaRun
from k2p.errors import ExitCode, K2PError
from k2p.mapping.board import plan_board
from k2p.mapping.model import BoardPlan, Fidelity, ProjectPlan
from k2p.mapping.projects import plan_projects
from k2p.mapping.rules import load_rules, localized
from k2p.mapping.members import space_admins
from k2p.mapping.ordering import id_order
from k2p.mapping.users import UserMap, UserRow, parse_user_csv, resolve_user_map
from k2p.people.provision import finish, start_people
from k2p.planka import applied, specs
from k2p.planka.documents import replay_documents
from k2p.planka.client import AmbiguousWrite, Credentials, PlankaClient, PlankaError, normalize_url
from k2p.planka.ledger import Ledger
from k2p.planka.positions import plan_positions
from k2p.planka.quiet import KEY as QUIET_KEY, QuietAccount
from k2p.planka.relations import CardRelations, RelationSpool, linked_cards, replay_relations
from k2p.planka.replay import ImportContext, guarded, known_positions, replay_board
from k2p.planka.report import with_notes, write_report
from k2p.planka.sync import Syncer, Tally

PROJECT_ROLES = ("admin", "projectOwner")
# The options that decide what a run plans and does (with the archive, rules, users file and ledger).
PLAN_OPTIONS = {"planka_url", "spaces", "boards", "create_users", "sso", "on_deleted", "on_conflict", "allow_older"}
_UNSAFE_IN_NAME = re.compile(r"[^A-Za-z0-9_-]+")


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
    create_users: bool = False
    credentials_out: Path | None = None
    sso: bool = False
    on_deleted: str = Field(ARCHIVE, pattern="^(" + "|".join(DELETION_POLICIES) + ")$")
    on_conflict: str = Field(KEEP_PLANKA, pattern="^(" + "|".join(CONFLICT_POLICIES) + ")$")
    allow_older: bool = False
    recheck: bool = False       # replan every board even when the ledger shows this archive applied


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
    """``k2p-ledger-<company>.sqlite`` in the working directory. The company id comes from the
    archive's manifest (untrusted), so only its letters, digits, ``_`` and ``-`` name the file."""
    safe = _UNSAFE_IN_NAME.sub("_", str(company_id or "")).strip("_")[:64]
    return Path(f"k2p-ledger-{safe or 'company'}.sqlite")


def run_import(options: ImportOptions, credentials: Credentials,
               on_progress: Callable[[str, Any], None] | None = None) -> ImportOutcome:
    """Import (or plan) ``options.archive`` into the Planka at ``options.planka_url``."""
    progress = on_progress or (lambda event, value: None)
    if options.planka_url is None and not options.dry_run:
        raise K2PError("--planka-url is required (or use --dry-run to plan offline)", exit_code=ExitCode.USAGE)
    refuse_encrypted(options.archive, "`k2p import`",
                     "reads files at random and keeps a temporary index of records on disk")
    check = verify_archive(options.archive, level="fast")
    if not check.ok:
        raise K2PError(f"{options.archive}: refusing to import, the archive failed verification "
                       f"({len(check.problems)} problem(s), first: {check.problems[0]}); run "
                       f"`k2p verify {options.archive}`", exit_code=check.exit_code)
    started = utc_now()
    with ArchiveReader(options.archive) as reader:
        with ArchiveIndex(reader, cards=False) as index:   # cards: once the run has work to do
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


def _users_file(options: ImportOptions) -> bytes | None:
    if options.users is None:
        return None
    try:
        return options.users.read_bytes()
    except OSError as exc:
        raise K2PError(f"cannot read --users file {options.users}: {exc.strerror}", exit_code=ExitCode.USAGE) from None


def _user_rows(options: ImportOptions, data: bytes | None) -> dict[str, UserRow]:
    if data is None:
        return {}
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise K2PError(f"--users file {options.users} is not UTF-8 text ({exc.reason} at byte {exc.start}); "
                       f"save it as UTF-8 and run again", exit_code=ExitCode.USAGE) from None
    return parse_user_csv(text, source=str(options.users))


def _user_map(options: ImportOptions, index: ArchiveIndex, planka_users: list[dict] | None,
              rows: dict[str, UserRow]) -> UserMap:
    wanted = {kaiten_id: row.planka_user for kaiten_id, row in rows.items() if row.action == "map"}
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
                chosen.append(ProjectPlan(project.key, project.name, project.description, kept,
                                          type=project.type))
    return chosen


def _run(options: ImportOptions, credentials: Credentials, reader: ArchiveReader, index: ArchiveIndex,
         fingerprint: str | None, started: str, progress: Callable[[str, Any], None]) -> ImportOutcome:
    rules = localized(load_rules(options.mapping), index.company)   # language "auto" → the archive's
    tally, fidelity = Tally(), Fidelity()
    projects = _select(plan_projects(index.company, rules, fidelity), options)  # before any request
    users_file = _users_file(options)
    rows = _user_rows(options, users_file)
    creating = sorted(kaiten_id for kaiten_id, row in rows.items() if row.action == "create")
    if options.create_users and creating and not options.sso and options.credentials_out is None and \
            not options.dry_run:
        raise K2PError("--create-users needs --credentials-out FILE (where the new accounts' passwords "
                       "are written, mode 0600), or --sso for accounts that log in through single "
                       "sign-on", exit_code=ExitCode.USAGE)
    client, me, planka_users = (None, None, None)
    if options.planka_url is not None:
        progress("phase", "connecting")
        client, me, planka_users = _connect(options, credentials)
    users = _user_map(options, index, planka_users, rows)
    source = {"base_url": reader.manifest.source.base_url, "company_id": reader.manifest.source.company_id}
    target = {"url": normalize_url(options.planka_url) if options.planka_url else None}
    with tempfile.TemporaryDirectory(prefix="k2p-plan-") as scratch:
        ledger = _open_ledger(options, source, target if client else None, Path(scratch))
        syncer = Syncer(ledger, tally, dry_run=options.dry_run)
        run = {"started_at": started, "finished_at": None, "completed": False, "server_high_water": None}
        stamp = freshness.stamp_of(reader, fingerprint)
        settings = _settings(options, fingerprint, rules, users_file, me, planka_users)
        try:
            freshness.guard(ledger, stamp, allow_older=options.allow_older, archive=str(options.archive))
            before = None if options.recheck else applied.already_applied(ledger, fingerprint, settings)
        except K2PError:
            ledger.close()
            raise
        if before is not None:
            ledger.close()
            return _nothing_to_do(options, reader, fingerprint, client, started, tally, users, before, stamp)
        progress("phase", "indexing archive")
        index.index_cards()
        for card_id in index.company.repeated_card_ids:
            fidelity.add("skipped", f"card:{card_id}", "record", "the archive holds this card's record more than "
                         "once (k2p writes each card once: check where the archive came from); the first was used")
        unnamed = index.company.repeated_cards - len(index.company.repeated_card_ids)
        if unnamed > 0:
            fidelity.add("skipped", "archive", "record", f"{index.company.repeated_cards} card records repeat an "
                         f"earlier card's id; the first {len(index.company.repeated_card_ids)} are named in their own "
                         f"notes, the other {unnamed} were left out the same way")
        try:
            if not options.dry_run:
                ledger.record_run(run)
                freshness.record(ledger, stamp, applied_at=started, completed=False)
            ctx = ImportContext(client, syncer, tally, reader, me["id"] if me else None,
                                options.concurrency, progress)
            ctx.delta = DeltaRun(ctx, on_deleted=options.on_deleted, on_conflict=options.on_conflict,
                                 in_archive=index.has_card)
            ctx.quiet = QuietAccount(client, ledger, me, dry_run=options.dry_run)
            progress("phase", "people")
            users, people = start_people(ctx, index.company, rules, users, creating, planka_users or [], fidelity,
                                         create_users=options.create_users, credentials_out=options.credentials_out,
                                         sso=options.sso, users_file=options.users)
            try:
                progress("boards_total", sum(len(project.boards) for project in projects))
                linked = linked_cards(ctx, index.board_of,
                                      {ref.board_id for project in projects for ref in project.boards})
                planned = replay_projects(ctx, projects, index, rules, users, fidelity, linked)
                if rules.documents == "board" and not options.boards:   # k2p.planka.documents
                    progress("phase", "documents")
                    replay_documents(ctx, index, rules, users, fidelity, projects, planned, spaces=options.spaces)
                progress("phase", "deleted in Kaiten")
                ctx.delta.finish(reader, index, selected=bool(options.spaces or options.boards))
                finish(ctx, people.plans, people.people, people.actors,
                       whole_archive=not options.spaces and not options.boards, fidelity=fidelity)
            finally:
                restore_settings(ctx)
                people_report = people.report(ctx)
            ledger_path = ledger.path
            run["completed"] = True
        finally:
            if not options.dry_run:
                ledger.record_run({**run, "finished_at": utc_now(), "server_high_water": syncer.high_water})
                freshness.record(ledger, stamp, applied_at=started, completed=bool(run["completed"]) and not tally.failed)
                if run["completed"] and not tally.failed and client is not None:
                    _record_applied(client, ledger, options, fingerprint, rules, users_file, me, run)
            ledger.close()
    report = _report(options, reader, fingerprint, client, started, tally, fidelity, users,
                     ledger_path if not options.dry_run or options.state else None)
    report["people"] = people_report
    report["archive_stamp"] = stamp.as_record()
    report.update(ctx.delta.report())
    report["notifications"] = {"caused": sum(ctx.notified.values()), "accounts": len(ctx.notified),
                               "note": "to pre-existing accounts (card memberships added by the importing "
                                       "account); accounts k2p created are never notified"}
    path = _report_path(options, started)
    write_report(path, report, fidelity)
    return ImportOutcome(with_notes(report, fidelity), path, tally, options.dry_run, client is None)


def _settings(options: ImportOptions, fingerprint: str | None, rules: Any, users_file: bytes | None,
              me: dict[str, Any] | None, accounts: list[dict[str, Any]] | None) -> str:
    return applied.settings_digest(fingerprint=fingerprint, rules=rules, users_file=users_file, me=me,
                                   planka_users=accounts, options=options.model_dump(mode="json", include=PLAN_OPTIONS))


def _record_applied(client: PlankaClient, ledger: Ledger, options: ImportOptions, fingerprint: str | None,
                    rules: Any, users_file: bytes | None, me: dict[str, Any] | None, run: dict[str, Any]) -> None:
    """Remember a complete, clean run with Planka's accounts as it leaves them (it may have created
    some: they are what a rerun sees); when they cannot be read, the next run simply replans."""
    try:
        accounts = list(client.get("/api/users").get("items", []))
    except (PlankaError, K2PError):
        return
    settings = _settings(options, fingerprint, rules, users_file, me, accounts)
    applied.record_applied(ledger, fingerprint, settings, {**run, "finished_at": utc_now()})


def _nothing_to_do(options: ImportOptions, reader: ArchiveReader, fingerprint: str | None,
                   client: PlankaClient | None, started: str, tally: Tally, users: UserMap,
                   before: dict[str, Any], stamp: freshness.ArchiveStamp) -> ImportOutcome:
    """The outcome of a run whose archive and settings the ledger shows applied completely."""
    nothing = Fidelity()
    report = _report(options, reader, fingerprint, client, started, tally, nothing, users,
                     options.state or default_ledger_path(reader.manifest.source.company_id))
    report["already_applied"] = {
        "started_at": before.get("started_at"), "finished_at": before.get("finished_at"),
        "note": "this archive was applied completely, without failures, with the same settings, and the "
                "ledger has not changed since: nothing to do (--recheck replans every board; "
                "`k2p check` compares Planka with the archive)"}
    report["archive_stamp"] = stamp.as_record()
    path = _report_path(options, started)
    write_report(path, report, nothing)
    return ImportOutcome(with_notes(report, nothing), path, tally, options.dry_run, client is None)


def _report_path(options: ImportOptions, started: str) -> Path:
    return options.report or Path(f"k2p-import-{'plan' if options.dry_run else 'report'}-"
                                  f"{started.replace('-', '').replace(':', '')}.json")


def replay_projects(ctx: ImportContext, projects: list[ProjectPlan], index: ArchiveIndex, rules: Any,
                    users: UserMap, fidelity: Fidelity, linked: Callable[[str], bool]) -> "PlannedCards":
    """The project, board and relation steps of an import for ``projects`` with a ready context
    (the import runs them once; ``k2p check --repair`` again for what it invalidated in the ledger).
    Returns the cards planned."""
    relations = RelationSpool()
    planned = PlannedCards(index.board_of)
    try:
        for project in projects:
            _replay_project(ctx, project, index, rules, users, fidelity, relations, planned, linked)
        ctx.on_progress("phase", "relations")
        replay_relations(ctx, relations, planned, fidelity)   # once every card of the run exists
    finally:
        relations.close()
    return planned


class PlannedCards:
    """The card keys a run planned, without holding a key per card (at 100,000 cards that would be
    about 9 MB): a card the archive holds is planned when its board was (the index knows each
    card's board); only the cards planned on another board than the index's are kept by key."""

    def __init__(self, board_of: Callable[[str], str | None]) -> None:
        self._board_of = board_of
        self._boards: set[str] = set()
        self._other: set[str] = set()

    def add(self, plan: BoardPlan) -> None:
        board_id = plan.key.split(":", 1)[1]
        self._boards.add(board_id)
        self._other.update(card.key for card in plan.cards if self._board_of(card.key.split(":", 1)[1]) != board_id)

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        kind, _, card_id = key.partition(":")
        return key in self._other or (kind == "card" and self._board_of(card_id) in self._boards)


def restore_settings(ctx: ImportContext) -> None:
    """Give the importing account its subscribing settings back; when that fails, the next run does."""
    assert ctx.quiet is not None
    try:
        ctx.quiet.restore()
    except (PlankaError, AmbiguousWrite, K2PError) as error:
        ctx.tally.fail(QUIET_KEY, "account_settings", str(error))


def _replay_project(ctx: ImportContext, project: ProjectPlan, index: ArchiveIndex, rules: Any,
                    users: UserMap, fidelity: Fidelity, relations: RelationSpool, planned: "PlannedCards",
                    linked: Callable[[str], bool]) -> None:
    # The type is chosen at creation only (Planka cannot turn a project with several managers private).
    before = ctx.syncer.row(project.key)
    kind = str(before.state.get("type", "shared")) if before is not None and before.done else project.type
    if kind != project.type:
        fidelity.add("lossy", project.key, "type", f"created {kind} by an earlier import, kept {kind}; "
                     f"change it in Planka's project settings if wanted")
    result = guarded(ctx, project.key, "project", lambda: ctx.syncer.ensure(
        project.key, None, project.fields(), specs.project(ctx.client, project.name, kind),  # type: ignore[arg-type]
        state={"type": kind}))
    if result is None:
        return
    space_id = project.key.split(":", 1)[1]
    for kaiten_id in sorted(space_admins(index.company, rules, [space_id]), key=id_order):
        planka_id = users.get(kaiten_id)
        if planka_id is None or planka_id == ctx.me or planka_id not in users.managers:
            continue
        if kind == "private":   # its creator is its only manager: Planka refuses any other
            fidelity.add("lossy", project.key, "managers", f"space admin {kaiten_id} is a board member, not a "
                         f"project manager: a private Planka project has one manager, its creator")
            continue
        key = f"{project.key}:manager:{planka_id}"
        guarded(ctx, key, "project_manager", lambda key=key, planka_id=planka_id: ctx.syncer.ensure(
            key, result.planka_id, {}, specs.project_manager(ctx.client, result.planka_id, planka_id)))  # type: ignore[arg-type]
    order = [ref.key for ref in project.boards]
    positions = plan_positions(order, known_positions(ctx, order))
    seen = False   # does anybody but the importing account see a board of the project?
    for ref in project.boards:
        ctx.on_progress("board", ref.board_id)
        if ctx.delta is not None:
            ctx.delta.prefetch(ref.key)      # Planka's side first, then the records and the plan
        plan = plan_board(ref.board_id, index.company, index.board(ref.board_id), rules, users, fidelity,
                          linked=linked)
        heap.release()                   # the board's records are gone (see k2p.heap)
        replay_board(ctx, result.planka_id, plan, positions[ref.key])
        seen = seen or any(member.user_id != ctx.me for member in plan.members)
        planned.add(plan)
        for card in plan.cards:
            if card.relations:
                relations.add(CardRelations(card.key, card.relations, [item.key for item in card.task_lists]))
        del plan
        heap.release()
    if kind == "private" and not seen:
        fidelity.add("lossy", project.key, "members", "private project without board members who have an "
                     "account: only the importing account sees it (map or create the space's members)")


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
        "mapped_users": len(users),
    }
