"""Planka's input validation (Sails machine + rttc + anchor), reproduced for the simulator.

Every action declares its inputs; the framework coerces loosely (``"65536"`` → 65536, ``"true"`` →
True, numbers → strings), then applies the anchor rules and collects *problems*. A request with
problems gets **400** ``E_MISSING_OR_INVALID_PARAMS`` before the action runs. The problem strings
mirror the framework's wording, including its quirks (e.g. anchor's ``maxLength`` message counts
``max - length``, so it reads "Value was -3 characters longer than …").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any, Callable, Mapping

from k2p.testing.planka.positions import js_number

MAX_STRING_ID = "9223372036854775807"
ID_REGEX = re.compile(r"^[1-9][0-9]*$")
ID_REGEX_TEXT = "/^[1-9][0-9]*$/"
USERNAME_REGEX = re.compile(r"^[a-zA-Z0-9]+((_|\.)?[a-zA-Z0-9])*$")
USERNAME_REGEX_TEXT = r"/^[a-zA-Z0-9]+((_|\.)?[a-zA-Z0-9])*$/"

_MISSING = object()


class InputCrash(Exception):
    """The framework throws while validating (Planka answers a plain-text 500)."""


class ValidationFailed(Exception):
    """Raised with the list of problem strings when inputs are invalid (→ 400)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


# --- JavaScript-flavoured formatting ------------------------------------------------------------
def js_string(value: Any) -> str:
    """``String(value)`` as Node would print a JSON scalar."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        if abs(value) < 2 ** 53:
            return str(value)
        value = float(value)
    if isinstance(value, float):
        return _js_float(value)
    return str(value)


def _js_float(value: float) -> str:
    """Number::toString: shortest round-trip digits, exponent form outside [1e-7, 1e21)."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "0"
    mantissa, _, exponent = repr(abs(value)).partition("e")
    whole, _, frac = mantissa.partition(".")
    digits = (whole + frac).lstrip("0")
    point = len(whole) + int(exponent or 0) - (len(whole + frac) - len((whole + frac).lstrip("0")))
    digits = digits.rstrip("0") or "0"
    sign = "-" if value < 0 else ""
    size = len(digits)
    if size <= point <= 21:
        return sign + digits + "0" * (point - size)
    if 0 < point <= 21:
        return sign + digits[:point] + "." + digits[point:]
    if -6 < point <= 0:
        return sign + "0." + "0" * (-point) + digits
    exp = point - 1
    return (sign + digits[0] + ("." + digits[1:] if size > 1 else "")
            + "e" + ("+" if exp > 0 else "-") + str(abs(exp)))


_ESCAPES = {"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r", "\\": "\\\\"}


def _str_escape(text: str) -> str:
    quote = "'"
    if "'" in text:
        if '"' not in text:
            quote = '"'
        elif "`" not in text and "${" not in text:
            quote = "`"
    out = []
    for char in text:
        if char == quote:
            out.append("\\" + char)
        elif char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\x{ord(char):02X}")
        else:
            out.append(char)
    return quote + "".join(out) + quote


def js_inspect(value: Any, depth: int = 0) -> str:
    """A close approximation of Node's ``util.inspect`` for JSON values."""
    if value is None:
        return "null"
    if isinstance(value, (bool, int, float)):
        return js_string(value)
    if isinstance(value, str):
        trailer = ""
        if len(value) > 10000:
            remaining = len(value) - 10000
            trailer = f"... {remaining} more character{'s' if remaining > 1 else ''}"
            value = value[:10000]
        if len(value) > 124:  # Node splits long strings at newlines
            pieces = re.split(r"(?<=\n)", value)
            return " +\n  ".join(_str_escape(piece) for piece in pieces if piece) + trailer
        return _str_escape(value) + trailer
    if isinstance(value, list):
        if not value:
            return "[]"
        if depth > 2:
            return "[Array]"
        return "[ " + ", ".join(js_inspect(item, depth + 1) for item in value) + " ]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        if depth > 2:
            return "[Object]"
        parts = []
        for key, item in value.items():
            shown = key if re.match(r"^[A-Za-z_$][\w$]*$", key) else _str_escape(key)
            parts.append(f"{shown}: {js_inspect(item, depth + 1)}")
        return "{ " + ", ".join(parts) + " }"
    return str(value)


