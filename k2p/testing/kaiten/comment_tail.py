"""The long tail of comments: cards with hundreds of comments, generated on demand from a seed.

A :class:`CommentThread` stands in for a card's list of comment records in
``CompanyData.comments``. It stores only what determines the thread (card, first id, count, start
time, authors, seed) and regenerates the same records every time it is iterated, so a 100,000-card
company with a few thousand long threads does not hold hundreds of thousands of comment dicts.
Comments the card had before the thread (``head``) and comments added later (``append``, as
drift does) are kept as ordinary records before and after the generated ones. :func:`thread_records` is the eager form of the same records: the generator uses it when a
company is built without laziness, and tests compare both.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from typing import Any

from k2p.testing.kaiten.cards_text import MD_COMMENTS
from k2p.testing.kaiten.formats import at, rng_uuid

Record = dict[str, Any]
STEP_MINUTES = 45  # between consecutive comments of a thread


def thread_records(card_id: int, first_id: int, count: int, start: float, authors: tuple[int, ...],
                   seed: int) -> Iterator[Record]:
    """The ``count`` comment records of one thread, oldest first, ids ``first_id`` upwards."""
    rng = random.Random(seed)
    for n in range(count):
        minutes = start + (n + 1) * STEP_MINUTES
        edited = rng.random() < 0.1
        yield {"id": first_id + n, "uid": rng_uuid(rng), "text": rng.choice(MD_COMMENTS), "type": 1,
               "edited": edited, "card_id": card_id, "author_id": rng.choice(authors),
               "internal": False, "deleted": False, "email_addresses_to": None,
               "sd_external_recipients_cc": None, "sd_description": False, "notification_sent": False,
               "created": at(minutes), "updated": at(minutes + (300 if edited else 0))}


def last_created(start: float, count: int) -> str:
    """``created`` of a thread's newest generated comment (the card's ``comment_last_added_at``)."""
    return at(start + count * STEP_MINUTES)


class CommentThread(Sequence):
    """A lazily generated list of comment records; appended records follow the generated ones."""

    __slots__ = ("card_id", "first_id", "count", "start", "authors", "seed", "head", "added")

    def __init__(self, card_id: int, first_id: int, count: int, start: float, authors: tuple[int, ...],
                 seed: int, head: list[Record] | None = None) -> None:
        self.card_id, self.first_id, self.count, self.start = card_id, first_id, count, start
        self.authors, self.seed = authors, seed
        self.head: list[Record] = list(head or [])
        self.added: list[Record] = []

    def __iter__(self) -> Iterator[Record]:
        yield from self.head
        yield from thread_records(self.card_id, self.first_id, self.count, self.start, self.authors, self.seed)
        yield from self.added

    def __len__(self) -> int:
        return len(self.head) + self.count + len(self.added)

    def __getitem__(self, index: Any) -> Any:
        return list(self)[index]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, (list, CommentThread)) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]

    def append(self, record: Record) -> None:
        self.added.append(record)
