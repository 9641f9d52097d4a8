"""Kaiten palette indexes → Planka label colours.

Kaiten stores colours as integer palette indexes and does not publish the palette (research §5:
tags use 1–17 in practice, card types up to 23). The table below spreads the indexes over
distinct Planka hues so that different Kaiten colours stay different; it is an approximation,
overridable per index with ``tag_colors`` in ``mapping.toml`` (docs/MAPPING.md).
"""

from __future__ import annotations

from typing import Mapping

# Planka 2.x label colours, exactly as the server validates them (research §2.7).
LABEL_COLORS: tuple[str, ...] = (
    "muddy-grey", "autumn-leafs", "morning-sky", "antique-blue", "egg-yellow", "desert-sand",
    "dark-granite", "fresh-salad", "lagoon-blue", "midnight-blue", "light-orange", "pumpkin-orange",
    "light-concrete", "sunny-grass", "navy-blue", "lilac-eyes", "apricot-red", "orange-peel",
    "silver-glint", "bright-moss", "deep-ocean", "summer-sky", "berry-red", "light-cocoa", "grey-stone",
    "tank-green", "coral-green", "sugar-plum", "pink-tulip", "shady-rust", "wet-rock", "wet-moss",
    "turquoise-sea", "lavender-fields", "piggy-red", "light-mud", "gun-metal", "modern-green",
    "french-coast", "sweet-lilac", "red-burgundy", "pirate-gold",
)

DEFAULT_COLOR = "light-concrete"   # unknown or missing index: a neutral grey
BLOCKED_COLOR = "berry-red"        # the ``Blocked`` label

# Lane labels, in lane order: well-separated hues, none of them the ``Blocked`` red.
LANE_COLORS: tuple[str, ...] = (
    "lagoon-blue", "pumpkin-orange", "fresh-salad", "lilac-eyes", "egg-yellow", "turquoise-sea",
    "pink-tulip", "light-cocoa", "midnight-blue", "sunny-grass", "sugar-plum", "desert-sand",
    "navy-blue", "bright-moss", "orange-peel", "deep-ocean", "sweet-lilac", "tank-green",
    "french-coast", "pirate-gold", "coral-green", "summer-sky", "light-orange", "dark-granite",
)

PALETTE: dict[int, str] = {
    1: "muddy-grey",
    2: "berry-red",
    3: "pumpkin-orange",
    4: "egg-yellow",
    5: "fresh-salad",
    6: "turquoise-sea",
    7: "lagoon-blue",
    8: "midnight-blue",
    9: "lilac-eyes",
    10: "pink-tulip",
    11: "light-cocoa",
    12: "dark-granite",
    13: "apricot-red",
    14: "light-orange",
    15: "sunny-grass",
    16: "bright-moss",
    17: "summer-sky",
    18: "navy-blue",
    19: "sugar-plum",
    20: "piggy-red",
    21: "desert-sand",
    22: "grey-stone",
    23: "coral-green",
    24: "deep-ocean",
    25: "sweet-lilac",
    26: "orange-peel",
    27: "tank-green",
    28: "red-burgundy",
    29: "pirate-gold",
    30: "french-coast",
}


def label_color(palette_index: int | None, overrides: Mapping[int, str] | None = None) -> str:
    """The Planka label colour for a Kaiten palette index (``DEFAULT_COLOR`` when unknown)."""
    if isinstance(palette_index, bool) or not isinstance(palette_index, int):
        return DEFAULT_COLOR
    if overrides and palette_index in overrides:
        return overrides[palette_index]
    return PALETTE.get(palette_index, DEFAULT_COLOR)


def lane_color(index: int, fixed: str | None = None) -> str:
    """The colour of the ``index``-th labelled lane of a board (``fixed`` for all, if set)."""
    return fixed or LANE_COLORS[index % len(LANE_COLORS)]
