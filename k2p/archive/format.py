"""Archive format v1: layout, names, version rule and the manifest model (spec: docs/FORMAT.md)."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from k2p.errors import ArchiveInvalid, UnsupportedVersion

FORMAT_NAME = "k2p-archive"
FORMAT_MAJOR = 1
FORMAT_MINOR = 1
FORMAT_VERSION = f"{FORMAT_MAJOR}.{FORMAT_MINOR}"

MANIFEST = "k2p-archive.json"
CHECKSUMS = "SHA256SUMS"
RECORDS_DIR = "records"
BLOBS_DIR = "blobs/sha256"
REPORTS_DIR = "reports"
MISSING_FILE = "missing.jsonl.zst"
MISSING_COLLECTION = "missing"
RECORD_SUFFIX = ".jsonl.zst"
# Writers keep scratch files here; it never exists in a complete archive.
WORK_DIR = ".k2p-work"

HEADER_MARKER = "k2p"
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
COLLECTION_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
REPORT_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,95}\.json$")
BLOB_PATH = re.compile(r"^blobs/sha256/([0-9a-f]{2})/([0-9a-f]{64})$")
CHECKSUM_LINE = re.compile(r"^([0-9a-f]{64}) [ *](.+)$")


def record_path(collection: str) -> str:
    """Relative path of a collection's record file."""
    if collection == MISSING_COLLECTION:
        return MISSING_FILE
    if not COLLECTION_NAME.match(collection):
        raise ValueError(f"invalid collection name {collection!r}")
    return f"{RECORDS_DIR}/{collection}{RECORD_SUFFIX}"


def blob_path(sha256: str) -> str:
    """Relative path of the blob whose content hashes to ``sha256`` (64 lowercase hex)."""
    if not SHA256_HEX.match(sha256):
        raise ArchiveInvalid(f"invalid blob name {sha256!r}: expected 64 lowercase hex digits")
    return f"{BLOBS_DIR}/{sha256[:2]}/{sha256}"


def blob_name_problem(path: str) -> str | None:
    """Why ``path`` under ``blobs/`` is not a valid blob path, or ``None`` when it is."""
    match = BLOB_PATH.match(path)
    if not match:
        return "not a blob path of the form blobs/sha256/<2 hex>/<64 hex>"
    if match.group(2)[:2] != match.group(1):
        return "blob is filed under the wrong fan-out directory"
    return None


def parse_checksums(data: bytes) -> tuple[dict[str, str], list[str]]:
    """Parse ``SHA256SUMS`` (coreutils format) into ``{path: sha256}`` plus a list of defects."""
    sums: dict[str, str] = {}
    defects: list[str] = []
    for number, raw in enumerate(data.split(b"\n"), start=1):
        if not raw:
            continue
        match = CHECKSUM_LINE.match(raw.decode("utf-8", errors="replace"))
        if not match:
            defects.append(f"line {number} is malformed (expected '<64 hex>  <path>')")
            continue
        digest, rel = match.groups()
        if rel in sums:
            defects.append(f"line {number} lists {rel} twice")
        sums[rel] = digest
    return sums, defects


def parse_version(text: str, *, what: str) -> tuple[int, int]:
    """Parse ``major.minor``; raise :class:`ArchiveInvalid` naming ``what`` when malformed."""
    match = re.fullmatch(r"(\d+)\.(\d+)", str(text))
    if not match:
        raise ArchiveInvalid(f"{what}: format version {text!r} is not of the form MAJOR.MINOR")
    return int(match.group(1)), int(match.group(2))


def check_version(text: str, *, what: str) -> tuple[int, int]:
    """Apply the versioning rule: accept every minor of our major, refuse any other major."""
    major, minor = parse_version(text, what=what)
    if major != FORMAT_MAJOR:
        newer = "newer" if major > FORMAT_MAJOR else "older"
        raise UnsupportedVersion(
            f"{what}: archive format {major}.{minor} is {newer} than this k2p supports "
            f"({FORMAT_MAJOR}.x, writes {FORMAT_VERSION}); use a k2p release that reads "
            f"format {major}.x"
        )
    return major, minor


