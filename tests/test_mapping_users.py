"""The user mapping CSV: template, parsing, resolution against Planka users."""

from __future__ import annotations

import csv
import io

import pytest

from k2p.archive.index import CompanyRecords
from k2p.errors import K2PError
from k2p.mapping.users import CSV_COLUMNS, UserMap, UserRow, parse_user_csv, resolve_user_map, template_rows


def user(user_id: int, name: str, email: str, username: str) -> dict:
    return {"kind": "user", "id": str(user_id),
            "raw": {"id": user_id, "full_name": name, "email": email, "username": username}}


@pytest.fixture()
def company() -> CompanyRecords:
    records = CompanyRecords()
    records.users = {"5": user(5, "Ann Example", "Ann@Example.com", "ann"),
                     "12": user(12, "Bob Example", "bob@example.com", "bobby"),
                     "7": user(7, "Иван Петров", "ivan@example.com", "иван")}
    records.company_users = {"30": user(30, "", "", "ghost")}
    return records


PLANKA = [
    {"id": "1001", "email": "ann@example.com", "username": "ann_p", "name": "Ann"},
    {"id": "1002", "email": "robert@example.org", "username": "bobby", "name": "Robert"},
    {"id": "1003", "email": "old@example.org", "username": "old", "name": "Old", "isDeactivated": True},
]


def test_template_rows_prefill_by_email_then_username(company: CompanyRecords) -> None:
    rows = template_rows(company, PLANKA)
    assert [row["kaiten_id"] for row in rows] == ["5", "7", "12", "30"]          # numeric order
    assert all(list(row) == list(CSV_COLUMNS) for row in rows)
    by_id = {row["kaiten_id"]: row for row in rows}
    assert by_id["5"]["planka_user"] == "ann@example.com"                        # e-mail, case-insensitive
    assert by_id["12"]["planka_user"] == "bobby"                                 # username
    assert by_id["7"]["planka_user"] == "" and by_id["7"]["name"] == "Иван Петров"
    assert by_id["30"]["name"] == "ghost"                                        # username when no name
    assert all(row["planka_user"] == "" for row in template_rows(company, None))
    deactivated = [{**user, "isDeactivated": True} for user in PLANKA]
    assert all(row["planka_user"] == "" for row in template_rows(company, deactivated)), "no deactivated match"


def test_template_round_trips_through_parse(company: CompanyRecords) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    writer.writerows(template_rows(company, PLANKA))
    # without an archive scan nobody "appears", so unmatched people are skipped
    assert parse_user_csv(buffer.getvalue(), source="users.csv") == {
        "5": UserRow("map", "ann@example.com"), "12": UserRow("map", "bobby")}


def test_template_proposes_create_for_people_who_appear(company: CompanyRecords) -> None:
    rows = {row["kaiten_id"]: row["action"] for row in template_rows(company, PLANKA, appearing={"7", "12"})}
    assert rows == {"5": "map", "7": "create", "12": "map", "30": "skip"}


def test_parse_actions() -> None:
    text = ("kaiten_id,planka_user,action\n5,ann,map\n7,,create\n12,,skip\n30,bob,\n31,,\n")
    assert parse_user_csv(text, source="u.csv") == {"5": UserRow("map", "ann"), "7": UserRow("create"),
                                                    "30": UserRow("map", "bob")}


def test_parse_accepts_bom_semicolons_and_blank_rows() -> None:
    text = "\ufeffkaiten_id;name;planka_user\r\n5;Ann;  ann_p \r\n7;Ivan;\r\n\r\n12;\"Bob; Jr\";1002\r\n"
    assert mapped(parse_user_csv(text, source="u.csv")) == {"5": "ann_p", "12": "1002"}


@pytest.mark.parametrize("text, message", [
    ("", "u.csv: the file is empty"),
    ("kaiten_id,name\n5,Ann\n", "u.csv: line 1: missing column 'planka_user'"),
    ("kaiten_id,planka_user\n5,ann\nabc,bob\n", "u.csv: line 3: kaiten_id 'abc' is not a Kaiten user id"),
    ("kaiten_id,planka_user\n5,ann\n5,bob\n", "u.csv: line 3: Kaiten user 5 already has a different row on line 2"),
    ("kaiten_id,planka_user,action\n5,ann,invite\n", "u.csv: line 2: action 'invite' is not one of map, create, skip"),
    ("kaiten_id,planka_user,action\n5,,map\n", "u.csv: line 2: action map needs a planka_user"),
    ("kaiten_id,planka_user,action\n5,ann,create\n", "u.csv: line 2: action create with planka_user 'ann'"),
])
def test_parse_errors_name_file_and_line(text: str, message: str) -> None:
    with pytest.raises(K2PError) as raised:
        parse_user_csv(text, source="u.csv")
    assert raised.value.message.startswith(message), raised.value.message


def test_parse_allows_the_same_value_twice() -> None:
    assert mapped(parse_user_csv("kaiten_id,planka_user\n5,ann\n5,ann\n", source="u.csv")) == {"5": "ann"}


def mapped(rows: dict[str, UserRow]) -> dict[str, str]:
    return {kaiten_id: row.planka_user for kaiten_id, row in rows.items()}


def test_resolve_by_id_username_or_email(company: CompanyRecords) -> None:
    wanted = {"5": "ANN_P", "12": "robert@example.org", "7": "1001", "30": "nobody", "99": "1002", "31": "old"}
    users, problems = resolve_user_map(wanted, PLANKA, company, source="users.csv")
    assert isinstance(users, UserMap)
    assert dict(users) == {"5": "1001", "12": "1002", "7": "1001", "99": "1002"}
    assert problems == [
        "users.csv: planka_user 'nobody' for Kaiten user 30 (ghost) not found in Planka",
        "users.csv: Kaiten user 31 is not in the archive's user lists (mapped anyway)",
        "users.csv: planka_user 'old' for Kaiten user 31 is deactivated in Planka",
        "users.csv: Kaiten user 99 is not in the archive's user lists (mapped anyway)",
    ]
    assert users.name_of(7) == "Иван Петров" and users.name_of("30") == "ghost"
    assert users.name_of(404) == "Kaiten user 404"
    assert users.mapping == dict(users)


def test_user_map_takes_names_from_the_archive(company: CompanyRecords) -> None:
    users = UserMap({"5": "1001"}, company)
    assert users.get("5") == "1001" and users.name_of(12) == "Bob Example" and "12" not in users
