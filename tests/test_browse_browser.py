"""``k2p browse`` in a real browser: headless Chromium loads the site from ``file://``.

Chromium comes from the OS packages (``.ci/run`` installs Debian's ``chromium`` when it is
missing); without it these tests are skipped and say why. Console messages are read from
Chromium's log (``--enable-logging=stderr``): a script, event handler or remote load from the
archive would show as a Content-Security-Policy violation or a DOM change there.
With ``K2P_UPDATE_SCREENSHOTS=1`` the screenshots are written to ``docs/`` for the README.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import quote

import pytest

from k2p.archive.reader import ArchiveReader
from k2p.browse import BrowseOptions, build_site
from k2p.browse.paths import page_token
from k2p.mapping.ordering import id_order, time_order
from tests.helpers.browse import MARK, PHRASE, export_hostile

CHROMIUM = next((path for path in (shutil.which("chromium"), shutil.which("chromium-browser"),
                                   shutil.which("google-chrome")) if path), None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed (Debian package "
                                "`chromium`; .ci/run installs it when run as root)")
DOCS = Path(__file__).resolve().parents[1] / "docs"
CONSOLE = re.compile(r"INFO:CONSOLE[^\]]*\] \"(.*)\", source: (\S*)")


def chromium(url: str, *, screenshot: Path | None = None, budget_ms: int = 5000) -> tuple[str, list[str]]:
    """The DOM after scripts ran, and every console message, of ``url`` in a fresh profile."""
    with tempfile.TemporaryDirectory(prefix="k2p-chromium-") as profile:
        args = [CHROMIUM, "--headless", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
                "--disable-default-apps", "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
                f"--virtual-time-budget={budget_ms}", "--window-size=1400,1000", "--hide-scrollbars"]
        if os.geteuid() == 0:
            args.append("--no-sandbox")           # Chromium refuses to run its sandbox as root
        args += [f"--screenshot={screenshot}"] if screenshot else ["--dump-dom"]
        done = subprocess.run(args + [url], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout, [f"{match.group(1)} ({match.group(2)})" for match in CONSOLE.finditer(done.stderr)]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> dict:
    base = tmp_path_factory.mktemp("browser")
    marks = export_hostile(base / "acme.k2p")
    build_site(BrowseOptions(archive=base / "acme.k2p", out=base / "site", copy_files=True))
    return {"root": base / "site", "archive": base / "acme.k2p", "marks": marks}


def _url(site: dict, rel: str) -> str:
    return (site["root"] / rel).resolve().as_uri()


def _shot(name: str, tmp: Path) -> Path:
    return DOCS / name if os.environ.get("K2P_UPDATE_SCREENSHOTS") else tmp / name


def test_home_page_renders(site: dict, tmp_path: Path) -> None:
    dom, console = chromium(_url(site, "index.html"))
    assert console == []
    assert "<h2>Spaces</h2>" in dom and 'id="fingerprint"' in dom
    with ArchiveReader(site["archive"]) as reader:
        assert reader.fingerprint() in dom
        boards = [record for record in reader.iter_records("boards")]
    for board in boards:
        assert f'href="boards/{page_token(board["id"])}.html"' in dom
    chromium(_url(site, "index.html"), screenshot=_shot("browse-home.png", tmp_path))
    assert _shot("browse-home.png", tmp_path).stat().st_size > 10_000


def test_board_page_shows_its_columns_and_cards(site: dict, tmp_path: Path) -> None:
    board = site["marks"]["board"]
    with ArchiveReader(site["archive"]) as reader:
        columns = [r["raw"] for r in reader.iter_records("columns") if r["ref"]["board_id"] == board]
        cards = [r["raw"] for r in reader.iter_records("cards") if str(r["raw"]["board_id"]) == board]
    live = [card for card in cards if card["condition"] == 1]
    dom, console = chromium(_url(site, f"boards/{board}.html"))
    assert console == []
    table = dom.split('<table class="board">', 1)[1].split("</table>", 1)[0]
    headers = re.findall(r'<th class="column[^"]*"[^>]*>([^<]*)', table)
    tops = sorted((c for c in columns if c.get("column_id") is None), key=lambda c: (c["sort_order"], c["id"]))
    assert [h.strip() for h in headers] == [c["title"] for c in tops]
    subs = re.findall(r'<th class="subcolumn">([^<]*)', table)
    assert {s["title"] for c in tops for s in c.get("subcolumns") or []} <= set(subs)
    assert table.count('class="card-tile') == len(live)
    assert f'data-live="{len(live)}"' in dom and f'data-archived="{len(cards) - len(live)}"' in dom
    archived = dom.split('id="archived"', 1)[1]
    assert archived.count('class="card-tile') == len(cards) - len(live)
    chromium(_url(site, f"boards/{board}.html"), screenshot=_shot("browse-board.png", tmp_path))


def test_card_page_shows_comments_in_order(site: dict, tmp_path: Path) -> None:
    with ArchiveReader(site["archive"]) as reader:
        comments: dict[str, list[dict]] = {}
        for record in reader.iter_records("comments"):
            comments.setdefault(record["ref"]["card_id"], []).append(record["raw"])
    card_id = max(comments, key=lambda key: (len(comments[key]), key != site["marks"]["card"]))
    expected = [str(raw["id"]) for raw in sorted(comments[card_id], key=lambda r: (time_order(r["created"]), id_order(r["id"])))]
    dom, console = chromium(_url(site, f"cards/{card_id}.html"))
    assert console == []
    assert re.findall(r'<li class="comment[^"]*" id="comment-([^"]+)"', dom) == expected
    assert len(expected) >= 3
    chromium(_url(site, f"cards/{card_id}.html"), screenshot=_shot("browse-card.png", tmp_path))


def test_search_finds_a_comment_phrase(site: dict) -> None:
    dom, console = chromium(_url(site, "search.html") + "?q=" + quote(PHRASE))
    assert console == []
    status = re.search(r'id="search-status"[^>]*data-total="(\d+)"', dom)
    assert status and int(status.group(1)) >= 1, dom[-3000:]
    comment = f'cards/{site["marks"]["card"]}.html#comment-{site["marks"]["comment"]}'
    first = re.search(r'<li class="result (\w+)"><span class="kind">\w+</span><a href="([^"]+)"', dom)
    assert first and first.group(1) == "comment" and first.group(2) == comment
    none, _ = chromium(_url(site, "search.html") + "?q=" + quote("zzqx nosuchword"))
    assert 'data-total="0"' in none


def test_hostile_payloads_do_not_execute(site: dict) -> None:
    card = site["marks"]["card"]
    for rel in (f"cards/{card}.html", f"boards/{site['marks']['board']}.html",
                f"boards/{site['marks']['board']}-list.html", "search.html?q=hostile"):
        path, _, query = rel.partition("?")
        dom, console = chromium(_url(site, path) + (f"?{query}" if query else ""))
        assert console == [], (rel, console)                  # no CSP violation, no error, no dialog
        assert not re.search(rf"<html[^>]*data-{MARK}", dom), rel     # no payload changed <html>
        assert not re.search(r"<(script|img|iframe)[^>]*(onerror|evil\.example|alert)", dom), rel
    dom, _ = chromium(_url(site, f"cards/{card}.html"))
    assert "&lt;script&gt;document.documentElement" in dom    # shown as text


def test_the_browser_sees_a_csp_violation_when_one_happens(tmp_path: Path) -> None:
    """The console check above can fail: an inline script in a page is reported."""
    page = tmp_path / "p.html"
    page.write_text("<!doctype html><meta http-equiv=\"Content-Security-Policy\" content=\"script-src 'self'\">"
                    "<p>x</p><script>alert(1)</script>")
    _, console = chromium(page.as_uri())
    assert any("Content Security Policy" in line for line in console)
