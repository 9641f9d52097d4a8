"""Text limits of the mapping: UTF-16 lengths, JSON byte budgets, HTML → Markdown."""

from __future__ import annotations

import re

import orjson
import pytest

from k2p.mapping.footer import duration
from k2p.mapping.html_markdown import html_to_markdown
from k2p.mapping.text import (ELLIPSIS, planka_markdown, TEXT_MAX, clean, cut_units, fit_text, human_utc, iso_utc, js_len,
                              json_size, md_escape, parse_time, shorten, shorten_filename)

MARKER = "\n\n… [cut]"
TAG = re.compile(r"<\s*/?\s*[A-Za-z!?]")


# --- lengths ---------------------------------------------------------------------------------
def test_js_len_counts_utf16_units() -> None:
    assert js_len("abc") == 3
    assert js_len("Привет") == 6
    assert js_len("🎉") == 2                       # outside the BMP: a surrogate pair
    assert js_len("👩‍💻") == 5                      # woman + ZWJ + laptop
    assert js_len("a🎉b") == len("a🎉b".encode("utf-16-le")) // 2


def test_cut_units_never_splits_a_character() -> None:
    text = "ab🎉cd"
    assert cut_units(text, 2) == "ab"
    assert cut_units(text, 3) == "ab"              # the emoji needs 2 units: not half of it
    assert cut_units(text, 4) == "ab🎉"
    assert cut_units(text, 100) == text


@pytest.mark.parametrize("text", ["x" * 200, "🎉" * 100, "Очень длинный 🧵 " * 20])
def test_shorten_fits_and_marks(text: str) -> None:
    short = shorten(text, 128)
    assert js_len(short) <= 128
    assert short.endswith(ELLIPSIS)
    assert text.startswith(short[:-1].rstrip())


def test_shorten_keeps_short_text() -> None:
    assert shorten("🎉" * 64, 128) == "🎉" * 64


def test_shorten_filename_keeps_extension() -> None:
    name = "квартальный отчёт " * 20 + ".pdf"
    short = shorten_filename(name)
    assert js_len(short) <= 128 and short.endswith("….pdf")
    assert shorten_filename("a" * 300) == "a" * 127 + ELLIPSIS       # no extension
    assert shorten_filename("x.y" * 100).endswith(".y")
    assert shorten_filename("report.pdf") == "report.pdf"


def test_clean_makes_text_storable() -> None:
    assert clean("a\x00b") == "ab"
    assert clean("x\ud800y") == "x?y"                  # a lone surrogate cannot be sent as UTF-8
    text, _ = fit_text("\ud83c", budget=100, marker=MARKER, prefix="\x00p")
    assert text == "p?" and json_size(text) == 4


# --- byte budget -----------------------------------------------------------------------------
def test_fit_text_leaves_small_text_alone() -> None:
    assert fit_text("hello", budget=100, marker=MARKER, prefix="p ", suffix=" s") == ("p hello s", False)


@pytest.mark.parametrize("unit", ["a", "Ж", "你", "🎉", '"', "x\n", "\x01"])
def test_fit_text_respects_the_byte_budget(unit: str) -> None:
    body = unit * 50_000
    text, cut = fit_text(body, budget=20_000, marker=MARKER, prefix="**Ann** · 2026\n\n", suffix="\n\n---\nfooter")
    assert cut
    assert json_size(text) <= 20_000
    assert len(orjson.dumps({"text": text})) <= 20_000 + 10
    assert text.startswith("**Ann** · 2026\n\n") and text.endswith(MARKER + "\n\n---\nfooter")
    assert json_size(text) > 20_000 - 20            # uses the budget, not a fraction of it


def test_fit_text_multibyte_is_cut_by_bytes_not_characters() -> None:
    body = "Привет, мир! 🎉\n" * 100_000           # ~2.2 MB of UTF-8, 1.6 M characters
    text, cut = fit_text(body, budget=1_000_000, marker=MARKER)
    assert cut and json_size(text) <= 1_000_000
    assert js_len(text) < TEXT_MAX
    assert text.endswith(MARKER)
    kept = text[: -len(MARKER)]
    assert body.startswith(kept) and kept.endswith("🎉")          # cut at a line break


def test_fit_text_respects_the_validator_maximum() -> None:
    body = "a" * (TEXT_MAX + 10)                   # 1 byte per character: the length limit binds
    text, cut = fit_text(body, budget=1_040_000, marker=MARKER)
    assert cut and js_len(text) <= TEXT_MAX and json_size(text) <= 1_040_000


