"""``k2p export --since PREVIOUS``: a complete archive equal to a fresh full export of the same
moment, built from PREVIOUS plus only what changed; chained deletions; refusals; kill and resume."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest

from k2p.archive import collections as C
from k2p.kaiten.extras.documents import file_url
from k2p.archive.format import BLOBS_DIR, MANIFEST, MISSING_FILE
from k2p.archive.pack import pack_archive
from k2p.archive.reader import ArchiveReader
from k2p.errors import ExitCode, Refused
from k2p.kaiten.delta.previous import embedded_users
from k2p.testing.kaiten.changes import ChangeLog, evolve_company
from k2p.testing.kaiten.company import KaitenCompany, generate_company
from k2p.testing.kaiten.sim import KaitenSimulator, SimEvent
from k2p.archive.records import RecordFileWriter
from tests.helpers.archives import forge_record_file, rewrite_manifest
from tests.helpers.export import (
    K2P, Recorder, api_path, assert_valid, by_id, cli_env, content, export, export_args, records, run_cli,
    start_cli, token_of,
)

# Collections every export has; deleted_cards exists only in incremental ones.
COMPARED = [c.name for c in C.ALL if c is not C.DELETED_CARDS] + ["missing"]
CARD_GET = re.compile(r"^/cards/(\d+)$")


@dataclass
class Chain:
    """One company exported before and after a round of changes, fully and incrementally."""

    sim: KaitenSimulator
    company: KaitenCompany
    log: ChangeLog
    before: Path      # full export before the changes (PREVIOUS)
    full: Path        # full export after them
    delta: Path       # --since before, after them
    delta_requests: list[SimEvent]
    full_requests: list[SimEvent]


def _recorded(sim: KaitenSimulator, run: Any) -> list[SimEvent]:
    recorder = Recorder()
    sim.on_request = recorder
    try:
        run()
    finally:
        sim.on_request = None
    return recorder.arrivals


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    company = generate_company("tiny")
    root = tmp_path_factory.mktemp("since")
    with KaitenSimulator(company, idle_timeout=300) as sim:
        export(sim, root / "before.k2p")
        log = evolve_company(company)
        full_requests = _recorded(sim, lambda: export(sim, root / "full.k2p"))
        delta_requests = _recorded(sim, lambda: export(sim, root / "delta.k2p", since=root / "before.k2p"))
        yield Chain(sim, company, log, root / "before.k2p", root / "full.k2p", root / "delta.k2p",
                    delta_requests, full_requests)


def manifest_of(root: Path) -> Any:
    with ArchiveReader(root) as reader:
        return reader.manifest


def fingerprint_of(root: Path) -> str:
    with ArchiveReader(root) as reader:
        return reader.fingerprint() or ""


def blob_names(root: Path) -> set[str]:
    return {path.name for path in (root / BLOBS_DIR).glob("*/*")}


def fetched_cards(events: list[SimEvent]) -> list[str]:
    return [match.group(1) for event in events if (path := api_path(event)) and (match := CARD_GET.match(path))]


def assert_same_records(full: Path, delta: Path) -> None:
    written = set(manifest_of(full).collections)          # opt-in collections are absent from both
    assert set(manifest_of(delta).collections) - {C.DELETED_CARDS.name} == written
    for collection in COMPARED:
        if collection in written or collection == "missing":
            assert records(delta, collection) == records(full, collection), collection
    assert blob_names(delta) == blob_names(full)
    assert {name: entry.records for name, entry in manifest_of(delta).collections.items()
            if name != C.DELETED_CARDS.name} == {name: entry.records for name, entry in
                                                 manifest_of(full).collections.items()}


# --- the correctness bar ------------------------------------------------------------------------
def test_changes_are_signalled_as_documented() -> None:
    """The simulator's changes leave ``updated`` alone for comments, moves, items, files, time logs."""
    before, after = generate_company("tiny"), generate_company("tiny")
    log = evolve_company(after)
    assert log == evolve_company(generate_company("tiny"))  # deterministic
    for card_id in [*log.commented, *log.moved, *log.checked, *log.filed, *log.time_logged]:
        assert after.cards[card_id]["updated"] == before.cards[card_id]["updated"], card_id
    for card_id in log.edited:
        assert after.cards[card_id]["updated"] != before.cards[card_id]["updated"]
        assert after.cards[card_id]["version"] == before.cards[card_id]["version"] + 1
    assert all(after.cards[c]["comment_last_added_at"] != before.cards[c]["comment_last_added_at"]
               for c in log.commented)
    assert all(after.cards[c]["last_moved_at"] != before.cards[c]["last_moved_at"] for c in log.moved)
    assert all(after.cards[c]["goals_done"] == before.cards[c]["goals_done"] + 1 for c in log.checked)
    assert all(after.cards[c]["condition"] == 3 for c in log.deleted)
    assert log.new_board not in before.boards and after.boards[log.new_board]
    assert log.deactivated_user is not None and not after.users[log.deactivated_user]["activated"]
    assert set(log.created) | set(log.new_board_cards) == set(after.cards) - set(before.cards)


