"""Documents (wiki) of the simulated Kaiten company: generation, visibility and routes.

Documents and document groups live in ``company.tree_nodes`` next to the spaces' tree (research
§4.21): no numeric id, ``id`` equals ``uid``, nesting through ``parent_entity_uid`` (a group, a
space or the company root). A document's ``data`` is a ProseMirror document delivered as a
**JSON-encoded string**; it links cards (``block_card_link`` / ``inline_card_link``), shows images
and files stored on the files host, and holds one node type the converter does not know.

Routes, both API generations (research §2.1):

* ``GET /documents`` and ``GET /document-groups`` — version 1: bare arrays paged by
  ``offset``/``limit`` (default 100, max 100); with ``version=2``: ``{"result": [...],
  "position": <cursor or null>}`` continued with ``start_position``. A company created on the
  newer generation (``company.configuration["documents_v1"] = False``) answers 404 to version 1;
  one on a tariff without documents (``documents_tariff = False``) answers 402 to every route.
* ``GET /documents/{uid}`` — the full payload with ``data`` (the lists omit it).
* ``GET /document-groups/{uid}``.

Assumptions (the research leaves them open): a node below a space is visible with that space; a
document with ``access: "by_invite"`` is listed for everyone but its single route answers 403 to a
token that is not a company admin.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

import orjson

from k2p.testing.kaiten.api import Request, fail, page_bounds, route
from k2p.testing.kaiten.compact import read_field
from k2p.testing.kaiten.files import COVER_PNG_SHAPE, FileBlob
from k2p.testing.kaiten.formats import DEFAULT_FILES_ORIGIN, at, opaque_segment, png_bytes, rng_uuid
from k2p.testing.kaiten.views import rewrite_links, user_summary

if TYPE_CHECKING:
    from k2p.testing.kaiten.model import CompanyData as KaitenCompany, TokenInfo

Record = dict[str, Any]
DAY = 24 * 60
LIST_FIELDS = ("uid", "id", "title", "entity_type", "parent_entity_uid", "path", "sort_order", "access",
               "archived", "key", "slug", "public_id", "author_id", "updater_id", "company_id",
               "created", "updated")


# --- generation ---------------------------------------------------------------------------------
def _text(text: str, *marks: Record) -> Record:
    node: Record = {"type": "text", "text": text}
    if marks:
        node["marks"] = list(marks)
    return node


def _para(*content: Record) -> Record:
    return {"type": "paragraph", "content": list(content)}


def _item(*content: Record, checked: bool | None = None) -> Record:
    node: Record = {"type": "list_item", "content": list(content)}
    if checked is not None:
        node["type"] = "task_item"
        node["attrs"] = {"checked": checked}
    return node


def _cell(text: str, header: bool = False) -> Record:
    return {"type": "table_header" if header else "table_cell", "content": [_para(_text(text))]}


def _image(blob: FileBlob, alt: str) -> Record:
    return {"type": "image", "attrs": {"src": f"{DEFAULT_FILES_ORIGIN}/{blob.key}.png", "alt": alt,
                                       "title": None}}


def _file(blob: FileBlob) -> Record:
    extension = blob.name.rsplit(".", 1)[-1]
    return {"type": "file", "attrs": {"url": f"{DEFAULT_FILES_ORIGIN}/{blob.key}.{extension}",
                                      "name": blob.name, "size": blob.size}}


class DocumentBuilder:
    """Adds document groups and documents (with blobs) to a generated company."""

    def __init__(self, co: "KaitenCompany", rng: random.Random) -> None:
        self.co, self.rng = co, rng
        self.marks = co.landmarks
        self.author = self.marks["admin_user"]

    def blob(self, name: str, size: int, kind: str, **flags: bool) -> FileBlob:
        key, seed = rng_uuid(self.rng), self.rng.getrandbits(32)
        if kind == "png":
            size = len(png_bytes(*COVER_PNG_SHAPE, seed))
        blob = FileBlob(key=key, name=name, mime_type="image/png" if kind == "png" else "application/pdf",
                        size=size, content_seed=seed, kind=kind, **flags)
        self.co.blobs[blob.key] = blob
        return blob

    def path_of(self, parent_uid: str | None) -> str:
        parent = self.co.tree_nodes.get(parent_uid or "") or (self.co.space_by_uid(parent_uid) if parent_uid else None)
        base = parent["path"] if parent else str(self.co.company["id"])
        return f"{base}.{opaque_segment(self.rng)}"

    def node(self, title: str, entity_type: str, parent_uid: str | None, position: int, *,
             access: str = "for_everyone", uid: str | None = None) -> Record:
        uid = uid or rng_uuid(self.rng)
        created = -500 * DAY + position * 97
        node = self.co.tree_nodes.get(uid) or {
            "uid": uid, "title": title, "entity_type": entity_type, "parent_entity_uid": parent_uid,
            "path": self.path_of(parent_uid), "sort_order": position + self.rng.random(), "archived": False,
            "access": access, "created": at(created), "updated": at(created + self.rng.randint(0, 30 * DAY))}
        node.update({"id": uid, "author_id": self.author, "updater_id": self.author,
                     "company_id": self.co.company["id"]})
        if entity_type == "document":
            node.update({"key": f"DOC-{position}", "slug": title.lower().replace(" ", "-"),
                         "public_id": None})
        self.co.tree_nodes[uid] = node
        return node

    def document(self, title: str, parent_uid: str | None, position: int, content: list[Record], *,
                 access: str = "for_everyone", uid: str | None = None) -> Record:
        node = self.node(title, "document", parent_uid, position, access=access, uid=uid)
        node["data"] = orjson.dumps({"type": "doc", "content": content}).decode()
        return node

    def run(self) -> None:
        co, marks = self.co, self.marks
        cards = [cid for cid in co.served_card_ids() if read_field(co.cards, cid, "condition") == 1]
        visible = set(co.cards_visible_to("user"))
        linked = [cid for cid in cards if cid in visible][:2]
        hidden = next((cid for cid in cards if cid not in visible), None)
        product = co.spaces[marks["product_space"]]["uid"]
        directors = co.spaces[marks["hidden_space"]]["uid"]
        wiki = marks["document_group_uid"]
        onboarding = next(uid for uid, node in co.tree_nodes.items() if node["entity_type"] == "document")
        diagram = self.blob("architecture.png", 0, "png")
        checklist_pdf = self.blob("release-checklist.pdf", 18_000, "bin")
        gone = self.blob("old-diagram.png", 0, "png", deleted=True)
        notes = self.node("Engineering notes", "document_group", product, 30)["uid"]
        runbooks = self.node("Runbooks", "document_group", notes, 31)["uid"]
        board_minutes = self.node("Minutes", "document_group", directors, 32)["uid"]
        self.document("Onboarding", wiki, 11, [
            {"type": "heading", "attrs": {"level": 1}, "content": [_text("Welcome 👋")]},
            _para(_text("Read the "), _text("handbook", {"type": "link", "attrs": {"href": "https://example.com/hb"}}),
                  _text(" first, then ask "), {"type": "mention", "attrs": {"id": self.author, "label": "Admin"}},
                  _text(".")),
            {"type": "bullet_list", "content": [_item(_para(_text("Get an account"))),
                                                _item(_para(_text("Join "), _text("#general", {"type": "code"})))]},
        ], uid=onboarding)
        release = self.document("Release checklist", runbooks, 33, [
            {"type": "heading", "attrs": {"level": 2}, "content": [_text("Before the release")]},
            {"type": "task_list", "content": [_item(_para(_text("Freeze the branch")), checked=True),
                                              _item(_para(_text("Run the smoke tests")), checked=False)]},
            {"type": "ordered_list", "attrs": {"order": 1}, "content": [
                _item(_para(_text("Tag", {"type": "bold"}), _text(" the release"))),
                _item(_para(_text("Announce it")))]},
            {"type": "table", "content": [
                {"type": "table_row", "content": [_cell("Step", True), _cell("Owner", True)]},
                {"type": "table_row", "content": [_cell("Deploy"), _cell("Ops")]}]},
            {"type": "code_block", "attrs": {"language": "bash"}, "content": [_text("make release\nmake deploy")]},
            {"type": "block_card_link",
             "attrs": {"card_id": linked[0], "title": read_field(co.cards, linked[0], "title")}},
            _para(_text("See also "), {"type": "inline_card_link", "attrs": {"card_id": linked[-1]}}),
            _para(_image(diagram, "Architecture")),
            _para(_file(checklist_pdf)),
        ])
        architecture = self.document("Architecture", notes, 34, [
            {"type": "blockquote", "content": [_para(_text("Keep it simple.", {"type": "italic"}))]},
            {"type": "mermaid_diagram", "attrs": {"source": "graph TD; A-->B"},
             "content": [_text("graph TD; A-->B")]},
            {"type": "horizontal_rule"},
            _para(_image(gone, "Old diagram")),
        ])
        minutes = self.document("Board meeting 2026-09", board_minutes, 35, [
            _para(_text("Confidential minutes.")),
            *([{"type": "block_card_link", "attrs": {"card_id": hidden}}] if hidden else []),
        ])
        salaries = self.document("Salaries 2026", wiki, 36, [_para(_text("Restricted."))], access="by_invite")
        marks.update(documents_uids=[onboarding, release["uid"], architecture["uid"], minutes["uid"],
                                     salaries["uid"]],
                     document_groups_uids=[wiki, notes, runbooks, board_minutes],
                     document_with_links=release["uid"], restricted_document=salaries["uid"],
                     hidden_document=minutes["uid"], document_blobs=[diagram.key, checklist_pdf.key],
                     deleted_document_blob=gone.key)
        co.configuration.setdefault("documents_v1", True)


def build(co: "KaitenCompany") -> None:
    """Documents for ``co`` (own random stream: the rest of the company stays as generated)."""
    DocumentBuilder(co, random.Random(co.seed * 104729 + 12)).run()


# --- visibility -----------------------------------------------------------------------------------
def node_visible(co: "KaitenCompany", node: Record, token: "TokenInfo") -> bool:
    """A tree node is visible unless one of its ancestors is a space the token cannot see."""
    spaces = co.visible_space_ids(token.token)
    parent, hops = node.get("parent_entity_uid"), 0
    while parent and hops < 64:
        space = co.space_by_uid(parent)
        if space is not None:
            return space["id"] in spaces
        above = co.tree_nodes.get(parent)
        parent, hops = (above or {}).get("parent_entity_uid"), hops + 1
    return True


def visible_nodes(co: "KaitenCompany", token: "TokenInfo", entity_type: str) -> list[Record]:
    rows = [node for node in co.tree_nodes.values() if node["entity_type"] == entity_type
            and node_visible(co, node, token)]
    return sorted(rows, key=lambda node: node["created"])


def list_item(co: "KaitenCompany", node: Record) -> Record:
    return {key: node[key] for key in LIST_FIELDS if key in node}


def full_document(co: "KaitenCompany", node: Record) -> Record:
    return {**list_item(co, node), "data": rewrite_links(co, node.get("data")),
            "author": user_summary(co, node["author_id"]), "updater": user_summary(co, node["updater_id"])}


def document_blob_keys(co: "KaitenCompany", token: "TokenInfo") -> dict[str, str]:
    """Ground truth: blob key → ``""`` (served) or the missing reason, for every file the documents
    the token may read refer to."""
    out: dict[str, str] = {}
    for node in readable_documents(co, token):
        for key in co.blobs:
            if key in (node.get("data") or ""):
                out[key] = "not_found" if co.blobs[key].deleted else ""
    return out


def readable_documents(co: "KaitenCompany", token: "TokenInfo") -> list[Record]:
    return [node for node in visible_nodes(co, token, "document")
            if node.get("access") != "by_invite" or token.is_admin]


# --- routes ---------------------------------------------------------------------------------------
def _tariff(req: Request) -> None:
    """``company.configuration["documents_tariff"] = False``: a tariff without documents (402)."""
    if not req.company.configuration.get("documents_tariff", True):
        raise fail(402, "Documents are not available on your tariff plan")


def _listing(req: Request, entity_type: str) -> Any:
    co = req.company
    _tariff(req)
    rows = [list_item(co, node) for node in visible_nodes(co, req.token, entity_type)]
    if req.params.get("version") == "2":
        start = int(req.params.get("start_position") or 0) if (req.params.get("start_position") or "0").isdigit() else 0
        _, limit = page_bounds(req, 100, 100)
        page = rows[start:start + limit]
        following = start + len(page)
        return {"result": page, "position": str(following) if following < len(rows) else None}
    if not co.configuration.get("documents_v1", True):
        raise fail(404, "Use version=2")
    offset, limit = page_bounds(req, 100, 100)
    return rows[offset:offset + limit]


@route("/documents")
def documents(req: Request) -> Any:
    return _listing(req, "document")


@route("/document-groups")
def document_groups(req: Request) -> Any:
    return _listing(req, "document_group")


def _node(req: Request, uid: str, entity_type: str) -> Record:
    _tariff(req)
    node = req.company.tree_nodes.get(uid)
    if node is None or node["entity_type"] != entity_type:
        raise fail(404)
    if not node_visible(req.company, node, req.token):
        raise fail(403)
    return node


@route("/documents/{uid:uuid}")
def one_document(req: Request, uid: str) -> Any:
    node = _node(req, uid, "document")
    if node.get("access") == "by_invite" and not req.token.is_admin:
        raise fail(403, "You do not have access to this document")
    return full_document(req.company, node)


@route("/document-groups/{uid:uuid}")
def one_document_group(req: Request, uid: str) -> Any:
    return list_item(req.company, _node(req, uid, "document_group"))
