"""Kaiten users → Planka users: the editable CSV (template, parsing) and its resolution.

The CSV has one row per Kaiten user: ``kaiten_id, name, email, username, planka_user, action``.
``action`` says what happens to the person: ``map`` (to the existing Planka account named in
``planka_user`` by id, username or e-mail), ``create`` (``k2p import --create-users`` creates an
account) or ``skip`` (no account: the person is named in texts only). A file without the
``action`` column (k2p 0.1) means ``map`` where ``planka_user`` is filled and ``skip`` elsewhere.
Nothing here talks to Planka: the importer passes the Planka user list in.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any, Iterable

from k2p.archive.index import CompanyRecords
from k2p.errors import ExitCode, K2PError
from k2p.mapping.ordering import id_order

CSV_COLUMNS = ("kaiten_id", "name", "email", "username", "planka_user", "action")
ACTIONS = ("map", "create", "skip")
MANAGER_ROLES = ("admin", "projectOwner")     # Planka roles that may be project managers


@dataclass(frozen=True)
class UserRow:
    """One filled-in row of users.csv: what to do with a Kaiten person."""

    action: str                   # map | create | skip
    planka_user: str = ""         # map: the Planka account as typed (id, username or e-mail)


class UserMap(dict[str, str]):
    """Kaiten user id → Planka user id, plus display names from the archive for everyone.

    ``names`` is a Kaiten id → name dict, or the archive's records to take the names from.
    """

    def __init__(self, ids: dict[str, str] | None = None,
                 names: dict[str, str] | CompanyRecords | None = None, *,
                 own: Iterable[str] = (), managers: Iterable[str] = ()) -> None:
        super().__init__(ids or {})
        self.names: dict[str, str] = archive_names(names) if isinstance(names, CompanyRecords) else dict(names or {})
        # Planka ids of the accounts k2p created: it may act as them (true authors, quiet memberships)
        self.own: set[str] = set(own)
        # Planka ids whose role (admin, projectOwner) lets them be project managers
        self.managers: set[str] = set(managers)

    @property
    def mapping(self) -> dict[str, str]:
        """The id mapping as a plain dict."""
        return dict(self)

    def name_of(self, kaiten_id: object) -> str:
        """The person's display name, or ``Kaiten user <id>`` when the archive does not know it."""
        return self.names.get(str(kaiten_id)) or f"Kaiten user {kaiten_id}"


def display_name(user: dict[str, Any]) -> str | None:
    """``full_name``, else ``username``, else ``email`` of a Kaiten user object."""
    for key in ("full_name", "username", "email"):
        value = user.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def kaiten_users(company: CompanyRecords) -> list[dict[str, Any]]:
    """Every Kaiten user of the archive (both user collections), ordered by id."""
    merged: dict[str, dict[str, Any]] = {}
    for collection in (company.company_users, company.users):
        for user_id, record in collection.items():
            merged.setdefault(user_id, record["raw"])
    return [merged[key] for key in sorted(merged, key=id_order)]


def archive_names(company: CompanyRecords) -> dict[str, str]:
    """Kaiten user id → display name, for every user the archive knows."""
    names = {}
    for user in kaiten_users(company):
        name = display_name(user)
        if name:
            names[str(user.get("id"))] = name
    return names


def template_rows(company: CompanyRecords, planka_users: list[dict] | None,
                  appearing: set[str] | None = None) -> list[dict]:
    """CSV rows for every Kaiten user; ``planka_user`` pre-filled by e-mail, else username.

    ``action`` is ``map`` for a match, else ``create`` for people in ``appearing`` (they are a
    member, owner or author somewhere in the archive) and ``skip`` for the rest.
    """
    active = [user for user in planka_users or [] if not user.get("isDeactivated")]   # never a match
    by_email = _index(active, "email")
    by_username = _index(active, "username")
    rows = []
    for user in kaiten_users(company):
        email, username = _lower(user.get("email")), _lower(user.get("username"))
        match = ""
        if email and email in by_email:
            match = by_email[email].get("email") or ""
        elif username and username in by_username:
            match = by_username[username].get("username") or ""
        kaiten_id = str(user.get("id"))
        action = "map" if match else "create" if kaiten_id in (appearing or set()) else "skip"
        rows.append({"kaiten_id": kaiten_id, "name": display_name(user) or "",
                     "email": user.get("email") or "", "username": user.get("username") or "",
                     "planka_user": match, "action": action})
    return rows


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")   # what a spreadsheet may run as a formula


def spreadsheet_safe(cell: str) -> str:
    """A CSV cell no spreadsheet runs as a formula: a leading ``'`` before a formula character
    (OWASP "CSV injection"); :func:`parse_user_csv` removes it again."""
    return "'" + cell if cell.startswith(FORMULA_START) else cell


def _unquoted(cell: str) -> str:
    return cell[1:] if cell.startswith("'") and cell[1:].startswith(FORMULA_START) else cell


