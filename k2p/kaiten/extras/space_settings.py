"""Per-space configuration: automations, webhooks, external webhooks, template checklists, iterations.

One resumable unit per space in scope (``settings:<space id>``). Routes (research §4.19, §4.22):

* ``GET /spaces/{id}/automations`` — unpaged; UUID ids, open enums ``type``/``status``.
* ``GET /spaces/{id}/webhooks``, ``GET /spaces/{id}/external-webhooks`` — unpaged; space
  administrators only, others get 403: one ``missing`` entry per space.
* ``GET /spaces/{uid}/template-checklists`` — unpaged, with items.
* ``GET /spaces/{uid}/iterations`` — offset paging, 100 per page; 402 when the tariff lacks
  iterations, which applies to every space: reported once, the route is not asked again.

Records carry ``ref.space_id``; their id is the item's own id (UUIDs as is).
"""

from __future__ import annotations

from typing import Any

from k2p.archive import collections as C
from k2p.kaiten.client import KaitenHTTPError
from k2p.kaiten.context import CrawlContext, UnitOutput, id_order, missing_from_error

PAGE = 100
ONCE = (402, 405)   # a tariff or method limit holds for every space: report it once
SPACE_ROUTES = ((C.AUTOMATIONS, "/spaces/{id}/automations", False),
                (C.WEBHOOKS, "/spaces/{id}/webhooks", False),
                (C.EXTERNAL_WEBHOOKS, "/spaces/{id}/external-webhooks", False),
                (C.TEMPLATE_CHECKLISTS, "/spaces/{uid}/template-checklists", False),
                (C.ITERATIONS, "/spaces/{uid}/iterations", True))


def spaces_in_scope(ctx: CrawlContext) -> list[Any]:
    """Spaces whose settings are exported: all in a full export, else the chosen ones (``--space``)."""
    if ctx.options.full_scope:
        return list(ctx.journal.get("space_ids") or [])
    return list(ctx.journal.get("scoped_space_ids") or [])


def space_uids(ctx: CrawlContext) -> dict[str, str]:
    """Space id → uid, from the tree the documents unit wrote (or the spaces listing)."""
    return {str(key): str(value) for key, value in (ctx.journal.get("space_uids") or {}).items()}


def export_space_settings(ctx: CrawlContext, out: UnitOutput, space_id: Any, uid: str | None) -> None:
    ref = {"space_id": str(space_id)}
    if uid is None:
        try:
            space = ctx.client.get_json(f"/spaces/{space_id}")
            uid = str(space["uid"]) if isinstance(space, dict) and space.get("uid") else None
        except KaitenHTTPError:
            uid = None
    for collection, template, paged in SPACE_ROUTES:
        ctx.open(collection)
        if "{uid}" in template and uid is None:
            ctx.missing("collection", f"{collection.name}:{space_id}", "not_found", ref=ref,
                        collection=collection.name, detail="the space's uid is unknown")
            continue
        path = template.format(id=space_id, uid=uid)
        if ctx.route_disabled(collection.name) or ctx.journal.get(f"disabled:{collection.name}"):
            continue
        try:
            items = list(ctx.client.paginate(path, page_size=PAGE)) if paged else ctx.client.get_json(path, salvage=True)
        except KaitenHTTPError as error:
            if error.status in ONCE:
                if ctx.disable_route(collection.name, error.reason):
                    ctx.writer.add_missing(missing_from_error("collection", collection.name, error,
                                                              collection=collection.name))
                out.meta[f"disabled:{collection.name}"] = error.reason
            else:
                ctx.unavailable(collection, error, ref)
            continue
        rows = ctx.usable(collection, items if isinstance(items, list) else [], ref)
        for item in sorted(rows, key=lambda row: id_order(row.get("id", row.get("uid")))):
            ctx.write(collection, item.get("id", item.get("uid")), item, ref=ref)
