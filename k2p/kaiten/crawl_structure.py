"""Spaces, their members and board bindings, boards, columns (with subcolumns), lanes, card lists."""

from __future__ import annotations

from typing import Any, Iterator

from k2p import jsoncodec
from k2p.archive import collections as C
from k2p.errors import RemoteError
from k2p.kaiten.client import KaitenHTTPError
from k2p.kaiten.context import CrawlContext, UnitOutput, id_order
from k2p.kaiten.delta.signals import list_digest, list_signals

CARD_PAGE = 100
LANE_CONDITIONS = (1, 2, 3)   # live, archived, deleted: the default of the route is undocumented
CARD_CONDITIONS = (1, 2)      # live, archived: an unfiltered list may omit auto-archived cards


def spaces_in_scope(spaces: list[dict[str, Any]], chosen: tuple[int, ...]) -> list[dict[str, Any]]:
    """The chosen spaces and every space nested below them (all spaces when none is chosen)."""
    if not chosen:
        return spaces
    by_parent: dict[str, list[dict[str, Any]]] = {}
    for space in spaces:
        by_parent.setdefault(str(space.get("parent_entity_uid")), []).append(space)
    picked: dict[Any, dict[str, Any]] = {}
    todo = [space for space in spaces if space.get("id") in chosen]
    while todo:
        space = todo.pop()
        if space["id"] not in picked:
            picked[space["id"]] = space
            todo.extend(by_parent.get(str(space.get("uid")), []))
    return [space for space in spaces if space["id"] in picked]


def export_spaces(ctx: CrawlContext, out: UnitOutput) -> None:
    """``GET /spaces`` (flat, nesting via ``parent_entity_uid``/``path``).

    Full scope keeps every visible space, ``--space`` the chosen ones and those nested in them.
    With ``--board`` the spaces holding a chosen board are known only after their board lists
    were read, so :func:`export_boards` writes them.
    """
    spaces = ctx.client.get_json("/spaces", salvage=True)
    if not isinstance(spaces, list):
        raise RemoteError("GET /spaces did not answer a list")
    ctx.open(C.SPACES)
    spaces = sorted(ctx.usable(C.SPACES, spaces), key=lambda space: id_order(space.get("id")))
    scoped = [space["id"] for space in spaces_in_scope(spaces, ctx.options.spaces)]
    if ctx.options.boards:
        # Chosen boards may sit in any space, so their bindings need every space's board list.
        out.meta["space_ids"] = [space["id"] for space in spaces]
        out.meta["spaces_raw"] = spaces
    else:
        out.meta["space_ids"] = scoped
        for space in spaces:
            if space["id"] in scoped:
                ctx.write(C.SPACES, space["id"], space)
    out.meta["scoped_space_ids"] = scoped if ctx.options.spaces else []


def binding_in_scope(ctx: CrawlContext, scoped: set[Any], space_id: Any, board_id: Any) -> bool:
    """Whether the placement of ``board_id`` in ``space_id`` belongs to the export's scope
    (``scoped``: the chosen spaces and those nested in them)."""
    return ctx.options.full_scope or board_id in ctx.options.boards or space_id in scoped


def _scoped_spaces(ctx: CrawlContext) -> set[Any]:
    return set(ctx.journal.get("scoped_space_ids") or [])


def export_space(ctx: CrawlContext, out: UnitOutput, space_id: int) -> None:
    """One space's board bindings and, if the space is in scope, its members.

    A space is in scope when chosen (or nested in a chosen one) or when it holds a chosen board;
    only bindings of boards in scope are written.
    """
    ref = {"space_id": str(space_id)}
    ctx.open(C.SPACE_MEMBERS)
    ctx.open(C.SPACE_BOARDS)
    bindings: list[dict[str, Any]] = []
    try:
        bindings = ctx.client.get_json(f"/spaces/{space_id}/boards")
    except KaitenHTTPError as error:
        ctx.unavailable(C.SPACE_BOARDS, error, ref)
    bindings = sorted(bindings, key=lambda item: id_order(item.get("id")))
    scoped = _scoped_spaces(ctx)
    kept = [binding for binding in bindings if binding_in_scope(ctx, scoped, space_id, binding.get("id"))]
    if kept or binding_in_scope(ctx, scoped, space_id, None):
        try:
            members = ctx.client.get_json(f"/spaces/{space_id}/users")
            for member in sorted(members, key=lambda item: id_order(item.get("id"))):
                ctx.write(C.SPACE_MEMBERS, f"{space_id}:{member.get('id')}", member, ref=ref)
        except KaitenHTTPError as error:
            ctx.unavailable(C.SPACE_MEMBERS, error, ref)
    for binding in kept:
        ctx.write(C.SPACE_BOARDS, f"{space_id}:{binding.get('id')}", binding,
                  ref={"space_id": str(space_id), "board_id": str(binding.get("id"))})
    out.meta[f"binding_raw:{space_id}"] = bindings


