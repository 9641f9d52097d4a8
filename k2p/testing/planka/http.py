"""Request plumbing of the Planka simulator: route table, request context, error envelopes and the
body parsers (JSON, urlencoded with ``qs`` brackets, multipart with skipper's field ordering)."""

from __future__ import annotations

import email.message
import email.parser
import email.policy
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import unquote, unquote_plus

import orjson

from k2p.testing.planka.validation import Input

if TYPE_CHECKING:
    from k2p.testing.planka.store import Session, Store


# --- errors ------------------------------------------------------------------------------------
class ApiError(Exception):
    """An error response: JSON ``{"code", "message", ...extra}`` or a raw text body."""

    def __init__(self, status: int, code: str | None = None, message: str | None = None,
                 extra: dict[str, Any] | None = None, text: str | None = None) -> None:
        super().__init__(message or code or text or str(status))
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra or {}
        self.text = text

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code}
        if self.message is not None:
            body["message"] = self.message
        body.update(self.extra)
        return body


def not_found(message: str | None = None) -> ApiError:
    return ApiError(404, "E_NOT_FOUND", message)


def forbidden(message: str = "Not enough rights", **extra: Any) -> ApiError:
    return ApiError(403, "E_FORBIDDEN", message, extra)


def unauthorized(message: str = "Access token is missing, invalid or expired") -> ApiError:
    return ApiError(401, "E_UNAUTHORIZED", message)


def conflict(message: str) -> ApiError:
    return ApiError(409, "E_CONFLICT", message)


def unprocessable(message: str) -> ApiError:
    return ApiError(422, "E_UNPROCESSABLE_ENTITY", message)


def server_error() -> ApiError:
    """Sails' production ``res.serverError()``: status 500 with a plain-text body."""
    return ApiError(500, text="Internal Server Error")


NOT_IMPLEMENTED = ApiError(501, "E_NOT_IMPLEMENTED_IN_SIMULATOR",
                           "This Planka route exists but the simulator does not implement it")


# --- request / response ------------------------------------------------------------------------
@dataclass(frozen=True)
class Upload:
    """One file part of a multipart body."""

    field: str
    filename: str
    content_type: str
    data: bytes


@dataclass
class Reply:
    """What the dispatcher answers; ``committed`` is True when a mutation was stored."""

    status: int
    payload: Any = None
    raw: bytes | None = None
    content_type: str = "application/json; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    committed: bool = False
    principal: str | None = None

    def body(self) -> bytes:
        if self.raw is not None:
            return self.raw
        return orjson.dumps(self.payload)


@dataclass
class Ctx:
    """Everything a route handler sees: validated inputs, the caller, the store, the simulator."""

    sim: Any
    store: "Store"
    method: str
    path: str
    inputs: dict[str, Any]
    user: dict[str, Any] | None
    session: "Session | None"
    headers: Any
    files: list[Upload]

    def has(self, name: str) -> bool:
        """Whether the input was provided (``null`` counts as provided)."""
        return name in self.inputs

    def get(self, name: str, default: Any = None) -> Any:
        return self.inputs.get(name, default)

    @property
    def user_id(self) -> str:
        assert self.user is not None
        return self.user["id"]

    @property
    def base_url(self) -> str:
        return self.sim.url


Handler = Callable[[Ctx], Any]


@dataclass(frozen=True)
class Route:
    """A (method, pattern) entry. ``access``: public | user | admin | admin_or_owner | session |
    download (outside ``/api``: cookie or ``X-Api-Key``, never Bearer)."""

    method: str
    pattern: str
    regex: re.Pattern[str]
    handler: Handler
    inputs: dict[str, Input]
    access: str


class RouteTable:
    """Ordered route registry; handler modules register with the :meth:`add` decorator."""

    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(self, method: str, pattern: str, inputs: dict[str, Input] | None = None,
            access: str = "user") -> Callable[[Handler], Handler]:
        regex = re.compile("^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+?)", re.escape(pattern)) + "$")

        def decorator(handler: Handler) -> Handler:
            self.routes.append(Route(method, pattern, regex, handler, dict(inputs or {}), access))
            return handler
        return decorator

    def stub(self, method: str, pattern: str, access: str = "user") -> None:
        """A real Planka route the simulator does not implement (answers 501 after auth)."""
        def handler(ctx: Ctx) -> Any:
            raise NOT_IMPLEMENTED
        self.add(method, pattern, access=access)(handler)

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for route in self.routes:
            if route.method != method:
                continue
            found = route.regex.match(path)
            if found:
                return route, {key: unquote(value) for key, value in found.groupdict().items()}
        return None


ROUTES = RouteTable()


# --- body parsing ------------------------------------------------------------------------------
class BodyRejected(Exception):
    """The body parser refused the body (too large or malformed): 400 with an empty body."""


