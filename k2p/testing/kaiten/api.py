"""Request/reply plumbing of the simulated Kaiten API: route registry, dispatch, shared checks.

Handlers (in :mod:`kaiten_routes` and :mod:`kaiten_card_routes`) get a :class:`Request` (company,
token, query) and return a JSON-able payload or a :class:`Reply`; they raise :class:`ApiError` for
error answers. Paths are relative to the API root (``/api/v1`` or ``/api/latest``). The simulator is
read-only: paths Kaiten supports only for writing exist without a GET handler, so GET answers 405.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator

import orjson

from k2p.testing.kaiten.compact import peek

if TYPE_CHECKING:
    from k2p.testing.kaiten.model import CompanyData, TokenInfo

JSON = "application/json; charset=utf-8"


@dataclass
class Reply:
    """A complete HTTP answer; ``stream`` (with ``length``) replaces ``body`` for large files."""

    status: int
    body: bytes = b""
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    stream: Iterator[bytes] | None = None
    length: int | None = None
    truncated: bool = False  # a fault: only half of the body is sent, then the connection closes


def json_reply(payload: Any, status: int = 200) -> Reply:
    return Reply(status, orjson.dumps(payload), JSON)


def message(status: int, text: str) -> Reply:
    return json_reply({"message": text}, status)


class ApiError(Exception):
    """Raised by handlers to answer with an error :class:`Reply`."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.status)
        self.reply = reply


def fail(status: int, text: str | None = None) -> ApiError:
    """An error with a ``{"message"}`` body, or an empty body when ``text`` is None."""
    return ApiError(message(status, text) if text is not None else Reply(status))


@dataclass
class Request:
    """What a handler may look at: the company, the caller and the query (first values)."""

    company: "CompanyData"
    token: "TokenInfo"
    params: dict[str, str]
    sim: Any = None  # the running KaitenSimulator (signing, drift); None for ground-truth calls

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.params.get(name)
        return default if value is None else value.lower() in ("true", "1", "yes")

    def integer(self, name: str) -> int | None:
        try:
            return int(self.params[name])
        except (KeyError, ValueError):
            return None

    def ints(self, name: str) -> set[int] | None:
        raw = self.params.get(name)
        if raw is None:
            return None
        return {int(part) for part in raw.split(",") if part.strip().isdigit()}


Handler = Callable[..., Any]


@dataclass(frozen=True)
class Route:
    pattern: re.Pattern[str]
    methods: frozenset[str]
    handler: Handler | None


ROUTES: list[Route] = []
_CONVERTERS = {"int": r"\d+", "uuid": r"[0-9a-fA-F-]{36}", "str": r"[^/]+"}


def _compile(template: str) -> re.Pattern[str]:
    def group(match: re.Match[str]) -> str:
        name, _, kind = match.group(1).partition(":")
        return f"(?P<{name}>{_CONVERTERS[kind or 'str']})"
    return re.compile("^" + re.sub(r"\{([^}]+)\}", group, template) + "/?$")


def route(template: str) -> Callable[[Handler], Handler]:
    """Register a GET handler; ``{name:int}`` / ``{name:uuid}`` segments become keyword arguments."""
    def register(handler: Handler) -> Handler:
        ROUTES.append(Route(_compile(template), frozenset({"GET"}), handler))
        return handler
    return register


def write_only(template: str, *methods: str) -> None:
    """A path that exists for other methods only, so GET gets 405."""
    ROUTES.append(Route(_compile(template), frozenset(methods), None))


def dispatch(req: Request, method: str, path: str) -> Reply:
    """Find and run the handler; 404 for unknown paths, 405 for a known path with another method."""
    known = False
    for entry in ROUTES:
        match = entry.pattern.match(path)
        if not match:
            continue
        known = True
        if method in entry.methods and entry.handler is not None:
            kwargs = {k: int(v) if v.isdigit() else v for k, v in match.groupdict().items()}
            try:
                result = entry.handler(req, **kwargs)
            except ApiError as error:
                return error.reply
            return result if isinstance(result, Reply) else json_reply(result)
    if known:
        return Reply(405)
    return Reply(404, f"Cannot {method} {path}".encode(), "text/html; charset=utf-8")


# --- shared checks -----------------------------------------------------------------------------
def page_bounds(req: Request, default: int, maximum: int) -> tuple[int, int]:
    """``(offset, limit)``; a limit above ``maximum`` is silently clamped, junk means default."""
    limit = req.integer("limit")
    offset = req.integer("offset")
    limit = default if limit is None or limit < 1 else min(limit, maximum)
    return (offset if offset and offset > 0 else 0), limit


def paged(req: Request, items: list[Any], default: int = 100, maximum: int = 100) -> list[Any]:
    offset, limit = page_bounds(req, default, maximum)
    return items[offset:offset + limit]


def require_admin(req: Request, empty_body: bool = False) -> None:
    if not req.token.is_admin:
        raise fail(403, None if empty_body else "You do not have permission to perform this action")


def _guard(record: dict[str, Any] | None, visible: bool) -> dict[str, Any]:
    """Unknown record: 404; a record the token cannot see: 403 (both with empty bodies)."""
    if record is None:
        raise fail(404)
    if not visible:
        raise fail(403)
    return record


def visible_space(req: Request, space_id: int) -> dict[str, Any]:
    co = req.company
    return _guard(co.spaces.get(space_id), space_id in co.visible_space_ids(req.token.token))


def visible_board(req: Request, board_id: int) -> dict[str, Any]:
    co = req.company
    return _guard(co.boards.get(board_id), board_id in co.visible_board_ids(req.token.token))


def visible_card(req: Request, card_id: int, missing: int = 404) -> dict[str, Any]:
    """Deleted cards (condition 3) do not exist for the API."""
    card = peek(req.company.cards, card_id)  # read-only: not pinned in compact storage
    if card is None or card["condition"] == 3:
        raise fail(missing)
    visible_board(req, card["board_id"])
    return card


def search(req: Request, rows: Iterable[tuple[int, dict[str, Any]]],
           text: Callable[[dict[str, Any]], str]) -> list[dict[str, Any]]:
    """Copies of the rows passing the ``ids`` (csv) and ``query`` (substring) filters."""
    wanted = req.ints("ids")
    query = (req.params.get("query") or "").lower()
    return [dict(row) for row_id, row in rows
            if (wanted is None or row_id in wanted) and query in text(row).lower()]


def property_or_404(req: Request, prop_id: int) -> dict[str, Any]:
    prop = req.company.custom_properties.get(prop_id)
    if prop is None:
        raise fail(404)
    return prop