# --- type coercion (rttc.validate) --------------------------------------------------------------
def _display_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a dictionary"
    return "some other JSON-compatible value"


class _TypeMismatch(Exception):
    pass


def _looks_numeric(text: str) -> float | int | None:
    if text == "" or re.search(r"\s", text) or text in ("Infinity", "-Infinity", "+Infinity"):
        return None
    try:
        if re.fullmatch(r"0[xX][0-9a-fA-F]+|0[bB][01]+|0[oO][0-7]+", text):  # JS `+"0x10"` is 16
            return int(text, 0)
        if not re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", text):
            return None
        number = float(text)
    except ValueError:
        return None
    if number in (float("inf"), float("-inf")):
        return None
    return js_number(number)


def coerce(kind: str, value: Any) -> Any:
    """Loosely coerce ``value`` to ``kind`` (``string|number|boolean|json``) like rttc."""
    if kind == "json":
        return value
    if kind == "string":
        if isinstance(value, str):
            return value
        if isinstance(value, (bool, int, float)):
            return js_string(value)
        raise _TypeMismatch
    if kind == "number":
        if isinstance(value, bool):
            return 1 if value else 0
        if isinstance(value, (int, float)):
            return value
        if isinstance(value, str):
            number = _looks_numeric(value)
            if number is None:
                raise _TypeMismatch
            return number
        raise _TypeMismatch
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, (int, float)) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value in ("true", "false", "1", "0"):
            return value in ("true", "1")
        raise _TypeMismatch
    raise ValueError(f"unknown input type {kind}")


# --- inputs ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Input:
    """One declared action input with its anchor rules (checked in anchor's rule order)."""

    kind: str = "string"
    required: bool = False
    allow_null: bool = False
    not_empty: bool = False
    min: float | None = None
    is_email: bool = False
    is_in: tuple[str, ...] | None = None
    min_length: int | None = None
    max_length: int | None = None
    regex: tuple[re.Pattern[str], str] | None = None
    custom: Callable[[Any], bool] | None = None

    def extend(self, **changes: Any) -> "Input":
        """A copy with some settings changed (e.g. ``ID_INPUT.extend(allow_null=True)``)."""
        return replace(self, **changes)


def _rule_violations(spec: Input, value: Any) -> list[str]:
    found: list[str] = []
    is_str = isinstance(value, str)
    empty = value == "" and is_str
    if spec.not_empty and empty:
        found.append(f"Value ({js_inspect(value)}) was an empty string.")
    if spec.min is not None:
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            found.append("Value was not a number.")
        elif value < spec.min:
            found.append(f"Value ({js_inspect(value)}) was less than the configured minimum "
                         f"({js_string(js_number(spec.min))})")
    if spec.is_email and not empty and not is_email(value):
        found.append(f"Value ({js_inspect(value)}) was not a valid email address.")
    if spec.is_in is not None and not empty and value not in spec.is_in:
        found.append(f"Value ({js_inspect(value)}) was not in the configured whitelist "
                     f"({', '.join(spec.is_in)})")
    if spec.min_length is not None and not empty and _js_len(value) < spec.min_length:
        found.append(f"Value ({js_inspect(value)}) was shorter than the configured minimum length "
                     f"({spec.min_length})")
    if spec.max_length is not None and not empty and _js_len(value) > spec.max_length:
        diff = spec.max_length - _js_len(value)
        found.append(f"Value was {diff} character{'s' if diff != 1 else ''} longer than the "
                     f"configured maximum length ({spec.max_length})")
    if spec.regex is not None and not empty and not spec.regex[0].search(value):
        found.append(f"Value ({js_inspect(value)}) did not match the configured regular expression "
                     f"({spec.regex[1]})")
    if spec.custom is not None and not _safe(spec.custom, value):
        found.append(f"Value ({js_inspect(value)}) failed custom validation.")
    return found


def _js_len(text: str) -> int:
    # JavaScript counts UTF-16 code units.
    return len(text.encode("utf-16-le")) // 2


def _safe(check: Callable[[Any], bool], value: Any) -> bool:
    try:
        return bool(check(value))
    except Exception:  # noqa: BLE001 - a throwing custom rule is a failed rule
        return False


