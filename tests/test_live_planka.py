"""The importer against a real Planka 2.x server, compared with the simulator.

Skipped unless ``K2P_LIVE_PLANKA_URL`` names a Planka server; credentials come from
``K2P_LIVE_PLANKA_API_KEY``, or ``K2P_LIVE_PLANKA_USER`` + ``K2P_LIVE_PLANKA_PASSWORD`` (the terms of
service are accepted for that account if Planka asks). Use a throwaway server: every run creates
a few projects there (and, with an admin account, a few users shared by all runs).

The simulated ``tiny`` Kaiten company (``K2P_LIVE_PLANKA_SCALE=small`` for a bigger one) is
exported, imported into the live server with a fresh ledger, imported again (nothing may change),
and what it created — restricted to the projects in this run's ledger — is compared with the same
archive imported into the simulator. A killed import is resumed, and a newer archive updates the
server exactly as it updates the simulator. Any difference is an importer bug or a simulator
infidelity.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import pytest

from k2p.mapping.wording import WORDS
from k2p.planka.client import Credentials, PlankaClient, PlankaError
from k2p.planka.importer import ImportOptions, ImportOutcome, run_import
from k2p.testing.kaiten.company import KaitenCompany, generate_company
from k2p.testing.kaiten.sim import KaitenSimulator
from k2p.testing.planka.sim import PlankaSimulator
from tests.helpers.export import export
from tests.helpers.delta import PlankaWriter, kaiten_week, planka_week
from tests.helpers.kaiten_changes import add_comment
from tests.helpers.planka_state import PlankaReader, import_into, ledger_ids, snapshot

LIVE_URL = os.environ.get("K2P_LIVE_PLANKA_URL")
SCALE = os.environ.get("K2P_LIVE_PLANKA_SCALE", "tiny")     # or "small" (slower, much more content)
pytestmark = [pytest.mark.live,
              pytest.mark.skipif(not LIVE_URL, reason="set K2P_LIVE_PLANKA_URL (and credentials) to run")]

MAPPED_USERS = 4
USER_PASSWORD = "Live-k2p-Test-Password-2026!"   # zxcvbn-strong; the mapped users never log in
Call = tuple[str, str, int]


def live_credentials() -> Credentials:
    key = os.environ.get("K2P_LIVE_PLANKA_API_KEY")
    if key:
        return Credentials(api_key=key)
    user, password = os.environ.get("K2P_LIVE_PLANKA_USER"), os.environ.get("K2P_LIVE_PLANKA_PASSWORD")
    if not (user and password):
        pytest.fail("K2P_LIVE_PLANKA_URL is set but neither K2P_LIVE_PLANKA_API_KEY nor "
                    "K2P_LIVE_PLANKA_USER + K2P_LIVE_PLANKA_PASSWORD")
    return Credentials(username=user, password=password)


@contextmanager
def recording() -> Iterator[list[Call]]:
    """Every request any :class:`PlankaClient` sends meanwhile, as (method, path, status)."""
    calls: list[Call] = []
    original = PlankaClient._send

    def send(self: PlankaClient, method: str, path: str, **kwargs: Any) -> Any:
        response = original(self, method, path, **kwargs)
        calls.append((method, path, response.status_code))   # list.append is atomic
        return response

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(PlankaClient, "_send", send)
        yield calls


class Live:
    """The live server, the importing account and how to read with its credentials."""

    def __init__(self, url: str, credentials: Credentials) -> None:
        self.url = url.rstrip("/")
        self.credentials = credentials
        self.client = PlankaClient(url, credentials, accept_terms=True)
        self.version = self.client.probe()
        self.client.authenticate()
        self.me: dict[str, Any] = self.client.get("/api/users/me")["item"]
        bearer = self.client._auth_headers.get("Authorization", "")
        self.token = bearer.removeprefix("Bearer ") if bearer else None

    def snapshot(self, project_ids: set[str]) -> dict[str, Any]:
        return snapshot(self.url, self.credentials.api_key, project_ids, token=self.token)

    def reader(self) -> PlankaReader:
        return PlankaReader(self.url, self.credentials.api_key, token=self.token)

    def ensure_users(self, people: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Create the Kaiten people as Planka users (admin only); returns those that exist."""
        existing = {user.get("email") for user in self.client.get("/api/users")["items"]}
        for person in people:
            if person["email"] in existing:
                continue
            try:
                self.client.create("/api/users", {"email": person["email"], "name": person["full_name"],
                                                  "password": USER_PASSWORD, "role": "boardUser"})
            except PlankaError as error:
                if error.status in (403, 404):   # not an admin: import without a user mapping
                    return []
                raise
        return people


