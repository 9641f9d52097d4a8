"""The Planka simulator's people rules, through HTTP: accounts, API keys, deactivation, card and
board subscriptions, notifications as Planka 2.1.1 creates them, and the e-mails it would send."""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from typing import Any, Iterator

import pytest
import requests

from k2p.testing.planka.sim import PlankaSimulator
from tests.test_planka_sim_support import (STRONG_PASSWORD, Api, Board, api_key, bearer, error, make_board,
                                           make_card)


@dataclass
class World:
    """An SMTP-configured simulator; alice and bob are editors of the admin's board with one card."""

    sim: PlankaSimulator
    admin: Api
    alice: Api
    bob: Api
    ids: dict[str, str]
    board: str
    lists: Board
    card: str

    def notes(self, who: str) -> list[dict[str, Any]]:
        return getattr(self, who).ok("GET", "/api/notifications")["items"]

    def kinds(self, who: str) -> list[str]:
        return [n["type"] for n in self.notes(who)]

    def mails(self) -> list[tuple[str, str]]:
        return [(mail.to, mail.type) for mail in self.sim.outbox]

    def add_member(self, actor: str, member: str) -> dict[str, Any]:
        return getattr(self, actor).item("POST", f"/api/cards/{self.card}/card-memberships",
                                         {"userId": self.ids[member]})

    def comment(self, actor: str, text: str = "hello") -> dict[str, Any]:
        return getattr(self, actor).item("POST", f"/api/cards/{self.card}/comments", {"text": text})

    def subscribed(self, who: str) -> bool:
        return getattr(self, who).item("GET", f"/api/cards/{self.card}")["isSubscribed"]


def _person(sim: PlankaSimulator, name: str, **extra: Any) -> str:
    return sim.add_user(email=f"{name}@example.com", username=name, name=name.title(),
                        password=STRONG_PASSWORD, **extra)


@pytest.fixture()
def world() -> Iterator[World]:
    with PlankaSimulator(require_terms=False, idle_timeout=60, smtp=True) as sim:
        ids = {"admin": sim.admin_id, "alice": _person(sim, "alice"), "bob": _person(sim, "bob")}
        admin = bearer(sim, "admin")
        lists = make_board(admin)
        for name in ("alice", "bob"):
            admin.ok("POST", f"/api/boards/{lists.board}/board-memberships", {"userId": ids[name], "role": "editor"})
        card = make_card(admin, lists.list)["id"]
        yield World(sim, admin, bearer(sim, "alice"), api_key(sim, "bob"), ids, lists.board, lists, card)


# --- notifications ---------------------------------------------------------------------------------
def test_adding_someone_else_notifies_only_them(world: World) -> None:
    world.add_member("admin", "alice")
    [note] = world.notes("alice")
    action = world.admin.ok("GET", f"/api/cards/{world.card}/actions")["items"][0]
    assert action["type"] == "addMemberToCard" and note["actionId"] == action["id"]
    assert {key: note[key] for key in ("userId", "creatorUserId", "boardId", "cardId", "commentId", "type",
                                       "isRead")} == {
        "userId": world.ids["alice"], "creatorUserId": world.ids["admin"], "boardId": world.board,
        "cardId": world.card, "commentId": None, "type": "addMemberToCard", "isRead": False}
    assert note["data"] == {"user": {"id": world.ids["alice"], "name": "Alice"}, "card": {"name": "Card"}}
    assert world.notes("admin") == [] and world.notes("bob") == []
    assert world.mails() == [("alice@example.com", "addMemberToCard")]
    assert world.sim.outbox[0].subject == "You Were Added to Card"
    assert world.subscribed("alice")


def test_adding_yourself_notifies_nobody_but_subscribes(world: World) -> None:
    world.add_member("alice", "alice")
    assert world.notes("alice") == [] and world.sim.outbox == []
    assert world.subscribed("alice")


