"""One opener for every form an archive travels in.

``open_source(path)`` looks at what ``path`` is — a directory, a ``.k2p.tar``, a volume set (its
index ``NAME.k2p.volumes`` or any volume ``NAME.k2p.tar.001``), an age file ``NAME.k2p.tar.age`` or
a set of volumes of one — and returns a :class:`Source`; :meth:`Source.container` gives the
:class:`~k2p.archive.container.Container` every reader uses:

======================  =============================================================
plain tar / volume set  :class:`TarContainer` reading members in place (a volume set
                        through :class:`~k2p.archive.volumes.reader.ConcatReader`)
age, recipients         :class:`~k2p.archive.scanned.ScannedContainer`: decrypted as a
                        stream in one pass, blobs hashed but not kept
age, passphrase         decrypted in memory (pyrage cannot stream it), then a
                        :class:`TarContainer` over that buffer
======================  =============================================================

No form writes plaintext to disk; only ``k2p unpack`` does, into the directory it is given.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Callable

from k2p.archive.container import Container, DirContainer, TarContainer
from k2p.archive.format import CHECKSUMS
from k2p.archive.volumes.reader import VolumeSet, damaged_message, looks_like_volume_set, open_volume_set
from k2p.crypt.keys import identities_for, passphrase_for
from k2p.crypt.stream import (
    HEADER_LIMIT, PASSPHRASE_MAX_BYTES, AgeHeader, DecryptingReader, decrypt_passphrase, is_age,
    read_header,
)
from k2p.errors import ArchiveInvalid, ExitCode, K2PError


@dataclass
class Source:
    """An archive's bytes, before any member is read."""

    path: Path
    label: str
    form: str                                   # directory | tar | volumes
    volume_set: VolumeSet | None = None
    age: AgeHeader | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def encrypted(self) -> bool:
        return self.age is not None

    @property
    def sequential_only(self) -> bool:
        """Only one pass in order is possible (age with recipients)."""
        return self.age is not None and not self.age.passphrase

    def open_raw(self) -> BinaryIO:
        """The bytes as stored: the tar, or the ciphertext (one file or the volumes joined)."""
        if self.volume_set is not None:
            return self.volume_set.open()  # type: ignore[return-value]
        return open(self.path, "rb")

    def size(self) -> int:
        return self.volume_set.index.size if self.volume_set else self.path.stat().st_size

    def container(self) -> Container:
        if self.form == "directory":
            return DirContainer(self.path)
        if self.age is None:
            return TarContainer(self.path, opener=self.open_raw, label=self.label,
                                details=self.details, carrier=self._volume_problems)
        if self.age.passphrase:
            return self._passphrase_container()
        from k2p.archive.scanned import ScannedContainer

        with self.decrypt() as (plain, finish):
            return ScannedContainer(plain, self.label, details=self.details, after_scan=finish)

    def decrypt(self) -> "_Decryption":
        """A context giving ``(plaintext reader, finish)``; ``finish()`` (after reading to the end)
        records the ciphertext's SHA-256 and returns carrier problems (volumes, index)."""
        return _Decryption(self)

    def _passphrase_container(self) -> Container:
        size = self.size()
        if size > PASSPHRASE_MAX_BYTES + (1 << 20):
            raise K2PError(f"{self.label}: a passphrase-encrypted archive is decrypted in memory and "
                           f"this one is {size} bytes (limit {PASSPHRASE_MAX_BYTES >> 20} MiB)",
                           exit_code=ExitCode.REFUSED)
        with self.open_raw() as raw:
            ciphertext = raw.read()
        digest = hashlib.sha256(ciphertext).hexdigest()
        plain = decrypt_passphrase(ciphertext, passphrase_for(self.label), self.label)
        del ciphertext
        self._note_ciphertext(digest, size)
        problems = self._volume_problems(full=True) if self.volume_set else []
        return TarContainer(self.path, opener=lambda: io.BytesIO(plain), label=self.label,
                            details=self.details, carrier=lambda **_: problems)

    def _note_ciphertext(self, digest: str, size: int) -> None:
        assert self.age is not None
        self.details["encryption"] = {"method": self.age.method, "ciphertext_sha256": digest,
                                      "ciphertext_bytes": size}

    def _volume_problems(self, *, full: bool, on_bytes: Callable[[int], None] | None = None,
                         digests: list[str] | None = None) -> list[tuple[str, str]]:
        """Volumes whose SHA-256 differs from the index (hashed now unless ``digests`` are given)."""
        if self.volume_set is None or not full:
            return []
        if digests is None:
            return self.volume_set.hash_problems(on_bytes)
        return [(entry.name, damaged_message(entry.sha256, digest))
                for entry, digest in zip(self.volume_set.index.volumes, digests)
                if digest != entry.sha256]


