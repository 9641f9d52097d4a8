"""One Kaiten card → one Planka card with its task lists, comments, attachments and values."""

from __future__ import annotations

from typing import Any

from k2p.mapping.attachments import plan_attachments
from k2p.mapping.comments import plan_comments
from k2p.mapping.context import BoardContext
from k2p.mapping.footer import card_details, type_label
from k2p.mapping.model import AttachmentPlan, CardPlan, DetailPlan, TaskListPlan, TaskPlan
from k2p.mapping.ordering import id_order, position
from k2p.mapping.text import (FIELD_VALUE_MAX, LONG_NAME_MAX, NAME_MAX, clean, iso_utc, js_len, parse_time,
                              md_escape, plain_name, planka_markdown, shorten)

RESPONSIBLE = 2
TEXT_TITLE_MAX = 10_000   # a title shortened for the name is kept whole up to this in the description
DONE_STATE = 3
ARCHIVED_CONDITION = 2


def plan_card(ctx: BoardContext, card: dict[str, Any], *, list_key: str, in_done_list: bool,
              label_keys: list[str], custom_values: dict[str, str],
              missing: dict[str, dict[str, Any]],
              property_details: list[tuple[str, str, str]] | None = None) -> CardPlan:
    """The card's plan; ``missing`` holds the archive's ``missing`` records by id (file reasons);
    ``property_details`` are ``(slug, name, value)`` of properties too rare for a board field."""
    card_id = str(card.get("id"))
    entity = f"card:{card_id}"
    member_ids, responsible, unmapped = _people(ctx, card)
    files = plan_attachments(ctx, card, missing)
    comment_files = list(dict(pair for pairs in files.by_comment.values() for pair in pairs).values())
    tracked = _tracked_seconds(ctx, card)
    facts = card_details(ctx, card, responsible=responsible, unmapped_members=unmapped,
                         comment_files=comment_files, held_links=files.held_links,
                         time_spent=tracked if ctx.rules.time_spent == "field" else None)
    url = ctx.card_url(card_id)
    if url and ctx.rules.details == "fields":
        files.attachments.append(AttachmentPlan(key=f"attachment:{card_id}:kaiten", type="link",
                                                name=ctx.rules.word("kaiten_link", id=card_id), url=url))
    due_date = _due_date(ctx, card, entity)
    done = card.get("state") == DONE_STATE or in_done_list
    name, long_title = _name(ctx, card, entity)
    return CardPlan(
        key=f"card:{card_id}",
        list_key=list_key,
        name=name,
        type=ctx.rules.planka_card_type(card.get("type_id"), type_label(ctx, card)),
        description=_description(ctx, card, long_title, entity),
        due_date=due_date,
        is_due_completed=done if due_date is not None else None,
        stopwatch_total=tracked if ctx.rules.time_spent == "stopwatch" else None,
        archived=bool(card.get("archived")) or card.get("condition") == ARCHIVED_CONDITION,
        label_keys=label_keys,
        member_user_ids=member_ids,
        creator_user_id=ctx.users.get(str(card.get("owner_id"))) if card.get("owner_id") is not None else None,
        task_lists=plan_task_lists(ctx, card),
        comments=plan_comments(ctx, card_id, files.by_comment),
        attachments=files.attachments,
        cover_key=files.cover_key,
        custom_values=custom_values,
        details=_details(ctx, card_id, facts + (property_details or [])),
        details_group=ctx.rules.word("details_group"),
    )


def _name(ctx: BoardContext, card: dict[str, Any], entity: str) -> tuple[str, str]:
    """The card name, and the full title when it was shortened for display (else ``""``)."""
    if not ctx.rules.long_title_in_description:
        return ctx.name(card.get("title"), LONG_NAME_MAX, entity, "name"), ""
    full = ctx.name(card.get("title"), TEXT_TITLE_MAX, entity, "name")
    short = shorten(full, ctx.rules.name_display_max)
    return short, full.strip() if short != full else ""


def _details(ctx: BoardContext, card_id: str, facts: list[tuple[str, str, str]]) -> list[DetailPlan]:
    """The card's detail fields: names within 128, values within 512 (cuts noted)."""
    plans = []
    for slug, name, value in facts:
        key = f"card:{card_id}:detail:{slug}"
        text = clean(plain_name(value)).strip()
        short = shorten(text, FIELD_VALUE_MAX)
        if short != text:
            ctx.fidelity.add("truncated", f"card:{card_id}", "custom_value",
                             f"{name}: {js_len(text)} → {js_len(short)} characters")
        if short:
            plans.append(DetailPlan(key=key, name=ctx.name(name, NAME_MAX, key, "name"), content=short))
    return plans


