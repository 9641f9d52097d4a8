"""What the mapping produces: a plan of Planka objects, each with a stable source key.

The plan says *what* should exist in Planka and in which order; the importer decides *how*
(create, update or leave unchanged, by comparing with its ledger) and assigns positions. Every
object carries a ``key`` derived from Kaiten ids only, so re-running an import, or importing a
newer archive of the same company, finds the same Planka object again.

Sibling order is the order of the lists below (``BoardPlan.cards`` is ordered within each list).
Payload fields use Planka's names and already respect Planka's limits (truncation happens in the
mapping and is reported through :class:`Fidelity`).
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
import threading
from dataclasses import dataclass, field
from typing import IO, Any, Iterator

import orjson

from k2p.mapping.members import MemberPlan
from k2p.mapping.relations import RelationListPlan


@dataclass
class LabelPlan:
    key: str                      # label:<board>:tag:<tag id> | label:<board>:lane:<lane id> | label:<board>:blocked
    name: str | None              # ≤ 128, never ""
    color: str                    # one of Planka's 42 label colours

    def fields(self) -> dict[str, Any]:
        return {"name": self.name, "color": self.color}


@dataclass
class ListPlan:
    key: str                      # list:<board>:column:<id> | list:<board>:subcolumn:<id>
    name: str                     # ≤ 128, non-empty
    type: str                     # "active" | "closed"

    def fields(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type}


@dataclass
class CustomFieldPlan:
    key: str                      # field:<board>:property:<property id>
    name: str                     # ≤ 128

    def fields(self) -> dict[str, Any]:
        return {"name": self.name}


@dataclass
class DetailPlan:
    """One custom field of the card's own field group, with the card's (non-empty) value."""

    key: str                      # card:<card>:detail:<slug> (slug: kaiten_card, type, property:<id>, …)
    name: str                     # ≤ 128
    content: str                  # ≤ 512, non-empty, one line

    def fields(self) -> dict[str, Any]:
        return {"name": self.name}


@dataclass
class TaskPlan:
    key: str                      # task:<card>:item:<checklist item id>
    name: str                     # ≤ 1024, non-empty
    is_completed: bool

    def fields(self) -> dict[str, Any]:
        return {"name": self.name, "isCompleted": self.is_completed}


@dataclass
class TaskListPlan:
    key: str                      # tasklist:<card>:checklist:<checklist id>
    name: str                     # ≤ 128
    tasks: list[TaskPlan] = field(default_factory=list)

    def fields(self) -> dict[str, Any]:
        return {"name": self.name}


@dataclass
class CommentPlan:
    key: str                      # comment:<comment id>
    text: str                     # Markdown (with an attribution line per policy); within the body limit
    author_user_id: str | None = None   # Planka id of the author's account (None: unmapped)

    def fields(self) -> dict[str, Any]:
        return {"text": self.text}


@dataclass
class AttachmentPlan:
    key: str                      # attachment:<card>:file:<file id> | attachment:<card>:link:<link id>
    type: str                     # "file" | "link"
    name: str                     # ≤ 128, non-empty
    sha256: str | None = None     # file: the archive blob to upload
    size: int | None = None
    url: str | None = None        # link: http(s), ≤ 2048
    is_image: bool = False        # file: can be a cover
    author_user_id: str | None = None   # Planka id of the uploader's account (None: unmapped)

    def fields(self) -> dict[str, Any]:
        return {"type": self.type, "name": self.name, "sha256": self.sha256, "url": self.url}


@dataclass
class CardPlan:
    key: str                      # card:<card id>
    list_key: str                 # the list the card lives in (also for archived cards)
    name: str                     # ≤ 1024, non-empty
    type: str                     # "project" | "story"
    description: str | None = None
    due_date: str | None = None   # ISO 8601
    is_due_completed: bool | None = None
    stopwatch_total: int | None = None   # seconds of tracked time
    archived: bool = False        # created in list_key, then moved to the board's archive list
    label_keys: list[str] = field(default_factory=list)
    member_user_ids: list[str] = field(default_factory=list)   # Planka user ids
    creator_user_id: str | None = None   # Planka id of the Kaiten owner's account (None: unmapped)
    task_lists: list[TaskListPlan] = field(default_factory=list)
    comments: list[CommentPlan] = field(default_factory=list)  # oldest first
    attachments: list[AttachmentPlan] = field(default_factory=list)
    cover_key: str | None = None  # attachment key of the cover, None: no cover
    custom_values: dict[str, str] = field(default_factory=dict)  # field key → content (≤ 512)
    relations: list[RelationListPlan] = field(default_factory=list)  # linked tasks, resolved at replay
    blocked: bool = False         # carries the board's Blocked label
    details: list[DetailPlan] = field(default_factory=list)     # the card's own field group, in order
    details_group: str = "Details"   # that group's name (≤ 128)

    def fields(self) -> dict[str, Any]:
        """The card's own Planka fields (create payload minus position)."""
        payload: dict[str, Any] = {"type": self.type, "name": self.name}
        if self.description is not None:
            payload["description"] = self.description
        if self.due_date is not None:
            payload["dueDate"] = self.due_date
            payload["isDueCompleted"] = bool(self.is_due_completed)
        if self.stopwatch_total:
            payload["stopwatch"] = {"startedAt": None, "total": self.stopwatch_total}
        return payload


