"""Record files: JSON lines in independent zstd frames, streamed in both directions.

A record file is a sequence of zstd frames (content size and checksum on); their concatenated
content is UTF-8 JSON lines, the first being the header. Frames end on line boundaries, so a writer
interrupted after :meth:`RecordFileWriter.checkpoint` can truncate the file to that checkpoint and
continue: the result is byte-identical to an uninterrupted write.

Readers treat a record file as hostile: every frame must declare its content size, which bounds
what one decompression step can produce; the declared sizes together must stay within
:func:`content_limit` of the file's compressed size, and no line may pass :data:`MAX_LINE_BYTES`.
:func:`declared_content_size` checks the first rule without decompressing anything.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterator

import zstandard

from k2p import jsoncodec
from k2p.archive.collections import ALL
from k2p.archive.format import HEADER_MARKER, MISSING_COLLECTION, check_version, record_header
from k2p.errors import ArchiveInvalid, ExitCode, K2PError
from k2p.redaction import redact_bytes

FRAME_TARGET_BYTES = 1 << 20   # uncompressed JSON per frame before a new frame starts
COMPRESSION_LEVEL = 3
READ_CHUNK = 1 << 20
_NO_REF: dict[str, Any] = {}
KINDS = {collection.name: collection.kind for collection in ALL} | {MISSING_COLLECTION: "missing"}

# Reader limits (docs/FORMAT.md "Reader limits", docs/SECURITY.md).
MAX_LINE_BYTES = 16 << 20                                 # one JSON record line
MAX_FRAME_BYTES = FRAME_TARGET_BYTES + MAX_LINE_BYTES     # what the writer can put in one frame
MAX_EXPANSION = 1000                                      # decompressed bytes per compressed byte
EXPANSION_SLACK = 1 << 20                                 # so that tiny files always fit
MAX_CONTENT_BYTES = 64 << 30                              # ceiling for any one record file
FRAME_HEADER_MAX = 18                                      # magic + the longest frame header
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_UNKNOWN_SIZE = zstandard.CONTENTSIZE_UNKNOWN


def content_limit(compressed_size: int) -> int:
    """How many decompressed bytes a record file of ``compressed_size`` bytes may hold."""
    return min(MAX_CONTENT_BYTES, compressed_size * MAX_EXPANSION + EXPANSION_SLACK)


def expansion_error(name: str, limit: int, where: str = "") -> ArchiveInvalid:
    return ArchiveInvalid(f"record file {name} expands beyond {limit} bytes{where} (at most "
                          f"{MAX_EXPANSION}x its compressed size, ceiling {MAX_CONTENT_BYTES}); "
                          f"refusing a possible decompression bomb — use an archive from a trusted copy")


class RecordTooLarge(K2PError):
    """A record longer than :data:`MAX_LINE_BYTES`, which no reader would accept."""

    exit_code = ExitCode.ARCHIVE_INVALID


def encode_record(record: dict[str, Any]) -> bytes:
    """Serialise one record as a JSON line (no trailing newline), keys in insertion order, with
    every registered secret masked (an answer quoting the token must not carry it into the archive)."""
    return redact_bytes(jsoncodec.dumps(record))


@dataclass(frozen=True)
class FilePosition:
    """A checkpoint inside a record file: byte offset and number of records before it."""

    offset: int
    records: int


class RecordFileWriter:
    """Append records to one collection's file, one zstd frame per ~1 MiB of JSON."""

    def __init__(self, path: Path, collection: str, *, resume_at: FilePosition | None = None) -> None:
        self.path = path
        self.collection = collection
        self._compressor = zstandard.ZstdCompressor(level=COMPRESSION_LEVEL, write_checksum=True,
                                                    write_content_size=True)
        self._buffer: list[bytes] = []
        self._buffered = 0
        self._unsynced = True  # a new or truncated file: the first checkpoint syncs it
        path.parent.mkdir(parents=True, exist_ok=True)
        if resume_at is not None and path.exists():
            self._handle: BinaryIO = open(path, "r+b")
            self._handle.truncate(resume_at.offset)
            self._handle.seek(resume_at.offset)
            self.records = resume_at.records
            self._has_header = resume_at.offset > 0
        else:
            self._handle = open(path, "wb")
            self.records = 0
            self._has_header = False
        if not self._has_header:
            self._append(encode_record(record_header(collection)))
            self._has_header = True

    def _append(self, line: bytes) -> None:
        self._buffer.append(line)
        self._buffer.append(b"\n")
        self._buffered += len(line) + 1
        if self._buffered >= FRAME_TARGET_BYTES:
            self.flush_frame()

    def write(self, record: dict[str, Any]) -> None:
        """Append one record; refuses one that no reader would accept (:data:`MAX_LINE_BYTES`)."""
        line = encode_record(record)
        if len(line) > MAX_LINE_BYTES:
            raise RecordTooLarge(f"{self.path}: record {record.get('kind')} {record.get('id')} is "
                                 f"{len(line)} bytes of JSON, more than the {MAX_LINE_BYTES} a record "
                                 f"line may hold (docs/SECURITY.md); it cannot be archived")
        self._append(line)
        self.records += 1

    def flush_frame(self) -> None:
        """Compress buffered lines into one frame and write it (no-op when empty)."""
        if not self._buffer:
            return
        self._handle.write(self._compressor.compress(b"".join(self._buffer)))
        self._buffer.clear()
        self._buffered = 0
        self._unsynced = True

    def checkpoint(self) -> FilePosition:
        """End the current frame and make everything written so far durable (a file nothing was
        written to since its last checkpoint is not synced again)."""
        self.flush_frame()
        if self._unsynced:
            self._handle.flush()
            os.fsync(self._handle.fileno())
            self._unsynced = False
        return FilePosition(self._handle.tell(), self.records)

    def close(self) -> FilePosition:
        position = self.checkpoint()
        self._handle.close()
        return position


