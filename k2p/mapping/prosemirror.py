"""Kaiten documents (ProseMirror JSON) → Markdown as Planka 2.1.1 renders it.

Kaiten keeps a document's body in ``data``: a ProseMirror document that the API delivers as a
JSON-encoded string. :func:`prosemirror_to_markdown` is a pure function from that value (string or
already decoded object) to Markdown plus what the caller needs to report: node and mark types it
did not know (their text is kept, nothing is dropped silently), the Kaiten cards the document
links to and the images it shows.

Node types are matched in both spellings Kaiten's editors have used (``bullet_list`` and
``bulletList``). Headings, paragraphs, hard breaks, rules, block quotes, code blocks, bullet,
ordered and task lists, tables (as GFM pipe tables, which Planka's renderer supports), images,
files (``file``/``attachment`` nodes, as 📎 links), card links (block and inline) and mentions are converted; marks bold, italic, strike-through,
underline (Planka's ``++ins++``), inline code and links. Text is escaped so that it shows as typed,
links keep only ``http``, ``https`` and ``mailto`` targets, and the tree is walked to a bounded
depth (deeper content is kept as plain text and reported as ``too_deep``).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from k2p.mapping.text import md_escape

MAX_DEPTH = 64
MAX_DATA_BYTES = 16 * 1024 * 1024

_EXTRA_SPECIAL = re.compile(r"([\^~#+={}|])")      # Planka's inline plugins and table pipes
_LINE_START = re.compile(r"^(\s*)(?:([-+*])|(\d{1,9})([.)]))(?=\s|$)")
_SAFE_URL = re.compile(r"^(https?://|mailto:)[^\s<>]*$", re.IGNORECASE)
_BACKTICKS = re.compile(r"`+")

CardLink = Callable[[str], "tuple[str | None, str | None]"]
ImageLink = Callable[[dict[str, Any]], "str | None"]


@dataclass
class Converted:
    markdown: str
    unknown: Counter[str] = field(default_factory=Counter)   # "node:<type>" / "mark:<type>" / "too_deep"
    card_ids: list[str] = field(default_factory=list)
    images: list[dict[str, Any]] = field(default_factory=list)
    files: list[dict[str, Any]] = field(default_factory=list)   # file/attachment nodes' attrs


def _kind(name: Any) -> str:
    """``bulletList`` and ``bullet_list`` → ``bullet_list``."""
    text = str(name or "")
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", text).lower()


def escape_text(text: str) -> str:
    """Inline text that Planka's Markdown shows exactly as typed."""
    return _EXTRA_SPECIAL.sub(r"\\\1", md_escape(text))


def _fence(code: str) -> str:
    longest = max((len(run) for run in _BACKTICKS.findall(code)), default=0)
    return "`" * max(3, longest + 1)


def _code_span(code: str) -> str:
    longest = max((len(run) for run in _BACKTICKS.findall(code)), default=0)
    ticks = "`" * (longest + 1)
    pad = " " if code.startswith("`") or code.endswith("`") or not code.strip() else ""
    return f"{ticks}{pad}{code}{pad}{ticks}"


