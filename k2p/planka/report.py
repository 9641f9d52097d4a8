"""The import's report file, written as a stream: its fidelity notes are never all in memory.

The run's summary (counts, failures, people, deletions, conflicts) is a dict; the fidelity notes
are a list that grows with the company (one or more per card when files or users are missing), so
:class:`~k2p.mapping.model.Fidelity` keeps only the first ones in memory and this writer copies
every note from it into the file's ``fidelity_notes`` array, one line per note, through a
temporary file that replaces the report when complete. The report dict a caller keeps (``--json``)
lists the first :data:`NOTES_IN_MEMORY` notes and ``fidelity_notes_total``.
"""

from __future__ import annotations

from itertools import islice
from pathlib import Path
from typing import Any

import orjson

from k2p.fileio import atomic_writer
from k2p.mapping.model import Fidelity, Note
from k2p.redaction import redact_bytes

NOTES_IN_MEMORY = 1000


def _note(note: Note) -> dict[str, str]:
    return {"category": note.category, "entity": note.entity, "field": note.field, "detail": note.detail}


def with_notes(report: dict[str, Any], fidelity: Fidelity) -> dict[str, Any]:
    """``report`` with the first notes and their total (what stays in memory)."""
    return {**report, "fidelity_notes": [_note(note) for note in islice(fidelity.iter_notes(), NOTES_IN_MEMORY)],
            "fidelity_notes_total": len(fidelity)}


def write_report(path: Path, report: dict[str, Any], fidelity: Fidelity) -> None:
    """Write ``report`` with every note of ``fidelity`` to ``path`` (secrets masked)."""
    head = {key: value for key, value in report.items() if key != "fidelity_notes"}
    text = orjson.dumps(head, option=orjson.OPT_INDENT_2)
    assert text.endswith(b"}")
    with atomic_writer(path) as out:
        opening = text[:-1].rstrip() + b"," if head else b"{"
        out.write(redact_bytes(opening + b'\n  "fidelity_notes": ['))
        for index, note in enumerate(fidelity.iter_notes()):
            out.write(redact_bytes((b",\n    " if index else b"\n    ") + orjson.dumps(_note(note))))
        out.write(b"\n  ]\n}\n")