def write_users_csv(path: Path, people: list[dict[str, Any]]) -> Path | None:
    if not people:
        return None
    path.write_text("kaiten_id,planka_user\n" + "".join(f"{p['id']},{p['email']}\n" for p in people),
                    encoding="utf-8")
    return path


ID = re.compile(r"^[1-9][0-9]{14,18}$")
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def raw_views(reader: PlankaReader, ledger: Path) -> dict[str, Any]:
    """Every board and card of an import exactly as Planka serves it (``GET /api/boards/:id``,
    ``/api/cards/:id``), with Planka ids replaced by ledger keys and times by ``<ts>``; the
    account-dependent ``users`` and ``projects`` are left out."""
    with sqlite3.connect(ledger) as db:
        rows = list(db.execute("SELECT key, kind, planka_id FROM objects WHERE status = 'done' "
                               "AND planka_id IS NOT NULL AND kind != 'card_placement'"))
    # Membership keys hold Planka user ids (``card:1:member:<user id>``), which differ per server.
    keys = {planka_id: re.sub(r"[0-9]{15,19}", "<user id>", key) for key, _, planka_id in rows}
    # The importing account by its role, not by whichever ledger row happens to hold its id (the
    # ``me:settings`` row exists only where its settings had to be switched off and back).
    keys[str(reader.get("/api/users/me")["item"]["id"])] = "<importing account>"

    def anonymous(value: Any) -> Any:
        if isinstance(value, dict):
            return {name: anonymous(item) for name, item in value.items()}
        if isinstance(value, list):
            items = [anonymous(item) for item in value]
            return sorted(items, key=lambda item: json.dumps(item, sort_keys=True, ensure_ascii=False))
        if isinstance(value, str):
            if ID.match(value):
                return keys.get(value, "<other id>")
            if STAMP.match(value):
                return "<ts>"
            return re.sub(r"/attachments/\d+/", "/attachments/<id>/", value.replace(reader.url, "<base>"))
        return value

    views = {}
    for key, kind, planka_id in rows:
        if kind in ("board", "card"):   # their keys never hold a Planka id
            data = reader.get(f"/api/{kind}s/{planka_id}")
            for name in ("users", "projects"):
                data.get("included", {}).pop(name, None)
            views[key] = anonymous(data)
    return views


def live_import(live: Live, archive: Path, ledger: Path, users: Path | None,
                report: Path, recheck: bool = False) -> tuple[ImportOutcome, list[Call]]:
    options = ImportOptions(archive=archive, planka_url=live.url, state=ledger, users=users,
                            accept_terms=True, report=report, recheck=recheck)
    with recording() as calls:
        outcome = run_import(options, live.credentials)
    return outcome, list(calls)


@pytest.fixture(scope="module")
def live() -> Live:
    assert LIVE_URL is not None
    return Live(LIVE_URL, live_credentials())


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> tuple[KaitenCompany, Path]:
    company = generate_company(SCALE)
    root = tmp_path_factory.mktemp("live-export") / f"{SCALE}.k2p"
    with KaitenSimulator(company, idle_timeout=300) as sim:
        export(sim, root)
    return company, root


@pytest.fixture(scope="module")
def people(live: Live, archive: tuple[KaitenCompany, Path]) -> list[dict[str, Any]]:
    company, _ = archive
    chosen = [user for user in sorted(company.users.values(), key=lambda user: user["id"])
              if user.get("activated") and user.get("email")][:MAPPED_USERS]
    return live.ensure_users(chosen)


