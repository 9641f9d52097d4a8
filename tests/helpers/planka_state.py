"""Reading what an import produced, through the Planka API only, and running imports in tests."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any, Collection

import requests

from k2p.planka.client import Credentials
from k2p.planka.importer import ImportOptions, ImportOutcome, run_import
from k2p.testing.planka.sim import PlankaSimulator

Item = dict[str, Any]


class PlankaReader:
    """GETs against a Planka server with an API key (which also authenticates downloads), or with
    a login ``token`` (Bearer for ``/api``; downloads ignore Bearer and read the ``accessToken``
    cookie instead)."""

    def __init__(self, url: str, api_key: str | None, *, token: str | None = None) -> None:
        self.url = url
        self.session = requests.Session()
        self.session.trust_env = False
        if token is not None:
            self.session.headers["Authorization"] = f"Bearer {token}"
            self.session.cookies.set("accessToken", token)
        else:
            assert api_key is not None, "an API key or a token is needed"
            self.session.headers["X-Api-Key"] = api_key

    def get(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self.session.get(self.url + path, params=params, timeout=30)
        response.raise_for_status()
        return response.json()

    def comments(self, card_id: str) -> list[Item]:
        """All comments of a card, oldest first."""
        found: list[Item] = []
        before = None
        while True:
            page = self.get(f"/api/cards/{card_id}/comments", {"beforeId": before} if before else None)["items"]
            found.extend(page)
            if len(page) < 50:
                return list(reversed(found))
            before = page[-1]["id"]

    def list_cards(self, list_id: str, board_id: str) -> list[Item]:
        """Cards of any list (archive included).

        ``GET /api/lists/:id/cards`` answers 50 cards; Planka 2.1.1 cannot page it over HTTP (its
        ``before`` cursor is an object, and ``?before[id]=…`` makes the server answer 500). Past 50,
        the cards are found through the board's activity (``createCard``/``moveCard`` actions,
        paged by ``beforeId``) and read one by one.
        """
        first = self.get(f"/api/lists/{list_id}/cards")["items"]
        if len(first) < 50:
            return first
        card_ids: set[str] = set()
        before = None
        while True:
            actions = self.get(f"/api/boards/{board_id}/actions", {"beforeId": before} if before else None)["items"]
            card_ids.update(action["cardId"] for action in actions
                            if action["type"] in ("createCard", "moveCard") and action.get("cardId"))
            if len(actions) < 50:
                break
            before = actions[-1]["id"]
        found = []
        for card_id in sorted(card_ids, key=int):
            response = self.session.get(f"{self.url}/api/cards/{card_id}", timeout=30)
            if response.status_code == 404:
                continue          # deleted since
            response.raise_for_status()
            card = response.json()["item"]
            if card["listId"] == list_id:
                found.append(card)
        return found

    def download_sha256(self, attachment: Item) -> str:
        response = self.session.get(attachment["data"]["url"], timeout=60)
        response.raise_for_status()
        return hashlib.sha256(response.content).hexdigest()


def card_view(reader: PlankaReader, card_id: str, lists: dict[str, Item], labels: dict[str, Item],
              users: dict[str, Item]) -> dict[str, Any]:
    """One card with everything hanging from it, without Planka ids."""
    data = reader.get(f"/api/cards/{card_id}")
    card, included = data["item"], data["included"]
    attachments = {item["id"]: item for item in included["attachments"]}
    task_lists = sorted(included["taskLists"], key=lambda item: item["position"])
    fields = {item["id"]: item["name"] for item in included["customFields"]}
    return {
        "name": card["name"], "description": card["description"], "type": card["type"],
        "dueDate": card["dueDate"], "isDueCompleted": card["isDueCompleted"], "stopwatch": card["stopwatch"],
        "list": lists[card["listId"]]["name"] or lists[card["listId"]]["type"],
        "prevList": lists[card["prevListId"]]["name"] if card["prevListId"] else None,
        "labels": sorted(labels[item["labelId"]]["name"] or "" for item in included["cardLabels"]),
        "members": sorted(users.get(item["userId"], {}).get("email") or item["userId"]
                          for item in included["cardMemberships"]),
        "tasks": [(task_list["name"], [(task["name"], task["isCompleted"]) for task in
                                       sorted((t for t in included["tasks"] if t["taskListId"] == task_list["id"]),
                                              key=lambda t: t["position"])])
                  for task_list in task_lists],
        "comments": [comment["text"] for comment in reader.comments(card_id)],
        "attachments": sorted((item["name"], item["type"],
                               reader.download_sha256(item) if item["type"] == "file" else item["data"]["url"])
                              for item in attachments.values()),
        "cover": attachments[card["coverAttachmentId"]]["name"] if card["coverAttachmentId"] else None,
        "custom": sorted((fields.get(value["customFieldId"], "?"), value["content"])
                         for value in included["customFieldValues"]),
    }


def snapshot(url: str, api_key: str | None, project_ids: Collection[str] | None = None, *,
             token: str | None = None) -> dict[str, Any]:
    """Everything an import created, keyed by names and in Planka's order (no ids): comparable
    between a clean import and an interrupted-then-resumed one. ``project_ids`` restricts it to
    those projects (a live server may hold others)."""
    reader = PlankaReader(url, api_key, token=token)
    projects = reader.get("/api/projects")
    result: dict[str, Any] = {}
    chosen = [item for item in projects["items"] if project_ids is None or item["id"] in project_ids]
    for project in sorted(chosen, key=lambda item: item["name"]):
        boards = sorted((board for board in projects["included"]["boards"] if board["projectId"] == project["id"]),
                        key=lambda board: board["position"])
        result[project["name"]] = {board["name"]: board_view(reader, board["id"]) for board in boards}
        result[project["name"]]["#boards"] = len(boards)
    return result


def board_view(reader: PlankaReader, board_id: str) -> dict[str, Any]:
    data = reader.get(f"/api/boards/{board_id}")
    included = data["included"]
    lists = {item["id"]: item for item in included["lists"]}
    labels = {item["id"]: item for item in included["labels"]}
    users = {item["id"]: item for item in included["users"]}
    ordered_lists = sorted((item for item in lists.values() if item["type"] in ("active", "closed")),
                           key=lambda item: item["position"])
    archive = next(item for item in lists.values() if item["type"] == "archive")
    cards_by_list = {item["id"]: sorted((card for card in included["cards"] if card["listId"] == item["id"]),
                                        key=lambda card: card["position"]) for item in ordered_lists}
    # The archive has no order of its own (Planka lists it by the time of the move), and names can
    # repeat: order archived cards by everything the snapshot shows of them.
    archived = sorted((card_view(reader, card["id"], lists, labels, users)
                       for card in reader.list_cards(archive["id"], board_id)),
                      key=lambda view: json.dumps(view, sort_keys=True, ensure_ascii=False))
    return {
        "lists": [(item["name"], item["type"]) for item in ordered_lists],
        "labels": [(item["name"], item["color"]) for item in sorted(labels.values(), key=lambda item: item["position"])],
        "members": sorted(users[item["userId"]].get("email") or item["userId"] for item in included["boardMemberships"]),
        "cards": {lists[list_id]["name"]: [card_view(reader, card["id"], lists, labels, users) for card in cards]
                  for list_id, cards in cards_by_list.items()},
        "archived": archived,
    }


def ledger_ids(path: Path, kind: str) -> dict[str, str]:
    """``{plan key: Planka id}`` of one kind, straight from the ledger file."""
    with sqlite3.connect(path) as db:
        return {key: planka_id for key, planka_id in
                db.execute("SELECT key, planka_id FROM objects WHERE kind = ? AND status = 'done'", (kind,))}


def ledger_keys(path: Path) -> set[str]:
    """Every plan key the ledger knows."""
    with sqlite3.connect(path) as db:
        return {key for (key,) in db.execute("SELECT key FROM objects")}


def card_fields(data: dict[str, Any], card_id: str | None = None) -> tuple[dict[str, str | None],
                                                                          dict[str, str | None]]:
    """``(board fields, card fields)`` of one card in a ``GET /api/boards/:id`` (``card_id``) or
    ``GET /api/cards/:id`` answer (which, like Planka, holds no board groups): name → content
    (None: the field is shown empty)."""
    included = data["included"]
    card_id = card_id or data["item"]["id"]
    groups = {group["id"]: group for group in included["customFieldGroups"]}
    values = {(value["customFieldGroupId"], value["customFieldId"]): value["content"]
              for value in included["customFieldValues"] if value["cardId"] == card_id}
    board: dict[str, str | None] = {}
    card: dict[str, str | None] = {}
    for field in sorted(included["customFields"], key=lambda item: item["position"]):
        group = groups.get(field["customFieldGroupId"])
        if group is not None and group["cardId"] in (None, card_id):
            shown = card if group["cardId"] == card_id else board
            shown[field["name"]] = values.get((group["id"], field["id"]))
    return board, card


def import_into(sim: PlankaSimulator, archive: Path, state: Path, **options: Any) -> ImportOutcome:
    """Run ``k2p import`` in-process against a simulator, with an admin API key."""
    key = options.pop("api_key", None) or sim.create_api_key(sim.admin_email)
    opts = ImportOptions(archive=archive, planka_url=sim.url, state=state,
                         report=state.with_suffix(f".report-{len(list(state.parent.glob('*.json')))}.json"),
                         **options)
    return run_import(opts, Credentials(api_key=key))


def import_cli(url: str, archive: Path, state: Path, api_key: str, *extra: str) -> subprocess.Popen[str]:
    """Start ``k2p import`` as a subprocess (for kill-and-resume tests)."""
    env = {**os.environ, "K2P_PLANKA_API_KEY": api_key}
    env.pop("K2P_PLANKA_USER", None)
    return subprocess.Popen([sys.executable, "-m", "k2p.cli", "import", str(archive), "--planka-url", url,
                             "--state", str(state), "--report", str(state.with_suffix(".report.json")), *extra],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
