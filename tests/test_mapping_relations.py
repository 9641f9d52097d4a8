"""Relations, access and lanes in the plan: pure mapping, no server."""

from __future__ import annotations

from k2p.mapping.colors import LANE_COLORS, lane_color
from k2p.mapping.projects import project_type
from k2p.mapping.relations import LinkPlan, RelationListPlan, is_blocked, plan_relations, related_ids, resolve
from k2p.mapping.rules import MappingRules

CARD = {"id": 1, "children": [{"id": 3, "title": "c"}], "children_ids": [2, 3], "parents_ids": [9],
        "blockers": [{"blocker_card_id": 5, "released": False}, {"blocker_card_id": 6, "released": True},
                     {"blocker_card_id": None, "released": False}],
        "blocked_by_card_ids": [5, 7], "blocks_card_ids": [8, 1], "blocked": True}


def test_related_ids_merge_summaries_and_ids_once_in_kaiten_order() -> None:
    assert related_ids(CARD, "children") == ["3", "2"]
    assert related_ids(CARD, "parents") == ["9"]
    assert related_ids(CARD, "blocked_by") == ["5", "7"]      # released blocker 6 left out
    assert related_ids(CARD, "blocks") == ["8"]               # never the card itself
    assert related_ids({"id": 1, "children_ids": None, "blocks_card_ids": [True, {"x": 1}]}, "blocks") == []
    hostile = {"id": 1, "children": 7, "children_ids": "23", "blockers": {"blocker_card_id": 5}, "blocks_card_ids": 8}
    assert [related_ids(hostile, kind) for kind in ("children", "blocked_by", "blocks")] == [[], [], []]


def test_one_task_list_per_kind_named_by_policy() -> None:
    plans = plan_relations(CARD, MappingRules())
    assert [(item.key, item.name, [link.key for link in item.links]) for item in plans] == [
        ("tasklist:1:relation:children", "Subtasks", ["task:1:children:3", "task:1:children:2"]),
        ("tasklist:1:relation:parents", "Parents", ["task:1:parents:9"]),
        ("tasklist:1:relation:blocked_by", "Blocked by", ["task:1:blocked_by:5", "task:1:blocked_by:7"]),
        ("tasklist:1:relation:blocks", "Blocks", ["task:1:blocks:8"]),
    ]
    assert plans[0].links[0].target_key == "card:3"
    named = plan_relations(CARD, MappingRules(subtasks_list_name="Children", blocks_list_name="Blocking"))
    assert [item.name for item in named] == ["Children", "Parents", "Blocked by", "Blocking"]
    assert plan_relations(CARD, MappingRules(relations="text")) == []
    assert plan_relations({"id": 4}, MappingRules()) == []


def test_resolve_keeps_links_to_cards_in_planka_and_drops_empty_lists() -> None:
    lists = [RelationListPlan("a", "Subtasks", [LinkPlan("t1", "card:2"), LinkPlan("t2", "card:3")]),
             RelationListPlan("b", "Parents", [LinkPlan("t3", "card:9")])]
    assert resolve(lists, {"card:3": "300", "card:9": None}) == [
        RelationListPlan("a", "Subtasks", [LinkPlan("t2", "card:3")])]


def test_blocked_label_follows_the_active_block() -> None:
    assert is_blocked(CARD, MappingRules()) and not is_blocked({**CARD, "blocked": False}, MappingRules())
    assert not is_blocked(CARD, MappingRules(blocked_label=""))


def test_invite_only_spaces_become_private_projects() -> None:
    assert project_type({"access": "by_invite"}, MappingRules()) == "private"
    assert project_type({"access": "for_everyone"}, MappingRules()) == "shared"
    assert project_type({}, MappingRules()) == "shared"
    assert project_type({"access": "by_invite"}, MappingRules(invite_spaces="shared")) == "shared"


def test_lane_colours_are_distinct_and_never_the_blocked_red() -> None:
    assert len(set(LANE_COLORS)) == len(LANE_COLORS) and MappingRules().blocked_label_color not in LANE_COLORS
    assert [lane_color(index) for index in range(3)] == list(LANE_COLORS[:3])
    assert lane_color(len(LANE_COLORS)) == LANE_COLORS[0] and lane_color(5, "gun-metal") == "gun-metal"
