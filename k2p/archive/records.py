"""Record files: JSON lines in independent zstd frames, streamed in both directions.

A record file is a sequence of zstd frames (content size and checksum on); their concatenated
content is UTF-8 JSON lines, the first being the header. Frames end on line boundaries, so a writer
interrupted after :meth:`RecordFileWriter.checkpoint` can truncate the file to that checkpoint and
continue: the result is byte-identical to an uninterrupted write.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterator

import zstandard

from k2p import jsoncodec
from k2p.archive.format import HEADER_MARKER, check_version, record_header
from k2p.errors import ArchiveInvalid
from k2p.redaction import redact_bytes

FRAME_TARGET_BYTES = 1 << 20   # uncompressed JSON per frame before a new frame starts
COMPRESSION_LEVEL = 3
READ_CHUNK = 1 << 20


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
        """Append one record."""
        self._append(encode_record(record))
        self.records += 1

    def flush_frame(self) -> None:
        """Compress buffered lines into one frame and write it (no-op when empty)."""
        if not self._buffer:
            return
        self._handle.write(self._compressor.compress(b"".join(self._buffer)))
        self._buffer.clear()
        self._buffered = 0

    def checkpoint(self) -> FilePosition:
        """End the current frame and make everything written so far durable."""
        self.flush_frame()
        self._handle.flush()
        os.fsync(self._handle.fileno())
        return FilePosition(self._handle.tell(), self.records)

    def close(self) -> FilePosition:
        position = self.checkpoint()
        self._handle.close()
        return position


def iter_decompressed(stream: BinaryIO, *, name: str,
                      on_compressed: Callable[[bytes], None] | None = None) -> Iterator[bytes]:
    """Yield the decompressed content of a multi-frame zstd stream.

    Walks frame by frame so that a truncated last frame is an error (a plain streaming reader
    accepts it silently). ``on_compressed`` sees every compressed chunk, e.g. to hash the file in
    the same pass.
    """
    decompressor = zstandard.ZstdDecompressor()
    current = decompressor.decompressobj()
    fed = False
    while True:
        chunk = stream.read(READ_CHUNK)
        if not chunk:
            break
        if on_compressed is not None:
            on_compressed(chunk)
        while chunk:
            try:
                out = current.decompress(chunk)
            except zstandard.ZstdError as exc:
                raise _CorruptFrame(str(exc)) from None
            fed = True
            if out:
                yield out
            if current.eof:
                chunk = current.unused_data
                current = decompressor.decompressobj()
                fed = False
            else:
                chunk = b""
    if fed:
        raise _CorruptFrame("the last zstd frame is incomplete (file truncated)")


class _CorruptFrame(Exception):
    """Internal: compressed data is damaged; turned into ArchiveInvalid with a line number."""


def iter_lines(stream: BinaryIO, *, name: str,
               on_compressed: Callable[[bytes], None] | None = None) -> Iterator[tuple[int, bytes]]:
    """Yield ``(line_number, line)`` pairs (1-based; the header is line 1)."""
    pending = b""
    line_no = 0
    try:
        for block in iter_decompressed(stream, name=name, on_compressed=on_compressed):
            pieces = (pending + block).split(b"\n")
            pending = pieces.pop()
            for piece in pieces:
                line_no += 1
                yield line_no, piece
    except _CorruptFrame as exc:
        raise ArchiveInvalid(f"{name}: corrupt compressed data after line {line_no} ({exc}); "
                             f"the file is damaged, restore the archive from another copy") from None
    if pending:
        raise ArchiveInvalid(f"{name} line {line_no + 1}: last line has no newline (file truncated); "
                             f"restore the archive from another copy")


def parse_line(line: bytes, *, name: str, line_no: int) -> dict[str, Any]:
    """Parse one JSON line into an object, naming the file and line on failure."""
    try:
        value = jsoncodec.loads(line)
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


def iter_record_lines(stream: BinaryIO, *, name: str, collection: str,
                      validate: bool = False) -> Iterator[tuple[int, bytes]]:
    """Yield the raw record lines of a record file after validating its header.

    With ``validate`` every line is also parsed, so damage is reported before it is passed on.
    """
    lines = iter_lines(stream, name=name)
    first = next(lines, None)
    if first is None:
        raise ArchiveInvalid(f"{name}: empty record file (no header line)")
    check_header(first[1], name=name, collection=collection)
    for line_no, line in lines:
        if validate:
            parse_line(line, name=name, line_no=line_no)
        yield line_no, line


def iter_records(stream: BinaryIO, *, name: str, collection: str) -> Iterator[dict[str, Any]]:
    """Yield parsed records of a record file (streaming; never the whole file in memory)."""
    for line_no, line in iter_record_lines(stream, name=name, collection=collection):
        yield parse_line(line, name=name, line_no=line_no)
