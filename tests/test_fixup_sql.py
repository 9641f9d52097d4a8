"""``k2p fixup-sql`` against a real PostgreSQL holding Planka 2.1.1's tables.

A simulated company is exported and imported into the Planka simulator; the simulator's records
(ids, times, authors exactly as the import left them) are then inserted into a throwaway
PostgreSQL cluster whose tables have Planka 2.1.1's columns (or, with ``K2P_PLANKA_SCHEMA_SQL``
naming a real Planka's ``pg_dump --schema-only``, exactly that schema). The generated scripts are
applied with ``psql -v ON_ERROR_STOP=1 -1 -f`` as docs/MAPPING.md says. Without PostgreSQL
binaries the tests are skipped with the reason (``.ci/run`` installs them).
"""

from __future__ import annotations

import csv
import glob
import json
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest

from k2p.archive.reader import ArchiveReader
from k2p.errors import Refused
from k2p.fixup import check_fixup, write_fixup
from k2p.timestamps import parse_time
from k2p.planka.client import Credentials
from k2p.planka.users_template import write_users_template
from k2p.testing.planka.sim import PlankaSimulator
from tests.helpers.export import export_company
from tests.helpers.planka_state import import_into, ledger_ids

pytestmark = pytest.mark.slow


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    initdb = found[-1] if found else shutil.which("initdb")
    return Path(initdb).parent if initdb else None


PG_BIN = _pg_bin()
PSQL = shutil.which("psql") or (str(PG_BIN / "psql") if PG_BIN else None)
if PG_BIN is None or PSQL is None or not Path(PSQL).exists():
    pytest.skip("PostgreSQL binaries (initdb, psql) not found; .ci/run installs the `postgresql` "
                "OS package", allow_module_level=True)

