"""Card routes of the simulated Kaiten API: the ``/cards`` listing, single cards, sub-collections
and the restricted-access ("private") file routes."""

from __future__ import annotations

from typing import Any, Callable

from k2p.testing.kaiten import views
from k2p.testing.kaiten.api import (
    ApiError, Reply, Request, fail, page_bounds, route, visible_board, visible_card, write_only,
)
from k2p.testing.kaiten.compact import peek, read_field
from k2p.testing.kaiten.formats import iso_ms, parse_iso

ORDER_FIELDS = ("id", "created", "updated", "sort_order", "title")
_ID_FILTERS = (("board_id", "board_id"), ("column_id", "column_id"), ("lane_id", "lane_id"),
               ("type_id", "type_id"), ("type_ids", "type_id"), ("owner_id", "owner_id"),
               ("owner_ids", "owner_id"), ("states", "state"))
_TIME_FILTERS = (("created_after", "created", 1), ("created_before", "created", -1),
                 ("updated_after", "updated", 1), ("updated_before", "updated", -1))


def _conditions(req: Request) -> set[int] | None:
    """``condition`` (csv of 1|2) and ``archived`` (bool) combine; ``None`` when neither is given."""
    chosen: set[int] | None = None
    by_condition = req.ints("condition")
    if by_condition:
        chosen = by_condition
    if "archived" in req.params:
        wanted = {2} if req.flag("archived") else {1}
        chosen = wanted if chosen is None else chosen & wanted
    return chosen


def _predicates(req: Request) -> list[Callable[[int], bool]]:
    """Tests of a card id (fields read without pinning: compact storage stays compact)."""
    cards = req.company.cards
    tests: list[Callable[[int], bool]] = []
    for param, key in _ID_FILTERS:
        values = req.ints(param)
        if values:
            tests.append(lambda cid, key=key, values=values: read_field(cards, cid, key) in values)
    for param, key, sign in _TIME_FILTERS:
        moment = parse_iso(req.params.get(param, ""))
        if moment is not None:
            bound = iso_ms(moment)
            tests.append(lambda cid, key=key, bound=bound, sign=sign:
                         (read_field(cards, cid, key) > bound) if sign > 0
                         else (read_field(cards, cid, key) < bound))
    tag_ids = req.ints("tag_ids")
    if tag_ids:
        tests.append(lambda cid: bool(tag_ids & set(read_field(cards, cid, "tag_ids") or ())))
    return tests


def filter_cards(req: Request) -> list[int]:
    """Card ids ``GET /cards`` matches, in answer order (default newest first, id descending).

    Without ``condition``/``archived`` live and archived cards are returned, except auto-archived
    ones, which only an explicit archived filter returns (research §2.3 conflict, made strict here).
    """
    co = req.company
    boards = co.visible_board_ids(req.token.token)
    space_id = req.integer("space_id")
    if space_id is not None:
        boards &= {b["board_id"] for b in co.bindings if b["space_id"] == space_id}
    conditions = _conditions(req)
    tests = _predicates(req)
    ids = []
    cards = co.cards
    for card_id in co.served_card_ids():
        if read_field(cards, card_id, "board_id") not in boards:
            continue
        if conditions is None and card_id in co.auto_archived:
            continue
        if conditions is not None and read_field(cards, card_id, "condition") not in conditions:
            continue
        if all(test(card_id) for test in tests):
            ids.append(card_id)
    order_by = req.params.get("order_by")
    if order_by in ORDER_FIELDS:
        reverse = req.params.get("order_direction", "desc").lower() != "asc"
        ids.sort(key=lambda cid: (read_field(cards, cid, order_by), cid), reverse=reverse)
    return ids


@route("/cards")
def list_cards(req: Request) -> Any:
    offset, limit = page_bounds(req, 100, 100)
    page = filter_cards(req)[offset:offset + limit]
    fields = req.params.get("additional_card_fields", "").split(",")
    payload = [views.card_list_item(req.company, cid, broken_api=req.flag("broken_api", True),
                                    with_description="description" in fields) for cid in page]
    if req.sim is not None and len(page) == limit:
        req.sim.after_full_cards_page(page[0])
    return payload


@route("/cards/{card_id:int}")
def one_card(req: Request, card_id: int) -> Any:
    visible_card(req, card_id)
    return views.card_single(req.company, card_id, broken_api=req.flag("broken_api", True))


def _card_collection(template: str, build: Callable[..., Any], missing: int = 404) -> None:
    def handler(req: Request, card_id: int) -> Any:
        visible_card(req, card_id, missing)
        return build(req.company, card_id)
    handler.__name__ = "card_" + template.rsplit("/", 1)[-1].replace("-", "_")
    route("/cards/{card_id:int}/" + template)(handler)


for _name, _build in (("comments", views.comments), ("time-logs", views.time_logs),
                      ("location-history", views.location_history), ("members", views.card_members),
                      ("tags", views.card_tags), ("children", views.children), ("parents", views.parents),
                      ("blockers", views.blockers), ("files", views.card_files)):
    _card_collection(_name, _build)
# a missing card answers 403 (not 404) on this route (research §4.15)
_card_collection("external-links", views.external_links, missing=403)
write_only("/cards/{card_id:int}/checklists", "POST")


@route("/cards/{card_id:int}/activity")
def card_activity(req: Request, card_id: int) -> Any:
    visible_card(req, card_id)
    offset, limit = page_bounds(req, 100, 100)
    extra = req.company.configuration.get("activity_extra", {}).get(card_id, [])  # space_config
    return (views.card_activity(req.company, card_id) + extra)[offset:offset + limit]


@route("/cards/{card_id:int}/checklists/{checklist_id:int}")
def one_checklist(req: Request, card_id: int, checklist_id: int) -> Any:
    visible_card(req, card_id)
    if checklist_id not in req.company.card_checklists.get(card_id, []):
        raise fail(404)
    return views.checklist_view(req.company, checklist_id, with_items=True)


# --- restricted-access files -------------------------------------------------------------------
def private_file(req: Request, card_uid: str, file_id: str, comment_uid: str | None = None) -> Any:
    """Token required; 302 to a signed storage URL, or ``{"url"}`` with ``response_type=json``.

    Deleted files answer 404, files flagged as malicious 422.
    """
    co = req.company
    card = co.card_by_uid(card_uid)
    if card is None or card["condition"] == 3:
        raise fail(404)
    visible_board(req, card["board_id"])
    record = next((r for r in peek(co.files, card["id"], []) if r["type"] == 11 and r["id"] == file_id
                   and r.get("comment_uid") == comment_uid), None)
    if record is None:
        raise fail(404)
    blob = co.blobs[file_id]
    if blob.deleted or record["deleted"]:
        raise fail(404, "File not found")
    if blob.malicious:
        raise fail(422, "The file is flagged as malicious")
    if req.sim is None:  # ground-truth calls have no storage to sign for
        raise ApiError(Reply(501))
    response_type = req.params.get("response_type", "attachment")
    signed = req.sim.sign_url(blob, "inline" if response_type == "inline" else "attachment")
    if response_type == "json":
        return {"url": signed}
    return Reply(302, f"Found. Redirecting to {signed}".encode(), "text/plain; charset=utf-8",
                 {"Location": signed})


route("/cards/{card_uid:uuid}/files/{file_id:uuid}")(private_file)
route("/cards/{card_uid:uuid}/files/{file_id:uuid}/content")(private_file)
route("/cards/{card_uid:uuid}/comments/{comment_uid:uuid}/files/{file_id:uuid}")(private_file)
