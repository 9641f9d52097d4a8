"""plan_projects and plan_board on small hand-made records (each rule in isolation)."""

from __future__ import annotations

from typing import Any

import pytest

from k2p.archive.index import BoardRecords, CompanyRecords
from k2p.mapping.attachments import is_planka_url
from k2p.mapping.board import plan_board
from k2p.mapping.model import BoardPlan, CardPlan, Fidelity
from k2p.mapping.projects import plan_projects
from k2p.mapping.rules import MappingRules
from k2p.mapping.users import UserMap

B = "10"


def env(kind: str, record_id: Any, raw: dict, **ref: str) -> dict:
    record = {"kind": kind, "id": str(record_id), "raw": raw}
    if ref:
        record["ref"] = ref
    return record


def space(space_id: int, title: str, parent: str | None = None, sort: float = 1.0) -> dict:
    return env("space", space_id, {"id": space_id, "uid": f"u{space_id}", "title": title,
                                   "parent_entity_uid": parent, "sort_order": sort})


def binding(space_id: int, board_id: int, kind: int = 1, sort: float = 1.0) -> dict:
    return env("space_board", f"{space_id}:{board_id}", {"id": board_id, "type": kind, "sort_order": sort},
               space_id=str(space_id), board_id=str(board_id))


def column(column_id: int, title: str, sort: float, kind: int = 1, subs: list[dict] | None = None) -> dict:
    raw = {"id": column_id, "title": title, "sort_order": sort, "type": kind, "column_id": None,
           "subcolumns": subs or []}
    return env("column", column_id, raw, board_id=B)


def sub(column_id: int, parent: int, title: str, sort: float, kind: int = 2) -> dict:
    return {"id": column_id, "title": title, "sort_order": sort, "type": kind, "column_id": parent}


def lane(lane_id: int, title: str, sort: float, condition: int = 1) -> dict:
    return env("lane", lane_id, {"id": lane_id, "title": title, "sort_order": sort, "condition": condition},
               board_id=B)


# --- projects ----------------------------------------------------------------------------------
@pytest.fixture()
def tree() -> CompanyRecords:
    company = CompanyRecords()
    company.spaces = {str(record["id"]): record for record in [
        space(1, "Top", sort=2), space(2, "Child", "u1"), space(3, "Grandchild", "u2"),
        space(4, "In a document group", "doc-group-uid", sort=1), space(5, "Empty")]}
    company.boards = {board: env("board", board, {"id": int(board), "title": f"Board {board}"})
                      for board in ("10", "11", "12", "13")}
    company.space_boards = [binding(1, 10), binding(2, 10, kind=5), binding(3, 11, kind=5), binding(4, 11),
                            binding(3, 13, kind=5, sort=2), binding(4, 13, kind=5, sort=1)]
    company.primary_spaces = {"10": "2"}
    company.card_counts = {"10": 3, "99": 4}
    return company


def test_projects_placement_and_names(tree: CompanyRecords) -> None:
    fidelity = Fidelity()
    plans = plan_projects(tree, MappingRules(), fidelity)
    assert [(plan.key, plan.name, [ref.board_id for ref in plan.boards]) for plan in plans] == [
        ("project:4", "In a document group", ["11"]),           # canvas (type 1) binding wins
        ("project:2", "Top / Child", ["10"]),                    # Kaiten's primary space
        ("project:3", "Top / Child / Grandchild", ["13"]),       # lowest space id
    ]
    assert all(ref.key == f"board:{ref.board_id}" for plan in plans for ref in plan.boards)
    notes = {(note.category, note.entity, note.field) for note in fidelity.notes}
    assert ("lossy", "board:10", "space_binding") in notes
    assert ("lossy", "board:11", "space_binding") in notes
    assert ("skipped", "board:12", "space_binding") in notes     # bound to no space
    assert ("skipped", "board:99", "cards") in notes             # cards without a board record
    assert ("skipped", "space:5", "boards") in notes and ("skipped", "space:1", "boards") in notes


