"""The details footer: Kaiten facts Planka has no field for, appended to the card description.

Format (every line but the first is optional; docs/MAPPING.md "Details footer")::

    ---
    **Kaiten card 50000003** · [open in Kaiten](…) · created 2022-11-16 13:02 UTC by Nadia Petrov
    - Type: Bug · Size: 3 SP · ASAP
    - Responsible: Ann Example
    - Members without a Planka user: Bob Example
    - Blocked: Needs the API first (card #50000021 Migrate billing export)
    - Planned: 2026-01-01 → 2026-02-01
    - Parents: #50000021 Migrate billing export
    - Children: #50000022 Ship onboarding flow
    - Card links: blocks #1; blocked by #2; related #3
    - External id: JIRA-12
    - Files from comments: build.log
    - Links kept as text: `http://10.0.0.5/wiki`, `https://***@example.com/x`
"""

from __future__ import annotations

from typing import Any, Iterable

from k2p.mapping.context import BoardContext
from k2p.mapping.text import human_utc, md_escape, shorten

MAX_ITEMS = 20          # names or cards listed per line; the rest is counted
TITLE_MAX = 80          # characters of a related card's title


def details_footer(ctx: BoardContext, card: dict[str, Any], *, responsible: list[str],
                   unmapped_members: list[str], comment_files: list[str],
                   held_links: list[str]) -> str:
    """The footer text (starting with a rule), or ``""`` when switched off."""
    if not ctx.rules.details_footer:
        return ""
    lines = ["---", _headline(ctx, card)]
    facts = [_type_and_size(ctx, card)]
    facts.append(_named("Responsible", responsible))
    facts.append(_named("Members without a Planka user", unmapped_members))
    facts.append(_blocked(card))
    planned = [human_utc(card.get(key), with_time=False) for key in ("planned_start", "planned_end")]
    if any(planned):
        facts.append(f"Planned: {planned[0] or '?'} → {planned[1] or '?'}")
    facts.append(_cards("Parents", card.get("parents"), card.get("parents_ids")))
    facts.append(_cards("Children", card.get("children"), card.get("children_ids")))
    facts.append(_card_links(card))
    if isinstance(card.get("external_id"), (str, int)) and str(card["external_id"]).strip():
        facts.append("External id: " + md_escape(_one_line(str(card["external_id"]))))
    facts.append(_named("Files from comments", comment_files))
    # As code spans: shown, never made clickable.
    facts.append(_listed("Links kept as text", [f"`{link.replace('`', '%60')}`" for link in held_links]))
    lines.extend(f"- {fact}" for fact in facts if fact)
    return "\n".join(lines)


def _headline(ctx: BoardContext, card: dict[str, Any]) -> str:
    card_id = card.get("id")
    parts = [f"**Kaiten card {card_id}**"]
    url = ctx.card_url(card_id)
    if url:
        parts.append(f"[open in Kaiten]({url})")
    created = human_utc(card.get("created"))
    owner = card.get("owner_id")
    if created or owner is not None:
        by = f" by {md_escape(ctx.person(owner, card.get('owner')))}" if owner is not None else ""
        parts.append(f"created {created or '(date unknown)'}{by}")
    return " · ".join(parts)


def _type_and_size(ctx: BoardContext, card: dict[str, Any]) -> str:
    parts = []
    type_name = type_label(ctx, card)
    if type_name:
        parts.append("Type: " + md_escape(type_name))
    size = card.get("size_text") or card.get("size")
    if size not in (None, "", 0):
        unit = card.get("size_unit")
        parts.append("Size: " + md_escape(f"{size} {unit}" if unit else str(size)))
    if card.get("asap"):
        parts.append("ASAP")
    return " · ".join(parts)


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
        reason = _one_line(str(blocker.get("reason") or "")).strip()
        if blocker.get("blocker_card_id"):
            title = shorten(_one_line(str(blocker.get("blocker_card_title") or "")), TITLE_MAX)
            reason = f"{reason} (card #{blocker['blocker_card_id']} {title})".strip()
        reasons.append(md_escape(reason or "no reason given"))
    if not reasons and card.get("block_reason"):
        reasons.append(md_escape(_one_line(str(card["block_reason"]))))
    return "Blocked: " + ("; ".join(reasons) or "yes")


def _cards(label: str, summaries: Any, ids: Any) -> str:
    entries = []
    if isinstance(summaries, list) and summaries:
        for summary in summaries:
            if isinstance(summary, dict):
                title = shorten(_one_line(str(summary.get("title") or "")), TITLE_MAX)
                entries.append(f"#{summary.get('id')} {md_escape(title)}".rstrip())
    elif isinstance(ids, list):
        entries = [f"#{card_id}" for card_id in ids]
    return _listed(label, entries)


def _card_links(card: dict[str, Any]) -> str:
    parts = []
    for key, label in (("blocks_card_ids", "blocks"), ("blocked_by_card_ids", "blocked by"),
                       ("relates_card_ids", "related")):
        ids = card.get(key)
        if isinstance(ids, list) and ids:
            parts.append(label + " " + ", ".join(f"#{card_id}" for card_id in ids[:MAX_ITEMS]))
    return ("Card links: " + "; ".join(parts)) if parts else ""


def _named(label: str, names: Iterable[str]) -> str:
    return _listed(label, [md_escape(_one_line(name)) for name in names])


def _listed(label: str, entries: list[str]) -> str:
    if not entries:
        return ""
    more = len(entries) - MAX_ITEMS
    shown = ", ".join(entries[:MAX_ITEMS]) + (f" and {more} more" if more > 0 else "")
    return f"{label}: {shown}"


def _one_line(text: str) -> str:
    return " ".join(text.split())
