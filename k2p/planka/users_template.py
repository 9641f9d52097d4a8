"""``k2p users-template``: a CSV of the archive's users to map onto Planka accounts."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from k2p.archive.index import ArchiveIndex
from k2p.archive.reader import ArchiveReader
from k2p.errors import Refused
from k2p.fileio import atomic_write_bytes
from k2p.archive import collections as C
from k2p.mapping.users import CSV_COLUMNS, appearing_user_ids, spreadsheet_safe, template_rows
from k2p.planka.client import Credentials, PlankaClient



@dataclass(frozen=True)
class TemplateResult:
    path: Path
    users: int
    matched: int


def _raws(reader: ArchiveReader, collection: C.Collection) -> Iterator[dict[str, Any]]:
    if reader.has_collection(collection.name):
        for record in reader.iter_records(collection.name):
            yield record.get("raw") or {}


def write_users_template(archive: Path, output: Path, *, planka_url: str | None = None,
                         credentials: Credentials | None = None, ca_bundle: str | None = None,
                         accept_terms: bool = False, force: bool = False) -> TemplateResult:
    """Write the CSV; with ``planka_url``, pre-fill ``planka_user`` by e-mail, then username.

    Names come from the archive: a cell that a spreadsheet would run as a formula is written
    neutralised (:func:`spreadsheet_safe`)."""
    if output.exists() and not force:
        raise Refused(f"{output} already exists; edit it, or pass --force to overwrite it")
    planka_users = None
    if planka_url is not None:
        client = PlankaClient(planka_url, credentials or Credentials(), accept_terms=accept_terms,
                              ca_bundle=ca_bundle)
        client.probe()
        client.authenticate()
        planka_users = list(client.get("/api/users").get("items", []))
    with ArchiveReader(archive) as reader, ArchiveIndex(reader, cards=False) as index:
        cards = _raws(reader, C.CARDS)
        authored = (raw for collection in (C.COMMENTS, C.FILES) for raw in _raws(reader, collection))
        rows = template_rows(index.company, planka_users, appearing_user_ids(index.company, cards, authored))
    buffer = io.StringIO()
    # CRLF (RFC 4180): a CR inside a cell is then quoted instead of breaking the row.
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\r\n")
    writer.writeheader()
    writer.writerows({column: spreadsheet_safe(str(value)) for column, value in row.items()} for row in rows)
    atomic_write_bytes(output, buffer.getvalue().encode("utf-8"))
    return TemplateResult(output, len(rows), sum(1 for row in rows if row.get("planka_user")))