def test_projects_leaf_naming_and_long_names(tree: CompanyRecords) -> None:
    tree.spaces["3"]["raw"]["title"] = "G" * 200
    fidelity = Fidelity()
    plans = plan_projects(tree, MappingRules(nested_naming="leaf", nested_separator=" > "), fidelity)
    names = [plan.name for plan in plans]
    assert names[:2] == ["In a document group", "Child"]
    assert len(names[2]) == 128 and names[2].endswith("…")
    assert any(note.category == "truncated" and note.entity == "space:3" for note in fidelity.notes)


# --- one board -----------------------------------------------------------------------------------
def card(card_id: int, column_id: int, lane_id: int, sort: float, **fields: Any) -> dict:
    base = {"id": card_id, "title": f"Card {card_id}", "board_id": int(B), "column_id": column_id,
            "lane_id": lane_id, "sort_order": sort, "state": 1, "condition": 1, "archived": False,
            "created": "2026-01-02T03:04:05.000Z", "owner_id": 5, "type_id": 1}
    base.update(fields)
    return base


FILES = [
    {"status": "stored", "blob": {"sha256": "a" * 64, "size": 10},
     "raw": {"id": 1, "name": "cover.png", "mime_type": "image/png", "card_cover": True}},
    {"status": "stored", "blob": {"sha256": "b" * 64, "size": 5},
     "raw": {"id": 2, "name": "x" * 200 + ".pdf", "mime_type": "application/pdf", "comment_id": 501}},
    {"status": "missing", "blob": None, "raw": {"id": 3, "name": "gone.pdf"}},
    {"status": "skipped", "blob": None, "raw": {"id": 4, "name": "big.iso"}},
    {"status": "external", "blob": None,
     "raw": {"id": 5, "type": 2, "name": "Doc", "url": "https://docs.example.org/d/1"}},
    {"status": "stored", "blob": {"sha256": "c" * 64, "size": 5}, "raw": {"id": 6, "name": "old", "deleted": True}},
]


