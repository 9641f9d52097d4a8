"""Cards in batches: the full single-card payload, then only the sub-lists it does not embed.

The single-card payload already embeds checklists with items, members, tags, files of both
generations, blockers, relations and external links, so none of those routes is called. Comments,
time logs and location history are fetched only when the card's counters say they exist.
Workers fetch in parallel; records are written afterwards in card-id order (deterministic output).

In an incremental export a :class:`~k2p.kaiten.delta.carry.CardCarrier` names the parts of each
card to read again; every other part (payload, sub-list, file blob) comes from PREVIOUS and takes
the same path to the archive as a fetched one.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from k2p.archive import collections as C
from k2p.archive.blobs import BlobRef
from k2p.kaiten.client import KaitenHTTPError
from k2p.kaiten.context import CrawlContext, UnitOutput, missing_from_error
from k2p.kaiten.extras import counts
from k2p.kaiten.extras.card_lists import card_lists
from k2p.kaiten.files import FileFetcher, FileOutcome, file_key

if TYPE_CHECKING:
    from k2p.kaiten.delta.carry import CardCarrier


@dataclass(frozen=True)
class SubList:
    """A per-card route, fetched only when ``needed(card)`` is true."""

    collection: C.Collection
    route: str

    def needed(self, card: dict[str, Any]) -> bool:
        counter = {"comments": "comments_total", "time_logs": "time_spent_sum"}.get(self.collection.name)
        if counter is not None:
            return card.get(counter) != 0   # absent counter: fetch to be safe
        return card.get("last_moved_at", "unknown") is not None  # never moved: no history

    def fetch(self, client: Any, card_id: str) -> Any:
        return client.get_json(f"/cards/{card_id}/{self.route}")


SUB_LISTS = (SubList(C.COMMENTS, "comments"), SubList(C.TIME_LOGS, "time-logs"),
             SubList(C.LOCATION_HISTORY, "location-history"))
SUB_LIST_NAMES = frozenset(sub.collection.name for sub in SUB_LISTS)


@dataclass
class CardResult:
    card_id: str
    card: dict[str, Any] | None = None
    lists: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    files: list[tuple[dict[str, Any], Future[FileOutcome]]] = field(default_factory=list)
    missing: list[dict[str, Any]] = field(default_factory=list)
    carried: set[str] = field(default_factory=set)   # collections taken over from PREVIOUS


class CardBatchExporter:
    """Fetches batches of cards with worker pools shared across batches.

    File downloads run in their own pool: a worker streaming bytes from storage would otherwise
    leave part of the API request budget unused.
    """

    def __init__(self, ctx: CrawlContext, fetcher: FileFetcher, carrier: "CardCarrier | None" = None) -> None:
        self.ctx = ctx
        self.fetcher = fetcher
        self.carrier = carrier
        self.pool = ThreadPoolExecutor(max_workers=ctx.options.concurrency, thread_name_prefix="card")
        self.downloads = ThreadPoolExecutor(max_workers=ctx.options.concurrency, thread_name_prefix="file")
        # Files stored by earlier units (also of an interrupted run) are never downloaded again.
        self.known_files: dict[str, tuple[str, int]] = ctx.journal.stored_files()
        # The digest of each card's list item goes into its record (compared by the next --since);
        # read per card from the journal (every listing unit committed before the card batches).
        self.listed = ctx.journal.card_digest
        self.sub_lists = SUB_LISTS + card_lists(ctx.options)   # extras: SLA, --with-activity, …

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.downloads.shutdown(wait=False, cancel_futures=True)

    def export_batch(self, out: UnitOutput, card_ids: list[str]) -> None:
        for collection in (C.CARDS, C.COMMENTS, C.TIME_LOGS, C.LOCATION_HISTORY, C.FILES,
                           *(sub.collection for sub in self.sub_lists)):
            self.ctx.open(collection)
        for result in self.pool.map(self._fetch, card_ids):
            self._write(out, result)
            self.ctx.on_progress("card", 1)
        if self.carrier is not None:
            self.carrier.sync()

    # --- worker side -----------------------------------------------------------------------
    def _fetch(self, card_id: str) -> CardResult:
        result = CardResult(card_id)
        carrier = self.carrier
        reread = carrier.parts(card_id) if carrier is not None else None
        card = carrier.card(card_id) if reread is not None and C.CARDS.name not in reread else None
        if card is not None:
            result.carried.add(C.CARDS.name)
        else:
            try:
                card = self.ctx.client.get_json(f"/cards/{card_id}", {"broken_api": "false"})
            except KaitenHTTPError as error:
                result.missing.append(missing_from_error("card", card_id, error, ref={"card_id": card_id},
                                                         detail_prefix="listed on its board, but "))
                return result
        result.card = card
        for sub in self.sub_lists:
            name = sub.collection.name
            # Carried over: a base sub-list the delta plan does not re-read, and an extra one
            # (SLA, activity, baselines) only when nothing of the card is read again.
            if carrier is not None and reread is not None and (
                    name not in reread if name in SUB_LIST_NAMES else not reread):
                items = carrier.sub_list(card_id, name)
                if items or sub.needed(card):
                    result.lists[name] = items
                    result.carried.add(name)
            elif sub.needed(card):
                result.lists[name] = self._sub_list(result, card_id, sub)
        for file in card.get("files") or []:
            result.files.append((file, self.downloads.submit(self._file, file)))
        return result

    def _sub_list(self, result: CardResult, card_id: str, sub: SubList) -> list[dict[str, Any]]:
        if self.ctx.route_disabled(sub.route):
            return []
        try:
            items = sub.fetch(self.ctx.client, card_id)
        except KaitenHTTPError as error:
            if error.status in (402, 403, 405):
                # A tariff or permission limit applies to every card: report it once.
                if self.ctx.disable_route(sub.route, error.reason):
                    result.missing.append(missing_from_error("collection", sub.collection.name, error,
                                                             collection=sub.collection.name))
            else:
                result.missing.append(missing_from_error(sub.collection.kind, card_id, error,
                                                         ref={"card_id": card_id},
                                                         collection=sub.collection.name))
            return []
        return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []

    def _file(self, file: dict[str, Any]) -> FileOutcome:
        known = self.known_files.get(file_key(file))
        if known is not None:
            return FileOutcome("stored", blob=BlobRef(*known))
        if self.carrier is not None:
            carried = self.carrier.file(file)
            if carried is not None:
                return carried
        return self.fetcher.fetch(file)

    # --- writer side (orchestrating thread) ------------------------------------------------
    def _write(self, out: UnitOutput, result: CardResult) -> None:
        for entry in result.missing:
            self.ctx.writer.add_missing(entry)
        card = result.card
        if card is None:
            return
        listed = self.listed(result.card_id)
        self.ctx.write(C.CARDS, result.card_id, card, ref={"board_id": str(card.get("board_id"))},
                       **({"list_sha256": listed} if listed else {}))
        self._count(out, result, C.CARDS.name, 1)
        for sub in self.sub_lists:
            items = result.lists.get(sub.collection.name, [])
            for item in items:
                self.ctx.write(sub.collection, item.get("id"), item, ref=card_ref(result))
            self._count(out, result, sub.collection.name, len(items))
        self._check_comment_count(card, result)
        counts.check_card(self.ctx, out, result.card_id, card, result.lists)
        for tag in card.get("tags") or []:
            tag_id = tag.get("tag_id", tag.get("id"))
            if tag_id is not None:
                out.card_tags.append((str(tag_id), tag))
        for file, pending in result.files:
            outcome = pending.result()
            self._write_file(out, result.card_id, file, outcome)
            self._count(out, result, C.FILES.name, 1)
            if outcome.carried:
                out.counters["carried:blobs"] += 1

    def _count(self, out: UnitOutput, result: CardResult, collection: str, records: int) -> None:
        """Records carried over or read again, per collection (the chain in the manifest)."""
        if self.carrier is not None and records:
            carried = C.CARDS.name if collection == C.FILES.name else collection
            side = "carried" if carried in result.carried else "reread"
            out.counters[f"{side}:{collection}"] += records

    def _check_comment_count(self, card: dict[str, Any], result: CardResult) -> None:
        """Compare the card's ``comments_total`` with the live comments actually received."""
        announced = card.get("comments_total")
        if not isinstance(announced, int) or self.ctx.route_disabled("comments"):
            return
        received = sum(1 for comment in result.lists.get("comments", []) if not comment.get("deleted"))
        if received < announced:
            self.ctx.missing("comments", result.card_id, "count_mismatch", ref=card_ref(result),
                             detail=f"the card announces {announced} comments, "
                                    f"GET /cards/{result.card_id}/comments returned {received}")

    def _write_file(self, out: UnitOutput, card_id: str, file: dict[str, Any], outcome: FileOutcome) -> None:
        blob = {"sha256": outcome.blob.sha256, "size": outcome.blob.size} if outcome.blob else None
        self.ctx.write(C.FILES, file.get("id"), file, ref={"card_id": card_id}, status=outcome.status,
                       blob=blob)
        if outcome.blob is not None:
            key = file_key(file)
            self.known_files[key] = (outcome.blob.sha256, outcome.blob.size)
            out.stored_files.append((key, outcome.blob.sha256, outcome.blob.size))
        elif outcome.status == "missing":
            self.ctx.missing("file", file.get("id"), outcome.reason or "download_failed",
                             http_status=outcome.http_status, detail=outcome.detail,
                             ref={"card_id": card_id}, name=file.get("name"))



def card_ref(result: CardResult) -> dict[str, str]:
    return {"card_id": result.card_id}
