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

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from k2p.archive import collections as C
from k2p.kaiten.client import KaitenHTTPError
from k2p.kaiten.context import CrawlContext, UnitOutput, id_order

AUDIT_PAGE = 500
PAGE = 100
# (collection, route, page size, keep the source's order)
LISTS = ((C.AUDIT_LOGS, "/audit-logs", AUDIT_PAGE, True),
         (C.COMPANY_GROUPS, "/company/groups", PAGE, False),
         (C.SERVICE_DESK_SERVICES, "/service-desk/services", PAGE, False))


def _fetch(ctx: CrawlContext, path: str, page_size: int) -> list[Any] | KaitenHTTPError:
    try:
        return list(ctx.client.paginate(path, page_size=page_size))
    except KaitenHTTPError as error:
        return error


def export_company_lists(ctx: CrawlContext, out: UnitOutput) -> None:
    """The three lists, asked at the same time (each is one short answer for most companies) and
    written in a fixed order; a definitive refusal becomes one missing entry.

    Audit logs keep the source's order (newest first): new events shift the offsets while paging,
    the client's de-duplication by id absorbs the repeats.
    """
    with ThreadPoolExecutor(max_workers=len(LISTS), thread_name_prefix="company-list") as pool:
        answers = list(pool.map(lambda item: _fetch(ctx, item[1], item[2]), LISTS))
    for (collection, _, _, keep_order), answer in zip(LISTS, answers):
        ctx.open(collection)
        if isinstance(answer, KaitenHTTPError):
            ctx.unavailable(collection, answer)
            continue
        items = ctx.usable(collection, answer)
        rows = items if keep_order else sorted(items, key=lambda item: id_order(item.get("id")))
        for item in rows:
            ctx.write(collection, item.get("id", item.get("uid")), item)
