"""ProseMirror (Kaiten documents) → Planka Markdown: every node kind, escaping, hostile input."""

from __future__ import annotations

import re

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from k2p.mapping.prosemirror import MAX_DEPTH, prosemirror_to_markdown


def doc(*content: dict) -> str:
    """As Kaiten delivers it: a JSON-encoded string."""
    return orjson.dumps({"type": "doc", "content": list(content)}).decode()


def text(value: str, *marks: dict) -> dict:
    node: dict = {"type": "text", "text": value}
    if marks:
        node["marks"] = list(marks)
    return node


def para(*content: dict) -> dict:
    return {"type": "paragraph", "content": list(content)}


def test_headings_paragraphs_marks_and_breaks() -> None:
    result = prosemirror_to_markdown(doc(
        {"type": "heading", "attrs": {"level": 2}, "content": [text("Release plan")]},
        para(text("Ship "), text("on Friday", {"type": "bold"}), text(" and "),
             text("tell", {"type": "italic"}), text(" "), text("ops", {"type": "strike"}),
             text(" via "), text("the wiki", {"type": "link", "attrs": {"href": "https://wiki.example/x"}}),
             {"type": "hard_break"}, text("run "), text("make all", {"type": "code"}),
             text(" "), text("now", {"type": "underline"})),
        {"type": "horizontal_rule"},
    ))
    assert result.markdown == (
        "## Release plan\n\n"
        "Ship **on Friday** and *tell* ~~ops~~ via [the wiki](https://wiki.example/x)  \n"
        "run `make all` ++now++\n\n---")
    assert not result.unknown


def test_camel_case_node_names_lists_and_tasks() -> None:
    result = prosemirror_to_markdown(doc(
        {"type": "bulletList", "content": [
            {"type": "listItem", "content": [para(text("one")), {"type": "bulletList", "content": [
                {"type": "listItem", "content": [para(text("nested"))]}]}]},
            {"type": "listItem", "content": [para(text("two"))]}]},
        {"type": "orderedList", "attrs": {"order": 3}, "content": [
            {"type": "listItem", "content": [para(text("third"))]},
            {"type": "listItem", "content": [para(text("fourth"))]}]},
        {"type": "taskList", "content": [
            {"type": "taskItem", "attrs": {"checked": True}, "content": [para(text("done"))]},
            {"type": "taskItem", "attrs": {"checked": False}, "content": [para(text("open"))]}]},
    ))
    assert result.markdown == ("- one\n\n  - nested\n- two\n\n3. third\n4. fourth\n\n"
                               "- ☑ done\n- ☐ open")


def test_quote_code_block_and_table() -> None:
    result = prosemirror_to_markdown(doc(
        {"type": "blockquote", "content": [para(text("quoted")), para(text("twice"))]},
        {"type": "code_block", "attrs": {"language": "python"},
         "content": [text("print('```')\nx = 1")]},
        {"type": "table", "content": [
            {"type": "table_row", "content": [
                {"type": "table_header", "content": [para(text("Name"))]},
                {"type": "table_header", "content": [para(text("Value"))]}]},
            {"type": "table_row", "content": [
                {"type": "table_cell", "content": [para(text("a|b"))]},
                {"type": "table_cell", "content": [para(text("1"))]}]},
            {"type": "table_row", "content": [
                {"type": "table_cell", "content": [para(text("short row"))]}]}]},
    ))
    assert result.markdown == (
        "> quoted\n>\n> twice\n\n"
        "````python\nprint('```')\nx = 1\n````\n\n"
        "| Name | Value |\n|---|---|\n| a\\|b | 1 |\n| short row |  |")


def test_card_links_images_and_mentions_resolve_through_callbacks() -> None:
    links = {"50000004": ("https://planka.example/cards/9", "Fix login")}
    result = prosemirror_to_markdown(
        doc({"type": "block_card_link", "attrs": {"card_id": 50000004}},
            para(text("see "), {"type": "inline_card_link", "attrs": {"cardId": "50000099", "title": "Gone"}},
                 text(" and "), {"type": "mention", "attrs": {"id": 7, "label": "anna"}}),
            {"type": "image", "attrs": {"src": "https://files.kaiten.example/a.png", "alt": "diagram"}},
            {"type": "image", "attrs": {"src": "javascript:alert(1)", "alt": "evil"}}),
        card_link=lambda card_id: links.get(card_id, (None, None)),
        image_link=lambda attrs: "attachment:1" if attrs.get("alt") == "diagram" else None)
    assert result.markdown == ("[\\#50000004 Fix login](https://planka.example/cards/9)\n\n"
                               "see \\#50000099 Gone and @anna\n\n![diagram](attachment:1)\n\nevil")
    assert result.card_ids == ["50000004", "50000099"]
    assert [image["alt"] for image in result.images] == ["diagram", "evil"]


