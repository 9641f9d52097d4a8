"""Where the bytes of ``k2p pack`` go: one file or a volume set, optionally through age.

The tar writer sees a plain write-only stream (:class:`PackSink`). Underneath, bytes are either
encrypted first (:mod:`k2p.crypt.stream`) or not, then written to one temporary file renamed at the
end or to a :class:`~k2p.archive.volumes.writer.VolumeWriter`. Nothing is visible under a final
name until the whole stream is written and synced; a failure removes every temporary file.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from k2p.archive.volumes.writer import VolumeWriter
from k2p.crypt.stream import EncryptingWriter, PassphraseWriter
from k2p.fileio import fsync_dir


@dataclass(frozen=True)
class Encryption:
    """age recipients (streamed) or a passphrase (in memory); exactly one of them."""

    recipients: list[Any] = field(default_factory=list)
    passphrase: str | None = None

    @property
    def method(self) -> str:
        return "age (passphrase)" if self.passphrase else f"age ({len(self.recipients)} recipient(s))"


@dataclass
class SinkResult:
    files: list[Path]
    index: Path | None
    sha256: str            # of the bytes written (the ciphertext when encrypted)
    bytes: int


class _SingleFile:
    """One temporary file beside ``target``, hashed while written, renamed on close."""

    def __init__(self, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        self.target, self.tmp = target, Path(tmp)
        self.handle = os.fdopen(fd, "wb")
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self.handle.write(data)
        self.digest.update(data)
        self.size += len(data)
        return len(data)

    def flush(self) -> None:
        return None

    def close(self, **_: Any) -> SinkResult:
        self.handle.flush()
        os.fsync(self.handle.fileno())
        self.handle.close()
        os.replace(self.tmp, self.target)
        fsync_dir(self.target.parent)
        return SinkResult([self.target], None, self.digest.hexdigest(), self.size)

    def abort(self) -> None:
        self.handle.close()
        self.tmp.unlink(missing_ok=True)


class PackSink:
    """The stream ``tarfile`` writes into (``write`` and ``tell`` of the plaintext)."""

    def __init__(self, target: Path, *, volume_size: int | None = None,
                 encryption: Encryption | None = None) -> None:
        self.target = target
        self.encryption = encryption
        self._base: Any = VolumeWriter(target, volume_size) if volume_size else _SingleFile(target)
        self._top: Any = self._base
        if encryption is not None and encryption.passphrase is not None:
            self._top = PassphraseWriter(self._base, encryption.passphrase, str(target))
        elif encryption is not None:
            self._top = EncryptingWriter(self._base, encryption.recipients, str(target))
        self._position = 0

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self._top.write(data)
        self._position += len(data)
        return len(data)

    def tell(self) -> int:
        return self._position

    def flush(self) -> None:
        return None

    def finish(self, fingerprint: str | None) -> SinkResult:
        if self._top is not self._base:
            self._top.close()
        if isinstance(self._base, VolumeWriter):
            index, index_path, files = self._base.close(encrypted=self.encryption is not None,
                                                        fingerprint=fingerprint)
            return SinkResult(files, index_path, index.sha256, index.size)
        return self._base.close()

    def abort(self) -> None:
        if self._top is not self._base:
            self._top.abort()
        self._base.abort()
