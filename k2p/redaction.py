"""Last line of defence for secrets: every value registered here is masked in all k2p output.

Tokens, passwords and API keys are registered the moment they are loaded, so even an unexpected
error message that quotes a request cannot print them. Files k2p writes are filtered too: record
lines (the archive's records and ``missing`` entries, e.g. a Kaiten error message quoting the
token) and JSON reports go through :func:`redact_bytes`.
"""

from __future__ import annotations

import threading

_lock = threading.Lock()
_secrets: set[str] = set()
MASK = "***"


def register_secret(value: str | None) -> None:
    """Mask ``value`` wherever k2p prints or writes text from now on."""
    if value and len(value) >= 4:
        with _lock:
            _secrets.add(value)


def _longest_first() -> list[str]:
    with _lock:
        return sorted(_secrets, key=len, reverse=True)


def redact(text: str) -> str:
    """``text`` with every registered secret replaced by ``***``."""
    for secret in _longest_first():
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def redact_bytes(data: bytes) -> bytes:
    """``data`` (UTF-8 text such as a JSON line) with every registered secret replaced by ``***``."""
    for secret in _longest_first():
        encoded = secret.encode("utf-8")
        if encoded in data:
            data = data.replace(encoded, MASK.encode())
    return data
