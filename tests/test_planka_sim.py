"""The Planka simulator: authentication, resources, side effects and the verification reads."""

from __future__ import annotations

import re
import struct

import pytest
import requests

from k2p.testing.planka.attachments import text_encoding
from k2p.testing.planka.sim import PlankaSimulator
from tests.helpers.planka_state import PlankaReader
from tests.test_planka_sim_support import (STRONG_PASSWORD, Api, admin, bearer, error, jpeg_header,  # noqa: F401
                                           make_board, make_card, png_bytes, sim)


def _user(sim: PlankaSimulator, name: str, role: str = "boardUser") -> str:
    return sim.add_user(email=f"{name}@example.com", username=name, name=name.title(), role=role,
                        password=STRONG_PASSWORD)


# --- authentication ----------------------------------------------------------------------------
def test_terms_flow_end_to_end() -> None:
    with PlankaSimulator() as sim:
        base = sim.url
        login = {"emailOrUsername": "ADMIN@example.com", "password": sim.admin_password}
        member = sim.add_user(email="m@example.com", username="member", name="M", password=STRONG_PASSWORD)
        early = requests.post(f"{base}/api/access-tokens", json={"emailOrUsername": "member",
                                                                   "password": STRONG_PASSWORD})
        assert error(early, 403) == {"code": "E_FORBIDDEN", "message": "Admin login required to initialize instance"}
        wrong = requests.post(f"{base}/api/access-tokens", json={**login, "password": "nope"})
        assert error(wrong, 401) == {"code": "E_UNAUTHORIZED", "message": "Invalid credentials"}

        step = error(requests.post(f"{base}/api/access-tokens", json=login), 403)
        assert step["message"] == "Terms acceptance required" and step["step"] == "accept-terms"
        terms = requests.get(f"{base}/api/terms", params={"language": "en-US"}).json()["item"]
        assert terms["language"] == "en-US" and re.fullmatch(r"[0-9a-f]{64}", terms["signature"])
        bad_signature = requests.post(f"{base}/api/access-tokens/accept-terms",
                                      json={"pendingToken": step["pendingToken"], "signature": "0" * 64})
        assert error(bad_signature, 403)["message"] == "Invalid signature"
        unknown = requests.post(f"{base}/api/access-tokens/accept-terms",
                                json={"pendingToken": "x.y.z", "signature": terms["signature"]})
        assert error(unknown, 401)["message"] == "Invalid pending token"
        accepted = requests.post(f"{base}/api/access-tokens/accept-terms",
                                 json={"pendingToken": step["pendingToken"], "signature": terms["signature"]})
        token = accepted.json()["item"]
        me = Api(base, {"Authorization": f"Bearer {token}"}).item("GET", "/api/users/me")
        assert me["id"] == sim.admin_id and me["isDefaultAdmin"] is True

        again = requests.post(f"{base}/api/access-tokens", json=login)
        assert again.status_code == 200 and isinstance(again.json()["item"], str)
        # Once the admin initialised the instance, other users get their own terms step.
        member_step = requests.post(f"{base}/api/access-tokens", json={"emailOrUsername": "member",
                                                                         "password": STRONG_PASSWORD})
        assert error(member_step, 403)["step"] == "accept-terms"
        sim.pending_token_ttl = -1
        expired = error(requests.post(f"{base}/api/access-tokens", json={"emailOrUsername": "m@example.com",
                                                                           "password": STRONG_PASSWORD}), 403)
        late = requests.post(f"{base}/api/access-tokens/accept-terms",
                             json={"pendingToken": expired["pendingToken"], "signature": terms["signature"]})
        assert error(late, 401)["message"] == "Invalid pending token"
        assert member


def test_auth_gate_runs_before_validation(sim: PlankaSimulator) -> None:
    body = error(requests.post(f"{sim.url}/api/projects", json={"type": "nope"}), 401)
    assert body == {"code": "E_UNAUTHORIZED", "message": "Access token is missing, invalid or expired"}
    bad_bearer = requests.get(f"{sim.url}/api/users/me", headers={
        "Authorization": "Bearer forged", "X-Api-Key": sim.create_api_key("admin")})
    error(bad_bearer, 401)


def test_logout_revokes_the_token(sim: PlankaSimulator) -> None:
    api = bearer(sim, "admin")
    assert api.ok("DELETE", "/api/access-tokens/me")["item"] == api.headers["Authorization"][7:]
    error(api.get("/api/users/me"), 401)