def test_delta_equals_a_full_export_of_the_same_moment(chain: Chain) -> None:
    assert_same_records(chain.full, chain.delta)
    assert_valid(chain.delta)
    assert not manifest_of(chain.full).chain and C.DELETED_CARDS.name not in manifest_of(chain.full).collections


def test_deleted_cards_are_recorded_with_the_time_last_seen(chain: Chain) -> None:
    before = by_id(chain.before, C.CARDS.name)
    deleted = records(chain.delta, C.DELETED_CARDS.name)
    assert [row["id"] for row in deleted] == [str(card) for card in sorted(chain.log.deleted)]
    created_at = manifest_of(chain.before).created_at
    for row in deleted:
        assert row["kind"] == "deleted_card" and row["last_seen_at"] == created_at
        assert row["raw"] == before[row["id"]]["raw"]
        assert row["ref"] == {"board_id": before[row["id"]]["ref"]["board_id"]}


def test_only_what_changed_is_read_again(chain: Chain) -> None:
    refetched = fetched_cards(chain.delta_requests)
    assert len(refetched) == len(set(refetched))
    changed = {str(card) for card in chain.log.changed_cards()}
    assert changed <= set(refetched)
    # the rest embed the deactivated user somewhere, are related to a changed or deleted card, or
    # had something missing in PREVIOUS (tried again)
    embedding = _cards_embedding(chain.before, str(chain.log.deactivated_user))
    related = _related_to(chain.before, changed | {str(card) for card in chain.log.deleted})
    flagged = {str(entry["ref"]["card_id"]) for entry in records(chain.before, "missing")
               if "card_id" in (entry.get("ref") or {})} - {str(card) for card in chain.log.deleted}
    assert flagged and flagged <= set(refetched)
    assert set(refetched) - changed <= embedding | related | flagged
    assert embedding - {str(card) for card in chain.log.deleted} <= set(refetched)
    assert len(refetched) < len(fetched_cards(chain.full_requests)) / 2
    # storage: only new files and those missing from PREVIOUS are downloaded, the rest is carried
    downloaded = [event.path for event in chain.delta_requests if event.origin == "storage"]
    new_keys = {_storage_key(row["raw"]) for row in records(chain.delta, C.FILES.name)
                if row["id"] in {str(file) for file in chain.log.new_files}}
    retried = {_storage_key(row["raw"]) for row in records(chain.before, C.FILES.name)
               if row["status"] == "missing"}
    retried |= {_storage_key({"url": file_url(row["raw"])}) for row in records(chain.before, C.DOCUMENT_FILES.name)
                if row["status"] == "missing"}     # a document's image that was gone is tried again too
    assert len(new_keys) == len(chain.log.new_files)
    assert all(any(key in path for path in downloaded) for key in new_keys)
    assert all(any(key in path for key in new_keys | retried) for path in downloaded)
    assert len(downloaded) < len([e for e in chain.full_requests if e.origin == "storage"]) / 2