@pytest.fixture()
def board() -> tuple[CompanyRecords, BoardRecords]:
    company = CompanyRecords()
    company.spaces = {"2": space(2, "Space")}
    company.space_boards = [binding(2, 10)]
    company.space_members = {"2": [env("space_member", "2:7", {"id": 7, "full_name": "Space member"})]}
    company.boards = {B: env("board", B, {"id": 10, "title": "Board",
                                          "card_properties": [{"key": "id_306"}, {"key": "id_301"}]})}
    company.columns = {B: [
        column(100, "A", 2.0),
        column(101, "B", -1.0, kind=2, subs=[sub(102, 101, "S2", 2.0), sub(103, 101, "S1", 1.0)]),
        column(104, "Done", 3.0, kind=3, subs=[sub(105, 104, "Fin", 1.0, kind=3)]),
        column(106, "", 4.0),
    ]}
    company.lanes = {B: [lane(201, "L1", 1.0), lane(202, "L2", 2.0), lane(203, "Old", 0.5, condition=2),
                         lane(204, "Removed", 9.0, condition=3)]}
    company.custom_properties = {pid: env("custom_property", pid, {"id": int(pid), "name": name, "type": kind})
                                 for pid, name, kind in [("301", "Notes", "string"), ("306", "Priority", "select"),
                                                         ("305", "Approved", "checkbox"), ("303", "When", "date"),
                                                         ("308", "People", "user"), ("312", "Client", "catalog")]}
    company.select_values = {"1": env("select_value", 1, {"value": "High"}),
                             "2": env("select_value", 2, {"value": "Low"})}
    company.catalog_values = {"77": env("catalog_value", 77, {"name": "ACME"})}
    company.users = {"5": env("user", 5, {"id": 5, "uid": "uid-5", "full_name": "Ann"}),
                     "6": env("user", 6, {"id": 6, "uid": "uid-6", "full_name": "Bob"})}
    company.missing = [{"kind": "missing", "id": "file:3", "reason": "not_found", "detail": "404"}]
    members = [{"id": 5, "user_id": 5, "type": 2, "full_name": "Ann"},
               {"id": 6, "user_id": 6, "type": 1, "full_name": "Bob"}]
    cards = [
        card(1, 101, 202, 5, members=members, tags=[{"id": 7, "tag_id": 7, "name": "b-10", "color": 2}],
             properties={"id_301": "n" * 600, "id_306": [1, 2, 3], "id_305": False,
                         "id_303": {"date": "2026-02-03", "time": "10:30", "tzOffset": 180},
                         "id_308": [5, "uid-6"], "id_312": [77], "id_320": {"a": 1}, "id_321": "", "id_322": []},
             external_links=[{"id": 41, "url": "https://example.org/pr/1", "description": ""},
                             {"id": 42, "url": "ftp://example.org/f", "description": "FTP"},
                             {"id": 43, "url": "https://example.org/?q=" + "x" * 2100, "description": "Long"}]),
        card(2, 103, 201, 9, members=[members[1]], tags=[{"tag_id": 8, "name": "b-9", "color": 99}],
             checklists=[
                 {"id": 62, "name": "Second", "sort_order": 2, "items": []},
                 {"id": 61, "name": "", "sort_order": 1, "items": [
                     {"id": 72, "text": "two", "checked": False, "sort_order": 2},
                     {"id": 71, "text": "one", "checked": True, "sort_order": 1},
                     {"id": 73, "text": "gone", "checked": False, "sort_order": 3, "deleted": True}]}]),
        card(3, 103, 202, 1, tags=[{"tag_id": 9, "name": "", "color": 4}]),
        card(4, 999, 201, 1),
        card(5, 105, 201, 1, state=3, condition=2, archived=True, due_date="2026-03-04T05:06:07Z",
             time_spent_sum=90),
        card(6, 100, 203, 1, title="   ", due_date="2026-03-04T05:06:07.000Z"),
        card(1, 101, 202, 5),                                      # a duplicate record is planned once
    ]
    records = BoardRecords(B, cards=cards)
    records.files = {"1": [env("file", item["raw"]["id"], item["raw"], card_id="1") | {
        "status": item["status"], "blob": item["blob"]} for item in FILES]}
    records.comments = {"1": [
        env("comment", 503, {"id": 503, "text": "later", "type": 1, "created": "2026-01-03T00:00:00Z",
                             "author_id": 6}),
        env("comment", 501, {"id": 501, "text": "<p>a &lt;b&gt; <b>c</b></p>", "type": 2,
                             "created": "2026-01-02T09:15:00Z", "author_id": 5, "author": {"full_name": "Ann A."}}),
        env("comment", 502, {"id": 502, "text": "deleted", "type": 1, "created": "2026-01-02T10:00:00Z",
                             "deleted": True, "author_id": 5}),
    ]}
    return company, records


def plan(board: tuple[CompanyRecords, BoardRecords], rules: MappingRules | None = None,
         users: dict[str, str] | None = None) -> tuple[BoardPlan, Fidelity, dict[str, CardPlan]]:
    company, records = board
    fidelity = Fidelity()
    result = plan_board(B, company, records, rules or MappingRules(),
                        UserMap(users if users is not None else {"5": "1005", "7": "1007"}, {"5": "Ann", "6": "Bob"}),
                        fidelity)
    return result, fidelity, {item.key: item for item in result.cards}


def notes_of(fidelity: Fidelity, category: str) -> list[str]:
    return [f"{note.entity} {note.field}: {note.detail}" for note in fidelity.notes if note.category == category]


