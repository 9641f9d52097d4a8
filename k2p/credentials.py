"""Loading secrets from environment variables or files; every secret is registered for redaction."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from k2p.console import warn
from k2p.errors import ExitCode, K2PError
from k2p.redaction import register_secret


def read_secret_file(path: Path, what: str, *, allow_insecure: bool = False,
                     insecure_option: str | None = "--allow-insecure-token-file") -> str:
    """The stripped content of a secret file; refused (or, with ``allow_insecure``, warned about)
    when group or others can read it."""
    try:
        mode = path.stat().st_mode
        value = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise K2PError(f"cannot read the {what} file {path}: {exc.strerror}; check the path and its "
                       f"permissions", exit_code=ExitCode.USAGE) from None
    if mode & (stat.S_IRGRP | stat.S_IROTH):
        message = f"{path} holding the {what} is readable by other users; run `chmod 600 {path}`"
        if not allow_insecure:
            hint = f" (or pass {insecure_option})" if insecure_option else ""
            raise K2PError(f"{message}{hint}", exit_code=ExitCode.USAGE)
        warn(message)
    if not value:
        raise K2PError(f"the {what} file {path} is empty", exit_code=ExitCode.USAGE)
    register_secret(value)
    return value


def secret_from_env(variable: str) -> str | None:
    """A secret from the environment (``None`` when unset or empty)."""
    value = (os.environ.get(variable) or "").strip()
    if value:
        register_secret(value)
        return value
    return None


def require_secret(variable: str, file: Path | None, what: str, file_option: str, *,
                   allow_insecure: bool = False) -> str:
    """A secret from ``file`` if given, else from ``variable``; a clear error when neither exists."""
    if file is not None:
        return read_secret_file(file, what, allow_insecure=allow_insecure)
    value = secret_from_env(variable)
    if value is None:
        raise K2PError(f"no {what}: set {variable} or pass {file_option} FILE", exit_code=ExitCode.USAGE)
    return value