def _storage_key(file: dict[str, Any]) -> str:
    """The storage key in a file's download path (private: its id; legacy: the URL's file stem)."""
    return str(file["id"]) if file.get("type") == 11 else file["url"].rsplit("/", 1)[-1].split(".")[0]


def _cards_embedding(root: Path, user_id: str) -> set[str]:
    found = set()
    for collection in (C.CARDS, C.COMMENTS, C.TIME_LOGS, C.LOCATION_HISTORY, C.FILES):
        for row in records(root, collection.name):
            users: set[str] = set()
            embedded_users(row["raw"], users)
            if user_id in users:
                found.add(row["id"] if collection is C.CARDS else row["ref"]["card_id"])
    return found


def _related_to(root: Path, cards: set[str]) -> set[str]:
    related = set()
    for row in records(root, C.CARDS.name):
        ids = {str(i) for key in ("parents_ids", "children_ids", "blocks_card_ids", "blocked_by_card_ids")
               for i in row["raw"].get(key) or []}
        if row["id"] in cards:
            related |= ids
        elif ids & cards:
            related.add(row["id"])
    return related


def test_manifest_records_the_chain(chain: Chain) -> None:
    previous = manifest_of(chain.before)
    link = manifest_of(chain.delta).chain
    assert link is not None and link.full is False and link.refreshed_boards == []
    assert link.previous.archive_id == previous.archive_id
    assert link.previous.created_at == previous.created_at
    assert link.previous.fingerprint == fingerprint_of(chain.before)
    collections = manifest_of(chain.delta).collections
    for name in (C.CARDS.name, C.COMMENTS.name, C.TIME_LOGS.name, C.LOCATION_HISTORY.name, C.FILES.name):
        assert link.carried_over.get(name, 0) + link.reread.get(name, 0) == collections[name].records, name
    assert link.reread[C.CARDS.name] == len(fetched_cards(chain.delta_requests))
    assert link.carried_over["blobs"] > 0
    report = (chain.delta / "reports" / "export-report.json").read_text()
    assert '"chain"' in report
    shown = run_cli(["inspect", str(chain.delta)])
    assert shown.returncode == 0 and f"Based on     {previous.archive_id}" in shown.stdout
    assert "Based on" not in run_cli(["inspect", str(chain.before)]).stdout


def test_blobs_are_hard_linked_from_a_directory(chain: Chain) -> None:
    shared = blob_names(chain.before) & blob_names(chain.delta)
    assert shared
    for name in shared:
        rel = f"{BLOBS_DIR}/{name[:2]}/{name}"
        assert os.stat(chain.before / rel).st_ino == os.stat(chain.delta / rel).st_ino


def test_previous_as_tar_is_copied_from(chain: Chain, tmp_path: Path) -> None:
    tar = tmp_path / "before.k2p.tar"
    pack_archive(chain.before, tar)
    out = tmp_path / "from-tar.k2p"
    export(chain.sim, out, since=tar)
    assert_same_records(chain.full, out)
    rel = next(iter(sorted((out / BLOBS_DIR).glob("*/*"))))
    assert os.stat(rel).st_nlink == 1


