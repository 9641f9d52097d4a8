"""age encryption and decryption as streams (recipients) or in memory (passphrases).

``pyrage.encrypt_io`` / ``decrypt_io`` pull from a reader and push to a writer until the end; the
tar writer and the tar readers want the opposite direction, so each runs pyrage on a worker thread
joined to the caller by a bounded queue (at most ``QUEUE_CHUNKS`` × ``CHUNK`` bytes in flight).
"""

from __future__ import annotations

import hashlib
import io
import queue
import threading
from dataclasses import dataclass
from typing import Any, BinaryIO, Callable

import pyrage

from k2p.errors import ArchiveInvalid, ExitCode, K2PError, LocalIOError

AGE_MAGIC = b"age-encryption.org/v1\n"
HEADER_LIMIT = 64 << 10                # an age header is a few hundred bytes per recipient
CHUNK = 1 << 20
QUEUE_CHUNKS = 8
# pyrage.passphrase works on whole byte strings: plaintext, ciphertext and a copy are in memory at
# once (about 3x this). Larger archives must use recipients (--encrypt-to), which stream.
PASSPHRASE_MAX_BYTES = 1 << 30
_EOF = object()
_ABORT = object()


@dataclass(frozen=True)
class AgeHeader:
    """What the (unauthenticated) header says: how the file key is wrapped."""

    stanzas: tuple[str, ...]          # stanza types: "X25519", "scrypt", ...

    @property
    def passphrase(self) -> bool:
        return "scrypt" in self.stanzas

    @property
    def method(self) -> str:
        return "age (passphrase)" if self.passphrase else f"age ({len(self.stanzas)} recipient(s))"


def is_age(head: bytes) -> bool:
    return head.startswith(AGE_MAGIC)


def read_header(head: bytes, label: str) -> AgeHeader:
    """Parse the stanza types from the first bytes of an age file (at most ``HEADER_LIMIT``)."""
    if not is_age(head):
        raise ArchiveInvalid(f"{label}: not an age file")
    stanzas = []
    for line in head[len(AGE_MAGIC):].split(b"\n"):
        if line.startswith(b"---"):
            return AgeHeader(tuple(stanzas))
        if line.startswith(b"-> "):
            kind = line[3:].split(b" ")[0].decode("ascii", errors="replace")[:32]
            if not kind.endswith("-grease"):      # random stanzas age adds to stay extensible
                stanzas.append(kind)
    raise ArchiveInvalid(f"{label}: the age header is truncated or longer than {HEADER_LIMIT} bytes; "
                         f"copy the file again")


def _decrypt_error(label: str, exc: BaseException, position: int) -> BaseException:
    if isinstance(exc, K2PError):        # raised by the ciphertext's own reader (a volume changed)
        return exc
    if isinstance(exc, OSError) and exc.filename:
        return LocalIOError(f"cannot read {exc.filename}: {exc.strerror or exc}; check the medium "
                            f"and run the command again")
    text = str(exc)
    if "No matching keys" in text:
        return ArchiveInvalid(f"{label}: none of the given age identities can decrypt it (wrong "
                              f"--identity or K2P_AGE_IDENTITY, or a passphrase file was expected)")
    if isinstance(exc, pyrage.DecryptError):
        return ArchiveInvalid(f"{label}: not a readable age file ({text}); the header is damaged or "
                              f"truncated — copy it again")
    return ArchiveInvalid(f"{label}: the ciphertext is damaged or truncated (age authentication "
                          f"failed after {position} plaintext bytes); copy it again from the source")


class _QueueReader:
    """A file-like reader fed by a queue (the encryptor's input)."""

    def __init__(self, chunks: "queue.Queue[Any]") -> None:
        self._chunks = chunks
        self._current = memoryview(b"")
        self._done = False

    def read(self, size: int = -1) -> bytes:
        while not self._current and not self._done:
            item = self._chunks.get()
            if item is _EOF:
                self._done = True
            elif item is _ABORT:
                raise OSError("encryption aborted")
            else:
                self._current = memoryview(item)
        if size is None or size < 0:
            size = len(self._current)
        data, self._current = bytes(self._current[:size]), self._current[size:]
        return data


