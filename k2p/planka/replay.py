"""Replaying one planned board into Planka: board, members, labels, lists, fields, then cards.

Cards are replayed by a worker pool (``--concurrency``), the longest first (:func:`card_writes`);
their order in Planka comes from the explicit positions planned up front, not from the order in
which workers start or finish. Within a card,
children are replayed in a fixed order: labels (the ``Blocked`` label with them), task lists and
tasks, comments (oldest first), attachments, custom field values, the card's own details group
(its fields and values; fields of details the card no longer has are deleted), the card's cover
and archive placement, and last its members. Members come last because a card membership
subscribes the member, and a subscriber is notified of every later comment and move: replayed
history must not notify anybody. Tasks linked to other cards follow once every card of the run
exists (:mod:`k2p.planka.relations`); creating a task notifies nobody.

Writes that belong to a person (a card's creation, a comment, an upload, a card membership) go
through ``ImportContext.writer(user_id)``, which acts as that person where the importer may
(accounts k2p created; see :mod:`k2p.people.acting`) and is the importing account otherwise;
before the importing account writes a card or a comment, its subscribing settings go off
(:mod:`k2p.planka.quiet`), so that it is subscribed to nothing.
"""

from __future__ import annotations

import mimetypes
from collections import Counter
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol, Sequence

from k2p.archive.reader import ArchiveReader
from k2p.errors import ArchiveInvalid
from k2p.mapping.model import AttachmentPlan, BoardPlan, CardPlan
from k2p.planka import specs
from k2p.planka.client import MultipartFile, PlankaClient, PlankaError
from k2p.planka.positions import plan_positions
from k2p.planka.quiet import QuietAccount
from k2p.planka.sync import Result, Spec, Syncer, Tally

FIELD_GROUP_NAME = "Kaiten"
GROUP_POSITION = 65536.0


@dataclass
class ImportContext:
    """Everything a replay step needs; ``client`` is None in an offline dry run."""

    client: PlankaClient | None
    syncer: Syncer
    tally: Tally
    reader: ArchiveReader
    me: str | None
    concurrency: int = 8
    on_progress: Callable[[str, Any], None] = lambda event, value: None
    act_as: Callable[[str | None], Any] | None = None   # user id → client writing as them
    own: set[str] = field(default_factory=set)          # accounts k2p created (it acts as them)
    inactive: set[str] = field(default_factory=set)     # deactivated accounts: no new board membership
    skipped_deactivated: int = 0                        # board memberships left out for them
    notified: Counter[str] = field(default_factory=Counter)   # user id → notifications caused
    quiet: QuietAccount | None = None                   # the importing account's subscribing settings
    delta: Any = None                                   # k2p.delta.run.DeltaRun: re-import checks

    @property
    def api(self) -> PlankaClient:
        assert self.client is not None, "an offline dry run never sends requests"
        return self.client

    def writer(self, user_id: str | None) -> PlankaClient | None:
        """The client for a write that belongs to ``user_id`` (the importing one by default)."""
        return self.act_as(user_id) if self.act_as is not None else self.client

    def before_own_write(self, key: str, writer: PlankaClient | None) -> None:
        """Before ``writer`` creates the card or comment ``key``: when that is the importing
        account, its subscribing settings go off first (:mod:`k2p.planka.quiet`)."""
        row = self.syncer.row(key)
        if self.quiet is not None and writer is self.client and (row is None or not row.done):
            self.quiet.before_write()


@dataclass
class BoardState:
    """Planka ids resolved while replaying a board, shared (read-only) by card workers."""

    board_id: str | None
    list_ids: dict[str, str | None] = field(default_factory=dict)
    label_ids: dict[str, str | None] = field(default_factory=dict)
    group_id: str | None = None
    field_ids: dict[str, str | None] = field(default_factory=dict)
    archive_list_id: str | None = None
    blocked_label_id: str | None = None


def known_positions(ctx: ImportContext, keys: Sequence[str]) -> dict[str, float | None]:
    positions: dict[str, float | None] = {}
    for key in keys:
        row = ctx.syncer.row(key)
        positions[key] = row.position if row is not None and row.done else None
    return positions


