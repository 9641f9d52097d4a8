"""People end to end: a Kaiten company imported with ``--create-users`` into a Planka simulator that
has SMTP configured, compared with the Kaiten ground truth: accounts, memberships, true authors,
no notification and no e-mail to anybody whose account k2p created, no key left behind."""

from __future__ import annotations

import csv
import os
import re
import signal
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

from k2p.mapping.users import parse_user_csv
from k2p.planka.client import Credentials
from k2p.planka.users_template import write_users_template
from k2p.testing.kaiten.company import KaitenCompany, generate_company
from k2p.testing.kaiten.sim import KaitenSimulator
from k2p.testing.planka.sim import PlankaSimulator
from tests.helpers.export import export
from tests.helpers.planka_state import import_into, ledger_ids

USERNAME = re.compile(r"^[a-zA-Z0-9]+((_|\.)?[a-zA-Z0-9])*$")
ATTRIBUTION = re.compile(r"^\*\*[^\n]+\*\* · \d{4}-\d\d-\d\d \d\d:\d\d UTC")
PRE_EXISTING = 3          # Kaiten people who already have a Planka account (action map)
PASSWORD = "Sim-Password-2026!"


@pytest.fixture(scope="module")
def company_archive(tmp_path_factory: pytest.TempPathFactory) -> tuple[KaitenCompany, Path]:
    company = generate_company("small")
    archive = tmp_path_factory.mktemp("people") / "small.k2p"
    with KaitenSimulator(company, idle_timeout=300) as sim:
        export(sim, archive)
    return company, archive


def _template(planka: PlankaSimulator, archive: Path, path: Path, key: str, *, everybody: bool = False) -> dict[str, Any]:
    """users.csv as the template proposes it (``everybody``: also create the people it skips)."""
    write_users_template(archive, path, planka_url=planka.url, credentials=Credentials(api_key=key), force=True)
    if everybody:
        path.write_text(path.read_text(encoding="utf-8").replace(",skip\n", ",create\n"), encoding="utf-8")
    return parse_user_csv(path.read_text(encoding="utf-8"), source=str(path))