def test_comment_notifies_card_and_board_subscribers_except_the_author(world: World) -> None:
    world.add_member("admin", "bob")                                    # bob: card subscriber
    world.alice.ok("PATCH", f"/api/boards/{world.board}", {"isSubscribed": True})  # alice: board subscriber
    comment = world.comment("admin", "first")
    assert world.kinds("bob") == ["commentCard", "addMemberToCard"]
    [note] = world.notes("alice")
    assert note["commentId"] == comment["id"] and note["actionId"] is None
    assert note["data"] == {"card": {"name": "Card"}, "text": "first"}
    assert world.notes("admin") == []
    assert not world.subscribed("alice")
    assert world.subscribed("admin")  # subscribeToCardWhenCommenting (on by default)
    world.comment("alice")
    assert world.kinds("bob") == ["commentCard", "commentCard", "addMemberToCard"]
    assert world.kinds("alice") == ["commentCard"] and world.kinds("admin") == ["commentCard"]
    assert world.mails() == [("bob@example.com", "addMemberToCard"), ("bob@example.com", "commentCard"),
                             ("alice@example.com", "commentCard"), ("bob@example.com", "commentCard"),
                             ("admin@example.com", "commentCard")]


def test_mentions_of_board_members_replace_the_comment_notification(world: World) -> None:
    outsider = _person(world.sim, "carol")
    world.add_member("admin", "bob")
    text = f"@[Bob]({world.ids['bob']}) @[Carol]({outsider}) @[Alice]({world.ids['alice']}) @[Me]({world.ids['admin']})"
    world.comment("admin", text)
    assert world.kinds("bob") == ["mentionInComment", "addMemberToCard"]
    assert world.kinds("alice") == ["mentionInComment"]
    assert world.sim.store.where("notifications", userId=outsider) == [] and world.notes("admin") == []
    assert world.sim.outbox[-1].subject == "You Were Mentioned in Comment"


def test_moving_a_card_notifies_its_subscribers(world: World) -> None:
    world.add_member("admin", "bob")
    world.admin.ok("PATCH", f"/api/cards/{world.card}", {"listId": world.lists.closed, "position": 1})
    [move, _added] = world.notes("bob")
    assert move["type"] == "moveCard" and move["data"]["toList"]["id"] == world.lists.closed
    world.bob.ok("PATCH", f"/api/cards/{world.card}", {"listId": world.lists.list, "position": 1})
    assert world.kinds("admin") == [] and len(world.notes("bob")) == 2


def test_subscription_rules(world: World) -> None:
    world.alice.ok("PATCH", f"/api/users/{world.ids['alice']}",
                   {"subscribeToOwnCards": True, "subscribeToCardWhenCommenting": False})
    own = make_card(world.alice, world.lists.list, "Own")
    assert world.alice.item("GET", f"/api/cards/{own['id']}")["isSubscribed"]
    assert not world.admin.item("GET", f"/api/cards/{own['id']}")["isSubscribed"]  # default: off
    world.comment("alice")
    assert not world.subscribed("alice")
    # A membership's subscription goes with the membership; one made by hand stays.
    for who, manual in (("alice", False), ("bob", True)):
        if manual:
            getattr(world, who).ok("PATCH", f"/api/cards/{world.card}", {"isSubscribed": True})
        world.add_member("admin", who)
        world.admin.ok("DELETE", f"/api/cards/{world.card}/card-memberships/userId:{world.ids[who]}")
        assert world.subscribed(who) is manual


def test_removing_a_board_member_drops_their_subscriptions(world: World) -> None:
    world.add_member("admin", "bob")
    world.bob.ok("PATCH", f"/api/boards/{world.board}", {"isSubscribed": True})
    membership = world.sim.store.first("board_memberships", boardId=world.board, userId=world.ids["bob"])
    world.admin.ok("DELETE", f"/api/board-memberships/{membership['id']}")
    assert (world.card, world.ids["bob"]) not in world.sim.store.card_subscriptions
    assert (world.board, world.ids["bob"]) not in world.sim.store.board_subscriptions


