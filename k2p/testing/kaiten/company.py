"""The simulated company tests and the simulator use: the data model plus its ground truth.

``generate_company(scale, seed)`` is deterministic. :class:`KaitenCompany` is the
:class:`~k2p.testing.kaiten.model.CompanyData` with helpers that answer from the same views and
routes the simulator serves — so ``company.card_payload(id)`` is exactly what
``GET /cards/{id}?broken_api=false`` returns and ``company.expected(token, path)`` what any route
answers.
"""

from __future__ import annotations

import os
import random
from typing import Any, Iterable

from k2p.testing.kaiten import documents, space_config
from k2p.testing.kaiten import routes as kaiten_routes
from k2p.testing.kaiten import views as kaiten_views
from k2p.testing.kaiten.cards import CardBuilder, new_live_card
from k2p.testing.kaiten.compact import PackedRecords, pack_tables, peek, read_field
from k2p.testing.kaiten.files import FileRef
from k2p.testing.kaiten.generator import SCALES, Ids, StructureBuilder, finish_company
from k2p.testing.kaiten.lazy import build_lazily
from k2p.testing.kaiten.model import CompanyData, Record, TokenInfo

__all__ = ["KaitenCompany", "TokenInfo", "generate_company"]

COMPACT_FROM = 10_000  # cards from which generate_company stores per-card tables compressed
# Card fields the listing filters read for every card (kept unpacked next to the packed bytes).
CARD_HOT_FIELDS = ("uid", "condition", "board_id", "sprint_id", "owner_id", "updated", "tag_ids")
COMPACT_TABLES = ("location_history", "files", "checklists", "time_logs")


class KaitenCompany(CompanyData):
    """One simulated company with ground-truth helpers.

    ``landmarks`` names the records that carry each deliberate edge case (``"hidden_space"``,
    ``"subcolumn_card"``, ``"malicious_file"`` …) so tests can find them without searching.
    """

    # --- payload ground truth ------------------------------------------------------------------
    def card_payload(self, card_id: int, broken_api: bool = False) -> Record:
        """Exactly what ``GET /cards/{card_id}?broken_api=…`` returns (``False`` = integer user ids)."""
        return kaiten_views.card_single(self, card_id, broken_api=broken_api)

    def card_list_item(self, card_id: int, broken_api: bool = True, with_description: bool = False) -> Record:
        """One element of ``GET /cards`` (list projection)."""
        return kaiten_views.card_list_item(self, card_id, broken_api=broken_api,
                                           with_description=with_description)

    def expected(self, token: str, path: str, **params: Any) -> Any:
        """The JSON the simulator answers to ``GET {path}`` for ``token`` (or token kind).

        ``path`` is relative to the API root (``"/cards/5/comments"``); raises ``LookupError`` with
        the status when the answer is not a 200 JSON document.
        """
        return kaiten_routes.expected_json(self, self.token_info(token), path,
                                           {k: str(v) for k, v in params.items()})

    def file_refs(self, card_ids: Iterable[int] | None = None) -> list[FileRef]:
        """Every file payload of the given (default: all served) cards and its download outcome."""
        refs = []
        for card_id in sorted(card_ids if card_ids is not None else self.served_card_ids()):
            for record in peek(self.files, card_id, []):
                refs.append(kaiten_views.file_ref(self, card_id, record))
        return refs

    def expected_missing(self, token: str) -> dict[str, Any]:
        """What a correct export with ``token`` cannot obtain, and why.

        Keys: ``routes`` (path -> status), ``spaces`` / ``boards`` / ``cards`` (ids invisible to the
        token), ``files`` (blob key or file id -> reason), ``deleted_cards`` (never served) and
        ``collections`` (collection -> status of the route refusing it as a whole).
        """
        info = self.token_info(token)
        visible_cards = set(self.cards_visible_to(token))
        routes = {"/spaces/{uid}/iterations": 402, "/company/groups": 402,
                  "/cards/{id}/checklists": 405}
        if not info.is_admin:
            routes.update({"/company/users": 403, "/sprints": 403, "/time-logs": 403, "/audit-logs": 403})
        files = {str(ref.key or ref.file_id): ref.reason for ref in self.file_refs(visible_cards)
                 if ref.expected_status != 200}
        return {
            "routes": routes,
            "spaces": sorted(set(self.spaces) - self.visible_space_ids(token)),
            "boards": sorted(set(self.boards) - self.visible_board_ids(token)),
            "cards": sorted(set(self.served_card_ids()) - visible_cards),
            "deleted_cards": sorted(cid for cid in self.cards
                                    if read_field(self.cards, cid, "condition") == 3),
            "files": files,
            "collections": expected_collections(self, info),
        }

    # --- mutation (drift tests) ----------------------------------------------------------------
    def add_card(self, board_id: int, *, column_id: int | None = None, lane_id: int | None = None,
                 title: str | None = None, like: int | None = None) -> int:
        """Insert a new live card (new highest id) and return its id.

        ``like`` copies location, owner and type from an existing card; otherwise the board's first
        column and live lane are used. Deterministic: the n-th insertion is the same every run.
        """
        with self.lock:
            if self._mutation_rng is None:
                self._mutation_rng = random.Random(self.seed * 7919 + 17)
            return new_live_card(self, self._mutation_rng, board_id, column_id=column_id,
                                 lane_id=lane_id, title=title, like=like)


