"""Who may see a board in Planka, with which role: Kaiten space access → board memberships.

A Kaiten space member's role (``role`` / ``role_ids``: role ids, see ``space_roles`` in
mapping.toml) becomes a Planka board role: ``admin`` and ``writer`` → ``editor``, ``commenter`` →
``viewer`` who may comment, ``reader`` → ``viewer``. Everybody in the company sees a space with
``access = for_everyone`` (role ``for_everyone_access_role_id``) unless ``everyone_spaces =
"members_only"``. Card members of the board who are in none of those lists become editors, since
they work on its cards. When one person qualifies several times, the strongest role wins. Space
admins with a Planka role that allows it become project managers.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, Iterable

from k2p.archive.index import CompanyRecords
from k2p.mapping.rules import MappingRules

STRENGTH = {"reader": 0, "commenter": 1, "writer": 2, "admin": 3}
EVERYONE = "for_everyone"


@dataclass(frozen=True)
class MemberPlan:
    """One board membership: a Planka user and the role they end up with."""

    user_id: str                  # Planka user id
    role: str                     # editor | viewer
    can_comment: bool | None      # viewers only (Planka forces None for editors)

    def fields(self) -> dict[str, Any]:
        return {"role": self.role, "canComment": self.can_comment}


def space_role(rules: MappingRules, raw: dict[str, Any]) -> str:
    """The kind of a space member's role (``admin``, ``writer``, ``commenter``, ``reader``)."""
    ids = [raw.get("role")] + list(raw.get("role_ids") or [])
    kinds = [rules.space_roles[str(role)] for role in ids if role is not None and str(role) in rules.space_roles]
    return max(kinds, key=STRENGTH.__getitem__) if kinds else rules.unknown_space_role


def unnamed_roles(company: CompanyRecords, rules: MappingRules) -> Counter[str]:
    """Kaiten space role ids that ``space_roles`` does not name, with how many memberships use
    them (the import reports them: Kaiten's role ids carry no name in the archive)."""
    found: Counter[str] = Counter()
    for members in company.space_members.values():
        for record in members:
            raw = record.get("raw") or {}
            for role in {raw.get("role"), *(raw.get("role_ids") or [])} - {None}:
                if str(role) not in rules.space_roles:
                    found[str(role)] += 1
    for record in company.spaces.values():
        role = (record.get("raw") or {}).get("for_everyone_access_role_id")
        if role is not None and str(role) not in rules.space_roles:
            found[str(role)] += 0
    return found


def space_admins(company: CompanyRecords, rules: MappingRules, space_ids: Iterable[str] | None = None) -> set[str]:
    """Kaiten ids of the admins of the given spaces (all spaces when None)."""
    chosen = company.space_members if space_ids is None else {
        space_id: company.space_members.get(space_id, []) for space_id in space_ids}
    return {str((record.get("raw") or {}).get("id")) for members in chosen.values() for record in members
            if space_role(rules, record.get("raw") or {}) == "admin"}


def space_roles_of(company: CompanyRecords, rules: MappingRules, space_ids: Iterable[str]) -> dict[str, str]:
    """Kaiten user id → strongest role kind over the spaces (members, and everyone where open)."""
    roles: dict[str, str] = {}

    def grant(user_id: str, kind: str) -> None:
        if user_id not in roles or STRENGTH[kind] > STRENGTH[roles[user_id]]:
            roles[user_id] = kind

    everyone = [str(user_id) for user_id in {**company.company_users, **company.users}]
    for space_id in space_ids:
        space = (company.spaces.get(space_id) or {}).get("raw") or {}
        if space.get("access") == EVERYONE and rules.everyone_spaces == "all_users":
            kind = space_role(rules, {"role": space.get("for_everyone_access_role_id")})
            for user_id in everyone:
                grant(user_id, kind)
        for record in company.space_members.get(space_id, []):
            raw = record.get("raw") or {}
            grant(str(raw.get("id")), space_role(rules, raw))
    return roles


def board_members(roles: dict[str, str], planka_ids: dict[str, str],
                  card_member_ids: Iterable[str]) -> list[MemberPlan]:
    """Memberships of one board: people with a space role first (Kaiten id order of ``roles``),
    then card members without one, as editors. ``planka_ids``: Kaiten id → Planka id."""
    best: dict[str, str] = {}
    for kaiten_id, kind in roles.items():
        planka_id = planka_ids.get(kaiten_id)
        if planka_id is not None and (planka_id not in best or STRENGTH[kind] > STRENGTH[best[planka_id]]):
            best[planka_id] = kind
    for planka_id in card_member_ids:
        best.setdefault(planka_id, "writer")
    return [MemberPlan(planka_id, "editor", None) if STRENGTH[kind] >= STRENGTH["writer"]
            else MemberPlan(planka_id, "viewer", kind == "commenter") for planka_id, kind in best.items()]
