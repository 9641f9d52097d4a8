"""Every collection k2p knows: route, paging, permission behaviour, and what enables it.

The table is the source of the manifest's ``coverage`` (docs/FORMAT.md §2.1) and of the
collections table in docs/FORMAT.md §3; ``tests/test_export_coverage.py`` keeps the three in step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Known:
    name: str
    route: str
    paging: str                  # "unpaged" | "offset 100/100" | "cursor" | "per card" | …
    permission: str              # who may read it and what Kaiten answers otherwise
    option: str | None = None    # the export option that enables it (None: always requested)
    supported: bool = True       # False: k2p knows the route but does not export it
    note: str = ""

    def requested(self, options: Any) -> bool:
        if not self.supported:
            return False
        if self.option is None:
            return True
        return bool(getattr(options, OPTION_FIELDS[self.option], False))


OPTION_FIELDS = {"--with-activity": "with_activity", "--with-baselines": "with_baselines", "--since": "since"}
EVERYONE = "every token; invisible parents answer 403/404"
ADMIN = "company admins; others get 403"

KNOWN: tuple[Known, ...] = (
    Known("current_user", "GET /users/current", "unpaged", "every token"),
    Known("users", "GET /users?include_inactive=true", "offset 100/100", "every token (users sharing a space)"),
    Known("company_users", "GET /company/users", "offset 100/100", ADMIN),
    Known("user_roles", "GET /user-roles", "unpaged", "every token"),
    Known("spaces", "GET /spaces", "unpaged", "every token (visible spaces only)"),
    Known("space_members", "GET /spaces/{id}/users", "unpaged, per space", EVERYONE),
    Known("space_boards", "GET /spaces/{id}/boards", "unpaged, per space", EVERYONE),
    Known("boards", "GET /spaces/{id}/boards", "unpaged, per space", EVERYONE),
    Known("columns", "GET /boards/{id}/columns", "unpaged, per board", EVERYONE),
    Known("lanes", "GET /boards/{id}/lanes?condition=1|2|3", "unpaged, per board", EVERYONE),
    Known("card_types", "GET /card-types", "offset 100/100", "every token"),
    Known("tags", "GET /tags (+ tags seen on cards)", "offset 100/100", "every token"),
    Known("custom_properties", "GET /company/custom-properties", "offset 100/100", "every token"),
    Known("select_values", "GET /company/custom-properties/{id}/select-values", "unpaged", "every token"),
    Known("catalog_values", "GET /company/custom-properties/{id}/catalog-values", "offset 100/100", "every token"),
    Known("sprints", "GET /sprints", "offset 100/100", ADMIN),
    Known("cards", "GET /cards/{id}?broken_api=false", "per card (ids from GET /cards, offset 100/100)", EVERYONE),
    Known("comments", "GET /cards/{id}/comments", "unpaged, per card", EVERYONE),
    Known("time_logs", "GET /cards/{id}/time-logs", "unpaged, per card", "402 without the tariff feature"),
    Known("location_history", "GET /cards/{id}/location-history", "unpaged, per card", EVERYONE),
    Known("files", "files[] of each card; bytes from the file URL", "per file", EVERYONE),
    Known("deleted_cards", "cards of PREVIOUS that GET /cards no longer lists (no request of its own)",
          "derived from the card listing", EVERYONE, option="--since"),
    Known("tree_entities", "GET /tree-entities", "offset 500/500", "every token (visible nodes)"),
    Known("document_groups", "GET /document-groups (version 1; version=2 cursor)", "offset 100/100 or cursor",
          "every token; 402 without the documents feature"),
    Known("documents", "GET /documents, then GET /documents/{uid}", "offset 100/100 or cursor; per document",
          "every token; a restricted document answers 403"),
    Known("document_files", "images and files in documents' data", "per file", "public file host or the API"),
    Known("card_activity", "GET /cards/{id}/activity", "offset 100/100, per card", EVERYONE,
          option="--with-activity", note="about one request per card"),
    Known("card_baselines", "GET /cards/{id}/baselines", "unpaged, per card", EVERYONE,
          option="--with-baselines", note="one request per card"),
    Known("sla_measurements", "GET /cards/{id}/sla-rules-measurements", "unpaged, per service-desk request",
          "400 for cards that are not live service-desk requests (not called for them)"),
    Known("audit_logs", "GET /audit-logs", "offset 500/500, newest first", ADMIN),
    Known("company_groups", "GET /company/groups?limit&offset", "offset 100/100", "402 without the groups feature"),
    Known("service_desk_services", "GET /service-desk/services", "offset 100/100", ADMIN),
    Known("automations", "GET /spaces/{id}/automations", "unpaged, per space", EVERYONE),
    Known("webhooks", "GET /spaces/{id}/webhooks", "unpaged, per space", "space admins; others get 403"),
    Known("external_webhooks", "GET /spaces/{id}/external-webhooks", "unpaged, per space",
          "space admins; others get 403"),
    Known("template_checklists", "GET /spaces/{uid}/template-checklists", "unpaged, per space", EVERYONE),
    Known("iterations", "GET /spaces/{uid}/iterations", "offset 100/100, per space",
          "402 without the iterations feature"),
    Known("company_activity", "GET /company/activity", "offset/cursor", "unknown", supported=False,
          note="not in Kaiten's documentation (one client uses it); card activity is exported per card instead"),
    Known("space_activity", "GET /spaces/{id}/activity", "offset", "unknown", supported=False,
          note="not in Kaiten's documentation; card activity covers the same events"),
    Known("removed_cards", "GET /removed/cards", "-", "405 (recycle bin not readable)", supported=False,
          note="deleted cards cannot be exported"),
    Known("custom_directories", "GET /company/custom-directories", "offset 200/200", "beta", supported=False,
          note="beta feature, not exported yet"),
    Known("company_time_logs", "GET /time-logs?from&to", "offset 100/200", ADMIN, supported=False,
          note="the same rows as the per-card time_logs collection"),
)

BY_NAME = {known.name: known for known in KNOWN}