def test_deactivated_users_keep_getting_notifications_but_no_mail(world: World) -> None:
    token = world.alice.headers["Authorization"]
    key = world.bob.headers["X-Api-Key"]
    for name in ("alice", "bob"):
        world.admin.ok("PATCH", f"/api/users/{world.ids[name]}", {"isDeactivated": True})
    error(world.alice.get("/api/users/me"), 401)
    error(world.bob.get("/api/users/me"), 401)
    login = requests.post(f"{world.sim.url}/api/access-tokens",
                          json={"emailOrUsername": "bob", "password": STRONG_PASSWORD})
    assert error(login, 401)["message"] == "Invalid credentials"
    board = world.admin.ok("GET", f"/api/boards/{world.board}")["included"]["boardMemberships"]
    assert {m["userId"] for m in board} == set(world.ids.values())  # memberships stay
    world.add_member("admin", "bob")  # still a board member, so still a possible card member
    world.comment("admin")
    assert world.sim.outbox == []
    # Reactivation revives the old key and the old sessions: deactivating revokes nothing.
    for name in ("alice", "bob"):
        world.admin.ok("PATCH", f"/api/users/{world.ids[name]}", {"isDeactivated": False})
    assert Api(world.sim.url, {"X-Api-Key": key}).item("GET", "/api/users/me")["id"] == world.ids["bob"]
    assert Api(world.sim.url, {"Authorization": token}).item("GET", "/api/users/me")["id"] == world.ids["alice"]
    assert world.kinds("bob") == ["commentCard", "addMemberToCard"]


def test_a_deactivated_user_cannot_join_a_board(world: World) -> None:
    carol = _person(world.sim, "carol")
    world.admin.ok("PATCH", f"/api/users/{carol}", {"isDeactivated": True})
    refused = world.admin.post(f"/api/boards/{world.board}/board-memberships", {"userId": carol, "role": "viewer"})
    assert error(refused, 404)["message"] == "User not found"


def test_notification_routes(world: World) -> None:
    world.add_member("admin", "alice")
    world.comment("admin")
    listed = world.alice.ok("GET", "/api/notifications")
    first, second = listed["items"][1], listed["items"][0]
    assert [u["id"] for u in listed["included"]["users"]] == [world.ids["admin"]]
    assert "email" not in listed["included"]["users"][0]  # presented for a plain user
    shown = world.alice.ok("GET", f"/api/notifications/{first['id']}")
    [creator] = shown["included"]["users"]
    assert shown["item"] == first and creator["email"] == "admin@example.com"  # 2.1.1 leaks every column
    assert creator["password"].startswith("$2b$10$") and world.sim.admin_password not in str(shown)
    missing = world.bob.get(f"/api/notifications/{first['id']}")
    assert error(missing, 404) == {"code": "E_NOT_FOUND", "message": "Notification not found"}
    error(world.bob.patch(f"/api/notifications/{first['id']}", {"isRead": True}), 404)
    read = world.alice.item("PATCH", f"/api/notifications/{first['id']}", {"isRead": True})
    assert read["isRead"] is True and read["updatedAt"] is not None
    assert [n["id"] for n in world.notes("alice")] == [second["id"]]
    assert world.alice.item("GET", f"/api/notifications/{first['id']}")["isRead"] is True  # still readable
    world.alice.item("PATCH", f"/api/notifications/{first['id']}", {"isRead": False})
    by_card = world.alice.ok("POST", f"/api/cards/{world.card}/read-notifications")
    assert by_card["item"]["id"] == world.card and len(by_card["included"]["notifications"]) == 2
    world.comment("admin")
    assert [n["isRead"] for n in world.alice.ok("POST", "/api/notifications/read-all")["items"]] == [True]
    assert world.notes("alice") == [] and world.alice.ok("POST", "/api/notifications/read-all")["items"] == []
    error(requests.post(f"{world.sim.url}/api/notifications/read-all"), 401)


def test_only_the_newest_hundred_stay_unread(world: World) -> None:
    world.add_member("admin", "bob")
    for number in range(100):
        world.comment("admin", f"c{number}")
    notes = world.notes("bob")
    assert len(notes) == 100 and notes[-1]["data"]["text"] == "c0"
    [oldest] = world.sim.store.where("notifications", userId=world.ids["bob"], type="addMemberToCard")
    assert oldest["isRead"] is True and oldest["updatedAt"] is None
    assert len(world.sim.outbox) == 101


def test_without_smtp_nothing_is_mailed() -> None:
    with PlankaSimulator(require_terms=False, idle_timeout=60) as sim:
        admin = bearer(sim, "admin")
        member = _person(sim, "dora")
        lists = make_board(admin)
        admin.ok("POST", f"/api/boards/{lists.board}/board-memberships", {"userId": member, "role": "editor"})
        card = make_card(admin, lists.list)
        admin.ok("POST", f"/api/cards/{card['id']}/card-memberships", {"userId": member})
        assert len(sim.store.where("notifications", userId=member)) == 1 and sim.outbox == []
        assert admin.item("GET", "/api/config")["smtpHost"] is None
        sim.smtp = True
        assert admin.item("GET", "/api/config") == {}  # SMTP from the environment hides its fields