class EncryptingWriter:
    """Write plaintext; ciphertext for ``recipients`` goes to ``sink`` (any object with ``write``)."""

    def __init__(self, sink: Any, recipients: list[Any], label: str = "the output") -> None:
        self._label = label
        self._chunks: "queue.Queue[Any]" = queue.Queue(maxsize=QUEUE_CHUNKS)
        self._buffer = bytearray()
        self._error: BaseException | None = None
        self._closed = False

        sink_errors: list[BaseException] = []

        class _Sink:
            """Keeps the sink's own exception: pyrage would flatten it into an EncryptError."""

            def write(self, data: bytes) -> int:
                try:
                    return sink.write(data)
                except BaseException as exc:
                    sink_errors.append(exc)
                    raise

            def flush(self) -> None:
                return None

        def run() -> None:
            try:
                pyrage.encrypt_io(_QueueReader(self._chunks), _Sink(), recipients)
            except BaseException as exc:  # noqa: BLE001 - handed to the writing thread
                error = sink_errors[0] if sink_errors else exc
                if isinstance(error, OSError):        # the sink failed (disk full, permissions)
                    error = LocalIOError(f"cannot write {error.filename or self._label}: "
                                         f"{error.strerror or error}; free disk space or fix "
                                         f"permissions, then run the command again")
                self._error = error

        self._thread = threading.Thread(target=run, name="k2p-age-encrypt", daemon=True)
        self._thread.start()

    def _put(self, item: Any) -> None:
        while True:
            if self._error is not None:
                raise self._error
            try:
                self._chunks.put(item, timeout=0.2)
                return
            except queue.Full:
                if not self._thread.is_alive():
                    raise self._error or OSError("the age encryptor stopped")

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self._buffer += data
        if len(self._buffer) >= CHUNK:
            self._put(bytes(self._buffer))
            self._buffer.clear()
        return len(data)

    def close(self) -> None:
        """Flush, finish the age stream and wait for the last ciphertext to reach the sink."""
        if self._closed:
            return
        self._closed = True
        if self._buffer:
            self._put(bytes(self._buffer))
            self._buffer.clear()
        self._put(_EOF)
        self._thread.join()
        if self._error is not None:
            raise self._error

    def abort(self) -> None:
        """Stop the encryptor after a failure on the writing side."""
        if self._closed:
            return
        self._closed = True
        try:
            self._chunks.put(_ABORT, timeout=5)
        except queue.Full:
            pass
        self._thread.join(timeout=30)


class PassphraseWriter:
    """Collect plaintext in memory, then write it encrypted with a passphrase (pyrage cannot
    stream passphrase encryption)."""

    def __init__(self, sink: Any, passphrase: str, label: str) -> None:
        self._sink, self._passphrase, self._label = sink, passphrase, label
        self._buffer = io.BytesIO()

    def write(self, data: bytes | bytearray | memoryview) -> int:
        if self._buffer.tell() + len(data) > PASSPHRASE_MAX_BYTES:
            raise K2PError(f"{self._label}: passphrase encryption holds the whole archive in memory "
                           f"and is limited to {PASSPHRASE_MAX_BYTES >> 20} MiB; encrypt to an age "
                           f"recipient instead (--encrypt-to age1…, key from age-keygen)",
                           exit_code=ExitCode.USAGE)
        return self._buffer.write(data)

    def close(self) -> None:
        ciphertext = pyrage.passphrase.encrypt(self._buffer.getvalue(), self._passphrase)
        self._buffer = io.BytesIO()
        view = memoryview(ciphertext)
        for start in range(0, len(view), CHUNK):
            self._sink.write(view[start:start + CHUNK])

    def abort(self) -> None:
        self._buffer = io.BytesIO()


