"""People and history against a real Planka 2.x: ``--create-users``, the SQL fix-up, read back.

Skipped unless ``K2P_LIVE_PLANKA_URL`` and credentials of an **admin** account are set (see
tests/test_live_planka.py). The fix-up part also needs ``K2P_LIVE_PLANKA_DATABASE_URL`` (a
``postgresql://`` URL of that Planka's database, for ``psql``); with ``K2P_LIVE_SMTP_SINK_DIR``
(a directory where an SMTP sink configured in that Planka drops one file per message) the test
also checks that no e-mail reached a migrated person. Every run gives the simulated people
e-mails and usernames of their own (``…+<run>@example.com``), so runs never adopt each other's
accounts.

The simulated company (``K2P_LIVE_PLANKA_SCALE``, default ``tiny``) is exported, imported with
``--create-users``, fixed up with ``psql -v ON_ERROR_STOP=1 -1 -f fixup.sql``, and read back
through the API: authors, creators, dates (±1 s), memberships equal the archive; no notification
for any migrated person; ``fixup-sql --check`` says applied.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from k2p.fixup import check_fixup, write_fixup
from k2p.planka.importer import ImportOptions, run_import
from k2p.planka.users_template import write_users_template
from k2p.testing.kaiten.company import generate_company
from k2p.testing.kaiten.sim import KaitenSimulator
from tests.helpers.export import export
from tests.helpers.planka_state import ledger_ids
from tests.test_live_planka import LIVE_URL, SCALE, Live, live_credentials

DATABASE_URL = os.environ.get("K2P_LIVE_PLANKA_DATABASE_URL")
SINK = os.environ.get("K2P_LIVE_SMTP_SINK_DIR")
pytestmark = [pytest.mark.live,
              pytest.mark.skipif(not LIVE_URL, reason="set K2P_LIVE_PLANKA_URL (and admin credentials) to run")]
needs_db = pytest.mark.skipif(not DATABASE_URL or not shutil.which("psql"),
                              reason="set K2P_LIVE_PLANKA_DATABASE_URL (and install psql) for the fix-up")


def _moment(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(timezone.utc)


def _psql(*args: str) -> str:
    assert DATABASE_URL is not None
    done = subprocess.run(["psql", DATABASE_URL, "-v", "ON_ERROR_STOP=1", "-X", *args],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    assert LIVE_URL is not None
    live = Live(LIVE_URL, live_credentials())
    if live.me.get("role") != "admin":
        pytest.skip("the live account is not a Planka admin: --create-users needs one")
    tag = str(int(time.time()))
    company = generate_company(SCALE)
    for user in company.users.values():
        local, domain = user["email"].split("@")
        user["email"] = f"{local}+{tag}@{domain}"
        user["username"] = f"{user['username']}.{tag}"
    work = tmp_path_factory.mktemp("live-people")
    archive = work / f"{SCALE}.k2p"
    with KaitenSimulator(company, idle_timeout=300) as sim:
        export(sim, archive)
    mail_before = set(os.listdir(SINK)) if SINK else set()
    write_users_template(archive, work / "users.csv", planka_url=LIVE_URL, credentials=live.credentials,
                         accept_terms=True)
    options = ImportOptions(archive=archive, planka_url=LIVE_URL, state=work / "ledger.sqlite",
                            users=work / "users.csv", create_users=True, accept_terms=True,
                            credentials_out=work / "credentials.csv", report=work / "report.json")
    outcome = run_import(options, live.credentials)
    return {"live": live, "company": company, "archive": archive, "work": work, "outcome": outcome,
            "ledger": work / "ledger.sqlite", "mail_before": mail_before, "options": options}


def _accounts(run: dict[str, Any]) -> dict[int, dict[str, Any]]:
    users = {user["id"]: user for user in run["live"].client.get("/api/users")["items"]}
    return {int(key.split(":")[1]): users[planka_id]
            for key, planka_id in ledger_ids(run["ledger"], "user").items() if key.count(":") == 1}


def test_import_with_accounts_is_clean_and_a_rerun_writes_nothing(run: dict[str, Any]) -> None:
    assert run["outcome"].tally.failed == 0, run["outcome"].report["failures"][:3]
    again = run_import(run["options"].model_copy(update={"credentials_out": run["work"] / "again.csv",
                                                         "report": run["work"] / "again.json"}),
                       run["live"].credentials)
    assert all(row["created"] == row["updated"] == 0 for row in again.report["counts"].values())


def test_every_person_has_an_account_and_memberships_are_real(run: dict[str, Any]) -> None:
    company, accounts, client = run["company"], _accounts(run), run["live"].client
    for kaiten_id, account in accounts.items():
        assert account["email"] == company.users[kaiten_id]["email"].lower()
        assert account["isDeactivated"] == (not company.users[kaiten_id]["activated"])
        assert account["apiKeyPrefix"] is None, "no API key may be left behind"
    for key, card_id in ledger_ids(run["ledger"], "card").items():
        kaiten_id = int(key.split(":")[1])
        wanted = {accounts[user]["id"] for user, _ in company.card_members.get(kaiten_id, []) if user in accounts}
        included = client.get(f"/api/cards/{card_id}")["included"]
        assert {item["userId"] for item in included["cardMemberships"]} == wanted, key


@needs_db
def test_fixup_gives_true_authors_and_dates(run: dict[str, Any]) -> None:
    work = run["work"]
    write_fixup(run["archive"], run["ledger"], work / "fixup.sql", history=True)
    first = _psql("-1", "-f", str(work / "fixup.sql"))
    second = _psql("-1", "-f", str(work / "fixup.sql"))
    assert first != second, "the second application must report no change"
    company, accounts, client = run["company"], _accounts(run), run["live"].client
    comments = {key.split(":")[1]: planka_id for key, planka_id in ledger_ids(run["ledger"], "comment").items()}
    checked = 0
    for key, card_id in ledger_ids(run["ledger"], "card").items():
        raw = company.cards[int(key.split(":")[1])]
        card = client.get(f"/api/cards/{card_id}")["item"]
        assert abs((_moment(card["createdAt"]) - _moment(raw["created"])).total_seconds()) <= 1, key
        if raw.get("owner_id") in accounts:
            assert card["creatorUserId"] == accounts[raw["owner_id"]]["id"], key
        posted = {item["id"]: item for item in client.get(f"/api/cards/{card_id}/comments")["items"]}
        for comment in company.comments.get(raw["id"], []):
            item = posted.get(comments.get(str(comment["id"]), ""))
            if item is None:
                continue
            assert abs((_moment(item["createdAt"]) - _moment(comment["created"])).total_seconds()) <= 1
            if comment["author_id"] in accounts:
                assert item["userId"] == accounts[comment["author_id"]]["id"]
            checked += 1
    assert checked > 0
    verdict = check_fixup(run["archive"], run["ledger"], LIVE_URL, run["live"].credentials)  # type: ignore[arg-type]
    assert verdict.verdict == "applied", verdict


@needs_db
def test_no_notification_and_no_email_for_migrated_people(run: dict[str, Any]) -> None:
    own = [account["id"] for account in _accounts(run).values()]
    count = _psql("-At", "-c", f"SELECT count(*) FROM notification WHERE user_id IN ({','.join(own)})")
    assert count.strip() == "0"
    if SINK:
        emails = {account["email"] for account in _accounts(run).values()}
        new = set(os.listdir(SINK)) - run["mail_before"]
        received = [name for name in new if any(email in (Path(SINK) / name).read_text(errors="replace")
                                                for email in emails)]
        assert received == []
