"""A simulated Kaiten company as data: API-shaped records keyed by id, tokens and visibility.

:class:`CompanyData` stores records in the Kaiten API's own field shapes; relations (members,
comments, files …) are stored per card and assembled into API payloads by
:mod:`k2p.testing.kaiten.views`. This module imports no behaviour, so every builder, view and
route can depend on it; the ground-truth helpers that use views and routes live on
:class:`~k2p.testing.kaiten.company.KaitenCompany`.

Assumption (research §9 leaves it open): a card whose ``last_moved_at`` is null has an empty
location history; moved cards have 2-4 history entries ending at the card's current location.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Any

from k2p.testing.kaiten.compact import RecordTable, peek
from k2p.testing.kaiten.compact import read_field as record_field
from k2p.testing.kaiten.files import FileBlob
from k2p.testing.kaiten.formats import DEFAULT_FILES_ORIGIN

Record = dict[str, Any]


@dataclass(frozen=True)
class TokenInfo:
    """A simulated API token: ``kind`` names it in request logs (never the token itself)."""

    token: str
    kind: str
    user_id: int
    is_admin: bool


@dataclass
class CompanyData:
    """One simulated company: API-shaped records, per-card relations, tokens and visibility.

    ``landmarks`` names the records that carry each deliberate edge case (``"hidden_space"``,
    ``"subcolumn_card"``, ``"malicious_file"`` …) so tests can find them without searching.

    In a big company ``cards``, ``location_history``, ``files``, ``checklists`` and ``time_logs``
    are :class:`~k2p.testing.kaiten.compact.PackedRecords` (same keys, order and values as the
    dicts): index them to mutate, read them with ``compact.peek`` / ``compact.read_field``.
    """

    scale: str
    seed: int
    company: Record = field(default_factory=dict)
    users: dict[int, Record] = field(default_factory=dict)
    tokens: dict[str, TokenInfo] = field(default_factory=dict)
    user_roles: list[Record] = field(default_factory=list)
    tree_nodes: dict[str, Record] = field(default_factory=dict)  # document groups / documents
    spaces: dict[int, Record] = field(default_factory=dict)
    space_members: dict[int, dict[int, str]] = field(default_factory=dict)  # space -> user -> role uid
    boards: dict[int, Record] = field(default_factory=dict)
    bindings: list[Record] = field(default_factory=list)  # board-in-space placements
    columns: dict[int, Record] = field(default_factory=dict)
    lanes: dict[int, Record] = field(default_factory=dict)
    sprints: dict[int, Record] = field(default_factory=dict)
    card_types: dict[int, Record] = field(default_factory=dict)
    tags: dict[int, Record] = field(default_factory=dict)
    custom_properties: dict[int, Record] = field(default_factory=dict)
    select_values: dict[int, list[Record]] = field(default_factory=dict)
    catalog_values: dict[int, list[Record]] = field(default_factory=dict)
    cards: dict[int, Record] = field(default_factory=dict)  # includes condition 3 (never served)
    auto_archived: set[int] = field(default_factory=set)
    card_members: dict[int, list[tuple[int, int]]] = field(default_factory=dict)  # (user, type)
    checklists: dict[int, Record] = field(default_factory=dict)  # with "items"
    card_checklists: dict[int, list[int]] = field(default_factory=dict)
    comments: dict[int, list[Record]] = field(default_factory=dict)
    time_logs: dict[int, list[Record]] = field(default_factory=dict)
    location_history: dict[int, list[Record]] = field(default_factory=dict)
    files: dict[int, list[Record]] = field(default_factory=dict)
    blobs: dict[str, FileBlob] = field(default_factory=dict)
    blockers: dict[int, list[Record]] = field(default_factory=dict)
    external_links: dict[int, list[Record]] = field(default_factory=dict)
    audit_logs: list[Record] = field(default_factory=list)
    configuration: dict[str, Any] = field(default_factory=dict)  # kaiten.space_config, documents_v1
    landmarks: dict[str, Any] = field(default_factory=dict)
    files_origin: str = DEFAULT_FILES_ORIGIN
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False)
    _mutation_rng: random.Random | None = field(default=None, repr=False, compare=False)
    _user_props: frozenset[int] | None = field(default=None, repr=False, compare=False)
    # the skeleton and board builds of a lazily generated company (k2p.testing.kaiten.lazy), or None
    boards_lazy: Any = field(default=None, repr=False, compare=False)

    # --- tokens --------------------------------------------------------------------------------
    @property
    def admin_token(self) -> str:
        return self._token_of_kind("admin")

    @property
    def user_token(self) -> str:
        return self._token_of_kind("user")

    def _token_of_kind(self, kind: str) -> str:
        return next(info.token for info in self.tokens.values() if info.kind == kind)

    def token_info(self, token: str) -> TokenInfo:
        """Accept a token or a token kind (``"admin"``, ``"user"``)."""
        if token in self.tokens:
            return self.tokens[token]
        return self.tokens[self._token_of_kind(token)]

    # --- lookups -------------------------------------------------------------------------------
    def space_by_uid(self, uid: str) -> Record | None:
        return next((space for space in self.spaces.values() if space["uid"] == uid), None)

    def card_by_uid(self, uid: str) -> Record | None:
        """The card (read-only: not pinned in compact storage) with that uid."""
        cards = self.cards
        keys = cards.cheap_keys_first() if isinstance(cards, RecordTable) else iter(cards)
        card_id = next((cid for cid in keys if record_field(cards, cid, "uid") == uid), None)
        return None if card_id is None else peek(self.cards, card_id)

    def board_column_ids(self, board_id: int, *, top_level: bool = False) -> list[int]:
        return [cid for cid, column in self.columns.items() if column["board_id"] == board_id
                and not (top_level and column["column_id"] is not None)]

    def board_space_ids(self, board_id: int) -> list[int]:
        """Spaces the board is placed in, primary first."""
        rows = sorted((b for b in self.bindings if b["board_id"] == board_id), key=lambda b: not b["primary"])
        return [row["space_id"] for row in rows]

    def user_type_property_ids(self) -> frozenset[int]:
        if self._user_props is None:
            self._user_props = frozenset(pid for pid, prop in self.custom_properties.items()
                                         if prop["type"] == "user")
        return self._user_props

    # --- visibility ----------------------------------------------------------------------------
    def visible_space_ids(self, token: str) -> set[int]:
        """Spaces ``GET /spaces`` lists for the token: ``for_everyone`` ones plus memberships."""
        user_id = self.token_info(token).user_id
        return {sid for sid, space in self.spaces.items()
                if space["access"] == "for_everyone" or user_id in self.space_members.get(sid, {})}

    def visible_board_ids(self, token: str) -> set[int]:
        """A board is visible when any space it is placed in is visible."""
        spaces = self.visible_space_ids(token)
        return {b["board_id"] for b in self.bindings if b["space_id"] in spaces}

    def served_card_ids(self) -> list[int]:
        """Ids of every card the API can return (condition 1 or 2), newest (highest id) first."""
        with self.lock:
            cards = self.cards
            return sorted((cid for cid in cards if record_field(cards, cid, "condition") != 3), reverse=True)

    def cards_visible_to(self, token: str) -> list[int]:
        """All non-deleted cards (live, archived, auto-archived) on boards the token can see."""
        boards = self.visible_board_ids(token)
        return [cid for cid in self.served_card_ids() if record_field(self.cards, cid, "board_id") in boards]

    def users_visible_to(self, token: str, include_inactive: bool = False) -> list[int]:
        """What ``GET /users`` lists: the caller plus members of spaces the caller can see."""
        info = self.token_info(token)
        shown = {info.user_id}
        for space_id in self.visible_space_ids(token):
            shown.update(self.space_members.get(space_id, {}))
        return [uid for uid in sorted(shown)
                if include_inactive or self.users[uid]["activated"]]

    def visible_tag_ids(self) -> list[int]:
        """``GET /tags`` lists only tags attached to at least one live (condition 1) card."""
        used: set[int] = set()
        with self.lock:
            for card_id in self.cards:
                tag_ids = record_field(self.cards, card_id, "tag_ids")
                if tag_ids and record_field(self.cards, card_id, "condition") == 1:
                    used.update(tag_ids)
        return sorted(used)

    # --- files ---------------------------------------------------------------------------------
    def file_bytes(self, key: str) -> bytes:
        """The bytes the storage serves for a blob key (legacy URL UUID or private file id)."""
        return self.blobs[key].read()

    def file_sha256(self, key: str) -> str:
        return self.blobs[key].sha256()