def test_lists_follow_columns_and_subcolumns(board: tuple[CompanyRecords, BoardRecords]) -> None:
    result, fidelity, cards = plan(board)
    assert [(item.key, item.name, item.type) for item in result.lists] == [
        ("list:10:column:101", "B", "active"),                 # a card sits directly in B
        ("list:10:subcolumn:103", "B / S1", "active"),
        ("list:10:subcolumn:102", "B / S2", "active"),
        ("list:10:column:100", "A", "active"),
        ("list:10:subcolumn:105", "Done / Fin", "closed"),     # no card directly in "Done"
        ("list:10:column:106", "(untitled)", "active"),
        ("list:10:column:unknown", "(unknown column)", "active"),
    ]
    assert cards["card:4"].list_key == "list:10:column:unknown"
    assert any("column 999" in note for note in notes_of(fidelity, "lossy"))
    assert any(note.startswith("list:10:column:106 name") for note in notes_of(fidelity, "renamed"))
    rules = MappingRules(subcolumn_separator=" → ", done_list_type="active", unknown_column_name="?")
    result, _, _ = plan(board, rules)
    assert [item.name for item in result.lists][1:3] == ["B → S1", "B → S2"]
    assert {item.type for item in result.lists} == {"active"} and result.lists[-1].name == "?"


def test_cards_grouped_by_list_then_lane_then_sort_order(board: tuple[CompanyRecords, BoardRecords]) -> None:
    result, _, _ = plan(board)
    assert [item.key for item in result.cards] == ["card:1", "card:2", "card:3", "card:6", "card:5", "card:4"]
    list_order = [item.key for item in result.lists]
    positions = [list_order.index(item.list_key) for item in result.cards]
    assert positions == sorted(positions)


def test_lane_and_tag_labels(board: tuple[CompanyRecords, BoardRecords]) -> None:
    result, _, cards = plan(board)
    assert [(label.key, label.name, label.color) for label in result.labels] == [
        ("label:10:lane:203", "Lane: Old", "lagoon-blue"),     # archived lane holding a card
        ("label:10:lane:202", "Lane: L2", "pumpkin-orange"),   # L1 is the default lane: no label
        ("label:10:tag:9", None, "egg-yellow"),                 # empty tag name → unnamed label
        ("label:10:tag:8", "b-9", "light-concrete"),            # unknown palette index
        ("label:10:tag:7", "b-10", "berry-red"),
    ]
    assert cards["card:1"].label_keys == ["label:10:lane:202", "label:10:tag:7"]
    assert cards["card:2"].label_keys == ["label:10:tag:8"]    # in the default lane L1
    result, _, cards = plan(board, MappingRules(lane_label_default=True, lane_label_color="gun-metal"))
    assert [(label.key, label.color) for label in result.labels if ":lane:" in label.key] == [
        ("label:10:lane:203", "gun-metal"), ("label:10:lane:201", "gun-metal"), ("label:10:lane:202", "gun-metal")]
    assert cards["card:2"].label_keys == ["label:10:lane:201", "label:10:tag:8"]
    result, _, cards = plan(board, MappingRules(lanes="ignore", lane_label_prefix=""))
    assert all(":tag:" in label.key for label in result.labels) and cards["card:4"].label_keys == []


def test_single_lane_board_has_no_lane_labels(board: tuple[CompanyRecords, BoardRecords]) -> None:
    company, records = board
    company.lanes[B] = [lane(201, "Only", 1.0), lane(204, "Removed", 9.0, condition=3)]
    for item in records.cards:
        item["lane_id"] = 201
    result, _, _ = plan(board)
    assert not [label for label in result.labels if ":lane:" in label.key]