@pytest.fixture(scope="module")
def imported(company_archive: tuple[KaitenCompany, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    company, archive = company_archive
    work = tmp_path_factory.mktemp("people-import")
    with PlankaSimulator(require_terms=True, idle_timeout=300, smtp=True) as planka:
        existing = [u for u in sorted(company.users.values(), key=lambda u: u["id"]) if u.get("activated")][1:1 + PRE_EXISTING]
        for user in existing:
            planka.add_user(email=user["email"].upper(), name=user["full_name"], password=PASSWORD)
        key = planka.create_api_key(planka.admin_email)
        _template(planka, archive, work / "proposed.csv", key)
        rows = _template(planka, archive, work / "users.csv", key, everybody=True)
        options = dict(users=work / "users.csv", create_users=True, credentials_out=work / "credentials.csv",
                       api_key=key)
        plan = import_into(planka, archive, work / "plan-ledger.sqlite", dry_run=True, **options)
        assert planka.mutation_count() == 0
        outcome = import_into(planka, archive, work / "ledger.sqlite", **options)
        yield {"planka": planka, "key": key, "company": company, "archive": archive, "work": work,
               "rows": rows, "plan": plan, "outcome": outcome, "existing": existing,
               "ledger": work / "ledger.sqlite", "options": options}


def _accounts(imported: dict[str, Any]) -> dict[int, dict[str, Any]]:
    """Kaiten user id → the Planka user standing for them."""
    users = imported["planka"].store.tables["users"]
    return {int(key.split(":")[1]): users[planka_id]
            for key, planka_id in ledger_ids(imported["ledger"], "user").items() if key.count(":") == 1}


def _created_ids(imported: dict[str, Any]) -> set[str]:
    existing = {user["email"].lower() for user in imported["existing"]}
    return {user["id"] for user in _accounts(imported).values() if user["email"] not in existing}


def test_import_succeeded_and_the_template_proposed_create_and_map(imported: dict[str, Any]) -> None:
    assert imported["outcome"].tally.failed == 0, imported["outcome"].report["failures"][:3]
    actions = [row.action for row in imported["rows"].values()]
    assert actions.count("map") == PRE_EXISTING and actions.count("create") > 50
    proposed = parse_user_csv((imported["work"] / "proposed.csv").read_text(encoding="utf-8"), source="p.csv")
    assert len(proposed) < len(imported["rows"]), "people who appear nowhere are proposed as skip"


def test_every_person_has_exactly_one_valid_account(imported: dict[str, Any]) -> None:
    company, accounts, own = imported["company"], _accounts(imported), _created_ids(imported)
    assert set(accounts) == {int(kaiten_id) for kaiten_id in imported["rows"]}
    emails = [user["email"] for user in imported["planka"].store.tables["users"].values()]
    assert len(emails) == len(set(emails)), "one account per person"
    deactivated = [account for account in accounts.values() if account["isDeactivated"]]
    assert deactivated and all(account["id"] in own for account in deactivated)
    for kaiten_id, account in accounts.items():
        kaiten = company.users[kaiten_id]
        assert account["email"] == kaiten["email"].lower()
        assert account["name"] == kaiten["full_name"]
        assert account["apiKeyHash"] is None, "no key may be left behind"
        if account["id"] in own:
            assert USERNAME.match(account["username"]) and 3 <= len(account["username"]) <= 32
            assert account["isDeactivated"] == (not kaiten["activated"]), kaiten_id
            assert account["subscribeToCardWhenCommenting"] is True, "the personal setting is put back"


def test_comments_cards_and_files_by_their_true_authors(imported: dict[str, Any]) -> None:
    company, store = imported["company"], imported["planka"].store
    accounts = _accounts(imported)
    own = _created_ids(imported)
    comments = ledger_ids(imported["ledger"], "comment")
    checked = 0
    for kaiten_comments in company.comments.values():
        for comment in kaiten_comments:
            planka_id = comments.get(f"comment:{comment['id']}")
            if planka_id is None:
                continue
            posted = store.tables["comments"][planka_id]
            author = accounts.get(comment["author_id"])
            if author is not None and author["id"] in own:
                assert posted["userId"] == author["id"]
                assert not ATTRIBUTION.match(posted["text"]), "no attribution under the author's own name"
                checked += 1
            else:
                assert posted["userId"] == imported["planka"].admin_id
                assert ATTRIBUTION.match(posted["text"]), posted["text"][:80]
    assert checked > 20
    cards = ledger_ids(imported["ledger"], "card")
    creators = {store.tables["cards"][planka_id]["creatorUserId"] for planka_id in cards.values()}
    for key, planka_id in cards.items():
        owner = accounts.get(company.cards[int(key.split(":")[1])]["owner_id"])
        if owner is not None and owner["id"] in own:
            assert store.tables["cards"][planka_id]["creatorUserId"] == owner["id"], key
    assert len(creators) > 5
    uploads = {item["creatorUserId"] for item in store.tables["attachments"].values()}
    assert uploads - {imported["planka"].admin_id}, "files uploaded by their authors"


def test_card_and_board_memberships_are_real(imported: dict[str, Any]) -> None:
    company, store = imported["company"], imported["planka"].store
    accounts = _accounts(imported)
    cards = ledger_ids(imported["ledger"], "card")
    expected = {(cards[f"card:{card_id}"], accounts[user_id]["id"])
                for card_id, members in company.card_members.items() if f"card:{card_id}" in cards
                for user_id, _kind in members if user_id in accounts}
    actual = {(item["cardId"], item["userId"]) for item in store.tables["card_memberships"].values()}
    assert expected and expected == actual
    boards = {item["boardId"] for item in store.tables["board_memberships"].values()}
    assert boards == set(ledger_ids(imported["ledger"], "board").values())
    members = {(item["boardId"], item["userId"]) for item in store.tables["board_memberships"].values()}
    for card_id, user_id in actual:
        assert (store.tables["cards"][card_id]["boardId"], user_id) in members


def test_no_notification_and_no_email_for_created_people(imported: dict[str, Any]) -> None:
    planka: PlankaSimulator = imported["planka"]
    own = _created_ids(imported)
    notified = [item for item in planka.store.tables["notifications"].values() if item["userId"] in own]
    assert notified == []
    own_emails = {planka.store.tables["users"][user_id]["email"] for user_id in own}
    assert [mail for mail in planka.outbox if mail.to in own_emails] == []
    # Pre-existing accounts are added by the importing account, so Planka notifies them; the dry
    # run announced exactly that number. (The importing account itself is subscribed to the cards
    # it commented on, so it is notified of later comments there: not a migrated person.)
    caused = imported["outcome"].report["notifications"]["caused"]
    others = [item for item in planka.store.tables["notifications"].values()
              if item["userId"] not in own and item["userId"] != planka.admin_id]
    assert caused == len(others) == imported["plan"].report["notifications"]["caused"] > 0


def test_rerun_writes_nothing(imported: dict[str, Any]) -> None:
    planka: PlankaSimulator = imported["planka"]
    before = planka.mutation_count()
    options = {**imported["options"], "credentials_out": imported["work"] / "credentials-rerun.csv"}
    quick = import_into(planka, imported["archive"], imported["ledger"], **options)
    assert quick.report.get("already_applied"), "the accounts the run created must not make the rerun replan"
    outcome = import_into(planka, imported["archive"], imported["ledger"], recheck=True, **options)
    assert planka.mutation_count() == before
    assert outcome.report["counts"]["user"]["unchanged"] > 0
    assert all(row["created"] == row["updated"] == row["failed"] == 0 for row in outcome.report["counts"].values())
    assert not options["credentials_out"].exists()


def test_passwords_only_in_the_credentials_file(imported: dict[str, Any]) -> None:
    path: Path = imported["options"]["credentials_out"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with path.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(_created_ids(imported)) == imported["outcome"].report["people"]["passwords_written"]
    planka: PlankaSimulator = imported["planka"]
    sample = next(row for row in rows if planka.store.first("users", email=row["email"])["isDeactivated"] is False)
    assert planka.store.first("users", email=sample["email"])["password"] == sample["password"]
    passwords = [row["password"].encode() for row in rows]
    places = [imported["ledger"], *imported["work"].glob("*.json"), *imported["archive"].rglob("*")]
    for place in places:
        if place.is_file():
            data = place.read_bytes()
            assert not any(password in data for password in passwords), place


def test_existing_credentials_file_is_refused_before_any_write(company_archive: tuple[KaitenCompany, Path],
                                                               tmp_path: Path) -> None:
    _, archive = company_archive
    with PlankaSimulator(require_terms=False, idle_timeout=120) as planka:
        key = planka.create_api_key(planka.admin_email)
        _template(planka, archive, tmp_path / "users.csv", key)
        (tmp_path / "credentials.csv").write_text("keep me\n")
        result = _cli(planka, archive, tmp_path, key, "--credentials-out", str(tmp_path / "credentials.csv"))
        assert result.returncode == 8, result.stderr
        assert "credentials.csv already exists" in result.stderr and result.stderr.count("\n") == 1
        assert planka.mutation_count() == 0
        assert (tmp_path / "credentials.csv").read_text() == "keep me\n"
        missing = _cli(planka, archive, tmp_path, key)
        assert missing.returncode == 2 and "--credentials-out" in missing.stderr


def _cli(planka: PlankaSimulator, archive: Path, work: Path, key: str, *extra: str,
         wait: bool = True) -> Any:
    env = {**os.environ, "K2P_PLANKA_API_KEY": key}
    args = [sys.executable, "-m", "k2p.cli", "import", str(archive), "--planka-url", planka.url,
            "--state", str(work / "ledger.sqlite"), "--report", str(work / "report.json"),
            "--users", str(work / "users.csv"), "--create-users", *extra]
    if not wait:
        return subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("phase", ["received", "committed"])
def test_kill_during_account_creation_creates_no_duplicate(company_archive: tuple[KaitenCompany, Path],
                                                           tmp_path: Path, phase: str) -> None:
    _, archive = company_archive
    with PlankaSimulator(require_terms=False, idle_timeout=300) as planka:
        key = planka.create_api_key(planka.admin_email)
        _template(planka, archive, tmp_path / "users.csv", key)
        proc = _cli(planka, archive, tmp_path, key, "--credentials-out", str(tmp_path / "first.csv"), wait=False)
        creates: list[int] = []

        def kill(seq: int, method: str, path: str, when: str) -> None:
            if method == "POST" and path == "/api/users" and when == phase:
                creates.append(seq)
                if len(creates) == 12:
                    os.kill(proc.pid, signal.SIGKILL)
        planka.hooks.on_mutation = kill
        proc.communicate(timeout=120)
        assert proc.returncode == -signal.SIGKILL
        planka.hooks.clear()
        resumed = _cli(planka, archive, tmp_path, key, "--credentials-out", str(tmp_path / "second.csv"))
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        users = list(planka.store.tables["users"].values())
        assert len({user["email"] for user in users}) == len(users)
        wanted = {int(kaiten_id) for kaiten_id, row in parse_user_csv(
            (tmp_path / "users.csv").read_text(encoding="utf-8"), source="users.csv").items() if row.action == "create"}
        assert len(users) == len(wanted) + 1          # + the admin
        # every created account's password is in exactly one of the two files, and it is right
        passwords: dict[str, str] = {}
        for name in ("first.csv", "second.csv"):
            with (tmp_path / name).open(encoding="utf-8") as handle:
                for row in csv.DictReader(handle):
                    passwords.setdefault(row["email"], row["password"])
                    if planka.store.first("users", email=row["email"])["password"] == row["password"]:
                        passwords[row["email"]] = row["password"]
        for user in users:
            if user["id"] != planka.admin_id:
                assert passwords[user["email"]] == user["password"], user["email"]
        output = resumed.stdout + resumed.stderr + (tmp_path / "report.json").read_text(encoding="utf-8")
        assert not any(password in output for password in passwords.values()), "a password was printed"


def test_a_board_by_board_import_stays_quiet_until_the_whole_archive(company_archive: tuple[KaitenCompany, Path],
                                                                    tmp_path: Path) -> None:
    company, archive = company_archive
    board = min(company.boards)
    with PlankaSimulator(require_terms=False, idle_timeout=300, smtp=True) as planka:
        key = planka.create_api_key(planka.admin_email)
        _template(planka, archive, tmp_path / "users.csv", key, everybody=True)
        options = dict(users=tmp_path / "users.csv", create_users=True, api_key=key)
        first = import_into(planka, archive, tmp_path / "ledger.sqlite", boards=(board,),
                            credentials_out=tmp_path / "first.csv", **options)
        assert first.tally.failed == 0
        created = [user for user in planka.store.tables["users"].values() if user["id"] != planka.admin_id]
        assert created and not any(user["subscribeToCardWhenCommenting"] or user["isDeactivated"] for user in created)
        whole = import_into(planka, archive, tmp_path / "ledger.sqlite", credentials_out=tmp_path / "second.csv",
                            **options)
        assert whole.tally.failed == 0
        assert all(user["subscribeToCardWhenCommenting"] for user in created)
        assert any(user["isDeactivated"] for user in created)
        assert [item for item in planka.store.tables["notifications"].values() if item["userId"] != planka.admin_id] == []
        assert planka.outbox == [] or all(mail.user_id == planka.admin_id for mail in planka.outbox)


def test_space_roles_give_board_roles_and_project_managers(company_archive: tuple[KaitenCompany, Path],
                                                           tmp_path: Path) -> None:
    from k2p.testing.kaiten.generator import SPACE_ROLE_ADMIN, SPACE_ROLE_READER, SPACE_ROLE_WRITER

    company, archive = company_archive
    (tmp_path / "mapping.toml").write_text(
        f'everyone_spaces = "members_only"\n[space_roles]\n"{SPACE_ROLE_ADMIN}" = "admin"\n'
        f'"{SPACE_ROLE_WRITER}" = "writer"\n"{SPACE_ROLE_READER}" = "commenter"\n', encoding="utf-8")
    with PlankaSimulator(require_terms=False, idle_timeout=300) as planka:
        key = planka.create_api_key(planka.admin_email)
        _template(planka, archive, tmp_path / "users.csv", key)
        outcome = import_into(planka, archive, tmp_path / "ledger.sqlite", users=tmp_path / "users.csv",
                              create_users=True, credentials_out=tmp_path / "c.csv", mapping=tmp_path / "mapping.toml",
                              api_key=key)
        assert outcome.tally.failed == 0, outcome.report["failures"][:3]
        assert not [note for note in outcome.report["fidelity_notes"] if note["entity"] == "space_roles"]
        store = planka.store
        accounts = {int(key.split(":")[1]): planka_id for key, planka_id in
                    ledger_ids(tmp_path / "ledger.sqlite", "user").items() if key.count(":") == 1}
        kinds = {SPACE_ROLE_ADMIN: "editor", SPACE_ROLE_WRITER: "editor", SPACE_ROLE_READER: "viewer"}
        workers = {str(planka_id) for planka_id in (store.tables["comments"][c]["userId"] for c in store.tables["comments"])}
        workers |= {card["creatorUserId"] for card in store.tables["cards"].values()}
        workers |= {m["userId"] for m in store.tables["card_memberships"].values()}
        checked = 0
        for project_key, project_id in ledger_ids(tmp_path / "ledger.sqlite", "project").items():
            space_id = int(project_key.split(":")[1])
            boards = [board["id"] for board in store.where("boards", projectId=project_id)]
            for user_id, role in company.space_members.get(space_id, {}).items():
                planka_id = accounts.get(user_id)
                for board_id in boards:
                    member = store.first("board_memberships", boardId=board_id, userId=planka_id)
                    if planka_id is None or planka_id == planka.admin_id or member is None:
                        continue
                    wanted = "editor" if planka_id in workers else kinds[role]
                    if wanted == "viewer":
                        assert (member["role"], member["canComment"]) == ("viewer", True), (space_id, user_id)
                        checked += 1
                shared = company.spaces[space_id]["access"] == "for_everyone"   # private: one manager only
                if role == SPACE_ROLE_ADMIN and shared and planka_id not in (None, planka.admin_id):
                    assert store.first("project_managers", projectId=project_id, userId=planka_id)
        assert checked > 0, "some readers got the viewer role after the replay"
        before = planka.mutation_count()
        again = import_into(planka, archive, tmp_path / "ledger.sqlite", users=tmp_path / "users.csv",
                            create_users=True, credentials_out=tmp_path / "c2.csv",
                            mapping=tmp_path / "mapping.toml", api_key=key)
        assert again.tally.failed == 0 and planka.mutation_count() == before
