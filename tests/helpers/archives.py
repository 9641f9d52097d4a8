"""Build small archives with known content for archive-level tests."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Callable

from k2p.archive.format import CHECKSUMS, MANIFEST, SourceInfo
from k2p.archive.writer import ArchiveWriter, SealedArchive, render_checksums

SOURCE = SourceInfo(base_url="https://acme.kaiten.ru/api/latest", company_id=1, company_name="Acme",
                    user_id=7, user_name="Ann")
FIXED_TIME = "2026-11-01T00:00:00Z"


def sample_content() -> dict[str, Any]:
    """Records of three collections, blobs (one shared by two files), one missing entry."""
    blobs = [b"", b"hello world\n", bytes(range(256)) * 300]
    cards = [{"kind": "card", "id": str(100 + n),
              "raw": {"id": 100 + n, "title": f"Card {n} — ünïcödé 🚀", "sort_order": n / 3,
                      "description": None if n % 2 else "x" * (n * 50)}} for n in range(40)]
    comments = [{"kind": "comment", "id": str(500 + n), "ref": {"card_id": str(100 + n % 5)},
                 "raw": {"id": 500 + n, "text": "<p>hi &amp; bye</p>", "type": 2}} for n in range(12)]
    return {"records": {"cards": cards, "comments": comments, "users": []}, "blobs": blobs,
            "missing": [{"id": "file:9", "entity": "file", "reason": "not_found", "http_status": 404,
                         "detail": "GET https://files.example/x.pdf answered 404"}]}


def write_archive(root: Path, content: dict[str, Any] | None = None) -> SealedArchive:
    """Write ``content`` (see :func:`sample_content`) as a complete archive at ``root``."""
    content = content or sample_content()
    writer = ArchiveWriter(root)
    refs = [writer.blobs.put_bytes(data) for data in content["blobs"]]
    files = [{"kind": "file", "id": str(n), "ref": {"card_id": "100"},
              "raw": {"id": n, "name": f"f{n}.bin"}, "blob": {"sha256": ref.sha256, "size": ref.size}}
             for n, ref in enumerate(refs + refs[:1])]
    for collection, records in {**content["records"], "files": files}.items():
        out = writer.records(collection)
        for record in records:
            out.write(record)
    for entry in content["missing"]:
        writer.add_missing(entry)
    writer.write_report("export-report.json", {"requests": 3})
    return writer.finalize(source=SOURCE, exporter_version="test", created_at=FIXED_TIME,
                           scope={"spaces": [], "files": True}, expected={"cards": 40})


def tree_bytes(root: Path, *subdirs: str) -> dict[str, bytes]:
    """``{relative path: bytes}`` of every file below the given subdirectories of ``root``."""
    result = {}
    for sub in subdirs:
        for path in sorted((root / sub).rglob("*")):
            if path.is_file():
                result[path.relative_to(root).as_posix()] = path.read_bytes()
    return result


def rewrite_manifest(root: Path, edit: Callable[[dict], None], *, sums: dict[str, str] | None = None) -> None:
    """Change the manifest and re-seal SHA256SUMS (plus ``sums``), as a buggy writer or a forger would."""
    manifest = json.loads((root / MANIFEST).read_text())
    edit(manifest)
    data = json.dumps(manifest, indent=2).encode()
    (root / MANIFEST).write_bytes(data)
    listed = dict(reversed(line.split("  ", 1)) for line in (root / CHECKSUMS).read_text().splitlines())
    listed.update(sums or {})
    listed[MANIFEST] = hashlib.sha256(data).hexdigest()
    (root / CHECKSUMS).write_bytes(render_checksums(listed))


def forge_record_file(root: Path, rel: str, data: bytes) -> None:
    """Replace record file ``rel`` and re-seal the manifest and SHA256SUMS around it: an archive
    that only the content checks can catch."""
    (root / rel).write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()

    def edit(manifest: dict) -> None:
        entry = next(entry for entry in [manifest["missing"], *manifest["collections"].values()]
                     if entry["file"] == rel)
        entry.update(bytes=len(data), sha256=digest)

    rewrite_manifest(root, edit, sums={rel: digest})