def test_api_keys(sim: PlankaSimulator, admin: Api) -> None:
    uid = _user(sim, "keyholder")
    body = admin.ok("POST", f"/api/users/{uid}/api-key")
    key = body["included"]["apiKey"]
    assert re.fullmatch(r"[A-Za-z0-9]{8}_[A-Za-z0-9]{32}", key)
    assert body["item"]["apiKeyPrefix"] == key[:8]
    as_user = Api(sim.url, {"X-Api-Key": key})
    assert as_user.item("GET", "/api/users/me")["id"] == uid
    assert error(as_user.delete("/api/access-tokens/me"), 404) == {"code": "E_NOT_FOUND"}
    assert error(as_user.post(f"/api/users/{uid}/api-key"), 404) == {"code": "E_NOT_FOUND"}
    admin.ok("PATCH", f"/api/users/{uid}", {"apiKey": None})
    error(as_user.get("/api/users/me"), 401)


def test_admin_only_routes_answer_a_bare_404(sim: PlankaSimulator) -> None:
    _user(sim, "plain")
    plain = bearer(sim, "plain")
    new_user = {"email": "x@example.com", "password": STRONG_PASSWORD, "role": "admin", "name": "X"}
    assert error(plain.post("/api/users", new_user), 404) == {"code": "E_NOT_FOUND"}
    assert error(plain.post("/api/projects", {"type": "shared", "name": "P"}), 404) == {"code": "E_NOT_FOUND"}
    assert error(plain.get("/api/users"), 403)["message"] == "Not enough rights"
    assert error(plain.get("/api/config"), 404) == {"code": "E_NOT_FOUND"}


def test_bootstrap_and_unknown_routes(sim: PlankaSimulator, admin: Api) -> None:
    public = requests.get(f"{sim.url}/api/bootstrap").json()
    assert public == {"item": {"oidc": None, "termsLanguages": ["de-DE", "en-US"], "version": "2.1.1"}}
    assert admin.get("/api/bootstrap").json()["item"]["activeUsersLimit"] is None
    spa = requests.get(f"{sim.url}/api/base-custom-field-groups/1")
    assert spa.status_code == 200 and spa.headers["Content-Type"].startswith("text/html")
    assert error(admin.post("/api/nothing-here", {}), 404) == {"code": "E_NOT_FOUND"}


# --- users ------------------------------------------------------------------------------------------
def test_user_creation_rules(sim: PlankaSimulator, admin: Api) -> None:
    created = admin.item("POST", "/api/users", {"email": "Mixed.Case@Example.com", "username": "Mixed_Case",
                                                "password": STRONG_PASSWORD, "role": "projectOwner", "name": "Mixed"})
    assert created["email"] == "mixed.case@example.com" and created["username"] == "mixed_case"
    assert created["updatedAt"] is None and "password" not in created
    duplicate = {"email": "MIXED.case@example.com", "password": STRONG_PASSWORD, "role": "boardUser", "name": "D"}
    assert error(admin.post("/api/users", duplicate), 409)["message"] == "Email already in use"
    same_name = {**duplicate, "email": "other@example.com", "username": "mixed_case"}
    assert error(admin.post("/api/users", same_name), 409)["message"] == "Username already in use"
    weak = error(admin.post("/api/users", {**duplicate, "email": "w@example.com", "password": "password1"}), 400)
    assert weak["problems"] == ["Invalid \"password\":\n  · Value ('password1') failed custom validation."]
    owner = bearer(sim, "mixed_case")
    assert any(u["id"] == created["id"] for u in owner.ok("GET", "/api/users")["items"])
    seen_by_owner = owner.item("GET", f"/api/users/{sim.admin_id}")
    assert "email" not in seen_by_owner and "language" not in seen_by_owner


# --- projects and boards ---------------------------------------------------------------------------
def test_project_and_board_side_effects(sim: PlankaSimulator, admin: Api) -> None:
    private = admin.ok("POST", "/api/projects", {"type": "private", "name": "Mine", "description": "d"})
    manager = private["included"]["projectManagers"][0]
    assert private["item"]["ownerProjectManagerId"] == manager["id"] and "type" not in private["item"]
    board = admin.ok("POST", f"/api/projects/{private['item']['id']}/boards", {"position": 1, "name": "B"})
    membership = board["included"]["boardMemberships"][0]
    assert (membership["role"], membership["canComment"], membership["userId"]) == ("editor", None, sim.admin_id)
    lists = admin.ok("GET", f"/api/boards/{board['item']['id']}")["included"]["lists"]
    assert [(x["type"], x["position"], x["name"]) for x in lists] == [("archive", None, None), ("trash", None, None)]
    error(admin.post(f"/api/boards/{board['item']['id']}/lists", {"type": "archive", "position": 1, "name": "A"}), 400)


