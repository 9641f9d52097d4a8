"""The credentials file: the only place a generated password is ever written.

``--credentials-out FILE`` names it. It is created on the first account k2p actually creates,
with mode 0600 and ``O_EXCL`` (an existing file is refused, never appended to or overwritten), as
CSV: ``kaiten_id,name,username,email,password``. Each line is written and fsynced *before* the
account is created, so an interrupted run never leaves an account whose password nobody knows;
such a line may then belong to an account that was never created (the next run creates it with a
new password in a new file, or finds it and adopts it).
"""

from __future__ import annotations

import csv
import io
import os
import secrets
import threading
from pathlib import Path

from k2p.errors import ExitCode, K2PError, Refused
from k2p.mapping.users import spreadsheet_safe
from k2p.redaction import register_secret

COLUMNS = ("kaiten_id", "name", "username", "email", "password")
PASSWORD_BYTES = 18          # 24 URL-safe characters: far above Planka's zxcvbn score 2


def new_password() -> str:
    """A strong random password (registered for redaction at once)."""
    password = secrets.token_urlsafe(PASSWORD_BYTES)
    register_secret(password)
    return password


class CredentialsFile:
    """Append-only, 0600, created lazily; ``path`` None (``--sso``) keeps no password at all."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.written = 0
        self._fd: int | None = None
        self._lock = threading.Lock()

    def check_free(self) -> None:
        """Refuse before anything is written when the file already exists."""
        if self.path is not None and self.path.exists():
            raise Refused(f"the credentials file {self.path} already exists; k2p never overwrites or "
                          f"extends one: pass a new --credentials-out path")

    def add(self, kaiten_id: str, name: str, username: str, email: str, password: str) -> None:
        if self.path is None:
            return
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        with self._lock:
            if self._fd is None:
                self._fd = self._open()
                writer.writerow(COLUMNS)
            writer.writerow([kaiten_id, spreadsheet_safe(name), username, email, password])
            os.write(self._fd, buffer.getvalue().encode("utf-8"))
            os.fsync(self._fd)
            self.written += 1

    def _open(self) -> int:
        assert self.path is not None
        try:
            return os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise Refused(f"the credentials file {self.path} already exists; pass a new "
                          f"--credentials-out path") from None
        except OSError as exc:
            raise K2PError(f"cannot create the credentials file {self.path}: {exc.strerror}; check the "
                           f"directory", exit_code=ExitCode.USAGE) from None

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
