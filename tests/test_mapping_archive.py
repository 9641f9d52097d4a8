"""The mapping of a whole exported simulator company ("small"): invariants over every plan."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import orjson
import pytest

from k2p.archive import collections as C
from k2p.archive.index import ArchiveIndex, CompanyRecords
from k2p.archive.reader import ArchiveReader
from k2p.kaiten.export import run_export
from k2p.kaiten.options import ExportOptions
from k2p.mapping.board import plan_board
from k2p.mapping.model import BoardPlan, CardPlan, Fidelity, ProjectPlan
from k2p.mapping.projects import plan_projects
from k2p.mapping.rules import MappingRules
from k2p.mapping.text import js_len, md_escape
from k2p.mapping.users import UserMap, archive_names
from k2p.testing.kaiten.company import KaitenCompany, generate_company
from k2p.testing.kaiten.sim import KaitenSimulator
from k2p.testing.planka import routes as planka_routes  # noqa: F401  (importing it registers every route)
from k2p.testing.planka.http import ROUTES
from k2p.testing.planka.validation import validate

BODY_LIMIT = 1_048_576
TAG = re.compile(r"<\s*/?\s*[A-Za-z!?]")


@dataclass
class Mapped:
    company: KaitenCompany
    records: CompanyRecords
    raw_cards: dict[str, dict[str, Any]]             # card id → archived payload
    files: dict[str, list[dict[str, Any]]]           # card id → file records
    comments: dict[str, dict[str, Any]]              # comment id → archived payload
    projects: list[ProjectPlan]
    boards: dict[str, BoardPlan]
    fidelity: Fidelity
    fields: dict[str, set[str]]                      # collection (or card.<object>) → field names seen

    def cards(self) -> Iterator[CardPlan]:
        for board in self.boards.values():
            yield from board.cards

    def card(self, card_id: object) -> CardPlan:
        return next(card for card in self.cards() if card.key == f"card:{card_id}")

    def notes(self, category: str, entity: str | None = None) -> list[str]:
        return [f"{note.entity} {note.field}: {note.detail}" for note in self.fidelity.notes
                if note.category == category and entity in (None, note.entity)]


@pytest.fixture(scope="session")
def mapped(tmp_path_factory: pytest.TempPathFactory) -> Mapped:
    company = generate_company("small")
    out = tmp_path_factory.mktemp("mapping") / "small.k2p"
    with KaitenSimulator(company) as sim:
        run_export(ExportOptions(kaiten_url=sim.base_url, out=out, rps=1000), company.admin_token)
    with ArchiveReader(Path(out)) as reader, ArchiveIndex(reader) as index:
        records = index.company
        fidelity = Fidelity()
        rules = MappingRules()
        projects = plan_projects(records, rules, fidelity)
        # Every third Kaiten user has a Planka account: both mapped and unmapped people occur.
        users = UserMap({key: str(10_000 + int(key)) for key in sorted(records.users)[::3]}, archive_names(records))
        boards, raw_cards, files, comments = {}, {}, {}, {}
        for project in projects:
            for ref in project.boards:
                board_records = index.board(ref.board_id)
                boards[ref.board_id] = plan_board(ref.board_id, records, board_records, rules, users, fidelity)
                raw_cards.update({str(card["id"]): card for card in board_records.cards})
                files.update(board_records.files)
                comments.update({str(item["id"]): item["raw"] for items in board_records.comments.values()
                                 for item in items})
        archived_ids = {str(item["id"]) for item in reader.iter_records("cards")}
        assert archived_ids == set(raw_cards), "every archived card belongs to a planned board"
        fields = {collection.name: _field_names(reader, collection.name) for collection in C.ALL
                  if reader.has_collection(collection.name)}
    for raw in raw_cards.values():
        for key, value in raw.items():
            items = value if isinstance(value, list) else [value]
            for item in items:
                if isinstance(item, dict):
                    fields.setdefault(f"card.{key}", set()).update(item)
                    for inner in item.get("items") or []:
                        fields.setdefault("card.checklists.items", set()).update(inner)
    return Mapped(company, records, raw_cards, files, comments, projects, boards, fidelity, fields)


def _field_names(reader: ArchiveReader, collection: str) -> set[str]:
    names: set[str] = set()
    for record in reader.iter_records(collection):
        names.update(record["raw"] if isinstance(record.get("raw"), dict) else {})
    return names


def test_every_card_planned_exactly_once(mapped: Mapped) -> None:
    keys = [card.key for card in mapped.cards()]
    assert len(keys) == len(set(keys)) == len(mapped.raw_cards)
    assert set(keys) == {f"card:{card_id}" for card_id in mapped.raw_cards}
    board_keys = [ref.key for project in mapped.projects for ref in project.boards]
    assert len(board_keys) == len(set(board_keys)) == len(mapped.boards)


def test_archived_cards_flagged(mapped: Mapped) -> None:
    archived = {card_id for card_id, raw in mapped.raw_cards.items() if raw.get("archived") or raw["condition"] == 2}
    assert archived and {card.key[5:] for card in mapped.cards() if card.archived} == archived
    landmarks = mapped.company.landmarks
    assert mapped.card(landmarks["plain_archived_card"]).archived
    assert mapped.card(landmarks["auto_archived_card"]).archived


def test_lists_follow_columns(mapped: Mapped) -> None:
    for board_id, board in mapped.boards.items():
        cards_in = {str(raw["column_id"]) for raw in mapped.raw_cards.values() if str(raw["board_id"]) == board_id}
        expected: list[tuple[str, str, str]] = []
        columns = sorted((record["raw"] for record in mapped.records.columns[board_id]),
                         key=lambda raw: raw["sort_order"])
        for column in columns:
            subs = sorted(column["subcolumns"], key=lambda raw: raw["sort_order"])
            kind = "closed" if column["type"] == 3 else "active"
            if not subs or str(column["id"]) in cards_in:
                expected.append((f"list:{board_id}:column:{column['id']}", column["title"], kind))
            for sub in subs:
                expected.append((f"list:{board_id}:subcolumn:{sub['id']}", f"{column['title']} / {sub['title']}",
                                 "closed" if sub["type"] == 3 else "active"))
        actual = [(item.key, item.name, item.type) for item in board.lists]
        assert [entry[0] for entry in actual] == [entry[0] for entry in expected]
        assert [entry[2] for entry in actual] == [entry[2] for entry in expected]
        for (_, name, _), (_, title, _) in zip(actual, expected):
            assert name == title or not title.strip() or len(title) > 128
        positions = [[item.key for item in board.lists].index(card.list_key) for card in board.cards]
        assert positions == sorted(positions), "cards are grouped by list in list order"
    names = [item.name for item in mapped.boards["700001"].lists]
    assert names == ["Queue", "В работе", "В работе / Development", "В работе / Review", "Готово"]
    landmarks = mapped.company.landmarks
    assert mapped.card(landmarks["parent_column_card"]).list_key == f"list:700001:column:{landmarks['parent_column']}"
    assert mapped.card(landmarks["subcolumn_card"]).list_key == f"list:700001:subcolumn:{landmarks['subcolumn']}"


def test_lane_labels_only_on_multi_lane_boards(mapped: Mapped) -> None:
    single = str(mapped.company.landmarks["single_lane_board"])
    default = {}   # board → its first live lane, which gets no label
    for lane in sorted(mapped.company.lanes.values(), key=lambda lane: (-lane["sort_order"], -lane["id"])):
        if lane["condition"] == 1:
            default[str(lane["board_id"])] = lane["id"]
    for board_id, board in mapped.boards.items():
        lane_labels = [label for label in board.labels if ":lane:" in label.key]
        assert bool(lane_labels) == (board_id != single)
        assert f"label:{board_id}:lane:{default[board_id]}" not in {label.key for label in lane_labels}
        assert len({label.color for label in lane_labels}) == len(lane_labels), "lane colours are distinct"
        first_tag = next((index for index, label in enumerate(board.labels) if ":tag:" in label.key), len(board.labels))
        assert [label.key for label in board.labels[:first_tag]] == \
            [key for key in [board.blocked_label_key] if key] + [label.key for label in lane_labels], \
            "the Blocked label, then lane labels come first"
        for card in board.cards:
            lanes = [key for key in card.label_keys if ":lane:" in key]
            in_default = mapped.company.cards[int(card.key.split(":")[1])]["lane_id"] == default[board_id]
            assert len(lanes) == (1 if lane_labels and not in_default else 0)
            assert card.label_keys[: len(lanes)] == lanes
    archived_lane = mapped.company.landmarks["archived_lane"]
    assert f"label:700001:lane:{archived_lane}" in {label.key for label in mapped.boards["700001"].labels}


def test_names_within_planka_limits(mapped: Mapped) -> None:
    named: list[tuple[str | None, int]] = [(project.name, 128) for project in mapped.projects]
    for board in mapped.boards.values():
        named += [(board.name, 128)] + [(item.name, 128) for item in board.lists + board.custom_fields]
        named += [(label.name, 128) for label in board.labels if label.name is not None]
        for card in board.cards:
            named += [(card.name, 1024)] + [(item.name, 128) for item in card.task_lists + card.attachments]
            named += [(task.name, 1024) for item in card.task_lists for task in item.tasks]
            named += [(value, 512) for value in card.custom_values.values()]
            named += [(card.details_group, 128)] + [(item.name, 128) for item in card.details]
            named += [(item.content, 512) for item in card.details]
    for name, limit in named:
        assert isinstance(name, str) and name.strip() and js_len(name) <= limit, (name, limit)
    card_id = str(mapped.company.landmarks["long_title_card"])
    long_title = mapped.card(card_id)
    assert js_len(long_title.name) == 256 and long_title.name.endswith("…")
    title = " ".join(mapped.raw_cards[card_id]["title"].split())
    assert js_len(title) > 1024 and (long_title.description or "").startswith("**" + md_escape(title) + "**")


def test_every_request_passes_planka_validation(mapped: Mapped) -> None:
    """No request built from the plan can get a 400 (input rules of the simulator, 1 MB bodies)."""
    def check(method: str, path: str, body: dict[str, Any]) -> None:
        assert len(orjson.dumps(body)) < BODY_LIMIT, (path, len(orjson.dumps(body)))
        found = ROUTES.match(method, path)
        assert found is not None, path
        route, params = found
        validate(route.inputs, {**body, **params})

    for project in mapped.projects:
        check("POST", "/api/projects", {"type": "shared", **{k: v for k, v in project.fields().items() if v}})
    for board in mapped.boards.values():
        check("POST", "/api/projects/1/boards", {"position": 65536, **board.fields()})
        for item in board.lists:
            check("POST", "/api/boards/1/lists", {"position": 65536, **item.fields()})
        for label in board.labels:
            check("POST", "/api/boards/1/labels", {"position": 65536, **label.fields()})
        for field in board.custom_fields:
            check("POST", "/api/custom-field-groups/1/custom-fields", {"position": 65536, **field.fields()})
        for card in board.cards:
            check("POST", "/api/lists/1/cards", {"position": 65536, **card.fields()})
            check("PATCH", "/api/cards/1", card.fields())
            for task_list in card.task_lists:
                check("POST", "/api/cards/1/task-lists", {"position": 65536, **task_list.fields()})
                for task in task_list.tasks:
                    check("POST", "/api/task-lists/1/tasks", {"position": 65536, **task.fields()})
            for comment in card.comments:
                check("POST", "/api/cards/1/comments", comment.fields())
            for attachment in card.attachments:
                body = {key: value for key, value in attachment.fields().items() if key != "sha256" and value}
                check("POST", "/api/cards/1/attachments", body)
            if card.details:
                check("POST", "/api/cards/1/custom-field-groups", {"position": 65536, "name": card.details_group})
            for detail in card.details:
                check("POST", "/api/custom-field-groups/1/custom-fields", {"position": 65536, **detail.fields()})
            for content in [*card.custom_values.values(), *(detail.content for detail in card.details)]:
                check("PATCH", "/api/cards/1/custom-field-values/customFieldGroupId:1:customFieldId:1",
                      {"content": content})


def test_huge_description_truncated_with_note(mapped: Mapped) -> None:
    card_id = mapped.company.landmarks["huge_description_card"]
    description = mapped.card(card_id).description or ""
    assert len(mapped.raw_cards[str(card_id)]["description"].encode("utf-8")) > 1_100_000
    assert description.endswith("\n\n… [truncated by k2p; the full text is in the archive]"), "the cut is marked"
    assert 900_000 < len(orjson.dumps(description)) <= 1_000_000
    assert mapped.notes("truncated", f"card:{card_id}")


def test_comments(mapped: Mapped) -> None:
    landmarks = mapped.company.landmarks
    html = mapped.comments[str(landmarks["html_comment"])]
    assert html["type"] == 2 and "<p>" in html["text"]
    texts = {comment.key: comment.text for card in mapped.cards() for comment in card.comments}
    converted = texts[f"comment:{landmarks['html_comment']}"]
    assert not TAG.search(converted), converted
    assert "**team**" in converted and "[partners](https://example.org/partners)" in converted
    assert f"comment:{landmarks['deleted_comment']}" not in texts
    live = {key for key, raw in mapped.comments.items() if not raw.get("deleted")}
    assert set(texts) == {f"comment:{key}" for key in live}
    for card in mapped.cards():
        created = [mapped.comments[comment.key[8:]]["created"] for comment in card.comments]
        assert created == sorted(created), "oldest first"
        for comment in card.comments:
            assert re.match(r"\*\*[^*\n]+\*\* · \d{4}-\d\d-\d\d \d\d:\d\d UTC", comment.text), comment.text[:80]


def test_cover_only_where_kaiten_has_one(mapped: Mapped) -> None:
    covers = {}
    for card_id, records in mapped.files.items():
        for record in records:
            if record["raw"].get("card_cover") and record["status"] == "stored":
                covers[card_id] = f"attachment:{card_id}:file:{record['id']}"
    assert covers
    assert {card.key[5:]: card.cover_key for card in mapped.cards() if card.cover_key} == covers
    for card in mapped.cards():
        assert card.cover_key is None or card.cover_key in {item.key for item in card.attachments if item.is_image}


def test_files_and_links(mapped: Mapped) -> None:
    landmarks = mapped.company.landmarks
    edge = mapped.card(landmarks["files_edge_card"])
    names = [item.name for item in edge.attachments]
    assert names.count("report.pdf") == 2 and "empty.txt" in names
    assert all(item.sha256 and item.size is not None for item in edge.attachments if item.type == "file")
    private = mapped.card(landmarks["private_files_card"])
    cloud = [item for item in private.attachments if item.key.endswith(f":file:{landmarks['cloud_file']}")]
    assert cloud and cloud[0].type == "link" and cloud[0].url.startswith("https://drive.google.com/")
    assert any("flagged as malicious" in note for note in mapped.notes("missing_file"))
    links = [item for item in mapped.card(landmarks["external_links_card"]).attachments if item.type == "link"]
    assert {item.name for item in links} == {"A long link", "PR #42"}


def test_projects_and_boards_placement(mapped: Mapped) -> None:
    landmarks = mapped.company.landmarks
    by_key = {project.key: project for project in mapped.projects}
    assert by_key[f"project:{landmarks['nested_space']}"].name == "Product / Engineering"
    two_space = str(landmarks["two_space_board"])
    homes = [project.key for project in mapped.projects for ref in project.boards if ref.board_id == two_space]
    assert homes == [f"project:{landmarks['product_space']}"]
    assert [note for note in mapped.notes("lossy", f"board:{two_space}") if "space_binding" in note]
    for space_id in (landmarks["space_without_boards"], landmarks["archived_space"]):
        assert f"project:{space_id}" not in by_key
        assert mapped.notes("skipped", f"space:{space_id}")


def test_members(mapped: Mapped) -> None:
    for board in mapped.boards.values():
        members = {member.user_id for member in board.members}
        for card in board.cards:
            assert set(card.member_user_ids) <= members, "card members must be board members"
    unmapped = [(note.entity, note.detail) for note in mapped.fidelity.notes if note.category == "unmapped_user"]
    assert unmapped and len(unmapped) == len(set(unmapped)), "one note per user per board"


def test_mapping_doc_covers_every_field(mapped: Mapped) -> None:
    """docs/MAPPING.md names every collection and every field seen in a real export."""
    doc = (Path(__file__).resolve().parents[1] / "docs" / "MAPPING.md").read_text(encoding="utf-8")
    undocumented = sorted(f"{where}.{name}" for where, names in mapped.fields.items() for name in names
                          if where != "card.properties" and f"`{name}`" not in doc and f"`{name}[]`" not in doc)
    assert not undocumented, " ".join(undocumented)
    assert all(f"`{collection.name}`" in doc for collection in C.ALL)
