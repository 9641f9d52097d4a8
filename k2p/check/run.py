"""``k2p check``: the whole run — archive and ledger opened, Planka connected, one board at a time.

Per board: plan it (:func:`k2p.mapping.board.plan_board`, with the people the ledger recorded) and
drop the archive's records, read it (:mod:`k2p.check.found`), compare (:mod:`k2p.check.compare`;
the comments card by card as they are read), hash the chosen files, then drop it all before the
next board: memory follows the largest board, not the company. With
``--repair`` (:mod:`k2p.check.repair`) the boards with differences are replayed through the
import's ledger protocol and checked again.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import orjson
from pydantic import BaseModel, ConfigDict, Field

from k2p import __version__, heap
from k2p.archive.index import ArchiveIndex, BoardRecords
from k2p.archive.opener import refuse_encrypted
from k2p.archive.reader import ArchiveReader
from k2p.archive.verify import verify_archive
from k2p.check.compare import BoardCheck, FileRead, People, compared_names, file_chooser
from k2p.check.found import BoardFound, get_or_none, read_board, read_comments
from k2p.check.verdict import Difference, Verdict
from k2p.errors import ExitCode, K2PError
from k2p.fileio import atomic_write_bytes
from k2p.mapping.board import plan_board
from k2p.mapping.model import BoardPlan, Fidelity, ProjectPlan
from k2p.mapping.projects import plan_projects
from k2p.mapping.rules import MappingRules, load_rules, localized
from k2p.mapping.users import MANAGER_ROLES, UserMap
from k2p.planka.client import Credentials, PlankaClient, PlankaError, normalize_url
from k2p.planka.importer import default_ledger_path
from k2p.planka.ledger import Ledger
from k2p.planka.positions import longest_increasing
from k2p.redaction import redact_bytes
from k2p.timestamps import utc_now

DEFAULT_CONCURRENCY = 4            # below the import's 8: a check should not load the server as much
DEFAULT_BYTE_BUDGET = 2 << 30      # files hashed by default: all of them, up to 2 GiB per run
MAX_FILE_BYTES = 64 << 30          # a download that runs past this is refused (hostile server)


class CheckOptions(BaseModel):
    """``k2p check`` options."""

    model_config = ConfigDict(frozen=True)

    archive: Path
    planka_url: str
    state: Path | None = None
    mapping: Path | None = None
    boards: tuple[int, ...] = ()
    sample: int | None = Field(None, ge=0)      # files hashed per board (deterministic choice)
    all_files: bool = False                     # every file, no byte budget
    byte_budget: int = Field(DEFAULT_BYTE_BUDGET, ge=0)
    concurrency: int = Field(DEFAULT_CONCURRENCY, ge=1, le=64)
    ca_bundle: str | None = None
    accept_terms: bool = False
    report: Path | None = None
    repair: bool = False


@dataclass
class CheckOutcome:
    verdict: Verdict                      # the final verdict (after a repair: the second check)
    report: dict[str, Any]
    report_path: Path | None
    first: Verdict | None = None          # with --repair: the check before the repair
    repair: dict[str, Any] | None = None

    @property
    def exit_code(self) -> int:
        if self.repair is not None and self.repair.get("failed"):
            return ExitCode.PARTIAL if self.verdict.clean else self.verdict.exit_code
        return self.verdict.exit_code


@dataclass
class Session:
    """What every board of a check (and of a repair) shares."""

    options: CheckOptions
    reader: ArchiveReader
    index: ArchiveIndex
    rules: MappingRules
    ledger: Ledger
    client: PlankaClient
    me: dict[str, Any]
    people: People
    users: UserMap
    projects: list[ProjectPlan]
    progress: Callable[[str, Any], None]
    linked: Callable[[str], bool] = lambda card_id: False
    bytes_left: int = 0
    board_plans: dict[str, Any] = field(default_factory=dict)


def run_check(options: CheckOptions, credentials: Credentials,
              on_progress: Callable[[str, Any], None] | None = None) -> CheckOutcome:
    """Check (and with ``options.repair`` repair, then check again) the import of ``options.archive``."""
    progress = on_progress or (lambda event, value: None)
    refuse_encrypted(options.archive, "`k2p check`", "keeps a temporary index of records on disk")
    check = verify_archive(options.archive, level="fast")
    if not check.ok:
        raise K2PError(f"{options.archive}: the archive failed verification ({len(check.problems)} "
                       f"problem(s), first: {check.problems[0]}); run `k2p verify {options.archive}`",
                       exit_code=check.exit_code)
    started = utc_now()
    with ArchiveReader(options.archive) as reader, ArchiveIndex(reader) as index:
        session = _open(options, credentials, reader, index, progress)
        try:
            first = check_all(session)
            outcome = CheckOutcome(first, {}, None)
            if options.repair and not first.clean:
                from k2p.check.repair import repair
                progress("phase", "repairing")
                outcome.repair = repair(session, first)
                progress("phase", "checking again")
                outcome.first, outcome.verdict = first, check_all(session)
        finally:
            session.ledger.close()
        outcome.report = _report(options, session, check.fingerprint, started, outcome)
    if options.report is not None:
        atomic_write_bytes(options.report, redact_bytes(orjson.dumps(outcome.report, option=orjson.OPT_INDENT_2)
                                                        + b"\n"))
        outcome.report_path = options.report
    return outcome


def _open(options: CheckOptions, credentials: Credentials, reader: ArchiveReader, index: ArchiveIndex,
          progress: Callable[[str, Any], None]) -> Session:
    rules = localized(load_rules(options.mapping), index.company)     # as the import: language "auto"
    every = plan_projects(index.company, rules, Fidelity())
    projects = _select(every, options)
    path = options.state or default_ledger_path(reader.manifest.source.company_id)
    if not path.exists():
        raise K2PError(f"no ledger at {path}: pass --state with the ledger of the import (k2p check "
                       f"compares what the import recorded with Planka)", exit_code=ExitCode.USAGE)
    progress("phase", "connecting")
    client = PlankaClient(options.planka_url, credentials, accept_terms=options.accept_terms,
                          ca_bundle=options.ca_bundle)
    client.probe()
    client.authenticate()
    ledger = Ledger(path)
    try:
        ledger.bind({"base_url": reader.manifest.source.base_url, "company_id": reader.manifest.source.company_id},
                    {"url": normalize_url(options.planka_url)})
        me = client.get("/api/users/me")["item"]
        try:
            planka_users = list(client.get("/api/users").get("items", []))
        except PlankaError:
            planka_users = []           # not an admin: deactivated accounts are not known
        users, people = _people(ledger, index, me, planka_users)
    except BaseException:
        ledger.close()
        raise
    boards = {ref.board_id for project in every for ref in project.boards}
    return Session(options, reader, index, rules, ledger, client, me, people, users, projects, progress,
                   linked=_linked(ledger, index.board_of, boards))


def _linked(ledger: Ledger, board_of: Callable[[str], str | None], boards: set[str]) -> Callable[[str], bool]:
    """Whether a relation became a linked task, as an import of the whole archive decided it
    (:func:`k2p.planka.relations.linked_cards`): the card is on a board of the archive, or in the ledger."""
    def linked(card_id: str) -> bool:
        if board_of(card_id) in boards:
            return True
        row = ledger.get(f"card:{card_id}")
        return row is not None and row.done
    return linked


def _people(ledger: Ledger, index: ArchiveIndex, me: dict[str, Any],
            planka_users: list[dict[str, Any]]) -> tuple[UserMap, People]:
    """The user map the import used, as its ledger recorded it (``user:<kaiten id>`` rows)."""
    rows = ledger.rows("user")
    ids = {row.key.split(":", 1)[1]: str(row.planka_id) for row in rows}
    own = {str(row.planka_id) for row in rows if row.state.get("origin") == "created"}
    roles = {str(user.get("id")): user.get("role") for user in planka_users}
    managers = {planka_id for planka_id in ids.values() if roles.get(planka_id) in MANAGER_ROLES}
    inactive = {str(user["id"]) for user in planka_users if user.get("isDeactivated")}
    return (UserMap(ids, index.company, own=own, managers=managers),
            People(str(me["id"]), frozenset(own), frozenset(inactive)))


def _select(projects: list[ProjectPlan], options: CheckOptions) -> list[ProjectPlan]:
    if not options.boards:
        return projects
    wanted = {str(board) for board in options.boards}
    unknown = wanted - {ref.board_id for project in projects for ref in project.boards}
    if unknown:
        raise K2PError(f"--board {', '.join(sorted(unknown))}: not in the archive {options.archive}; see "
                       f"`k2p cat {options.archive} boards`", exit_code=ExitCode.USAGE)
    chosen = []
    for project in projects:
        kept = [ref for ref in project.boards if ref.board_id in wanted]
        if kept:
            chosen.append(ProjectPlan(project.key, project.name, project.description, kept, type=project.type))
    return chosen


def check_all(session: Session) -> Verdict:
    """One full pass over the selected projects and boards."""
    verdict = Verdict()
    session.bytes_left = session.options.byte_budget
    session.progress("phase", "checking")
    session.progress("boards_total", sum(len(project.boards) for project in session.projects))
    session.progress("cards_total", sum(session.index.company.card_counts.get(ref.board_id, 0)
                                        for project in session.projects for ref in project.boards))
    for project in session.projects:
        project_id = _project(session, project, verdict)
        for ref in project.boards:
            session.progress("board", ref.board_id)
            check_board(session, ref.board_id, project_id, verdict)
    verdict.settle_dates()
    if session.options.sample is None and not session.options.all_files and verdict.files.get("budget"):
        verdict.note(f"{verdict.files['budget']} file(s) past the byte budget were checked by size only; "
                     f"--all-files reads every file, --sample N a fixed number per board")
    return verdict


def _project(session: Session, project: ProjectPlan, verdict: Verdict) -> str | None:
    row = session.ledger.get(project.key)
    project_id = str(row.planka_id) if row is not None and row.done else None
    verdict.count("project", "expected")
    answer = get_or_none(session.client, f"/api/projects/{project_id}") if project_id else None
    if answer is None:
        verdict.add(Difference("project", project.key, project_id, "missing", detail=(
            "never imported (no ledger row); rerun the import" if project_id is None else
            "not in Planka (deleted, or not visible to this account)")))
        return project_id
    verdict.count("project", "found")
    item = answer["item"]
    differing = [(name, value, item.get(name)) for name, value in (("name", project.name),)
                 if item.get(name) != value]
    boards = {str(board["id"]): board for board in answer.get("included", {}).get("boards", [])}
    keys = [ref.key for ref in project.boards]
    ids = {key: str(session.ledger.get(key).planka_id) for key in keys
           if session.ledger.get(key) is not None and session.ledger.get(key).done}
    present = [(key, boards[ids[key]]) for key in keys if ids.get(key) in boards]
    kept = longest_increasing([float(board.get("position") or 0) for _, board in present])
    for index, (key, board) in enumerate(present):
        if index not in kept:
            verdict.add(Difference("board", key, str(board["id"]), "differs", "position",
                                   f"out of order in {project.key}"), counted=False)
    for name, want, got in differing:
        verdict.add(Difference("project", project.key, project_id, "differs", name, f"expected {want!r}, found {got!r}"),
                    counted=False)
    if differing:
        verdict.count("project", "differing")
    return project_id


def check_board(session: Session, board_id: str, project_id: str | None, verdict: Verdict) -> None:
    """Plan, read and compare one board (its comments card by card), then hash its chosen files."""
    plan, times = _plan(session, board_id)
    heap.release()                      # the records are gone: their pages go back before the read
    ledger, options = session.ledger, session.options
    row = ledger.get(plan.key)
    card_ids = [str(card_row.planka_id) for card_row in (ledger.get(card.key) for card in plan.cards)
                if card_row is not None and card_row.done and card_row.planka_id]
    if row is not None and row.done:
        found = read_board(session.client, str(row.planka_id), card_ids, options.concurrency,
                           keep=compared_names(plan))
    else:
        found = BoardFound(None)
    del card_ids
    for refused in found.refused:
        verdict.note(f"{refused} was refused; what it holds was not compared")
    keys = [item.key for card in plan.cards for item in card.attachments if item.type == "file"]
    chosen = file_chooser(keys, options.sample) if options.sample is not None else None
    board = BoardCheck(plan, ledger, found, verdict, session.people, project_id,
                       lambda key: chosen is None or key in chosen, times)
    board.run()
    for card_id, comments in read_comments(session.client, board.talkative, options.concurrency):
        board.card_comments(card_id, comments)
    session.progress("cards", len(plan.cards))
    _hash_files(session, board.files, verdict)
    del board, found, plan
    heap.release()


def _plan(session: Session, board_id: str) -> tuple[BoardPlan, dict[str, str]]:
    """The board's plan and the Kaiten creation dates it is compared with; the archive's records
    are dropped here, before Planka's side is read."""
    records = session.index.board(board_id)
    plan = plan_board(board_id, session.index.company, records, session.rules,
                      session.users, Fidelity(), linked=session.linked)
    return plan, kaiten_times(records)