# Planka 2.1.1's columns (from its pg_dump), for the tables the fix-up reads or writes.
PLANKA_DDL = """
CREATE SEQUENCE next_id_seq;
CREATE FUNCTION next_id(OUT id bigint) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE shard INT := 1; epoch BIGINT := 1567191600000; sequence BIGINT; milliseconds BIGINT;
BEGIN
  SELECT nextval('next_id_seq') % 1024 INTO sequence;
  SELECT FLOOR(EXTRACT(EPOCH FROM clock_timestamp()) * 1000) INTO milliseconds;
  id := (milliseconds - epoch) << 23; id := id | (shard << 10); id := id | (sequence);
END; $$;
CREATE TABLE project (id bigint DEFAULT next_id() PRIMARY KEY, owner_project_manager_id bigint,
  background_image_id bigint, name text NOT NULL, description text, background_type text,
  background_gradient text, is_hidden boolean NOT NULL, created_at timestamp, updated_at timestamp);
CREATE TABLE board (id bigint DEFAULT next_id() PRIMARY KEY, project_id bigint NOT NULL,
  position double precision NOT NULL, name text NOT NULL, default_view text NOT NULL,
  default_card_type text NOT NULL, limit_card_types_to_default_one boolean NOT NULL,
  always_display_card_creator boolean NOT NULL, created_at timestamp, updated_at timestamp,
  expand_task_lists_by_default boolean NOT NULL, display_card_ages boolean NOT NULL);
CREATE TABLE list (id bigint DEFAULT next_id() PRIMARY KEY, board_id bigint NOT NULL, type text NOT NULL,
  position double precision, name text, color text, created_at timestamp, updated_at timestamp);
CREATE TABLE card (id bigint DEFAULT next_id() PRIMARY KEY, board_id bigint NOT NULL, list_id bigint NOT NULL,
  creator_user_id bigint, prev_list_id bigint, cover_attachment_id bigint, type text NOT NULL,
  position double precision, name text NOT NULL, description text, due_date timestamp, stopwatch jsonb,
  created_at timestamp, updated_at timestamp, list_changed_at timestamp, comments_total integer NOT NULL,
  is_closed boolean NOT NULL, is_due_completed boolean);
CREATE TABLE comment (id bigint DEFAULT next_id() PRIMARY KEY, card_id bigint NOT NULL, user_id bigint,
  text text NOT NULL, created_at timestamp, updated_at timestamp);
CREATE TABLE attachment (id bigint DEFAULT next_id() PRIMARY KEY, card_id bigint NOT NULL,
  creator_user_id bigint, type text NOT NULL, data jsonb NOT NULL, name text NOT NULL,
  created_at timestamp, updated_at timestamp);
CREATE TABLE action (id bigint DEFAULT next_id() PRIMARY KEY, card_id bigint NOT NULL, user_id bigint,
  type text NOT NULL, data jsonb NOT NULL, created_at timestamp, updated_at timestamp, board_id bigint);
CREATE TABLE task_list (id bigint DEFAULT next_id() PRIMARY KEY, card_id bigint NOT NULL,
  position double precision NOT NULL, name text NOT NULL, show_on_front_of_card boolean NOT NULL,
  created_at timestamp, updated_at timestamp, hide_completed_tasks boolean NOT NULL);
CREATE TABLE task (id bigint DEFAULT next_id() PRIMARY KEY, task_list_id bigint NOT NULL,
  assignee_user_id bigint, position double precision NOT NULL, name text NOT NULL,
  is_completed boolean NOT NULL, created_at timestamp, updated_at timestamp, linked_card_id bigint);
CREATE TABLE user_account (id bigint DEFAULT next_id() PRIMARY KEY, email text NOT NULL, password text,
  role text NOT NULL, name text NOT NULL, username text, avatar jsonb, phone text, organization text,
  language text, subscribe_to_own_cards boolean NOT NULL, subscribe_to_card_when_commenting boolean NOT NULL,
  turn_off_recent_card_highlighting boolean NOT NULL, enable_favorites_by_default boolean NOT NULL,
  default_editor_mode text NOT NULL, default_home_view text NOT NULL, default_projects_order text NOT NULL,
  is_sso_user boolean NOT NULL, is_deactivated boolean NOT NULL, created_at timestamp, updated_at timestamp,
  password_changed_at timestamp, terms_signature text, terms_accepted_at timestamp, api_key_prefix text,
  api_key_hash text, api_key_created_at timestamp);
CREATE TABLE notification (id bigint DEFAULT next_id() PRIMARY KEY, user_id bigint NOT NULL,
  creator_user_id bigint, board_id bigint NOT NULL, card_id bigint NOT NULL, comment_id bigint,
  action_id bigint, type text NOT NULL, data jsonb NOT NULL, is_read boolean NOT NULL,
  created_at timestamp, updated_at timestamp);
"""
# Simulator table → (Planka table, its columns in DDL order).
TABLES = {name: (table, [column.split()[0] for column in columns.split(",")]) for name, table, columns in (
    ("projects", "project", "id, owner_project_manager_id, background_image_id, name, description, "
     "background_type, background_gradient, is_hidden, created_at, updated_at"),
    ("boards", "board", "id, project_id, position, name, default_view, default_card_type, "
     "limit_card_types_to_default_one, always_display_card_creator, created_at, updated_at, "
     "expand_task_lists_by_default, display_card_ages"),
    ("lists", "list", "id, board_id, type, position, name, color, created_at, updated_at"),
    ("cards", "card", "id, board_id, list_id, creator_user_id, prev_list_id, cover_attachment_id, type, "
     "position, name, description, due_date, stopwatch, created_at, updated_at, list_changed_at, "
     "comments_total, is_closed, is_due_completed"),
    ("comments", "comment", "id, card_id, user_id, text, created_at, updated_at"),
    ("attachments", "attachment", "id, card_id, creator_user_id, type, data, name, created_at, updated_at"),
    ("actions", "action", "id, card_id, user_id, type, data, created_at, updated_at, board_id"),
    ("task_lists", "task_list", "id, card_id, position, name, show_on_front_of_card, created_at, "
     "updated_at, hide_completed_tasks"),
    ("tasks", "task", "id, task_list_id, assignee_user_id, position, name, is_completed, created_at, "
     "updated_at, linked_card_id"),
    ("notifications", "notification", "id, user_id, creator_user_id, board_id, card_id, comment_id, "
     "action_id, type, data, is_read, created_at, updated_at"),
    ("users", "user_account", "id, email, password, role, name, username, avatar, phone, organization, "
     "language, subscribe_to_own_cards, subscribe_to_card_when_commenting, turn_off_recent_card_highlighting, "
     "enable_favorites_by_default, default_editor_mode, default_home_view, default_projects_order, "
     "is_sso_user, is_deactivated, created_at, updated_at, password_changed_at, terms_signature, "
     "terms_accepted_at, api_key_prefix, api_key_hash, api_key_created_at"))}
