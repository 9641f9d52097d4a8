"""Last line of defence for secrets: every value registered here is masked in all k2p output.

Tokens, passwords and API keys are registered the moment they are loaded, so even an unexpected
error message that quotes a request cannot print them.
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


def redact(text: str) -> str:
    """``text`` with every registered secret replaced by ``***``."""
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text
