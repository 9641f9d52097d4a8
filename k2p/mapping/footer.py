"""Card details: Kaiten facts Planka has no place for, as custom fields on that card.

Each fact becomes one field of the card's own ``Details`` group (docs/MAPPING.md §4), present only
when the card has a value, so no card shows an empty field. Values are plain one-line text (Planka
shows field values as text): dates as ``2024-01-27 10:30 UTC``, durations as ``3 h 20 min``. Field
names, units and ``yes`` are the rules' words (:mod:`k2p.mapping.wording`; English shown). A related
card that becomes a linked task (``Subtasks``, ``Parents``, ``Blocked by``, ``Blocks``) is not
repeated here; related cards outside the import stay as text::

    Kaiten card   50000003
    Created       2022-11-16 13:02 UTC
    Owner         Nadia Petrov
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

from typing import Any, Callable, Iterable

from k2p.mapping.context import BoardContext
from k2p.mapping.relations import related_ids
from k2p.mapping.rules import MappingRules
from k2p.mapping.text import human_utc, shorten

_ENGLISH = MappingRules(language="en")
MAX_ITEMS = 20          # names or cards listed per field; the rest is counted
TITLE_MAX = 80          # characters of a related card's title


def card_details(ctx: BoardContext, card: dict[str, Any], *, responsible: list[str],
                 unmapped_members: list[str], comment_files: list[str], held_links: list[str],
                 time_spent: int | None) -> list[tuple[str, str, str]]:
    """``(slug, field name, value)`` for every fact the card has, in display order. A related card
    that is a linked task (:meth:`BoardContext.is_linked`) is not repeated here."""
    if ctx.rules.details == "off":
        return []
    word = ctx.rules.word
    size = card.get("size_text") or card.get("size")
    unit = card.get("size_unit")
    planned = [human_utc(card.get(key), with_time=False) for key in ("planned_start", "planned_end")]
    external = card.get("external_id")
    facts = [
        ("kaiten_card", str(card.get("id"))),
        ("created", human_utc(card.get("created")) or ""),
        ("owner", ctx.person(card["owner_id"], card.get("owner")) if card.get("owner_id") is not None else ""),
        ("type", type_label(ctx, card) or ""),
        ("size", "" if size in (None, "", 0) else (f"{size} {unit}" if unit else str(size))),
        ("asap", word("yes") if card.get("asap") else ""),
        ("responsible", _listed(ctx, responsible)),
        ("unmapped_members", _listed(ctx, unmapped_members)),
        ("blocked", _blocked(ctx, card)),
        ("planned", f"{planned[0] or '?'} → {planned[1] or '?'}" if any(planned) else ""),
        ("time_spent", duration(time_spent, word) if time_spent else ""),
        ("parents", _cards(ctx, card, "parents")),
        ("children", _cards(ctx, card, "children")),
        ("card_links", _card_links(ctx, card)),
        ("external_id", str(external) if isinstance(external, (str, int)) else ""),
        ("comment_files", _listed(ctx, comment_files)),
        ("held_links", _listed(ctx, held_links, " ")),     # URLs hold no spaces
    ]
    return [(slug, word(f"detail.{slug}"), _one_line(value)) for slug, value in facts if _one_line(value)]


def duration(seconds: int, word: Callable[..., str] | None = None) -> str:
    """``3 h 20 min``, ``45 min``, ``2 h`` (whole minutes; under a minute is ``< 1 min``); ``word``
    gives the units (a rules' :meth:`~MappingRules.word`; English when omitted)."""
    word = word or _ENGLISH.word
    hours, minutes = divmod(seconds // 60, 60)
    parts = ([word("hours", n=hours)] if hours else []) + ([word("minutes", n=minutes)] if minutes else [])
    return " ".join(parts) or word("under_a_minute")


def type_label(ctx: BoardContext, card: dict[str, Any]) -> str | None:
    """The Kaiten card type's name (embedded, else from the archive's card types)."""
    embedded = card.get("type")
    if isinstance(embedded, dict) and embedded.get("name"):
        return str(embedded["name"])
    record = ctx.company.card_types.get(str(card.get("type_id"))) or {}
    name = (record.get("raw") or {}).get("name")
    return str(name) if name else None


def _blocked(ctx: BoardContext, card: dict[str, Any]) -> str:
    """Reasons of the active blocks; a blocking card that is a linked task ("Blocked by") is not
    named again, and with no reason of its own leaves nothing to say here."""
    if not card.get("blocked"):
        return ""
    word = ctx.rules.word
    reasons, linked = [], False
    for blocker in card.get("blockers") or []:
        if not isinstance(blocker, dict) or blocker.get("released"):
            continue
        reason = _one_line(str(blocker.get("reason") or ""))
        other = blocker.get("blocker_card_id")
        if other and ctx.is_linked(other):
            linked = True
            if reason:
                reasons.append(reason)
            continue
        if other:
            title = shorten(_one_line(str(blocker.get("blocker_card_title") or "")), TITLE_MAX)
            named = word("blocker_card", id=other, title=title).strip()
            reason = f"{reason} ({named})" if reason else named
        reasons.append(reason or word("no_reason"))
    if not reasons and card.get("block_reason"):
        reasons.append(_one_line(str(card["block_reason"])))
    return "; ".join(reasons) or ("" if linked else word("yes"))


def _cards(ctx: BoardContext, card: dict[str, Any], kind: str) -> str:
    """``#id title`` of the related cards that are not linked tasks (titles from Kaiten's summaries)."""
    titles = {}
    for summary in card.get(kind) if isinstance(card.get(kind), list) else []:
        if isinstance(summary, dict) and summary.get("id") is not None:
            titles.setdefault(str(summary["id"]), shorten(_one_line(str(summary.get("title") or "")), TITLE_MAX))
    entries = [f"#{other} {titles.get(other, '')}".rstrip()
               for other in related_ids(card, kind) if not ctx.is_linked(other)]
    return _listed(ctx, entries)


def _card_links(ctx: BoardContext, card: dict[str, Any]) -> str:
    """Blocking, blocked and related cards by id; those that are linked tasks are left out."""
    parts = []
    for key, label in (("blocks_card_ids", "link.blocks"), ("blocked_by_card_ids", "link.blocked_by"),
                       ("relates_card_ids", "link.related")):
        ids = card.get(key)
        if not isinstance(ids, list):
            continue
        shown = [str(other) for other in ids if isinstance(other, (int, str)) and not isinstance(other, bool)
                 and (key == "relates_card_ids" or not ctx.is_linked(other))]
        if shown:
            parts.append(ctx.rules.word(label) + " " + ", ".join(f"#{other}" for other in shown[:MAX_ITEMS]))
    return "; ".join(parts)


def _listed(ctx: BoardContext, entries: Iterable[str], separator: str = ", ") -> str:
    entries = [_one_line(entry) for entry in entries]
    more = len(entries) - MAX_ITEMS
    shown = separator.join(entries[:MAX_ITEMS])
    return ctx.rules.word("and_more", list=shown, count=more) if more > 0 else shown


def _one_line(text: str) -> str:
    return " ".join(text.split())
