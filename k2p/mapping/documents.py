"""Kaiten documents → one ``Documents`` board per space (``mapping.toml``: ``documents = "board"``).

A document hangs in the tree through ``parent_entity_uid``: below document groups, below a space,
or at the company root. Each space's documents become cards of one board named
``documents_board_name`` in that space's project (documents outside every space: a project named
``documents_project_name``); each document group becomes a list (nested groups: ``Group / Sub``,
documents directly below the space: the list ``documents_root_list``). A card's description is
the document's ProseMirror body as Markdown (:mod:`k2p.mapping.prosemirror`), its images and files
stored in the archive are attachments (the first image is the cover), and links to Kaiten cards
point at the Planka cards they were imported as (``card_link``), else stay text.

Keys: ``project:<space id>`` (the space's project, shared with its boards) or
``project:documents``; ``board:documents:<space id|company>``;
``list:documents:<space>:group:<uid>`` / ``…:root``; ``card:document:<uid>``;
``attachment:document:<uid>:file:<n>``.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from k2p.archive import collections as C
from k2p.archive.index import CompanyRecords
from k2p.archive.reader import ArchiveReader
from k2p.mapping.members import MemberPlan, board_members, space_roles_of
from k2p.mapping.model import AttachmentPlan, BoardPlan, CardPlan, Fidelity, ListPlan
from k2p.mapping.ordering import id_order
from k2p.mapping.projects import project_name, project_type
from k2p.mapping.prosemirror import CardLink, prosemirror_to_markdown
from k2p.mapping.rules import MappingRules
from k2p.mapping.text import NAME_MAX, clean, fit_text, plain_name, shorten, shorten_filename

CARD_NAME_MAX = 1024
MAX_TREE_HOPS = 256
Record = dict[str, Any]


@dataclass
class DocumentRecords:
    """The documents part of an archive (small: read whole)."""

    documents: dict[str, Record] = field(default_factory=dict)      # uid → record
    groups: dict[str, Record] = field(default_factory=dict)         # uid → record
    tree: dict[str, Record] = field(default_factory=dict)           # uid → tree entity raw
    files: dict[str, list[Record]] = field(default_factory=dict)    # document uid → document_files


def load_documents(reader: ArchiveReader) -> DocumentRecords:
    out = DocumentRecords()
    for name, target in ((C.DOCUMENTS.name, out.documents), (C.DOCUMENT_GROUPS.name, out.groups)):
        if reader.has_collection(name):
            for record in reader.iter_records(name):
                target[str(record["id"])] = record
    if reader.has_collection(C.TREE_ENTITIES.name):
        out.tree = {str(record["id"]): record["raw"] for record in reader.iter_records(C.TREE_ENTITIES.name)}
    if reader.has_collection(C.DOCUMENT_FILES.name):
        for record in reader.iter_records(C.DOCUMENT_FILES.name):
            out.files.setdefault(str((record.get("ref") or {}).get("document_uid")), []).append(record)
    return out


@dataclass
class DocumentsBoard:
    """One Documents board and the project it belongs to."""

    project_key: str
    project_name: str
    project_type: str
    space_id: str | None
    board: BoardPlan


def _position(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0


class _Planner:
    def __init__(self, docs: DocumentRecords, company: CompanyRecords, rules: MappingRules,
                 fidelity: Fidelity, card_link: CardLink, planka_ids: dict[str, str]) -> None:
        self.docs, self.company, self.rules, self.fidelity = docs, company, rules, fidelity
        self.card_link, self.planka_ids = card_link, planka_ids
        self.space_by_uid = {str((record.get("raw") or {}).get("uid")): key for key, record in company.spaces.items()}

    def parent_of(self, uid: str) -> str | None:
        for source in (self.docs.groups.get(uid, {}).get("raw"), self.docs.documents.get(uid, {}).get("raw"),
                       self.docs.tree.get(uid)):
            if isinstance(source, dict):
                parent = source.get("parent_entity_uid")
                return str(parent) if parent else None
        return None

    def home(self, uid: str) -> tuple[str | None, list[str]]:
        """The space a node lives in (None: the company root) and the group chain below it."""
        groups: list[str] = []
        parent, hops = self.parent_of(uid), 0
        while parent and hops < MAX_TREE_HOPS:
            if parent in self.space_by_uid:
                return self.space_by_uid[parent], groups[::-1]
            if parent in self.docs.groups or (self.docs.tree.get(parent) or {}).get("entity_type") == "document_group":
                groups.append(parent)
            parent, hops = self.parent_of(parent), hops + 1
        return None, groups[::-1]

    def group_title(self, uid: str) -> str:
        raw = (self.docs.groups.get(uid) or {}).get("raw") or self.docs.tree.get(uid) or {}
        return plain_name(clean(str(raw.get("title") or ""))).strip() or self.rules.word("placeholder_name")

    def plan(self) -> list[DocumentsBoard]:
        placed: dict[str | None, list[tuple[list[str], Record]]] = {}
        for uid in sorted(self.docs.documents):
            space_id, groups = self.home(uid)
            if space_id is not None and space_id not in self.company.spaces:
                space_id = None
            placed.setdefault(space_id, []).append((groups, self.docs.documents[uid]))
        boards = []
        for space_id in sorted(placed, key=lambda key: (key is None, id_order(key or ""))):
            boards.append(self.board(space_id, placed[space_id]))
        return boards

    def board(self, space_id: str | None, items: list[tuple[list[str], Record]]) -> DocumentsBoard:
        rules = self.rules
        where = space_id or "company"
        lists: dict[str, ListPlan] = {}
        orders: dict[str, tuple[Any, ...]] = {}
        cards: list[tuple[tuple[Any, ...], CardPlan]] = []
        for groups, record in items:
            if groups:
                key = f"list:documents:{where}:group:{groups[-1]}"
                name = shorten(rules.nested_separator.join(self.group_title(uid) for uid in groups), NAME_MAX)
                raws = [(self.docs.groups.get(uid) or {}).get("raw") or self.docs.tree.get(uid) or {} for uid in groups]
                order: tuple[Any, ...] = (1, *[_position(raw.get("sort_order")) for raw in raws])
            else:
                key, name, order = f"list:documents:{where}:root", rules.word("documents_list"), (0,)
            lists.setdefault(key, ListPlan(key, name, "active"))
            orders[key] = order
            raw = record.get("raw") or {}
            cards.append(((order, _position(raw.get("sort_order")), str(record["id"])), self.card(record, key)))
        board_key = f"board:documents:{where}"
        if space_id is not None:
            roles = space_roles_of(self.company, rules, [space_id])
            space_raw = (self.company.spaces[space_id].get("raw") or {})
            project = (f"project:{space_id}", project_name(self.company, space_id, rules, self.fidelity),
                       project_type(space_raw, rules))
        else:
            roles = {str(user_id): "reader" for user_id in {**self.company.company_users, **self.company.users}}
            project = ("project:documents", rules.word("documents_project"), "shared")
        members: list[MemberPlan] = board_members(roles, self.planka_ids, [])
        plan = BoardPlan(key=board_key, name=rules.word("documents_board"), members=members,
                         lists=[lists[key] for key in sorted(lists, key=lambda key: (orders[key], key))],
                         cards=[card for _, card in sorted(cards, key=lambda item: item[0])])
        return DocumentsBoard(*project, space_id=space_id, board=plan)

    def card(self, record: Record, list_key: str) -> CardPlan:
        uid = str(record["id"])
        raw = record.get("raw") or {}
        entity = f"document:{uid}"
        title = plain_name(clean(str(raw.get("title") or ""))).strip()
        if not title:
            self.fidelity.add("renamed", entity, "title", f"empty → {self.rules.word('placeholder_name')!r}")
        name = shorten(title or self.rules.word("placeholder_name"), CARD_NAME_MAX)
        converted = prosemirror_to_markdown(raw.get("data"), card_link=self.card_link,
                                            image_link=lambda attrs: None, file_link=lambda attrs: None)
        for kind, count in sorted(converted.unknown.items()):
            self.fidelity.add("lossy", entity, "data", f"{kind} ×{count} kept as plain text")
        body, cut = fit_text(clean(converted.markdown), budget=self.rules.text_budget_bytes,
                             marker=self.rules.word("truncation_marker"))
        if cut:
            self.fidelity.add("truncated", entity, "description", "the document's Markdown was shortened")
        attachments, cover = self.attachments(uid, entity)
        return CardPlan(key=f"card:document:{uid}", list_key=list_key, name=name, type="story",
                        description=body or None, archived=bool(raw.get("archived")),
                        attachments=attachments, cover_key=cover)

    def attachments(self, uid: str, entity: str) -> tuple[list[AttachmentPlan], str | None]:
        plans: list[AttachmentPlan] = []
        cover = None
        for number, record in enumerate(self.docs.files.get(uid, [])):
            attrs = record.get("raw") or {}
            blob = record.get("blob")
            label = str(attrs.get("name") or attrs.get("alt") or attrs.get("title") or "file").strip() or "file"
            if record.get("status") != "stored" or not isinstance(blob, dict):
                self.fidelity.add("missing_file", entity, "attachments",
                                  f"{label}: {record.get('status')} in the archive, not attached")
                continue
            url = str(attrs.get("src") or attrs.get("url") or "")
            extension = posixpath.splitext(urlsplit(url).path)[1][:12]
            name = label if "." in label or not extension else label + extension
            key = f"attachment:document:{uid}:file:{number}"
            image = attrs.get("node") == "image"
            plans.append(AttachmentPlan(key=key, type="file", name=shorten_filename(plain_name(clean(name)) or "file",
                                                                                     NAME_MAX),
                                        sha256=blob.get("sha256"), size=blob.get("size"), is_image=image))
            if image and cover is None:
                cover = key
        return plans, cover


def plan_documents(docs: DocumentRecords, company: CompanyRecords, rules: MappingRules, fidelity: Fidelity,
                   *, card_link: CardLink, planka_ids: dict[str, str]) -> list[DocumentsBoard]:
    """The Documents boards of an archive (empty when it holds no documents).

    ``card_link(card_id)`` gives ``(url, title)`` of a linked card; ``planka_ids`` maps Kaiten user
    ids to Planka ids (for the boards' members: the space's members, as on its other boards).
    """
    if not docs.documents:
        return []
    return _Planner(docs, company, rules, fidelity, card_link, planka_ids).plan()