class _CorruptFrame(Exception):
    """Internal: compressed data is damaged; turned into ArchiveInvalid with a line number."""


def _admit_frame(head: bytes, *, name: str, frame: int, declared: int, limit: int) -> int:
    """``declared`` plus the content size the frame starting with ``head`` declares.

    Refuses what a k2p writer never writes: other frame types, frames without a declared size,
    frames larger than :data:`MAX_FRAME_BYTES`, and a total beyond ``limit``.
    """
    if head[:4] != ZSTD_MAGIC:
        raise _CorruptFrame(f"frame {frame} is not a zstd data frame")
    try:
        size = zstandard.get_frame_parameters(head).content_size
    except zstandard.ZstdError as exc:
        raise _CorruptFrame(f"frame {frame}: {exc}") from None
    if size in (_UNKNOWN_SIZE, zstandard.CONTENTSIZE_ERROR):
        raise _CorruptFrame(f"frame {frame} does not declare its content size")
    if size > MAX_FRAME_BYTES:
        raise expansion_error(name, MAX_FRAME_BYTES, f" in one zstd frame (frame {frame} declares {size})")
    if declared + size > limit:
        raise expansion_error(name, limit)
    return declared + size


def _corrupt(name: str, exc: _CorruptFrame, where: str) -> ArchiveInvalid:
    return ArchiveInvalid(f"{name}: corrupt compressed data {where}({exc}); the file is damaged, "
                          f"restore the archive from another copy")


def declared_content_size(stream: BinaryIO, *, name: str, compressed_size: int) -> int:
    """The decompressed size a record file declares, from frame and block headers only.

    Nothing is decompressed: block contents are skipped with ``seek``, so this is cheap enough for
    ``verify --fast``, ``inspect`` and ``unpack``. Raises :class:`ArchiveInvalid` when a frame is
    malformed or truncated or the file would expand beyond :func:`content_limit`.
    """
    limit = content_limit(compressed_size)
    declared = offset = frame = 0
    try:
        while offset < compressed_size:
            frame += 1
            stream.seek(offset)
            head = stream.read(FRAME_HEADER_MAX)
            declared = _admit_frame(head, name=name, frame=frame, declared=declared, limit=limit)
            offset += zstandard.frame_header_size(head)
            last = False
            while not last:
                stream.seek(offset)
                block = stream.read(3)
                if len(block) < 3:
                    raise _CorruptFrame(f"frame {frame} is incomplete (file truncated)")
                value = int.from_bytes(block, "little")
                last, kind, size = bool(value & 1), (value >> 1) & 3, value >> 3
                if kind == 3:
                    raise _CorruptFrame(f"frame {frame} has a block of reserved type")
                offset += 3 + (1 if kind == 1 else size)
            offset += 4 if zstandard.get_frame_parameters(head).has_checksum else 0
        if offset > compressed_size:
            raise _CorruptFrame(f"frame {frame} is incomplete (file truncated)")
    except _CorruptFrame as exc:
        raise _corrupt(name, exc, "") from None
    return declared


def iter_decompressed(stream: BinaryIO, *, name: str, compressed_size: int | None = None,
                      on_compressed: Callable[[bytes], None] | None = None) -> Iterator[bytes]:
    """Yield the decompressed content of a multi-frame zstd stream, in bounded pieces.

    Walks frame by frame so that a truncated last frame is an error (a plain streaming reader
    accepts it silently), and admits each frame by its declared size before decompressing it (the
    decoder never produces more than a frame declares). ``on_compressed`` sees every compressed
    chunk, e.g. to hash the file in the same pass.
    """
    limit = MAX_CONTENT_BYTES if compressed_size is None else content_limit(compressed_size)
    decompressor = zstandard.ZstdDecompressor()
    current = None   # the decompressor of the frame being read; None between frames
    declared = frame = 0
    chunk = b""
    while True:
        if not chunk or (current is None and len(chunk) < FRAME_HEADER_MAX):
            more = stream.read(READ_CHUNK)
            if more and on_compressed is not None:
                on_compressed(more)
            chunk += more
            if not chunk:
                break
        if current is None:
            frame += 1
            declared = _admit_frame(chunk, name=name, frame=frame, declared=declared, limit=limit)
            current = decompressor.decompressobj()
        try:
            out = current.decompress(chunk)
        except zstandard.ZstdError as exc:
            raise _CorruptFrame(str(exc)) from None
        if out:
            yield out
        if current.eof:
            chunk, current = current.unused_data, None
        else:
            chunk = b""
    if current is not None:
        raise _CorruptFrame("the last zstd frame is incomplete (file truncated)")


