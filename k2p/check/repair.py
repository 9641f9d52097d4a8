"""``k2p check --repair``: bring back what the check found missing or changed, through the import.

A repair never writes to Planka by itself (except removing its own broken copies, below). It
turns each difference into a ledger change, then re-runs the import's own steps
(:func:`k2p.planka.importer.replay_projects`) for the boards concerned, so every write follows the
import's protocol — intent rows, adoption after a lost answer, true authors where k2p may act as
them, no notification for history — and a killed repair is resumed by running it again:

* missing object → its ledger row (and those of everything under it) is forgotten: the replay
  creates it again, with its children;
* a field k2p owns differs → the field's hash in the ledger is made stale: the replay sends the
  intended value (``PATCH``);
* out of order → the ledger forgets the position: the replay fits the object between its
  neighbours;
* cover, archive placement, a card in another list → the card's placement (or list) is made stale;
* an attachment whose bytes differ → uploaded again from the archive; the broken copy k2p made
  is then removed;
* a duplicate → removed only when k2p's own account (or an account k2p created) made it and no
  ledger row claims it; anything else is left alone and stays in the report.

Objects someone added in Planka (unexpected) are never touched.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from k2p.check.compare import board_keys, card_keys
from k2p.check.verdict import Difference, Verdict
from k2p.errors import K2PError
from k2p.mapping.board import plan_board
from k2p.mapping.model import BoardPlan, Fidelity, ProjectPlan
from k2p.people.acting import Actors
from k2p.planka.client import AmbiguousWrite, PlankaError
from k2p.planka.importer import replay_projects, restore_settings
from k2p.planka.quiet import QuietAccount
from k2p.planka.replay import ImportContext
from k2p.planka.sync import Syncer, Tally
from k2p.timestamps import utc_now

if TYPE_CHECKING:
    from k2p.check.run import Session

STALE = "stale"
CARD_FIELDS = {"list": "list_key", "board": "list_key"}
PLACEMENT_FIELDS = {"cover", "archived"}
REUPLOAD_FIELDS = {"sha256", "size", "type", "url"}


class _Plan:
    """The ledger changes a repair makes, gathered before any of them is applied."""

    def __init__(self, session: "Session") -> None:
        self.session = session
        self.forget: list[str] = []
        self.stale: dict[str, set[str]] = {}        # key → fields whose hash goes stale
        self.unplace: set[str] = set()              # keys whose position is forgotten
        self.broken: list[str] = []                 # attachment ids k2p uploaded with wrong bytes
        self.recreated_comments: list[str] = []
        self.duplicates: list[Difference] = []
        self.left: list[str] = []                   # differences a repair does not change
        self.boards: set[str] = set()

    def stale_all(self, key: str) -> None:
        self.stale.setdefault(key, set()).add("*")


def _board_plan(session: "Session", board_key: str) -> BoardPlan:
    board_id = board_key.split(":", 1)[1]
    if board_key not in session.board_plans:
        session.board_plans.clear()          # one board's plan at a time
        session.board_plans[board_key] = plan_board(board_id, session.index.company, session.index.board(board_id),
                                                    session.rules, session.users, Fidelity(), linked=session.linked)
    return session.board_plans[board_key]


def _subtree(session: "Session", difference: Difference) -> list[str]:
    """The ledger keys of a missing object and of everything under it."""
    key = difference.key
    assert key is not None
    if difference.kind == "project":
        project = next(item for item in session.projects if item.key == key)
        keys = [key]
        for ref in project.boards:
            keys += [child for _, child in board_keys(_board_plan(session, ref.key))]
        return keys
    if difference.board is None:
        return [key]
    plan = _board_plan(session, difference.board)
    if difference.kind == "board":
        return [child for _, child in board_keys(plan)]
    if difference.kind == "board_membership":
        return [key, f"{key}:role"]
    if key == f"{plan.key}:fieldgroup":        # the board's fields, and every card's value of them
        fields = [item.key for item in plan.custom_fields]
        return [key, *fields, *(f"{card.key}:value:{name}" for card in plan.cards for name in card.custom_values)]
    if difference.kind == "custom_field" and key in {item.key for item in plan.custom_fields}:
        return [key, *(f"{card.key}:value:{key}" for card in plan.cards if key in card.custom_values)]
    for card in plan.cards:
        if card.key == key:
            return [child for _, child in card_keys(card)]
        for task_list in card.task_lists:
            if task_list.key == key:
                return [key] + [task.key for task in task_list.tasks]
        for relation in card.relations:
            if relation.key == key:
                return [key] + [link.key for link in relation.links]
        if any(attachment.key == key for attachment in card.attachments):
            return [key, f"{card.key}:placement"]
        if key == f"{card.key}:details":
            return [key] + [child for detail in card.details for child in (detail.key, f"{detail.key}:value")]
    return [key]


def _card_of(session: "Session", difference: Difference) -> str | None:
    if difference.board is None or difference.key is None:
        return None
    for card in _board_plan(session, difference.board).cards:
        if any(attachment.key == difference.key for attachment in card.attachments):
            return card.key
    return None


def _gather(session: "Session", verdict: Verdict) -> _Plan:
    plan = _Plan(session)
    for difference in verdict.failures:
        if difference.board is not None:
            plan.boards.add(difference.board)
        elif difference.kind == "project" and difference.key is not None:
            plan.boards.update(ref.key for project in session.projects if project.key == difference.key
                               for ref in project.boards)
        key = difference.key
        if difference.problem == "duplicate":
            plan.duplicates.append(difference)
        elif key is None:
            continue
        elif difference.problem == "missing":
            plan.forget += _subtree(session, difference)
            if difference.kind == "comment":
                plan.recreated_comments.append(key)
        elif difference.field == "position":
            plan.unplace.add(key)
        elif difference.kind == "card" and difference.field in PLACEMENT_FIELDS:
            plan.stale_all(f"{key}:placement")
        elif difference.kind == "card" and difference.field in CARD_FIELDS:
            plan.stale.setdefault(key, set()).add(CARD_FIELDS[difference.field])
        elif difference.kind == "attachment" and difference.field in REUPLOAD_FIELDS:
            if difference.planka_id:
                plan.broken.append(difference.planka_id)
            card = _card_of(session, difference)
            plan.forget += [key] + ([f"{card}:placement"] if card else [])
        elif difference.field == "created":
            plan.left.append(f"{difference.text()} (not repaired: creation dates are set by "
                             f"`k2p fixup-sql`; run it again)")
        elif difference.field in ("author", "creator", "project"):
            plan.left.append(f"{difference.text()} (not repaired: change it in Planka, or see "
                             f"`k2p fixup-sql` for authors)")
        elif difference.kind == "board_membership" and difference.field in ("role", "canComment"):
            role = session.ledger.get(f"{key}:role")
            if role is not None and role.done:
                plan.stale_all(f"{key}:role")
            else:
                plan.left.append(f"{difference.text()} (not repaired: set the role in Planka)")
        else:
            plan.stale.setdefault(key, set()).add(difference.field)
    return plan


def _apply(session: "Session", plan: _Plan) -> None:
    ledger = session.ledger
    for key in dict.fromkeys(plan.forget):
        row = ledger.get(key)
        if row is not None and row.done:    # an intent stays: the replay reconciles it (no duplicate)
            ledger.forget(key)
    for key, names in plan.stale.items():
        row = ledger.get(key)
        if row is None or not row.done or row.planka_id is None:
            continue
        hashes = dict(row.state.get("h", {}))
        for name in (hashes if "*" in names else names):
            hashes[name] = STALE
        ledger.done(key, row.kind, row.planka_id, row.parent_id, position=row.position,
                    state={**row.state, "h": hashes})
    for key in plan.unplace:
        row = ledger.get(key)
        if row is not None and row.done and row.planka_id is not None:
            ledger.done(key, row.kind, row.planka_id, row.parent_id, position=None, state=row.state)


def _remove_duplicates(session: "Session", plan: _Plan, report: dict[str, Any]) -> None:
    """Delete a duplicate only when k2p's own accounts made it; leave anything else alone."""
    ours = {session.people.me, *session.people.own}
    routes = {"card": ("cards", "creatorUserId"), "comment": (None, "userId"),
              "attachment": ("attachments", "creatorUserId")}
    for difference in plan.duplicates:
        route = routes.get(difference.kind)
        planka_id = difference.planka_id
        if route is None or planka_id is None or session.ledger.claimed(planka_id):
            plan.left.append(f"{difference.text()} (not removed: decide in Planka which one to keep)")
            continue
        author = _author(session, difference, route)
        if author not in ours:
            plan.left.append(f"{difference.text()} (not removed: created by user {author}, not by k2p)")
            continue
        path = {"card": f"/api/cards/{planka_id}", "comment": f"/api/comments/{planka_id}",
                "attachment": f"/api/attachments/{planka_id}"}[difference.kind]
        try:
            session.client.delete(path)
            report["duplicates_removed"] += 1
        except PlankaError as error:
            if error.status != 404:
                report["failed"].append(f"{difference.key}: removing duplicate {planka_id}: {error}")