def test_card_fields(board: tuple[CompanyRecords, BoardRecords]) -> None:
    _, fidelity, cards = plan(board)
    done = cards["card:5"]
    assert done.archived and done.list_key == "list:10:subcolumn:105"
    assert done.due_date == "2026-03-04T05:06:07.000Z" and done.is_due_completed is True
    assert done.stopwatch_total is None and details(done)["Time spent"] == "1 h 30 min"
    _, _, stopwatch = plan(board, MappingRules(time_spent="stopwatch"))
    assert stopwatch["card:5"].stopwatch_total == 90 * 60 and "Time spent" not in details(stopwatch["card:5"])
    _, _, off = plan(board, MappingRules(time_spent="off"))
    assert off["card:5"].stopwatch_total is None and "Time spent" not in details(off["card:5"])
    assert cards["card:6"].name == "(untitled)" and cards["card:6"].is_due_completed is False
    assert cards["card:2"].due_date is None and cards["card:2"].is_due_completed is None
    assert cards["card:2"].type == "project"
    assert any(note.startswith("card:6 name") for note in notes_of(fidelity, "renamed"))
    _, _, cards = plan(board, MappingRules(card_type="story", card_types={"Bug": "project"}))
    assert cards["card:2"].type == "story"


def test_members_and_unmapped_users(board: tuple[CompanyRecords, BoardRecords]) -> None:
    result, fidelity, cards = plan(board)
    assert cards["card:1"].member_user_ids == ["1005"]
    assert [(m.user_id, m.role) for m in result.members] == [("1007", "editor"), ("1005", "editor")]  # space member first
    unmapped = notes_of(fidelity, "unmapped_user")
    assert unmapped == ["board:10 members: Kaiten user 6 (Bob) has no Planka user; named in card details and texts only"]
    facts = details(cards["card:1"])
    assert facts["Responsible"] == "Ann" and facts["Members without a Planka user"] == "Bob"
    assert "Ann" not in (cards["card:1"].description or "")


def test_card_details_and_switch(board: tuple[CompanyRecords, BoardRecords]) -> None:
    _, _, cards = plan(board, MappingRules(card_url="https://acme.kaiten.ru/space/{space_id}/card/{card_id}"))
    card = cards["card:3"]
    assert card.description is None and card.details_group == "Details"
    assert [(item.key, item.name, item.content) for item in card.details[:3]] == [
        ("card:3:detail:kaiten_card", "Kaiten card", "3"),
        ("card:3:detail:created", "Created", "2026-01-02 03:04 UTC"),
        ("card:3:detail:owner", "Owner", "Ann")]
    assert all(item.content and "\n" not in item.content for plan_ in cards.values() for item in plan_.details)
    link = card.attachments[-1]
    assert (link.key, link.type, link.name, link.url) == (
        "attachment:3:kaiten", "link", "Kaiten card 3", "https://acme.kaiten.ru/space/2/card/3")
    _, _, cards = plan(board, MappingRules(details="off", details_group_name="Kaiten"))
    assert cards["card:3"].description is None and cards["card:3"].details == []
    assert all(item.key != "attachment:3:kaiten" for item in cards["card:3"].attachments)


def test_long_titles_and_planka_markdown(board: tuple[CompanyRecords, BoardRecords]) -> None:
    title = "Very long *title* " * 20                            # 360 characters
    board[1].cards[2].update(title=title, description="- [x] draft\n- [ ] review")
    _, fidelity, cards = plan(board)
    card = cards["card:3"]
    assert len(card.name) == 256 and card.name.endswith("…") and title.startswith(card.name[:-1])
    assert card.description == "**" + title.strip().replace("*", "\\*") + "**\n\n☑ draft\n☐ review"
    assert not any(note.startswith("card:3 name") for note in notes_of(fidelity, "truncated"))
    _, _, cards = plan(board, MappingRules(long_title_in_description=False, planka_markdown=False))
    assert cards["card:3"].name == title and cards["card:3"].description == "- [x] draft\n- [ ] review"
    board[1].cards[2]["title"] = "short"
    _, _, cards = plan(board)
    assert cards["card:3"].name == "short" and cards["card:3"].description == "☑ draft\n☐ review"


def details(card: CardPlan) -> dict[str, str]:
    return {item.name: item.content for item in card.details}


