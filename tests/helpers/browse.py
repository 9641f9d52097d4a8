"""A simulated company with hostile payloads in titles, descriptions, comments, tags and file
names, exported to an archive, for the ``k2p browse`` tests."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from k2p.testing.kaiten.company import KaitenCompany, generate_company
from k2p.testing.kaiten.sim import KaitenSimulator
from tests.helpers.export import export

PHRASE = "orange giraffe umbrella"
MARK = "k2ppwned"
HOSTILE = (f"<script>document.documentElement.setAttribute('data-{MARK}','1')</script>"
           f"<img src=x onerror=\"document.documentElement.setAttribute('data-{MARK}','2')\">"
           f"<iframe src=\"https://evil.example/\"></iframe><a href=\"javascript:alert(1)\">js</a>")
HOSTILE_MD = (HOSTILE + "\n\n[click](javascript:alert(3)) ![remote](https://evil.example/p.png) "
              "<svg onload=alert(4)></svg> [data](data:text/html;base64,PHNjcmlwdD5hbGVydCg1KTwvc2NyaXB0Pg==)")
HOSTILE_FILE = "../../../evil<script>.html"


def hostile_company() -> tuple[KaitenCompany, dict[str, Any]]:
    co = generate_company("tiny")
    board = co.landmarks["boards"][0]
    live = sorted(cid for cid, card in co.cards.items() if card["board_id"] == board and card["condition"] == 1)
    target = live[3]
    card = co.cards[target]
    card["title"] = "Hostile " + HOSTILE
    card["description"] = HOSTILE_MD
    template = next(c for comments in co.comments.values() for c in comments if not c["deleted"] and c["type"] == 1)
    next_id = max(c["id"] for comments in co.comments.values() for c in comments) + 1
    co.comments.setdefault(target, []).extend([
        {**template, "id": next_id, "card_id": target, "type": 1, "deleted": False,
         "text": f"Note: {PHRASE} " + HOSTILE, "created": "2030-01-01T10:00:00.000Z", "updated": "2030-01-01T10:00:00.000Z"},
        {**template, "id": next_id + 1, "card_id": target, "type": 2, "deleted": False,
         "text": f"<p onclick=\"alert(6)\">html {HOSTILE}</p><script>alert(7)</script>",
         "created": "2030-01-02T10:00:00.000Z", "updated": "2030-01-02T10:00:00.000Z"}])
    card["comments_total"] = len([c for c in co.comments[target] if not c["deleted"]])
    tag_id = sorted(co.tags)[0]
    co.tags[tag_id]["name"] = "<b onmouseover=alert(8)>tag</b>"
    renamed = None
    for files in co.files.values():
        for item in files:
            if item.get("type") == 1 and not item.get("deleted"):
                item["name"] = HOSTILE_FILE
                renamed = item["id"]
                break
        if renamed:
            break
    return co, {"card": str(target), "board": str(board), "file": str(renamed), "comment": str(next_id)}


def export_hostile(root: Path) -> dict[str, Any]:
    co, marks = hostile_company()
    with KaitenSimulator(co, idle_timeout=300) as sim:
        export(sim, root)
    return marks


class Links(HTMLParser):
    """Collects tags, attributes, script elements and links of one page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.inline_scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_scripts.append(data)


def parse(path: Path) -> Links:
    parser = Links()
    parser.feed(path.read_text("utf-8"))
    return parser


REMOTE = re.compile(r"(?i)^(https?:|mailto:)")


def archive_with_blobs(root: Path, blobs: list[bytes]) -> None:
    """A small archive: one board, one card (``100``), one stored file per blob (``f<n>.bin``)."""
    from k2p.archive.writer import ArchiveWriter
    from tests.helpers.archives import FIXED_TIME, SOURCE

    writer = ArchiveWriter(root)
    refs = [writer.blobs.put_bytes(data) for data in blobs]
    records = {
        "boards": [{"kind": "board", "id": "7", "raw": {"id": 7, "title": "Board"}}],
        "cards": [{"kind": "card", "id": "100", "ref": {"board_id": "7"},
                   "raw": {"id": 100, "board_id": 7, "title": "Card", "condition": 1}}],
        "files": [{"kind": "file", "id": str(n), "ref": {"card_id": "100"}, "status": "stored",
                   "blob": {"sha256": ref.sha256, "size": ref.size}, "raw": {"id": n, "name": f"f{n}.bin"}}
                  for n, ref in enumerate(refs)],
    }
    for collection, items in records.items():
        out = writer.records(collection)
        for record in items:
            out.write(record)
    writer.finalize(source=SOURCE, exporter_version="test", created_at=FIXED_TIME,
                    scope={"spaces": [], "files": True}, expected={})
