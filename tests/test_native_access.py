"""Native navigation and access end to end, through the Planka simulator: relations as linked
tasks, the Blocked label, lane labels, private projects for invite-only spaces, and an importing
account that keeps no card subscription; then a rerun, and a newer archive with one new relation."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

from k2p.testing.kaiten.company import KaitenCompany, generate_company
from k2p.testing.kaiten.generator import SPACE_ROLE_ADMIN
from k2p.testing.kaiten.sim import KaitenSimulator
from k2p.testing.planka.sim import PlankaSimulator
from tests.helpers.export import export
from tests.helpers.planka_state import PlankaReader, card_fields, import_into, ledger_ids

PASSWORD = "Sim-Password-2026!"
MAPPED = 3        # people with a Planka account of their own: the importer posts their comments
NAMES = {"children_ids": "Subtasks", "parents_ids": "Parents", "blocked_by_card_ids": "Blocked by",
         "blocks_card_ids": "Blocks"}


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    company = generate_company("tiny")
    work = tmp_path_factory.mktemp("native")
    with KaitenSimulator(company, idle_timeout=300) as kaiten, PlankaSimulator(idle_timeout=300) as planka:
        export(kaiten, work / "first.k2p")
        people = sorted((user for user in company.users.values() if user.get("activated")), key=lambda u: u["id"])
        mapped = people[1:1 + MAPPED]
        for user in mapped:
            planka.add_user(email=user["email"], name=user["full_name"], password=PASSWORD)
        rows = ["kaiten_id,kaiten_name,kaiten_email,action,planka_user"]
        rows += [f"{user['id']},,,{'map' if user in mapped else 'create'},{user['email'] if user in mapped else ''}"
                 for user in people]
        (work / "users.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
        (work / "mapping.toml").write_text(f'language = "en"\nspace_roles = {{ "{SPACE_ROLE_ADMIN}" = "admin" }}\n',
                                           encoding="utf-8")
        key = planka.create_api_key(planka.admin_email)
        options = dict(api_key=key, users=work / "users.csv", create_users=True,
                       credentials_out=work / "credentials.csv", mapping=work / "mapping.toml")
        outcome = import_into(planka, work / "first.k2p", work / "ledger.sqlite", **options)
        yield {"company": company, "kaiten": kaiten, "planka": planka, "key": key, "work": work, "outcome": outcome,
               "ledger": work / "ledger.sqlite", "options": options, "admin": planka.user_id(planka.admin_email)}


def _linked(reader: PlankaReader, card_id: str) -> dict[str, list[str]]:
    """Task list name → linked card ids, in position order, of one Planka card."""
    included = reader.get(f"/api/cards/{card_id}")["included"]
    found: dict[str, list[str]] = {}
    for task_list in sorted(included["taskLists"], key=lambda item: item["position"]):
        tasks = sorted((task for task in included["tasks"] if task["taskListId"] == task_list["id"]
                        and task["linkedCardId"]), key=lambda task: task["position"])
        if tasks:
            found[task_list["name"]] = [task["linkedCardId"] for task in tasks]
    return found


def _expected(company: KaitenCompany, kaiten_id: int, cards: dict[str, str]) -> dict[str, list[str]]:
    card = company.cards[kaiten_id]
    blockers = [row["blocker_card_id"] for row in company.blockers.get(kaiten_id, [])
                if row["blocker_card_id"] and not row["released"]]
    expected = {}
    for field, name in NAMES.items():
        ids = list(dict.fromkeys((blockers if field == "blocked_by_card_ids" else []) + list(card[field] or [])))
        linked = [cards[f"card:{other}"] for other in ids if f"card:{other}" in cards]
        if linked:
            expected[name] = linked
    return expected


def test_relations_are_tasks_linked_to_the_imported_cards(imported: dict[str, Any]) -> None:
    company, reader = imported["company"], PlankaReader(imported["planka"].url, imported["key"])
    assert imported["outcome"].tally.failed == 0, imported["outcome"].report["failures"][:3]
    cards = ledger_ids(imported["ledger"], "card")
    tasks = imported["planka"].store.tables["tasks"].values()
    related = 0
    for key, card_id in cards.items():
        expected = _expected(company, int(key.split(":")[1]), cards)
        assert _linked(reader, card_id) == expected, key
        related += bool(expected)
    assert related >= 4, "the company has parents, children and blockers"
    landmarks = company.landmarks
    parent, child = cards[f"card:{landmarks['parent_card']}"], cards[f"card:{landmarks['child_card']}"]
    assert child in _linked(reader, parent)["Subtasks"] and _linked(reader, child)["Parents"] == [parent]
    blocked, blocker = cards[f"card:{landmarks['blocked_card']}"], cards[f"card:{landmarks['blocker_card']}"]
    assert blocker in _linked(reader, blocked)["Blocked by"] and blocked in _linked(reader, blocker)["Blocks"]
    for task in tasks:   # Planka named each linked task after its card and completed it when closed
        if task["linkedCardId"]:
            linked = imported["planka"].store.tables["cards"][task["linkedCardId"]]
            assert task["name"] == linked["name"] and (task["isCompleted"] or not linked["isClosed"])


def test_blocked_cards_carry_the_red_blocked_label(imported: dict[str, Any]) -> None:
    company, reader = imported["company"], PlankaReader(imported["planka"].url, imported["key"])
    blocked = 0
    for key, card_id in ledger_ids(imported["ledger"], "card").items():
        data = reader.get(f"/api/cards/{card_id}")
        labels = {label["id"]: label for label in
                  reader.get(f"/api/boards/{data['item']['boardId']}")["included"]["labels"]}
        names = [(labels[item["labelId"]]["name"], labels[item["labelId"]]["color"])
                 for item in data["included"]["cardLabels"]]
        is_blocked = company.cards[int(key.split(":")[1])]["blocked"] is True
        assert (("Blocked", "berry-red") in names) == is_blocked, key
        blocked += is_blocked
    assert blocked >= 2


def test_default_lane_has_no_label_and_lane_colours_differ(imported: dict[str, Any]) -> None:
    company, reader = imported["company"], PlankaReader(imported["planka"].url, imported["key"])
    boards = ledger_ids(imported["ledger"], "board")
    checked = 0
    for key, board_id in boards.items():
        lanes = sorted((lane for lane in company.lanes.values() if lane["board_id"] == int(key.split(":")[1])),
                       key=lambda lane: (lane["sort_order"], lane["id"]))
        labels = [label for label in reader.get(f"/api/boards/{board_id}")["included"]["labels"]
                  if (label["name"] or "").startswith("Lane: ")]
        default = next(lane for lane in lanes if lane["condition"] == 1)
        assert f"Lane: {default['title']}" not in {label["name"] for label in labels}
        assert len({label["color"] for label in labels}) == len(labels), key
        checked += len(labels) > 1
    assert checked, "some board has several labelled lanes"


def test_invite_only_space_is_a_private_project_for_its_members(imported: dict[str, Any]) -> None:
    company, planka = imported["company"], imported["planka"]
    projects = ledger_ids(imported["ledger"], "project")
    hidden = projects[f"project:{company.landmarks['hidden_space']}"]
    shared = projects[f"project:{company.landmarks['product_space']}"]
    assert planka.store.tables["projects"][hidden]["ownerProjectManagerId"]
    other_admin = planka.add_user(email="other-admin@example.org", name="Other admin", role="admin")
    accounts = {int(key.split(":")[1]): planka_id
                for key, planka_id in ledger_ids(imported["ledger"], "user").items() if key.count(":") == 1}
    member = accounts[company.landmarks["directors_only_users"][0]]

    def visible(user_id: str) -> set[str]:
        key = imported["key"] if user_id == imported["admin"] else planka.create_api_key(user_id)
        return {project["id"] for project in PlankaReader(planka.url, key).get("/api/projects")["items"]}

    assert shared in visible(other_admin) and hidden not in visible(other_admin)
    assert hidden in visible(member) and hidden in visible(imported["admin"])
    reader = PlankaReader(planka.url, planka.create_api_key(other_admin))
    assert reader.session.get(f"{planka.url}/api/projects/{hidden}", timeout=30).status_code == 404
    def managers(project_id: str) -> list[str]:
        return [row["userId"] for row in planka.store.tables["project_managers"].values()
                if row["projectId"] == project_id]

    assert managers(hidden) == [imported["admin"]]
    assert len(managers(shared)) > 1, "space admins manage a shared project"
    notes = {(note["entity"], note["field"]) for note in imported["outcome"].report["fidelity_notes"]}
    hidden_key = f"project:{company.landmarks['hidden_space']}"
    assert (hidden_key, "managers") in notes and (hidden_key, "members") not in notes


def test_the_importing_account_holds_no_card_subscription(imported: dict[str, Any]) -> None:
    planka, admin = imported["planka"], imported["admin"]
    own_comments = [c for c in planka.store.tables["comments"].values() if c["userId"] == admin]
    assert own_comments, "the importer posted the comments of people it cannot act as"
    assert not [card_id for card_id in planka.store.tables["cards"] if admin in planka.store.card_subscriptions.users(card_id)]
    me = planka.store.tables["users"][admin]
    assert me["subscribeToCardWhenCommenting"] is True, "the setting is back as it was"


def test_rerun_writes_nothing_and_a_new_relation_adds_linked_tasks(imported: dict[str, Any]) -> None:
    planka, company, work = imported["planka"], imported["company"], imported["work"]
    before = planka.mutation_count()
    rerun = import_into(planka, work / "first.k2p", imported["ledger"], **imported["options"])
    assert planka.mutation_count() == before and rerun.tally.failed == 0

    board = company.cards[company.landmarks["parent_card"]]["board_id"]
    parent, child = [card_id for card_id, card in sorted(company.cards.items()) if card["board_id"] == board
                     and card["condition"] == 1 and not card["parents_ids"] and not card["children_ids"]
                     and not card["blocked"] and not card["blocks_card_ids"]][:2]
    company.cards[child]["parents_ids"] = [parent]
    company.cards[parent]["children_ids"] = [child]
    released = company.landmarks["blocked_card"]
    company.cards[released]["blocked"] = False
    for row in company.blockers[released]:
        row["released"] = True
    export(imported["kaiten"], work / "second.k2p")
    second = import_into(planka, work / "second.k2p", imported["ledger"], **imported["options"])
    created = {kind: counts["created"] for kind, counts in second.report["counts"].items() if counts["created"]}
    # One linked task on each side of the relation, and no text repeating it in the cards' details
    # (text is only for cards outside the import, which cannot be linked).
    assert created == {"linked_task": 2, "task_list": 2}, created
    cards = ledger_ids(imported["ledger"], "card")
    reader = PlankaReader(planka.url, imported["key"])
    assert _linked(reader, cards[f"card:{parent}"]) == {"Subtasks": [cards[f"card:{child}"]]}
    assert _linked(reader, cards[f"card:{child}"]) == {"Parents": [cards[f"card:{parent}"]]}
    labels = {label["id"]: label["name"] for label in planka.store.tables["labels"].values()}
    card_labels = planka.store.tables["card_labels"].values()
    assert "Blocked" not in [labels[item["labelId"]] for item in card_labels if item["cardId"] == cards[f"card:{released}"]]
    assert second.report["counts"]["card_label"]["updated"] == 1, "the released block's label was taken off"
    before = planka.mutation_count()
    import_into(planka, work / "second.k2p", imported["ledger"], **imported["options"])
    assert planka.mutation_count() == before, "the taken-off label and the new links stay put"


def test_a_card_imported_later_is_linked_by_the_next_run_of_its_board(tmp_path: Path) -> None:
    company = generate_company("tiny")
    parent = company.landmarks["parent_card"]
    first_board = company.cards[parent]["board_id"]
    child = next(card_id for card_id, card in sorted(company.cards.items()) if card["board_id"] != first_board
                 and card["condition"] == 1 and not any(card[field] for field in NAMES))
    company.cards[child]["parents_ids"] = [parent]
    company.cards[parent]["children_ids"] = [*company.cards[parent]["children_ids"], child]
    ledger = tmp_path / "ledger.sqlite"
    with KaitenSimulator(company, idle_timeout=300) as kaiten, PlankaSimulator(idle_timeout=300) as planka:
        export(kaiten, tmp_path / "a.k2p")
        key = planka.create_api_key(planka.admin_email)
        reader = PlankaReader(planka.url, key)
        english = tmp_path / "en.toml"
        english.write_text('language = "en"\n', encoding="utf-8")
        first = import_into(planka, tmp_path / "a.k2p", ledger, api_key=key, boards=(first_board,), mapping=english)
        cards = ledger_ids(ledger, "card")
        assert f"card:{child}" not in cards and child not in _linked(reader, cards[f"card:{parent}"])["Subtasks"]

        def children_text() -> str | None:
            return card_fields(reader.get(f"/api/cards/{cards[f'card:{parent}']}"))[1].get("Children")

        # not in Planka yet: the relation stays text, with the Kaiten title
        assert children_text() == f"#{child} {company.cards[child]['title']}"
        assert (f"card:{parent}", "relations") in {(n["entity"], n["field"]) for n in first.report["fidelity_notes"]}
        import_into(planka, tmp_path / "a.k2p", ledger, api_key=key, boards=(company.cards[child]["board_id"],),
                    mapping=english)
        cards = ledger_ids(ledger, "card")
        assert _linked(reader, cards[f"card:{child}"]) == {"Parents": [cards[f"card:{parent}"]]}
        assert cards[f"card:{child}"] not in _linked(reader, cards[f"card:{parent}"])["Subtasks"]
        import_into(planka, tmp_path / "a.k2p", ledger, api_key=key, mapping=english)   # the whole archive again
        assert _linked(reader, cards[f"card:{parent}"])["Subtasks"][-1] == cards[f"card:{child}"]
        assert children_text() is None      # linked now: no longer repeated as text
        before = planka.mutation_count()
        import_into(planka, tmp_path / "a.k2p", ledger, api_key=key, mapping=english)
        assert planka.mutation_count() == before
