"""mapping.toml loading and the Kaiten palette → Planka colour table."""

from __future__ import annotations

from pathlib import Path

import pytest

from k2p.errors import ExitCode, K2PError
from k2p.mapping.colors import DEFAULT_COLOR, LABEL_COLORS, PALETTE, label_color
from k2p.mapping.rules import MappingRules, load_rules
from k2p.testing.planka.boards import LABEL_COLORS as SIMULATOR_COLORS


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mapping.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_a_file() -> None:
    rules = load_rules(None)
    assert rules == MappingRules()
    assert (rules.nested_naming, rules.lanes, rules.done_list_type, rules.card_type) == ("path", "label", "closed",
                                                                                          "project")
    assert rules.details == "fields" and rules.comment_attribution and rules.custom_fields
    assert (rules.time_spent, rules.name_display_max, rules.board_field_share) == ("field", 256, 0.5)
    assert rules.long_title_in_description and rules.planka_markdown and rules.word("details_group") == "Details"
    assert rules.text_budget_bytes == 1_000_000 and rules.card_url is None


def test_overrides(tmp_path: Path) -> None:
    rules = load_rules(write(tmp_path, """
nested_naming = "leaf"
lanes = "ignore"
done_list_type = "active"
subcolumn_separator = " → "
card_type = "story"
card_types = { "300002" = "project", "Bug" = "project" }
tag_colors = { 3 = "berry-red", "4" = "sunny-grass" }
card_url = "https://acme.kaiten.ru/space/{space_id}/card/{card_id}"
details = "off"
time_spent = "stopwatch"
name_display_max = 1024
board_field_share = 0.0
text_budget_bytes = 500000
"""))
    assert rules.nested_naming == "leaf" and rules.lanes == "ignore" and rules.done_list_type == "active"
    assert rules.tag_colors == {3: "berry-red", 4: "sunny-grass"}
    assert rules.planka_card_type(300002, "Other") == "project"
    assert rules.planka_card_type(1, "Bug") == "project"
    assert rules.planka_card_type(1, "Card") == "story"
    assert rules.details == "off" and rules.text_budget_bytes == 500_000
    assert (rules.time_spent, rules.name_display_max, rules.board_field_share) == ("stopwatch", 1024, 0.0)


@pytest.mark.parametrize("text, key", [
    ('lanes = "swimlanes"', "lanes"),
    ('nested_naming = 3', "nested_naming"),
    ('lane_label_color = "pink"', "lane_label_color"),
    ('tag_colors = { 3 = "pink" }', "tag_colors"),
    ('tag_colors = { x = "berry-red" }', "tag_colors.x"),
    ("text_budget_bytes = 2000000", "text_budget_bytes"),
    ('card_url = "https://acme.kaiten.ru/{card}"', "card_url"),
    ('placeholder_name = "   "', "placeholder_name"),
    ('colour = "red"', "colour"),
    ('card_types = { Bug = "task" }', "card_types.Bug"),
    ('details = "footer"', "details"),
    ("board_field_share = 1.5", "board_field_share"),
    ("name_display_max = 2000", "name_display_max"),
    ('time_spent = "timer"', "time_spent"),
    ('details_group_name = " "', "details_group_name"),
])
def test_bad_values_name_the_file_and_key(tmp_path: Path, text: str, key: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(K2PError) as raised:
        load_rules(path)
    message = raised.value.message
    assert message.startswith(f"{path}: key {key!r}:"), message
    assert "\n" not in message and raised.value.exit_code == ExitCode.USAGE


def test_the_old_footer_switch_still_reads(tmp_path: Path) -> None:
    assert load_rules(write(tmp_path, "details_footer = false")).details == "off"
    assert load_rules(write(tmp_path, "details_footer = true")).details == "fields"
    with pytest.raises(K2PError, match="key 'details_footer': unknown key"):
        load_rules(write(tmp_path, 'details_footer = false\ndetails = "fields"'))


def test_unknown_key_is_reported_as_such(tmp_path: Path) -> None:
    with pytest.raises(K2PError, match="key 'colour': unknown key"):
        load_rules(write(tmp_path, 'colour = "red"'))


def test_invalid_toml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(K2PError, match=r"mapping\.toml: invalid TOML"):
        load_rules(write(tmp_path, "lanes = "))
    with pytest.raises(K2PError, match="cannot read it"):
        load_rules(tmp_path / "absent.toml")


def test_colour_table_only_uses_planka_colours() -> None:
    assert set(LABEL_COLORS) == set(SIMULATOR_COLORS) and len(LABEL_COLORS) == 42
    for index in [None, -1, 0, *range(1, 60), True, "3"]:
        assert label_color(index) in LABEL_COLORS          # type: ignore[arg-type]
    assert set(PALETTE.values()) <= set(LABEL_COLORS)
    assert len(set(PALETTE[index] for index in range(1, 26))) == 25  # distinct Kaiten colours stay distinct
    assert label_color(None) == label_color(999) == DEFAULT_COLOR
    assert label_color(3, {3: "wet-moss"}) == "wet-moss"


def test_documented_toml_is_complete_and_matches_the_defaults(tmp_path: Path) -> None:
    doc = (Path(__file__).resolve().parents[1] / "docs" / "MAPPING.md").read_text(encoding="utf-8")
    block = doc.split("```toml\n", 1)[1].split("```", 1)[0]
    assert load_rules(write(tmp_path, block)) == MappingRules()
    assert all(f"\n{name} =" in block or f"# {name} =" in block for name in MappingRules.model_fields)