def test_admins_are_not_implicit_managers(sim: PlankaSimulator) -> None:
    _user(sim, "owner1", role="projectOwner")
    owner, other_admin = bearer(sim, "owner1"), Api(sim.url)
    other_admin.headers = {"X-Api-Key": sim.create_api_key("admin")}
    shared = owner.item("POST", "/api/projects", {"type": "shared", "name": "Shared"})["id"]
    private = owner.item("POST", "/api/projects", {"type": "private", "name": "Private"})["id"]
    assert error(other_admin.post(f"/api/projects/{shared}/boards", {"position": 1, "name": "B"}), 404) == \
        {"code": "E_NOT_FOUND", "message": "Project not found"}
    assert other_admin.ok("GET", f"/api/projects/{shared}")["item"]["isFavorite"] is False
    error(other_admin.get(f"/api/projects/{private}"), 404)
    visible = {p["id"] for p in other_admin.ok("GET", "/api/projects")["items"]}
    assert shared in visible and private not in visible
    assert error(other_admin.post(f"/api/projects/{private}/project-managers", {"userId": sim.admin_id}),
                 403)["message"] == "Not enough rights"
    other_admin.ok("POST", f"/api/projects/{shared}/project-managers", {"userId": sim.admin_id})
    other_admin.ok("POST", f"/api/projects/{shared}/boards", {"position": 1, "name": "Now allowed"})


def test_board_memberships_normalise_can_comment(sim: PlankaSimulator, admin: Api) -> None:
    ids = make_board(admin)
    viewer, editor = _user(sim, "viewer1"), _user(sim, "editor1")
    as_viewer = admin.item("POST", f"/api/boards/{ids.board}/board-memberships", {"userId": viewer, "role": "viewer"})
    as_editor = admin.item("POST", f"/api/boards/{ids.board}/board-memberships",
                           {"userId": editor, "role": "editor", "canComment": True})
    assert (as_viewer["canComment"], as_editor["canComment"]) == (False, None)
    changed = admin.item("PATCH", f"/api/board-memberships/{as_viewer['id']}", {"canComment": True})
    assert changed["canComment"] is True and changed["updatedAt"] is not None


# --- cards -------------------------------------------------------------------------------------------
def test_card_defaults_and_due_dates(admin: Api) -> None:
    ids = make_board(admin)
    plain = make_card(admin, ids.list, isDueCompleted=True)
    assert plain["isDueCompleted"] is None and plain["commentsTotal"] == 0 and plain["prevListId"] is None
    due = make_card(admin, ids.list, position=1, dueDate="2025-03-01T10:00:00Z")
    assert due["dueDate"] == "2025-03-01T10:00:00.000Z" and due["isDueCompleted"] is False
    closed = make_card(admin, ids.closed, stopwatch={"startedAt": None, "total": 30})
    assert closed["isClosed"] is True and closed["stopwatch"] == {"startedAt": None, "total": 30}
    cleared = admin.item("PATCH", f"/api/cards/{due['id']}", {"dueDate": None})
    assert cleared["dueDate"] is None and cleared["isDueCompleted"] is None and cleared["updatedAt"]
    archived = make_card(admin, ids.archive, position=5)
    assert archived["position"] is None


def test_position_collision_over_http(admin: Api) -> None:
    ids = make_board(admin)
    first, second = make_card(admin, ids.list), make_card(admin, ids.list)
    assert (first["position"], second["position"]) == (65536, 81920)
    third = make_card(admin, ids.list, position=0)
    assert third["position"] == 32768  # 0 is never kept: midpoint of the sentinel 0 and 65536