def test_task_lists(board: tuple[CompanyRecords, BoardRecords]) -> None:
    _, fidelity, cards = plan(board)
    lists = cards["card:2"].task_lists
    assert [(item.key, item.name) for item in lists] == [("tasklist:2:checklist:61", "(untitled)"),
                                                          ("tasklist:2:checklist:62", "Second")]
    assert [(task.key, task.name, task.is_completed) for task in lists[0].tasks] == [
        ("task:2:item:71", "one", True), ("task:2:item:72", "two", False)]
    assert any("deleted item 73" in note for note in notes_of(fidelity, "dropped"))


def test_comments(board: tuple[CompanyRecords, BoardRecords]) -> None:
    _, _, cards = plan(board)
    comments = cards["card:1"].comments
    assert [item.key for item in comments] == ["comment:501", "comment:503"]        # oldest first, no deleted
    assert comments[0].text.startswith("**Ann A.** · 2026-01-02 09:15 UTC\n\na &lt;b&gt; **c**")
    assert comments[0].text.endswith("\n\n*Attached to the card: " + "x" * 123 + "….pdf*")
    assert comments[1].text == "**Bob** · 2026-01-03 00:00 UTC\n\nlater"
    _, _, cards = plan(board, MappingRules(comment_attribution=False))
    assert cards["card:1"].comments[1].text == "later"


def test_attachments_and_cover(board: tuple[CompanyRecords, BoardRecords]) -> None:
    _, fidelity, cards = plan(board)
    item = cards["card:1"]
    assert [(a.key, a.type, a.name) for a in item.attachments] == [
        ("attachment:1:file:1", "file", "cover.png"),
        ("attachment:1:file:2", "file", "x" * 123 + "….pdf"),
        ("attachment:1:file:5", "link", "Doc"),
        ("attachment:1:link:41", "link", "example.org"),
    ]
    assert item.attachments[0].is_image and not item.attachments[1].is_image
    assert item.attachments[0].sha256 == "a" * 64 and item.attachments[0].size == 10
    assert item.cover_key == "attachment:1:file:1" and cards["card:2"].cover_key is None
    missing = notes_of(fidelity, "missing_file")
    assert missing == ["card:1 attachment: gone.pdf: not_found (404)",
                       "card:1 attachment: big.iso: not downloaded (exported without files)"]
    dropped = " ".join(notes_of(fidelity, "dropped"))
    assert "ftp://example.org/f" in dropped and "https://example.org/?q=xxx" in dropped


def test_custom_fields(board: tuple[CompanyRecords, BoardRecords]) -> None:
    result, fidelity, cards = plan(board, MappingRules(board_field_share=0.0))
    assert [(field.key, field.name) for field in result.custom_fields] == [
        ("field:10:property:306", "Priority"), ("field:10:property:301", "Notes"),   # board order first
        ("field:10:property:303", "When"), ("field:10:property:305", "Approved"),
        ("field:10:property:308", "People"), ("field:10:property:312", "Client"),
        ("field:10:property:320", "Property 320"),
    ]
    values = cards["card:1"].custom_values
    assert values["field:10:property:306"] == "High, Low, #3"
    assert values["field:10:property:305"] == "no"
    assert values["field:10:property:303"] == "2026-02-03 10:30"
    assert values["field:10:property:308"] == "Ann, Bob"
    assert values["field:10:property:312"] == "ACME"
    assert values["field:10:property:320"] == '{"a":1}'
    assert len(values["field:10:property:301"]) == 512 and values["field:10:property:301"].endswith("…")
    assert "field:10:property:321" not in values and "field:10:property:322" not in values
    assert any("Notes: 600 → 512" in note for note in notes_of(fidelity, "truncated"))
    result, _, cards = plan(board, MappingRules(custom_fields=False))
    assert result.custom_fields == [] and cards["card:1"].custom_values == {}
    assert not any(item.key.startswith("card:1:detail:property:") for item in cards["card:1"].details)


