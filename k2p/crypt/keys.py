"""Recipients, identities and passphrases: where they come from and how they are checked.

Identities come from ``--identity FILE`` (an age identity file: ``AGE-SECRET-KEY-1…`` lines,
``#`` comments) or env ``K2P_AGE_IDENTITY`` (the key itself, or the path of an identity file).
Passphrases come from ``--passphrase-file FILE`` or, on a terminal only, a hidden prompt. The
command line configures a process-wide :class:`KeyOptions` once; readers ask for keys lazily, only
when they meet an encrypted archive.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import pyrage
from pyrage import x25519

from k2p.credentials import read_secret_file
from k2p.errors import ExitCode, K2PError
from k2p.redaction import register_secret

IDENTITY_ENV = "K2P_AGE_IDENTITY"
SECRET_KEY_PREFIX = "AGE-SECRET-KEY-1"
RECIPIENT_PREFIX = "age1"


@dataclass
class KeyOptions:
    """What the command line said about keys (all optional)."""

    identity_file: Path | None = None
    passphrase_file: Path | None = None


_options = KeyOptions()


def configure(*, identity_file: Path | None = None, passphrase_file: Path | None = None) -> None:
    """Remember the key options of this command for readers that meet an encrypted archive."""
    _options.identity_file = identity_file
    _options.passphrase_file = passphrase_file


def parse_recipients(values: tuple[str, ...] | list[str]) -> list[x25519.Recipient]:
    """age X25519 recipients (``age1…``); a malformed one is a usage error naming it."""
    recipients = []
    for value in values:
        text = value.strip()
        try:
            if not text.startswith(RECIPIENT_PREFIX):
                raise ValueError("not an age X25519 recipient")
            recipients.append(x25519.Recipient.from_str(text))
        except (ValueError, pyrage.RecipientError) as exc:
            shown = text if not text.upper().startswith("AGE-SECRET-KEY") else "(an identity, not a recipient)"
            raise K2PError(f"--encrypt-to {shown}: {exc}; give the public key `age1…` that "
                           f"`age-keygen -y KEYFILE` prints", exit_code=ExitCode.USAGE) from None
    return recipients


def parse_identities(text: str, origin: str) -> list[x25519.Identity]:
    """The X25519 identities in an identity file's text; the key text never appears in errors."""
    identities = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        register_secret(line)
        try:
            if not line.startswith(SECRET_KEY_PREFIX):
                raise ValueError
            identities.append(x25519.Identity.from_str(line))
        except (ValueError, pyrage.IdentityError):
            raise K2PError(f"{origin} line {number} is not an age X25519 identity "
                           f"(expected AGE-SECRET-KEY-1…, as written by age-keygen)",
                           exit_code=ExitCode.USAGE) from None
    if not identities:
        raise K2PError(f"{origin} holds no age identity", exit_code=ExitCode.USAGE)
    return identities


def identities_for(label: str) -> list[x25519.Identity]:
    """The identities to decrypt ``label`` with: ``--identity FILE``, else ``K2P_AGE_IDENTITY``."""
    if _options.identity_file is not None:
        text = read_secret_file(_options.identity_file, "age identity", insecure_option=None)
        return parse_identities(text, str(_options.identity_file))
    value = (os.environ.get(IDENTITY_ENV) or "").strip()
    if value:
        if value.startswith(SECRET_KEY_PREFIX) or "\n" in value:
            register_secret(value)
            return parse_identities(value, f"env {IDENTITY_ENV}")
        path = Path(value)
        return parse_identities(read_secret_file(path, "age identity", insecure_option=None), str(path))
    raise K2PError(f"{label} is encrypted to age recipients: pass --identity FILE (an age identity "
                   f"file) or set {IDENTITY_ENV}", exit_code=ExitCode.USAGE)


def _terminal() -> bool:
    """May we ask on the terminal? (stdin is a TTY)"""
    return sys.stdin.isatty()


def passphrase_for(label: str, *, confirm: bool = False, file: Path | None = None) -> str:
    """A passphrase from ``file`` (or ``--passphrase-file``), else a hidden prompt on a terminal."""
    file = file or _options.passphrase_file
    if file is not None:
        return read_secret_file(file, "passphrase", insecure_option=None)
    if not _terminal():
        raise K2PError(f"{label} needs a passphrase: pass --passphrase-file FILE (or run on a "
                       f"terminal to be asked)", exit_code=ExitCode.USAGE)
    import click

    value = click.prompt(f"Passphrase for {label}", hide_input=True, confirmation_prompt=confirm,
                         err=True)
    if not value:
        raise K2PError("empty passphrase", exit_code=ExitCode.USAGE)
    register_secret(value)
    return value