def record_header(collection: str) -> dict[str, Any]:
    """The first line of every record file."""
    return {HEADER_MARKER: "records", "format_version": FORMAT_VERSION, "collection": collection}


class _Lenient(BaseModel):
    """Manifest parts ignore unknown fields so that newer minor versions stay readable."""

    model_config = ConfigDict(extra="ignore")


class ExporterInfo(_Lenient):
    name: str = "k2p"
    version: str


class SourceInfo(_Lenient):
    """Where the data came from. ``base_url`` never carries credentials."""

    system: str = "kaiten"
    base_url: str
    api_version: str | None = None
    company_id: int | str | None = None
    company_name: str | None = None
    user_id: int | str | None = None
    user_name: str | None = None


class CollectionEntry(_Lenient):
    """One record file: its path, record count, size and hash, and the source's own count."""

    file: str
    records: int
    bytes: int
    sha256: str
    expected: int | None = None


class CoverageEntry(_Lenient):
    """One collection k2p knows: whether this export holds it, and if not, why (docs/FORMAT.md §2.1)."""

    status: str                   # collected | partial | forbidden | not_on_tariff | not_supported | …
    route: str = ""
    records: int | None = None
    expected: int | None = None
    missing: int = 0
    reason: str | None = None
    http_status: int | None = None
    option: str | None = None
    note: str | None = None


class BlobSummary(_Lenient):
    count: int = 0
    bytes: int = 0


class MissingSummary(_Lenient):
    file: str = MISSING_FILE
    count: int = 0
    bytes: int = 0
    sha256: str = ""
    by_reason: dict[str, int] = Field(default_factory=dict)


class ChainPrevious(_Lenient):
    """The archive an incremental export was based on."""

    archive_id: str
    fingerprint: str
    created_at: str


class ChainInfo(_Lenient):
    """``chain`` of an incremental export (``k2p export --since``); absent in full exports."""

    previous: ChainPrevious
    carried_over: dict[str, int] = Field(default_factory=dict)   # records per collection, "blobs"
    reread: dict[str, int] = Field(default_factory=dict)         # records per collection read again
    refreshed_boards: list[int] = Field(default_factory=list)
    full: bool = False


class Manifest(_Lenient):
    """``k2p-archive.json``: written last; its presence marks the archive complete."""

    format: str = FORMAT_NAME
    format_version: str = FORMAT_VERSION
    archive_id: str
    created_at: str
    completed_at: str
    exporter: ExporterInfo
    source: SourceInfo
    scope: dict[str, Any] = Field(default_factory=dict)
    collections: dict[str, CollectionEntry] = Field(default_factory=dict)
    blobs: BlobSummary = Field(default_factory=BlobSummary)
    missing: MissingSummary = Field(default_factory=MissingSummary)
    reports: list[str] = Field(default_factory=list)
    chain: ChainInfo | None = None
    # optional (format 1.0 archives written before it lack it): every collection k2p knows
    coverage: dict[str, CoverageEntry] | None = None


def load_manifest(data: bytes, *, origin: str) -> Manifest:
    """Parse and validate manifest bytes, applying the version rule before the schema."""
    import orjson
    from pydantic import ValidationError

    try:
        raw = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ArchiveInvalid(f"{origin}: {MANIFEST} is not valid JSON ({exc}); the manifest is "
                             f"corrupt, restore the archive from another copy") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT_NAME:
        raise ArchiveInvalid(f"{origin}: {MANIFEST} does not describe a {FORMAT_NAME}")
    check_version(raw.get("format_version", ""), what=origin)
    try:
        return Manifest.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ArchiveInvalid(f"{origin}: {MANIFEST} field {where!r}: {first['msg']}") from None