def parse_qs_nested(text: str) -> dict[str, Any]:
    """Parse a query string like the ``qs`` package: ``a[b]=1`` → ``{"a": {"b": "1"}}``."""
    result: dict[str, Any] = {}
    if not text:
        return result
    for pair in text.split("&"):
        if not pair:
            continue
        raw_key, _, raw_value = pair.partition("=")
        key, value = unquote_plus(raw_key), unquote_plus(raw_value)
        match = re.match(r"^([^\[\]]+)((?:\[[^\[\]]*\]){1,5})$", key)
        if not match:
            _assign(result, key, value)
            continue
        path = [match.group(1), *re.findall(r"\[([^\[\]]*)\]", match.group(2))]
        target = result
        for index, part in enumerate(path[:-1]):
            nxt = path[index + 1]
            container = target.get(part) if isinstance(target, dict) else None
            if not isinstance(container, (dict, list)):
                container = [] if nxt == "" else {}
                target[part] = container
            target = container
        last = path[-1]
        if isinstance(target, list):
            target.append(value)
        else:
            _assign(target, last, value)
    return result


def _assign(target: dict[str, Any], key: str, value: Any) -> None:
    if key in target:
        existing = target[key]
        target[key] = [*existing, value] if isinstance(existing, list) else [existing, value]
    else:
        target[key] = value


def _raw_header(head: bytes, wanted: str) -> str:
    """A part header's value as multiparty reads it (UTF-8, leading spaces skipped, untouched)."""
    for line in head.decode("utf-8", "replace").split("\r\n"):
        field, colon, value = line.partition(":")
        if colon and field.strip().lower() == wanted:
            return value.lstrip(" ")
    return ""


def multiparty_filename(disposition: str) -> str | None:
    """multiparty 4.1's ``parseFilename`` (what skipper, so Planka, reads): the quoted value up to a
    ``"`` that ends the header or precedes ``; ``, ``%22`` and ``\\"`` turned into quotes, ``&#NNNN;``
    entities decoded, and everything up to the last backslash dropped. Spaces are kept."""
    match = re.search(r'\bfilename="(.*?)"($|; )', disposition, re.IGNORECASE | re.ASCII)
    if match:
        filename = match.group(1)
    else:
        match = re.search(r"\bfilename\*=utf-8''(.*?)($|; )", disposition, re.IGNORECASE | re.ASCII)
        if not match:
            return None
        filename = unquote(match.group(1), errors="replace")
    filename = re.sub(r'%22|\\"', '"', filename)
    filename = re.sub(r"&#([0-9]{4});", lambda entity: chr(int(entity.group(1))), filename)
    return filename[filename.rfind("\\") + 1:]


def _part_headers(head: bytes) -> email.message.Message:
    parser = email.parser.BytesHeaderParser(policy=email.policy.HTTP)
    return parser.parsebytes(head + b"\r\n\r\n")


def parse_multipart(content_type: str, body: bytes) -> tuple[dict[str, Any], list[Upload]]:
    """Split a multipart/form-data body into text fields and file parts.

    Like skipper, text fields that arrive after the first file part are not seen by the action.
    """
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if not match:
        raise BodyRejected("multipart body without boundary")
    delimiter = b"--" + match.group(1).encode("latin-1")
    fields: dict[str, Any] = {}
    uploads: list[Upload] = []
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break
        chunk = chunk[2:] if chunk.startswith(b"\r\n") else chunk.lstrip(b"\n")
        head, _, content = chunk.partition(b"\r\n\r\n")
        if content.endswith(b"\r\n"):
            content = content[:-2]
        headers = _part_headers(head)
        disposition = _raw_header(head, "content-disposition")
        name_match = re.search(r'\bname="([^"]+)"', disposition, re.IGNORECASE | re.ASCII)
        name = name_match.group(1) if name_match else None
        filename = multiparty_filename(disposition)
        if not isinstance(name, str):
            continue
        if filename is not None:
            uploads.append(Upload(name, filename, headers.get_content_type(), content))
        elif not uploads:
            _assign(fields, name, content.decode("utf-8", "replace"))
    return fields, uploads


def parse_body(content_type: str, body: bytes) -> tuple[dict[str, Any], list[Upload]]:
    """Body params and uploads by content type; raises :class:`BodyRejected` on malformed input."""
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == "application/json" or kind.endswith("+json"):
        if not body.strip():
            return {}, []
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise BodyRejected(str(exc)) from exc
        if not isinstance(data, (dict, list)):
            raise BodyRejected("strict JSON parser accepts only objects and arrays")
        return (data if isinstance(data, dict) else {}), []
    if kind == "application/x-www-form-urlencoded":
        return parse_qs_nested(body.decode("utf-8", "replace")), []
    if kind == "multipart/form-data":
        return parse_multipart(content_type, body)
    return {}, []