def test_archive_moves_and_board_read(sim: PlankaSimulator, admin: Api) -> None:
    ids = make_board(admin)
    kept = make_card(admin, ids.list, name="kept")
    gone = make_card(admin, ids.list, name="gone", position=131072)
    admin.ok("POST", f"/api/cards/{kept['id']}/comments", {"text": "hello"})
    error(admin.patch(f"/api/cards/{gone['id']}", {"listId": ids.closed}), 422)
    archived = admin.item("PATCH", f"/api/cards/{gone['id']}", {"listId": ids.archive})
    assert (archived["position"], archived["prevListId"], archived["listId"]) == (None, ids.list, ids.archive)
    board = admin.ok("GET", f"/api/boards/{ids.board}")
    assert set(board["included"]) == {"boardMemberships", "labels", "lists", "cards", "cardMemberships",
                                      "cardLabels", "taskLists", "tasks", "customFieldGroups", "customFields",
                                      "customFieldValues", "users", "projects", "attachments"}
    assert [c["id"] for c in board["included"]["cards"]] == [kept["id"]]
    assert board["included"]["cards"][0]["commentsTotal"] == 1
    archive_page = admin.ok("GET", f"/api/lists/{ids.archive}/cards")
    assert [c["id"] for c in archive_page["items"]] == [gone["id"]]
    assert error(admin.get(f"/api/lists/{ids.archive}"), 404)["message"] == "List not found"
    restored = admin.item("PATCH", f"/api/cards/{gone['id']}", {"listId": ids.closed, "position": 1})
    assert (restored["prevListId"], restored["isClosed"], restored["position"]) == (None, True, 1)


def test_list_cards_paging(sim: PlankaSimulator, admin: Api) -> None:
    """Like Planka 2.1.1 over HTTP: 50 cards, newest first, and no usable cursor — the ``before``
    object in a query string crashes the server (500), and as a JSON string it fails validation."""
    ids = make_board(admin)
    made = [make_card(admin, ids.trash, name=f"t{i}") for i in range(55)]
    first = admin.ok("GET", f"/api/lists/{ids.trash}/cards")["items"]
    assert len(first) == 50 and first[0]["id"] == made[-1]["id"]
    last = first[-1]
    crashed = admin.get(f"/api/lists/{ids.trash}/cards",
                        params={"before[listChangedAt]": last["listChangedAt"], "before[id]": last["id"]})
    assert (crashed.status_code, crashed.text) == (500, "Internal Server Error")
    as_text = admin.get(f"/api/lists/{ids.trash}/cards",
                        params={"before": f'{{"listChangedAt":"{last["listChangedAt"]}","id":"{last["id"]}"}}'})
    assert error(as_text, 400)["problems"][0].endswith("failed custom validation.")
    assert error(admin.get(f"/api/lists/{ids.trash}/cards", params={"search[a]": "1"}), 400)["problems"] == [
        'Invalid "search":\n  · Expecting a string, but got a dictionary.']
    reader = PlankaReader(sim.url, sim.create_api_key("admin"))
    assert sorted(card["id"] for card in reader.list_cards(ids.trash, ids.board)) == sorted(c["id"] for c in made)


def test_card_show_and_labels_and_members(sim: PlankaSimulator, admin: Api) -> None:
    ids = make_board(admin)
    card = make_card(admin, ids.list)
    label = admin.item("POST", f"/api/boards/{ids.board}/labels", {"position": 1, "color": "berry-red"})
    assert label["name"] is None
    admin.ok("POST", f"/api/cards/{card['id']}/card-labels", {"labelId": label["id"]})
    assert error(admin.post(f"/api/cards/{card['id']}/card-labels", {"labelId": label["id"]}),
                 409)["message"] == "Label already in card"
    outsider = _user(sim, "outsider1")
    assert error(admin.post(f"/api/cards/{card['id']}/card-memberships", {"userId": outsider}),
                 404)["message"] == "User not found"
    admin.ok("POST", f"/api/cards/{card['id']}/card-memberships", {"userId": sim.admin_id})
    shown = admin.ok("GET", f"/api/cards/{card['id']}")
    assert set(shown["included"]) == {"cardMemberships", "cardLabels", "taskLists", "tasks", "customFieldGroups",
                                      "customFields", "customFieldValues", "users", "attachments"}
    assert shown["item"]["isSubscribed"] is True
    admin.ok("DELETE", f"/api/cards/{card['id']}/card-labels/labelId:{label['id']}")
    assert error(admin.delete(f"/api/cards/{card['id']}/card-labels/labelId:{label['id']}"),
                 404)["message"] == "Label not in card"
    actions = admin.ok("GET", f"/api/cards/{card['id']}/actions")["items"]
    assert [a["type"] for a in actions] == ["addMemberToCard", "createCard"]


