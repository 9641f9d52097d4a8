"""Kill ``k2p export`` (SIGKILL) at exact points and resume it: the archive ends up byte-identical to
an uninterrupted export, and work committed before the kill is never fetched again."""

from __future__ import annotations

import os
import re
import shutil
import signal
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest

from k2p.archive.format import WORK_DIR
from k2p.archive.verify import verify_archive
from k2p.errors import ExitCode
from k2p.kaiten.export import JOURNAL
from k2p.kaiten.options import ExportOptions
from k2p.testing.kaiten.company import KaitenCompany
from k2p.testing.kaiten.sim import KaitenSimulator, SimEvent
from tests.helpers.export import (
    Recorder, api_path, assert_valid, content, export_args, export_into, run_cli, sim_fixture, start_cli,
    token_of,
)

BATCH = ExportOptions.model_fields["batch_size"].default
Reference = tuple[Path, dict[str, bytes]]  # an uninterrupted export and its content bytes
STRAGGLERS = 0.3  # seconds for requests sent just before a kill to reach the simulator


sim = sim_fixture("tiny")


@pytest.fixture(scope="module")
def reference(sim: KaitenSimulator, tmp_path_factory: pytest.TempPathFactory) -> Reference:
    """An uninterrupted export of the same simulator (same URLs, so the bytes are comparable)."""
    root = export_into(tmp_path_factory, sim, "reference")
    return root, content(root)


# --- hooks ------------------------------------------------------------------------------------
@dataclass
class Killer(Recorder):
    """Records arrivals and SIGKILLs the exporter at the first event ``trigger`` accepts."""

    trigger: Callable[[SimEvent], bool] = lambda event: False
    before_kill: Callable[[], None] = lambda: None
    pid: int = 0
    fired: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, event: SimEvent) -> None:
        super().__call__(event)
        if self.fired.is_set() or not self.trigger(event):
            return
        with self._lock:
            if not self.fired.is_set():
                self.before_kill()
                os.kill(self.pid, signal.SIGKILL)
                self.fired.set()


def run_killed(sim: KaitenSimulator, out: Path, killer: Killer, *extra: str) -> None:
    """Run ``k2p export`` until ``killer`` fires; fails if the export got through unharmed."""
    process = start_cli(export_args(sim, out, *extra), token_of(sim))
    killer.pid = process.pid
    sim.on_request = killer
    try:
        process.communicate(timeout=60)
        time.sleep(STRAGGLERS)
    finally:
        sim.on_request = None
    assert killer.fired.is_set() and process.returncode == -signal.SIGKILL


def resume(sim: KaitenSimulator, out: Path, *extra: str) -> list[SimEvent]:
    """Rerun the same command to completion; returns the requests it made."""
    recorder = Recorder()
    sim.on_request = recorder
    try:
        result = run_cli(export_args(sim, out, *extra), token_of(sim))
    finally:
        sim.on_request = None
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Resumed and completed")
    return recorder.arrivals


# --- what the journal says was committed, and which unit a request belongs to ------------------
@dataclass
class JournalState:
    units: set[str]
    batch_of: dict[str, str]  # card id -> its card-batch unit

    @classmethod
    def read(cls, out: Path) -> "JournalState":
        with sqlite3.connect(out / WORK_DIR / JOURNAL) as db:
            units = {row[0] for row in db.execute("SELECT name FROM units")}
            batch_of = {card: f"cards:{board}:{seq // BATCH}"
                        for board, seq, card in db.execute("SELECT board_id, seq, card_id FROM board_cards")}
        return cls(units, batch_of)


