"""``k2p browse``: generation on simulated companies — every record has its page or entry, every
link resolves, nothing is written outside SITE_DIR, hostile archive text stays inert."""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import unquote

import pytest

from k2p.archive.reader import ArchiveReader
from k2p.browse import BrowseOptions, build_site
from k2p.browse.paths import page_token, safe_file_name
from k2p.browse.search import shard_of, words
from k2p.errors import ExitCode, K2PError
from tests.helpers.archives import sample_content, write_archive
from tests.helpers.browse import HOSTILE_FILE, archive_with_blobs, MARK, PHRASE, REMOTE, export_hostile, parse
from tests.helpers.export import K2P


def _tree(root: Path) -> set[str]:
    return {str(path.relative_to(root)) for path in root.rglob("*")}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> dict:
    base = tmp_path_factory.mktemp("browse")
    archive = base / "acme.k2p"
    marks = export_hostile(archive)
    before = _tree(base)
    scratch = base / "tmp"
    scratch.mkdir()
    old = tempfile.tempdir
    tempfile.tempdir = str(scratch)           # anything written to a temporary directory shows here
    try:
        linked = build_site(BrowseOptions(archive=archive, out=base / "linked"))
        copied = build_site(BrowseOptions(archive=archive, out=base / "copied", copy_files=True))
    finally:
        tempfile.tempdir = old
    return {"base": base, "archive": archive, "marks": marks, "before": before, "linked": linked,
            "copied": copied, "scratch": scratch}


def _records(archive: Path, collection: str) -> list[dict]:
    with ArchiveReader(archive) as reader:
        return list(reader.iter_records(collection))


@pytest.mark.parametrize("mode", ["linked", "copied"])
def test_every_card_comment_and_file_has_its_page_or_entry(hostile: dict, mode: str) -> None:
    site = hostile["base"] / mode
    cards = _records(hostile["archive"], "cards")
    comments = _records(hostile["archive"], "comments")
    files = _records(hostile["archive"], "files")
    for record in cards:
        assert (site / "cards" / f"{page_token(record['id'])}.html").is_file(), record["id"]
    pages = {record["id"]: (site / "cards" / f"{page_token(record['id'])}.html").read_text("utf-8") for record in cards}
    for record in comments:
        assert f'id="comment-{page_token(record["id"])}"' in pages[record["ref"]["card_id"]], record["id"]
    for record in files:
        assert f'id="file-{page_token(record["id"])}"' in pages[record["ref"]["card_id"]], record["id"]
    boards = {record["id"] for record in _records(hostile["archive"], "boards")}
    for board in boards:
        assert (site / "boards" / f"{page_token(board)}.html").is_file()
        assert (site / "boards" / f"{page_token(board)}-list.html").is_file()
    summary = hostile[mode]
    assert summary.cards == len(cards) and summary.comments == len(comments)
    documents = _records(hostile["archive"], "documents")   # the export collects the company's wiki
    assert documents and summary.documents == len(documents)
    assert summary.search_entries == len(cards) + len(comments) + len(files) + len(documents)
    for record in documents:
        assert (site / "documents" / f"{page_token(record['id'])}.html").is_file(), record["id"]
    stored = [record for record in files if record["status"] == "stored"]
    if mode == "linked":   # the hostile .html file is copied under a .download name, never linked
        assert summary.files_linked == len(stored) - 1 and summary.files_copied == 1
        assert [path.name for path in (site / "files").rglob("*") if path.is_file()] == ["evil_script_.html.download"]
    else:
        assert summary.files_copied == len(stored) and summary.files_linked == 0
    marker = json.loads((site / "k2p-site.json").read_text())
    assert marker["complete"] is True and marker["summary"]["cards"] == len(cards)