def guarded(ctx: ImportContext, key: str, kind: str, step: Callable[[], Result]) -> Result | None:
    """Run one object's step; a refusal by Planka (or a damaged blob) fails that object and skips
    its children, while the rest of the import goes on."""
    try:
        return step()
    except PlankaError as error:
        ctx.tally.fail(key, kind, str(error))
    except ArchiveInvalid as error:
        ctx.tally.fail(key, kind, error.message)
    return None


class Ordered(Protocol):
    key: str

    def fields(self) -> dict[str, Any]: ...


def replay_ordered(ctx: ImportContext, parent_id: str | None, kind: str, items: Sequence[Ordered],
                   spec_for: Callable[[Any], Spec]) -> dict[str, str | None]:
    """Ensure ordered siblings (positions kept where possible); returns their Planka ids by key."""
    order = [item.key for item in items]
    positions = plan_positions(order, known_positions(ctx, order))
    ids: dict[str, str | None] = {}
    for item in items:
        done = guarded(ctx, item.key, kind, lambda item=item: ctx.syncer.ensure(
            item.key, parent_id, item.fields(), spec_for(item), position=positions[item.key]))
        ids[item.key] = done.planka_id if done else None
    return ids


def replay_board(ctx: ImportContext, project_id: str | None, plan: BoardPlan, position: float) -> None:
    client = ctx.client
    if ctx.delta is not None:
        ctx.delta.enter_board(plan)     # what Planka holds of the board now (conflicts, deletions)
    result = guarded(ctx, plan.key, "board", lambda: ctx.syncer.ensure(
        plan.key, project_id, plan.fields(), specs.board(client, project_id, plan.name),  # type: ignore[arg-type]
        position=position))
    if result is None:
        return
    state = BoardState(result.planka_id)
    members = [member for member in plan.members if member.user_id != ctx.me and (
        member.user_id not in ctx.inactive or ctx.syncer.row(f"{plan.key}:member:{member.user_id}") is not None)]
    for member in plan.members:
        if member not in members and member.user_id != ctx.me:
            ctx.skipped_deactivated += 1
    for member in members:
        key = f"{plan.key}:member:{member.user_id}"
        # A person k2p acts as is an editor while the board is replayed, then gets their own role.
        role = "editor" if member.user_id in ctx.own else member.role
        guarded(ctx, key, "board_membership", lambda key=key, member=member, role=role: ctx.syncer.ensure(
            key, state.board_id, {}, specs.board_membership(client, state.board_id, member.user_id, role,  # type: ignore[arg-type]
                                                            member.can_comment)))
    state.label_ids = replay_ordered(ctx, state.board_id, "label", plan.labels, lambda label: specs.label(
        client, state.board_id, label.name, label.color))  # type: ignore[arg-type]
    state.blocked_label_id = state.label_ids.get(plan.blocked_label_key) if plan.blocked_label_key else None
    state.list_ids = replay_ordered(ctx, state.board_id, "list", plan.lists, lambda item: specs.kanban_list(
        client, state.board_id, item.name, item.type))  # type: ignore[arg-type]
    _replay_fields(ctx, plan, state)
    _replay_cards(ctx, plan, state)
    if ctx.delta is not None:
        ctx.delta.leave_board(plan, state.list_ids, state.archive_list_id)   # deleted or restored in Kaiten
    for member in members:
        if member.user_id in ctx.own and member.role != "editor":
            _final_role(ctx, plan.key, member.user_id, member.fields())


def _final_role(ctx: ImportContext, board_key: str, user_id: str, fields: dict[str, Any]) -> None:
    """Give a membership that was an editor for the replay the role the person really has."""
    row = ctx.syncer.row(f"{board_key}:member:{user_id}")
    membership_id = row.planka_id if row is not None and row.done else None
    if membership_id is None and not ctx.syncer.dry_run:
        return
    key = f"{board_key}:member:{user_id}:role"
    spec = Spec("board_membership_role", create=lambda payload: ctx.api.update(
        f"/api/board-memberships/{membership_id}", payload)["item"])
    guarded(ctx, key, "board_membership_role", lambda: ctx.syncer.ensure(key, membership_id, fields, spec))


