"""Documents (Kaiten's wiki): the tree, document groups, documents and the files they show.

Routes (research §4.21, §2.1): ``GET /tree-entities`` (offset, 500 per page) gives the tree and
the totals (``expected``); ``GET /document-groups`` and ``GET /documents`` list the nodes — version 1
as bare arrays paged by offset, and where a company answers version 1 with 400/404/405 the newer
generation ``version=2`` (``{"result", "position"}`` continued with ``start_position``); every
listed document is then fetched alone (``GET /documents/{uid}``), because only that answer holds
``data``. ``data`` — a ProseMirror document that arrives as a JSON-encoded *string* — stays in
``raw`` exactly as received; k2p reads it only to find the cards it links (``card_ids`` on the
record) and the images and files it shows, which are downloaded like card files into
``document_files``. 402/403/404 on a list becomes one ``missing`` entry for the collection; on one
document, an entry for that document.

Scope: a full export takes every document the token sees; ``--space`` those below the chosen
spaces; a ``--board``-only export none (coverage ``out_of_scope``).
"""

from __future__ import annotations

import itertools
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Iterator

from k2p import jsoncodec
from k2p.archive import collections as C
from k2p.errors import RemoteError
from k2p.kaiten.client import KaitenHTTPError
from k2p.kaiten.context import CrawlContext, UnitOutput, missing_from_error
from k2p.kaiten.files import FileFetcher

TREE_PAGE = 500
LIST_PAGE = 100
OLD_GENERATION = (400, 404, 405)       # version 1 is gone: use version=2
MAX_NODES = 200_000                    # ProseMirror nodes walked per document
MAX_DEPTH = 1_000
CARD_LINKS = {"block_card_link", "inline_card_link", "card_link"}
FILE_NODES = {"image": ("src", "url"), "file": ("url", "src"), "attachment": ("url", "src")}


def _kind(name: Any) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", str(name or "")).lower()


def references(data: Any) -> tuple[list[str], list[dict[str, Any]]]:
    """The card ids a ProseMirror body links and the file nodes' attributes, in document order.

    ``data`` is the raw value (a JSON string, or an object); anything else yields nothing. The walk
    is iterative and bounded (:data:`MAX_NODES`, :data:`MAX_DEPTH`).
    """
    if isinstance(data, str):
        try:
            data = jsoncodec.loads(data.encode("utf-8"))
        except (ValueError, RecursionError):
            return [], []
    cards: list[str] = []
    files: list[dict[str, Any]] = []
    stack: list[tuple[Any, int]] = [(data, 0)]
    walked = 0
    while stack and walked < MAX_NODES:
        node, depth = stack.pop()
        walked += 1
        if not isinstance(node, dict) or depth > MAX_DEPTH:
            continue
        kind = _kind(node.get("type"))
        attrs = node.get("attrs") if isinstance(node.get("attrs"), dict) else {}
        if kind in CARD_LINKS:
            ident = next((attrs[key] for key in ("card_id", "cardId", "id")
                          if isinstance(attrs.get(key), (int, str)) and not isinstance(attrs.get(key), bool)
                          and str(attrs.get(key)).strip()), None)
            if ident is not None and str(ident) not in cards:
                cards.append(str(ident).strip())
        if kind in FILE_NODES and any(isinstance(attrs.get(key), str) and attrs.get(key) for key in FILE_NODES[kind]):
            files.append({"node": kind, **attrs})
        content = node.get("content")
        if isinstance(content, list):
            stack.extend((child, depth + 1) for child in reversed(content))
    return cards, files


def file_url(attrs: dict[str, Any]) -> str | None:
    for key in FILE_NODES.get(str(attrs.get("node")), ("url", "src")):
        value = attrs.get(key)
        if isinstance(value, str) and value:
            return value
    return None