# --- accounts --------------------------------------------------------------------------------------
def _new_user(**values: Any) -> dict[str, Any]:
    return {"email": "new@example.com", "password": STRONG_PASSWORD, "role": "boardUser", "name": "New", **values}


def test_user_validation(world: World) -> None:
    admin = world.admin
    for username in ("ab", "a" * 33, "a_", "_ab", "a..b", "a_.b", "ab-c", "ab c"):
        problems = error(admin.post("/api/users", _new_user(username=username)), 400)["problems"]
        assert problems[0].startswith('Invalid "username"'), username
    for username in ("abc", "A.b_c9", "a" * 32, "x1.y2_z3"):
        assert admin.item("POST", "/api/users", _new_user(email=f"{username}@example.com", username=username))
    for password in ("password1", "demo", "Password1!", "qwertyuiop", "aaaaaaaaaaaa"):
        weak = error(admin.post("/api/users", _new_user(password=password)), 400)
        assert weak["problems"] == [f"Invalid \"password\":\n  · Value ('{password}') failed custom validation."]
    alphabet = string.ascii_letters + string.digits + "!@#$%^&*-_=+"
    for _ in range(20):
        password = "".join(secrets.choice(alphabet) for _ in range(24))
        created = admin.item("POST", "/api/users", _new_user(email=f"r{secrets.token_hex(6)}@example.com",
                                                             password=password))
        assert created["isSsoUser"] is False


def test_uniqueness_counts_deactivated_accounts(world: World) -> None:
    world.admin.ok("PATCH", f"/api/users/{world.ids['bob']}", {"isDeactivated": True})
    taken = error(world.admin.post("/api/users", _new_user(email="BOB@example.com")), 409)
    assert taken == {"code": "E_CONFLICT", "message": "Email already in use"}
    clash = error(world.admin.post("/api/users", _new_user(username="BOB")), 409)
    assert clash["message"] == "Username already in use"


def test_sso_flag_cannot_be_set_by_an_admin(world: World) -> None:
    created = world.admin.item("POST", "/api/users", _new_user(isSsoUser=True))  # unknown input: ignored
    assert created["isSsoUser"] is False
    problems = error(world.admin.patch(f"/api/users/{created['id']}", {"isSsoUser": True}), 400)["problems"]
    assert problems == ["Invalid \"isSsoUser\":\n  · Value (true) failed custom validation."]
    assert world.admin.item("PATCH", f"/api/users/{created['id']}", {"isSsoUser": False})["isSsoUser"] is False
    sso = _person(world.sim, "sso", isSsoUser=True)
    for change in ({"name": "Renamed"}, {"role": "admin"}):
        error(world.admin.patch(f"/api/users/{sso}", change), 403)
    assert world.admin.item("PATCH", f"/api/users/{sso}", {"isSsoUser": False})["isSsoUser"] is False
    login = requests.post(f"{world.sim.url}/api/access-tokens",
                          json={"emailOrUsername": "sso", "password": STRONG_PASSWORD})
    assert login.status_code == 200  # unlinked: passwords work again


def test_api_keys_are_replaced_and_revoked(world: World) -> None:
    carol = _person(world.sim, "carol")
    keys = [world.admin.ok("POST", f"/api/users/{carol}/api-key")["included"]["apiKey"] for _ in range(2)]
    old, new = (Api(world.sim.url, {"X-Api-Key": key}) for key in keys)
    error(old.get("/api/users/me"), 401)
    assert new.item("GET", "/api/users/me")["apiKeyPrefix"] == keys[1][:8]
    assert error(world.alice.patch(f"/api/users/{carol}", {"apiKey": None}), 404)["message"] == "User not found"
    error(world.admin.patch(f"/api/users/{carol}", {"apiKey": "x"}), 400)
    assert world.admin.item("PATCH", f"/api/users/{carol}", {"apiKey": None})["apiKeyPrefix"] is None
    error(new.get("/api/users/me"), 401)
