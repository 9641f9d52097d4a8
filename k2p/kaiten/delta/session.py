"""One incremental export run: the units the orchestrator adds, and the chain for the manifest."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from k2p.archive import collections as C
from k2p.archive.format import ChainInfo, ChainPrevious
from k2p.errors import Refused
from k2p.kaiten.context import CrawlContext, UnitOutput, id_order
from k2p.kaiten.delta.carry import CardCarrier
from k2p.kaiten.delta.plan import changed_entities, plan_rereads
from k2p.kaiten.delta.previous import ENTITY_COLLECTIONS, PreviousArchive, PreviousIndex, verify_contents
from k2p.kaiten.journal import ExportJournal
from k2p.kaiten.options import ExportOptions

PLAN_KEY = "delta_plan"


class DeltaExport:
    """State of ``--since`` for one run.

    PREVIOUS's full verification and its per-card index are prepared in a background thread while
    the company and structure units wait on Kaiten's rate limit; the plan unit waits for them (and
    stops the export with PREVIOUS's problem, exit 3, when the verification failed).
    """

    def __init__(self, options: ExportOptions, previous: PreviousArchive, work_dir: Path) -> None:
        self.options = options
        self.previous = previous
        self.work_dir = work_dir
        self._index: PreviousIndex | None = None
        self._carrier: CardCarrier | None = None
        self._error: BaseException | None = None
        self._preparing = threading.Thread(target=self._prepare, name="since-index", daemon=True)
        self._preparing.start()

    def _prepare(self) -> None:
        try:
            verify_contents(self.previous.path)
            self._index = PreviousIndex.open_or_build(self.work_dir, self.previous.path)
        except BaseException as error:  # re-raised in the orchestrating thread by ``index``
            self._error = error

    @classmethod
    def start(cls, options: ExportOptions, previous: PreviousArchive, journal: ExportJournal,
              work_dir: Path) -> "DeltaExport":
        """Bind the run to PREVIOUS (checked by :func:`~.previous.check_previous`); a resumed run
        must name the same PREVIOUS."""
        saved = journal.get("since_fingerprint")
        if saved is None:
            journal.put("since_fingerprint", previous.fingerprint)
        elif saved != previous.fingerprint:
            raise Refused(f"{options.out} holds an interrupted export based on another --since archive "
                          f"(fingerprint {saved[:12]}…, now {previous.fingerprint[:12]}…); give the same "
                          f"PREVIOUS, or pass --restart")
        return cls(options, previous, work_dir)

    def close(self) -> None:
        self._preparing.join()
        if self._carrier is not None:
            self._carrier.close()
        if self._index is not None:
            self._index.close()

    @property
    def index(self) -> PreviousIndex:
        self._preparing.join()
        if self._error is not None:
            raise self._error
        assert self._index is not None
        return self._index

    # --- units ----------------------------------------------------------------------------
    def plan(self, ctx: CrawlContext, out: UnitOutput) -> None:
        """Decide what to read again (committed in the journal: a resumed run carries the same)."""
        current = {collection.name: list(ctx.writer.iter_written(collection.name))
                   for collection in ENTITY_COLLECTIONS}
        journal = ctx.journal
        plan = plan_rereads(self.index, _JournalListing(journal), journal.iter_card_ids(),
                            full=self.options.full,
                            refresh_boards={str(board) for board in self.options.refresh_boards},
                            changed=changed_entities(self.index, current), exported=_Exported(journal))
        out.meta[PLAN_KEY] = plan
        out.counters["delta:cards_planned"] += len(plan)

    def carrier(self, ctx: CrawlContext) -> CardCarrier:
        if self._carrier is None:
            self._carrier = CardCarrier(self.previous.path, self.index, ctx.writer.blobs,
                                        ctx.journal.get(PLAN_KEY) or {})
        return self._carrier

    def place_blobs(self, ctx: CrawlContext, out: UnitOutput) -> None:
        """Hard-link (or copy) PREVIOUS's blobs into the new archive before the card batches."""
        self.carrier(ctx).place_all()

    def export_deleted_cards(self, ctx: CrawlContext, out: UnitOutput) -> None:
        """``deleted_cards``: cards of PREVIOUS the listing no longer shows, and those PREVIOUS
        already listed as deleted (with the time they were last seen), in id order."""
        ctx.open(C.DELETED_CARDS)
        listed = _Exported(ctx.journal)
        rows: dict[str, tuple[dict[str, str], str, dict[str, Any], bool]] = {}
        for card_id, board_id, *_ in self.index.card_states():
            if card_id not in listed:
                record = self.index.card_record(card_id)
                if record is not None:
                    rows[card_id] = ({"board_id": board_id}, self.previous.created_at, record["raw"], False)
        for record in self.index.deleted_records():
            card_id = record["id"]
            if card_id not in listed and card_id not in rows:
                rows[card_id] = (record.get("ref") or {}, str(record.get("last_seen_at")), record["raw"], True)
        for card_id in sorted(rows, key=id_order):
            ref, last_seen, raw, carried = rows[card_id]
            ctx.write(C.DELETED_CARDS, card_id, raw, ref=ref, last_seen_at=last_seen)
            out.counters["carried:deleted_cards" if carried else "delta:newly_deleted"] += 1

    # --- the chain --------------------------------------------------------------------------
    def chain(self, counters: dict[str, int]) -> ChainInfo:
        carried = {key.partition(":")[2]: value for key, value in sorted(counters.items())
                   if key.startswith("carried:")}
        reread = {key.partition(":")[2]: value for key, value in sorted(counters.items())
                  if key.startswith("reread:")}
        carried.setdefault("blobs", 0)
        return ChainInfo(previous=ChainPrevious(**self.previous.chain_entry()), carried_over=carried,
                         reread=reread, refreshed_boards=sorted(self.options.refresh_boards),
                         full=self.options.full)


class _JournalListing:
    """The journal's card listing as :class:`~.plan.CardListing` (one indexed query per card)."""

    def __init__(self, journal: ExportJournal) -> None:
        self.get = journal.listed_card


class _Exported:
    """The cards this export lists, as a container (one indexed query per card)."""

    def __init__(self, journal: ExportJournal) -> None:
        self._journal = journal

    def __contains__(self, card_id: object) -> bool:
        return isinstance(card_id, str) and self._journal.has_card(card_id)