@contextmanager
def mirror_simulator(live: Live, people: list[dict[str, Any]]) -> Iterator[PlankaSimulator]:
    """A Planka simulator with the live importing account's names and the same mapped users."""
    me = live.me
    with PlankaSimulator(admin_email=me.get("email") or "admin@example.com",
                         admin_username=me.get("username") or "admin", admin_name=me.get("name") or "Admin",
                         require_terms=True, idle_timeout=300) as sim:
        for person in people:
            sim.add_user(email=person["email"], name=person["full_name"], password=USER_PASSWORD)
        yield sim


@pytest.fixture(scope="module")
def expected(live: Live, archive: tuple[KaitenCompany, Path], people: list[dict[str, Any]],
             tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The same archive imported into the simulator, with the same account name and users."""
    _, root = archive
    work = tmp_path_factory.mktemp("live-sim")
    with mirror_simulator(live, people) as sim:
        key = sim.create_api_key(sim.admin_email)
        outcome = import_into(sim, root, work / "ledger.sqlite", users=write_users_csv(work / "users.csv", people),
                              api_key=key)
        assert outcome.tally.failed == 0, outcome.report["failures"][:3]
        return {"snapshot": snapshot(sim.url, key), "counts": outcome.report["counts"],
                "raw": raw_views(PlankaReader(sim.url, key), work / "ledger.sqlite")}


@pytest.fixture(scope="module")
def imported(live: Live, archive: tuple[KaitenCompany, Path], people: list[dict[str, Any]],
             tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    _, root = archive
    work = tmp_path_factory.mktemp("live-import")
    users = write_users_csv(work / "users.csv", people)
    outcome, calls = live_import(live, root, work / "ledger.sqlite", users, work / "first.json")
    return {"outcome": outcome, "calls": calls, "ledger": work / "ledger.sqlite", "users": users, "work": work}


def refused(calls: list[Call]) -> list[Call]:
    """Requests Planka refused for their content (400) or failed on (5xx)."""
    return [call for call in calls if call[2] == 400 or call[2] >= 500]


def test_first_import_is_clean(live: Live, imported: dict[str, Any]) -> None:
    outcome: ImportOutcome = imported["outcome"]
    assert live.version.startswith("2.")
    assert outcome.tally.failed == 0, outcome.report["failures"][:5]
    assert not [failure for failure in outcome.report["failures"] if " 400 " in failure["message"]]
    assert refused(imported["calls"]) == []
    counts = outcome.report["counts"]
    assert counts["project"]["created"] > 0 and counts["card"]["created"] > 0
    assert all(row["adopted"] == 0 for row in counts.values())


RELATION_TEXT = {words[f"detail.{kind}"] for words in WORDS.values() for kind in ("parents", "children")}


def test_live_board_reads_like_a_native_one(live: Live, imported: dict[str, Any]) -> None:
    """Issue 14 read back from the real server: no k2p metadata in descriptions, no empty field on
    a card, relations resolve to imported cards, no default-lane label, no admin subscription."""
    reader = live.reader()
    cards = set(ledger_ids(imported["ledger"], "card").values())
    kaiten_ids = {key.split(":")[1] for key in ledger_ids(imported["ledger"], "card")}
    checked_fields = linked = 0
    for board_id in ledger_ids(imported["ledger"], "board").values():
        board = reader.get(f"/api/boards/{board_id}")
        labels = {label["id"]: label["name"] or "" for label in board["included"]["labels"]}
        assert not [name for name in labels.values()
                    if name.startswith(tuple(words["lane_label_prefix"] + "Default" for words in WORDS.values()))]
        for card in board["included"]["cards"]:
            assert "Kaiten card " not in (card.get("description") or ""), card["id"]
            assert not card.get("isSubscribed"), f"the importing account is subscribed to card {card['id']}"
            included = reader.get(f"/api/cards/{card['id']}")["included"]
            values = {(value["customFieldGroupId"], value["customFieldId"]): value["content"]
                      for value in included["customFieldValues"]}
            own = {group["id"] for group in included["customFieldGroups"] if group.get("cardId") == card["id"]}
            for field in included["customFields"]:
                if field["customFieldGroupId"] in own:
                    checked_fields += 1
                    if field["name"] in RELATION_TEXT:   # text only for cards outside the import
                        text = values.get((field["customFieldGroupId"], field["id"])) or ""
                        assert not set(re.findall(r"#(\d+)", text)) & kaiten_ids, (card["id"], text)
                    assert (values.get((field["customFieldGroupId"], field["id"])) or "").strip(), field
            for task in included["tasks"]:
                if task.get("linkedCardId"):
                    linked += 1
                    assert task["linkedCardId"] in cards, task
    assert checked_fields > 0 and linked > 0


def test_same_counts_as_the_simulator(imported: dict[str, Any], expected: dict[str, Any]) -> None:
    assert imported["outcome"].report["counts"] == expected["counts"]


def test_reimport_creates_and_updates_nothing(live: Live, archive: tuple[KaitenCompany, Path],
                                              imported: dict[str, Any]) -> None:
    """The plain rerun finds the archive applied and stops early; the ``--recheck`` rerun replans
    every board against the live server and finds every object unchanged. Neither writes."""
    _, root = archive
    quick, quick_calls = live_import(live, root, imported["ledger"], imported["users"], imported["work"] / "quick.json")
    assert quick.report.get("already_applied") and quick.report["counts"] == {}
    assert [call for call in quick_calls if call[0] != "GET" and not call[1].startswith("/api/access-tokens")] == []
    outcome, calls = live_import(live, root, imported["ledger"], imported["users"], imported["work"] / "again.json",
                                 recheck=True)
    assert outcome.tally.failed == 0, outcome.report["failures"][:5]
    counts = outcome.report["counts"]
    assert counts["card"]["unchanged"] == imported["outcome"].report["counts"]["card"]["created"]
    assert all(row["created"] == row["updated"] == 0 for row in counts.values()), counts
    writes = [call for call in calls if call[0] != "GET" and not call[1].startswith("/api/access-tokens")]
    assert writes == []
    assert refused(calls) == []


def test_live_content_matches_the_simulator(live: Live, imported: dict[str, Any], expected: dict[str, Any]) -> None:
    projects = set(ledger_ids(imported["ledger"], "project").values())
    assert len(projects) == expected["counts"]["project"]["created"]
    assert live.snapshot(projects) == expected["snapshot"]


def test_live_records_match_the_simulator_field_by_field(live: Live, imported: dict[str, Any],
                                                        expected: dict[str, Any]) -> None:
    """Stricter than the snapshot: every field of every board and card answer (attachment data,
    positions, flags, custom field values …), keyed by the ledger."""
    actual = raw_views(live.reader(), imported["ledger"])
    assert sorted(actual) == sorted(expected["raw"])
    problems = [found for key, view in sorted(actual.items())
                for found in differences(view, expected["raw"][key], key)]
    assert problems == [], "\n".join(problems[:40])


def differences(live: Any, sim: Any, path: str) -> list[str]:
    """Where two JSON values differ, one line per leaf (live first)."""
    if isinstance(live, dict) and isinstance(sim, dict):
        return [line for name in sorted(set(live) | set(sim))
                for line in (differences(live[name], sim[name], f"{path}.{name}") if name in live and name in sim
                             else [f"{path}.{name}: only {'live' if name in live else 'simulator'}"])]
    if isinstance(live, list) and isinstance(sim, list) and len(live) == len(sim):
        return [line for index, (a, b) in enumerate(zip(live, sim)) for line in differences(a, b, f"{path}[{index}]")]
    if live != sim:
        return [f"{path}: live {json.dumps(live, ensure_ascii=False)[:200]} != "
                f"simulator {json.dumps(sim, ensure_ascii=False)[:200]}"]
    return []


def _rows(ledger: Path) -> int:
    if not ledger.exists():
        return 0
    try:
        with sqlite3.connect(ledger, timeout=1) as db:
            return int(db.execute("SELECT COUNT(*) FROM objects WHERE status = 'done'").fetchone()[0])
    except sqlite3.Error:
        return 0


def _cli(live: Live, archive: Path, ledger: Path, users: Path | None, report: Path) -> subprocess.Popen[str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("K2P_")}
    if live.credentials.api_key:
        env["K2P_PLANKA_API_KEY"] = live.credentials.api_key
    else:
        env.update(K2P_PLANKA_USER=live.credentials.username or "", K2P_PLANKA_PASSWORD=live.credentials.password or "")
    args = [sys.executable, "-m", "k2p.cli", "import", str(archive), "--planka-url", live.url, "--state", str(ledger),
            "--report", str(report), "--accept-terms", "--concurrency", "4"]
    if users is not None:
        args += ["--users", str(users)]
    return subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_killed_import_resumes_without_duplicates(live: Live, archive: tuple[KaitenCompany, Path],
                                                  people: list[dict[str, Any]], expected: dict[str, Any],
                                                  tmp_path: Path) -> None:
    _, root = archive
    ledger, users = tmp_path / "ledger.sqlite", write_users_csv(tmp_path / "users.csv", people)
    process = _cli(live, root, ledger, users, tmp_path / "killed.json")
    deadline = time.monotonic() + 120
    while _rows(ledger) < 150 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    if process.poll() is None:
        process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL, "the import finished before it could be killed"
    resumed = _cli(live, root, ledger, users, tmp_path / "resumed.json")
    out, err = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, (out + err)[-2000:]
    projects = set(ledger_ids(ledger, "project").values())
    assert len(projects) == expected["counts"]["project"]["created"]
    assert live.snapshot(projects) == expected["snapshot"]


def _evolve(company: KaitenCompany) -> None:
    """A week of work: a rename, a new description, a move to another column, a card archived, one
    restored, a new comment and a new card — every kind of update the importer sends."""
    visible = company.cards_visible_to("admin")
    live = [card_id for card_id in visible if company.cards[card_id]["condition"] == 1]
    archived = [card_id for card_id in visible if company.cards[card_id]["condition"] == 2]
    renamed, described, moved, shelved = live[:4]
    company.cards[renamed]["title"] = "Renamed after the first import ✏️"
    company.cards[described]["description"] = "Rewritten **after** the first import"
    parents = {column.get("column_id") for column in company.columns.values()}
    card = company.cards[moved]
    company.cards[moved]["column_id"] = next(
        column_id for column_id, column in sorted(company.columns.items())
        if column["board_id"] == card["board_id"] and column_id != card["column_id"] and column_id not in parents)
    company.cards[shelved].update(condition=2, archived=True)
    if archived:
        company.cards[archived[0]].update(condition=1, archived=False)
    add_comment(company, renamed, "Written after the first import")
    company.add_card(company.cards[renamed]["board_id"], like=renamed, title="Brand-new card")


@pytest.mark.slow
def test_newer_archive_updates_like_the_simulator(live: Live, people: list[dict[str, Any]],
                                                  tmp_path: Path) -> None:
    company = generate_company(SCALE)
    weeks = [tmp_path / "week1.k2p", tmp_path / "week2.k2p"]
    with KaitenSimulator(company, idle_timeout=300) as kaiten:
        export(kaiten, weeks[0])
        _evolve(company)
        export(kaiten, weeks[1])
    users = write_users_csv(tmp_path / "users.csv", people)
    with mirror_simulator(live, people) as sim:
        key = sim.create_api_key(sim.admin_email)
        sim_runs = [import_into(sim, week, tmp_path / "sim.sqlite", users=users, api_key=key) for week in weeks]
        expected = snapshot(sim.url, key)
    live_runs = [live_import(live, week, tmp_path / "live.sqlite", users, tmp_path / f"live-{index}.json")
                 for index, week in enumerate(weeks)]
    for (outcome, calls), sim_outcome in zip(live_runs, sim_runs):
        assert outcome.tally.failed == 0, outcome.report["failures"][:5]
        assert refused(calls) == []
        assert outcome.report["counts"] == sim_outcome.report["counts"]
    second = live_runs[1][0].report["counts"]
    assert second["card"]["updated"] >= 3 and second["card_placement"]["updated"] >= 1
    projects = set(ledger_ids(tmp_path / "live.sqlite", "project").values())
    assert live.snapshot(projects) == expected


def test_delta_with_deletions_and_a_conflict_like_the_simulator(live: Live, people: list[dict[str, Any]],
                                                                tmp_path: Path) -> None:
    """A second pass on a real Planka: what its board read returns shows the edit made in Planka
    (a conflict, kept), and deletions are archived, labelled and marked as in the simulator."""
    company = generate_company(SCALE)
    weeks = [tmp_path / "week1.k2p", tmp_path / "week2.k2p"]
    with KaitenSimulator(company, idle_timeout=300) as kaiten:
        export(kaiten, weeks[0])
        changed = kaiten_week(company)
        export(kaiten, weeks[1])
    users = write_users_csv(tmp_path / "users.csv", people)
    with mirror_simulator(live, people) as sim:
        key = sim.create_api_key(sim.admin_email)
        assert import_into(sim, weeks[0], tmp_path / "sim.sqlite", users=users, api_key=key).tally.failed == 0
        planka_week(PlankaWriter(sim.url, key), tmp_path / "sim.sqlite", changed)
        sim_plan = import_into(sim, weeks[1], tmp_path / "sim.sqlite", users=users, api_key=key, dry_run=True)
        sim_run = import_into(sim, weeks[1], tmp_path / "sim.sqlite", users=users, api_key=key)
        expected = snapshot(sim.url, key)
    first, _ = live_import(live, weeks[0], tmp_path / "live.sqlite", users, tmp_path / "live-0.json")
    assert first.tally.failed == 0, first.report["failures"][:5]
    planka_week(PlankaWriter(live.url, live.credentials.api_key, token=live.token), tmp_path / "live.sqlite", changed)
    options = ImportOptions(archive=weeks[1], planka_url=live.url, state=tmp_path / "live.sqlite", users=users,
                            accept_terms=True, report=tmp_path / "live-plan.json", dry_run=True)
    plan = run_import(options, live.credentials)
    second, calls = live_import(live, weeks[1], tmp_path / "live.sqlite", users, tmp_path / "live-1.json")
    assert second.tally.failed == 0, second.report["failures"][:5]
    assert refused(calls) == []
    conflicts = second.report["conflicts"]["items"]
    assert [(item["key"], item["field"], item["planka"], item["kaiten"], item["resolution"]) for item in conflicts] == [
        (f"card:{changed.renamed_both}", "name", "Renamed in Planka", "Renamed in Kaiten", "kept-planka")]
    for report in (plan.report, sim_plan.report, sim_run.report):
        assert report["conflicts"]["items"] == conflicts
        assert report["deleted_in_kaiten"]["counts"] == second.report["deleted_in_kaiten"]["counts"]
    assert second.report["deleted_in_kaiten"]["counts"] == {"attachment": 2, "card": 1, "card_label": 1, "comment": 1,
                                                            "task": 1, "task_list": 1}
    assert plan.report["counts"] == second.report["counts"] == sim_run.report["counts"]
    projects = set(ledger_ids(tmp_path / "live.sqlite", "project").values())
    assert live.snapshot(projects) == expected
    again, calls = live_import(live, weeks[1], tmp_path / "live.sqlite", users, tmp_path / "live-2.json",
                               recheck=True)   # replans every board: the conflict is found again, nothing written
    assert [call for call in calls if call[0] != "GET" and not call[1].startswith("/api/access-tokens")] == []
    assert again.report["conflicts"]["items"] == conflicts