def test_task_lists_and_tasks(sim: PlankaSimulator, admin: Api) -> None:
    ids = make_board(admin)
    card, other = make_card(admin, ids.list), make_card(admin, ids.closed, name="linked")
    task_list = admin.item("POST", f"/api/cards/{card['id']}/task-lists", {"position": 1, "name": "Checks"})
    assert (task_list["showOnFrontOfCard"], task_list["hideCompletedTasks"]) == (True, False)
    task = admin.item("POST", f"/api/task-lists/{task_list['id']}/tasks", {"position": 1, "name": "do",
                                                                         "assigneeUserId": sim.admin_id})
    assert task["assigneeUserId"] is None and task["isCompleted"] is False
    assigned = admin.item("PATCH", f"/api/tasks/{task['id']}", {"assigneeUserId": sim.admin_id, "isCompleted": True})
    assert assigned["assigneeUserId"] == sim.admin_id
    linked = admin.item("POST", f"/api/task-lists/{task_list['id']}/tasks", {"position": 2, "linkedCardId": other["id"]})
    assert (linked["name"], linked["isCompleted"]) == ("linked", True)
    assert error(admin.patch(f"/api/tasks/{linked['id']}", {"name": "x"}), 403)["message"] == "Not enough rights"
    shown = admin.ok("GET", f"/api/task-lists/{task_list['id']}")
    assert [t["id"] for t in shown["included"]["tasks"]] == [task["id"], linked["id"]]


def test_comments_page_newest_first(admin: Api) -> None:
    ids = make_board(admin)
    card = make_card(admin, ids.list)
    made = [admin.item("POST", f"/api/cards/{card['id']}/comments", {"text": f"c{i}"}) for i in range(60)]
    page = admin.ok("GET", f"/api/cards/{card['id']}/comments")
    assert [c["id"] for c in page["items"]] == [c["id"] for c in reversed(made)][:50]
    assert [u["id"] for u in page["included"]["users"]] == [made[0]["userId"]]
    older = admin.ok("GET", f"/api/cards/{card['id']}/comments", params={"beforeId": page["items"][-1]["id"]})
    assert [c["text"] for c in older["items"]] == [f"c{i}" for i in range(9, -1, -1)]
    assert admin.item("GET", f"/api/cards/{card['id']}")["commentsTotal"] == 60
    admin.ok("DELETE", f"/api/comments/{made[0]['id']}")
    assert admin.item("GET", f"/api/cards/{card['id']}")["commentsTotal"] == 59


# --- attachments ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("data", "encoding"), [
    (b"", "utf8"),                                   # an empty file is text (seen on a live 2.1.1)
    ("план sprint lane ".encode() * 100, "utf8"),    # samples cut through Cyrillic: widened, still text
    ("ж".encode() * 40 + b"\xd0", "utf8"),          # the end sample stops before a cut character
    (b"\xd0" + "ж".encode() * 40, "binary"),        # … but a stray byte in a sample is binary
    (b"text\x07text", "binary"), (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "binary"),
])
def test_text_encoding_is_istextorbinary(data: bytes, encoding: str) -> None:
    assert text_encoding(data) == encoding


def _tiff(width: int, height: int) -> bytes:
    entries = [(256, 3, 1, width), (257, 3, 1, height)]
    ifd = struct.pack("<H", len(entries)) + b"".join(struct.pack("<HHIHH", tag, kind, count, value, 0)
                                                     for tag, kind, count, value in entries)
    return b"II*\x00" + struct.pack("<I", 8) + ifd + b"\x00" * 8


def _avif(width: int, height: int) -> bytes:
    ftyp = struct.pack(">I", 20) + b"ftypavif" + b"\x00\x00\x00\x00mif1"
    return ftyp + struct.pack(">I", 20) + b"ispe" + b"\x00" * 4 + struct.pack(">II", width, height)


def _rotated_jpeg(width: int, height: int, orientation: int) -> bytes:
    tiff = b"MM\x00*" + struct.pack(">I", 8) + struct.pack(">HHHIHH", 1, 0x0112, 3, 1, orientation, 0) + b"\x00" * 4
    app1 = b"Exif\x00\x00" + tiff
    sof = struct.pack(">BHHHB", 8, height, width, 3, 0) + b"\x00" * 9
    return (b"\xff\xd8" + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1
            + b"\xff\xc0" + struct.pack(">H", len(sof) + 2) + sof + b"\xff\xd9")