def _safe_url(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    url = value.strip()
    if not _SAFE_URL.match(url):
        return None
    return url.replace("(", "%28").replace(")", "%29")


def _card_id(attrs: dict[str, Any]) -> str | None:
    for key in ("card_id", "cardId", "id"):
        value = attrs.get(key)
        if isinstance(value, (int, str)) and not isinstance(value, bool) and str(value).strip():
            return str(value).strip()
    return None


class _Writer:
    def __init__(self, card_link: CardLink | None, image_link: ImageLink | None,
                 file_link: ImageLink | None = None) -> None:
        self.result = Converted(markdown="")
        self.card_link = card_link
        self.image_link = image_link
        self.file_link = file_link

    # --- inline ---------------------------------------------------------------------------------
    def inline(self, nodes: list[Any], depth: int) -> str:
        parts: list[str] = []
        for node in nodes:
            if not isinstance(node, dict):
                continue
            parts.append(self.inline_node(node, depth))
        text = "".join(parts)
        # A paragraph that starts like a list item or a heading would become one.
        return _LINE_START.sub(_escape_marker, text, count=1)

    def inline_node(self, node: dict[str, Any], depth: int) -> str:
        kind = _kind(node.get("type"))
        attrs = node.get("attrs") if isinstance(node.get("attrs"), dict) else {}
        if kind == "text":
            return self.marked(str(node.get("text") or ""), node.get("marks"))
        if kind == "hard_break":
            return "  \n"
        if kind == "image":
            return self.image(attrs)
        if kind in ("file", "attachment"):
            return self.file(attrs)
        if kind in ("inline_card_link", "block_card_link", "card_link"):
            return self.card(attrs)
        if kind == "mention":
            label = attrs.get("label") or attrs.get("name") or attrs.get("id") or ""
            return "@" + escape_text(str(label))
        if kind in ("emoji",):
            return escape_text(str(attrs.get("emoji") or attrs.get("name") or node.get("text") or ""))
        self.result.unknown[f"node:{kind or '?'}"] += 1
        return escape_text(plain_text(node, depth))

    def marked(self, text: str, marks: Any) -> str:
        if not text:
            return ""
        names = [(_kind(mark.get("type")), mark.get("attrs") or {}) for mark in marks or []
                 if isinstance(mark, dict)]
        kinds = {name for name, _ in names}
        if "code" in kinds:
            body = _code_span(text)
        else:
            body = escape_text(text)
        lead, core, trail = _split_spaces(body)
        if not core:
            return body
        for name, attrs in names:
            if name == "code":
                continue
            if name in ("bold", "strong"):
                core = f"**{core}**"
            elif name in ("italic", "em"):
                core = f"*{core}*"
            elif name in ("strike", "strikethrough", "s"):
                core = f"~~{core}~~"
            elif name in ("underline", "ins"):
                core = f"++{core}++"
            elif name == "link":
                url = _safe_url(attrs.get("href") if isinstance(attrs, dict) else None)
                if url:
                    core = f"[{core}]({url})"
            else:
                self.result.unknown[f"mark:{name or '?'}"] += 1
        return lead + core + trail

    def image(self, attrs: dict[str, Any]) -> str:
        self.result.images.append(dict(attrs))
        alt = escape_text(str(attrs.get("alt") or attrs.get("title") or "image"))
        target = self.image_link(attrs) if self.image_link else _safe_url(attrs.get("src"))
        return f"![{alt}]({target})" if target else alt

    def file(self, attrs: dict[str, Any]) -> str:
        """A file node: a link to the file (``file_link(attrs)``, else its own safe URL), or its name."""
        self.result.files.append(dict(attrs))
        name = escape_text(str(attrs.get("name") or attrs.get("title") or "file"))
        target = self.file_link(attrs) if self.file_link else _safe_url(attrs.get("url") or attrs.get("src"))
        return f"📎 [{name}]({target})" if target else f"📎 {name}"

    def card(self, attrs: dict[str, Any]) -> str:
        card_id = _card_id(attrs)
        if card_id is None:
            self.result.unknown["node:card_link_without_id"] += 1
            return escape_text(str(attrs.get("title") or ""))
        if card_id not in self.result.card_ids:
            self.result.card_ids.append(card_id)
        url, title = self.card_link(card_id) if self.card_link else (None, None)
        title = title or attrs.get("title")
        label = escape_text(f"#{card_id}" + (f" {title}" if title else ""))
        return f"[{label}]({url})" if url else label

    # --- blocks ---------------------------------------------------------------------------------
    def blocks(self, nodes: Any, depth: int) -> list[str]:
        out: list[str] = []
        for node in nodes if isinstance(nodes, list) else []:
            if isinstance(node, dict):
                block = self.block(node, depth + 1)
                if block is not None and block.strip():
                    out.append(block)
        return out

    def block(self, node: dict[str, Any], depth: int) -> str | None:
        kind = _kind(node.get("type"))
        attrs = node.get("attrs") if isinstance(node.get("attrs"), dict) else {}
        content = node.get("content") if isinstance(node.get("content"), list) else []
        if depth > MAX_DEPTH:
            self.result.unknown["too_deep"] += 1
            return escape_text(plain_text(node, 0))
        if kind == "doc":
            return "\n\n".join(self.blocks(content, depth))
        if kind == "paragraph":
            return self.inline(content, depth)
        if kind == "heading":
            level = attrs.get("level")
            level = level if isinstance(level, int) and 1 <= level <= 6 else 1
            return "#" * level + " " + self.inline(content, depth).replace("  \n", " ")
        if kind == "horizontal_rule":
            return "---"
        if kind == "blockquote":
            inner = "\n\n".join(self.blocks(content, depth))
            return "\n".join("> " + line if line else ">" for line in inner.split("\n"))
        if kind == "code_block":
            code = plain_text(node, 0)
            language = attrs.get("language")
            info = language if isinstance(language, str) and re.fullmatch(r"[\w+#.-]{1,32}", language) else ""
            fence = _fence(code)
            return f"{fence}{info}\n{code}\n{fence}"
        if kind in ("bullet_list", "ordered_list", "task_list", "check_list", "checklist"):
            return self.list_block(kind, attrs, content, depth)
        if kind in ("list_item", "task_item", "check_list_item", "checklist_item"):
            return self.list_block("bullet_list", {}, [node], depth)
        if kind == "table":
            return self.table(content, depth)
        if kind in ("image", "file", "attachment", "block_card_link", "card_link", "inline_card_link", "text",
                    "mention"):
            return self.inline([node], depth)
        self.result.unknown[f"node:{kind or '?'}"] += 1
        inner = self.blocks(content, depth) if content and all(
            isinstance(child, dict) and _kind(child.get("type")) != "text" for child in content) else []
        return "\n\n".join(inner) if inner else escape_text(plain_text(node, 0))

    def list_block(self, kind: str, attrs: dict[str, Any], items: list[Any], depth: int) -> str:
        start = attrs.get("order", attrs.get("start", 1))
        number = start if isinstance(start, int) and 0 <= start < 10**9 else 1
        lines: list[str] = []
        for item in items:
            if not isinstance(item, dict):
                continue
            item_kind = _kind(item.get("type"))
            item_attrs = item.get("attrs") if isinstance(item.get("attrs"), dict) else {}
            if kind == "ordered_list":
                marker = f"{number}. "
                number += 1
            else:
                marker = "- "
            checked = item_attrs.get("checked")
            if item_kind in ("task_item", "check_list_item", "checklist_item") or isinstance(checked, bool):
                marker += "☑ " if checked else "☐ "
            body = "\n\n".join(self.blocks(item.get("content"), depth)) or ""
            indent = " " * len(marker.split(" ")[0] + " ")
            body_lines = body.split("\n")
            lines.append(marker + body_lines[0])
            lines.extend(indent + line if line else "" for line in body_lines[1:])
        return "\n".join(lines)

    def table(self, rows: list[Any], depth: int) -> str:
        grid: list[list[str]] = []
        for row in rows:
            if not isinstance(row, dict):
                continue
            cells = []
            for cell in row.get("content") or []:
                if isinstance(cell, dict):
                    text = " ".join(self.blocks(cell.get("content"), depth)).replace("  \n", " ")
                    cells.append(text.replace("\n", " ").strip())
            grid.append(cells)
        if not grid:
            return ""
        width = max(len(row) for row in grid)
        grid = [row + [""] * (width - len(row)) for row in grid]
        lines = ["| " + " | ".join(grid[0]) + " |", "|" + "---|" * width]
        lines.extend("| " + " | ".join(row) + " |" for row in grid[1:])
        return "\n".join(lines)


def _escape_marker(match: re.Match[str]) -> str:
    """``- x`` → ``\\- x``; ``1. x`` → ``1\\. x`` (a backslash before a digit would show)."""
    lead, bullet, number, dot = match.groups()
    return lead + ("\\" + bullet if bullet else number + "\\" + dot)


def _split_spaces(text: str) -> tuple[str, str, str]:
    """Emphasis around ``" word "`` must hug the word: ``" **word** "``."""
    core = text.strip(" ")
    if not core:
        return text, "", ""
    lead = text[: len(text) - len(text.lstrip(" "))]
    trail = text[len(text.rstrip(" ")):]
    return lead, core, trail


def plain_text(node: Any, depth: int) -> str:
    """The text inside a node, for unknown types and code blocks (bounded depth)."""
    if not isinstance(node, dict) or depth > MAX_DEPTH:
        return ""
    if _kind(node.get("type")) == "text":
        return str(node.get("text") or "")
    if _kind(node.get("type")) == "hard_break":
        return "\n"
    content = node.get("content")
    if not isinstance(content, list):
        return ""
    return "".join(plain_text(child, depth + 1) for child in content)


def decode(data: Any) -> dict[str, Any] | None:
    """``data`` as Kaiten sends it (a JSON string, sometimes an object) → the document node."""
    if isinstance(data, (bytes, str)):
        raw = data.encode() if isinstance(data, str) else data
        if not raw.strip() or len(raw) > MAX_DATA_BYTES:
            return None
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return None
    return data if isinstance(data, dict) else None


def prosemirror_to_markdown(data: Any, *, card_link: CardLink | None = None,
                            image_link: ImageLink | None = None,
                            file_link: ImageLink | None = None) -> Converted:
    """Markdown for a ProseMirror document. ``card_link(card_id)`` returns ``(url, title)`` for a
    linked Kaiten card (either may be ``None``); ``image_link(attrs)`` the URL an image should
    show from (``None``: only its alternative text is kept); ``file_link(attrs)`` likewise for file
    nodes (default: the node's own http(s) URL). Text that is not a document (invalid
    JSON, too large) is returned as escaped text and reported as ``node:not_prosemirror``."""
    writer = _Writer(card_link, image_link, file_link)
    document = decode(data)
    if document is None:
        text = data if isinstance(data, str) else ""
        writer.result.markdown = escape_text(text[:MAX_DATA_BYTES]) if text.strip() else ""
        if text.strip():
            writer.result.unknown["node:not_prosemirror"] += 1
        return writer.result
    markdown = writer.block(document, 0) or ""
    writer.result.markdown = re.sub(r"\n{3,}", "\n\n", markdown).strip("\n")
    return writer.result