DUMPED = [table for table, _ in TABLES.values()]
PRE_EXISTING = 3          # Kaiten people with a Planka account before the import (users.csv: map)
SCHEMA_DUMP = os.environ.get("K2P_PLANKA_SCHEMA_SQL")


def camel(column: str) -> str:
    head, *rest = column.split("_")
    return head + "".join(part.title() for part in rest)


def sql_value(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    text = json.dumps(value) if isinstance(value, (dict, list)) else str(value)
    return "'" + text.replace("'", "''") + "'"


def utc_naive(value: object) -> str | None:
    moment = parse_time(value)
    return None if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S.%f")


# --- a throwaway PostgreSQL cluster --------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Cluster:
    root: Path
    port: int

    def env(self, database: str) -> dict[str, str]:
        return {**os.environ, "PGHOST": "127.0.0.1", "PGPORT": str(self.port), "PGUSER": "postgres",
                "PGDATABASE": database, "PGCONNECT_TIMEOUT": "10"}


def _as_postgres(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    # Not tmp_path: the server runs as `postgres`, which cannot enter pytest's 0700 directories.
    root = Path(tempfile.mkdtemp(prefix="k2p-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    data, port = root / "data", _free_port()
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c TimeZone=UTC"
    try:
        subprocess.run(_as_postgres([str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust",
                                     "--no-sync", "-E", "UTF8"]), check=True, capture_output=True)
        subprocess.run(_as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(root / "log"),
                                     "-o", options, "-w", "start"]), check=True, capture_output=True)
        yield Cluster(root, port)
    finally:
        subprocess.run(_as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
                       capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


class Database:
    def __init__(self, cluster: Cluster, name: str) -> None:
        self.env = cluster.env(name)

    def psql(self, *args: str, sql: str | None = None) -> str:
        result = subprocess.run([PSQL, "-X", "-v", "ON_ERROR_STOP=1", *args], input=sql, env=self.env,
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr
        return result.stdout

    def query(self, sql: str) -> list[list[str]]:
        out = self.psql("-A", "-t", "-F", "\t", "-c", sql)
        return [line.split("\t") for line in out.splitlines() if line]

    def apply(self, script: Path) -> dict[str, dict[str, int]]:
        """The documented command; returns the printed summary (what → counts)."""
        result = subprocess.run([PSQL, "-v", "ON_ERROR_STOP=1", "-1", "-f", str(script)], env=self.env,
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr
        summary: dict[str, dict[str, int]] = {}
        for match in re.finditer(r"k2p-(?:fixup|undo): (.+?) ((?:\w+=\d+ ?)+)$", result.stdout, re.M):
            summary[match.group(1)] = {key: int(value) for key, value in
                                       (pair.split("=") for pair in match.group(2).split())}
        self.last_output = result.stdout
        return summary

    def dump(self) -> dict[str, str]:
        """Every row of every table the fix-up may touch, one JSON line per row."""
        return {table: self.psql("-A", "-t", "-c", f'SELECT to_jsonb(t) FROM "{table}" t ORDER BY id')
                for table in DUMPED}

    def tables(self) -> set[str]:
        return {row[0] for row in self.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}


# --- an import as the simulators leave it ----------------------------------------------------
@dataclass
class Imported:
    archive: Path
    ledger: Path
    records: dict[str, dict[str, dict[str, Any]]]     # simulator table → id → record
    people: dict[str, str]                            # Kaiten user id → Planka user id
    created: set[str]                                 # Planka ids of accounts "created" by k2p
    planka: PlankaSimulator                           # still running (for --check)
    key: str


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Imported]:
    """``k2p import --create-users`` of the tiny company, a few people mapped to existing accounts."""
    archive = export_company(tmp_path_factory, "tiny", "fixup")
    work = tmp_path_factory.mktemp("fixup-import")
    with ArchiveReader(archive) as reader:
        users = sorted((record["raw"] for record in reader.iter_records("users")), key=lambda user: user["id"])
    with PlankaSimulator(require_terms=False, idle_timeout=300) as planka:
        for user in [user for user in users if user.get("email") and user.get("activated")][:PRE_EXISTING]:
            planka.add_user(email=user["email"], name=user.get("full_name") or "User", password="Sim-Password-2026!")
        key = planka.create_api_key(planka.admin_email)
        write_users_template(archive, work / "users.csv", planka_url=planka.url, credentials=Credentials(api_key=key))
        outcome = import_into(planka, archive, work / "ledger.sqlite", users=work / "users.csv", create_users=True,
                              credentials_out=work / "credentials.csv", api_key=key)
        assert outcome.tally.failed == 0
        with planka.store.lock:
            records = {name: {rid: dict(record) for rid, record in planka.store.tables[name].items()}
                       for name in TABLES}
        with sqlite3.connect(work / "ledger.sqlite") as db:
            rows = db.execute("SELECT key, planka_id, state FROM objects WHERE kind = 'user' AND status = 'done'")
            people = {key.split(":")[1]: (planka_id, json.loads(state).get("origin"))
                      for key, planka_id, state in rows}
        created = {planka_id for planka_id, origin in people.values() if origin == "created"}
        assert created and len(created) < len(people)
        yield Imported(archive, work / "ledger.sqlite", records,
                       {kaiten: planka_id for kaiten, (planka_id, _) in people.items()}, created, planka, key)


@pytest.fixture()
def db(cluster: Cluster, imported: Imported, request: pytest.FixtureRequest) -> Database:
    return load_database(cluster, re.sub(r"\W", "_", request.node.name)[:60].lower(), imported.records)


def load_database(cluster: Cluster, name: str, records: dict[str, dict[str, dict[str, Any]]]) -> Database:
    """A new database with Planka 2.1.1's tables holding the simulator's ``records``."""
    Database(cluster, "postgres").psql("-c", f'CREATE DATABASE "{name}"')
    database = Database(cluster, name)
    inserts = []
    if SCHEMA_DUMP:     # a real Planka's `pg_dump --schema-only` instead of the columns above
        Database(cluster, "postgres").psql("-c", "DO $$ BEGIN CREATE ROLE planka; "
                                                 "EXCEPTION WHEN duplicate_object THEN NULL; END $$")
        database.psql("-q", "-f", SCHEMA_DUMP)
    else:
        inserts.append(PLANKA_DDL)
    for sim_name, (table, columns) in TABLES.items():
        for record in records[sim_name].values():
            values = ", ".join(sql_value(record.get(camel(column))) for column in columns)
            inserts.append(f'INSERT INTO "{table}" ({", ".join(columns)}) VALUES ({values});')
    database.psql("-q", "-1", sql="\n".join(inserts))
    return database


# --- what the archive says ---------------------------------------------------------------------
def expected_rows(imported: Imported) -> dict[str, dict[str, tuple[Any, ...]]]:
    """Planka id → expected (created_at, updated_at, author) per table, straight from the archive."""
    ids = {kind: ledger_ids(imported.ledger, kind) for kind in ("card", "comment", "attachment", "task_list",
                                                               "task", "project", "board", "list")}
    sim = imported.records
    out: dict[str, dict[str, tuple[Any, ...]]] = {"card": {}, "comment": {}, "attachment": {}, "task": {},
                                                  "project": {}, "board": {}}
    with ArchiveReader(imported.archive) as reader:
        history: dict[str, list[str]] = {}
        card_created: dict[str, str] = {}
        for record in reader.iter_records("location_history"):
            history.setdefault(str(record["raw"]["card_id"]), []).append(utc_naive(record["raw"]["changed"]))
        for record in reader.iter_records("cards"):
            raw = record["raw"]
            planka_id = ids["card"].get(f"card:{raw['id']}")
            if planka_id is None:
                continue
            owner = imported.people.get(str(raw.get("owner_id")), sim["cards"][planka_id]["creatorUserId"])
            moved = utc_naive(raw.get("last_moved_at")) or max(history.get(str(raw["id"]), [None]) or [None]) \
                or utc_naive(raw["created"])
            out["card"][planka_id] = (utc_naive(raw["created"]), utc_naive(raw["updated"]), owner, moved)
            card_created[str(raw["id"])] = raw["created"]
            for checklist in raw.get("checklists") or []:
                for item in checklist.get("items") or []:
                    task = ids["task"].get(f"task:{raw['id']}:item:{item['id']}")
                    if task:
                        created = item.get("created") or checklist.get("created") or raw["created"]
                        out["task"][task] = (utc_naive(created),)
        for record in reader.iter_records("comments"):
            raw = record["raw"]
            planka_id = ids["comment"].get(f"comment:{raw['id']}")
            if planka_id:
                author = imported.people.get(str(raw["author_id"]), sim["comments"][planka_id]["userId"])
                out["comment"][planka_id] = (utc_naive(raw["created"]), utc_naive(raw["updated"]), author)
        for record in reader.iter_records("files"):
            planka_id = ids["attachment"].get(f"attachment:{record['ref']['card_id']}:file:{record['id']}")
            if planka_id:
                author = imported.people.get(str(record["raw"].get("author_id")),
                                             sim["attachments"][planka_id]["creatorUserId"])
                created = record["raw"].get("created") or card_created[str(record["ref"]["card_id"])]
                out["attachment"][planka_id] = (utc_naive(created), author)
        for collection, table in (("spaces", "project"), ("boards", "board")):
            for record in reader.iter_records(collection):
                planka_id = ids[table].get(f"{table}:{record['id']}")
                if planka_id:
                    out[table][planka_id] = (utc_naive(record["raw"]["created"]),)
    return out


def actual(db: Database, table: str, columns: str) -> dict[str, tuple[Any, ...]]:
    rows = db.query(f'SELECT id, {columns} FROM "{table}"')
    return {row[0]: tuple(value or None for value in row[1:]) for row in rows}


def pg_time(value: str | None) -> str | None:
    """psql prints ``2022-11-14 09:41:00`` or ``… .123``: normalise to microseconds."""
    if value is None:
        return None
    head, _, fraction = value.partition(".")
    return f"{head}.{(fraction + '000000')[:6]}"


TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")


def normalise(rows: dict[str, tuple[Any, ...]]) -> dict[str, tuple[Any, ...]]:
    return {key: tuple(pg_time(value) if value and TIMESTAMP.match(value) else value for value in row)
            for key, row in rows.items()}


def write(imported: Imported, tmp_path: Path, **options: Any) -> tuple[Path, Path]:
    output = tmp_path / "fixup.sql"
    outcome = write_fixup(imported.archive, imported.ledger, output, **options)
    return outcome.output, outcome.undo_output


def add_notifications(db: Database, imported: Imported) -> dict[str, str]:
    """Three notifications on an imported card: import-caused for a created account (to delete),
    later for the same account, and import-time for a mapped account (both kept)."""
    card_id, card = next(iter(imported.records["cards"].items()))
    created, mapped = sorted(imported.created)[0], next(iter(set(imported.people.values()) - imported.created))
    rows = {"import": (created, card["createdAt"]), "later": (created, "2099-01-01T00:00:00.000Z"),
            "mapped": (mapped, card["createdAt"])}
    ids = {}
    for label, (user, at) in rows.items():
        ids[label] = db.query(
            f"INSERT INTO notification (user_id, creator_user_id, board_id, card_id, type, data, is_read, created_at) "
            f"VALUES ({user}, NULL, {card['boardId']}, {card_id}, 'commentCard', '{{\"text\": \"hi\"}}', false, "
            f"'{at}') RETURNING id")[0][0]
    return ids


# --- tests -------------------------------------------------------------------------------------
def test_apply_sets_archive_values_skips_changed_rows_is_idempotent_and_undoes(
        db: Database, imported: Imported, tmp_path: Path) -> None:
    fixup, undo = write(imported, tmp_path)
    assert oct(fixup.stat().st_mode & 0o777) == "0o600" and oct(undo.stat().st_mode & 0o777) == "0o600"
    text = fixup.read_text() + undo.read_text()
    with open(imported.ledger.with_name("credentials.csv"), encoding="utf-8") as handle:
        passwords = [row["password"] for row in csv.DictReader(handle)]
    assert passwords and not [password for password in passwords if password in text]
    assert imported.key not in text and "Sim-Password" not in text
    # The rows are picked among those the script targets: which Planka ids the import gave them
    # depends on the order in which its workers ran.
    expected = expected_rows(imported)
    edited_card, deleted_comment = sorted(expected["card"])[1], sorted(expected["comment"])[0]
    # A person edits a card after the import (an hour later: the import ran seconds ago), and a
    # comment is deleted.
    db.psql("-c", f"UPDATE card SET name = name || ' (edited)', updated_at = (now() AT TIME ZONE 'UTC') "
                  f"+ interval '1 hour' WHERE id = {edited_card}; DELETE FROM comment WHERE id = {deleted_comment}")
    # Rows that do not match the ledger: another creation time, another parent.
    other_task, moved_attachment = sorted(expected["task"])[0], sorted(expected["attachment"])[0]
    db.psql("-c", f"UPDATE task SET created_at = created_at - interval '1 day' WHERE id = {other_task}; "
                  f"UPDATE attachment SET card_id = card_id + 1 WHERE id = {moved_attachment}")
    notes = add_notifications(db, imported)
    before = db.dump()

    summary = db.apply(fixup)
    cards = normalise(actual(db, "card", "created_at, updated_at, creator_user_id, list_changed_at"))
    for planka_id, (created, updated, owner, moved) in expected["card"].items():
        if planka_id == edited_card:
            continue
        assert cards[planka_id] == (created, updated, owner, moved), planka_id
    assert cards[edited_card][0] == utc_naive(imported.records["cards"][edited_card]["createdAt"])
    assert summary["card"] == {"changed": len(expected["card"]) - 1, "already": 0, "skipped": 1, "missing": 0}
    assert f"left alone card {edited_card} (skipped)" in db.last_output
    comments = normalise(actual(db, "comment", "created_at, updated_at, user_id"))
    for planka_id, row in expected["comment"].items():
        if planka_id != deleted_comment:
            assert comments[planka_id] == row, planka_id
    assert summary["comment"]["missing"] == 1
    attachments = normalise(actual(db, "attachment", "created_at, creator_user_id"))
    assert all(attachments[key] == row for key, row in expected["attachment"].items() if key != moved_attachment)
    imported_at = imported.records["attachments"][moved_attachment]["createdAt"]
    assert attachments[moved_attachment][0] == utc_naive(imported_at)
    assert summary["attachment"]["missing"] == 1 and f"attachment {moved_attachment} (mismatch)" in db.last_output
    assert summary["task"]["skipped"] == 1 and f"task {other_task} (skipped)" in db.last_output
    for table in ("task", "project", "board"):
        got = normalise(actual(db, table, "created_at"))
        assert expected[table] and all(got[key] == row for key, row in expected[table].items()
                                       if key != other_task), table
    creations = normalise(actual(db, "action", "card_id, created_at, user_id"))
    for action_id, (card_id, created_at, user_id) in creations.items():
        if imported.records["actions"][action_id]["type"] == "createCard" and card_id != edited_card:
            assert (created_at, user_id) == (expected["card"][card_id][0], expected["card"][card_id][2])
    assert summary["action (createCard)"]["changed"] == len(expected["card"]) - 1
    # What the import itself did is not history: no "joined this card" at import time, and the
    # archive move of an archived card dated when Kaiten last moved the card.
    joined = [a for a in imported.records["actions"].values() if a["type"] == "addMemberToCard"]
    assert joined and db.query("SELECT count(*) FROM action WHERE type = 'addMemberToCard'") == [["0"]]
    assert summary["action (addMemberToCard by the import, removed)"]["changed"] == len(joined)
    archive_moves = {key: a for key, a in imported.records["actions"].items() if a["type"] == "moveCard"
                     and (a["data"].get("toList") or {}).get("type") == "archive"}
    assert archive_moves
    dated = normalise(actual(db, "action", "card_id, created_at"))
    for action_id, move in archive_moves.items():
        if move["cardId"] != edited_card:
            assert dated[action_id][1] == expected["card"][move["cardId"]][3], action_id
    imported_notes = imported.records["notifications"]
    to_created = {key for key, note in imported_notes.items() if note["userId"] in imported.created}
    left = {row[0] for row in db.query("SELECT id FROM notification")}
    assert left == (set(imported_notes) - to_created) | {notes["later"], notes["mapped"]}
    assert summary["notification (import-caused, deleted)"]["changed"] == 1 + len(to_created)

    again = db.apply(fixup)
    assert all(counts["changed"] == 0 for counts in again.values()), again
    assert again["card"]["skipped"] == 1 and again["card"]["already"] == len(expected["card"]) - 1

    db.apply(undo)
    assert db.dump() == before
    assert "k2p_fixup_saved" not in db.tables()


def test_history_inserts_moves_once_and_undo_removes_them(db: Database, imported: Imported, tmp_path: Path) -> None:
    before = db.dump()
    fixup, undo = write(imported, tmp_path, history=True)
    summary = db.apply(fixup)
    moves = db.query("SELECT card_id, user_id, created_at, data->>'k2pLocationEvent', data->'fromList'->>'id', "
                     "data->'toList'->>'id', data->'card'->>'name' FROM action WHERE type = 'moveCard' "
                     "AND data ? 'k2pLocationEvent'")
    assert moves and summary["action (moveCard history)"]["changed"] == len(moves)
    lists = {row[0]: row[1] for row in db.query("SELECT id, board_id FROM list")}
    cards = {row[0]: row for row in db.query("SELECT id, board_id, name FROM card")}
    with ArchiveReader(imported.archive) as reader:
        events = {str(record["id"]): record["raw"] for record in reader.iter_records("location_history")}
    for card_id, user_id, created_at, event, from_list, to_list, name in moves:
        raw = events[event]
        assert pg_time(created_at) == utc_naive(raw["changed"])
        assert from_list != to_list and lists[from_list] == lists[to_list] == cards[card_id][1]
        assert name == cards[card_id][2]
        assert user_id == imported.people.get(str(raw["author_id"]), user_id)
    assert len({move[3] for move in moves}) == len(moves)
    again = db.apply(fixup)
    assert again["action (moveCard history)"] == {"changed": 0, "already": len(moves),
                                                  "skipped": summary["action (moveCard history)"]["skipped"],
                                                  "missing": 0}
    db.apply(undo)
    assert db.dump() == before


def test_refusals_name_the_file_and_the_next_step(imported: Imported, tmp_path: Path) -> None:
    fixup, _ = write(imported, tmp_path)
    with pytest.raises(Refused, match="already exists.*--force"):
        write(imported, tmp_path)
    write(imported, tmp_path, force=True)
    broken = tmp_path / "interrupted.sqlite"
    shutil.copy(imported.ledger, broken)
    with sqlite3.connect(broken) as ledger:
        runs = json.loads(ledger.execute("SELECT value FROM meta WHERE key = 'runs'").fetchone()[0])
        runs[-1]["completed"] = False
        ledger.execute("UPDATE meta SET value = ? WHERE key = 'runs'", (json.dumps(runs),))
    with pytest.raises(Refused, match=r"did not complete; rerun `k2p import`") as refused:
        write_fixup(imported.archive, broken, tmp_path / "other.sql")
    assert str(broken) in refused.value.message and "\n" not in refused.value.message
    assert not (tmp_path / "other.sql").exists()


def mirror_into_simulator(db: Database, planka: PlankaSimulator) -> None:
    """What the fix-up wrote to PostgreSQL, copied into the simulator that serves the API."""
    with planka.store.lock:
        for table, sim_table, author in (("card", "cards", "creatorUserId"), ("comment", "comments", "userId")):
            column = "creator_user_id" if table == "card" else "user_id"
            for row_id, created_at, user_id in db.query(f"SELECT id, created_at, {column} FROM {table}"):
                record = planka.store.tables[sim_table][row_id]
                record["createdAt"] = pg_time(created_at).replace(" ", "T")[:23] + "Z"
                record[author] = user_id or None


def test_check_reads_back_whether_the_fixup_was_applied(db: Database, imported: Imported, tmp_path: Path) -> None:
    credentials = Credentials(api_key=imported.key)
    imported.planka.request_log.clear()
    before = check_fixup(imported.archive, imported.ledger, imported.planka.url, credentials)
    assert (before.verdict, before.fixed, before.missing) == ("not applied", 0, 0)
    assert before.checked > len(imported.records["cards"])
    assert before.exit_code == 7 and before.differences
    fixup, _ = write(imported, tmp_path)
    db.apply(fixup)
    mirror_into_simulator(db, imported.planka)
    after = check_fixup(imported.archive, imported.ledger, imported.planka.url, credentials)
    assert (after.verdict, after.fixed, after.not_fixed, after.exit_code) == ("applied", before.checked, 0, 0)
    card_id = sorted(imported.records["cards"])[0]
    imported.planka.store.tables["cards"][card_id]["createdAt"] = imported.records["cards"][card_id]["createdAt"]
    partly = check_fixup(imported.archive, imported.ledger, imported.planka.url, credentials, sample=5)
    assert partly.verdict == "partly" and partly.checked < before.checked
    assert partly.differences[0].startswith(f"card {card_id}: createdAt")
    assert not [entry for entry in imported.planka.request_log.snapshot() if entry.method != "GET"]




def test_sso_accounts_are_marked_and_undo_unmarks_them(cluster: Cluster, imported: Imported, tmp_path: Path) -> None:
    """``--sso``: Planka's API cannot mark an account as SSO, so the fix-up does."""
    with PlankaSimulator(require_terms=False, idle_timeout=120) as planka:
        key = planka.create_api_key(planka.admin_email)
        write_users_template(imported.archive, tmp_path / "users.csv")
        outcome = import_into(planka, imported.archive, tmp_path / "ledger.sqlite", users=tmp_path / "users.csv",
                              create_users=True, sso=True, api_key=key)
        assert outcome.tally.failed == 0 and outcome.report["people"]["passwords_written"] == 0
        with planka.store.lock:
            records = {name: {rid: dict(record) for rid, record in planka.store.tables[name].items()}
                       for name in TABLES}
    database = load_database(cluster, "sso", records)
    fixup = write_fixup(imported.archive, tmp_path / "ledger.sqlite", tmp_path / "fixup.sql")
    sso = "SELECT count(*) FROM user_account WHERE is_sso_user"
    created = len(records["users"]) - 1
    assert database.apply(fixup.output)["user_account (is_sso_user, --sso)"]["changed"] == created
    assert database.query(sso) == [[str(created)]]
    assert database.apply(fixup.output)["user_account (is_sso_user, --sso)"]["changed"] == 0
    database.apply(fixup.undo_output)
    assert database.query(sso) == [["0"]]
