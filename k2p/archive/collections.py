"""The collections a Kaiten export holds (documented in docs/FORMAT.md, "Collections").

Every record is ``{"kind", "id", "ref"?, "raw", ...}``: ``raw`` is the source payload verbatim,
``id`` its stable source id as a string, ``ref`` the ids of the records it belongs to.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Collection:
    name: str
    kind: str
    source: str


CURRENT_USER = Collection("current_user", "user", "GET /users/current")
USERS = Collection("users", "user", "GET /users?include_inactive=true")
COMPANY_USERS = Collection("company_users", "company_user", "GET /company/users (admin)")
USER_ROLES = Collection("user_roles", "user_role", "GET /user-roles")
SPACES = Collection("spaces", "space", "GET /spaces")
SPACE_MEMBERS = Collection("space_members", "space_member", "GET /spaces/{id}/users")
SPACE_BOARDS = Collection("space_boards", "space_board", "GET /spaces/{id}/boards (one per binding)")
BOARDS = Collection("boards", "board", "GET /spaces/{id}/boards (one per board)")
COLUMNS = Collection("columns", "column", "GET /boards/{id}/columns (subcolumns nested)")
LANES = Collection("lanes", "lane", "GET /boards/{id}/lanes?condition=1|2|3")
CARD_TYPES = Collection("card_types", "card_type", "GET /card-types")
TAGS = Collection("tags", "tag", "GET /tags, plus tags seen only on cards")
CUSTOM_PROPERTIES = Collection("custom_properties", "custom_property", "GET /company/custom-properties")
SELECT_VALUES = Collection("select_values", "select_value",
                           "GET /company/custom-properties/{id}/select-values")
CATALOG_VALUES = Collection("catalog_values", "catalog_value",
                            "GET /company/custom-properties/{id}/catalog-values")
SPRINTS = Collection("sprints", "sprint", "GET /sprints (admin)")
CARDS = Collection("cards", "card", "GET /cards/{id} (live and archived)")
COMMENTS = Collection("comments", "comment", "GET /cards/{id}/comments")
TIME_LOGS = Collection("time_logs", "time_log", "GET /cards/{id}/time-logs")
LOCATION_HISTORY = Collection("location_history", "location_event", "GET /cards/{id}/location-history")
FILES = Collection("files", "file", "files[] of each card payload, with the stored blob")
DELETED_CARDS = Collection("deleted_cards", "deleted_card",
                           "cards of the previous archive no longer listed (export --since only)")

ALL = (CURRENT_USER, USERS, COMPANY_USERS, USER_ROLES, SPACES, SPACE_MEMBERS, SPACE_BOARDS, BOARDS,
       COLUMNS, LANES, CARD_TYPES, TAGS, CUSTOM_PROPERTIES, SELECT_VALUES, CATALOG_VALUES, SPRINTS,
       CARDS, COMMENTS, TIME_LOGS, LOCATION_HISTORY, FILES, DELETED_CARDS)


def record(collection: Collection, source_id: object, raw: object, *,
           ref: dict[str, str] | None = None, **extra: object) -> dict[str, object]:
    """Build a record envelope in canonical key order."""
    envelope: dict[str, object] = {"kind": collection.kind, "id": str(source_id)}
    if ref:
        envelope["ref"] = ref
    envelope.update(extra)
    envelope["raw"] = raw
    return envelope