def _replay_fields(ctx: ImportContext, plan: BoardPlan, state: BoardState) -> None:
    if not plan.custom_fields:
        return
    client = ctx.client
    key = f"{plan.key}:fieldgroup"
    group = guarded(ctx, key, "custom_field_group", lambda: ctx.syncer.ensure(
        key, state.board_id, {"name": FIELD_GROUP_NAME},
        specs.field_group(client, "boards", state.board_id, FIELD_GROUP_NAME),  # type: ignore[arg-type]
        position=GROUP_POSITION))
    if group is None:
        return
    state.group_id = group.planka_id
    state.field_ids = replay_ordered(ctx, state.group_id, "custom_field", plan.custom_fields, lambda item: (
        specs.custom_field(client, f"/api/boards/{state.board_id}", state.group_id, item.name)))  # type: ignore[arg-type]


def _card_positions(ctx: ImportContext, plan: BoardPlan) -> dict[str, float]:
    """Positions of every card within its list, keeping those already placed where possible."""
    by_list: dict[str, list[str]] = {}
    known: dict[str, float | None] = {}
    for card in plan.cards:
        by_list.setdefault(card.list_key, []).append(card.key)
        row = ctx.syncer.row(card.key)
        same_list = row is not None and row.done and row.state.get("list_key") == card.list_key
        known[card.key] = row.position if same_list and row is not None else None
    positions: dict[str, float] = {}
    for keys in by_list.values():
        positions.update(plan_positions(keys, known))
    return positions


def _replay_cards(ctx: ImportContext, plan: BoardPlan, state: BoardState) -> None:
    positions = _card_positions(ctx, plan)
    if any(card.archived for card in plan.cards) and ctx.client is not None and state.board_id:
        state.archive_list_id = _archive_list_id(ctx, plan.key, state.board_id)

    def work(card: CardPlan) -> None:
        replay_card(ctx, state, card, positions[card.key])
        ctx.on_progress("card", 1)

    if ctx.concurrency <= 1:
        for card in plan.cards:
            work(card)
        return
    with ThreadPoolExecutor(max_workers=ctx.concurrency, thread_name_prefix="card") as pool:
        futures = [pool.submit(work, card) for card in sorted(plan.cards, key=card_writes, reverse=True)]
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        for future in futures:
            if future.done() and future.exception() is not None:
                for pending in futures:
                    pending.cancel()
                raise future.exception()  # type: ignore[misc]


def card_writes(card: CardPlan) -> int:
    """About how many requests replaying the card sends, one after another.

    The pool starts the longest cards first: a card's children are written in order, so a card
    with hundreds of comments is a chain of hundreds of round trips, and started last it would
    keep the board (and the run) waiting long after the other workers ran out of cards. Creation
    order shows only in the import's own timestamps, which the SQL fix-up replaces by Kaiten's;
    positions are explicit."""
    return (2 + len(card.label_keys) + len(card.comments) + len(card.attachments) + len(card.custom_values)
            + 2 * len(card.details) + len(card.member_user_ids)
            + sum(1 + len(task_list.tasks) for task_list in card.task_lists))


def _archive_list_id(ctx: ImportContext, board_key: str, board_id: str) -> str | None:
    row = ctx.syncer.row(board_key)
    if row is not None and row.state.get("archive_list"):
        return str(row.state["archive_list"])
    lists = ctx.api.get(f"/api/boards/{board_id}").get("included", {}).get("lists", [])
    found = next((item["id"] for item in lists if item.get("type") == "archive"), None)
    if found:
        ctx.syncer.merge_state(board_key, archive_list=found)
    return found


