"""Card details: Kaiten facts Planka has no place for, as custom fields on that card.

Each fact becomes one field of the card's own ``Details`` group (docs/MAPPING.md §4), present only
when the card has a value, so no card shows an empty field. Values are plain one-line text (Planka
shows field values as text): dates as ``2024-01-27 10:30 UTC``, durations as ``3 h 20 min``::

    Kaiten card   50000003
    Created       2022-11-16 13:02 UTC by Nadia Petrov
    Type          Bug
    Size          3 SP
    ASAP          yes
    Responsible   Ann Example
    Members without a Planka user   Bob Example
    Blocked       Needs the API first (card #50000021 Migrate billing export)
    Planned       2026-01-01 → 2026-02-01
    Time spent    3 h 20 min
    Parents       #50000021 Migrate billing export
    Children      #50000022 Ship onboarding flow
    Card links    blocks #1; blocked by #2; related #3
    External id   JIRA-12
    Files from comments   build.log
    Links kept as text    http://10.0.0.5/wiki https://***@example.com/x
"""

from __future__ import annotations

from typing import Any, Iterable

from k2p.mapping.context import BoardContext
from k2p.mapping.text import human_utc, shorten

MAX_ITEMS = 20          # names or cards listed per field; the rest is counted
TITLE_MAX = 80          # characters of a related card's title


def card_details(ctx: BoardContext, card: dict[str, Any], *, responsible: list[str],
                 unmapped_members: list[str], comment_files: list[str], held_links: list[str],
                 time_spent: int | None) -> list[tuple[str, str, str]]:
    """``(slug, field name, value)`` for every fact the card has, in display order."""
    if ctx.rules.details == "off":
        return []
    size = card.get("size_text") or card.get("size")
    unit = card.get("size_unit")
    planned = [human_utc(card.get(key), with_time=False) for key in ("planned_start", "planned_end")]
    external = card.get("external_id")
    facts = [
        ("kaiten_card", "Kaiten card", str(card.get("id"))),
        ("created", "Created", _created(ctx, card)),
        ("type", "Type", type_label(ctx, card) or ""),
        ("size", "Size", "" if size in (None, "", 0) else (f"{size} {unit}" if unit else str(size))),
        ("asap", "ASAP", "yes" if card.get("asap") else ""),
        ("responsible", "Responsible", _listed(responsible)),
        ("unmapped_members", "Members without a Planka user", _listed(unmapped_members)),
        ("blocked", "Blocked", _blocked(card)),
        ("planned", "Planned", f"{planned[0] or '?'} → {planned[1] or '?'}" if any(planned) else ""),
        ("time_spent", "Time spent", duration(time_spent) if time_spent else ""),
        ("parents", "Parents", _cards(card.get("parents"), card.get("parents_ids"))),
        ("children", "Children", _cards(card.get("children"), card.get("children_ids"))),
        ("card_links", "Card links", _card_links(card)),
        ("external_id", "External id", str(external) if isinstance(external, (str, int)) else ""),
        ("comment_files", "Files from comments", _listed(comment_files)),
        ("held_links", "Links kept as text", _listed(held_links, " ")),     # URLs hold no spaces
    ]
    return [(slug, name, _one_line(value)) for slug, name, value in facts if _one_line(value)]


def duration(seconds: int) -> str:
    """``3 h 20 min``, ``45 min``, ``2 h`` (whole minutes; under a minute is ``< 1 min``)."""
    hours, minutes = divmod(seconds // 60, 60)
    parts = ([f"{hours} h"] if hours else []) + ([f"{minutes} min"] if minutes else [])
    return " ".join(parts) or "< 1 min"


def _created(ctx: BoardContext, card: dict[str, Any]) -> str:
    created = human_utc(card.get("created"))
    owner = card.get("owner_id")
    if not created and owner is None:
        return ""
    by = f" by {ctx.person(owner, card.get('owner'))}" if owner is not None else ""
    return f"{created or '(date unknown)'}{by}"


def type_label(ctx: BoardContext, card: dict[str, Any]) -> str | None:
    """The Kaiten card type's name (embedded, else from the archive's card types)."""
    embedded = card.get("type")
    if isinstance(embedded, dict) and embedded.get("name"):
        return str(embedded["name"])
    record = ctx.company.card_types.get(str(card.get("type_id"))) or {}
    name = (record.get("raw") or {}).get("name")
    return str(name) if name else None


def _blocked(card: dict[str, Any]) -> str:
    if not card.get("blocked"):
        return ""
    reasons = []
    for blocker in card.get("blockers") or []:
        if not isinstance(blocker, dict) or blocker.get("released"):
            continue
        reason = _one_line(str(blocker.get("reason") or ""))
        if blocker.get("blocker_card_id"):
            title = shorten(_one_line(str(blocker.get("blocker_card_title") or "")), TITLE_MAX)
            reason = f"{reason} (card #{blocker['blocker_card_id']} {title})".strip()
        reasons.append(reason or "no reason given")
    if not reasons and card.get("block_reason"):
        reasons.append(_one_line(str(card["block_reason"])))
    return "; ".join(reasons) or "yes"


def _cards(summaries: Any, ids: Any) -> str:
    entries = []
    if isinstance(summaries, list) and summaries:
        for summary in summaries:
            if isinstance(summary, dict):
                title = shorten(_one_line(str(summary.get("title") or "")), TITLE_MAX)
                entries.append(f"#{summary.get('id')} {title}".rstrip())
    elif isinstance(ids, list):
        entries = [f"#{card_id}" for card_id in ids]
    return _listed(entries)


def _card_links(card: dict[str, Any]) -> str:
    parts = []
    for key, label in (("blocks_card_ids", "blocks"), ("blocked_by_card_ids", "blocked by"),
                       ("relates_card_ids", "related")):
        ids = card.get(key)
        if isinstance(ids, list) and ids:
            parts.append(label + " " + ", ".join(f"#{card_id}" for card_id in ids[:MAX_ITEMS]))
    return "; ".join(parts)


def _listed(entries: Iterable[str], separator: str = ", ") -> str:
    entries = [_one_line(entry) for entry in entries]
    more = len(entries) - MAX_ITEMS
    return separator.join(entries[:MAX_ITEMS]) + (f" and {more} more" if more > 0 else "")


def _one_line(text: str) -> str:
    return " ".join(text.split())
