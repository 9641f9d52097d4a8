"""Crash-safe file writes (temp file in the target directory, fsync, rename, fsync the directory)
and the private permissions of everything k2p creates."""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Iterator


PRIVATE_UMASK = 0o077   # files 0600, directories 0700: an archive holds a company's private data


@contextmanager
def private_files() -> Iterator[None]:
    """Create every file 0600 and every directory 0700 inside the block (the process umask, so it
    also covers SQLite's journals and temporary files of libraries)."""
    previous = os.umask(PRIVATE_UMASK)
    try:
        yield
    finally:
        os.umask(previous)


CRASH_AT_ENV = "K2P_TEST_CRASH_AT"


def crash_point(step: str) -> None:
    """Test hook: with ``K2P_TEST_CRASH_AT=<step>`` the process dies here at once, as on a power cut
    (no cleanup, no flush), so tests can prove that every step of a seal is resumable."""
    if os.environ.get(CRASH_AT_ENV) == step:
        os._exit(70)


def fsync_dir(directory: Path) -> None:
    """Make a rename or create inside ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_writer(target: Path) -> Iterator[BinaryIO]:
    """Yield a binary file that replaces ``target`` only if the block completes.

    On error the temp file is removed and ``target`` is left untouched.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
        fsync_dir(target.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` atomically."""
    with atomic_writer(target) as handle:
        handle.write(data)
