"""Company-level lists of the complete backup: audit logs, groups, service-desk services.

* ``GET /audit-logs`` — administration events (logins, invitations, permission changes), newest
  first, offset paging with up to 500 per page; company admins only (403 otherwise).
* ``GET /company/groups`` — paged only when ``limit``/``offset`` are given (so they always are);
  402 on tariffs without groups.
* ``GET /service-desk/services`` — the service desk's services (paged 100).

A refused list is one ``missing`` entry (entity ``collection``); the manifest's coverage then
names it ``forbidden`` or ``not_on_tariff``. Audit-log ids are numeric strings; records keep them.
"""

from __future__ import annotations

from k2p.archive import collections as C
from k2p.kaiten.client import KaitenHTTPError
from k2p.kaiten.context import CrawlContext, UnitOutput, id_order

AUDIT_PAGE = 500
PAGE = 100


def export_list(ctx: CrawlContext, collection: C.Collection, path: str, page_size: int, *,
                keep_order: bool = False) -> int:
    """Every item of an offset-paged list; a definitive refusal becomes one missing entry."""
    ctx.open(collection)
    try:
        items = ctx.usable(collection, list(ctx.client.paginate(path, page_size=page_size)))
    except KaitenHTTPError as error:
        ctx.unavailable(collection, error)
        return 0
    rows = items if keep_order else sorted(items, key=lambda item: id_order(item.get("id")))
    for item in rows:
        ctx.write(collection, item.get("id", item.get("uid")), item)
    return len(rows)


def export_audit_logs(ctx: CrawlContext, out: UnitOutput) -> None:
    # Kept in the source's order (newest first): new events shift the offsets while paging, the
    # client's de-duplication by id absorbs the repeats.
    export_list(ctx, C.AUDIT_LOGS, "/audit-logs", AUDIT_PAGE, keep_order=True)


def export_company_lists(ctx: CrawlContext, out: UnitOutput) -> None:
    export_list(ctx, C.COMPANY_GROUPS, "/company/groups", PAGE)
    export_list(ctx, C.SERVICE_DESK_SERVICES, "/service-desk/services", PAGE)
