"""Expected failures and their exit codes.

Every error a user can meet in normal operation is a :class:`K2PError`: the CLI prints its message
as one line (no traceback) and exits with its code. The codes are documented in README.md.
"""

from __future__ import annotations


class ExitCode:
    """Process exit codes of the ``k2p`` command."""

    OK = 0
    INTERNAL = 1          # a bug: unexpected exception
    USAGE = 2             # bad options (click's own code)
    ARCHIVE_INVALID = 3   # verification found problems, corrupt or unsafe archive
    ARCHIVE_INCOMPLETE = 4
    UNSUPPORTED = 5       # newer archive major version, Planka 1.x, ...
    REMOTE = 6            # source or target unreachable, authentication or HTTP failure
    PARTIAL = 7           # the run finished but some items failed
    REFUSED = 8           # would overwrite or contradict existing state
    LOCAL_IO = 9          # a local file could not be read or written (disk full, permissions)
    DIFFERENT = 10        # `k2p diff`: the two archives differ (like diff(1)'s 1)
    CHECK_DIFFERS = 11    # `k2p check`: Planka differs from what the archive and the ledger say
    INTERRUPTED = 130


class K2PError(Exception):
    """An expected failure with a one-line, user-facing message naming the thing and a next step."""

    exit_code: int = ExitCode.INTERNAL

    def __init__(self, message: str, *, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code

    @property
    def message(self) -> str:
        return str(self.args[0])


class ArchiveInvalid(K2PError):
    """The archive is corrupt, inconsistent or unsafe to read."""

    exit_code = ExitCode.ARCHIVE_INVALID


class ArchiveIncomplete(K2PError):
    """The archive has no manifest: its writer was interrupted."""

    exit_code = ExitCode.ARCHIVE_INCOMPLETE


class UnsupportedVersion(K2PError):
    """A format or server version this k2p cannot handle."""

    exit_code = ExitCode.UNSUPPORTED


class RemoteError(K2PError):
    """A remote API failed in a way retries did not fix (auth, unreachable, unexpected status)."""

    exit_code = ExitCode.REMOTE


class Refused(K2PError):
    """The command would overwrite or contradict existing state."""

    exit_code = ExitCode.REFUSED


class LocalIOError(K2PError):
    """A local file could not be written or read: disk full, permissions, a vanished directory."""

    exit_code = ExitCode.LOCAL_IO


def local_io_error(exc: OSError, fallback: object, next_step: str) -> LocalIOError:
    """A one-line :class:`LocalIOError` naming the file (``fallback`` when the OS names none)."""
    return LocalIOError(f"cannot write or read {exc.filename or fallback}: {exc.strerror or exc}; "
                        f"{next_step}")
