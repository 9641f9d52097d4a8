"""Company-level collections: identity, users, roles, card types, custom properties, tags, sprints."""

from __future__ import annotations

from typing import Any

from k2p.archive import collections as C
from k2p.kaiten.client import IDENTITY_ATTEMPTS, KaitenClient, KaitenHTTPError
from k2p.kaiten.context import CrawlContext, UnitOutput, id_order
from k2p.errors import RemoteError

PAGE = 100  # documented maximum of every paged company-level list (research §2.2)




def _export_list(ctx: CrawlContext, collection: C.Collection, path: str,
                 params: dict[str, Any] | None = None, *, paged: bool = True) -> list[dict[str, Any]]:
    """Write every item of a list route; a 402/403/404/405 becomes one missing entry."""
    ctx.open(collection)
    try:
        items = list(ctx.client.paginate(path, params, page_size=PAGE)) if paged \
            else ctx.client.get_json(path, params, salvage=True)
    except KaitenHTTPError as error:
        ctx.unavailable(collection, error)
        return []
    if not isinstance(items, list):
        raise RemoteError(f"GET {path} answered a {type(items).__name__} where a list was expected")
    rows = sorted(ctx.usable(collection, items), key=lambda item: id_order(item.get("id")))
    for item in rows:
        ctx.write(collection, item.get("id"), item)
    return rows


def fetch_identity(client: KaitenClient) -> dict[str, Any]:
    """``GET /users/current``: validates the token (401 stops the export) and names the company."""
    try:
        user = client.get_json("/users/current", attempts=IDENTITY_ATTEMPTS)
    except KaitenHTTPError as error:
        raise RemoteError(f"{error}; check the token and --kaiten-url") from None
    if not isinstance(user, dict) or "id" not in user:
        raise RemoteError(f"GET {client.endpoint.api_base}/users/current did not answer a user; "
                          f"is --kaiten-url a Kaiten company?")
    return user


def export_identity(ctx: CrawlContext, out: UnitOutput, user: dict[str, Any]) -> None:
    ctx.write(C.CURRENT_USER, user["id"], user)


def export_users(ctx: CrawlContext, out: UnitOutput) -> None:
    _export_list(ctx, C.USERS, "/users", {"include_inactive": "true"})
    _export_list(ctx, C.COMPANY_USERS, "/company/users")
    _export_list(ctx, C.USER_ROLES, "/user-roles", paged=False)


def export_card_types(ctx: CrawlContext, out: UnitOutput) -> None:
    _export_list(ctx, C.CARD_TYPES, "/card-types")


def export_custom_properties(ctx: CrawlContext, out: UnitOutput) -> None:
    """Property definitions plus every select value (removed ones too) and catalog value."""
    properties = _export_list(ctx, C.CUSTOM_PROPERTIES, "/company/custom-properties")
    ctx.open(C.SELECT_VALUES)
    ctx.open(C.CATALOG_VALUES)
    for prop in properties:
        ref = {"property_id": str(prop.get("id"))}
        kind = prop.get("type")
        if kind == "select":
            # Without v2_select_search the route returns every value, removed ones included.
            path, collection, paged = f"/company/custom-properties/{prop['id']}/select-values", C.SELECT_VALUES, False
        elif kind == "catalog":
            path, collection, paged = f"/company/custom-properties/{prop['id']}/catalog-values", C.CATALOG_VALUES, True
        else:
            continue
        try:
            values = list(ctx.client.paginate(path, page_size=PAGE)) if paged \
                else ctx.client.get_json(path, salvage=True)
        except KaitenHTTPError as error:
            ctx.unavailable(collection, error, ref)
            continue
        for value in ctx.usable(collection, values if isinstance(values, list) else [], ref):
            ctx.write(collection, value.get("id"), value, ref=ref)


def export_tags(ctx: CrawlContext, out: UnitOutput) -> None:
    rows = _export_list(ctx, C.TAGS, "/tags")
    out.meta["listed_tag_ids"] = [str(row.get("id")) for row in rows]


def export_sprints(ctx: CrawlContext, out: UnitOutput) -> None:
    _export_list(ctx, C.SPRINTS, "/sprints")


def export_card_only_tags(ctx: CrawlContext, out: UnitOutput) -> None:
    """Tags Kaiten hides from ``/tags`` (e.g. used only on archived cards), as seen on cards."""
    listed = set(ctx.journal.get("listed_tag_ids") or [])
    seen = sorted(((tag_id, raw) for tag_id, raw in ctx.journal.card_tags() if tag_id not in listed),
                  key=lambda item: id_order(item[0]))
    for tag_id, raw in seen:
        ctx.write(C.TAGS, tag_id, raw, seen_via="card")