# --- Markdown escaping and dates ---------------------------------------------------------------
def test_md_escape() -> None:
    assert md_escape("a*b_c [x](y) `z` <b> &amp; & x") == r"a\*b\_c \[x\](y) \`z\` &lt;b&gt; &amp;amp; & x"


def test_dates() -> None:
    moment = parse_time("2026-08-01T09:15:02.113Z")
    assert moment is not None and iso_utc(moment) == "2026-08-01T09:15:02.113Z"
    assert iso_utc(parse_time("2026-08-01T12:15:00+03:00")) == "2026-08-01T09:15:00.000Z"  # type: ignore[arg-type]
    assert parse_time("yesterday") is None and parse_time(None) is None
    assert iso_utc(parse_time("2026-08-01T09:15:00.1234567Z")) == "2026-08-01T09:15:00.123Z"  # type: ignore[arg-type]
    assert iso_utc(parse_time("2026-08-01T09:15:00.5Z")) == "2026-08-01T09:15:00.500Z"  # type: ignore[arg-type]
    assert human_utc("2026-08-01T09:15:59.999Z") == "2026-08-01 09:15 UTC"
    assert human_utc("2026-08-01T09:15:00Z", with_time=False) == "2026-08-01"


# --- HTML → Markdown ---------------------------------------------------------------------------
@pytest.mark.parametrize("html, expected", [
    ("<p>one</p><p>two</p>", "one\n\ntwo"),
    ("a<br>b<br/>c", "a  \nb  \nc"),
    ("<b>bold</b> <strong>strong</strong>", "**bold** **strong**"),
    ("<i>it</i> <em>em</em>", "*it* *em*"),
    ("<s>gone</s> <del>gone</del>", "~~gone~~ ~~gone~~"),
    ('<a href="https://example.org/a b">the link</a>', "[the link](https://example.org/a%20b)"),
    ('<a href="https://example.org/">https://example.org/</a>', "[https://example.org/](https://example.org/)"),
    ('<a href="javascript:alert(1)">click</a>', "click"),
    ('<a href="https://u.org"><p>two</p><p>lines</p></a>', "[two lines](https://u.org)"),
    ("<ul><li>one</li><li>two</li></ul>", "- one\n- two"),
    ("<ol><li>one</li><li>two</li></ol>", "1. one\n2. two"),
    ("<ol start='3'><li>three</li></ol>", "3. three"),
    ("<ul><li>a<ul><li>inner</li></ul></li></ul>", "- a\n   - inner"),
    ("<code>x &lt; y</code>", "`x < y`"),
    ("<pre><code>if a &lt; b:\n    go()</code></pre>", "```\nif a < b:\n    go()\n```"),
    ("<h1>Title</h1><h3>Sub</h3>", "# Title\n\n### Sub"),
    ("<blockquote><p>quoted</p><p>more</p></blockquote>", "> quoted\n>\n> more"),
    ("<hr>", "---"),
    ('<img src="https://x.org/p.png" alt="pic">', "![pic](https://x.org/p.png)"),
    ("<table><tr><th>a</th><th>b</th></tr><tr><td>1</td><td>2</td></tr></table>", "a | b\n1 | 2"),
    ("&amp; &lt;tag&gt; &quot;q&quot; &#x1F389; &copy;", "& &lt;tag&gt; \"q\" 🎉 ©"),
    ("<script>alert(1)</script><style>p {}</style>visible", "visible"),
    ('<span class="mention" data-id="5">@Ann</span> said', "@Ann said"),
    ("5 * 3 _x_", r"5 \* 3 \_x\_"),
    ("", ""),
])
def test_html_constructs(html: str, expected: str) -> None:
    assert html_to_markdown(html) == expected


def test_html_kaiten_comment_has_no_tags() -> None:
    html = ('<p>Hello <b>team</b> &amp; <a href="https://example.org/partners">partners</a>:</p>'
            "<ul><li>first point</li><li>second &lt;point&gt;</li></ul><div><font color=red>x</font></div>"
            "<unknown-tag attr=1>kept</unknown-tag><!-- a comment --><![CDATA[data]]>")
    text = html_to_markdown(html)
    assert not TAG.search(text), text
    assert "Hello **team** & [partners](https://example.org/partners):" in text
    assert "- second &lt;point&gt;" in text and "kept" in text


