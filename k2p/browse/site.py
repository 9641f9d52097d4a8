"""``k2p browse``: generate the static site of one archive, board by board.

Order of work: prepare SITE_DIR (refusing a directory that is not an earlier k2p site), write the
assets, index the archive (cards and their sub-records go to a SQLite file in
``SITE_DIR/.k2p-work``), then for each board load only that board's records, write its board and
list pages and one page per card, and hand every card, comment and file to the search index;
then the documents, the home, missing and search pages, the search shards, and last the marker
``k2p-site.json`` saying the site is complete. Memory is bounded by the largest board.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import orjson

from k2p import __version__
from k2p.archive import collections as C
from k2p.archive.container import DirContainer
from k2p.archive.format import blob_path
from k2p.archive.index import ArchiveIndex, BoardRecords, CompanyRecords
from k2p.archive.reader import ArchiveReader
from k2p.browse import paths
from k2p.browse.board import card_order, layout
from k2p.browse.cards import FileView, Lookups, card_page, tile, when
from k2p.browse.company import home_model, missing_rows
from k2p.browse.markup import document_html, document_text
from k2p.browse.render import Renderer
from k2p.browse.search import SearchIndex
from k2p.console import human_bytes
from k2p.errors import ExitCode, K2PError, Refused
from k2p.mapping.html_markdown import html_to_markdown
from k2p.mapping.ordering import id_order

MARKER = "k2p-site.json"
WORK = ".k2p-work"
MANAGED = ("assets", "boards", "cards", "documents", "files", "search", "index.html", "search.html",
           "missing.html")
DOCUMENTS = "documents"
DOCUMENT_GROUPS = "document_groups"
IMAGE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp", "image/avif"}
ACTIVE_EXTENSIONS = {"html", "htm", "xhtml", "xht", "shtml", "svg", "svgz", "xml", "mht", "mhtml", "js", "mjs"}

Progress = Callable[[str, Any], None]


@dataclass
class BrowseOptions:
    archive: Path
    out: Path
    boards: tuple[str, ...] = ()
    files: bool = True
    copy_files: bool = False


@dataclass
class BrowseSummary:
    site: str
    archive: str
    fingerprint: str | None
    files_mode: str
    boards: int = 0
    cards: int = 0
    archived_cards: int = 0
    comments: int = 0
    files_linked: int = 0
    files_copied: int = 0
    files_unavailable: int = 0
    documents: int = 0
    search_entries: int = 0
    pages: int = 0
    site_files: int = 0
    site_bytes: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def index(self) -> Path:
        return Path(self.site) / "index.html"


def _prepare(out: Path, archive: Path) -> None:
    archive_root = archive.resolve()
    site = out.resolve()
    if site == archive_root or archive_root in site.parents:
        raise K2PError(f"{out}: the site cannot be written inside the archive {archive} (an archive holds "
                       f"no other files); choose a directory next to it", exit_code=ExitCode.USAGE)
    if out.exists() and not out.is_dir():
        raise Refused(f"{out} exists and is not a directory; choose another -o SITE_DIR")
    if out.is_dir() and any(out.iterdir()):
        if not (out / MARKER).is_file():
            raise Refused(f"{out} is not empty and holds no {MARKER} (not a site k2p wrote); choose a new "
                          f"or empty directory")
        for name in MANAGED + (WORK,):
            target = out / name
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            elif target.exists() or target.is_symlink():
                target.unlink()
    out.mkdir(parents=True, exist_ok=True)


class SiteBuilder:
    """One run of ``k2p browse``."""

    def __init__(self, options: BrowseOptions, on_progress: Progress | None = None) -> None:
        self.options = options
        self.progress = on_progress or (lambda event, value: None)
        self.started = time.monotonic()

    def run(self) -> BrowseSummary:
        options = self.options
        with ArchiveReader(options.archive) as reader:
            reader.check_record_files()
            self.reader = reader
            self._check_boards({str(record.get("id")) for record in reader.iter_records(C.BOARDS.name)}
                               if reader.has_collection(C.BOARDS.name) else set())
            _prepare(options.out, options.archive)
            self.writer = paths.SiteWriter(options.out)
            work = options.out / WORK
            work.mkdir(exist_ok=True)
            try:
                self._marker(reader, complete=False)
                return self._build(reader, work)
            finally:
                shutil.rmtree(work, ignore_errors=True)

    def _marker(self, reader: ArchiveReader, *, complete: bool, summary: BrowseSummary | None = None) -> None:
        payload = {"k2p": "site", "version": __version__, "complete": complete, "archive": str(self.options.archive),
                   "archive_id": reader.manifest.archive_id, "fingerprint": reader.fingerprint(),
                   "summary": summary.to_dict() if summary else None}
        self.writer.write(MARKER, orjson.dumps(payload, option=orjson.OPT_INDENT_2))

    def _build(self, reader: ArchiveReader, work: Path) -> BrowseSummary:
        options = self.options
        is_dir = isinstance(reader.container, DirContainer)
        mode = "none" if not options.files else ("copy" if options.copy_files or not is_dir else "link")
        summary = BrowseSummary(site=str(options.out), archive=str(options.archive),
                                fingerprint=reader.fingerprint(), files_mode=mode)
        if options.files and mode == "copy" and not options.copy_files:
            summary.notes.append("the archive is a .k2p.tar: files are copied into the site (a tar cannot be linked)")
        self.reader, self.summary, self.mode = reader, summary, mode
        self.render = Renderer()
        self.render.assets(self.writer)
        self.progress("phase", "indexing the archive")
        with ArchiveIndex(reader, workdir=work) as index:
            company = index.company
            boards = self._selected(company)
            self.index, self.company, self.lookups = index, company, Lookups(company)
            self.selected = set(boards)
            self.search = SearchIndex(work)
            try:
                self.progress("cards_total", sum(company.card_counts.get(board, 0) for board in boards))
                self.progress("phase", "writing boards and cards")
                for board_id in boards:
                    self._board(board_id)
                documents = self._documents()
                self.progress("phase", "writing the home and search pages")
                home = home_model(reader, company, self.selected, documents, summary, when, self._in_site)
                self._page("index.html", "home.html", home=home)
                self._page("missing.html", "missing.html",
                           rows=missing_rows(reader.iter_records("missing"), self._in_site))
                self._page("search.html", "search.html")
                self.progress("phase", "writing the search index")
                shards = self.search.finish(self.writer)
                summary.search_entries = shards["entries"]
            finally:
                self.search.close()
        summary.seconds = round(time.monotonic() - self.started, 2)
        summary.site_files, summary.site_bytes = self.writer.files + 1, self.writer.bytes
        self._marker(reader, complete=True, summary=summary)
        return summary

    # --- helpers -------------------------------------------------------------------------------
    def _check_boards(self, known: set[str]) -> None:
        """Refuse an unknown ``--board`` before anything is written (a site there is kept)."""
        unknown = [str(board) for board in self.options.boards if str(board) not in known]
        if unknown:
            raise K2PError(f"--board {unknown[0]}: no such board in {self.reader.label} "
                           f"(boards: {', '.join(sorted(known, key=id_order)[:20]) or 'none'})",
                           exit_code=ExitCode.USAGE)

    def _selected(self, company: CompanyRecords) -> list[str]:
        known = set(company.boards) | set(company.card_counts)
        wanted = [str(board) for board in self.options.boards]
        self._check_boards(known)
        return sorted(wanted or known, key=id_order)

    def _page(self, rel: str, template: str, **context: Any) -> None:
        depth = rel.count("/")
        root = "../" * depth
        company = self.reader.manifest.source.company_name or f"company {self.reader.manifest.source.company_id}"
        html = self.render.page(template, root=root, company=company, exported=when(self.reader.manifest.completed_at),
                                **context)
        self.writer.write(rel, html)
        self.summary.pages += 1

    def _in_site(self, card_id: str) -> bool:
        raw = self.index.card(card_id)
        return raw is not None and str(raw.get("board_id")) in self.selected

    def _relation(self, card_id: str) -> tuple[str, str] | None:
        raw = self.index.card(card_id)
        if raw is None:
            return None
        title = raw.get("title") if isinstance(raw.get("title"), str) else f"card {card_id}"
        if str(raw.get("board_id")) not in self.selected:
            return None
        return paths.href(paths.card_path("x"), paths.card_path(card_id)), title

    def _files(self, records: list[dict[str, Any]], page: str) -> list[FileView]:
        views = []
        for record in records:
            raw = record.get("raw") if isinstance(record.get("raw"), dict) else {}
            name = raw.get("name") if isinstance(raw.get("name"), str) else f"file {record.get('id')}"
            status = str(record.get("status") or "")
            blob = record.get("blob") if isinstance(record.get("blob"), dict) else None
            target, note = None, {"external": "a cloud-drive link, not downloadable",
                                  "skipped": "not downloaded by the export (--no-files)",
                                  "missing": "could not be downloaded by the export (see Missing)"}.get(status, "")
            if status == "stored" and blob and self.mode != "none":
                target = self._place(blob.get("sha256"), name)
                if target is None:
                    note = "the blob is not in the archive"
            elif status == "stored":
                note = "not in this site (--no-files)"
            if target is None:
                self.summary.files_unavailable += 1
            mime = raw.get("mime_type") if isinstance(raw.get("mime_type"), str) else ""
            size = blob.get("size") if blob else raw.get("size")
            url = raw.get("url") if isinstance(raw.get("url"), str) else ""
            external = url if status == "external" else ""
            views.append(FileView(
                id=str(record.get("id")), name=name, size=human_bytes(int(size)) if str(size).isdigit() else "",
                mime=mime, href=paths.href(page, target) if target else (external or None),
                download=paths.safe_file_name(name), image=bool(target) and mime.lower() in IMAGE_TYPES,
                status=status, note=note, author=self.lookups.person(raw.get("author_id"), raw.get("author")),
                created=when(raw.get("created")),
                comment_id=str(raw["comment_id"]) if raw.get("comment_id") is not None else None, url=url))
        return views

    def _place(self, sha256: object, name: str) -> str | None:
        """The site path of a stored file's bytes: linked into the archive or copied."""
        if not isinstance(sha256, str):
            return None
        try:
            rel = blob_path(sha256)
        except K2PError:
            return None
        if not self.reader.container.has(rel):
            return None
        if self.mode == "link" and not self._active(rel, name):
            self.summary.files_linked += 1
            return os.path.relpath(self.options.archive.resolve() / rel, self.writer.root)
        stored = paths.safe_file_name(name)
        if stored.rpartition(".")[2].lower() in ACTIVE_EXTENSIONS:
            stored += ".download"          # never opened as a page or image with script from the site
        target = f"files/{sha256[:2]}/{sha256}/{stored}"
        if not self.writer.target(target).exists():
            with self.reader.open_blob(sha256) as handle:
                self.writer.copy_stream(target, handle)
        self.summary.files_copied += 1
        return target

    def _active(self, rel: str, name: str) -> bool:
        """Whether a browser could open the bytes as a page or a scriptable image: by name, or by
        content (a blob has no extension, so Chromium sniffs markup from its first bytes). Those
        are copied under a ``.download`` name even when the other files are linked."""
        if paths.safe_file_name(name).rpartition(".")[2].lower() in ACTIVE_EXTENSIONS:
            return True
        with self.reader.container.open(rel) as handle:
            head = handle.read(1024)
        return head.lstrip(b"\xef\xbb\xbf\xfe\xff\x00 \t\r\n\x0c").startswith(b"<")

    # --- boards and cards ----------------------------------------------------------------------
    def _board(self, board_id: str) -> None:
        records = self.index.board(board_id)
        unique: dict[str, dict[str, Any]] = {}
        for card in records.cards:
            unique.setdefault(str(card.get("id")), card)
        cards = list(unique.values())
        archived_ids = {str(card.get("id")) for card in cards
                        if card.get("condition") == 2 or card.get("archived") is True}
        live = [card for card in cards if str(card.get("id")) not in archived_ids]
        archived = [card for card in cards if str(card.get("id")) in archived_ids]
        board_raw = (self.company.boards.get(board_id) or {}).get("raw") or {}
        title = board_raw.get("title") if isinstance(board_raw.get("title"), str) else None
        title = title or next((card["board"].get("title") for card in cards if isinstance(card.get("board"), dict)),
                              None) or f"board {board_id}"
        grid, cells = layout(board_id, self.company, live)
        page = paths.board_path(board_id)
        tiles = {}
        for card in sorted(cards, key=card_order):
            tiles[str(card.get("id"))] = tile(card, self.lookups, paths.href(page, paths.card_path(card.get("id"))))
        for card in sorted(live, key=card_order):
            row, column = cells[str(card.get("id"))]
            grid.lanes[row]["cells"][column].append(tiles[str(card.get("id"))])
        board = {"id": board_id, "title": title, "description": board_raw.get("description") or "",
                 "live": len(live), "archived": len(archived), "list_href": paths.href(page, paths.board_path(board_id, view="list")),
                 "board_href": paths.href(page, page), "spaces": self._spaces_of(board_id)}
        archived_tiles = [tiles[str(card.get("id"))] for card in sorted(archived, key=card_order)]
        self._page(page, "board.html", board=board, grid=grid, archived=archived_tiles)
        list_page = paths.board_path(board_id, view="list")
        rows = [dict(tiles[str(card.get("id"))], href=paths.href(list_page, paths.card_path(card.get("id"))))
                for card in sorted(cards, key=lambda c: (str(c.get("id")) in archived_ids, grid_position(cells, c),
                                                         card_order(c)))]
        self._page(list_page, "board_list.html", board=dict(board, board_href=paths.href(list_page, page)), rows=rows)
        missing = {**self.company.missing_by_id(), **records.missing}
        for card in cards:
            self._card(card, records, board, missing)
        self.summary.boards += 1
        self.summary.archived_cards += len(archived)

    def _spaces_of(self, board_id: str) -> list[str]:
        names = []
        for binding in self.company.space_boards:
            ref = binding.get("ref") or {}
            if str(ref.get("board_id")) == board_id:
                space = (self.company.spaces.get(str(ref.get("space_id"))) or {}).get("raw") or {}
                names.append(space.get("title") if isinstance(space.get("title"), str) else f"space {ref.get('space_id')}")
        return names

    def _card(self, card: dict[str, Any], records: BoardRecords, board: dict[str, Any], missing: dict[str, Any]) -> None:
        card_id = str(card.get("id"))
        page = paths.card_path(card_id)
        files = self._files(records.files.get(card_id, []), page)
        view = card_page(card, records, self.lookups, files=files, relation=self._relation, missing=missing)
        board_link = {"title": board["title"], "href": paths.href(page, paths.board_path(board["id"])),
                      "list_href": paths.href(page, paths.board_path(board["id"], view="list"))}
        self._page(page, "card.html", card=view, board=board_link)
        where = f"{board['title']} · {view['column']}"
        description = card.get("description") if isinstance(card.get("description"), str) else ""
        self.search.add("card", view["title"], page, where, description)
        for record in records.comments.get(card_id, []):
            raw = record.get("raw") if isinstance(record.get("raw"), dict) else {}
            text = raw.get("text") if isinstance(raw.get("text"), str) else ""
            if raw.get("type") == 2:
                text = html_to_markdown(text[:200_000])
            author = self.lookups.person(raw.get("author_id"), raw.get("author"))
            self.search.add("comment", f"{author}: {view['title']}", f"{page}#comment-{paths.page_token(record.get('id'))}",
                            f"{where} · {when(raw.get('created'))}", text)
            self.summary.comments += 1
        for item in files:
            self.search.add("file", item.name, f"{page}#{item.anchor}", f"{where} · {view['title']}",
                            item.name)
        self.summary.cards += 1
        self.progress("card", 1)

    # --- documents -----------------------------------------------------------------------------
    def _documents(self) -> list[dict[str, Any]]:
        """Pages for the ``documents`` collection when the archive holds one (title, tree place)."""
        if not self.reader.has_collection(DOCUMENTS):
            return []
        listed = []
        card_link = self._document_card_link
        for record in self.reader.iter_records(DOCUMENTS):
            raw = record.get("raw") if isinstance(record.get("raw"), dict) else {}
            doc_id = str(record.get("id"))
            page = paths.document_path(doc_id)
            title = raw.get("title") if isinstance(raw.get("title"), str) and raw.get("title") else f"document {doc_id}"
            body = document_html(raw.get("data"), card_link=card_link)
            self._page(page, "document.html", document={
                "title": title, "html": body, "created": when(raw.get("created")), "updated": when(raw.get("updated")),
                "author": self.lookups.person(raw.get("author_id"), raw.get("author"))})
            self.search.add("document", title, page, "Documents", document_text(raw.get("data")))
            listed.append({"id": doc_id, "uid": str(raw.get("uid") or doc_id), "title": title, "page": page,
                           "parent": raw.get("parent_entity_uid"), "sort_order": raw.get("sort_order")})
            self.summary.documents += 1
        return listed

    def _document_card_link(self, card_id: str) -> tuple[str, str] | None:
        found = self._relation(card_id)
        if found is None:
            return None
        return paths.href(paths.document_path("x"), paths.card_path(card_id)), found[1]


def grid_position(cells: dict[str, tuple[int, int]], card: dict[str, Any]) -> tuple[int, int]:
    return cells.get(str(card.get("id")), (1 << 30, 1 << 30))[::-1]


def build_site(options: BrowseOptions, on_progress: Progress | None = None) -> BrowseSummary:
    """Write the static site of ``options.archive`` into ``options.out``."""
    return SiteBuilder(options, on_progress).run()
