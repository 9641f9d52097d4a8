"""``k2p fixup-sql --check``: has the fix-up been applied? Read back through the Planka API (GET only).

A deterministic sample of the ledger's cards (evenly spaced in id order, all of them when there are
fewer than ``sample``) and every comment of those cards are read. An object counts as *fixed* when
its ``createdAt`` is the Kaiten creation time (±1 s) and its author (``creatorUserId`` of a card,
``userId`` of a comment) is the mapped person where the Kaiten person has an account.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Iterable

from k2p.archive.reader import ArchiveReader
from k2p.errors import ExitCode, RemoteError
from k2p.fixup.source import Target, collect_targets, read_ledger
from k2p.planka.client import Credentials, PlankaClient, PlankaError
from k2p.timestamps import parse_time

TOLERANCE_SECONDS = 1.0
SHOWN = 10


@dataclass
class CheckOutcome:
    verdict: str = "not applied"      # applied | not applied | partly
    checked: int = 0
    fixed: int = 0
    not_fixed: int = 0
    missing: int = 0                  # sampled objects Planka no longer has
    differences: list[str] = field(default_factory=list)   # first objects that differ

    @property
    def exit_code(self) -> int:
        """0 when applied; 7 (partial) when not or only partly applied."""
        return ExitCode.OK if self.verdict == "applied" else ExitCode.PARTIAL


def _moment(text: str) -> datetime | None:
    return parse_time(text.replace(" ", "T") + "Z") if text else None


def _same_time(planka: object, target: str) -> bool:
    found, wanted = parse_time(planka), _moment(target)
    if found is None or wanted is None:
        return False
    return abs((found - wanted).total_seconds()) <= TOLERANCE_SECONDS


def _sample(cards: list[Target], size: int) -> list[Target]:
    cards = sorted(cards, key=lambda row: row.id)
    if len(cards) <= size:
        return cards
    step = len(cards) / size
    return [cards[int(index * step)] for index in range(size)]


def _comments(client: PlankaClient, card_id: int) -> dict[str, dict]:
    found: dict[str, dict] = {}
    before: str | None = None
    while True:
        params = {"beforeId": before} if before else None
        page = client.get(f"/api/cards/{card_id}/comments", params)["items"]
        found.update({str(item["id"]): item for item in page})
        if len(page) < 50:
            return found
        before = str(page[-1]["id"])


def _judge(outcome: CheckOutcome, label: str, item: dict | None, target: Target, author: str) -> None:
    outcome.checked += 1
    if item is None:
        outcome.missing += 1
        return
    problems = []
    if not _same_time(item.get("createdAt"), target.created_at):
        problems.append(f"createdAt {item.get('createdAt')} (Kaiten {target.created_at} UTC)")
    if target.user_id is not None and str(item.get(author)) != str(target.user_id):
        problems.append(f"{author} {item.get(author)} (mapped author {target.user_id})")
    if problems:
        outcome.not_fixed += 1
        if len(outcome.differences) < SHOWN:
            outcome.differences.append(f"{label} {target.id}: " + ", ".join(problems))
    else:
        outcome.fixed += 1


def check_fixup(archive: Path, ledger: Path, planka_url: str, credentials: Credentials, *,
                sample: int = 200, ca_bundle: str | None = None) -> CheckOutcome:
    """Whether the fix-up for ``archive``/``ledger`` has been applied to the Planka at ``planka_url``.

    CLI: ``k2p fixup-sql ARCHIVE --state LEDGER --check --planka-url URL [--sample N]`` with the
    usual ``K2P_PLANKA_*`` credentials. Sends GET requests only.
    """
    view = read_ledger(ledger, strict=False)
    try:
        with ArchiveReader(archive) as reader:
            collected = collect_targets(reader, view)
    finally:
        view.close()
    try:
        return _check(collected.rows, planka_url, credentials, sample, ca_bundle)
    finally:
        collected.close()


def _check(targets: Iterable[Target], planka_url: str, credentials: Credentials, sample: int,
           ca_bundle: str | None) -> CheckOutcome:
    cards = _sample([row for row in targets if row.table == "card"], sample)
    wanted = {row.id for row in cards}
    comments: dict[int, list[Target]] = {}
    for row in targets:
        if row.table == "comment" and row.parent_id is not None and row.parent_id in wanted:
            comments.setdefault(row.parent_id, []).append(row)
    client = PlankaClient(planka_url, credentials, ca_bundle=ca_bundle)
    client.probe()
    client.authenticate()
    outcome = CheckOutcome()
    for card in cards:
        try:
            item = client.get(f"/api/cards/{card.id}")["item"]
        except PlankaError as error:
            if error.status != 404:
                raise RemoteError(f"reading card {card.id} back: {error}; check --planka-url and that "
                                  f"the account can see the imported boards") from None
            _judge(outcome, "card", None, card, "creatorUserId")
            continue
        _judge(outcome, "card", item, card, "creatorUserId")
        found = _comments(client, card.id) if comments.get(card.id) else {}
        for comment in comments.get(card.id, []):
            _judge(outcome, "comment", found.get(str(comment.id)), comment, "userId")
    if outcome.fixed and not outcome.not_fixed:
        outcome.verdict = "applied"
    elif outcome.fixed:
        outcome.verdict = "partly"
    return outcome