def unit_of(event: SimEvent, co: KaitenCompany, journal: JournalState) -> str | None:
    """The export unit a request is made for (``None``: asked on every run)."""
    path = api_path(event)
    if path is None:  # storage: the batch of the card holding the file
        key = re.search(r"/(?:files|signed)/([0-9a-f-]{36})", event.path)
        if key and key.group(1) in co.landmarks["document_blobs"] + [co.landmarks["deleted_document_blob"]]:
            return "documents"
        card = next(ref.card_id for ref in co.file_refs() if key and ref.key == key.group(1))
        return journal.batch_of.get(str(card), "cards")
    fixed = {"/users/current": None, "/users": "users", "/company/users": "users", "/user-roles": "users",
             "/card-types": "card_types", "/tags": "tags", "/sprints": "sprints", "/spaces": "spaces"}
    fixed.update({"/tree-entities": "documents", "/document-groups": "documents", "/documents": "documents",
                  "/audit-logs": "company_lists", "/company/groups": "company_lists",
                  "/service-desk/services": "company_lists"})
    if path in fixed:
        return fixed[path]
    if path.startswith("/documents/"):
        return "documents"
    if match := re.match(r"^/spaces/(\d+)/(automations|webhooks|external-webhooks)$", path):
        return f"settings:{match.group(1)}"
    if match := re.match(r"^/spaces/([0-9a-f-]{36})/", path):
        return f"settings:{co.space_by_uid(match.group(1))['id']}"
    if path.startswith("/company/custom-properties"):
        return "custom_properties"
    if match := re.match(r"^/(spaces|boards)/(\d+)/", path):
        return f"{match.group(1)[:-1]}:{match.group(2)}"
    if path == "/cards":
        board = re.search(r"(?:^|&)board_id=(\d+)", event.query)
        return f"board:{board.group(1)}" if board else "sweep"
    if match := re.match(r"^/cards/(\d+)(/|$)", path):
        return journal.batch_of.get(match.group(1), "cards")
    if match := re.match(r"^/cards/([0-9a-f-]{36})/", path):
        card = co.card_by_uid(match.group(1))
        return journal.batch_of.get(str(card["id"]), "cards") if card else "cards"
    raise AssertionError(f"request {path} belongs to no known unit")


# --- kill points ------------------------------------------------------------------------------
@dataclass
class KillPoint:
    """When to kill, what the journal must say then, and evidence that work was cut off (the
    kill waits for it: a download's first half may still sit in socket buffers)."""

    trigger: Callable[[SimEvent], bool]
    done: set[str]
    not_done: set[str]
    evidence: Callable[[], bool] = lambda: True


def board_cards(co: KaitenCompany, board: int) -> list[int]:
    return sorted(cid for cid in co.cards_visible_to("admin") if co.cards[cid]["board_id"] == board)


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


def kill_point(name: str, co: KaitenCompany, out: Path) -> KillPoint:
    first, second = co.landmarks["boards"][:2]
    cards_file = out / "records" / "cards.jsonl.zst"

    def frames_on_disk() -> bool:  # record frames beyond the last checkpoint
        return cards_file.exists() and cards_file.stat().st_size > 0

    def partial_download() -> bool:
        return any(part.stat().st_size > 0 for part in (out / WORK_DIR / "blobs").glob("*.part"))

    def downloading(landmark: str) -> KillPoint:
        key = co.landmarks[landmark]
        return KillPoint(lambda e: e.stage == "body" and key in e.path and 2 * e.sent >= e.length,
                         {"sweep"}, {f"cards:{first}:0"}, partial_download)

    if name == "company_phase":
        return KillPoint(lambda e: api_path(e) == "/tags",
                         {"identity", "users", "card_types", "custom_properties"}, {"tags"})
    if name == "after_board_commit":
        return KillPoint(lambda e: api_path(e) == f"/boards/{second}/columns", {f"board:{first}"},
                         {f"board:{second}"})
    if name == "mid_card_batch":
        cards = board_cards(co, first)
        assert cards.index(co.landmarks["huge_description_card"]) < 20  # its 1.1 MB record fills a frame
        return KillPoint(lambda e: api_path(e) == f"/cards/{cards[20]}", {"sweep"}, {f"cards:{first}:0"},
                         frames_on_disk)
    if name == "after_batch_commit":
        return KillPoint(lambda e: api_path(e) == f"/cards/{board_cards(co, second)[0]}", {f"cards:{first}:0"},
                         {f"cards:{second}:0"})
    if name == "documents_phase":
        # killed while documents are fetched: the cards are committed, the documents unit is not
        return KillPoint(lambda e: (api_path(e) or "").startswith("/documents/"), {"card_tags"}, {"documents"})
    if name == "mid_legacy_download":
        return downloading("large_legacy_file")
    if name == "mid_signed_download":
        return downloading("large_private_file")
    raise ValueError(name)


