"""``k2p inspect``: what an archive holds, from its manifest (no hashing; record files are only
checked for the sizes their frame headers declare)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from k2p.archive.reader import ArchiveReader


def describe_archive(path: Path) -> dict[str, Any]:
    """A JSON-ready description: format, source, scope, collections, blobs, missing, fingerprint."""
    with ArchiveReader(path) as reader:
        reader.check_record_files()
        manifest = reader.manifest
        return {
            "archive": reader.label,
            "format": manifest.format,
            "format_version": manifest.format_version,
            "archive_id": manifest.archive_id,
            "created_at": manifest.created_at,
            "completed_at": manifest.completed_at,
            "exporter": manifest.exporter.model_dump(),
            "source": manifest.source.model_dump(),
            "scope": manifest.scope,
            "collections": {name: {"records": entry.records, "expected": entry.expected,
                                   "bytes": entry.bytes}
                            for name, entry in sorted(manifest.collections.items())},
            "blobs": manifest.blobs.model_dump(),
            "missing": {"count": manifest.missing.count, "by_reason": manifest.missing.by_reason},
            "reports": manifest.reports,
            "coverage": None if manifest.coverage is None else {
                name: entry.model_dump(exclude_none=True) for name, entry in manifest.coverage.items()},
            "fingerprint": reader.fingerprint(),
            **({"chain": manifest.chain.model_dump()} if manifest.chain is not None else {}),
            "container": reader.container.details,
        }