# --- cards -----------------------------------------------------------------------------------
def replay_card(ctx: ImportContext, board: BoardState, plan: CardPlan, position: float) -> None:
    list_id = board.list_ids.get(plan.list_key)
    if list_id is None and not ctx.syncer.dry_run:
        ctx.tally.fail(plan.key, "card", f"its list {plan.list_key} could not be created")
        return
    fields = {**plan.fields(), "list_key": plan.list_key}
    ctx.before_own_write(plan.key, ctx.writer(plan.creator_user_id))
    result = guarded(ctx, plan.key, "card", lambda: ctx.syncer.ensure(
        plan.key, board.board_id, fields, _card_spec(ctx, board, plan, list_id, position),
        position=position, state={"list_key": plan.list_key}))
    if result is None:
        return
    card_id = result.planka_id
    for label_key in plan.label_keys:
        label_id = board.label_ids.get(label_key)
        key = f"{plan.key}:label:{label_key}"
        if label_id is not None or ctx.syncer.dry_run:
            guarded(ctx, key, "card_label", lambda key=key, label_id=label_id: ctx.syncer.ensure(
                key, card_id, {}, specs.card_label(ctx.client, card_id, label_id)))  # type: ignore[arg-type]
    replay_blocked(ctx, plan, card_id, board.blocked_label_id)
    _replay_tasks(ctx, plan, card_id)
    for comment in plan.comments:
        author = comment.author_user_id if ctx.client is not None and comment.author_user_id in ctx.own else ctx.me
        ctx.before_own_write(comment.key, ctx.writer(comment.author_user_id))
        guarded(ctx, comment.key, "comment", lambda comment=comment, author=author: ctx.syncer.ensure(
            comment.key, card_id, comment.fields(), specs.comment(ctx.writer(comment.author_user_id), card_id,  # type: ignore[arg-type]
                                                                  comment.text, author)))
    attachment_ids = _replay_attachments(ctx, plan, card_id)
    for field_key, content in plan.custom_values.items():
        _replay_value(ctx, f"{plan.key}:value:{field_key}", card_id, board.group_id, board.field_ids.get(field_key),
                      content)
    _replay_details(ctx, plan, card_id)
    _replay_placement(ctx, board, plan, card_id, list_id, position, attachment_ids)
    for user_id in plan.member_user_ids:
        _replay_card_member(ctx, plan.key, card_id, user_id)


def replay_blocked(ctx: ImportContext, plan: CardPlan, card_id: str | None, label_id: str | None) -> None:
    """The ``Blocked`` label on the card while its Kaiten block is active, taken off once released
    (``card:<id>:blocked``; its state says which label and whether it is off)."""
    key = f"{plan.key}:blocked"
    row = ctx.syncer.row(key)
    if row is None or not row.done:
        if plan.blocked and (label_id is not None or ctx.syncer.dry_run):
            guarded(ctx, key, "card_label", lambda: ctx.syncer.ensure(
                key, card_id, {}, specs.card_label(ctx.client, card_id, label_id),  # type: ignore[arg-type]
                state={"label": label_id}))
        return
    label_id = label_id if plan.blocked else row.state.get("label")
    if plan.blocked != bool(row.state.get("released")) or label_id is None:
        return                    # labelled and blocked, or taken off and not blocked

    def change() -> Result:
        if not ctx.syncer.dry_run:
            if plan.blocked:
                specs.card_label(ctx.api, card_id, label_id).create({})  # type: ignore[arg-type]
            else:
                try:
                    ctx.api.delete(f"/api/cards/{card_id}/card-labels/labelId:{label_id}")
                except PlankaError as error:
                    if error.status != 404:   # already taken off in Planka
                        raise
            ctx.syncer.ledger.done(key, "card_label", str(row.planka_id), card_id,
                                   state={"label": label_id, "released": not plan.blocked})
        outcome = "created" if plan.blocked else "updated"   # taking it off counts as an update
        ctx.tally.add("card_label", outcome)
        return Result(row.planka_id, outcome)

    guarded(ctx, key, "card_label", change)


def _replay_details(ctx: ImportContext, plan: CardPlan, card_id: str | None) -> None:
    """The card's own field group holding only the details it has (no empty field is ever shown):
    fields in plan order, each with its value; details the card no longer has are deleted."""
    key = f"{plan.key}:details"
    row = ctx.syncer.row(key)
    known = list(row.state.get("details", [])) if row is not None and row.done else []
    wanted = [detail.key for detail in plan.details]
    dropped = known == wanted or _drop_details(
        ctx, key, [detail_key for detail_key in known if detail_key not in wanted], whole_group=not wanted)
    if not plan.details:
        return
    read = f"/api/cards/{card_id}"
    group = guarded(ctx, key, "custom_field_group", lambda: ctx.syncer.ensure(
        key, card_id, {"name": plan.details_group},
        specs.field_group(ctx.client, "cards", card_id, plan.details_group),  # type: ignore[arg-type]
        position=GROUP_POSITION))
    if group is None:
        return
    if known != wanted and dropped:
        ctx.syncer.merge_state(key, details=wanted)
    group_id = group.planka_id
    field_ids = replay_ordered(ctx, group_id, "custom_field", plan.details, lambda item: specs.custom_field(
        ctx.client, read, group_id, item.name))  # type: ignore[arg-type]
    for detail in plan.details:
        if field_ids[detail.key] is not None or ctx.syncer.dry_run:
            _replay_value(ctx, f"{detail.key}:value", card_id, group_id, field_ids[detail.key], detail.content)


