"""Record-by-record comparison of an exported archive with what the simulator serves to a token.

Each ``check_*`` function asserts that one part of the archive equals the simulator's answers for
the token that made the export: nothing extra, nothing missing except what the company predicts.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable

from k2p.kaiten.crawl_structure import LANE_CONDITIONS
from k2p.testing.kaiten.company import KaitenCompany
from tests.helpers import ground_truth_extras as extras
from tests.helpers.export import by_id, expected_pages, raws, records

# FileRef.reason of the simulator -> (missing reason, HTTP status) a correct export records
FILE_REASONS = {"deleted file": ("not_found", 404), "flagged as malicious": ("rejected_by_kaiten", 422),
                "declared size differs from served bytes": ("size_mismatch", None)}
# admin-only routes the exporter reads -> the collection they fill
ADMIN_COLLECTIONS = {"/company/users": "company_users", "/sprints": "sprints"}

Check = Callable[[Path, KaitenCompany, str], None]


def keyed(items: list[dict[str, Any]], key: str = "id") -> dict[str, Any]:
    return {str(item[key]): item for item in items}


def grouped(root: Path, collection: str, ref_key: str) -> dict[str, list[Any]]:
    """Raw payloads of ``collection`` per ``ref[ref_key]``, in archive order."""
    groups: dict[str, list[Any]] = defaultdict(list)
    for row in records(root, collection):
        groups[row["ref"][ref_key]].append(row["raw"])
    return dict(groups)


def card_ids(co: KaitenCompany, token: str) -> list[int]:
    return sorted(co.cards_visible_to(token))


def check_cards(root: Path, co: KaitenCompany, token: str) -> None:
    cards = by_id(root, "cards")
    visible = card_ids(co, token)
    assert set(cards) == {str(cid) for cid in visible}
    for cid in visible:
        row = cards[str(cid)]
        assert row["raw"] == co.expected(token, f"/cards/{cid}", broken_api="false"), cid
        assert row["raw"] == co.card_payload(cid, broken_api=False)
        assert row["ref"] == {"board_id": str(co.cards[cid]["board_id"])}
    marks = co.landmarks
    for mark in ("auto_archived_cards", "plain_archived_cards", "archived_lane_cards", "subcolumn_cards"):
        wanted = {str(cid) for cid in marks[mark] if cid in visible}
        assert wanted <= set(cards), mark
    assert not {str(cid) for cid in co.expected_missing(token)["deleted_cards"]} & set(cards)


def check_checklists(root: Path, co: KaitenCompany, token: str) -> None:
    """Checklist items live only inside card payloads; every item of every checklist is there."""
    cards = raws(root, "cards")
    seen = 0
    for cid in card_ids(co, token):
        embedded = {checklist["id"]: {item["id"] for item in checklist["items"]}
                    for checklist in cards[str(cid)].get("checklists", [])}
        for checklist_id in co.card_checklists.get(cid, []):
            assert embedded[checklist_id] == {item["id"] for item in co.checklists[checklist_id]["items"]}
            seen += len(embedded[checklist_id])
    assert seen > 0


def check_custom_property_values(root: Path, co: KaitenCompany, token: str) -> None:
    cards = raws(root, "cards")
    with_values = [cid for cid in card_ids(co, token) if co.card_payload(cid).get("properties")]
    assert with_values
    for cid in with_values:
        assert cards[str(cid)]["properties"] == co.card_payload(cid, broken_api=False)["properties"]


def _per_card(route: str, collection: str) -> Check:
    def check(root: Path, co: KaitenCompany, token: str) -> None:
        archived = grouped(root, collection, "card_id")
        expected = {str(cid): co.expected(token, f"/cards/{cid}/{route}") for cid in card_ids(co, token)}
        assert archived == {cid: rows for cid, rows in expected.items() if rows}
        assert len(by_id(root, collection)) == sum(map(len, expected.values())) > 0
    check.__name__ = f"check_{collection}"
    return check


check_comments = _per_card("comments", "comments")
check_time_logs = _per_card("time-logs", "time_logs")
check_location_history = _per_card("location-history", "location_history")


def check_files(root: Path, co: KaitenCompany, token: str) -> None:
    """Every file reference of every card, with its blob (hash = the simulator's bytes) or reason."""
    files = records(root, "files")
    cards = raws(root, "cards")
    assert grouped(root, "files", "card_id") == {cid: card["files"] for cid, card in cards.items()
                                                 if card.get("files")}
    refs = {(str(ref.card_id), str(ref.file_id)): ref for ref in co.file_refs(co.cards_visible_to(token))}
    assert {(row["ref"]["card_id"], row["id"]) for row in files} == set(refs)
    stored: set[str] = set()
    for row in files:
        ref = refs[(row["ref"]["card_id"], row["id"])]
        if ref.route == "external":
            assert (row["status"], row["blob"]) == ("external", None)
        elif ref.reason:
            assert (row["status"], row["blob"]) == ("missing", None), ref
        else:
            assert row["status"] == "stored", ref
            assert row["blob"] == {"sha256": co.file_sha256(ref.key), "size": co.blobs[ref.key].size}
            stored.add(row["blob"]["sha256"])
    blobs = {path.name: path for path in (root / "blobs").rglob("*") if path.is_file()}
    assert set(blobs) == stored | extras.document_blob_shas(root)
    for name, path in blobs.items():
        assert hashlib.sha256(path.read_bytes()).hexdigest() == name


def check_missing(root: Path, co: KaitenCompany, token: str) -> None:
    """Exactly the predicted gaps, each with its reason."""
    predicted = co.expected_missing(token)
    expected = set()
    for ref in co.file_refs(co.cards_visible_to(token)):
        if ref.reason and ref.route != "external":
            expected.add((f"file:{ref.file_id}", *FILE_REASONS[ref.reason]))
    for route, collection in ADMIN_COLLECTIONS.items():
        if predicted["routes"].get(route) == 403:
            expected.add((f"collection:{collection}", "forbidden", 403))
    expected |= extras.expected_missing(co, token)
    found = [(row["id"], row["reason"], row["http_status"]) for row in records(root, "missing")]
    assert len(found) == len(set(found))
    assert set(found) == expected


def check_users(root: Path, co: KaitenCompany, token: str) -> None:
    assert raws(root, "current_user") == keyed([co.expected(token, "/users/current")])
    assert raws(root, "users") == keyed(expected_pages(co, token, "/users", include_inactive="true"))
    assert raws(root, "user_roles") == keyed(co.expected(token, "/user-roles"))
    admin = co.token_info(token).is_admin
    assert raws(root, "company_users") == (keyed(expected_pages(co, token, "/company/users")) if admin else {})


def check_spaces(root: Path, co: KaitenCompany, token: str) -> None:
    spaces = co.expected(token, "/spaces")
    assert raws(root, "spaces") == keyed(spaces)
    assert {space["id"] for space in spaces} == co.visible_space_ids(token)
    members, bindings = {}, {}
    for space in spaces:
        sid = space["id"]
        members.update({f"{sid}:{m['id']}": m for m in co.expected(token, f"/spaces/{sid}/users")})
        bindings.update({f"{sid}:{b['id']}": b for b in co.expected(token, f"/spaces/{sid}/boards")})
    assert raws(root, "space_members") == members
    assert raws(root, "space_boards") == bindings


def check_boards(root: Path, co: KaitenCompany, token: str) -> None:
    """One record per board; a board in two spaces is listed once, bound twice."""
    boards = by_id(root, "boards")
    assert set(boards) == {str(bid) for bid in co.visible_board_ids(token)}
    bindings = by_id(root, "space_boards")
    for bid, row in boards.items():
        spaces = sorted(sid for sid in co.board_space_ids(int(bid)) if sid in co.visible_space_ids(token))
        assert row["ref"] == {"space_ids": [str(sid) for sid in spaces]}
        assert row["raw"] == bindings[f"{spaces[0]}:{bid}"]["raw"]
        assert [key for key in bindings if key.endswith(f":{bid}")] == [f"{sid}:{bid}" for sid in spaces]
    two = str(co.landmarks["two_space_board"])
    assert len(boards[two]["ref"]["space_ids"]) == 2


def check_columns_and_lanes(root: Path, co: KaitenCompany, token: str) -> None:
    columns, lanes = {}, {}
    for bid in co.visible_board_ids(token):
        columns.update(keyed(co.expected(token, f"/boards/{bid}/columns")))
        for condition in LANE_CONDITIONS:
            lanes.update(keyed(co.expected(token, f"/boards/{bid}/lanes", condition=condition)))
    assert raws(root, "columns") == columns
    assert raws(root, "lanes") == lanes
    marks = co.landmarks
    parent = raws(root, "columns")[str(marks["parent_column"])]
    assert marks["subcolumn"] in {sub["id"] for sub in parent["subcolumns"]}
    assert {str(marks["archived_lane"]), str(marks["deleted_lane"])} <= set(lanes)


def check_tags(root: Path, co: KaitenCompany, token: str) -> None:
    """``/tags`` plus tags seen only on (archived) cards; never a tag on no visible card."""
    listed = keyed(expected_pages(co, token, "/tags"))
    on_cards: dict[str, Any] = {}
    for cid in card_ids(co, token):
        for tag in co.card_payload(cid).get("tags", []):
            on_cards.setdefault(str(tag["tag_id"]), tag)
    tags = by_id(root, "tags")
    assert set(tags) == set(listed) | set(on_cards)
    for tid, row in tags.items():
        if tid in listed:
            assert row["raw"] == listed[tid] and "seen_via" not in row
        else:
            assert row["raw"] == on_cards[tid] and row["seen_via"] == "card"
    archived_only = {str(tid) for tid in co.landmarks["archived_only_tags"]}
    assert archived_only and archived_only <= set(tags) - set(listed)


def check_dictionaries(root: Path, co: KaitenCompany, token: str) -> None:
    """Card types, custom properties, select values (removed ones too), catalog values, sprints."""
    assert raws(root, "card_types") == keyed(expected_pages(co, token, "/card-types"))
    properties = expected_pages(co, token, "/company/custom-properties")
    assert raws(root, "custom_properties") == keyed(properties)
    select, catalog = {}, {}
    for prop in properties:
        base = f"/company/custom-properties/{prop['id']}"
        if prop["type"] == "select":
            select.update(keyed(co.expected(token, base + "/select-values")))
        elif prop["type"] == "catalog":
            catalog.update(keyed(expected_pages(co, token, base + "/catalog-values")))
    assert raws(root, "select_values") == select
    assert any(value["deleted"] for value in select.values())
    assert raws(root, "catalog_values") == catalog
    admin = co.token_info(token).is_admin
    assert raws(root, "sprints") == (keyed(expected_pages(co, token, "/sprints")) if admin else {})


CHECKS: dict[str, Check] = {check.__name__.removeprefix("check_"): check for check in (
    check_cards, check_checklists, check_custom_property_values, check_comments, check_time_logs,
    check_location_history, check_files, check_missing, check_users, check_spaces, check_boards,
    check_columns_and_lanes, check_tags, check_dictionaries, extras.check_documents,
    extras.check_space_settings, extras.check_company_lists, extras.check_coverage)}