class DocumentExporter:
    def __init__(self, ctx: CrawlContext, fetcher: FileFetcher, carrier: Any = None) -> None:
        self.ctx = ctx
        self.client = ctx.client
        self.fetcher = fetcher
        self.carrier = carrier     # k2p.kaiten.delta.carry.CardCarrier of an incremental export

    # --- listings --------------------------------------------------------------------------
    def _cursor(self, path: str) -> Iterator[Any]:
        """``version=2``: ``{"result": [...], "position": cursor}`` until the cursor runs out."""
        position: str | None = None
        seen: set[str] = set()
        for pages in itertools.count(1):
            params: dict[str, Any] = {"version": 2, "limit": LIST_PAGE}
            if position:
                params["start_position"] = position
            page = self.client.get_json(path, params, salvage=True)
            if not isinstance(page, dict) or not isinstance(page.get("result"), list):
                raise RemoteError(f"GET {path}?version=2 did not answer {{result, position}}")
            yield from page["result"]
            following = page.get("position")
            if not page["result"] or following in (None, "") or str(following) in seen:
                return
            if pages >= self.client.max_pages:
                raise RemoteError(f"GET {path}?version=2: more than {self.client.max_pages} pages; "
                                  f"stopping a list that does not end (limit in docs/SECURITY.md)")
            seen.add(str(following))
            position = str(following)

    def listing(self, collection: C.Collection, path: str, out: UnitOutput) -> list[dict[str, Any]] | None:
        try:
            try:
                items = list(self.client.paginate(path, page_size=LIST_PAGE))
                out.meta[f"generation:{collection.name}"] = 1
            except KaitenHTTPError as error:
                if error.status not in OLD_GENERATION:
                    raise
                items = list(self._cursor(path))
                out.meta[f"generation:{collection.name}"] = 2
        except KaitenHTTPError as error:
            self.ctx.unavailable(collection, error)
            return None
        return self.ctx.usable(collection, items)

    # --- the unit --------------------------------------------------------------------------
    def run(self, out: UnitOutput) -> None:
        ctx = self.ctx
        for collection in (C.TREE_ENTITIES, C.DOCUMENT_GROUPS, C.DOCUMENTS, C.DOCUMENT_FILES):
            ctx.open(collection)
        if not ctx.options.full_scope and not ctx.options.spaces:
            return   # a --board export holds no documents (coverage: out_of_scope)
        tree = self._tree(out)
        keep = self._in_scope(tree)
        groups = self.listing(C.DOCUMENT_GROUPS, "/document-groups", out)
        for group in sorted(groups or [], key=_uid):
            if keep(group):
                ctx.write(C.DOCUMENT_GROUPS, _uid(group), group,
                          ref=_parent_ref(group))
        documents = self.listing(C.DOCUMENTS, "/documents", out)
        listed = sorted((doc for doc in documents or [] if keep(doc)), key=_uid)
        if tree is not None:
            nodes = [node for node in tree.values() if keep(node)]
            out.counters["expected:documents"] += sum(1 for node in nodes if node.get("entity_type") == "document")
            out.counters["expected:document_groups"] += sum(
                1 for node in nodes if node.get("entity_type") == "document_group")
        workers = max(1, ctx.options.concurrency)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="document") as pool:
            for uid, answer in zip([_uid(doc) for doc in listed], pool.map(self._fetch, listed)):
                self._write(out, uid, answer)

    def _tree(self, out: UnitOutput) -> dict[str, dict[str, Any]] | None:
        try:
            nodes = list(self.client.paginate("/tree-entities", page_size=TREE_PAGE))
        except KaitenHTTPError as error:
            self.ctx.unavailable(C.TREE_ENTITIES, error)
            return None
        rows = {_uid(node): node for node in self.ctx.usable(C.TREE_ENTITIES, nodes)}
        out.meta["space_uids"] = {str(node.get("id")): uid for uid, node in rows.items()
                                  if node.get("entity_type") == "space" and node.get("id") is not None}
        for uid in sorted(rows):
            self.ctx.write(C.TREE_ENTITIES, uid, rows[uid], ref=_parent_ref(rows[uid]))
        return rows

    def _in_scope(self, tree: dict[str, dict[str, Any]] | None) -> Callable[[dict[str, Any]], bool]:
        options = self.ctx.options
        if options.full_scope:
            return lambda node: True
        scoped = {str(space_id) for space_id in self.ctx.journal.get("scoped_space_ids") or []}
        chosen = {uid for uid, node in (tree or {}).items()
                  if node.get("entity_type") == "space" and str(node.get("id")) in scoped}
        parents = {uid: node.get("parent_entity_uid") for uid, node in (tree or {}).items()}

        def below(node: dict[str, Any]) -> bool:
            parent, hops = node.get("parent_entity_uid"), 0
            while parent and hops < MAX_DEPTH:
                if str(parent) in chosen:
                    return True
                parent, hops = parents.get(str(parent)), hops + 1
            return False
        return below

    def _fetch(self, listed: dict[str, Any]) -> tuple[dict[str, Any] | None, Any]:
        uid = _uid(listed)
        try:
            document = self.client.get_json(f"/documents/{uid}")
        except KaitenHTTPError as error:
            return None, error
        if not isinstance(document, dict):
            return None, RemoteError(f"GET /documents/{uid} did not answer an object")
        _, files = references(document.get("data"))
        outcomes = [(attrs, self._file(attrs)) for attrs in files]
        return document, outcomes

    def _file(self, attrs: dict[str, Any]) -> Any:
        url = file_url(attrs)
        if self.carrier is not None and url:
            carried = self.carrier.document_file(url, attrs.get("size"))
            if carried is not None:
                return carried
        return self.fetcher.fetch({"type": None, "url": url, "name": attrs.get("name"),
                                   "size": attrs.get("size") if isinstance(attrs.get("size"), int) else None})

    def _write(self, out: UnitOutput, uid: str, answer: tuple[dict[str, Any] | None, Any]) -> None:
        ctx = self.ctx
        document, outcomes = answer
        ref = {"document_uid": uid}
        if document is None:
            if isinstance(outcomes, KaitenHTTPError):
                ctx.writer.add_missing(missing_from_error("document", uid, outcomes, ref=ref,
                                                          detail_prefix="listed, but "))
            else:
                ctx.missing("document", uid, "http_error", detail=str(outcomes), ref=ref)
            return
        card_ids, _ = references(document.get("data"))
        ctx.write(C.DOCUMENTS, uid, document, ref=_parent_ref(document), card_ids=card_ids)
        for number, (attrs, outcome) in enumerate(outcomes):
            blob = {"sha256": outcome.blob.sha256, "size": outcome.blob.size} if outcome.blob else None
            ident = f"{uid}:{number}"
            ctx.write(C.DOCUMENT_FILES, ident, attrs, ref=ref, status=outcome.status, blob=blob)
            if outcome.blob is not None:
                out.stored_files.append((f"document_file:{ident}", outcome.blob.sha256, outcome.blob.size))
            elif outcome.status == "missing":
                ctx.missing("document_file", ident, outcome.reason or "download_failed",
                            http_status=outcome.http_status, detail=outcome.detail, ref=ref,
                            name=attrs.get("name") or attrs.get("alt"))


def _uid(node: dict[str, Any]) -> str:
    return str(node.get("uid") or node.get("id"))


def _parent_ref(node: dict[str, Any]) -> dict[str, str] | None:
    parent = node.get("parent_entity_uid")
    return {"parent_uid": str(parent)} if parent else None