@pytest.mark.parametrize("mode", ["linked", "copied"])
def test_every_link_resolves_and_nothing_loads_remotely(hostile: dict, mode: str) -> None:
    site = hostile["base"] / mode
    checked = 0
    for page in site.rglob("*.html"):
        parsed = parse(page)
        assert parsed.inline_scripts == [], page
        for tag, attrs in parsed.tags:
            assert tag not in ("iframe", "object", "embed", "frame", "base"), (page, tag)
            assert not any(name.startswith("on") for name in attrs), (page, tag, attrs)
            for name in ("href", "src"):
                value = attrs.get(name)
                if value is None:
                    continue
                assert not re.match(r"(?i)\s*(javascript|data|vbscript|file):", value), (page, value)
                if tag in ("img", "script", "link") or name == "src":
                    assert not REMOTE.match(value), (page, tag, value)     # nothing loads remotely
                if REMOTE.match(value) or value.startswith("#"):
                    continue
                target = (page.parent / unquote(value.split("#", 1)[0].split("?", 1)[0])).resolve()
                assert target.exists(), (page, value)
                checked += 1
        csp = [attrs.get("content") or "" for tag, attrs in parsed.tags
               if tag == "meta" and attrs.get("http-equiv") == "Content-Security-Policy"]
        assert len(csp) == 1 and csp[0].startswith("default-src 'none'; script-src 'self';"), page
    assert checked > 300


def test_hostile_payloads_are_escaped(hostile: dict) -> None:
    site = hostile["base"] / "copied"
    card = (site / "cards" / f"{page_token(hostile['marks']['card'])}.html").read_text("utf-8")
    assert "&lt;script&gt;document.documentElement.setAttribute" in card       # title, shown as text
    parsed = parse(site / "cards" / f"{page_token(hostile['marks']['card'])}.html")
    assert "<script>document" not in card and "<img src=x" not in card and "<iframe" not in card
    assert not any(f"data-{MARK}" in attrs for _, attrs in parsed.tags)
    assert not any(tag == "a" and "javascript" in (attrs.get("href") or "") for tag, attrs in parsed.tags)
    assert not any(tag == "img" and REMOTE.match(attrs.get("src") or "") for tag, attrs in parsed.tags)
    assert PHRASE in card
    board = (site / "boards" / f"{page_token(hostile['marks']['board'])}.html").read_text("utf-8")
    assert "&lt;b onmouseover=alert(8)&gt;tag&lt;/b&gt;" in board
    # the hostile file name is shown escaped and copied under a safe name inside the site
    assert "../../../evil&lt;script&gt;.html" in card
    copied = [path for path in (site / "files").rglob("*") if path.is_file()]
    assert any(path.name == "evil_script_.html.download" for path in copied)
    assert all(site.resolve() in path.resolve().parents for path in copied)
    assert 'download="evil_script_.html"' in card


def test_nothing_is_written_outside_the_site(hostile: dict) -> None:
    base = hostile["base"]
    after = _tree(base)
    new = after - hostile["before"]
    assert all(path.split(os.sep)[0] in ("linked", "copied", "tmp") for path in new), sorted(new)[:5]
    assert list(hostile["scratch"].iterdir()) == []                 # no temporary file either
    assert not (base / "linked" / ".k2p-work").exists() and not (base / "copied" / ".k2p-work").exists()
    assert {p.name for p in hostile["archive"].iterdir()} == {"k2p-archive.json", "SHA256SUMS", "records",
                                                               "missing.jsonl.zst", "blobs", "reports"}


def test_refusals_and_rerun(hostile: dict, tmp_path: Path) -> None:
    archive = hostile["archive"]
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "mine.txt").write_text("keep me")
    with pytest.raises(K2PError) as refused:
        build_site(BrowseOptions(archive=archive, out=busy))
    assert refused.value.exit_code == ExitCode.REFUSED and (busy / "mine.txt").read_text() == "keep me"
    with pytest.raises(K2PError) as unknown:
        build_site(BrowseOptions(archive=archive, out=busy, boards=("999",)))
    assert unknown.value.exit_code == ExitCode.USAGE and "--board 999" in unknown.value.message
    with pytest.raises(K2PError) as inside:
        build_site(BrowseOptions(archive=archive, out=archive / "site"))
    assert inside.value.exit_code == ExitCode.USAGE
    one = build_site(BrowseOptions(archive=archive, out=tmp_path / "one", boards=(hostile["marks"]["board"],),
                                   files=False))
    assert one.boards == 1 and one.files_linked == one.files_copied == 0
    assert len(list((tmp_path / "one" / "boards").glob("*-list.html"))) == 1
    (tmp_path / "one" / "cards" / "stale.html").write_text("old")
    again = build_site(BrowseOptions(archive=archive, out=tmp_path / "one"))    # a k2p site: replaced
    assert again.boards == 3 and not (tmp_path / "one" / "cards" / "stale.html").exists()


