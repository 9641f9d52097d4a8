"""The Kaiten simulator's documents, activity, audit and settings routes, over HTTP."""

from __future__ import annotations

from typing import Any, Iterator

import orjson
import pytest
import requests

from k2p.testing.kaiten.sim import KaitenSimulator
from tests.helpers.export import simulator


@pytest.fixture(scope="module")
def sim() -> Iterator[KaitenSimulator]:
    with simulator("tiny") as running:
        yield running


def get(sim: KaitenSimulator, path: str, token: str = "admin", **params: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {sim.company.token_info(token).token}"}
    return requests.get(f"{sim.base_url}/api/latest{path}", params=params, headers=headers, timeout=10)


def test_documents_both_generations_and_data_as_a_json_string(sim: KaitenSimulator) -> None:
    co = sim.company
    v1 = get(sim, "/documents", limit=2, offset=1).json()
    everything = get(sim, "/documents").json()
    assert v1 == everything[1:3] and all("data" not in item for item in everything)
    pages, position = [], None
    while True:
        page = get(sim, "/documents", version=2, limit=2, **({"start_position": position} if position else {})).json()
        pages.extend(page["result"])
        position = page["position"]
        if position is None:
            break
    assert pages == everything
    one = get(sim, f"/documents/{co.landmarks['document_with_links']}").json()
    assert one["id"] == one["uid"] and isinstance(one["data"], str)
    body = orjson.loads(one["data"])
    assert body["type"] == "doc" and sim.storage_url in one["data"]   # images on the files host
    assert {node["type"] for node in body["content"]} >= {"heading", "table", "code_block", "block_card_link"}
    co.configuration["documents_v1"] = False
    try:
        assert get(sim, "/documents").status_code == 404
        assert get(sim, "/document-groups", version=2).json()["result"]
    finally:
        co.configuration["documents_v1"] = True


def test_document_permissions(sim: KaitenSimulator) -> None:
    co = sim.company
    listed = {item["uid"] for item in get(sim, "/documents", "user").json()}
    assert co.landmarks["restricted_document"] in listed and co.landmarks["hidden_document"] not in listed
    assert get(sim, f"/documents/{co.landmarks['restricted_document']}", "user").status_code == 403
    assert get(sim, f"/documents/{co.landmarks['restricted_document']}").status_code == 200
    assert get(sim, f"/documents/{co.landmarks['hidden_document']}", "user").status_code == 403
    tree = {item["uid"] for item in get(sim, "/tree-entities", "user", limit=500).json()}
    assert co.landmarks["hidden_document"] not in tree and co.landmarks["restricted_document"] in tree


def test_admin_only_routes_and_tariff_limits(sim: KaitenSimulator) -> None:
    co = sim.company
    space = co.landmarks["product_space"]
    uid = co.spaces[space]["uid"]
    for path in ("/audit-logs", "/service-desk/services", f"/spaces/{space}/webhooks",
                 f"/spaces/{space}/external-webhooks"):
        assert get(sim, path).status_code == 200, path
        assert get(sim, path, "user").status_code == 403, path
    assert get(sim, "/audit-logs", "user").content == b""
    assert get(sim, f"/spaces/{uid}/iterations").status_code == 402
    assert get(sim, "/company/groups", limit=100, offset=0).status_code == 402
    automations = get(sim, f"/spaces/{space}/automations", "user").json()
    assert automations and {row["type"] for row in automations} == {"on_action", "on_date", "on_demand"}
    assert get(sim, f"/spaces/{uid}/template-checklists", "user").json()[0]["items"]


def test_card_level_extras(sim: KaitenSimulator) -> None:
    co = sim.company
    busy = co.landmarks["busy_activity_card"]
    first, second = get(sim, f"/cards/{busy}/activity", limit=500).json(), \
        get(sim, f"/cards/{busy}/activity", offset=100).json()
    assert len(first) == 100 and second and all(isinstance(row["id"], str) for row in first + second)
    request = co.landmarks["service_desk_cards"][0]
    assert get(sim, f"/cards/{request}/sla-rules-measurements").json()
    assert get(sim, f"/cards/{busy}/sla-rules-measurements").status_code == 400
    assert get(sim, f"/cards/{co.landmarks['baseline_cards'][0]}/baselines").json()