def test_a_second_delta_keeps_earlier_deletions(tmp_path: Path) -> None:
    """before → delta → (more changes) → delta2: cards deleted earlier stay listed with the time
    they were last seen, newly deleted ones with delta's; delta2 still equals a full export."""
    company = generate_company("tiny", seed=3)
    with KaitenSimulator(company, idle_timeout=300) as sim:
        export(sim, tmp_path / "before.k2p")
        first = evolve_company(company)
        export(sim, tmp_path / "delta.k2p", since=tmp_path / "before.k2p")
        later = evolve_company(company, per_kind=1, seed=2, new_board=False, deactivate_user=False)
        second, full = tmp_path / "delta2.k2p", tmp_path / "full2.k2p"
        export(sim, second, since=tmp_path / "delta.k2p")
        export(sim, full)
    assert_same_records(full, second)
    deleted = {row["id"]: row for row in records(second, C.DELETED_CARDS.name)}
    assert set(deleted) == {str(card) for card in [*first.deleted, *later.deleted]}
    first_seen = manifest_of(tmp_path / "before.k2p").created_at
    middle = manifest_of(tmp_path / "delta.k2p").created_at
    assert all(deleted[str(card)]["last_seen_at"] == first_seen for card in first.deleted)
    assert all(deleted[str(card)]["last_seen_at"] == middle for card in later.deleted)
    link = manifest_of(second).chain
    assert link.carried_over[C.DELETED_CARDS.name] == len(first.deleted)
    assert link.previous.archive_id == manifest_of(tmp_path / "delta.k2p").archive_id


def test_previous_without_list_digests(chain: Chain, tmp_path: Path) -> None:
    """A format 1.0 PREVIOUS (no ``list_sha256``): every card payload is read again, but sub-lists
    and blobs whose signals did not move are still carried over, and the result is the same."""
    old = tmp_path / "old.k2p"
    shutil.copytree(chain.before, old)
    rel = "records/cards.jsonl.zst"
    writer = RecordFileWriter(tmp_path / "cards.jsonl.zst", C.CARDS.name)
    for row in records(chain.before, C.CARDS.name):
        writer.write({key: value for key, value in row.items() if key != "list_sha256"})
    writer.close()
    forge_record_file(old, rel, (tmp_path / "cards.jsonl.zst").read_bytes())
    out = tmp_path / "delta.k2p"
    events = _recorded(chain.sim, lambda: export(chain.sim, out, since=old))
    assert_same_records(chain.full, out)
    assert len(fetched_cards(events)) == len(records(chain.full, C.CARDS.name))
    comments = [e for e in events if (path := api_path(e)) and path.endswith("/comments")]
    assert len(comments) < len([e for e in chain.full_requests if (p := api_path(e)) and p.endswith("/comments")]) / 2
    assert manifest_of(out).chain.carried_over["blobs"] > 0


# --- forcing re-reads -----------------------------------------------------------------------------
def test_refresh_board_and_full_read_again(tmp_path: Path) -> None:
    """An edit Kaiten does not signal (a comment's text) is carried over stale by a plain delta and
    picked up by --refresh-board of its board and by --full."""
    company = generate_company("tiny")
    with KaitenSimulator(company, idle_timeout=300) as sim:
        export(sim, tmp_path / "before.k2p")
        flagged = {entry["ref"]["card_id"] for entry in records(tmp_path / "before.k2p", "missing")
                   if "card_id" in (entry.get("ref") or {})}
        card_id, comments = next((cid, rows) for cid, rows in sorted(company.comments.items())
                                 if rows and company.cards[cid]["condition"] == 1 and str(cid) not in flagged)
        comments[0]["text"] = "Edited later: Kaiten changes no counter for this"
        board = company.cards[card_id]["board_id"]

        plain = _recorded(sim, lambda: export(sim, tmp_path / "plain.k2p", since=tmp_path / "before.k2p"))
        assert set(fetched_cards(plain)) == flagged  # only what was missing is tried again
        stale = by_id(tmp_path / "plain.k2p", C.COMMENTS.name)[str(comments[0]["id"])]
        assert stale["raw"]["text"] != comments[0]["text"]

        refresh = _recorded(sim, lambda: export(sim, tmp_path / "refresh.k2p", since=tmp_path / "before.k2p",
                                                refresh_boards=(board,)))
        on_board = {row["id"] for row in records(tmp_path / "before.k2p", C.CARDS.name)
                    if row["ref"]["board_id"] == str(board)}
        assert set(fetched_cards(refresh)) == on_board | flagged
        fresh = by_id(tmp_path / "refresh.k2p", C.COMMENTS.name)[str(comments[0]["id"])]
        assert fresh["raw"]["text"] == comments[0]["text"]
        assert manifest_of(tmp_path / "refresh.k2p").chain.refreshed_boards == [board]

        every = _recorded(sim, lambda: export(sim, tmp_path / "all.k2p", since=tmp_path / "before.k2p", full=True))
        export(sim, tmp_path / "fresh.k2p")
        assert len(fetched_cards(every)) == len(records(tmp_path / "fresh.k2p", C.CARDS.name))
        assert_same_records(tmp_path / "fresh.k2p", tmp_path / "all.k2p")
        assert manifest_of(tmp_path / "all.k2p").chain.full is True