def test_images_sharp_reads_become_covers(admin: Api) -> None:
    """As on a live 2.1.1: TIFF and AVIF are images too (AVIF thumbnails are ``.heif``), and an
    EXIF orientation of 5–8 swaps width and height."""
    ids = make_board(admin)
    for name, data, expected in (("t.tiff", _tiff(40, 30), ("image/tiff", 40, 30, "tiff")),
                                 ("a.avif", _avif(40, 30), ("image/avif", 40, 30, "heif")),
                                 ("r.jpg", _rotated_jpeg(40, 30, 6), ("image/jpeg", 30, 40, "jpg"))):
        card = make_card(admin, ids.list, name=name)
        item = admin.item("POST", f"/api/cards/{card['id']}/attachments", data={"type": "file", "name": name},
                          files={"file": (name, data)})
        image = item["data"]["image"]
        assert (item["data"]["mimeType"], image["width"], image["height"],
                item["data"]["thumbnailUrls"]["outside360"].rsplit(".", 1)[1]) == expected
        assert admin.item("GET", f"/api/cards/{card['id']}")["coverAttachmentId"] == item["id"]


def test_multipart_filenames_like_multiparty(sim: PlankaSimulator, admin: Api) -> None:
    """Planka reads file names with multiparty: quotes inside, ``%22``, backslash paths and spaces
    are handled as on a live 2.1.1; download URLs then use the filenamified name."""
    ids = make_board(admin)
    card = make_card(admin, ids.list)
    seen = {}
    for raw in ('q"uote.txt', "per%22cent.txt", "dir\\\\name.txt", " lead.txt", "trail. ", "p%41.txt"):
        body = ('--B\r\nContent-Disposition: form-data; name="type"\r\n\r\nfile\r\n'
                '--B\r\nContent-Disposition: form-data; name="name"\r\n\r\nn\r\n'
                f'--B\r\nContent-Disposition: form-data; name="file"; filename="{raw}"\r\n\r\nxx\r\n--B--\r\n')
        item = admin.item("POST", f"/api/cards/{card['id']}/attachments", data=body.encode(),
                          headers={"Content-Type": "multipart/form-data; boundary=B"})
        seen[raw] = item["data"]["url"].split("/download/", 1)[1]
    assert seen == {'q"uote.txt': "q!uote.txt", "per%22cent.txt": "per!cent.txt", "dir\\\\name.txt": "name.txt",
                    " lead.txt": " lead.txt", "trail. ": "trail. ", "p%41.txt": "p%41.txt"}
    download = requests.get(f"{sim.url}/attachments/{item['id']}/download/p%2541.txt",
                            headers={"X-Api-Key": sim.create_api_key("admin")})
    assert download.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert download.headers["Content-Disposition"] == "attachment"


def test_file_upload_cover_and_download(sim: PlankaSimulator, admin: Api) -> None:
    ids = make_board(admin)
    card = make_card(admin, ids.list)
    text = admin.item("POST", f"/api/cards/{card['id']}/attachments", data={"type": "file", "name": "Notes"},
                      files={"file": ("notes.txt", b"plain text\n", "text/plain")})
    assert text["data"]["mimeType"] is None and text["data"]["encoding"] == "utf8" and text["data"]["image"] is None
    image = admin.item("POST", f"/api/cards/{card['id']}/attachments", data={"type": "file", "name": "Pic"},
                       files={"file": ("pic one.png", png_bytes(7, 3), "image/png")})
    assert image["data"]["image"] == {"width": 7, "height": 3}
    assert image["data"]["url"] == f"{sim.url}/attachments/{image['id']}/download/pic one.png"
    assert admin.item("GET", f"/api/cards/{card['id']}")["coverAttachmentId"] == image["id"]
    photo = admin.item("POST", f"/api/cards/{card['id']}/attachments", data={"type": "file", "name": "Photo"},
                       files={"file": ("p.jpg", jpeg_header(640, 480), "image/jpeg")})
    assert photo["data"]["image"] == {"width": 640, "height": 480}
    assert photo["data"]["thumbnailUrls"]["outside360"].endswith("/thumbnails/outside-360.jpg")
    url = image["data"]["url"]
    error(requests.get(url, headers=admin.headers), 401)
    by_key = requests.get(url, headers={"X-Api-Key": sim.create_api_key("admin")})
    assert by_key.status_code == 200 and by_key.content == png_bytes(7, 3)
    by_cookie = requests.get(url, cookies={"accessToken": sim.create_access_token("admin")})
    assert by_cookie.content == png_bytes(7, 3) and by_cookie.headers["Content-Type"] == "image/png"
    assert error(admin.patch(f"/api/cards/{card['id']}", {"coverAttachmentId": text["id"]}),
                 422)["message"] == "Cover attachment must contain image"