def _card_members(card: dict[str, Any]) -> list[tuple[str, int, dict[str, Any]]]:
    """``(user id, member type, member object)`` for each card member, responsible ones first."""
    found = []
    for member in card.get("members") or []:
        if isinstance(member, dict):
            user_id = member.get("user_id", member.get("id"))
            if user_id is not None:
                found.append((str(user_id), member.get("type"), member))
    return sorted(found, key=lambda entry: entry[1] != RESPONSIBLE)


def _people(ctx: BoardContext, card: dict[str, Any]) -> tuple[list[str], list[str], list[str]]:
    """Mapped Planka member ids, responsible names, and names of unmapped plain members."""
    member_ids: list[str] = []
    responsible: list[str] = []
    unmapped: list[str] = []
    for user_id, kind, member in _card_members(card):
        name = ctx.person(user_id, member)
        if kind == RESPONSIBLE:
            responsible.append(name)
        planka_id = ctx.planka_user(user_id, member)
        if planka_id is None:
            if kind != RESPONSIBLE:
                unmapped.append(name)
        elif planka_id not in member_ids:
            member_ids.append(planka_id)
    return member_ids, responsible, unmapped


def _description(ctx: BoardContext, card: dict[str, Any], long_title: str, entity: str) -> str | None:
    """The Kaiten description (Markdown made renderable), after the full title when the name is cut."""
    body = card.get("description") if isinstance(card.get("description"), str) else ""
    if not body.strip():
        body = ""
    if ctx.rules.planka_markdown:
        body = planka_markdown(body)
    if not body and not long_title:
        return None
    prefix = f"**{md_escape(long_title)}**" + ("\n\n" if body else "") if long_title else ""
    return ctx.long_text(body, entity, "description", prefix=prefix)


def _due_date(ctx: BoardContext, card: dict[str, Any], entity: str) -> str | None:
    raw = card.get("due_date")
    if raw in (None, ""):
        return None
    moment = parse_time(raw)
    if moment is None:
        ctx.fidelity.add("dropped", entity, "due_date", f"not an ISO 8601 timestamp: {raw!r}")
        return None
    return iso_utc(moment)


def _tracked_seconds(ctx: BoardContext, card: dict[str, Any]) -> int | None:
    """Kaiten's ``time_spent_sum`` (minutes), else the sum of the card's time logs, in seconds."""
    minutes = card.get("time_spent_sum")
    if not isinstance(minutes, (int, float)) or isinstance(minutes, bool):
        logs = ctx.records.time_logs.get(str(card.get("id")), [])
        minutes = sum(entry for entry in ((log.get("raw") or {}).get("time_spent") for log in logs)
                      if isinstance(entry, (int, float)) and not isinstance(entry, bool))
    seconds = int(round(minutes * 60))
    return seconds if seconds > 0 else None


def plan_task_lists(ctx: BoardContext, card: dict[str, Any]) -> list[TaskListPlan]:
    """Checklists in ``sort_order``; deleted items are dropped (and noted)."""
    card_id = str(card.get("id"))
    entity = f"card:{card_id}"
    checklists = {str(item.get("id")): item for item in card.get("checklists") or [] if isinstance(item, dict)}
    plans = []
    for checklist_id, checklist in sorted(checklists.items(),
                                          key=lambda pair: (position(pair[1].get("sort_order")), id_order(pair[0]))):
        name = ctx.name(checklist.get("name"), NAME_MAX, entity, "task_list_name")
        plan = TaskListPlan(key=f"tasklist:{card_id}:checklist:{checklist_id}", name=name)
        items = [item for item in checklist.get("items") or [] if isinstance(item, dict)]
        for item in sorted(items, key=lambda item: (position(item.get("sort_order")), id_order(item.get("id")))):
            if item.get("deleted"):
                ctx.fidelity.add("dropped", entity, "checklist_item",
                                 f"deleted item {item.get('id')} of checklist {name!r}")
                continue
            plan.tasks.append(TaskPlan(key=f"task:{card_id}:item:{item.get('id')}",
                                       name=ctx.name(item.get("text"), LONG_NAME_MAX, entity, "task_name"),
                                       is_completed=bool(item.get("checked"))))
        plans.append(plan)
    return plans