def test_html_unclosed_markup_still_has_no_tags() -> None:
    text = html_to_markdown('<div><p>open <a href="https://a.b">link <b>bold <blockquote>q')
    assert not TAG.search(text)
    assert "link **bold" in text and "> q" in text


@pytest.mark.parametrize("markdown, expected", [
    ("- [x] draft\n- [ ] review", "☑ draft\n☐ review"),
    ("* [X] a\n+ [ ] b\n1. [ ] c\n2) [x] d", "☑ a\n☐ b\n☐ c\n☑ d"),
    ("  - [ ] nested\n> - [x] quoted", "  ☐ nested\n> ☑ quoted"),
    ("- [link](https://x.org)\n- [ ]not a task\n- plain", "- [link](https://x.org)\n- [ ]not a task\n- plain"),
    ("one<br>two<BR/>three<br />four", "one\ntwo\nthree\nfour"),
    ("use `<br>` or ``a<br>`` then<br>go", "use `<br>` or ``a<br>`` then\ngo"),
    ("```\n- [ ] code<br>\n```\n- [ ] after", "```\n- [ ] code<br>\n```\n☐ after"),
    ("~~~~\n```\n- [x] still code\n~~~~\n- [x] out", "~~~~\n```\n- [x] still code\n~~~~\n☑ out"),
    ("if a == b and x^2 ~ 4, see {% note %} ++new++ ##mono##",
     "if a \\=\\= b and x\\^2 \\~ 4, see \\{% note %} \\+\\+new\\+\\+ \\#\\#mono\\#\\#"),
    ("## Heading ## closed\n> ### quoted", "## Heading \\#\\# closed\n> ### quoted"),
    ("~~strike~~ and \\^kept and `a == b`", "~~strike~~ and \\^kept and `a == b`"),
])
def test_planka_markdown(markdown: str, expected: str) -> None:
    assert planka_markdown(markdown) == expected


@pytest.mark.parametrize("markdown, expected", [
    # Planka's 8 colour names stay; other colours become the nearest of them, white or unknown ones plain
    ("{red}(a) {Blue}(b) {#e53935}(c) {#0f0}(d) {rgb(0, 70, 190)}(e) {purple}(f)",
     "{red}(a) {blue}(b) {red}(c) {green}(d) {blue}(e) {violet}(f)"),
    ("{#ffffff}(white) {sparkle}(odd) {color: #ff8800}(g)", "white odd {orange}(g)"),
    ("{color:red}Jira red{color} and {color:#04b}blue{color}", "{red}(Jira red) and {blue}(blue)"),
    ('<span style="color: rgb(229, 57, 53)">x</span> <span style="font-weight:bold;color:#080">y</span>',
     "{red}(x) {green}(y)"),
    ('<span style="background-color: yellow">bg</span>', "bg"),
    # inline HTML (Planka shows tags as text) becomes the Markdown it renders alike
    ("<u>u</u> <ins>i</ins> <mark>m</mark> <s>s</s> <del>d</del> <b>b</b> <strong>st</strong> <i>i</i> <em>e</em>",
     "++u++ ++i++ ==m== ~~s~~ ~~d~~ **b** **st** *i* *e*"),
    ("H<sub>2</sub>O, x<sup>2</sup>, <code>a`b</code>, <b><i>both</i></b>, <B>caps</B>, <b></b>",
     "H~2~O, x^2^, ``a`b``, ***both***, **caps**, "),
    ("<u>a == b</u> and <details>kept</details>", "++a \\=\\= b++ and <details>kept</details>"),
    # footnotes: a mark whose note is defined becomes superscript; others stay escaped text
    ("Kaiten[^1] and [^x] regex\n[^1]: the note", "Kaiten^1^ and [\\^x] regex\n^1^ the note"),
    # code is left alone
    ("`{#e53935}(c) <u>u</u>` and\n```\n<b>x</b> [^1]\n```\n[^1]: n", "`{#e53935}(c) <u>u</u>` and\n```\n<b>x</b> [^1]\n```\n^1^ n"),
    ("\\{red}(escaped)", "\\{red}(escaped)"),
])
def test_planka_markdown_colours_html_footnotes(markdown: str, expected: str) -> None:
    assert planka_markdown(markdown) == expected


@pytest.mark.parametrize("seconds, text", [(12_000, "3 h 20 min"), (2_700, "45 min"), (7_200, "2 h"),
                                           (30, "< 1 min"), (90_000, "25 h")])
def test_duration(seconds: int, text: str) -> None:
    assert duration(seconds) == text