def test_link_attachments_and_upload_errors(admin: Api) -> None:
    ids = make_board(admin)
    card = make_card(admin, ids.list)
    link = admin.item("POST", f"/api/cards/{card['id']}/attachments",
                      {"type": "link", "name": "Site", "url": "https://example.org/page"})
    assert link["data"]["url"] == "https://example.org/page"
    assert link["data"]["faviconUrl"].endswith("/favicons/example.org.png")
    assert error(admin.post(f"/api/cards/{card['id']}/attachments", {"type": "link", "name": "x"}),
                 422)["message"] == "Url must be present"
    assert error(admin.post(f"/api/cards/{card['id']}/attachments", {"type": "file", "name": "x"}),
                 422)["message"] == "No file was uploaded"
    with PlankaSimulator(require_terms=False, max_upload_size=10) as small:
        api = bearer(small, "admin")
        tiny_card = make_card(api, make_board(api).list)
        too_big = api.post(f"/api/cards/{tiny_card['id']}/attachments", data={"type": "file", "name": "big"},
                           files={"file": ("big.bin", b"x" * 11)})
        assert error(too_big, 422)["code"] == "E_UNPROCESSABLE_ENTITY"


# --- custom fields -----------------------------------------------------------------------------
def test_custom_field_values_upsert(admin: Api) -> None:
    ids = make_board(admin)
    card = make_card(admin, ids.list)
    group = admin.item("POST", f"/api/boards/{ids.board}/custom-field-groups", {"position": 1, "name": "Meta"})
    field = admin.item("POST", f"/api/custom-field-groups/{group['id']}/custom-fields", {"position": 1, "name": "Size"})
    path = f"/api/cards/{card['id']}/custom-field-values/customFieldGroupId:{group['id']}:customFieldId:{field['id']}"
    first = admin.item("PATCH", path, {"content": "L"})
    second = admin.item("PATCH", path, {"content": "XL"})
    assert first["id"] == second["id"] and second["content"] == "XL" and second["updatedAt"]
    error(admin.patch(path, {"content": ""}), 400)
    error(admin.patch(path, {"content": "x" * 513}), 400)
    base = admin.item("POST", f"/api/projects/{ids.project}/base-custom-field-groups", {"name": "Base"})
    base_field = admin.item("POST", f"/api/base-custom-field-groups/{base['id']}/custom-fields",
                            {"position": 1, "name": "Owner"})
    adopted = admin.item("POST", f"/api/cards/{card['id']}/custom-field-groups",
                         {"position": 1, "baseCustomFieldGroupId": base["id"]})
    assert adopted["name"] is None
    admin.item("PATCH", f"/api/cards/{card['id']}/custom-field-values/customFieldGroupId:{adopted['id']}"
                        f":customFieldId:{base_field['id']}", {"content": "me"})
    wrong_field = f"/api/cards/{card['id']}/custom-field-values/customFieldGroupId:{adopted['id']}" \
                  f":customFieldId:{field['id']}"
    assert error(admin.patch(wrong_field, {"content": "x"}), 404)["message"] == "Custom field not found"
    board = admin.ok("GET", f"/api/boards/{ids.board}")["included"]
    assert [f["id"] for f in board["customFields"]] == [field["id"]]
    assert {g["id"] for g in board["customFieldGroups"]} == {group["id"], adopted["id"]}
    assert len(board["customFieldValues"]) == 2
    project = admin.ok("GET", f"/api/projects/{ids.project}")["included"]
    assert [f["id"] for f in project["customFields"]] == [base_field["id"]]
    assert error(admin.get(f"/api/custom-field-groups/{base['id']}"), 404)["message"] == \
        "Custom field group not found"