def _replay_value(ctx: ImportContext, key: str, card_id: str | None, group_id: str | None,
                  field_id: str | None, content: str) -> None:
    guarded(ctx, key, "custom_value", lambda: ctx.syncer.ensure(
        key, card_id, {"content": content}, specs.custom_value(ctx.client, card_id, group_id, field_id)))  # type: ignore[arg-type]


def _drop_details(ctx: ImportContext, group_key: str, removed: list[str], *, whole_group: bool) -> bool:
    """Delete the fields (and with them their values) of details a newer archive no longer has;
    the whole group when none is left. False when Planka refused a deletion (it is retried)."""
    targets = [(group_key, "custom-field-groups", [group_key, *removed])] if whole_group else [
        (key, "custom-fields", [key]) for key in removed]
    done = True
    for key, route, rows in targets:
        row = ctx.syncer.row(key)
        if row is None or not row.done:
            continue
        if not ctx.syncer.dry_run:
            try:
                ctx.api.delete(f"/api/{route}/{row.planka_id}")
            except PlankaError as error:
                if error.status != 404:       # 404: already gone in Planka, only the ledger was behind
                    ctx.tally.fail(key, "card_detail", str(error))
                    done = False
                    continue
            for gone in rows:
                ctx.syncer.ledger.forget(gone)
                ctx.syncer.ledger.forget(f"{gone}:value")
        ctx.tally.add("card_detail", "updated")
    return done


def _replay_card_member(ctx: ImportContext, card_key: str, card_id: str | None, user_id: str) -> None:
    """A card membership, added by the member themself where k2p acts as them (Planka notifies
    a member added by somebody else; the importing account's own membership notifies nobody)."""
    key = f"{card_key}:member:{user_id}"
    done = guarded(ctx, key, "card_membership", lambda: ctx.syncer.ensure(
        key, card_id, {}, specs.card_membership(ctx.writer(user_id), card_id, user_id)))  # type: ignore[arg-type]
    if done is not None and done.outcome == "created" and user_id != ctx.me and user_id not in ctx.own:
        ctx.notified[user_id] += 1


