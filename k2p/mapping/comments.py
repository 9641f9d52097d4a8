"""Kaiten comments → Planka comments: oldest first, with an attribution line, never raw HTML."""

from __future__ import annotations

from typing import Any

from k2p.mapping.context import BoardContext
from k2p.mapping.html_markdown import html_to_markdown
from k2p.mapping.model import CommentPlan
from k2p.mapping.ordering import id_order, time_order
from k2p.mapping.text import human_utc, md_escape, planka_markdown

HTML = 2


def plan_comments(ctx: BoardContext, card_id: str,
                  files_by_comment: dict[str, list[tuple[str, str]]]) -> list[CommentPlan]:
    """Live comments of the card, oldest first (by ``created``, then id); deleted ones are left out."""
    raws = [record.get("raw") or {} for record in ctx.records.comments.get(card_id, [])]
    live = [raw for raw in raws if not raw.get("deleted")]
    live.sort(key=lambda raw: (time_order(raw.get("created")), id_order(raw.get("id"))))
    plans = []
    for raw in live:
        comment_id = str(raw.get("id"))
        body = str(raw.get("text") or "")
        if raw.get("type") == HTML:
            body = html_to_markdown(body)
        elif ctx.rules.planka_markdown:
            body = planka_markdown(body)
        files = files_by_comment.get(comment_id, []) + files_by_comment.get(str(raw.get("uid")), [])
        names = list(dict(files).values())
        suffix = ""
        if names:
            suffix = "\n\n*" + md_escape(ctx.rules.word("attached_to_card", names=", ".join(names))) + "*"
        author = ctx.users.get(str(raw.get("author_id"))) if raw.get("author_id") is not None else None
        text = ctx.long_text(body, f"comment:{comment_id}", "text", prefix=_attribution(ctx, raw, author),
                             suffix=suffix)
        plans.append(CommentPlan(key=f"comment:{comment_id}", text=text.rstrip() or "…", author_user_id=author))
    return plans


def _attribution(ctx: BoardContext, raw: dict[str, Any], author: str | None) -> str:
    """``**Ann Example** · 2026-08-01 09:15 UTC`` and a blank line, unless the policy says none:
    ``unmapped`` leaves it out where the comment is posted under its author's own account."""
    policy = ctx.rules.comment_attribution
    if policy == "never" or (policy == "unmapped" and author is not None and author in ctx.users.own):
        return ""
    parts = [f"**{md_escape(ctx.person(raw.get('author_id'), raw.get('author')))}**"]
    when = human_utc(raw.get("created"))
    if when:
        parts.append(when)
    if raw.get("edited"):
        parts.append(ctx.rules.word("edited"))
    return " · ".join(parts) + "\n\n"