def appearing_user_ids(company: CompanyRecords, cards: Iterable[dict[str, Any]],
                       authored: Iterable[dict[str, Any]]) -> set[str]:
    """Kaiten ids of the people who appear in the archive: space members, card members and
    owners (``cards``: raw card payloads), and authors of comments and files (``authored``)."""
    found = {str((record.get("raw") or {}).get("id")) for members in company.space_members.values()
             for record in members}
    for card in cards:
        if card.get("owner_id") is not None:
            found.add(str(card["owner_id"]))
        for member in card.get("members") or []:
            if isinstance(member, dict) and member.get("user_id", member.get("id")) is not None:
                found.add(str(member.get("user_id", member.get("id"))))
    for raw in authored:
        if raw.get("author_id") is not None:
            found.add(str(raw["author_id"]))
    return found - {"None"}


def parse_user_csv(text: str, *, source: str) -> dict[str, UserRow]:
    """``kaiten_id → UserRow`` from a filled-in CSV; ``skip`` rows are left out."""
    text = text.lstrip("\ufeff")
    header_line = text.split("\n", 1)[0]
    delimiter = ";" if header_line.count(";") > header_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = [column.strip().lower() for column in next(reader)]
    except StopIteration:
        raise _bad(f"{source}: the file is empty; expected the columns {', '.join(CSV_COLUMNS)}") from None
    for column in ("kaiten_id", "planka_user"):
        if column not in header:
            raise _bad(f"{source}: line 1: missing column {column!r} (columns: {', '.join(CSV_COLUMNS)})")
    id_at, user_at = header.index("kaiten_id"), header.index("planka_user")
    action_at = header.index("action") if "action" in header else None
    wanted: dict[str, UserRow] = {}
    lines: dict[str, int] = {}
    try:
        for row in reader:
            line = reader.line_num
            cell = lambda at: row[at].strip() if at is not None and at < len(row) else ""  # noqa: E731
            kaiten_id, planka_user = cell(id_at), _unquoted(cell(user_at))
            action = cell(action_at).lower() or ("map" if planka_user else "skip")
            if action not in ACTIONS:
                raise _bad(f"{source}: line {line}: action {action!r} is not one of {', '.join(ACTIONS)}")
            if action == "map" and not planka_user:
                raise _bad(f"{source}: line {line}: action map needs a planka_user (id, username or e-mail)")
            if action == "create" and planka_user:
                raise _bad(f"{source}: line {line}: action create with planka_user {planka_user!r}; "
                           f"use action map to use that account, or clear planka_user")
            if action == "skip":
                continue
            if not kaiten_id.isdigit():
                raise _bad(f"{source}: line {line}: kaiten_id {kaiten_id!r} is not a Kaiten user id")
            entry = UserRow(action, planka_user)
            if kaiten_id in wanted and wanted[kaiten_id] != entry:
                raise _bad(f"{source}: line {line}: Kaiten user {kaiten_id} already has a different row "
                           f"on line {lines[kaiten_id]}")
            wanted[kaiten_id] = entry
            lines.setdefault(kaiten_id, line)
    except csv.Error as exc:
        raise _bad(f"{source}: line {reader.line_num}: {exc}") from None
    return wanted


def resolve_user_map(wanted: dict[str, str], planka_users: list[dict], company: CompanyRecords,
                     *, source: str = "users.csv") -> tuple[UserMap, list[str]]:
    """Turn the ``map`` rows' values (``kaiten_id → planka_user``) into Planka user ids; returns
    the map and one problem line per failure."""
    by_id = {str(user.get("id")): user for user in planka_users}
    by_username = _index(planka_users, "username")
    by_email = _index(planka_users, "email")
    names = archive_names(company)
    known = {str(user.get("id")) for user in kaiten_users(company)}
    ids: dict[str, str] = {}
    problems: list[str] = []
    for kaiten_id in sorted(wanted, key=id_order):
        value = wanted[kaiten_id]
        user = by_id.get(value) or by_username.get(value.lower()) or by_email.get(value.lower())
        label = f"Kaiten user {kaiten_id}" + (f" ({names[kaiten_id]})" if kaiten_id in names else "")
        if kaiten_id not in known:
            # Cards can name people missing from the user lists, so the row still counts.
            problems.append(f"{source}: Kaiten user {kaiten_id} is not in the archive's user lists "
                            "(mapped anyway)")
        if user is None:
            problems.append(f"{source}: planka_user {value!r} for {label} not found in Planka")
        elif user.get("isDeactivated"):
            problems.append(f"{source}: planka_user {value!r} for {label} is deactivated in Planka")
        else:
            ids[kaiten_id] = str(user["id"])
    managers = {str(user["id"]) for user in planka_users if user.get("role") in MANAGER_ROLES}
    return UserMap(ids, names, managers=managers), problems


def _index(users: Iterable[dict], key: str) -> dict[str, dict]:
    index: dict[str, dict] = {}
    for user in users:
        value = _lower(user.get(key))
        if value:
            index.setdefault(value, user)
    return index


def _lower(value: object) -> str:
    return value.strip().lower() if isinstance(value, str) else ""


def _bad(message: str) -> K2PError:
    return K2PError(message, exit_code=ExitCode.USAGE)