def test_rare_properties_are_card_details(board: tuple[CompanyRecords, BoardRecords]) -> None:
    for card in board[1].cards[1:3]:          # Priority on 3 of 6 cards: board-wide (≥ 50 %)
        card["properties"] = {"id_306": [1]}
    result, _, cards = plan(board)
    assert [field.name for field in result.custom_fields] == ["Priority"]
    assert cards["card:1"].custom_values == {"field:10:property:306": "High, Low, #3"}
    facts = details(cards["card:1"])
    assert facts["Client"] == "ACME" and facts["Notes"].endswith("…") and "Priority" not in facts
    assert cards["card:1"].details[-1].key.startswith("card:1:detail:property:")
    assert not any(item.key.startswith("card:2:detail:property:") for item in cards["card:2"].details)
    _, _, cards = plan(board, MappingRules(board_field_share=0.6))
    assert details(cards["card:1"])["Priority"] == "High, Low, #3"


def test_url_properties_are_also_link_attachments(board: tuple[CompanyRecords, BoardRecords]) -> None:
    board[1].cards[0]["properties"].update(id_301="https://example.org/spec", id_312="http://10.0.0.1/x")
    _, fidelity, cards = plan(board)
    links = [(a.key, a.name, a.url) for a in cards["card:1"].attachments if ":property:" in a.key]
    assert links == [("attachment:1:property:301", "Notes", "https://example.org/spec")]
    facts = details(cards["card:1"])
    assert facts["Notes"] == "https://example.org/spec" and facts["Links kept as text"] == "http://10.0.0.1/x"
    _, _, cards = plan(board, MappingRules(custom_fields=False))
    assert not any(":property:" in a.key for a in cards["card:1"].attachments)
    result, _, cards = plan(board, MappingRules(details="off"))
    assert {field.name for field in result.custom_fields} >= {"Priority", "Client"}


def test_planning_is_deterministic(board: tuple[CompanyRecords, BoardRecords]) -> None:
    first, first_notes, _ = plan(board)
    second, second_notes, _ = plan(board)
    assert first == second and first_notes.notes == second_notes.notes


@pytest.mark.parametrize("url, ok", [
    ("https://example.org/a?q=1#f", True), ("http://localhost:8080/x", True), ("http://127.0.0.1/x", True),
    ("http://[::1]:80/", True), ("https://под.рф/путь", True), ("https://user:pw@host.org", True),
    ("ftp://x.org", False), ("https://a b.com", False), ("https://x_y.com", False), ("https://-a.com", False),
    ("http://a.b.123", False), ("https://", False), ("https:///path", False), ("http://a..b", False),
    ("https://x.org/<script>", False), ("mailto:a@b.c", False), ("https://x.org/" + "a" * 2040, False),
    ("http://x.org:0/", False), ("http://x.org:99999/", False),
    # Planka 2.1.1 answered 400 to these on a live server: JavaScript's \s covers U+FEFF, and
    # maxLength: 2048 counts UTF-16 units.
    ("https://x.org/\ufeff", False), ("https://x.org/" + "\U0001F600" * 1020, False),
    ("https://x.org/" + "\U0001F600" * 1017, True),
])
def test_link_urls_like_planka(url: str, ok: bool) -> None:
    assert is_planka_url(url) is ok


def test_blocked_label_and_relations_on_the_board(board: tuple[CompanyRecords, BoardRecords]) -> None:
    _, records = board
    records.cards[0].update(blocked=True, children_ids=[2])
    result, _, cards = plan(board)
    assert (result.labels[0].key, result.labels[0].name, result.labels[0].color) == \
        ("label:10:blocked", "Blocked", "berry-red") and result.blocked_label_key == "label:10:blocked"
    assert cards["card:1"].blocked and not cards["card:2"].blocked
    assert [(item.name, [link.target_key for link in item.links]) for item in cards["card:1"].relations] == \
        [("Subtasks", ["card:2"])]
    records.cards[0]["blocked"] = False
    result, _, _ = plan(board)
    assert result.blocked_label_key is None and not any(":blocked" in label.key for label in result.labels)
