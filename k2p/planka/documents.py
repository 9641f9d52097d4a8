"""Replaying the Documents boards (``documents = "board"``, :mod:`k2p.mapping.documents`).

Runs after every board and relation of the run, so that a document's link to a Kaiten card can
point at the Planka card the ledger holds for it (``<planka>/cards/<id>``); a card not in Planka
stays text (noted), and the next run links it once it is imported. The board is placed after the
space's other boards in the space's project; a space without boards (or documents outside every
space) gets its project here, keyed like the others so later runs find it again. A link's title is
the linked card's title in the archive (else the one the document holds).
"""

from __future__ import annotations

from typing import Container

from k2p.archive.index import ArchiveIndex
from k2p.mapping.documents import DocumentsBoard, load_documents, plan_documents
from k2p.mapping.model import Fidelity, ProjectPlan
from k2p.mapping.rules import MappingRules
from k2p.mapping.users import UserMap
from k2p.planka import specs
from k2p.planka.positions import plan_positions
from k2p.planka.replay import ImportContext, guarded, known_positions, replay_board


def replay_documents(ctx: ImportContext, index: ArchiveIndex, rules: MappingRules, users: UserMap,
                     fidelity: Fidelity, projects: list[ProjectPlan], planned: Container[str], *,
                     spaces: tuple[int, ...] = ()) -> int:
    """Plan and replay every Documents board in scope; returns how many were replayed."""
    docs = load_documents(ctx.reader)
    base = ctx.client.base_url if ctx.client is not None else None

    def card_link(card_id: str) -> tuple[str | None, str | None]:
        card = index.card(card_id)
        title = card.get("title") if isinstance(card, dict) and isinstance(card.get("title"), str) else None
        row = ctx.syncer.row(f"card:{card_id}")
        if row is not None and row.done and row.planka_id and base:
            return f"{base}/cards/{row.planka_id}", title
        if f"card:{card_id}" not in planned:
            fidelity.add("skipped", f"card:{card_id}", "document_link",
                         "a document links this card, which is not in Planka; the link stays text")
        return None, title

    boards = plan_documents(docs, index.company, rules, fidelity, card_link=card_link, planka_ids=users.mapping)
    by_key = {project.key: project for project in projects}
    done = 0
    for item in boards:
        if spaces and (item.space_id is None or int(item.space_id) not in spaces):
            continue
        _replay_one(ctx, item, by_key.get(item.project_key))
        done += 1
    return done


def _replay_one(ctx: ImportContext, item: DocumentsBoard, planned_project: ProjectPlan | None) -> None:
    project = planned_project or ProjectPlan(item.project_key, item.project_name, type=item.project_type)
    before = ctx.syncer.row(project.key)
    kind = str(before.state.get("type", "shared")) if before is not None and before.done else project.type
    result = guarded(ctx, project.key, "project", lambda: ctx.syncer.ensure(
        project.key, None, project.fields(), specs.project(ctx.client, project.name, kind),  # type: ignore[arg-type]
        state={"type": kind}))
    if result is None:
        return
    order = [ref.key for ref in project.boards] + [item.board.key]
    positions = plan_positions(order, known_positions(ctx, order))
    replay_board(ctx, result.planka_id, item.board, positions[item.board.key])