KILL_POINTS = ["company_phase", "after_board_commit", "mid_card_batch", "after_batch_commit",
               "mid_legacy_download", "mid_signed_download", "documents_phase"]


@pytest.mark.parametrize("point", KILL_POINTS)
def test_killed_export_resumes_to_the_same_archive(sim: KaitenSimulator, reference: Reference,
                                                   tmp_path: Path, point: str) -> None:
    co = sim.company
    out = tmp_path / "acme.k2p"
    plan = kill_point(point, co, out)
    killer = Killer(trigger=plan.trigger, before_kill=lambda: wait_for(plan.evidence))
    run_killed(sim, out, killer)
    journal = JournalState.read(out)
    assert plan.done <= journal.units and not plan.not_done & journal.units, sorted(journal.units)
    assert plan.evidence()
    assert verify_archive(out).status == "incomplete"
    token = token_of(sim).encode()
    assert not [path for path in out.rglob("*") if path.is_file() and token in path.read_bytes()]

    second = resume(sim, out)
    assert content(out) == reference[1]
    assert_valid(out)
    refetched = {unit_of(event, co, journal) for event in second} & journal.units
    assert not refetched, f"committed units fetched again: {sorted(refetched)}"
    committed_cards = {card for card, unit in journal.batch_of.items() if unit in journal.units}
    both = killer.arrivals + second
    for card in committed_cards:
        assert sum(api_path(event) == f"/cards/{card}" for event in both) == 1
    if point.startswith("mid_") and point.endswith("download"):
        key = co.landmarks["large_legacy_file" if "legacy" in point else "large_private_file"]
        assert sum(event.origin == "storage" and key in event.path for event in second) == 1


# --- refusals ----------------------------------------------------------------------------------
def test_complete_archive_is_refused_unless_restart(sim: KaitenSimulator, reference: Reference,
                                                    tmp_path: Path) -> None:
    root, expected = reference
    refused = run_cli(export_args(sim, root), token_of(sim))
    assert refused.returncode == ExitCode.REFUSED and "--restart" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1 and content(root) == expected
    copy = tmp_path / "again.k2p"
    shutil.copytree(root, copy)
    redone = run_cli(export_args(sim, copy, "--restart"), token_of(sim))
    assert redone.returncode == 0, redone.stderr
    assert content(copy) == expected
    assert_valid(copy)


def test_resuming_with_other_options_is_refused(sim: KaitenSimulator, reference: Reference,
                                                tmp_path: Path) -> None:
    co = sim.company
    out = tmp_path / "acme.k2p"
    run_killed(sim, out, Killer(trigger=lambda e: api_path(e) == "/tags"))
    before = sorted(path for path in out.rglob("*"))
    others = (["--board", str(co.landmarks["boards"][1])], ["--space", str(co.landmarks["product_space"])],
              ["--no-files"], ["--max-file-size", "1000"])
    for args in others:
        result = run_cli(export_args(sim, out, *args), token_of(sim))
        assert result.returncode == ExitCode.REFUSED, (args, result.stderr)
        assert "other options" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert sorted(path for path in out.rglob("*")) == before
    resume(sim, out)
    assert content(out) == reference[1]


def test_second_export_into_the_same_directory_is_refused(sim: KaitenSimulator,
                                                          reference: Reference,
                                                          tmp_path: Path) -> None:
    """While a first export is half-way through a download, a second one must not touch its files."""
    out = tmp_path / "acme.k2p"
    key = sim.company.landmarks["large_legacy_file"]
    paused, release = threading.Event(), threading.Event()

    def hold(event: SimEvent) -> None:
        if event.stage == "body" and key in event.path and 2 * event.sent >= event.length and not paused.is_set():
            paused.set()
            release.wait(30)

    sim.on_request = hold
    try:
        first = start_cli(export_args(sim, out), token_of(sim))
        assert paused.wait(30)
        for extra in ((), ("--restart",)):
            second = run_cli(export_args(sim, out, *extra), token_of(sim))
            assert second.returncode == ExitCode.REFUSED, second.stderr
            assert "another k2p export is writing" in second.stderr
        release.set()
        stdout, stderr = first.communicate(timeout=60)
    finally:
        release.set()
        sim.on_request = None
    assert first.returncode == 0, stderr
    assert content(out) == reference[1]
    assert_valid(out)
