"""End to end: simulated Kaiten company → export → import into the Planka simulator → read back
through the Planka API and compare with the Kaiten ground truth under the mapping rules."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterator

import pytest

from k2p.mapping.footer import duration
from k2p.mapping.text import planka_markdown
from k2p.planka.ledger import Ledger
from k2p.planka.users_template import write_users_template
from k2p.testing.kaiten.company import KaitenCompany, generate_company
from k2p.testing.kaiten.sim import KaitenSimulator
from k2p.testing.planka.sim import PlankaSimulator
from tests.helpers.export import export
from tests.helpers.planka_state import PlankaReader, card_fields, import_into, ledger_ids

MAPPED_USERS = 6


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[KaitenCompany, Path]]:
    company = generate_company("small")
    archive = tmp_path_factory.mktemp("e2e") / "small.k2p"
    with KaitenSimulator(company, idle_timeout=300) as sim:
        export(sim, archive)
    yield company, archive


@pytest.fixture(scope="module")
def imported(exported: tuple[KaitenCompany, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    company, archive = exported
    work = tmp_path_factory.mktemp("import")
    with PlankaSimulator(require_terms=True, idle_timeout=300) as planka:
        people = [u for u in sorted(company.users.values(), key=lambda u: u["id"])
                  if u.get("activated") and u.get("email")][:MAPPED_USERS]
        for user in people:
            planka.add_user(email=user["email"], name=user["full_name"], password="Sim-Password-2026!")
        key = planka.create_api_key(planka.admin_email)
        from k2p.planka.client import Credentials
        write_users_template(archive, work / "users.csv", planka_url=planka.url,
                             credentials=Credentials(api_key=key))
        (work / "mapping.toml").write_text('language = "en"\n', encoding="utf-8")
        outcome = import_into(planka, archive, work / "ledger.sqlite", users=work / "users.csv", api_key=key,
                              mapping=work / "mapping.toml")
        yield {"planka": planka, "key": key, "outcome": outcome, "ledger": work / "ledger.sqlite",
               "company": company, "archive": archive, "work": work, "people": people}


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def expected_list_name(company: KaitenCompany, card: dict[str, Any]) -> str | None:
    """``Column`` or ``Column / Subcolumn`` (None when truncation or a placeholder applies)."""
    column = company.columns[card["column_id"]]
    names = [column["title"]]
    if column.get("column_id"):
        names.insert(0, company.columns[column["column_id"]]["title"])
    name = " / ".join(names)
    return name if all(names) and utf16_len(name) <= 128 else None


def test_no_request_was_refused_and_nothing_failed(imported: dict[str, Any]) -> None:
    log = imported["planka"].request_log.snapshot()
    assert not [entry for entry in log if entry.status == 400], "the importer sent an invalid request"
    assert imported["outcome"].tally.failed == 0, imported["outcome"].report["failures"][:3]
    categories = {(item["category"], item["field"]) for item in imported["outcome"].report["fidelity"]}
    assert ("truncated", "description") in categories       # the 1.1 MB description
    assert ("truncated", "name") in categories               # 1024+ char titles, 129-char names
    assert ("unmapped_user", "members") in categories


def test_every_card_once_in_the_right_list_and_archive(imported: dict[str, Any]) -> None:
    company: KaitenCompany = imported["company"]
    reader = PlankaReader(imported["planka"].url, imported["key"])
    card_ids = ledger_ids(imported["ledger"], "card")
    visible = company.cards_visible_to("admin")
    assert sorted(card_ids) == sorted(f"card:{card_id}" for card_id in visible)
    assert len(set(card_ids.values())) == len(card_ids)
    boards = {}
    for card_id in visible:
        kaiten = company.card_payload(card_id)
        data = reader.get(f"/api/cards/{card_ids[f'card:{card_id}']}")
        card = data["item"]
        if card["boardId"] not in boards:
            boards[card["boardId"]] = {item["id"]: item for item in
                                       reader.get(f"/api/boards/{card['boardId']}")["included"]["lists"]}
        lists = boards[card["boardId"]]
        title = kaiten["title"]
        assert card["name"] == title if utf16_len(title) <= 256 else title.startswith(card["name"][:100])
        home = card["prevListId"] if kaiten["condition"] == 2 else card["listId"]
        if kaiten["condition"] == 2:
            assert lists[card["listId"]]["type"] == "archive", f"archived card {card_id} not in the archive list"
        expected = expected_list_name(company, kaiten)
        if expected is not None:
            assert lists[home]["name"] == expected
        column = company.columns[kaiten["column_id"]]
        done = column["type"] == 3 or (column.get("column_id") and company.columns[column["column_id"]]["type"] == 3)
        assert lists[home]["type"] == ("closed" if done else "active")
        if kaiten.get("description") and len(kaiten["description"]) < 30_000:
            body = planka_markdown(kaiten["description"][:2000].rstrip())
            assert card["description"].startswith(body) or (utf16_len(title) > 256 and body in card["description"])
        if kaiten.get("due_date"):
            assert card["dueDate"][:16] == kaiten["due_date"][:16]
        assert card["stopwatch"] is None
        details = card_fields(data)[1]
        if kaiten.get("time_spent_sum"):
            assert details["Time spent"] == duration(kaiten["time_spent_sum"] * 60)


def test_card_order_follows_lanes_then_sort_order(imported: dict[str, Any]) -> None:
    company: KaitenCompany = imported["company"]
    reader = PlankaReader(imported["planka"].url, imported["key"])
    card_ids = ledger_ids(imported["ledger"], "card")
    by_planka = {planka_id: int(key.split(":")[1]) for key, planka_id in card_ids.items()}
    for board_key, board_id in ledger_ids(imported["ledger"], "board").items():
        cards = reader.get(f"/api/boards/{board_id}")["included"]["cards"]
        by_list: dict[str, list[dict[str, Any]]] = {}
        for card in cards:
            by_list.setdefault(card["listId"], []).append(card)
        for planka_cards in by_list.values():
            actual = [by_planka[card["id"]] for card in sorted(planka_cards, key=lambda c: c["position"])]

            def kaiten_order(card_id: int) -> tuple[float, float, int]:
                card = company.card_payload(card_id)
                return (company.lanes[card["lane_id"]]["sort_order"], card["sort_order"], card_id)
            assert actual == sorted(actual, key=kaiten_order), f"{board_key}: cards out of Kaiten order"


def test_labels_tasks_comments_members(imported: dict[str, Any]) -> None:
    company: KaitenCompany = imported["company"]
    reader = PlankaReader(imported["planka"].url, imported["key"])
    card_ids = ledger_ids(imported["ledger"], "card")
    mapped = {user["id"]: imported["planka"].user_id(user["email"]) for user in imported["people"]}
    lane_counts: dict[int, int] = {}
    default: dict[int, int] = {}   # board → its first live lane, whose cards carry no lane label
    for lane in sorted(company.lanes.values(), key=lambda lane: (-lane["sort_order"], -lane["id"])):
        lane_counts[lane["board_id"]] = lane_counts.get(lane["board_id"], 0) + 1
        if lane["condition"] == 1:
            default[lane["board_id"]] = lane["id"]
    checked_html = 0
    for card_id in company.cards_visible_to("admin"):
        kaiten = company.card_payload(card_id)
        data = reader.get(f"/api/cards/{card_ids[f'card:{card_id}']}")
        included = data["included"]
        labels = {label["id"]: label for label in
                  reader.get(f"/api/boards/{data['item']['boardId']}")["included"]["labels"]}
        names = {labels[item["labelId"]]["name"] for item in included["cardLabels"]}
        for tag in kaiten.get("tags") or []:
            if tag["name"] and utf16_len(tag["name"]) <= 128:
                assert tag["name"] in names
        lane_names = {name for name in names if name and name.startswith("Lane: ")}
        labelled = lane_counts[kaiten["board_id"]] > 1 and kaiten["lane_id"] != default[kaiten["board_id"]]
        assert len(lane_names) == (1 if labelled else 0)
        linked = {task["taskListId"] for task in included["tasks"] if task["linkedCardId"]}   # relations
        task_lists = sorted((item for item in included["taskLists"] if item["id"] not in linked),
                            key=lambda item: item["position"])
        assert all(item["position"] > task_lists[-1]["position"] for item in included["taskLists"]
                   if item["id"] in linked and task_lists), "relation lists follow the checklists"
        checklists = sorted(kaiten.get("checklists") or [], key=lambda item: item["sort_order"])
        assert [item["name"] for item in task_lists] == [item["name"][:128] for item in checklists]
        for task_list, checklist in zip(task_lists, checklists):
            tasks = sorted((task for task in included["tasks"] if task["taskListId"] == task_list["id"]),
                           key=lambda task: task["position"])
            items = sorted((item for item in checklist["items"] if not item.get("deleted")),
                           key=lambda item: item["sort_order"])
            assert [(task["name"], task["isCompleted"]) for task in tasks] == \
                   [(item["text"][:1024], bool(item["checked"])) for item in items]
        comments = reader_comments(reader, data["item"]["id"])
        originals = sorted((c for c in company.comments.get(card_id, []) if not c["deleted"]),
                           key=lambda c: (c["created"], c["id"]))
        assert len(comments) == len(originals)
        for text, original in zip(comments, originals):
            author = company.users[original["author_id"]]["full_name"]
            assert author in text.split("\n", 1)[0]
            if original["type"] == 2:
                checked_html += 1
                assert not re.search(r"<[a-zA-Z/][^>]*>", text), f"raw HTML in comment {original['id']}"
        members = {item["userId"] for item in included["cardMemberships"]}
        wanted = {mapped[member["id"]] for member in kaiten.get("members") or [] if member["id"] in mapped}
        assert members == wanted
    assert checked_html > 0


def reader_comments(reader: PlankaReader, card_id: str) -> list[str]:
    return [comment["text"] for comment in reader.comments(card_id)]


def test_attachment_bytes_and_covers(imported: dict[str, Any]) -> None:
    company: KaitenCompany = imported["company"]
    reader = PlankaReader(imported["planka"].url, imported["key"])
    card_ids = ledger_ids(imported["ledger"], "card")
    refs = {(ref.card_id, str(ref.file_id)): ref for ref in company.file_refs()}
    covers = 0
    for card_id in company.cards_visible_to("admin"):
        kaiten = company.card_payload(card_id)
        data = reader.get(f"/api/cards/{card_ids[f'card:{card_id}']}")
        attachments = data["included"]["attachments"]
        files = [a for a in attachments if a["type"] == "file"]
        hashes = {reader.download_sha256(a): a for a in files}
        expected_cover = None
        for file in kaiten.get("files") or []:
            ref = refs.get((card_id, str(file["id"])))
            if ref is None or ref.route == "external":
                if file.get("type") in (2, 3, 4, 5, 6):
                    assert any(a["type"] == "link" and a["data"]["url"] == file["url"] for a in attachments)
                continue
            if ref.expected_status == 200 and not ref.reason:
                sha = company.file_sha256(ref.key)
                assert sha in hashes, f"card {card_id}: file {file['name']} missing in Planka"
                if file.get("card_cover"):
                    expected_cover = hashes[sha]["id"]
        for link in kaiten.get("external_links") or []:
            assert any(a["type"] == "link" and a["data"]["url"] == link["url"] for a in attachments)
        assert data["item"]["coverAttachmentId"] == expected_cover
        covers += expected_cover is not None
    assert covers >= 1


def test_rerun_sends_no_mutating_request(imported: dict[str, Any]) -> None:
    """The rerun of a complete import finds it applied (same archive, settings and ledger) and
    stops early; a ``--recheck`` rerun replans every card and finds each unchanged. Neither writes."""
    planka: PlankaSimulator = imported["planka"]
    before = planka.mutation_count()
    common = dict(users=imported["work"] / "users.csv", api_key=imported["key"],
                  mapping=imported["work"] / "mapping.toml")
    quick = import_into(planka, imported["archive"], imported["ledger"], **common)
    assert planka.mutation_count() == before and quick.exit_code == 0
    assert quick.report["already_applied"]["finished_at"] and quick.report["counts"] == {}
    outcome = import_into(planka, imported["archive"], imported["ledger"], recheck=True, **common)
    assert planka.mutation_count() == before
    assert "already_applied" not in outcome.report
    counts = outcome.report["counts"]
    assert all(row["created"] == row["updated"] == row["failed"] == 0 for row in counts.values())
    assert counts["card"]["unchanged"] == len(imported["company"].cards_visible_to("admin"))


def test_rerun_with_other_settings_or_a_changed_ledger_replans(imported: dict[str, Any]) -> None:
    """Whatever could change the plan makes the rerun replan: here another --on-conflict policy,
    then a ledger row written since (an unfinished intent, as an interrupted run leaves)."""
    planka: PlankaSimulator = imported["planka"]
    before = planka.mutation_count()
    common = dict(users=imported["work"] / "users.csv", api_key=imported["key"],
                  mapping=imported["work"] / "mapping.toml")
    other = import_into(planka, imported["archive"], imported["ledger"], on_conflict="take-kaiten", **common)
    assert "already_applied" not in other.report and other.report["counts"]["card"]["unchanged"] > 0
    again = import_into(planka, imported["archive"], imported["ledger"], on_conflict="take-kaiten", **common)
    assert "already_applied" in again.report          # that run was complete: its record stands
    ledger = Ledger(imported["ledger"])
    try:
        ledger.intent("test:unfinished", "label", None)
    finally:
        ledger.close()
    replanned = import_into(planka, imported["archive"], imported["ledger"], on_conflict="take-kaiten", **common)
    assert "already_applied" not in replanned.report
    assert planka.mutation_count() == before
    ledger = Ledger(imported["ledger"])
    try:
        ledger.forget_intent("test:unfinished")
    finally:
        ledger.close()


def test_dry_run_of_a_complete_import_plans_nothing(imported: dict[str, Any]) -> None:
    planka: PlankaSimulator = imported["planka"]
    before = planka.mutation_count()
    outcome = import_into(planka, imported["archive"], imported["ledger"], users=imported["work"] / "users.csv",
                          api_key=imported["key"], dry_run=True, mapping=imported["work"] / "mapping.toml")
    assert planka.mutation_count() == before
    assert all(row["created"] == row["updated"] == 0 for row in outcome.report["counts"].values())


def test_secrets_never_written(imported: dict[str, Any]) -> None:
    key = imported["key"]
    for path in imported["work"].rglob("*"):
        if path.is_file():
            assert key.encode() not in path.read_bytes(), f"API key found in {path}"
    assert len(key) > 20


def test_report_lists_every_fidelity_note(imported: dict[str, Any]) -> None:
    report = imported["outcome"].report
    notes = report["fidelity_notes"]
    assert sum(group["count"] for group in report["fidelity"]) == len(notes)
    assert all(note["entity"] and note["detail"] for note in notes)
    assert any(note["category"] == "truncated" and note["field"] == "description" for note in notes)