def expected_collections(co: KaitenCompany, info: TokenInfo) -> dict[str, int]:
    """Collections a correct export with ``info`` cannot read as a whole → the HTTP status."""
    refused = {"iterations": 402, "company_groups": 402}
    if not info.is_admin:
        refused.update({"company_users": 403, "sprints": 403, "audit_logs": 403, "service_desk_services": 403})
    return refused


def generate_company(scale: str = "small", seed: int = 0, *, cards: int | None = None,
                     lazy: bool = True, compact: bool | None = None,
                     lazy_boards: bool | None = None) -> KaitenCompany:
    """Generate a deterministic company: ``"tiny"`` (unit tests), ``"small"`` (default), ``"large"``,
    ``"huge"`` (≈100,000 cards over 200 boards, for benchmarks).

    ``cards`` rescales the scale's boards to about that many cards (same shape and mix). With
    ``lazy`` (the default) long comment threads are generated on demand
    (:class:`~k2p.testing.kaiten.comment_tail.CommentThread`); ``lazy=False`` builds the same
    records as plain lists.

    ``compact`` stores the per-card tables (cards, location history, files, checklists, time logs)
    compressed (:mod:`k2p.testing.kaiten.compact`) instead of as dicts; the records are identical.
    The default is compact from :data:`COMPACT_FROM` cards on (or as ``K2P_SIM_COMPACT=1|0`` says).

    ``lazy_boards`` generates the cards board by board (:mod:`k2p.testing.kaiten.lazy`): the
    company starts from a skeleton in seconds and builds a board when it is first read; with
    ``lazy=False`` every board is built now, to the same records. Each board then draws from its
    own random stream, so the records differ from those of the one-stream build that small
    companies use. The default is the same as ``compact``'s (``K2P_SIM_LAZY_BOARDS=1|0`` forces it).
    """
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; expected one of {sorted(SCALES)}")
    spec = SCALES[scale] if cards is None else SCALES[scale].with_cards(cards)
    company = KaitenCompany(scale=scale, seed=seed)
    compact = _big_company_default(compact, "K2P_SIM_COMPACT", spec.cards)
    lazy_boards = _big_company_default(lazy_boards, "K2P_SIM_LAZY_BOARDS", spec.cards)
    if compact:
        company.cards = PackedRecords(hot=CARD_HOT_FIELDS)
        for name in COMPACT_TABLES:
            setattr(company, name, PackedRecords())
    rng = random.Random(seed)
    ids = Ids()
    StructureBuilder(company, spec, rng, ids).run()
    builder = CardBuilder(company, spec, rng, ids, lazy=lazy)
    if lazy_boards:
        build_lazily(company, builder, seed, lazy=lazy)
    else:
        builder.run()
    finish_company(company, spec, rng, ids)
    space_config.build(company)
    documents.build(company)
    pack_tables(company, seal=True)
    return company


def _big_company_default(chosen: bool | None, env_name: str, cards: int) -> bool:
    """``chosen`` if given, else what ``env_name`` forces (``1``/``0``), else on from
    :data:`COMPACT_FROM` cards."""
    if chosen is not None:
        return chosen
    forced = os.environ.get(env_name, "")
    return forced == "1" if forced in ("0", "1") else cards >= COMPACT_FROM