def _card_spec(ctx: ImportContext, board: BoardState, plan: CardPlan, list_id: str | None,
               position: float) -> Spec:
    """The card spec, translating the ``list_key`` pseudo-field into a move between lists."""
    base = specs.card(ctx.writer(plan.creator_user_id), board.board_id, list_id, plan.name)  # type: ignore[arg-type]

    def create(payload: dict[str, Any]) -> dict[str, Any]:
        return base.create({name: value for name, value in payload.items() if name != "list_key"})

    def update(planka_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        changes = dict(changes)
        if changes.pop("list_key", None) is not None:
            changes.update(listId=list_id, position=position)
        return base.update(planka_id, changes)  # type: ignore[misc]

    return Spec("card", create=create, update=update, find=base.find, match=base.match)


def _replay_tasks(ctx: ImportContext, plan: CardPlan, card_id: str | None) -> None:
    list_ids = replay_ordered(ctx, card_id, "task_list", plan.task_lists, lambda item: specs.task_list(
        ctx.client, card_id, item.name))  # type: ignore[arg-type]
    for task_list in plan.task_lists:
        parent = list_ids[task_list.key]
        if parent is not None or ctx.syncer.dry_run:
            replay_ordered(ctx, parent, "task", task_list.tasks, lambda item, parent=parent: specs.task(
                ctx.client, card_id, parent, item.name))  # type: ignore[arg-type]


def _replay_attachments(ctx: ImportContext, plan: CardPlan, card_id: str | None) -> dict[str, str | None]:
    ids: dict[str, str | None] = {}
    for attachment in plan.attachments:
        writer = ctx.writer(attachment.author_user_id)
        create = (lambda payload, item=attachment: _upload(ctx, card_id, item)) if attachment.type == "file" \
            else (lambda payload, item=attachment, writer=writer: writer.create(  # type: ignore[union-attr]
                f"/api/cards/{card_id}/attachments",
                {"type": "link", "name": item.name, "url": item.url})["item"])
        spec = specs.attachment(ctx.client, card_id, attachment.name, attachment.type,  # type: ignore[arg-type]
                                attachment.size, create)
        done = guarded(ctx, attachment.key, "attachment", lambda item=attachment, spec=spec: ctx.syncer.ensure(
            item.key, card_id, {"name": item.name}, spec))
        ids[attachment.key] = done.planka_id if done else None
    return ids


def _upload(ctx: ImportContext, card_id: str | None, plan: AttachmentPlan) -> dict[str, Any]:
    """Upload an archive blob, hashing it on the way; a damaged blob is removed again."""
    assert plan.sha256 is not None
    writer = ctx.writer(plan.author_user_id)
    try:
        item, body = _send_blob(ctx, writer, card_id, plan)  # type: ignore[arg-type]
    except PlankaError as error:
        if writer is ctx.client or error.status not in (403, 404):
            raise
        item, body = _send_blob(ctx, ctx.api, card_id, plan)   # refused to that person: as the importer
    if body.digest.hexdigest() != plan.sha256:
        ctx.api.delete(f"/api/attachments/{item['id']}")
        raise ArchiveInvalid(f"blob {plan.sha256} in the archive is damaged (its bytes hash to "
                             f"{body.digest.hexdigest()}); the upload was removed — restore the archive")
    return item


def _send_blob(ctx: ImportContext, client: PlankaClient, card_id: str | None,
               plan: AttachmentPlan) -> tuple[dict[str, Any], MultipartFile]:
    assert plan.sha256 is not None
    mime = mimetypes.guess_type(plan.name)[0] or "application/octet-stream"
    with ctx.reader.open_blob(plan.sha256) as source:
        size = plan.size if plan.size is not None else ctx.reader.container.members[
            f"blobs/sha256/{plan.sha256[:2]}/{plan.sha256}"].size
        body = MultipartFile({"type": "file", "name": plan.name}, plan.name, source, size, mime)
        body.on_bytes = lambda count: ctx.on_progress("bytes", count)
        return client.upload(f"/api/cards/{card_id}/attachments", body)["item"], body


def _replay_placement(ctx: ImportContext, board: BoardState, plan: CardPlan, card_id: str | None,
                      list_id: str | None, position: float, attachment_ids: dict[str, str | None]) -> None:
    """Cover and archive placement, applied last (after attachments exist)."""
    key = f"{plan.key}:placement"
    # Planka may pick a new image attachment as cover by itself, so the attachment set is part of
    # what placement depends on.
    desired = {"archived": plan.archived, "cover": plan.cover_key,
               "attachments": sorted(item.key for item in plan.attachments)}

    def apply(*_: Any) -> dict[str, Any]:
        cover_id = attachment_ids.get(plan.cover_key) if plan.cover_key else None
        current = ctx.api.get(f"/api/cards/{card_id}")["item"]
        patch: dict[str, Any] = {}
        if current.get("coverAttachmentId") != cover_id:
            patch["coverAttachmentId"] = cover_id
        in_archive = board.archive_list_id is not None and current.get("listId") == board.archive_list_id
        if plan.archived and not in_archive:
            patch["listId"] = board.archive_list_id
        elif not plan.archived and in_archive:
            patch.update(listId=list_id, position=position)
        if patch:
            current = ctx.api.update(f"/api/cards/{card_id}", patch)["item"]
            ctx.syncer.saw(current)
        return {"id": f"{card_id}", **{name: current.get(name) for name in ("listId", "coverAttachmentId")}}

    # A card placed for the first time that gets no upload and no archive move is already where it
    # belongs, without a cover: reading it back would only confirm that.
    untouched = not plan.archived and plan.cover_key is None and all(
        attachment.type != "file" for attachment in plan.attachments)
    create = (lambda _payload: {"id": f"{card_id}"}) if untouched else apply
    spec = Spec("card_placement", create=create, update=lambda planka_id, changes: apply(changes))
    guarded(ctx, key, "card_placement", lambda: ctx.syncer.ensure(key, card_id, desired, spec))