# --- refusals -----------------------------------------------------------------------------------
def _refused(sim: KaitenSimulator, out: Path, since: Path, *extra: str, untouched: bool = True) -> tuple[int, str]:
    result = run_cli(export_args(sim, out, "--since", str(since), *extra), token_of(sim))
    if untouched:
        assert not out.exists() or not any(out.iterdir()), "a refused --since must leave --out untouched"
    assert not (out / MANIFEST).exists() and not (out / "records" / "cards.jsonl.zst").exists()
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return result.returncode, lines[0]


def test_unusable_previous_archives_are_refused(chain: Chain, tmp_path: Path) -> None:
    sim = chain.sim

    def copy(name: str) -> Path:
        target = tmp_path / name
        shutil.copytree(chain.before, target)
        return target

    other_url = copy("url.k2p")
    rewrite_manifest(other_url, lambda m: m["source"].update(base_url="https://other.kaiten.ru/api/latest"))
    code, line = _refused(sim, tmp_path / "o1", other_url)
    assert code == ExitCode.REFUSED and "other.kaiten.ru" in line and "--kaiten-url" in line

    other_company = copy("company.k2p")
    rewrite_manifest(other_company, lambda m: m["source"].update(company_id=999))
    code, line = _refused(sim, tmp_path / "o2", other_company)
    assert code == ExitCode.REFUSED and "company 999" in line

    board = str(chain.company.landmarks["boards"][0])
    code, line = _refused(sim, tmp_path / "o3", chain.before, "--board", board)
    assert code == ExitCode.REFUSED and "scope" in line

    incomplete = copy("incomplete.k2p")
    (incomplete / MANIFEST).unlink()
    code, line = _refused(sim, tmp_path / "o4", incomplete)
    assert code == ExitCode.ARCHIVE_INCOMPLETE and "incomplete" in line

    corrupt = copy("corrupt.k2p")
    blob = next(iter(sorted((corrupt / BLOBS_DIR).glob("*/*"))))
    data = bytearray(blob.read_bytes())
    data[0] ^= 0xFF
    blob.write_bytes(bytes(data))
    # found by the full verification that runs alongside the first requests, before any card
    code, line = _refused(sim, tmp_path / "o5", corrupt, untouched=False)
    assert code == ExitCode.ARCHIVE_INVALID and "corrupt" in line and "k2p verify" in line

    truncated = copy("truncated.k2p")  # a size the manifest contradicts: refused before --out exists
    blob = next(iter(sorted((truncated / BLOBS_DIR).glob("*/*"))))
    blob.write_bytes(blob.read_bytes()[:-1])
    code, line = _refused(sim, tmp_path / "o8", truncated)
    assert code == ExitCode.ARCHIVE_INVALID and "corrupt" in line

    code, line = _refused(sim, tmp_path / "o6", tmp_path / "nothing-here.k2p")
    assert code == ExitCode.USAGE and "no such archive" in line