def iter_lines(stream: BinaryIO, *, name: str, compressed_size: int | None = None,
               on_compressed: Callable[[bytes], None] | None = None) -> Iterator[tuple[int, bytes]]:
    """Yield ``(line_number, line)`` pairs (1-based; the header is line 1), each at most
    :data:`MAX_LINE_BYTES` long."""
    pending = b""
    line_no = 0
    try:
        for block in iter_decompressed(stream, name=name, compressed_size=compressed_size,
                                       on_compressed=on_compressed):
            pieces = (pending + block).split(b"\n")
            pending = pieces.pop()
            for piece in pieces:
                line_no += 1
                if len(piece) > MAX_LINE_BYTES:
                    raise _long_line(name, line_no)
                yield line_no, piece
            if len(pending) > MAX_LINE_BYTES:
                raise _long_line(name, line_no + 1)
    except _CorruptFrame as exc:
        raise _corrupt(name, exc, f"after line {line_no} ") from None
    if pending:
        raise ArchiveInvalid(f"{name} line {line_no + 1}: last line has no newline (file truncated); "
                             f"restore the archive from another copy")


def _long_line(name: str, line_no: int) -> ArchiveInvalid:
    return ArchiveInvalid(f"{name} line {line_no}: longer than {MAX_LINE_BYTES} bytes, which no k2p "
                          f"writer produces; refusing it — use an archive from a trusted copy")


def parse_line(line: bytes, *, name: str, line_no: int) -> dict[str, Any]:
    """Parse one JSON line into an object, naming the file and line on failure."""
    try:
        value = jsoncodec.loads_strict(line)
    except ValueError as exc:
        raise ArchiveInvalid(f"{name} line {line_no}: invalid JSON ({exc}); the record file is "
                             f"damaged, restore the archive from another copy") from None
    if not isinstance(value, dict):
        raise ArchiveInvalid(f"{name} line {line_no}: expected a JSON object")
    return value


def check_header(line: bytes, *, name: str, collection: str) -> dict[str, Any]:
    """Validate a record file's header line (marker, version rule, collection name)."""
    header = parse_line(line, name=name, line_no=1)
    if header.get(HEADER_MARKER) != "records":
        raise ArchiveInvalid(f"{name} line 1: not a k2p record file header")
    check_version(header.get("format_version", ""), what=name)
    if header.get("collection") != collection:
        raise ArchiveInvalid(f"{name} line 1: header names collection {header.get('collection')!r}, "
                             f"expected {collection!r}")
    return header


def check_envelope(record: dict[str, Any], *, name: str, line_no: int, kind: str | None) -> None:
    """Refuse a record whose ``kind`` is not its collection's, whose ``id`` is not a non-empty
    string, or whose ``raw`` (every kind but ``missing``) or ``ref`` is not a JSON object."""
    problem = None
    if not isinstance(record.get("kind"), str) or (kind is not None and record["kind"] != kind):
        problem = f"record kind {record.get('kind')!r} does not belong in this file (expected {kind or 'a string'!r})"
    elif not isinstance(record.get("id"), str) or not record["id"]:
        problem = f"record id {record.get('id')!r} is not a non-empty string"
    elif kind != "missing" and not isinstance(record.get("raw"), dict):
        problem = "record has no raw payload object"
    elif not isinstance(record.get("ref", {}), dict):
        problem = "record ref is not an object"
    if problem:
        raise ArchiveInvalid(f"{name} line {line_no}: {problem}; the record file is damaged or "
                             f"forged, restore the archive from another copy")


def iter_parsed(stream: BinaryIO, *, name: str, collection: str, compressed_size: int | None = None,
                on_compressed: Callable[[bytes], None] | None = None,
                ) -> Iterator[tuple[int, bytes, dict[str, Any]]]:
    """Yield ``(line_number, line, record)`` for every record after a valid header.

    Every line is parsed strictly and its envelope checked: this is what full ``verify`` checks and
    what every reader of records (``cat``, the importer) relies on.
    """
    lines = iter_lines(stream, name=name, compressed_size=compressed_size, on_compressed=on_compressed)
    first = next(lines, None)
    if first is None:
        raise ArchiveInvalid(f"{name}: empty record file (no header line)")
    check_header(first[1], name=name, collection=collection)
    kind = KINDS.get(collection)
    loads = jsoncodec.loads_strict
    for line_no, line in lines:
        try:
            record = loads(line)
        except ValueError:
            record = None
        # The usual case in one expression (this loop runs for every record a reader reads); the
        # slow path below names what is wrong.
        if not (type(record) is dict and record.get("kind") == kind and type(record.get("id")) is str
                and record["id"] and (type(record.get("raw")) is dict or kind == "missing")
                and type(record.get("ref", _NO_REF)) is dict):
            record = parse_line(line, name=name, line_no=line_no)
            check_envelope(record, name=name, line_no=line_no, kind=kind)
        yield line_no, line, record