def validate(specs: Mapping[str, Input], raw: Mapping[str, Any],
             query: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Validate ``raw`` params against ``specs``; return the coerced, defined inputs.

    Raises :class:`ValidationFailed` with the framework's problem strings.
    """
    query = query or {}
    values: dict[str, Any] = {}
    problems: list[str] = []
    for name, spec in specs.items():
        value = raw.get(name, _MISSING)
        # machine-as-action: an empty query-string value means `true` for booleans and is
        # ignored for numbers.
        if spec.kind == "boolean" and query.get(name) == "":
            value = True
        if spec.kind == "number" and query.get(name) == "":
            value = _MISSING
        if value is _MISSING:
            if spec.required:
                problems.append(f'"{name}" is required, but it was not defined.')
            continue
        if spec.kind == "json" and isinstance(value, dict) and value is query.get(name):
            # The query parser builds objects without a prototype, and rttc's `json` check reads
            # `value.constructor.name`: `?before[id]=1` is a TypeError → 500 on a real server.
            raise InputCrash(name)
        if value == "" and isinstance(value, str) and spec.required:
            problems.append(f"Invalid \"{name}\":  Cannot use '' (empty string) for a required input.")
        elif value is None and spec.allow_null:
            values[name] = None
            continue
        elif value is None and spec.required:
            problems.append(f'Invalid "{name}":  Cannot use `null` for this required input.')
            continue
        elif value is None and spec.kind != "json":
            problems.append(
                f'Invalid "{name}":  Cannot use `null`.  Even though this input is optional, it still '
                f"does not allow `null` to be explicitly passed in, because `null` is not a valid "
                f"{_TYPE_LABELS[spec.kind]}.  Instead, to leave out this value, please omit it "
                "altogether or use `undefined`.  (See this input definition for more detailed usage "
                "information.  If you are the maintainer of this function, you specifically want to "
                "allow setting `null`, and you are sure your implementation already knows how to "
                "handle it, then change this input's definition to have `allowNull: true`.)")
            continue
        else:
            try:
                value = coerce(spec.kind, value)
            except _TypeMismatch:
                problems.append(f'Invalid "{name}":\n  · Expecting {_TYPE_NOUNS[spec.kind]}, '
                                f"but got {_display_type(value)}.")
                continue
        values[name] = value
        if value is None:
            continue
        violations = _rule_violations(spec, value)
        if violations:
            problems.append(f'Invalid "{name}":\n  · ' + "\n  · ".join(violations))
    if problems:
        raise ValidationFailed(problems)
    return values


_TYPE_LABELS = {"string": "string", "number": "number", "boolean": "boolean", "json": "JSON-compatible value"}
_TYPE_NOUNS = {"string": "a string", "number": "a number", "boolean": "a boolean", "json": "a JSON-compatible value"}


def bad_request_body(method: str, path: str, problems: list[str]) -> dict[str, Any]:
    """The production 400 body of machine-as-action."""
    count = len(problems)
    return {
        "code": "E_MISSING_OR_INVALID_PARAMS",
        "problems": problems,
        "message": f"The server could not fulfill this request (`{method} {path}`) due to {count} "
                   f"missing or invalid parameter{'s' if count != 1 else ''}.",
    }


# --- value checks used by Planka's custom rules -------------------------------------------------
def is_id_in_range(value: str) -> bool:
    return len(value) < len(MAX_STRING_ID) or value <= MAX_STRING_ID


def is_id(value: Any) -> bool:
    return (isinstance(value, str) and len(value) <= len(MAX_STRING_ID)
            and bool(ID_REGEX.search(value)) and is_id_in_range(value))


_EMAIL_RE = re.compile(
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,}$")


def is_email(value: Any) -> bool:
    """Approximation of validator.js ``isEmail`` (ASCII local part, dotted domain with a TLD)."""
    return isinstance(value, str) and len(value) <= 254 and bool(_EMAIL_RE.match(value))


def is_email_or_username(value: str) -> bool:
    if "@" in value:
        return is_email(value)
    return 3 <= len(value) <= 32 and bool(USERNAME_REGEX.search(value))


# validator.js 13.15 (the version Planka 2.1.1 ships), ported rule by rule: isURL with Planka's
# options {protocols: [http, https], require_tld: false, require_protocol: true}, isFQDN, isIP.
# JavaScript's \s also covers U+FEFF, which Python's does not; astral characters are one code
# point here but a surrogate pair (inside \u00a1-\uffff) in JavaScript.
_JS_SPACE = "\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
_URL_FORBIDDEN = re.compile(f"[{_JS_SPACE}<>]")
_URL_PROTOCOL = re.compile(r"^([a-z][a-z0-9+\-.]*):", re.IGNORECASE)
_URL_AUTH_CHARS = re.compile(r"^[a-zA-Z0-9\-_.%:]*$")
_WRAPPED_IPV6 = re.compile(r"^\[([^\]]+)\](?::([0-9]+))?$")
_IPV4_SEGMENT = "(?:[0-9]|[1-9][0-9]|1[0-9][0-9]|2[0-4][0-9]|25[0-5])"
_IPV4 = f"({_IPV4_SEGMENT}[.]){{3}}{_IPV4_SEGMENT}"
_IPV4_RE = re.compile(f"^{_IPV4}$")
_V6 = "(?:[0-9a-fA-F]{1,4})"
_IPV6_RE = re.compile(
    "^(" + f"(?:{_V6}:){{7}}(?:{_V6}|:)|" + f"(?:{_V6}:){{6}}(?:{_IPV4}|:{_V6}|:)|"
    + f"(?:{_V6}:){{5}}(?::{_IPV4}|(:{_V6}){{1,2}}|:)|"
    + f"(?:{_V6}:){{4}}(?:(:{_V6}){{0,1}}:{_IPV4}|(:{_V6}){{1,3}}|:)|"
    + f"(?:{_V6}:){{3}}(?:(:{_V6}){{0,2}}:{_IPV4}|(:{_V6}){{1,4}}|:)|"
    + f"(?:{_V6}:){{2}}(?:(:{_V6}){{0,3}}:{_IPV4}|(:{_V6}){{1,5}}|:)|"
    + f"(?:{_V6}:){{1}}(?:(:{_V6}){{0,4}}:{_IPV4}|(:{_V6}){{1,6}}|:)|"
    + f"(?::((?::{_V6}){{0,5}}:{_IPV4}|(?::{_V6}){{1,7}}|:))" + ")(%[0-9a-zA-Z.]{1,})?$")
_FQDN_PART = re.compile("^[a-z_\u00a1-\uffff\U00010000-\U0010ffff0-9-]+$", re.IGNORECASE)
_FULL_WIDTH = re.compile("[\uff01-\uff5e]")


def is_ip(value: str, version: int | None = None) -> bool:
    """validator.js ``isIP`` (v4 without leading zeros; v6 with an optional ``%zone``)."""
    if version is None:
        return is_ip(value, 4) or is_ip(value, 6)
    return bool((_IPV4_RE if version == 4 else _IPV6_RE).search(value))


def is_fqdn(value: str) -> bool:
    """validator.js ``isFQDN`` with ``require_tld: false`` (underscores and trailing dots refused)."""
    parts = value.split(".")
    if re.fullmatch(r"\d+", parts[-1], re.ASCII):
        return False          # numeric TLDs are refused even without require_tld
    return all(_js_len(part) <= 63 and _FQDN_PART.match(part) and not _FULL_WIDTH.search(part)
               and not part.startswith("-") and not part.endswith("-") and "_" not in part for part in parts)


def is_url(value: str) -> bool:  # noqa: C901 - a line-by-line port reads best as one function
    """validator.js ``isURL(value, {protocols: ['http', 'https'], require_tld: false,
    require_protocol: true})``, as Planka's ``isUrl`` calls it (its own ``maxLength: 2048`` is a
    separate rule)."""
    if not value or _URL_FORBIDDEN.search(value) or value.startswith("mailto:"):
        return False
    if _js_len(value) > 2084:
        return False
    url = value.split("#")[0].split("?")[0]
    match = _URL_PROTOCOL.match(url)
    if match is None:
        return False                                   # require_protocol
    after = url[match.end():]
    if not after.startswith("//"):
        before_slash = after.split("/", 1)[0]
        if "@" in before_slash:
            before_at = before_slash[:before_slash.index("@")]
            if _URL_AUTH_CHARS.match(before_at) and not re.search(r"%[0-9a-fA-F]{2}", before_at):
                return False                           # auth without a protocol
        elif re.match(r"[0-9]", after):
            return False                               # host:port without a protocol
    if match.group(1).lower() not in ("http", "https"):
        return False
    url = after
    if url.startswith("//"):
        url = url[2:]
    if url == "":
        return False
    hostname = url.split("/")[0]
    pieces = hostname.split("@")
    if len(pieces) > 1:
        if pieces[0] == "":
            return False
        auth = pieces.pop(0)
        if ":" in auth and len(auth.split(":")) > 2:
            return False
        user, _, password = auth.partition(":")
        if user == "" and password == "":
            return False
    hostname = "@".join(pieces)
    port_str: str | None = None
    ipv6: str | None = None
    wrapped = _WRAPPED_IPV6.match(hostname)
    if wrapped:
        host, ipv6, port_str = "", wrapped.group(1), wrapped.group(2)
    else:
        host, _, port_str = hostname.partition(":")
        port_str = port_str if ":" in hostname else None
    if port_str:
        if not re.fullmatch(r"[0-9]+", port_str, re.ASCII) or not 0 < int(port_str) <= 65535:
            return False
    return is_ip(host) or is_fqdn(host) or (ipv6 is not None and is_ip(ipv6, 6))


_COMMON_PASSWORDS = frozenset("""
password password1 password12 password123 passw0rd p@ssw0rd 123456 1234567 12345678 123456789
1234567890 qwerty qwerty123 qwertyuiop abc123 abcdef letmein welcome welcome1 admin admin123
iloveyou monkey dragon football baseball master sunshine princess trustno1 secret demo demo1234
changeme test test1234 testtest planka qazwsx zaq12wsx 111111 000000 654321
1q2w3e4r 1qaz2wsx zaq1xsw2 abc12345 asdf1234 qwer1234
""".split())


def is_strong_password(value: str) -> bool:
    """Approximates zxcvbn score ≥ 2 (about 10^6 guesses).

    Rejects: fewer than 8 characters; well-known passwords (also with a trailing digit run);
    one repeated character; pure digit/letter sequences; and passwords under 12 characters made
    of a single character class. Real zxcvbn also penalises dictionary words and keyboard
    patterns, so a few passwords accepted here would be rejected by Planka.
    """
    lowered = value.lower()
    if len(value) < 8 or lowered in _COMMON_PASSWORDS:
        return False
    if lowered.rstrip("0123456789!") in _COMMON_PASSWORDS:
        return False
    if len(set(value)) <= 2:
        return False
    if lowered in "0123456789012345678901234567890" or lowered in "abcdefghijklmnopqrstuvwxyz":
        return False
    classes = sum(bool(re.search(pattern, value)) for pattern in
                  (r"[a-z]", r"[A-Z]", r"[0-9]", r"[^A-Za-z0-9]"))
    return len(value) >= 12 or classes >= 2


# --- moment(value, ISO_8601, true) --------------------------------------------------------------
_EXTENDED_ISO = re.compile(
    r"^((?:[+-]\d{6}|\d{4})-(?:\d\d-\d\d|W\d\d-\d|W\d\d|\d\d\d|\d\d))"
    r"(?:(T| )(\d\d(?::\d\d(?::\d\d(?:[.,]\d+)?)?)?)(Z|[+-]\d\d(?::?\d\d)?)?)?$")
_BASIC_ISO = re.compile(
    r"^((?:[+-]\d{6}|\d{4})(?:\d\d\d\d|W\d\d\d|W\d\d|\d\d\d|\d\d|))"
    r"(?:(T| )(\d\d(?:\d\d(?:\d\d(?:[.,]\d+)?)?)?)(Z|[+-]\d\d(?::?\d\d)?)?)?$")
# (pattern, allows a time part) in moment's isoDates order
_ISO_DATES: list[tuple[re.Pattern[str], bool]] = [
    (re.compile(r"^([+-]\d{6})-(\d\d)-(\d\d)$"), True), (re.compile(r"^(\d{4})-(\d\d)-(\d\d)$"), True),
    (re.compile(r"^(\d{4})-W(\d\d)-(\d)$"), True), (re.compile(r"^(\d{4})-W(\d\d)$"), False),
    (re.compile(r"^(\d{4})-(\d{3})$"), True), (re.compile(r"^(\d{4})-(\d\d)$"), False),
    (re.compile(r"^([+-]\d{6})(\d\d)(\d\d)$"), True), (re.compile(r"^(\d{4})(\d\d)(\d\d)$"), True),
    (re.compile(r"^(\d{4})W(\d\d)(\d)$"), True), (re.compile(r"^(\d{4})W(\d\d)$"), False),
    (re.compile(r"^(\d{4})(\d{3})$"), True), (re.compile(r"^(\d{4})(\d\d)$"), False),
    (re.compile(r"^(\d{4})$"), False),
]


def _iso_date(text: str) -> tuple[date, bool] | None:
    for pattern, allow_time in _ISO_DATES:
        match = pattern.match(text)
        if not match:
            continue
        parts = match.groups()
        year = int(parts[0])
        try:
            if "W" in text:
                weekday = int(parts[2]) if len(parts) > 2 else 1
                return date.fromisocalendar(year, int(parts[1]), weekday), allow_time
            if len(parts) == 2 and len(parts[1]) == 3:
                day_of_year = int(parts[1])
                start = date(year, 1, 1)
                result = start + timedelta(days=day_of_year - 1)
                return (result, allow_time) if 1 <= day_of_year and result.year == year else None
            month = int(parts[1]) if len(parts) > 1 else 1
            day = int(parts[2]) if len(parts) > 2 else 1
            return date(year, month, day), allow_time
        except ValueError:
            return None
    return None


def parse_iso_datetime(value: Any) -> datetime | None:
    """Parse like ``moment(value, moment.ISO_8601, true)``; ``None`` when moment calls it invalid.

    Returns the *wall-clock* time with the offset dropped: Planka stores due dates in a PostgreSQL
    ``timestamp without time zone`` column, which ignores any offset in the literal (inferred).
    """
    if not isinstance(value, str):
        return None
    match = _EXTENDED_ISO.match(value) or _BASIC_ISO.match(value)
    if not match:
        return None
    date_part, _sep, time_part, _zone = match.groups()
    parsed = _iso_date(date_part)
    if parsed is None:
        return None
    day, allow_time = parsed
    if time_part is None:
        return datetime(day.year, day.month, day.day)
    if not allow_time:
        return None
    digits = time_part.replace(":", "")
    fraction = ""
    for sep in ".,":
        if sep in digits:
            digits, fraction = digits.split(sep, 1)
    hour = int(digits[0:2])
    minute = int(digits[2:4] or 0)
    second = int(digits[4:6] or 0)
    micro = int((fraction + "000000")[:6]) if fraction else 0
    if minute > 59 or second > 59 or hour > 24 or (hour == 24 and (minute or second or micro)):
        return None
    base = datetime(day.year, day.month, day.day)
    return base + timedelta(hours=hour, minutes=minute, seconds=second, microseconds=micro)


def is_due_date(value: Any) -> bool:
    return parse_iso_datetime(value) is not None


def is_stopwatch(value: Any) -> bool:
    if not isinstance(value, dict) or len(value) != 2:
        return False
    started = value.get("startedAt")
    if started is not None and not is_due_date(started):
        return False
    total = value.get("total")
    return isinstance(total, (int, float)) and not isinstance(total, bool) and total >= 0


def is_null(value: Any) -> bool:
    return value is None


# --- reusable input specs -----------------------------------------------------------------------
ID_INPUT = Input(max_length=len(MAX_STRING_ID), regex=(ID_REGEX, ID_REGEX_TEXT), custom=is_id_in_range)
REQ_ID = ID_INPUT.extend(required=True)
POSITION = Input("number", required=True, min=0)
OPT_POSITION = Input("number", min=0)
NAME_128 = Input(required=True, max_length=128)
OPT_NAME_128 = Input(not_empty=True, max_length=128)
NULLABLE_NAME_128 = Input(not_empty=True, max_length=128, allow_null=True)
BOOL = Input("boolean")