def test_cli_json_summary_and_tar(hostile: dict, tmp_path: Path) -> None:
    tar = tmp_path / "acme.k2p.tar"
    subprocess.run([K2P, "pack", str(hostile["archive"]), "-o", str(tar)], check=True, capture_output=True)
    done = subprocess.run([K2P, "browse", str(tar), "-o", str(tmp_path / "site"), "--json"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["files_mode"] == "copy" and summary["files_copied"] > 0 and summary["notes"]
    assert (tmp_path / "site" / "index.html").is_file()
    bad = subprocess.run([K2P, "browse", str(tar), "-o", str(tmp_path / "s2"), "--no-files", "--copy-files"],
                         capture_output=True, text=True)
    assert bad.returncode == ExitCode.USAGE and "exclude each other" in bad.stderr


def test_documents_are_rendered_and_searchable(tmp_path: Path) -> None:
    content = sample_content()
    for card in content["records"]["cards"]:
        card["raw"]["board_id"] = 7
    data = {"type": "doc", "content": [
        {"type": "heading", "attrs": {"level": 1}, "content": [{"type": "text", "text": "Onboarding <script>"}]},
        {"type": "paragraph", "content": [
            {"type": "text", "text": "Read the wiki handbook", "marks": [{"type": "link", "attrs": {"href": "javascript:alert(1)"}}]},
            {"type": "inline_card_link", "attrs": {"card_id": 101}}]},
        {"type": "mystery_node", "content": [{"type": "text", "text": "kept text"}]}]}
    content["records"]["documents"] = [{"kind": "document", "id": "d-1", "raw": {
        "uid": "d-1", "title": "Handbook", "data": json.dumps(data), "parent_entity_uid": "g-1"}}]
    content["records"]["document_groups"] = [{"kind": "document_group", "id": "g-1",
                                              "raw": {"uid": "g-1", "title": "Wiki"}}]
    write_archive(tmp_path / "a.k2p", content)
    summary = build_site(BrowseOptions(archive=tmp_path / "a.k2p", out=tmp_path / "site"))
    assert summary.documents == 1
    page = (tmp_path / "site" / "documents" / "d-1.html").read_text("utf-8")
    assert "Onboarding &lt;script&gt;" in page and "javascript:" not in page and "kept text" in page
    assert 'href="../cards/101.html"' in page
    home = (tmp_path / "site" / "index.html").read_text("utf-8")
    assert "📚 Wiki" in home and 'href="documents/d-1.html"' in home
    shards = "".join(path.read_text("utf-8") for path in (tmp_path / "site" / "search").glob("t-*.js"))
    assert '"handbook"' in shards


def test_a_property_the_archive_does_not_name_is_shown_by_its_id(tmp_path: Path) -> None:
    """A card can carry a value of a property the company's records no longer hold (deleted in
    Kaiten, or hidden by the tariff): the card page names it by its id instead of failing."""
    content = sample_content()
    card = content["records"]["cards"][0]
    card["raw"]["properties"] = {"id_900": "value of an unnamed property"}
    write_archive(tmp_path / "a.k2p", content)
    build_site(BrowseOptions(archive=tmp_path / "a.k2p", out=tmp_path / "site"))
    page = (tmp_path / "site" / "cards" / f"{card['id']}.html").read_text("utf-8")
    assert "<dt>Property 900</dt><dd>value of an unnamed property</dd>" in page


def test_markup_blobs_are_never_linked(tmp_path: Path) -> None:
    """A blob has no extension, so a browser would sniff markup in it and run it as a page: such
    bytes are copied under a safe name even when the other files are linked."""
    archive_with_blobs(tmp_path / "a.k2p", [b"  <html><script>alert(1)</script></html>",
                                            b"\xef\xbb\xbf<svg onload=alert(1)>", b"%PDF-1.4 plain bytes"])
    summary = build_site(BrowseOptions(archive=tmp_path / "a.k2p", out=tmp_path / "site"))
    assert (summary.files_linked, summary.files_copied) == (1, 2)
    page = (tmp_path / "site" / "cards" / "100.html").read_text("utf-8")
    assert page.count('<a href="../files/') == 2 and page.count("/blobs/sha256/") == 1


def test_cli_open_starts_the_browser(hostile: dict, tmp_path: Path) -> None:
    opener = tmp_path / "opener.sh"
    opener.write_text(f"#!/bin/sh\necho \"$1\" > {tmp_path / 'opened'}\n")
    opener.chmod(0o755)
    done = subprocess.run([K2P, "browse", str(hostile["archive"]), "-o", str(tmp_path / "site"), "--no-files",
                           "--open"], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "BROWSER": f"{opener} %s"})
    assert done.returncode == 0, done.stderr
    assert "Wrote" in done.stdout and "cards" in done.stdout
    assert (tmp_path / "opened").read_text().strip() == (tmp_path / "site" / "index.html").resolve().as_uri()


def test_safe_names_and_tokens() -> None:
    assert page_token("50000001") == "50000001"
    assert page_token("6a8e-uuid") == "6a8e-uuid"
    for hostile in ("../x", "A", "a/b", "a\\b", "", "x" * 200, "con", "a\x00b"):
        token = page_token(hostile)
        assert re.fullmatch(r"[a-z0-9_-]{1,80}", token) and "/" not in token and ".." not in token
    assert page_token("ABC") != page_token("abc")
    assert safe_file_name(HOSTILE_FILE) == "evil_script_.html"
    assert safe_file_name("..") == "file" and safe_file_name("CON.txt") == "_CON.txt"
    assert safe_file_name("a\u202eexe.pdf") == "a_exe.pdf"
    long = safe_file_name("ж" * 300 + ".pdf")
    assert long.endswith(".pdf") and len(long.encode()) <= 150
    assert words("Привет, World_2 a") == ["привет", "world", "2"][:2]
    assert 0 <= shard_of("привет", 64) < 64


def test_markup_keeps_no_markup_of_its_own() -> None:
    from k2p.browse.markup import comment_html, markdown_html

    local = {"https://files.kaiten.ru/a.png": "../files/a.png", "https://files.kaiten.ru/b.pdf": "../files/b.pdf"}
    html = str(markdown_html(
        "<b>raw</b> [js](javascript:alert(1)) [web](https://example.org/x) [kaiten](/space/1/card/2) "
        "![remote](https://evil.example/p.png) ![local](https://files.kaiten.ru/a.png) "
        "[spec](https://files.kaiten.ru/b.pdf) [data](data:text/html,x)", local))
    assert "<b>" not in html and "&lt;b&gt;raw&lt;/b&gt;" in html
    assert 'href="javascript' not in html and 'href="data' not in html and "/space/1/card/2" not in html
    assert '<a href="https://example.org/x" class="external" rel="noopener noreferrer nofollow">web</a>' in html
    assert '<img src="../files/a.png" alt="local"' in html and "<img src=\"https://evil" not in html
    assert '<a href="../files/b.pdf" class="file-link">spec</a>' in html
    assert html.count("<a ") == html.count("</a>")
    comment = str(comment_html('<p onclick="x()">Hi <b>there</b><script>alert(1)</script>'
                               '<a href="javascript:alert(2)">j</a><img src="https://evil.example/t.gif"></p>', 2))
    assert "onclick" not in comment and "script" not in comment and "javascript" not in comment
    assert "<strong>there</strong>" in comment and "<img" not in comment