def test_usage_errors(chain: Chain, tmp_path: Path) -> None:
    sim = chain.sim
    result = run_cli(export_args(sim, tmp_path / "o", "--full"), token_of(sim))
    assert result.returncode == ExitCode.USAGE and "--since" in result.stderr
    result = run_cli(export_args(sim, chain.before, "--since", str(chain.before)), token_of(sim))
    assert result.returncode == ExitCode.REFUSED and "--since archive itself" in result.stderr
    result = run_cli(export_args(sim, tmp_path / "o7", "--since", str(chain.before), "--refresh-board", "1"),
                     token_of(sim))
    assert result.returncode == ExitCode.USAGE and "--refresh-board 1" in result.stderr
    assert records(chain.before, C.CARDS.name)  # PREVIOUS untouched


def test_resume_with_another_previous_is_refused(chain: Chain, tmp_path: Path) -> None:
    previous = tmp_path / "previous.k2p"
    shutil.copytree(chain.before, previous)
    out = tmp_path / "resume.k2p"
    _start_killed(chain, out, str(previous), lambda e: bool(fetched_cards([e])))
    rewrite_manifest(previous, lambda m: m.update(archive_id="00000000-0000-4000-8000-000000000000"))
    with pytest.raises(Refused, match="another --since archive"):
        export(chain.sim, out, since=previous)


# --- kill and resume ------------------------------------------------------------------------------
def _start_killed(chain: Chain, out: Path, since: str, trigger: Any) -> Any:
    process = start_cli(export_args(chain.sim, out, "--since", since), token_of(chain.sim))
    fired: list[bool] = []

    def hook(event: SimEvent) -> None:
        if event.stage == "arrived" and not fired and trigger(event):
            fired.append(True)
            os.kill(process.pid, signal.SIGKILL)

    chain.sim.on_request = hook
    try:
        process.communicate(timeout=120)
        time.sleep(0.3)
    finally:
        chain.sim.on_request = None
    assert fired, "the export finished before the kill point"
    return process


def _nth_card_get(n: int) -> Any:
    seen: list[str] = []

    def trigger(event: SimEvent) -> bool:
        if fetched_cards([event]):
            seen.append(event.path)
        return len(seen) == n
    return trigger


KILLS = {
    "listing": lambda e: api_path(e) == "/cards" and "condition=2" in e.query,
    "first_reread": _nth_card_get(1),
    "mid_rereads": _nth_card_get(6),
    "new_file_download": lambda e: e.origin == "storage",
}


@pytest.mark.parametrize("point", sorted(KILLS))
def test_killed_delta_resumes_to_the_same_archive(chain: Chain, tmp_path: Path, point: str) -> None:
    out = tmp_path / "killed.k2p"
    _start_killed(chain, out, str(chain.before), KILLS[point])
    assert not (out / MANIFEST).exists()
    result = run_cli(export_args(chain.sim, out, "--since", str(chain.before)), token_of(chain.sim))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Resumed and completed")
    assert content(out) == content(chain.delta)
    resumed, reference = manifest_of(out).chain, manifest_of(chain.delta).chain
    assert resumed.carried_over == reference.carried_over and resumed.reread == reference.reread
    assert_valid(out)


@pytest.mark.parametrize("step", ["seal:start", "seal:manifest", "seal:cleanup"])
def test_crash_while_sealing_a_delta_resumes(chain: Chain, tmp_path: Path, step: str) -> None:
    out = tmp_path / "sealing.k2p"
    args = export_args(chain.sim, out, "--since", str(chain.before))
    env_run = run_cli_with_env(args, token_of(chain.sim), {"K2P_TEST_CRASH_AT": step})
    assert env_run == 70
    result = run_cli(args, token_of(chain.sim))
    assert result.returncode == 0, result.stderr
    assert content(out) == content(chain.delta)
    assert not (out / ".k2p-work").exists()
    assert (out / MISSING_FILE).exists()


def run_cli_with_env(args: list[str], token: str, extra: dict[str, str]) -> int:
    return subprocess.run([K2P, *args], env={**cli_env(token), **extra}, capture_output=True, text=True,
                          timeout=120, check=False).returncode