class _Decryption:
    """Decrypt a source with recipients' identities as one stream (see :meth:`Source.decrypt`)."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self._raw: Any = None
        self._reader: DecryptingReader | None = None

    def __enter__(self) -> tuple[DecryptingReader, Callable[[], list[tuple[str, str]]]]:
        identities = identities_for(self.source.label)
        self._raw = _VolumeHasher(self.source) if self.source.volume_set else self.source.open_raw()
        self._reader = DecryptingReader(self._raw, identities, self.source.label)
        return self._reader, self.finish

    def finish(self) -> list[tuple[str, str]]:
        assert self._reader is not None
        ciphertext = self._reader.ciphertext
        self.source._note_ciphertext(ciphertext.sha256.hexdigest(), ciphertext.bytes)
        if isinstance(self._raw, _VolumeHasher):
            return self.source._volume_problems(full=True, digests=self._raw.digests())
        return []

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 _tb: object) -> None:
        if self._reader is not None:
            self._reader.close()
        if self._raw is not None:
            self._raw.close()
        volumes = self.source.volume_set
        if isinstance(error, ArchiveInvalid) and volumes is not None and \
                "age authentication failed" in error.message:
            # Name the volume that broke the ciphertext, when one differs from the index.
            damaged = volumes.hash_problems()
            if damaged:
                name, message = damaged[0]
                raise ArchiveInvalid(f"{volumes.index_path.with_name(name)}: {message} (the age "
                                     f"ciphertext fails authentication)") from None


class _VolumeHasher:
    """The joined volumes read once in order, hashing each volume on the way."""

    def __init__(self, source: Source) -> None:
        assert source.volume_set is not None
        self._sizes = [entry.size for entry in source.volume_set.index.volumes]
        self._reader = source.volume_set.open()
        self._hashes = [hashlib.sha256() for _ in self._sizes]
        self._volume = 0
        self._left = self._sizes[0] if self._sizes else 0

    def read(self, size: int = -1) -> bytes:
        data = self._reader.read(size)
        view = memoryview(data)
        while view:
            while self._left == 0 and self._volume < len(self._sizes) - 1:
                self._volume += 1
                self._left = self._sizes[self._volume]
            part = view[: self._left]
            self._hashes[self._volume].update(part)
            self._left -= len(part)
            view = view[len(part):]
        return data

    def digests(self) -> list[str]:
        return [digest.hexdigest() for digest in self._hashes]

    def close(self) -> None:
        self._reader.close()


def open_source(path: Path) -> Source:
    """What ``path`` is, with every volume of a set checked present (exit 4 naming a missing one)."""
    if path.is_symlink():
        raise ArchiveInvalid(f"{path} is a symbolic link; give the archive's real path")
    if path.is_dir():
        return Source(path, str(path), "directory", details={"form": "directory"})
    if looks_like_volume_set(path):
        volumes = open_volume_set(path)
        source = Source(path, volumes.label, "volumes", volume_set=volumes,
                        details={"form": "volumes", "volumes": volumes.details()})
        head = volumes.head(HEADER_LIMIT)
    elif path.is_file():
        source = Source(path, str(path), "tar", details={"form": "tar"})
        with open(path, "rb") as handle:
            head = handle.read(HEADER_LIMIT)
    else:
        raise K2PError(f"{path}: no such archive (expected a NAME.k2p directory, a NAME.k2p.tar "
                       f"file, a volume set or an encrypted NAME.k2p.tar.age)",
                       exit_code=ArchiveInvalid.exit_code)
    if is_age(head):
        source.age = read_header(head, source.label)
        source.details["form"] += "+age"
    return source


def open_container(path: Path) -> Container:
    """The container of the archive at ``path``, whatever form it travels in."""
    return open_source(path).container()


def refuse_encrypted(path: Path, command: str, why: str) -> None:
    """Refuse, before any work, an encrypted archive for a ``command`` that would have to write
    decrypted data to disk (its temporary index) or read it at random: ``why``."""
    if path.is_dir():
        return
    source = open_source(path)
    if source.encrypted:
        raise K2PError(f"{source.label} is encrypted and {command} {why}; unpack it first into a "
                       f"directory you choose (`k2p unpack {path} --identity KEY -o DIR`), run "
                       f"{command} on DIR, and delete DIR afterwards (it holds the plaintext)",
                       exit_code=ExitCode.USAGE)


def fingerprint_problem(container: Container) -> tuple[str, str] | None:
    """The volume index names another archive than the one inside (a mixed-up set)."""
    expected = (container.details.get("volumes") or {}).get("fingerprint")
    if not expected or not container.has(CHECKSUMS):
        return None
    actual = hashlib.sha256(container.read_bytes(CHECKSUMS)).hexdigest()
    if actual != expected:
        index = container.details["volumes"]["index"]
        return (index, f"the volume index gives fingerprint {expected[:12]}…, the archive inside has "
                       f"{actual[:12]}… — the index belongs to another archive")
    return None
