"""Helpers shared by the Planka simulator tests: a tiny API client and fixture builders."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field
from typing import Any, Iterator

import pytest
import requests

from k2p.testing.planka.sim import PlankaSimulator

STRONG_PASSWORD = "Correct-Horse-Battery-9"


@dataclass
class Api:
    """``requests`` against a simulator with one set of credentials."""

    base: str
    headers: dict[str, str] = field(default_factory=dict)
    session: requests.Session = field(default_factory=requests.Session)

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return self.session.request(method, self.base + path, headers=headers, timeout=10, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, json: Any = None, **kwargs: Any) -> requests.Response:
        return self.call("POST", path, json=json, **kwargs)

    def patch(self, path: str, json: Any = None, **kwargs: Any) -> requests.Response:
        return self.call("PATCH", path, json=json, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call("DELETE", path, **kwargs)

    def ok(self, method: str, path: str, json: Any = None, **kwargs: Any) -> dict[str, Any]:
        """Call and assert a 200; return the decoded body."""
        response = self.call(method, path, json=json, **kwargs)
        assert response.status_code == 200, (method, path, response.status_code, response.text)
        return response.json()

    def item(self, method: str, path: str, json: Any = None, **kwargs: Any) -> dict[str, Any]:
        return self.ok(method, path, json, **kwargs)["item"]


@pytest.fixture(scope="module")
def sim() -> Iterator[PlankaSimulator]:
    """One simulator per test module, terms pre-accepted."""
    with PlankaSimulator(require_terms=False, idle_timeout=120) as server:
        yield server


@pytest.fixture(scope="module")
def admin(sim: PlankaSimulator) -> Api:
    return bearer(sim, "admin")


def bearer(sim: PlankaSimulator, user: str) -> Api:
    return Api(sim.url, {"Authorization": f"Bearer {sim.create_access_token(user)}"})


def api_key(sim: PlankaSimulator, user: str) -> Api:
    return Api(sim.url, {"X-Api-Key": sim.create_api_key(user)})


def error(response: requests.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text)
    return response.json()


@dataclass
class Board:
    project: str
    board: str
    list: str
    archive: str
    trash: str
    closed: str


def make_board(api: Api, project_type: str = "shared") -> Board:
    """A project with one board holding an active list and a closed list."""
    project = api.item("POST", "/api/projects", {"type": project_type, "name": "Project"})["id"]
    board = api.item("POST", f"/api/projects/{project}/boards", {"position": 65536, "name": "Board"})["id"]
    active = api.item("POST", f"/api/boards/{board}/lists", {"type": "active", "position": 65536, "name": "To do"})
    closed = api.item("POST", f"/api/boards/{board}/lists", {"type": "closed", "position": 131072, "name": "Done"})
    lists = api.ok("GET", f"/api/boards/{board}")["included"]["lists"]
    by_type = {lst["type"]: lst["id"] for lst in lists}
    return Board(project, board, active["id"], by_type["archive"], by_type["trash"], closed["id"])


def make_card(api: Api, list_id: str, name: str = "Card", position: float = 65536, **extra: Any) -> dict[str, Any]:
    return api.item("POST", f"/api/lists/{list_id}/cards", {"type": "project", "position": position,
                                                             "name": name, **extra})


def png_bytes(width: int, height: int) -> bytes:
    """A valid, tiny greyscale PNG."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    raw = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def jpeg_header(width: int, height: int) -> bytes:
    """Enough of a JPEG for header sniffing (SOI, JFIF APP0, SOF0)."""
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof0 = b"\xff\xc0" + struct.pack(">HBHHB", 17, 8, height, width, 3) + b"\x01\x22\x00\x02\x11\x01\x03\x11\x01"
    return b"\xff\xd8" + app0 + sof0 + b"\xff\xd9"
