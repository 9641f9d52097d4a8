"""Text that Planka accepts: lengths counted like JavaScript, bodies that fit the request limit.

Planka validates lengths with JavaScript's ``String.length`` (UTF-16 code units: an emoji outside
the Basic Multilingual Plane counts 2) and refuses JSON bodies over 1 MB, so a long description is
cut by the byte size of its JSON encoding (orjson, as the importer sends it), not its length.
All cuts fall on code-point boundaries.
"""

from __future__ import annotations

import re

import orjson

NAME_MAX = 128          # projects, boards, lists, labels, task lists, custom fields, attachments
LONG_NAME_MAX = 1024    # cards and tasks
FIELD_VALUE_MAX = 512   # custom field content
URL_MAX = 2048          # link attachments
TEXT_MAX = 1_048_576    # description and comment validator maximum (UTF-16 units)
ELLIPSIS = "…"

_LINE_BREAKS = re.compile("[\t\n\v\f\r\x85\u2028\u2029]+")
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f]")
_MD_SPECIAL = re.compile(r"([\\`*_\[\]])")
_ENTITY_LIKE = re.compile(r"&(?=#?[A-Za-z0-9]+;)")
_BREAK_WINDOW = 2000    # a cut moves back to a line break found within this many characters


def js_len(text: str) -> int:
    """``String.length`` in JavaScript: UTF-16 code units (a lone surrogate is one unit)."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def clean(text: str) -> str:
    """Text Planka can store: no NUL (PostgreSQL refuses it), no lone surrogates (not UTF-8)."""
    if "\x00" in text:
        text = text.replace("\x00", "")
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def plain_name(text: str) -> str:
    """A name as one line of visible text: line breaks and tabs become a space, every other
    control character (escape sequences, C1 controls) is removed."""
    return _CONTROLS.sub("", _LINE_BREAKS.sub(" ", text))


def cut_units(text: str, limit: int) -> str:
    """The longest prefix of ``text`` within ``limit`` UTF-16 units, never splitting a character."""
    if len(text) <= limit // 2 or js_len(text) <= limit:
        return text
    used = 0
    for index, char in enumerate(text):
        used += 2 if ord(char) > 0xFFFF else 1
        if used > limit:
            return text[:index]
    return text


def shorten(text: str, limit: int) -> str:
    """``text`` within ``limit`` units; a cut one ends with ``…``."""
    if js_len(text) <= limit:
        return text
    return cut_units(text, limit - 1).rstrip() + ELLIPSIS


def shorten_filename(name: str, limit: int = NAME_MAX) -> str:
    """Like :func:`shorten`, keeping a short extension (``…x.pdf``) so the type stays visible."""
    if js_len(name) <= limit:
        return name
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem or not 1 <= len(ext) <= 16 or " " in ext:
        return shorten(name, limit)
    suffix = ELLIPSIS + "." + ext
    return cut_units(stem, limit - js_len(suffix)) + suffix


def json_size(text: str) -> int:
    """Bytes of ``text`` as a JSON string (quotes included), as the importer will send it."""
    return len(orjson.dumps(text))


def fit_text(body: str, *, budget: int, marker: str, prefix: str = "", suffix: str = "") -> tuple[str, bool]:
    """``prefix + body + suffix`` within ``budget`` JSON bytes and the validator maximum.

    When too long, ``body`` is cut (at a line break near the cut when there is one) and ``marker``
    appended; ``prefix`` and ``suffix`` (attribution line, a long card title) are always kept whole.
    Returns the text and whether it was cut.
    """
    prefix, body, suffix = clean(prefix), clean(body), clean(suffix)
    whole = prefix + body + suffix
    if _fits(whole, budget):
        return whole, False
    low, high = 0, len(body)       # the longest body prefix that fits is in [low, high)
    while low < high:
        middle = (low + high + 1) // 2
        if _fits(prefix + body[:middle] + marker + suffix, budget):
            low = middle
        else:
            high = middle - 1
    cut = body[:low]
    newline = cut.rfind("\n", max(0, low - _BREAK_WINDOW))
    if newline > 0:
        cut = cut[:newline]
    return prefix + cut.rstrip() + marker + suffix, True


def _fits(text: str, budget: int) -> bool:
    return json_size(text) <= budget and js_len(text) <= TEXT_MAX


def md_escape(text: str) -> str:
    """Inline Markdown that shows ``text`` literally: no emphasis, links, code or HTML tags."""
    text = _MD_SPECIAL.sub(r"\\\1", text)
    text = _ENTITY_LIKE.sub("&amp;", text)
    return text.replace("<", "&lt;").replace(">", "&gt;")


_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_TASK_ITEM = re.compile(r"^(\s*(?:>\s*)*)(?:[-*+]|\d{1,9}[.)])\s+\[([ xX])\](?=\s|$)")
_BR_TAG = re.compile(r"<br\s*/?>", re.IGNORECASE)
_CODE_SPAN = re.compile(r"(`+[^`]*`+)")
# Planka's Markdown plugins that turn ordinary text into markup: ^sup^, ~sub~ (not ~~strike~~),
# ##mono##, ++ins++, ==mark==, {% note/cut %}. Their characters are backslash-escaped (shown as
# typed); one already escaped is left alone.
_PLUGIN_MARKS = re.compile(r"(?<!\\)(\^|(?<!~)~(?!~)|##|\+\+|==|\{%)")
_HEADING = re.compile(r"^(\s*(?:>\s*)*#{1,6}(?=\s|$))")
# Planka's colour plugin knows 8 names ({red}(text)); other colours are mapped to the nearest one.
PLANKA_COLORS = {"black": (0, 0, 0), "gray": (128, 128, 128), "yellow": (255, 215, 0), "orange": (255, 136, 0),
                 "red": (204, 0, 0), "green": (0, 136, 0), "blue": (0, 68, 187), "violet": (255, 0, 255)}
_COLOR_NAMES = {"grey": "gray", "silver": "gray", "darkgray": "gray", "darkgrey": "gray", "lightgray": "gray",
                "purple": "violet", "magenta": "violet", "fuchsia": "violet", "indigo": "violet",
                "pink": "red", "crimson": "red", "darkred": "red", "maroon": "red", "brown": "orange",
                "gold": "yellow", "lime": "green", "darkgreen": "green", "olive": "green", "teal": "green",
                "cyan": "blue", "aqua": "blue", "navy": "blue", "darkblue": "blue", "lightblue": "blue",
                "skyblue": "blue"}
_HEX = re.compile(r"#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})")
_RGB = re.compile(r"rgba?\(\s*(\d{1,3})\s*,\s*(\d{1,3})\s*,\s*(\d{1,3})\s*(?:,\s*[\d.]+\s*)?\)")
_COLORED = re.compile(r"(?<!\\)\{\s*(?:colou?r\s*[:=]\s*)?([^{}()\n]{1,40}?|rgba?\([^()\n]{0,40}\))\s*\}"
                      r"\(([^()\n]*)\)")
_JIRA_COLOR = re.compile(r"\{color:\s*([^{}\n]{1,40}?)\s*\}(.*?)\{color\}", re.IGNORECASE)
_SPAN_COLOR = re.compile(r"<span\s+style\s*=\s*[\"'][^\"'<>]*?(?<![-\w])color\s*:\s*([^;\"'<>]{1,40})[^\"'<>]*[\"']\s*>"
                         r"([^<>\n]*)</span>", re.IGNORECASE)
_INLINE_TAG = re.compile(r"<(u|ins|mark|s|del|strike|b|strong|i|em|sup|sub|code|span)(?:\s[^<>]*)?>([^<>\n]*)"
                         r"</\1\s*>", re.IGNORECASE)
_TAG_MARKS = {"u": "++", "ins": "++", "mark": "==", "s": "~~", "del": "~~", "strike": "~~", "b": "**",
              "strong": "**", "i": "*", "em": "*", "sup": "^", "sub": "~", "code": "`", "span": ""}
_FOOTNOTE_DEF = re.compile(r"^ {0,3}\[\^([\w-]{1,32})\]:", re.MULTILINE)
_FOOTNOTE = re.compile(r"\[\\\^([\w-]{1,32})\](:\s*)?")     # after escaping: [\^label]


def planka_color(value: str) -> str | None:
    """One of Planka's 8 text colour names for a colour name, ``#hex`` or ``rgb()`` value (the
    nearest one for a value), or None (white, transparent, unknown names: shown uncoloured)."""
    value = value.strip().lower()
    if value in PLANKA_COLORS:
        return value
    if value in _COLOR_NAMES:
        return _COLOR_NAMES[value]
    hex_match, rgb_match = _HEX.fullmatch(value), _RGB.fullmatch(value)
    if hex_match:
        digits = hex_match.group(1)
        digits = "".join(char * 2 for char in digits) if len(digits) == 3 else digits
        rgb = tuple(int(digits[index:index + 2], 16) for index in (0, 2, 4))
    elif rgb_match:
        rgb = tuple(min(255, int(part)) for part in rgb_match.groups())
    else:
        return None
    if min(rgb) > 230:        # white-ish: no colour (Planka's background is white)
        return None
    return min(PLANKA_COLORS, key=lambda name: sum((a - b) ** 2 for a, b in zip(PLANKA_COLORS[name], rgb)))


def _colored(name: str | None, text: str) -> str:
    return f"{{{name}}}({text})" if name and text else text


def _outside_code(text: str, footnotes: frozenset[str] = frozenset()) -> str:
    text = _PLUGIN_MARKS.sub(lambda match: "".join(char if char == "%" else "\\" + char
                                                   for char in match.group(1)), text)
    text = _BR_TAG.sub("\n", text)
    text = _JIRA_COLOR.sub(lambda m: _colored(planka_color(m.group(1)), m.group(2)), text)
    text = _COLORED.sub(lambda m: _colored(planka_color(m.group(1)), m.group(2)), text)
    text = _SPAN_COLOR.sub(lambda m: _colored(planka_color(m.group(1)), m.group(2)), text)
    for _ in range(4):                           # nested tags, innermost first
        text, count = _INLINE_TAG.subn(lambda m: _tag_markup(m.group(1).lower(), m.group(2)), text)
        if not count:
            break
    if footnotes:      # only marks whose note is defined ([^1]: …) are footnotes, as in Markdown
        text = _FOOTNOTE.sub(lambda m: f"^{m.group(1)}^" + (" " if m.group(2) else "")
                             if m.group(1) in footnotes else m.group(0), text)
    return text


def _tag_markup(tag: str, content: str) -> str:
    """Inline HTML (which Planka shows as text) as the Markdown Planka renders the same way."""
    mark = _TAG_MARKS[tag]
    if not content.strip() or not mark:
        return content
    if tag == "code":
        fence = "``" if "`" in content else "`"
        return f"{fence}{content}{fence}"
    return f"{mark}{content}{mark}"


def planka_markdown(text: str) -> str:
    """Markdown as Planka 2.1.1 renders it (its client: @diplodoc/transform, no task-list or
    footnote plugin, raw HTML shown as text, 8 text colours): task-list items ``- [x] a`` /
    ``- [ ] b`` become ``☑ a`` / ``☐ b`` lines, ``<br>`` a line break, and the characters of
    Planka's extra inline markup (``^``, a single ``~``, ``##``, ``++``, ``==``, ``{%``) are escaped
    so that text shows as typed. Coloured text (``{#e53935}(a)``, ``{color:red}a{color}``,
    ``<span style="color: …">a</span>``) becomes ``{red}(a)`` in the nearest of Planka's colours
    (plain text for white or an unknown colour); inline HTML formatting (``<u>``, ``<b>``, ``<s>``,
    ``<mark>``, ``<sup>``, ``<code>``…) becomes the Markdown Planka renders alike; footnote marks
    ``[^1]`` of a defined note (``[^1]: …``) become superscript ``^1^``. Code (fenced blocks, inline spans) is left as it is."""
    lines, fence = [], ""
    footnotes = frozenset(_FOOTNOTE_DEF.findall(text))
    for line in text.split("\n"):
        opened = _FENCE.match(line)
        if fence:
            fence = "" if opened and opened.group(1)[0] == fence[0] and len(opened.group(1)) >= len(fence) \
                else fence
        elif opened:
            fence = opened.group(1)
        else:
            line = _TASK_ITEM.sub(lambda m: m.group(1) + ("☐" if m.group(2) == " " else "☑"), line)
            heading = _HEADING.match(line)
            lead, line = (heading.group(1), line[heading.end():]) if heading else ("", line)
            line = lead + "".join(part if index % 2 else _outside_code(part, footnotes)   # not in `code`
                                  for index, part in enumerate(_CODE_SPAN.split(line)))
        lines.append(line)
    return "\n".join(lines)