def export_boards(ctx: CrawlContext, out: UnitOutput) -> None:
    """One record per board in scope, however many spaces it is bound to.

    ``raw`` is the board as listed under its first space (by id); ``ref.space_ids`` names every
    space holding it within the scope, and ``space_boards`` keeps each binding verbatim. Which space
    is primary is only stated by card payloads (``board.spaces[].primary_path``), so the mapping
    decides.
    """
    space_ids: list[int] = ctx.journal.get("space_ids") or []
    scoped = _scoped_spaces(ctx)
    bound: dict[Any, list[tuple[int, dict[str, Any]]]] = {}
    for space_id in space_ids:
        for binding in ctx.journal.get(f"binding_raw:{space_id}") or []:
            if binding_in_scope(ctx, scoped, space_id, binding.get("id")):
                bound.setdefault(binding.get("id"), []).append((space_id, binding))
    board_ids = sorted(bound, key=id_order)
    ctx.open(C.BOARDS)
    for board_id in board_ids:
        places = sorted(bound[board_id], key=lambda place: id_order(place[0]))
        ctx.write(C.BOARDS, board_id, places[0][1],
                  ref={"space_ids": [str(space) for space, _ in places]})
    out.meta["board_ids"] = board_ids
    if ctx.options.boards:  # the spaces this export touches: chosen ones and those holding its boards
        holding = {space for places in bound.values() for space, _ in places}
        for space in ctx.journal.get("spaces_raw") or []:
            if space["id"] in holding or binding_in_scope(ctx, scoped, space["id"], None):
                ctx.write(C.SPACES, space["id"], space)


def export_board(ctx: CrawlContext, out: UnitOutput, board_id: int) -> None:
    """Columns (subcolumns nested), lanes of every condition, and the board's card ids."""
    ref = {"board_id": str(board_id)}
    ctx.open(C.COLUMNS)
    ctx.open(C.LANES)
    try:
        columns = ctx.client.get_json(f"/boards/{board_id}/columns")
        for column in sorted(columns, key=lambda item: id_order(item.get("id"))):
            ctx.write(C.COLUMNS, column["id"], column, ref=ref)
    except KaitenHTTPError as error:
        ctx.unavailable(C.COLUMNS, error, ref)
    lanes: dict[Any, dict[str, Any]] = {}
    for condition in LANE_CONDITIONS:
        try:
            for lane in ctx.client.get_json(f"/boards/{board_id}/lanes", {"condition": condition}):
                lanes.setdefault(lane["id"], lane)
        except KaitenHTTPError as error:
            ctx.unavailable(C.LANES, error, {**ref, "condition": str(condition)})
    for lane_id in sorted(lanes, key=id_order):
        ctx.write(C.LANES, lane_id, lanes[lane_id], ref=ref)
    if ctx.options.lists_company_wide:
        # A full-scope delta listed every card once (export_company_listing): no second listing.
        ordered = sorted(ctx.journal.listed_cards(str(board_id)), key=id_order)
    else:
        card_ids: dict[str, None] = {}
        for condition in CARD_CONDITIONS:
            for card_id in _listed_card_ids(ctx, out, {"board_id": board_id, "condition": condition}):
                card_ids.setdefault(card_id, None)
        ordered = sorted(card_ids, key=id_order)
    out.board_cards = (str(board_id), ordered)
    out.counters["cards_listed"] += len(ordered)


def _listed_card_ids(ctx: CrawlContext, out: UnitOutput, params: dict[str, Any]) -> Iterator[str]:
    """Ids of a ``/cards`` listing; an item without an id is skipped (nothing to fetch by).

    Each item's list digest and signals go to ``out.listings`` (see :mod:`k2p.kaiten.delta.signals`).
    """
    for card in ctx.client.paginate("/cards", params, page_size=CARD_PAGE):
        if isinstance(card, dict) and card.get("id") is not None:
            out.listings.append((str(card["id"]), str(card.get("board_id")), list_digest(card),
                                 jsoncodec.dumps(list_signals(card)).decode()))
            yield str(card["id"])


def export_company_listing(ctx: CrawlContext, out: UnitOutput) -> None:
    """Every card of the company listed once, ``condition`` 1 then 2 (full-scope delta exports).

    The board units and the sweep then take their card ids from this listing instead of listing
    every board again: one request per 100 cards in all.
    """
    for condition in CARD_CONDITIONS:
        for _ in _listed_card_ids(ctx, out, {"condition": condition}):
            pass


def export_card_sweep(ctx: CrawlContext, out: UnitOutput) -> None:
    """A company-wide card listing catching cards the space walk missed (full scope only)."""
    known = ctx.journal.has_card   # one indexed query per card: no company-wide set of ids
    extra: dict[str, None] = {}
    if ctx.options.lists_company_wide:
        for card_id in ctx.journal.listed_cards():
            if not known(card_id):
                extra.setdefault(card_id, None)
    else:
        for condition in CARD_CONDITIONS:
            for card_id in _listed_card_ids(ctx, out, {"condition": condition}):
                if not known(card_id):
                    extra.setdefault(card_id, None)
    ordered = sorted(extra, key=id_order)
    out.board_cards = ("sweep", ordered)
    out.counters["cards_listed"] += len(ordered)