def test_file_nodes_become_links_or_names_and_are_reported() -> None:
    nodes = (para({"type": "file", "attrs": {"url": "https://files.kaiten.example/r.pdf", "name": "report [v2].pdf"}}),
             {"type": "attachment", "attrs": {"url": "ftp://x/y", "name": "old.zip"}},
             para({"type": "file", "attrs": {"url": "https://files.kaiten.example/s.pdf", "name": "spec.pdf"}}))
    plain = prosemirror_to_markdown(doc(*nodes))
    assert plain.markdown == ("📎 [report \\[v2\\].pdf](https://files.kaiten.example/r.pdf)\n\n📎 old.zip\n\n"
                              "📎 [spec.pdf](https://files.kaiten.example/s.pdf)")
    assert [item["name"] for item in plain.files] == ["report [v2].pdf", "old.zip", "spec.pdf"]
    assert not plain.unknown
    attached = prosemirror_to_markdown(doc(*nodes), file_link=lambda attrs: None)
    assert attached.markdown == "📎 report \\[v2\\].pdf\n\n📎 old.zip\n\n📎 spec.pdf"


def test_unknown_nodes_and_marks_keep_their_text_and_are_reported() -> None:
    result = prosemirror_to_markdown(doc(
        {"type": "kaiten_callout", "attrs": {"tone": "warn"}, "content": [para(text("careful"))]},
        para(text("x", {"type": "highlight"}), {"type": "widget", "content": [text("inner")]}),
        {"type": "mystery_leaf", "content": [text("leaf text")]},
    ))
    assert result.markdown == "careful\n\nxinner\n\nleaf text"
    assert result.unknown == {"node:kaiten_callout": 1, "mark:highlight": 1, "node:widget": 1,
                              "node:mystery_leaf": 1}


def test_text_that_would_become_markup_shows_as_typed() -> None:
    result = prosemirror_to_markdown(doc(
        para(text("1. not a list")), para(text("- nor this")), para(text("# nor a heading")),
        para(text("<script>alert(1)</script> **bold?** [x](javascript:y) a^b^ ==m== ++i++ {% cut %}")),
        para(text("evil", {"type": "link", "attrs": {"href": "javascript:alert(1)"}}))))
    lines = result.markdown.split("\n\n")
    assert lines[0] == "1\\. not a list"
    assert lines[1] == "\\- nor this"
    assert lines[2] == "\\# nor a heading"
    assert "<script>" not in result.markdown and "&lt;script&gt;" in lines[3]
    assert "\\*\\*bold?\\*\\*" in lines[3] and "\\[x\\](javascript:y)" in lines[3]
    assert "a\\^b\\^ \\=\\=m\\=\\= \\+\\+i\\+\\+ \\{% cut %\\}" in lines[3]
    assert lines[4] == "evil"   # the unsafe link is dropped, its text kept


def test_not_a_document_and_bounded_depth() -> None:
    assert prosemirror_to_markdown("").markdown == ""
    broken = prosemirror_to_markdown("{not json")
    assert broken.markdown == "\\{not json" and broken.unknown == {"node:not_prosemirror": 1}
    node: dict = text("bottom")
    for _ in range(MAX_DEPTH + 50):
        node = {"type": "blockquote", "content": [node]}
    deep = prosemirror_to_markdown({"type": "doc", "content": [node]})
    assert deep.unknown["too_deep"] == 1 and deep.markdown.endswith("bottom")
    assert prosemirror_to_markdown({"type": "doc"}).markdown == ""


_NODE = st.recursive(
    st.builds(lambda value: {"type": "text", "text": value}, st.text(max_size=20)),
    lambda children: st.builds(
        lambda kind, content, level: {"type": kind, "attrs": {"level": level, "checked": level % 2 == 0},
                                      "content": content},
        st.sampled_from(["paragraph", "heading", "bullet_list", "list_item", "blockquote", "table",
                         "table_row", "table_cell", "code_block", "task_item", "unknown_thing"]),
        st.lists(children, max_size=4), st.integers(-3, 9)),
    max_leaves=30)


@settings(max_examples=200, deadline=None)
@given(st.lists(_NODE, max_size=5))
def test_any_tree_converts_without_error(content: list[dict]) -> None:
    result = prosemirror_to_markdown({"type": "doc", "content": content})
    outside_code = re.sub(r"(?ms)^[ >]*(?:- (?:[☐☑] )?|\d+\. )?(`{3,})[^\n]*$.*?^[ >]*\1$", "",
                          result.markdown)
    assert "<" not in outside_code.replace("&lt;", "")
