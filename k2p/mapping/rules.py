"""Mapping policy: the defaults and their overrides from ``mapping.toml`` (docs/MAPPING.md)."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from k2p.errors import ExitCode, K2PError
from k2p.mapping.colors import BLOCKED_COLOR, LABEL_COLORS
from k2p.mapping.wording import DEFAULT_LANGUAGE, MAY_BE_EMPTY, NAMED_KEYS, WORDS, archive_language, word

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

CardType = Literal["project", "story"]
PlankaRole = Literal["admin", "projectOwner", "boardUser"]
SpaceRole = Literal["admin", "writer", "commenter", "reader"]
MAX_TEXT_BUDGET = 1_040_000      # bytes; the server's JSON body limit is 1,048,576 for the whole request


class MappingRules(BaseModel):
    """Every policy choice of the mapping; each field is a top-level key of ``mapping.toml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # spaces → projects
    nested_naming: Literal["path", "leaf"] = "path"
    nested_separator: str = Field(" / ", min_length=1, max_length=16)
    # columns → lists
    subcolumn_separator: str = Field(" / ", min_length=1, max_length=16)
    done_list_type: Literal["closed", "active"] = "closed"
    unknown_column_name: str | None = Field(None, min_length=1, max_length=128)
    # lanes → labels
    lanes: Literal["label", "ignore"] = "label"
    lane_label_prefix: str | None = Field(None, max_length=64)
    lane_label_color: str | None = None     # one colour for every lane; unset: distinct colours
    lane_label_default: bool = False        # also label the cards of the default (first live) lane
    # relations → linked tasks (docs/MAPPING.md "Relations")
    relations: Literal["tasks", "text"] = "tasks"
    # the names below left unset (None) are the language's words (k2p/mapping/wording.py)
    subtasks_list_name: str | None = Field(None, min_length=1, max_length=128)
    parents_list_name: str | None = Field(None, min_length=1, max_length=128)
    blocked_by_list_name: str | None = Field(None, min_length=1, max_length=128)
    blocks_list_name: str | None = Field(None, min_length=1, max_length=128)
    blocked_label: str | None = Field(None, max_length=128)   # "" = no label for blocked cards
    blocked_label_color: str = BLOCKED_COLOR
    # tags → labels: Kaiten palette index → Planka colour, over the built-in table
    tag_colors: dict[int, str] = Field(default_factory=dict)
    # cards
    card_type: CardType = "project"
    card_types: dict[str, CardType] = Field(default_factory=dict)   # Kaiten type id or name → type
    # Kaiten facts Planka has no place for: "fields" (the card's own field group) or "off"
    details: Literal["fields", "off"] = "fields"
    details_group_name: str | None = Field(None, min_length=1, max_length=128)
    # a custom property gets a board-wide field when at least this share of the board's cards has
    # a value; the others become fields of the cards that have one
    board_field_share: float = Field(0.5, ge=0.0, le=1.0)
    # time spent: "field" (a Time spent detail), "stopwatch" (Planka's stopwatch, stopped), "off"
    time_spent: Literal["field", "stopwatch", "off"] = "field"
    # card names longer than this are shortened, the full title opens the description
    name_display_max: int = Field(256, ge=16, le=1024)
    long_title_in_description: bool = True
    # Markdown Planka does not render (task-list items) is rewritten in descriptions and comments
    planka_markdown: bool = True
    card_url: str | None = None       # e.g. "https://acme.kaiten.ru/space/{space_id}/card/{card_id}"
    custom_fields: bool = True
    # "always": every comment starts with its author and date; "unmapped" (default): only comments
    # not posted under their author's own account; "never". true/false (k2p 0.1) = always/never.
    comment_attribution: Literal["always", "unmapped", "never"] = "unmapped"
    placeholder_name: str | None = Field(None, min_length=1, max_length=64)
    # documents (wiki): "archive" (kept in the archive only) or "board" (a Documents board per space);
    # the names left unset are the language's words (documents_board, documents_project, documents_list)
    documents: Literal["archive", "board"] = "archive"
    documents_board_name: str | None = Field(None, min_length=1, max_length=128)
    documents_project_name: str | None = Field(None, min_length=1, max_length=128)   # outside spaces
    documents_root_list: str | None = Field(None, min_length=1, max_length=128)      # not in a group
    # people (k2p import --create-users; docs/MAPPING.md §8)
    new_user_role: PlankaRole = "boardUser"
    space_admin_user_role: PlankaRole = "projectOwner"   # lets a space admin be project manager
    placeholder_email: str = Field("kaiten-user-{kaiten_id}@example.invalid", max_length=200)
    space_roles: dict[str, SpaceRole] = Field(default_factory=dict)   # Kaiten role id → kind
    unknown_space_role: SpaceRole = "writer"
    everyone_spaces: Literal["all_users", "members_only"] = "all_users"
    invite_spaces: Literal["private", "shared"] = "private"   # projects of invite-only spaces
    # long texts (descriptions, comments)
    text_budget_bytes: int = Field(1_000_000, ge=10_000, le=MAX_TEXT_BUDGET)
    truncation_marker: str | None = Field(None, min_length=1, max_length=256)
    # the words k2p writes (field, list and label names, units): "auto" = the language most of the
    # archive's people use in Kaiten; texts overrides single messages by id (wording.WORDS)
    language: Literal["auto", "en", "ru"] = "auto"
    texts: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _footer_switch(cls, data: Any) -> Any:
        """k2p 0.1's ``details_footer = true/false`` means ``details = "fields"/"off"`` now."""
        if isinstance(data, dict) and isinstance(data.get("details_footer"), bool) and "details" not in data:
            data = {**data, "details": "fields" if data["details_footer"] else "off"}
            del data["details_footer"]
        return data

    @field_validator("comment_attribution", mode="before")
    @classmethod
    def _attribution_bool(cls, value: Any) -> Any:
        return {True: "always", False: "never"}.get(value, value) if isinstance(value, bool) else value

    @field_validator("placeholder_email")
    @classmethod
    def _email_template(cls, value: str) -> str:
        if "{kaiten_id}" not in value or "@" not in value:
            raise ValueError("must be an e-mail address template containing {kaiten_id}")
        try:
            value.format(kaiten_id=1)
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"only {{kaiten_id}} may be used ({exc})") from None
        return value

    @field_validator("lane_label_color", "blocked_label_color")
    @classmethod
    def _known_color(cls, value: str | None) -> str | None:
        if value is not None and value not in LABEL_COLORS:
            raise ValueError(f"{value!r} is not a Planka label colour (see docs/MAPPING.md)")
        return value

    @field_validator("tag_colors")
    @classmethod
    def _known_colors(cls, value: dict[int, str]) -> dict[int, str]:
        for index, color in value.items():
            if color not in LABEL_COLORS:
                raise ValueError(f"colour {color!r} for index {index} is not a Planka label colour")
        return value

    @field_validator("placeholder_name", "unknown_column_name", "subtasks_list_name", "parents_list_name",
                     "blocked_by_list_name", "blocks_list_name", "details_group_name", "documents_board_name",
                     "documents_project_name", "documents_root_list")
    @classmethod
    def _visible(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must contain a visible character")
        return value

    @field_validator("card_url")
    @classmethod
    def _url_template(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("http://", "https://")) or "{card_id}" not in value:
            raise ValueError("must be an http(s) URL template containing {card_id}")
        try:
            value.format(card_id=1, board_id=1, space_id=1)
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"only {{card_id}}, {{board_id}} and {{space_id}} may be used ({exc})") from None
        return value

    @field_validator("texts")
    @classmethod
    def _known_texts(cls, value: dict[str, str]) -> dict[str, str]:
        for message, text in value.items():
            if message not in WORDS[DEFAULT_LANGUAGE]:
                raise ValueError(f"unknown message id {message!r} (see docs/MAPPING.md §7 Language)")
            if message not in MAY_BE_EMPTY and not text.strip():
                raise ValueError(f"text of {message!r} must contain a visible character")
            if len(text) > 256:
                raise ValueError(f"text of {message!r} is longer than 256 characters")
            try:
                _check_placeholders(message, text)
            except (KeyError, IndexError, ValueError) as exc:
                raise ValueError(f"text of {message!r}: placeholder {exc} is not one of its own") from None
        return value

    def word(self, message: str, **values: Any) -> str:
        """A word k2p writes, in the rules' language: the named key when set, else ``texts``, else
        the language's text (``auto`` not yet resolved by :func:`localized` reads as English)."""
        named = NAMED_KEYS.get(message)
        value = getattr(self, named) if named else None
        if value is not None:
            return value
        return word(self.language, self.texts, message, **values)

    def planka_card_type(self, type_id: Any, type_name: str | None) -> CardType:
        """The Planka card type for a Kaiten card type (by id, then by name, else ``card_type``)."""
        for key in (str(type_id), type_name):
            if key is not None and key in self.card_types:
                return self.card_types[key]
        return self.card_type