def test_card_level_custom_field_groups(admin: Api) -> None:
    """Like Planka 2.1.1: a card's own group (position required), its fields and values; the card
    read holds only card groups but every value of the card; deleting a field drops its values."""
    ids = make_board(admin)
    card, other = make_card(admin, ids.list), make_card(admin, ids.list, position=2)
    board_group = admin.item("POST", f"/api/boards/{ids.board}/custom-field-groups", {"position": 1, "name": "Meta"})
    board_field = admin.item("POST", f"/api/custom-field-groups/{board_group['id']}/custom-fields",
                             {"position": 1, "name": "Size"})
    error(admin.post(f"/api/cards/{card['id']}/custom-field-groups", json={"name": "Details"}), 400)
    assert error(admin.post(f"/api/cards/{card['id']}/custom-field-groups", json={"position": 1}), 422)[
        "message"] == "Base custom field group or name must be present"
    later = admin.item("POST", f"/api/cards/{card['id']}/custom-field-groups", {"position": 2, "name": "Later"})
    group = admin.item("POST", f"/api/cards/{card['id']}/custom-field-groups", {"position": 1, "name": "Details"})
    assert (group["cardId"], group["boardId"]) == (card["id"], None)
    field = admin.item("POST", f"/api/custom-field-groups/{group['id']}/custom-fields", {"position": 1, "name": "Type"})
    value_path = f"/api/cards/{{}}/custom-field-values/customFieldGroupId:{{}}:customFieldId:{{}}"
    admin.item("PATCH", value_path.format(card["id"], group["id"], field["id"]), {"content": "Bug"})
    admin.item("PATCH", value_path.format(card["id"], board_group["id"], board_field["id"]), {"content": "L"})
    assert error(admin.patch(value_path.format(other["id"], group["id"], field["id"]), json={"content": "x"}),
                 404)["message"] == "Custom field group not found"
    read = admin.ok("GET", f"/api/cards/{card['id']}")["included"]
    assert [g["name"] for g in read["customFieldGroups"]] == ["Details", "Later"]
    assert [f["id"] for f in read["customFields"]] == [field["id"]]
    assert sorted(v["content"] for v in read["customFieldValues"]) == ["Bug", "L"]
    board = admin.ok("GET", f"/api/boards/{ids.board}")["included"]
    assert [g["id"] for g in board["customFieldGroups"]] == [board_group["id"], group["id"], later["id"]]
    admin.ok("DELETE", f"/api/custom-fields/{field['id']}")
    assert [v["content"] for v in admin.ok("GET", f"/api/cards/{card['id']}")["included"]["customFieldValues"]] == ["L"]
    admin.ok("DELETE", f"/api/custom-field-groups/{later['id']}")
    assert [g["id"] for g in admin.ok("GET", f"/api/cards/{card['id']}")["included"]["customFieldGroups"]] == [
        group["id"]]


def test_cross_board_move_remaps_labels_and_drops_non_members(sim: PlankaSimulator, admin: Api) -> None:
    ids = make_board(admin)
    target = admin.item("POST", f"/api/projects/{ids.project}/boards", {"position": 2, "name": "Target"})["id"]
    target_list = admin.item("POST", f"/api/boards/{target}/lists", {"type": "active", "position": 1, "name": "In"})
    helper = _user(sim, "helper1")
    admin.ok("POST", f"/api/boards/{ids.board}/board-memberships", {"userId": helper, "role": "editor"})
    card = make_card(admin, ids.list)
    label = admin.item("POST", f"/api/boards/{ids.board}/labels", {"position": 1, "name": "Bug", "color": "berry-red"})
    admin.ok("POST", f"/api/cards/{card['id']}/card-labels", {"labelId": label["id"]})
    admin.ok("POST", f"/api/cards/{card['id']}/card-memberships", {"userId": helper})
    moved = admin.item("PATCH", f"/api/cards/{card['id']}",
                       {"boardId": target, "listId": target_list["id"], "position": 1})
    assert (moved["boardId"], moved["listId"]) == (target, target_list["id"])
    included = admin.ok("GET", f"/api/boards/{target}")["included"]
    assert [(x["name"], x["color"]) for x in included["labels"]] == [("Bug", "berry-red")]
    assert [x["labelId"] for x in included["cardLabels"]] == [included["labels"][0]["id"]]
    assert included["cardMemberships"] == []


def test_list_type_change_closes_cards_and_linked_tasks(admin: Api) -> None:
    ids = make_board(admin)
    card, holder = make_card(admin, ids.list, name="work"), make_card(admin, ids.list, name="holder", position=2)
    task_list = admin.item("POST", f"/api/cards/{holder['id']}/task-lists", {"position": 1, "name": "t"})
    linked = admin.item("POST", f"/api/task-lists/{task_list['id']}/tasks", {"position": 1, "linkedCardId": card["id"]})
    assert linked["isCompleted"] is False
    admin.ok("PATCH", f"/api/lists/{ids.list}", {"type": "closed", "color": "berry-red"})
    assert admin.item("GET", f"/api/cards/{card['id']}")["isClosed"] is True
    tasks = admin.ok("GET", f"/api/task-lists/{task_list['id']}")["included"]["tasks"]
    assert tasks[0]["isCompleted"] is True
    uncoloured = admin.item("POST", f"/api/boards/{ids.board}/lists",
                            {"type": "active", "position": 1, "name": "x", "color": "berry-red"})
    assert uncoloured["color"] is None