@dataclass
class BoardPlan:
    key: str                      # board:<board id>
    name: str                     # ≤ 128
    members: list[MemberPlan] = field(default_factory=list)    # board memberships and roles
    labels: list[LabelPlan] = field(default_factory=list)
    lists: list[ListPlan] = field(default_factory=list)
    custom_fields: list[CustomFieldPlan] = field(default_factory=list)
    cards: list[CardPlan] = field(default_factory=list)
    blocked_label_key: str | None = None   # the Blocked label, when a card of the board is blocked

    def fields(self) -> dict[str, Any]:
        return {"name": self.name}


@dataclass
class BoardRef:
    """A board placed in a project; its content is planned later, one board at a time."""

    board_id: str
    key: str                      # board:<board id>


@dataclass
class ProjectPlan:
    key: str                      # project:<space id>
    name: str                     # ≤ 128 ("Parent / Child" for nested spaces by default)
    description: str | None = None
    boards: list[BoardRef] = field(default_factory=list)
    manager_user_ids: list[str] = field(default_factory=list)  # Planka ids: project managers
    type: str = "shared"          # "private": only its manager (the importer) and board members see it

    def fields(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description}


@dataclass(frozen=True)
class Note:
    """One fidelity observation: something degraded, dropped or needing attention."""

    category: str                 # truncated | unmapped_user | missing_file | lossy | dropped | skipped | renamed
    entity: str                   # e.g. "card:50000012"
    field: str                    # e.g. "name", "description", "members"
    detail: str


class Fidelity:
    """Collects notes; the report shows counts per (category, field) with a few examples.

    Memory stays bounded however many notes a company yields: counts and the first examples of
    each group are kept, the first ``in_memory`` notes as objects, and every later note goes to an
    anonymous temporary file as a JSON line; :meth:`iter_notes` reads them all back in order.
    """

    def __init__(self, in_memory: int = 1000) -> None:
        self._in_memory = in_memory
        self._held: list[Note] = []
        self._spill: IO[bytes] | None = None
        self._spilled = 0
        self._groups: dict[tuple[str, str], tuple[int, list[Note]]] = {}
        self._lock = threading.Lock()

    def add(self, category: str, entity: str, field: str, detail: str) -> None:
        note = Note(category, entity, field, detail)
        with self._lock:
            count, examples = self._groups.get((category, field), (0, []))
            if len(examples) < EXAMPLES:
                examples.append(note)
            self._groups[(category, field)] = (count + 1, examples)
            if len(self._held) < self._in_memory:
                self._held.append(note)
                return
            if self._spill is None:
                self._spill = tempfile.TemporaryFile(prefix="k2p-fidelity-")
            self._spill.seek(0, os.SEEK_END)
            self._spill.write(orjson.dumps(dataclasses.astuple(note)) + b"\n")
            self._spilled += 1

    def __len__(self) -> int:
        return len(self._held) + self._spilled

    @property
    def notes(self) -> list[Note]:
        """Every note as a list (for small plans and tests; a report streams :meth:`iter_notes`)."""
        return list(self.iter_notes())

    def iter_notes(self) -> Iterator[Note]:
        """Every note in the order it was added."""
        with self._lock:
            held, spilled = list(self._held), self._spilled
            if self._spill is not None:
                self._spill.flush()
        yield from held
        if self._spill is None or not spilled:
            return
        fd, offset, pending = self._spill.fileno(), 0, b""   # pread: the writer's position stays
        while spilled:
            block = os.pread(fd, 1 << 16, offset)
            if not block:
                return
            offset += len(block)
            lines = (pending + block).split(b"\n")
            pending = lines.pop()
            for line in lines[:spilled]:
                yield Note(*orjson.loads(line))
            spilled -= min(spilled, len(lines))

    def extend(self, other: "Fidelity") -> None:
        for note in other.iter_notes():
            self.add(note.category, note.entity, note.field, note.detail)

    def summary(self, examples: int = 3) -> list[dict[str, Any]]:
        return [{"category": category, "field": field_name, "count": count,
                 "examples": [f"{note.entity}: {note.detail}" for note in kept[:examples]]}
                for (category, field_name), (count, kept) in sorted(self._groups.items())]


EXAMPLES = 3   # examples kept per (category, field)
