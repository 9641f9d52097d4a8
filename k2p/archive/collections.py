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

# Collections of the complete backup (k2p.kaiten.extras): documents, activity, audit, settings.
TREE_ENTITIES = Collection("tree_entities", "tree_entity", "GET /tree-entities (paged 500)")
DOCUMENT_GROUPS = Collection("document_groups", "document_group", "GET /document-groups")
DOCUMENTS = Collection("documents", "document", "GET /documents/{uid} for every listed document")
DOCUMENT_FILES = Collection("document_files", "document_file", "images and files a document's data refers to")
CARD_ACTIVITY = Collection("card_activity", "activity_event", "GET /cards/{id}/activity (paged, --with-activity)")
CARD_BASELINES = Collection("card_baselines", "baseline", "GET /cards/{id}/baselines (--with-baselines)")
SLA_MEASUREMENTS = Collection("sla_measurements", "sla_measurement",
                              "GET /cards/{id}/sla-rules-measurements (service-desk requests)")
AUDIT_LOGS = Collection("audit_logs", "audit_event", "GET /audit-logs (admin)")
COMPANY_GROUPS = Collection("company_groups", "group", "GET /company/groups")
SERVICE_DESK_SERVICES = Collection("service_desk_services", "service", "GET /service-desk/services")
AUTOMATIONS = Collection("automations", "automation", "GET /spaces/{id}/automations")
WEBHOOKS = Collection("webhooks", "webhook", "GET /spaces/{id}/webhooks (space admin)")
EXTERNAL_WEBHOOKS = Collection("external_webhooks", "external_webhook",
                               "GET /spaces/{id}/external-webhooks (space admin)")
TEMPLATE_CHECKLISTS = Collection("template_checklists", "template_checklist",
                                 "GET /spaces/{uid}/template-checklists")
ITERATIONS = Collection("iterations", "iteration", "GET /spaces/{uid}/iterations")

ALL = (CURRENT_USER, USERS, COMPANY_USERS, USER_ROLES, SPACES, SPACE_MEMBERS, SPACE_BOARDS, BOARDS,
       COLUMNS, LANES, CARD_TYPES, TAGS, CUSTOM_PROPERTIES, SELECT_VALUES, CATALOG_VALUES, SPRINTS,
       CARDS, COMMENTS, TIME_LOGS, LOCATION_HISTORY, FILES, DELETED_CARDS, TREE_ENTITIES, DOCUMENT_GROUPS, DOCUMENTS,
       DOCUMENT_FILES, CARD_ACTIVITY, CARD_BASELINES, SLA_MEASUREMENTS, AUDIT_LOGS, COMPANY_GROUPS,
       SERVICE_DESK_SERVICES, AUTOMATIONS, WEBHOOKS, EXTERNAL_WEBHOOKS, TEMPLATE_CHECKLISTS, ITERATIONS)


def record(collection: Collection, source_id: object, raw: object, *,
           ref: dict[str, str] | None = None, **extra: object) -> dict[str, object]:
    """Build a record envelope in canonical key order."""
    envelope: dict[str, object] = {"kind": collection.kind, "id": str(source_id)}
    if ref:
        envelope["ref"] = ref
    envelope.update(extra)
    envelope["raw"] = raw
    return envelope