class HashingReader:
    """Read a binary stream while hashing it (the ciphertext's SHA-256 comes for free)."""

    def __init__(self, source: BinaryIO) -> None:
        self._source = source
        self.sha256 = hashlib.sha256()
        self.bytes = 0
        self.error: BaseException | None = None   # the source's own failure, kept intact

    def read(self, size: int = -1) -> bytes:
        try:
            data = self._source.read(size)
        except BaseException as exc:
            self.error = exc
            raise
        self.sha256.update(data)
        self.bytes += len(data)
        return data


class _QueueWriter:
    """The decryptor's output: batches plaintext into the queue; stops when the reader is gone."""

    def __init__(self, owner: "DecryptingReader") -> None:
        self._owner = owner
        self._buffer = bytearray()

    def write(self, data: bytes) -> int:
        self._buffer += data
        if len(self._buffer) >= CHUNK:
            self.flush_out()
        return len(data)

    def flush(self) -> None:
        return None

    def flush_out(self) -> None:
        if self._buffer:
            self._owner._put(bytes(self._buffer))
            self._buffer.clear()


class DecryptingReader:
    """Plaintext of an age stream, in order, read with ``read``/``readinto`` (no seeking).

    Bytes are handed out only after age authenticated their chunk; the end of the file (and so
    truncation) is known only when the last read returns ``b""`` without raising.
    """

    def __init__(self, source: BinaryIO, identities: list[Any], label: str) -> None:
        self.label = label
        self.ciphertext = HashingReader(source)
        self._chunks: "queue.Queue[Any]" = queue.Queue(maxsize=QUEUE_CHUNKS)
        self._current = memoryview(b"")
        self._done = False
        self._cancelled = False
        self.position = 0
        self._error: BaseException | None = None
        writer = _QueueWriter(self)

        def run() -> None:
            try:
                pyrage.decrypt_io(self.ciphertext, writer, identities)
                writer.flush_out()
                self._put(_EOF)
            except BaseException as exc:  # noqa: BLE001 - handed to the reading thread
                self._error = self.ciphertext.error or exc
                self._put(_ABORT, force=True)

        self._thread = threading.Thread(target=run, name="k2p-age-decrypt", daemon=True)
        self._thread.start()

    def _put(self, item: Any, force: bool = False) -> None:
        while True:
            if self._cancelled and not force:
                raise OSError("reader closed")
            try:
                self._chunks.put(item, timeout=0.2)
                return
            except queue.Full:
                if self._cancelled:
                    if not force:
                        raise OSError("reader closed") from None
                    return

    def _fill(self) -> None:
        while not self._current and not self._done:
            item = self._chunks.get()
            if item is _EOF:
                self._done = True
            elif item is _ABORT:
                self._done = True
                raise _decrypt_error(self.label, self._error or OSError("stopped"), self.position)
            else:
                self._current = memoryview(item)

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            parts = []
            while chunk := self.read(CHUNK):
                parts.append(chunk)
            return b"".join(parts)
        self._fill()
        data, self._current = bytes(self._current[:size]), self._current[size:]
        self.position += len(data)
        return data

    def readinto(self, buffer: bytearray | memoryview) -> int:
        data = self.read(len(buffer))
        memoryview(buffer)[:len(data)] = data
        return len(data)

    def close(self) -> None:
        """Stop decrypting (also when the reader stops early) and wait for the worker."""
        self._cancelled = True
        while self._thread.is_alive():
            try:
                self._chunks.get(timeout=0.1)
            except queue.Empty:
                pass
        self._thread.join()

    def __enter__(self) -> "DecryptingReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def decrypt_passphrase(ciphertext: bytes, passphrase: str, label: str) -> bytes:
    """Decrypt a whole passphrase-encrypted file held in memory."""
    try:
        return pyrage.passphrase.decrypt(ciphertext, passphrase)
    except pyrage.DecryptError:
        raise ArchiveInvalid(f"{label}: the passphrase does not decrypt it (wrong passphrase, or a "
                             f"damaged age header)") from None
    except OSError:
        raise ArchiveInvalid(f"{label}: the ciphertext is damaged or truncated (age authentication "
                             f"failed); copy it again from the source") from None