def localized(rules: MappingRules, company: Any) -> MappingRules:
    """``language = "auto"`` resolved from the archive (:func:`~k2p.mapping.wording.archive_language`)."""
    if rules.language != "auto":
        return rules
    return rules.model_copy(update={"language": archive_language(company)})


def _check_placeholders(message: str, text: str) -> None:
    """Format ``text`` with the placeholders of the English message (raises on a foreign one)."""
    names = re.findall(r"{(\w+)}", WORDS[DEFAULT_LANGUAGE][message])
    text.format(**{name: "x" for name in names})


def load_rules(path: Path | None) -> MappingRules:
    """Read ``mapping.toml`` (defaults when ``path`` is None); one-line K2PError on any problem."""
    if path is None:
        return MappingRules()
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise _bad(path, f"cannot read it: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise _bad(path, "is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise _bad(path, f"invalid TOML: {exc}") from None
    try:
        return MappingRules.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        key = ".".join(str(part) for part in error["loc"] if part != "[key]") or "(top level)"
        message = "unknown key" if error["type"] == "extra_forbidden" else error["msg"]
        raise _bad(path, f"key {key!r}: {message}") from None


def _bad(path: Path, message: str) -> K2PError:
    return K2PError(f"{path}: {message}", exit_code=ExitCode.USAGE)
