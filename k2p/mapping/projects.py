"""Kaiten spaces → Planka projects, and the placement of each board in exactly one project."""

from __future__ import annotations

from typing import Any

from k2p.archive.index import CompanyRecords
from k2p.mapping.model import BoardRef, Fidelity, ProjectPlan
from k2p.mapping.ordering import id_order, position
from k2p.mapping.rules import MappingRules
from k2p.mapping.text import NAME_MAX, clean, js_len, plain_name, shorten

BY_INVITE = "by_invite"   # Kaiten space access: members only
Binding = dict[str, Any]   # {"space": space id, "type": binding type, "sort_order": float | None}


def bindings(company: CompanyRecords, board_id: str) -> list[Binding]:
    """The board's placements in spaces that are in the archive, by space id."""
    found: dict[str, Binding] = {}
    for record in company.space_boards:
        ref = record.get("ref") or {}
        if str(ref.get("board_id")) == board_id:
            raw = record.get("raw") or {}
            found.setdefault(str(ref.get("space_id")), {"type": raw.get("type"),
                                                        "sort_order": raw.get("sort_order")})
    board = company.boards.get(board_id) or {}
    for space_id in (board.get("ref") or {}).get("space_ids") or []:
        found.setdefault(str(space_id), {"type": None, "sort_order": None})
    return [{"space": space, **found[space]} for space in sorted(found, key=id_order)
            if space in company.spaces]


def primary_binding(company: CompanyRecords, board_id: str, found: list[Binding]) -> Binding | None:
    """Kaiten's primary space, else the lowest canvas (type 1) binding, else the lowest space id."""
    primary = company.primary_spaces.get(board_id)
    for binding in found:
        if binding["space"] == primary:
            return binding
    canvas = [binding for binding in found if binding["type"] == 1]
    return (canvas or found or [None])[0]


def plan_projects(company: CompanyRecords, rules: MappingRules, fidelity: Fidelity) -> list[ProjectPlan]:
    """One project per space that holds boards; each board placed once, under its primary space."""
    placed: dict[str, list[tuple[Any, ...]]] = {}
    bound: set[str] = set()
    for board_id in sorted(company.boards, key=id_order):
        found = bindings(company, board_id)
        bound.update(binding["space"] for binding in found)
        chosen = primary_binding(company, board_id, found)
        if chosen is None:
            fidelity.add("skipped", f"board:{board_id}", "space_binding",
                         "the board is bound to no space in the archive; it is not imported")
            continue
        placed.setdefault(chosen["space"], []).append(
            (position(chosen["sort_order"]), id_order(board_id), board_id))
        for other in found:
            if other is not chosen:
                fidelity.add("lossy", f"board:{board_id}", "space_binding",
                             f"also shown in space {other['space']} ({_title(company, other['space'])}); "
                             f"placed only under space {chosen['space']} ({_title(company, chosen['space'])})")
    for board_id, count in sorted(company.card_counts.items()):
        if board_id not in company.boards:
            fidelity.add("skipped", f"board:{board_id}", "cards",
                         f"{count} card(s) of a board whose record is not in the archive")
    plans = []
    by_uid = _space_uids(company)
    for space_id in sorted(company.spaces, key=lambda space: _tree_order(company, space, by_uid)):
        if space_id not in placed:
            fidelity.add("skipped", f"space:{space_id}", "boards",
                         "its boards are placed under their primary spaces" if space_id in bound
                         else "the space has no boards in the archive")
            continue
        name = project_name(company, space_id, rules, fidelity, by_uid)
        refs = [BoardRef(board_id=board_id, key=f"board:{board_id}") for *_, board_id in sorted(placed[space_id])]
        plans.append(ProjectPlan(key=f"project:{space_id}", name=name, boards=refs,
                                 type=project_type(company.spaces[space_id].get("raw") or {}, rules)))
        if (company.spaces[space_id].get("raw") or {}).get("archived"):
            fidelity.add("lossy", f"space:{space_id}", "archived",
                         "the space is archived in Kaiten; its project is an ordinary one")
    return plans


def project_type(space: dict[str, Any], rules: MappingRules) -> str:
    """``private`` for an invite-only space (``access = by_invite``) unless ``invite_spaces =
    "shared"``; every other space is ``shared``."""
    return "private" if space.get("access") == BY_INVITE and rules.invite_spaces == "private" else "shared"


def project_name(company: CompanyRecords, space_id: str, rules: MappingRules, fidelity: Fidelity,
                 by_uid: dict[str, str] | None = None) -> str:
    """``Parent / Child`` (or the leaf title), within Planka's 128-character limit."""
    chain = _chain(company, space_id, by_uid if by_uid is not None else _space_uids(company))
    titles = [plain_name(clean(_title(company, ancestor))).strip() for ancestor in chain]
    if not titles[-1]:
        fidelity.add("renamed", f"space:{space_id}", "name", f"empty title → {rules.word('placeholder_name')!r}")
    titles = [title or rules.word("placeholder_name") for title in titles]
    name = rules.nested_separator.join(titles) if rules.nested_naming == "path" else titles[-1]
    short = shorten(name, NAME_MAX)
    if short != name:
        fidelity.add("truncated", f"space:{space_id}", "name", f"{js_len(name)} → {js_len(short)} characters")
    return short


def _chain(company: CompanyRecords, space_id: str, by_uid: dict[str, str]) -> list[str]:
    """Space ids from the top-level ancestor down to ``space_id`` (parents that are spaces only)."""
    chain = [space_id]
    while True:
        parent_uid = (company.spaces[chain[0]].get("raw") or {}).get("parent_entity_uid")
        parent = by_uid.get(str(parent_uid)) if parent_uid else None
        if parent is None or parent in chain:
            return chain
        chain.insert(0, parent)


def _tree_order(company: CompanyRecords, space_id: str, by_uid: dict[str, str]) -> list[tuple[float, int]]:
    return [(position((company.spaces[key].get("raw") or {}).get("sort_order")), id_order(key)[0])
            for key in _chain(company, space_id, by_uid)]


def _space_uids(company: CompanyRecords) -> dict[str, str]:
    return {str((record.get("raw") or {}).get("uid")): key for key, record in company.spaces.items()}


def _title(company: CompanyRecords, space_id: str) -> str:
    return str((company.spaces[space_id].get("raw") or {}).get("title") or "")