def _author(session: "Session", difference: Difference, route: tuple[str | None, str]) -> str | None:
    planka_id = difference.planka_id
    if difference.kind == "card":
        item = session.client.get(f"/api/cards/{planka_id}")["item"]
        return str(item.get("creatorUserId"))
    card_key = difference.key if difference.kind == "comment" else None
    if difference.kind == "attachment" and difference.board is not None:
        card_key = _card_of(session, difference)
    if difference.kind == "comment" and difference.board is not None:
        card_key = next((card.key for card in _board_plan(session, difference.board).cards
                         if any(comment.key == difference.key for comment in card.comments)), None)
    row = session.ledger.get(card_key) if card_key else None
    if row is None or row.planka_id is None:
        return None
    if difference.kind == "comment":
        from k2p.check.found import comments_of
        found = next((item for item in comments_of(session.client, str(row.planka_id)) or []
                      if str(item["id"]) == planka_id), None)
    else:
        answer = session.client.get(f"/api/cards/{row.planka_id}")
        found = next((item for item in answer.get("included", {}).get("attachments", [])
                      if str(item["id"]) == planka_id), None)
    return str(found.get(route[1])) if found else None


def repair(session: "Session", verdict: Verdict) -> dict[str, Any]:
    """Apply the differences of ``verdict`` through the import's replay; returns what was done."""
    plan = _gather(session, verdict)
    report: dict[str, Any] = {"boards": sorted(plan.boards), "forgotten": len(set(plan.forget)),
                              "made_stale": len(plan.stale), "reordered": len(plan.unplace),
                              "duplicates_removed": 0, "broken_uploads_removed": 0, "failed": [],
                              "left_alone": plan.left, "counts": {}}
    _apply(session, plan)
    tally = Tally()
    client = session.client
    ctx = ImportContext(client, Syncer(session.ledger, tally, dry_run=False), tally, session.reader,
                        session.people.me, session.options.concurrency, session.progress)
    ctx.quiet = QuietAccount(client, session.ledger, session.me, dry_run=False)
    actors = Actors(client, set(session.people.own), inactive=set(session.people.inactive))
    ctx.act_as, ctx.own, ctx.inactive = actors.client, actors.own, set(session.people.inactive)
    run = {"started_at": utc_now(), "finished_at": None, "completed": False, "server_high_water": None,
           "repair": True}
    session.ledger.record_run(run)
    projects = [ProjectPlan(project.key, project.name, project.description,
                            [ref for ref in project.boards if ref.key in plan.boards], type=project.type)
                for project in session.projects]
    try:
        replay_projects(ctx, [project for project in projects if project.boards], session.index,
                        session.rules, session.users, Fidelity(), session.linked)
        _remove_duplicates(session, plan, report)
        for attachment_id in plan.broken:
            try:
                client.delete(f"/api/attachments/{attachment_id}")
                report["broken_uploads_removed"] += 1
            except PlankaError as error:
                if error.status != 404:
                    report["failed"].append(f"attachment {attachment_id}: removing the broken copy: {error}")
        for key in plan.recreated_comments:
            ctx.syncer.merge_state(key, repaired=True)
        run["completed"] = True
    except (PlankaError, AmbiguousWrite) as error:
        report["failed"].append(str(error))
    except K2PError as error:
        report["failed"].append(error.message)
    finally:
        restore_settings(ctx)
        actors.revoke_all()
        session.ledger.record_run({**run, "finished_at": utc_now(), "server_high_water": ctx.syncer.high_water})
    report["failed"] += [f"{failure.key}: {failure.message}" for failure in tally.failures]
    report["counts"] = tally.table()
    return report
