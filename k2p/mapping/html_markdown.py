"""HTML comments (Kaiten comment ``type`` 2) → Markdown, with the stdlib parser only.

Covers what comment editors produce: paragraphs and divs, line breaks, bold, italic, strike-through,
links, images, nested lists, inline code and preformatted blocks, headings, block quotes, rules
and simple tables. Unknown tags are dropped and their text kept; ``script``/``style`` content is
dropped. No tag survives: ``<`` and ``>`` in text become ``&lt;``/``&gt;`` (inside code they stay
literal, which Markdown shows as text). Entities are decoded by the parser.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from k2p.mapping.text import md_escape

_BLOCKS = {"p", "div", "section", "article", "header", "footer", "main", "aside", "nav", "figure",
           "figcaption", "table", "thead", "tbody", "tfoot", "dl", "dt", "dd", "address", "details",
           "summary", "center"}
_INLINE = {"b": "**", "strong": "**", "i": "*", "em": "*", "s": "~~", "strike": "~~", "del": "~~"}
_SKIP = {"script", "style", "head", "title", "template", "noscript"}
_VOID = {"br", "hr", "img", "input", "meta", "link", "wbr", "col", "area", "base", "source"}
_SPACES = re.compile(r"[ \t\r\n\f]+")


class _Converter(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.lists: list[list[object]] = []        # [kind "ul"/"ol", next number]
        self.links: list[tuple[str | None, int]] = []   # (href, output index of the link start)
        self.quotes: list[list[str]] = []          # outer buffers while inside <blockquote>
        self.pre = 0
        self.code = 0
        self.skip = 0
        self.cells = 0

    # --- output helpers ----------------------------------------------------------------------
    def _rstrip_spaces(self) -> None:
        floor = self.links[-1][1] if self.links else 0     # never eat into an open link's start
        while len(self.out) > floor:
            last = self.out[-1].rstrip(" ")
            if last:
                self.out[-1] = last
                return
            self.out.pop()

    def _trailing_newlines(self) -> int:
        count = 0
        for piece in reversed(self.out):
            stripped = piece.rstrip("\n")
            count += len(piece) - len(stripped)
            if stripped:
                break
        return count

    def _at_line_start(self) -> bool:
        return not any(self.out) or self._trailing_newlines() > 0

    def _newline(self, count: int = 1) -> None:
        """End the current line; ``count`` 2 leaves a blank line (never at the very start)."""
        self._rstrip_spaces()
        if any(self.out):
            self.out.append("\n" * max(0, count - self._trailing_newlines()))

    def _emit(self, text: str) -> None:
        self.out.append(text)

    # --- parser callbacks ----------------------------------------------------------------------
    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag in _SKIP:
            self.skip += 1
        elif self.skip:
            return
        elif tag in _INLINE:
            self._emit(_INLINE[tag])
        elif tag == "br":
            self._rstrip_spaces()
            self.out.append("\n" if self.pre or self._at_line_start() else "  \n")
        elif tag in _BLOCKS or tag == "tr":
            self._newline(1 if tag == "tr" or self.lists else 2)
            self.cells = 0
        elif tag in {"td", "th"}:
            if self.cells:
                self._emit(" | ")
            self.cells += 1
        elif re.fullmatch(r"h[1-6]", tag):
            self._newline(2)
            self._emit("#" * int(tag[1]) + " ")
        elif tag in {"ul", "ol"}:
            self._newline(1 if self.lists else 2)
            self.lists.append([tag, _start_number(attributes.get("start"))])
        elif tag == "li":
            self._list_item()
        elif tag == "blockquote":
            self._newline(2)
            self.quotes.append(self.out)
            self.out = []
        elif tag == "pre":
            self._newline(2)
            self._emit("```\n")
            self.pre += 1
        elif tag in {"code", "kbd", "samp", "tt"}:
            if not self.pre:
                self._emit("`")
            self.code += 1
        elif tag == "hr":
            self._newline(2)
            self._emit("---")
            self._newline(2)
        elif tag == "a":
            self._emit("")
            self.links.append((_safe_url(attributes.get("href")), len(self.out)))
        elif tag == "img":
            self._image(attributes)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self.skip = max(0, self.skip - 1)
        elif self.skip:
            return
        elif tag in _INLINE:
            self.out.append(_INLINE[tag])
        elif tag in _BLOCKS or re.fullmatch(r"h[1-6]", tag):
            self._newline(1 if self.lists else 2)
        elif tag == "tr":
            self._newline(1)
        elif tag in {"ul", "ol"} and self.lists:
            self.lists.pop()
            self._newline(1 if self.lists else 2)
        elif tag == "blockquote" and self.quotes:
            self._close_quote()
        elif tag == "pre" and self.pre:
            self.pre -= 1
            self._newline(1)
            self._emit("```")
            self._newline(2)
        elif tag in {"code", "kbd", "samp", "tt"} and self.code:
            self.code -= 1
            if not self.pre:
                self.out.append("`")
        elif tag == "a" and self.links:
            self._close_link()

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        if self.pre:
            self._emit(data)
            return
        text = _SPACES.sub(" ", data)
        if self._at_line_start():
            text = text.lstrip(" ")
        if not text:
            return
        self._emit(text.replace("`", "'") if self.code else md_escape(text))

    # --- constructs ---------------------------------------------------------------------------
    def _list_item(self) -> None:
        self._newline(1)
        if not self.lists:
            self._emit("- ")
            return
        state = self.lists[-1]
        indent = "   " * (len(self.lists) - 1)
        if state[0] == "ol":
            number = int(state[1])  # type: ignore[call-overload]
            state[1] = number + 1
            self._emit(f"{indent}{number}. ")
        else:
            self._emit(f"{indent}- ")

    def _close_quote(self) -> None:
        inner = _tidy("".join(self.out))
        self.out = self.quotes.pop()
        if inner:
            self._emit("\n".join(f"> {line}".rstrip() for line in inner.split("\n")))
            self._newline(2)

    def _close_link(self) -> None:
        href, start = self.links.pop()
        label = re.sub(r"\s*\n\s*", " ", "".join(self.out[start:])).strip()   # a link is one line
        del self.out[start:]
        if href is None:
            self.out.append(label)
        else:
            self.out.append(f"[{label or md_escape(href)}]({_link_target(href)})")

    def _image(self, attributes: dict[str, str | None]) -> None:
        alt = md_escape(_SPACES.sub(" ", attributes.get("alt") or "").strip())
        src = _safe_url(attributes.get("src"))
        if src is not None:
            self._emit(f"![{alt}]({_link_target(src)})")
        elif alt:
            self._emit(alt)


def _start_number(value: str | None) -> int:
    try:
        return int(value) if value else 1
    except ValueError:
        return 1


def _safe_url(value: str | None) -> str | None:
    """Links keep only web and mail targets (no ``javascript:``/``data:``)."""
    if not value:
        return None
    value = value.strip()
    if re.match(r"(?i)^(https?:|mailto:|/|#)", value):
        return value
    return None


def _link_target(url: str) -> str:
    return (url.replace(" ", "%20").replace("(", "%28").replace(")", "%29")
            .replace("<", "%3C").replace(">", "%3E"))


def html_to_markdown(html: str) -> str:
    """Markdown for an HTML fragment; never contains an HTML tag."""
    converter = _Converter()
    converter.feed(html)
    converter.close()
    while converter.links:
        converter._close_link()
    while converter.quotes:
        converter._close_quote()
    return _tidy("".join(converter.out))


def _tidy(text: str) -> str:
    text = re.sub(r"[ \t]+\n", lambda match: "  \n" if match.group(0).startswith("  ") else "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip("\n").rstrip()