def kaiten_times(records: BoardRecords) -> dict[str, str]:
    """Kaiten's ``created`` of the board's cards and comments, by plan key (what the fix-up sets)."""
    times = {}
    for raw in records.cards:
        if isinstance(raw.get("created"), str):
            times[f"card:{raw.get('id')}"] = raw["created"]
    for comments in records.comments.values():
        for record in comments:
            raw = record.get("raw") or {}
            if isinstance(raw.get("created"), str):
                times[f"comment:{raw.get('id', record.get('id'))}"] = raw["created"]
    return times


def _hash_files(session: Session, files: list[FileRead], verdict: Verdict) -> None:
    options = session.options
    wanted: list[FileRead] = []
    for item in sorted(files, key=lambda item: item.key):
        if options.all_files or options.sample is not None or item.size <= session.bytes_left:
            wanted.append(item)
            if not options.all_files and options.sample is None:
                session.bytes_left -= item.size
        else:
            verdict.files["budget"] += 1

    def digest(item: FileRead) -> tuple[FileRead, tuple[str, int] | str]:
        try:
            return item, session.client.download_digest(item.url, MAX_FILE_BYTES)
        except PlankaError as error:
            return item, str(error)

    with ThreadPoolExecutor(max_workers=options.concurrency, thread_name_prefix="hash") as pool:
        for item, answer in pool.map(digest, wanted):
            session.progress("bytes", item.size)
            if isinstance(answer, str):
                verdict.files["unreadable"] += 1
                verdict.add(Difference("attachment", item.key, item.planka_id, "differs", "sha256",
                                       f"download refused: {answer}", item.board))
                continue
            sha256, size = answer
            verdict.files["hashed"] += 1
            verdict.files["bytes"] += size
            if sha256 != item.sha256:
                verdict.add(Difference("attachment", item.key, item.planka_id, "differs", "sha256",
                                       f"downloaded bytes hash to {sha256} ({size} bytes), the archive's "
                                       f"blob is {item.sha256} ({item.size} bytes)", item.board))


def _report(options: CheckOptions, session: Session, fingerprint: str | None, started: str,
            outcome: CheckOutcome) -> dict[str, Any]:
    report: dict[str, Any] = {
        "k2p_version": __version__,
        "mode": "check+repair" if options.repair else "check",
        "archive": str(options.archive),
        "fingerprint": fingerprint,
        "planka": {"url": session.client.base_url, "version": session.client.version},
        "ledger": str(session.ledger.path),
        "started_at": started,
        "finished_at": utc_now(),
        "files_policy": ("all" if options.all_files else f"sample {options.sample} per board"
                         if options.sample is not None else f"all up to {options.byte_budget} bytes"),
        **outcome.verdict.summary(),
    }
    if outcome.first is not None:
        report["before_repair"] = outcome.first.summary()
    if outcome.repair is not None:
        report["repair"] = outcome.repair
    return report
