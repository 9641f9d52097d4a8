"""Replaying relations (:mod:`k2p.mapping.relations`): the linked tasks of the whole run, once
every card of it exists (the ``Blocked`` label is a card step, :func:`k2p.planka.replay.replay_blocked`).

A linked task is resolved through the ledger: its card is the Planka card the ledger holds for
the Kaiten id, whichever board, project or earlier run created it. A card not in the ledger gets
no task in this run and is retried by the next one. The importing account writes them: it manages
every project it created, which is what Planka asks of whoever links a card of another board.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from typing import IO, Callable, Container, Iterator

import orjson

from k2p.mapping.model import Fidelity
from k2p.mapping.relations import LinkPlan, RelationListPlan, resolve
from k2p.planka import specs
from k2p.planka.positions import plan_positions
from k2p.planka.replay import ImportContext, guarded, known_positions

PLANNED = "(planned)"   # a dry run's stand-in id for a card this run would create


@dataclass(frozen=True)
class CardRelations:
    """What the relation step needs of one card, kept after its board's plan is dropped."""

    card_key: str
    lists: list[RelationListPlan]
    checklist_keys: list[str]    # the card's other task lists, which the relation lists follow


def linked_cards(ctx: ImportContext, board_of: Callable[[str], str | None], boards: set[str]) -> Callable[[str], bool]:
    """Whether a relation to a Kaiten card becomes a linked task in this run: the card is on one of
    the run's ``boards`` (``board_of``: the archive's board of a card id), or an earlier run
    created it (the ledger). The card details leave such relations out (no text repeating a link)."""
    def linked(card_id: str) -> bool:
        if board_of(card_id) in boards:
            return True
        row = ctx.syncer.row(f"card:{card_id}")
        return row is not None and row.done
    return linked


class RelationSpool:
    """The relation step's input, kept on disk until every card of the run exists: one JSON line
    per card that has relations, in an anonymous temporary file, read back in order a chunk at a
    time (so memory holds one chunk, not every relation of the company)."""

    def __init__(self) -> None:
        self._file: IO[bytes] = tempfile.TemporaryFile(prefix="k2p-relations-")
        self.count = 0

    def add(self, card: CardRelations) -> None:
        lists = [[item.key, item.name, [[link.key, link.target_key] for link in item.links]] for item in card.lists]
        self._file.write(orjson.dumps([card.card_key, lists, card.checklist_keys]) + b"\n")
        self.count += 1

    def chunks(self, size: int = 1000) -> Iterator[list[CardRelations]]:
        self._file.flush()
        self._file.seek(0)
        chunk: list[CardRelations] = []
        for _ in range(self.count):
            key, lists, checklists = orjson.loads(self._file.readline())
            chunk.append(CardRelations(key, [RelationListPlan(item_key, name, [LinkPlan(*link) for link in links])
                                             for item_key, name, links in lists], checklists))
            if len(chunk) >= size:
                yield chunk
                chunk = []
        if chunk:
            yield chunk
        self._file.seek(0, 2)

    def close(self) -> None:
        self._file.close()


def replay_relations(ctx: ImportContext, spool: RelationSpool, planned: Container[str], fidelity: Fidelity) -> None:
    """Linked tasks for every relation whose card is in Planka (or, in a dry run, planned)."""
    for cards in spool.chunks():
        _replay_chunk(ctx, cards, planned, fidelity)


def _replay_chunk(ctx: ImportContext, cards: list[CardRelations], planned: Container[str], fidelity: Fidelity) -> None:
    targets = {link.target_key for card in cards for item in card.lists for link in item.links}
    known = {key: _planka_id(ctx, key, planned) for key in targets | {card.card_key for card in cards}}
    for card in cards:
        card_id = known[card.card_key]
        if card_id is None:
            continue
        for item in card.lists:
            for link in item.links:
                if known[link.target_key] is None:
                    fidelity.add("skipped", card.card_key, "relations",
                                 f"{item.name}: {link.target_key} is not in Planka; it stays text")
        lists = resolve(card.lists, known)
        order = card.checklist_keys + [item.key for item in lists]
        positions = plan_positions(order, known_positions(ctx, order))
        for item in lists:
            _replay_list(ctx, card_id, item, positions[item.key], known)


def _replay_list(ctx: ImportContext, card_id: str, item: RelationListPlan, position: float,
                 known: dict[str, str | None]) -> None:
    real_card = None if card_id == PLANNED else card_id
    done = guarded(ctx, item.key, "task_list", lambda: ctx.syncer.ensure(
        item.key, real_card, {"name": item.name}, specs.task_list(ctx.client, real_card, item.name),  # type: ignore[arg-type]
        position=position))
    if done is None:
        return
    order = [link.key for link in item.links]
    positions = plan_positions(order, known_positions(ctx, order))
    for link in item.links:
        target = known[link.target_key]
        spec = specs.linked_task(ctx.client, real_card, done.planka_id, target)  # type: ignore[arg-type]
        guarded(ctx, link.key, "linked_task", lambda link=link, spec=spec, target=target: ctx.syncer.ensure(
            link.key, done.planka_id, {}, spec, position=positions[link.key],
            create_extra={"linkedCardId": target}, state={"target": link.target_key}))


def _planka_id(ctx: ImportContext, key: str, planned: Container[str]) -> str | None:
    row = ctx.syncer.row(key)
    if row is not None and row.done:
        return row.planka_id
    return PLANNED if ctx.syncer.dry_run and key in planned else None
