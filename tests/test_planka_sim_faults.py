"""Body limit, fault injection, mutation hooks, concurrency, request log and the v1 disguise."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Iterator

import pytest
import requests

from k2p.testing.loopback import FaultPlan
from k2p.testing.planka.sim import PlankaFaultPlan, PlankaSimulator
from tests.test_planka_sim_support import Api, Board, bearer, make_board, make_card


@pytest.fixture()
def sim() -> Iterator[PlankaSimulator]:
    with PlankaSimulator(require_terms=False, idle_timeout=60) as server:
        yield server


@pytest.fixture()
def admin(sim: PlankaSimulator) -> Api:
    return bearer(sim, "admin")


def _card_names(api: Api, ids: Board) -> list[str]:
    return [c["name"] for c in api.ok("GET", f"/api/boards/{ids.board}")["included"]["cards"]]


def test_body_over_one_megabyte_is_rejected_before_anything(sim: PlankaSimulator, admin: Api) -> None:
    ids = make_board(admin)
    before = sim.mutation_count()
    big = admin.post(f"/api/lists/{ids.list}/cards",
                     {"type": "project", "position": 1, "name": "big", "description": "x" * 1_048_600})
    assert big.status_code == 400 and big.content == b"" and "Content-Type" not in big.headers
    card = make_card(admin, ids.list, name="edge")
    for size, status in ((1_048_576, 200), (1_048_577, 400)):   # as measured on a live Planka 2.1.1
        body = b'{"description": "' + b"a" * (size - 19) + b'"}'
        assert len(body) == size
        edge = admin.patch(f"/api/cards/{card['id']}", data=body, headers={"Content-Type": "application/json"})
        assert edge.status_code == status, size
    unauthenticated = requests.post(f"{sim.url}/api/projects", data=b"{" + b" " * 1_048_577 + b"}",
                                    headers={"Content-Type": "application/json"})
    assert unauthenticated.status_code == 400 and unauthenticated.content == b""
    malformed = admin.post(f"/api/lists/{ids.list}/cards", data=b"{not json",
                           headers={"Content-Type": "application/json"})
    assert malformed.status_code == 400 and malformed.content == b""
    assert _card_names(admin, ids) == ["edge"]
    assert sim.mutation_count() == before + 6


def test_commit_then_drop(sim: PlankaSimulator, admin: Api) -> None:
    ids = make_board(admin)
    sim.faults = PlankaFaultPlan(drop_after_commit_rate=1.0, mutating_only=True)
    with pytest.raises(requests.ConnectionError):
        make_card(admin, ids.list, name="ghost")
    sim.faults = None
    assert _card_names(admin, ids) == ["ghost"]
    assert sim.request_log.snapshot()[-2].note == "dropped-after-processing"


def test_plain_fault_plan_drop_commits_mutations_and_drops_reads(sim: PlankaSimulator, admin: Api) -> None:
    ids = make_board(admin)
    sim.faults = FaultPlan(drop_rate=1.0)
    with pytest.raises(requests.ConnectionError):
        make_card(admin, ids.list, name="kept")
    with pytest.raises(requests.ConnectionError):
        admin.get(f"/api/boards/{ids.board}")
    sim.faults = None
    assert _card_names(admin, ids) == ["kept"]


def test_drop_before_commit_and_errors_change_nothing(sim: PlankaSimulator, admin: Api) -> None:
    ids = make_board(admin)
    count = sim.mutation_count()
    sim.faults = PlankaFaultPlan(drop_before_commit_rate=1.0)
    with pytest.raises(requests.ConnectionError):
        make_card(admin, ids.list, name="never")
    sim.faults = PlankaFaultPlan(error_rate=1.0, error_statuses=(502,))
    failed = admin.post(f"/api/lists/{ids.list}/cards", {"type": "project", "position": 1, "name": "never"})
    assert failed.status_code == 502
    sim.faults = FaultPlan(error_rate=1.0, latency_ms=5)
    assert admin.get("/api/users/me").status_code in (500, 502, 503)
    sim.faults = None
    assert _card_names(admin, ids) == []
    assert sim.mutation_count() == count


def test_mutation_hooks(sim: PlankaSimulator, admin: Api) -> None:
    ids = make_board(admin)
    seen: list[tuple[int, str, str, str]] = []

    def hook(seq: int, method: str, path: str, phase: str) -> str | None:
        seen.append((seq, method, path, phase))
        return "drop" if phase == "committed" and path.endswith("/cards") else None

    sim.hooks.on_mutation = hook
    with pytest.raises(requests.ConnectionError):
        make_card(admin, ids.list, name="killed")
    failed = admin.post(f"/api/lists/{ids.list}/cards", {"type": "project", "name": "no position"})
    assert failed.status_code == 422
    admin.get(f"/api/boards/{ids.board}")
    sim.hooks.clear()
    path = f"/api/lists/{ids.list}/cards"
    assert [entry[1:] for entry in seen] == [("POST", path, "received"), ("POST", path, "committed"),
                                             ("POST", path, "received")]
    assert seen[0][0] == seen[1][0] and seen[2][0] == seen[0][0] + 1
    assert _card_names(admin, ids) == ["killed"]


def test_received_hook_can_drop_before_commit(sim: PlankaSimulator, admin: Api) -> None:
    ids = make_board(admin)
    sim.hooks.on_mutation = lambda seq, method, path, phase: "drop"
    with pytest.raises(requests.ConnectionError):
        make_card(admin, ids.list, name="never")
    sim.hooks.clear()
    assert _card_names(admin, ids) == []


def test_request_log_principal_and_mutation_flags(sim: PlankaSimulator, admin: Api) -> None:
    sim.request_log.clear()
    admin.get("/api/users/me")
    requests.post(f"{sim.url}/api/access-tokens", json={"emailOrUsername": "admin", "password": "wrong"})
    admin.post("/api/projects", {"type": "shared", "name": "P"})
    entries = sim.request_log.snapshot()
    assert [(e.method, e.status, e.principal, e.mutating) for e in entries] == [
        ("GET", 200, sim.admin_id, False), ("POST", 401, None, False), ("POST", 200, sim.admin_id, True)]
    assert all("Bearer" not in e.note and "Bearer" not in e.query for e in entries)
    assert sim.mutation_count() == 1


def test_concurrent_creates_keep_positions_consistent(sim: PlankaSimulator, admin: Api) -> None:
    ids = make_board(admin)

    def create(index: int) -> dict[str, object]:
        api = Api(sim.url, admin.headers)
        return make_card(api, ids.list, name=f"c{index}", position=65536)

    with ThreadPoolExecutor(max_workers=16) as pool:
        created = list(pool.map(create, range(64)))
    cards = admin.ok("GET", f"/api/boards/{ids.board}")["included"]["cards"]
    assert len(cards) == 64 == len({c["id"] for c in created})
    positions = [c["position"] for c in cards]
    assert len(set(positions)) == 64 and positions == sorted(positions)


def test_v1_mode_is_detectable() -> None:
    with PlankaSimulator(v1=True, require_terms=False) as old:
        bootstrap = requests.get(f"{old.url}/api/bootstrap")
        assert bootstrap.status_code == 200 and bootstrap.headers["Content-Type"].startswith("text/html")
        config = requests.get(f"{old.url}/api/config")
        assert config.json() == {"item": {"oidc": None, "allowAllToCreateProjects": False}}
    with PlankaSimulator(require_terms=False) as new:
        assert requests.get(f"{new.url}/api/config").status_code == 401


def test_standalone_entry_point_prints_url_and_stops_when_idle(capsys: pytest.CaptureFixture[str]) -> None:
    from k2p.testing.planka.sim import main

    assert main(["--idle-timeout", "0.3", "--no-terms"]) == 0
    out = capsys.readouterr().out
    assert "http://127.0.0.1:" in out and "admin@example.com" in out
