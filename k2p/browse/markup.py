"""Archive texts → safe HTML: Markdown descriptions and comments, Kaiten's HTML comments, and
ProseMirror documents (the wiki).

Nothing from the archive reaches a page as markup of its own: Markdown is rendered by
markdown-it-py with raw HTML disabled (``<`` in a text is shown as text), Kaiten's HTML comments
are first reduced to Markdown by :func:`k2p.mapping.html_markdown.html_to_markdown` (which keeps
no tag), and ProseMirror nodes are written by a renderer that escapes every text and attribute.
Links keep only ``http``, ``https`` and ``mailto`` targets (never ``javascript:`` or ``data:``) and
open nothing by themselves; images are shown only when they are files of the site (a link to a
Kaiten file the archive holds is rewritten to the local copy), every other image becomes a plain
link, so a page never loads anything remote — the Content-Security-Policy of every page forbids it
as well.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Mapping

import orjson
from markdown_it import MarkdownIt
from markupsafe import Markup, escape

from k2p.mapping.html_markdown import html_to_markdown

TEXT_MAX = 1_000_000          # characters rendered of one text (Kaiten allows 32 768); the rest is cut with a note
DEPTH_MAX = 100               # ProseMirror nesting rendered
_SAFE_URL = re.compile(r"(?i)^(https?://|mailto:)")
_KAITEN_RELATIVE = re.compile(r"^/[^/\\]")

LocalFiles = Mapping[str, str]          # Kaiten file URL → site-relative href of the local copy


def safe_url(url: object) -> str | None:
    """``url`` when it is a web or mail link, else ``None``."""
    if not isinstance(url, str):
        return None
    url = url.strip()
    if _SAFE_URL.match(url) and not re.search(r"[\x00-\x20\x7f]", url):
        return url
    return None


def _validate(url: str) -> bool:
    url = url.strip()
    return bool(_SAFE_URL.match(url) or _KAITEN_RELATIVE.match(url))


def _local(env: dict[str, Any], url: str) -> str | None:
    files: LocalFiles = env.get("files") or {}
    return files.get(url) or files.get(url.split("?", 1)[0])


def _link_open(self: Any, tokens: list[Any], idx: int, options: Any, env: dict[str, Any]) -> str:
    """Open a link: to the local copy of a Kaiten file, to a web or mail address, or not at all
    (a Kaiten-relative link stays text). Links do not nest, so a stack in ``env`` pairs the close."""
    url = str(tokens[idx].attrGet("href") or "")
    stack = env.setdefault("links", [])
    local = _local(env, url)
    if local is not None:
        stack.append(True)
        return f'<a href="{escape(local)}" class="file-link">'
    if safe_url(url):
        stack.append(True)
        return f'<a href="{escape(url)}" class="external" rel="noopener noreferrer nofollow">'
    stack.append(False)
    return ""


def _link_close(self: Any, tokens: list[Any], idx: int, options: Any, env: dict[str, Any]) -> str:
    stack = env.get("links") or [True]
    return "</a>" if stack.pop() else ""


def _image(self: Any, tokens: list[Any], idx: int, options: Any, env: dict[str, Any]) -> str:
    token = tokens[idx]
    src = str(token.attrGet("src") or "")
    alt = self.renderInlineAsText(token.children or [], options, env)
    local = _local(env, src)
    if local is not None:
        return f'<img src="{escape(local)}" alt="{escape(alt)}" loading="lazy">'
    label = escape(alt or src)
    if safe_url(src):
        return f'<a href="{escape(src)}" class="external" rel="noopener noreferrer nofollow">🖼 {label}</a>'
    return f"<span>🖼 {label}</span>"


def _make() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    md.validateLink = _validate                     # type: ignore[method-assign]
    md.add_render_rule("link_open", _link_open)
    md.add_render_rule("link_close", _link_close)
    md.add_render_rule("image", _image)
    return md


_MD = _make()


def _bounded(text: str) -> tuple[str, bool]:
    return (text, False) if len(text) <= TEXT_MAX else (text[:TEXT_MAX], True)


def markdown_html(text: object, files: LocalFiles | None = None) -> Markup:
    """Markdown (Kaiten's description and comment format) as safe HTML."""
    if not isinstance(text, str) or not text.strip():
        return Markup("")
    body, cut = _bounded(text)
    html = _MD.render(body, {"files": dict(files or {})})
    if cut:
        html += f'<p class="note">… cut here: the text has {len(text)} characters</p>'
    return Markup(html)


def comment_html(text: object, kind: object, files: LocalFiles | None = None) -> Markup:
    """A comment's text: type 2 is HTML (reduced to Markdown first, no tag survives), else Markdown."""
    if kind == 2 and isinstance(text, str):
        return markdown_html(html_to_markdown(_bounded(text)[0]), files)
    return markdown_html(text, files)


# --- ProseMirror (documents) -------------------------------------------------------------------
_BLOCK_TAGS = {"paragraph": "p", "blockquote": "blockquote", "bullet_list": "ul", "bulletList": "ul",
               "ordered_list": "ol", "orderedList": "ol", "list_item": "li", "listItem": "li",
               "table": "table", "table_row": "tr", "tableRow": "tr", "table_cell": "td",
               "tableCell": "td", "table_header": "th", "tableHeader": "th"}
_MARK_TAGS = {"strong": "strong", "bold": "strong", "em": "em", "italic": "em", "code": "code",
              "strike": "s", "strikethrough": "s", "underline": "u", "sub": "sub", "sup": "sup"}
CardLink = Callable[[str], "tuple[str, str] | None"]     # card id → (href, title) or None


def prosemirror_data(data: object) -> Any:
    """A document's ``data``: Kaiten sends it as a JSON-encoded string; objects pass as they are."""
    if isinstance(data, str):
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            return {"type": "doc", "content": [{"type": "paragraph", "content": [{"type": "text", "text": data}]}]}
    return data


def document_html(data: object, *, card_link: CardLink, files: LocalFiles | None = None) -> Markup:
    """A ProseMirror document as safe HTML; unknown node types keep their text (marked)."""
    out: list[str] = []
    _node(prosemirror_data(data), out, 0, card_link, dict(files or {}))
    return Markup("".join(out))


def document_text(data: object, limit: int = 200_000) -> str:
    """The plain text of a ProseMirror document (for search), at most ``limit`` characters."""
    parts: list[str] = []
    size = 0
    stack = [prosemirror_data(data)]
    while stack and size < limit:
        node = stack.pop()
        if isinstance(node, dict):
            if isinstance(node.get("text"), str):
                parts.append(node["text"])
                size += len(node["text"])
            content = node.get("content")
            if isinstance(content, list):
                stack.extend(reversed(content[:10_000]))
                parts.append(" ")
    return "".join(parts)[:limit]


def _children(node: dict[str, Any], out: list[str], depth: int, card_link: CardLink, files: dict[str, str]) -> None:
    content = node.get("content")
    if isinstance(content, list):
        for child in content:
            _node(child, out, depth + 1, card_link, files)


def _node(node: Any, out: list[str], depth: int, card_link: CardLink, files: dict[str, str]) -> None:
    if not isinstance(node, dict) or depth > DEPTH_MAX:
        return
    kind = str(node.get("type") or "")
    attrs = node.get("attrs") if isinstance(node.get("attrs"), dict) else {}
    if kind == "text":
        out.append(_marked(node))
    elif kind == "doc":
        _children(node, out, depth, card_link, files)
    elif kind == "heading":
        level = attrs.get("level")
        level = level if isinstance(level, int) and 1 <= level <= 6 else 2
        level = min(6, level + 1)        # the page title is the <h1>
        out.append(f"<h{level}>")
        _children(node, out, depth, card_link, files)
        out.append(f"</h{level}>")
    elif kind in _BLOCK_TAGS:
        tag = _BLOCK_TAGS[kind]
        out.append(f"<{tag}>")
        _children(node, out, depth, card_link, files)
        out.append(f"</{tag}>")
    elif kind in ("code_block", "codeBlock"):
        out.append("<pre><code>")
        out.append(str(escape(_plain(node))))
        out.append("</code></pre>")
    elif kind in ("hard_break", "hardBreak"):
        out.append("<br>")
    elif kind in ("horizontal_rule", "horizontalRule"):
        out.append("<hr>")
    elif kind == "image":
        src = attrs.get("src") if isinstance(attrs.get("src"), str) else ""
        alt = attrs.get("alt") if isinstance(attrs.get("alt"), str) else ""
        local = files.get(src)
        if local:
            out.append(f'<img src="{escape(local)}" alt="{escape(alt)}" loading="lazy">')
        elif safe_url(src):
            out.append(f'<a href="{escape(src)}" class="external" rel="noopener noreferrer nofollow">'
                       f'🖼 {escape(alt or src)}</a>')
        else:
            out.append(f"<span>🖼 {escape(alt)}</span>")
    elif "card" in kind and "link" in kind:
        card_id = next((str(attrs[key]) for key in ("card_id", "cardId", "id") if attrs.get(key) is not None), "")
        found = card_link(card_id) if card_id else None
        if found:
            out.append(f'<a href="{escape(found[0])}" class="card-link">{escape(found[1])}</a>')
        else:
            out.append(f'<span class="card-link missing">card {escape(card_id)}</span>')
    else:
        out.append(f'<div class="unknown-node" title="{escape(kind)}">')
        _children(node, out, depth, card_link, files)
        out.append("</div>")


def _plain(node: Any) -> str:
    return document_text(node)


def _marked(node: dict[str, Any]) -> str:
    text = node.get("text")
    html = str(escape(text)) if isinstance(text, str) else ""
    marks = node.get("marks") if isinstance(node.get("marks"), list) else []
    for mark in marks:
        if not isinstance(mark, dict):
            continue
        kind = str(mark.get("type") or "")
        if kind in _MARK_TAGS:
            tag = _MARK_TAGS[kind]
            html = f"<{tag}>{html}</{tag}>"
        elif kind == "link":
            attrs = mark.get("attrs") if isinstance(mark.get("attrs"), dict) else {}
            url = safe_url(attrs.get("href"))
            if url:
                html = f'<a href="{escape(url)}" class="external" rel="noopener noreferrer nofollow">{html}</a>'
    return html
