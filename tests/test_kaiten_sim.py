"""Fidelity tests of the Kaiten simulator and its company generator (research §8)."""

from __future__ import annotations

import hashlib
import re
import threading
import time
from typing import Any, Iterator

import pytest
import requests

from k2p.testing.kaiten.company import KaitenCompany, generate_company
from k2p.testing.kaiten.sim import TOO_MANY, KaitenSimulator, main
from k2p.testing.loopback import FaultPlan

RATE_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")
ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


@pytest.fixture(scope="module")
def co() -> KaitenCompany:
    return generate_company("tiny")


@pytest.fixture(scope="module")
def sim(co: KaitenCompany) -> Iterator[KaitenSimulator]:
    with KaitenSimulator(co) as running:
        yield running


@pytest.fixture(scope="module")
def small_sim() -> Iterator[KaitenSimulator]:
    with KaitenSimulator(generate_company("small")) as running:
        yield running


def get(sim: KaitenSimulator, path: str, token: str | None = "admin", *, prefix: str = "/api/v1",
        **kwargs: Any) -> requests.Response:
    headers = kwargs.pop("headers", {})
    if token is not None:
        headers["Authorization"] = f"Bearer {sim.company.token_info(token).token}"
    kwargs.setdefault("allow_redirects", False)
    return requests.get(sim.base_url + prefix + path, headers=headers, timeout=10, **kwargs)


def crawl(sim: KaitenSimulator, path: str, token: str = "admin", limit: int = 100) -> list[dict[str, Any]]:
    """Offset paging the way an exporter must do it: advance by what was received, stop on []."""
    rows: list[dict[str, Any]] = []
    sep = "&" if "?" in path else "?"
    while True:
        page = get(sim, f"{path}{sep}offset={len(rows)}&limit={limit}", token).json()
        if not page:
            return rows
        rows.extend(page)


# --- auth, routing, prefixes -------------------------------------------------------------------
@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer not-a-token"},
                                     {"Authorization": "Basic dXNlcjpwYXNz"}])
def test_missing_or_unknown_token_is_plain_text_401(sim: KaitenSimulator, headers: dict[str, str]) -> None:
    response = get(sim, "/users/current", None, headers=headers)
    assert response.status_code == 401
    assert response.text == "Unauthorized"
    assert response.headers["Content-Type"].startswith("text/plain")


def test_v1_and_latest_answer_identically(sim: KaitenSimulator, co: KaitenCompany) -> None:
    card = co.landmarks["emoji_title_card"]
    for path in ("/users/current", "/spaces", f"/cards/{card}", "/cards?limit=5", "/tags"):
        assert get(sim, path).content == get(sim, path, prefix="/api/latest").content, path


def test_unknown_route_404_wrong_method_405(sim: KaitenSimulator, co: KaitenCompany) -> None:
    card = co.landmarks["emoji_title_card"]
    assert get(sim, "/no-such-thing").status_code == 404
    assert get(sim, f"/cards/{co.cards[card]['uid']}").status_code == 404  # uid where an id is expected
    assert get(sim, f"/cards/{card}/checklists").status_code == 405
    headers = {"Authorization": f"Bearer {co.admin_token}"}
    posted = requests.post(f"{sim.api_url}/cards/{card}", headers=headers, json={}, timeout=5)
    assert posted.status_code == 405


def test_tariff_gated_routes_answer_402_json(sim: KaitenSimulator, co: KaitenCompany) -> None:
    space_uid = co.spaces[co.landmarks["product_space"]]["uid"]
    for path in (f"/spaces/{space_uid}/iterations", "/company/groups"):
        response = get(sim, path)
        assert response.status_code == 402
        assert isinstance(response.json()["message"], str)


def test_normal_token_gets_403_on_admin_routes(sim: KaitenSimulator) -> None:
    bodies = {}
    for path in ("/company/users", "/sprints", "/time-logs?from=2024-01-01&to=2025-12-31", "/audit-logs"):
        assert get(sim, path, "admin").status_code == 200, path
        response = get(sim, path, "user")
        assert response.status_code == 403, path
        bodies[path] = response.content
    assert b"" in bodies.values()  # "sometimes with an empty body"
    assert any(body for body in bodies.values())


def test_invisible_space_is_absent_and_forbidden(sim: KaitenSimulator, co: KaitenCompany) -> None:
    hidden, board = co.landmarks["hidden_space"], co.landmarks["hidden_board"]
    assert hidden in {s["id"] for s in get(sim, "/spaces", "admin").json()}
    assert hidden not in {s["id"] for s in get(sim, "/spaces", "user").json()}
    assert get(sim, f"/spaces/{hidden}", "user").status_code == 403
    assert get(sim, f"/boards/{board}", "user").status_code == 403
    hidden_card = next(cid for cid in co.served_card_ids() if co.cards[cid]["board_id"] == board)
    assert get(sim, f"/cards/{hidden_card}", "user").status_code == 403
    listed = {c["id"] for c in crawl(sim, "/cards?condition=1,2", "user")}
    assert listed == set(co.cards_visible_to("user"))
    assert hidden_card not in listed and hidden_card in co.cards_visible_to("admin")


def test_users_visibility_and_company_roster(sim: KaitenSimulator, co: KaitenCompany) -> None:
    marks = co.landmarks
    admin_users = {u["id"] for u in crawl(sim, "/users", "admin")}
    user_users = {u["id"] for u in crawl(sim, "/users", "user")}
    roster = {u["id"] for u in crawl(sim, "/company/users", "admin")}
    assert len(admin_users) > 100  # two pages
    assert roster == set(co.users)
    assert not set(marks["unassigned_users"]) & admin_users
    assert set(marks["directors_only_users"]) <= admin_users - user_users
    inactive = {u["id"] for u in crawl(sim, "/users?include_inactive=true", "admin")}
    assert set(marks["deactivated_users"]) & inactive and not set(marks["deactivated_users"]) & admin_users


# --- pagination ---------------------------------------------------------------------------------
def test_limit_above_maximum_is_silently_clamped(small_sim: KaitenSimulator, sim: KaitenSimulator) -> None:
    assert len(get(small_sim, "/cards?limit=500").json()) == 100
    assert len(get(sim, "/users?limit=200").json()) == 100
    assert len(get(sim, "/users?limit=abc").json()) == 100  # junk limit: default, not an error


def test_offset_paging_ends_with_an_empty_array(small_sim: KaitenSimulator) -> None:
    co = small_sim.company
    board = co.landmarks["boards"][0]
    path = f"/cards?board_id={board}&condition=2"
    archived = crawl(small_sim, path, limit=500)  # clamped to 100 per page
    expected = [cid for cid in co.served_card_ids()
                if co.cards[cid]["board_id"] == board and co.cards[cid]["condition"] == 2]
    assert len(expected) > 100
    assert [c["id"] for c in archived] == expected  # newest first, nothing lost or repeated
    response = get(small_sim, f"{path}&offset={len(expected) + 50}")
    assert response.status_code == 200 and response.content == b"[]"
    assert "X-Total-Count" not in response.headers


def test_select_values_ignore_limit_without_v2_flag(sim: KaitenSimulator, co: KaitenCompany) -> None:
    prop = next(pid for pid, p in co.custom_properties.items() if p["type"] == "select")
    everything = get(sim, f"/company/custom-properties/{prop}/select-values?limit=1").json()
    assert len(everything) == len(co.select_values[prop]) > 1
    assert any(v["deleted"] for v in everything) and any(v["condition"] == "inactive" for v in everything)
    searched = get(sim, f"/company/custom-properties/{prop}/select-values?v2_select_search=true").json()
    assert searched and all(v["condition"] == "active" and not v["deleted"] for v in searched)


def test_spaces_unpaged_with_boards_only_when_present(sim: KaitenSimulator, co: KaitenCompany) -> None:
    spaces = {s["id"]: s for s in get(sim, "/spaces?limit=1").json()}
    assert len(spaces) == len(co.spaces)
    assert "boards" not in spaces[co.landmarks["space_without_boards"]]
    assert spaces[co.landmarks["archived_space"]]["archived"] is True
    nested = spaces[co.landmarks["nested_space"]]
    product = spaces[co.landmarks["product_space"]]
    assert nested["parent_entity_uid"] == product["uid"] and nested["path"].startswith(product["path"] + ".")
    doc_child = spaces[co.landmarks["doc_group_child_space"]]
    assert doc_child["parent_entity_uid"] == co.landmarks["document_group_uid"]
    assert doc_child["parent_entity_uid"] not in {s["uid"] for s in spaces.values()}


# --- archived, projections, structure -----------------------------------------------------------
def test_unfiltered_cards_miss_auto_archived_cards(sim: KaitenSimulator, co: KaitenCompany) -> None:
    marks = co.landmarks
    unfiltered = {c["id"] for c in crawl(sim, "/cards")}
    archived = {c["id"] for c in crawl(sim, "/cards?condition=2")}
    assert marks["plain_archived_card"] in unfiltered
    assert marks["auto_archived_card"] not in unfiltered
    assert set(co.auto_archived) <= archived
    assert archived == {c["id"] for c in crawl(sim, "/cards?archived=true")}
    live = {c["id"] for c in crawl(sim, "/cards?condition=1")}
    assert not live & archived and live | archived == set(co.served_card_ids())
    deleted = {cid for cid, card in co.cards.items() if card["condition"] == 3}
    assert deleted and not deleted & (live | archived | unfiltered)
    assert get(sim, f"/cards/{min(deleted)}").status_code == 404


def test_list_projection_differs_from_single_card(sim: KaitenSimulator, co: KaitenCompany) -> None:
    marks = co.landmarks
    card_id = marks["private_files_card"]
    listed = next(c for c in crawl(sim, f"/cards?board_id={co.cards[card_id]['board_id']}&condition=1")
                  if c["id"] == card_id)
    single = get(sim, f"/cards/{card_id}").json()
    assert "description" not in listed and "description" in single
    assert {f["type"] for f in listed["files"]} == {2}
    assert {f["type"] for f in single["files"]} == {2, 11}
    owner = marks["shared_checklist_owner_card"]
    listed_owner = get(sim, f"/cards?board_id={co.cards[owner]['board_id']}&limit=100"
                            "&additional_card_fields=description").json()
    item = next(c for c in listed_owner if c["id"] == owner)
    assert item["description"] == co.cards[owner]["description"]
    assert all("items" not in cl and "total_items" in cl for cl in item["checklists"])
    assert all(cl["items"] for cl in get(sim, f"/cards/{owner}").json()["checklists"])
    bare = next(cid for cid in co.served_card_ids()
                if not co.files.get(cid) and not co.card_checklists.get(cid))
    assert "files" not in get(sim, f"/cards/{bare}").json()
    assert "checklists" not in get(sim, f"/cards/{bare}").json()


def test_single_card_matches_ground_truth_and_broken_api(sim: KaitenSimulator, co: KaitenCompany) -> None:
    card_id = co.landmarks["all_properties_card"]
    assert get(sim, f"/cards/{card_id}?broken_api=false").json() == co.card_payload(card_id)
    user_prop = f"id_{next(iter(co.user_type_property_ids()))}"
    by_id = co.card_payload(card_id)["properties"][user_prop]
    by_uid = get(sim, f"/cards/{card_id}").json()["properties"][user_prop]  # broken_api=true by default
    assert all(isinstance(v, int) for v in by_id) and by_uid == [co.users[v]["uid"] for v in by_id]
    removed = co.landmarks["removed_property"]
    assert f"id_{removed}" in co.card_payload(card_id)["properties"]
    for path in (f"/cards/{card_id}/comments", "/tags", f"/boards/{co.cards[card_id]['board_id']}/columns"):
        assert co.expected("user", path) == get(sim, path, "user").json(), path


def test_subcolumn_cards_point_at_the_subcolumn(sim: KaitenSimulator, co: KaitenCompany) -> None:
    marks = co.landmarks
    card = get(sim, f"/cards/{marks['subcolumn_card']}").json()
    assert card["column_id"] == marks["subcolumn"] == card["column"]["id"]
    assert card["column"]["column_id"] == marks["parent_column"]
    assert card["path_data"]["column"]["id"] == marks["parent_column"]
    assert card["path_data"]["subcolumn"]["id"] == marks["subcolumn"]
    direct = get(sim, f"/cards/{marks['parent_column_card']}").json()
    assert direct["column_id"] == marks["parent_column"] and direct["path_data"]["subcolumn"] is None
    columns = get(sim, f"/boards/{card['board_id']}/columns").json()
    parent = next(c for c in columns if c["id"] == marks["parent_column"])
    assert marks["subcolumn"] in {s["id"] for s in parent["subcolumns"]}
    assert get(sim, f"/columns/{marks['parent_column']}/subcolumns").json() == parent["subcolumns"]


def test_board_bound_to_two_spaces(sim: KaitenSimulator, co: KaitenCompany) -> None:
    board = co.landmarks["two_space_board"]
    card_id = next(cid for cid in co.served_card_ids() if co.cards[cid]["board_id"] == board)
    spaces = get(sim, f"/cards/{card_id}").json()["board"]["spaces"]
    assert len(spaces) == 2 and [s["primary_path"] for s in spaces] == [True, False]
    for entry in spaces:
        listing = get(sim, f"/spaces/{entry['space_id']}/boards").json()
        bound = next(b for b in listing if b["id"] == board)
        assert bound["space_id"] == entry["space_id"] and {"top", "left", "sort_order", "type"} <= set(bound)


def test_lanes_default_live_and_archived_lane_holds_cards(sim: KaitenSimulator, co: KaitenCompany) -> None:
    board = co.landmarks["boards"][0]
    default = get(sim, f"/boards/{board}/lanes").json()
    assert {lane["condition"] for lane in default} == {1}
    archived = get(sim, f"/boards/{board}/lanes?condition=2").json()
    assert [lane["id"] for lane in archived] == [co.landmarks["archived_lane"]]
    assert get(sim, f"/boards/{board}/lanes?condition=3").json()[0]["condition"] == 3
    card = get(sim, f"/cards/{co.landmarks['archived_lane_card']}").json()
    assert card["lane"]["condition"] == 2 and card["condition"] == 1


def test_tags_without_live_cards_are_hidden(sim: KaitenSimulator, co: KaitenCompany) -> None:
    listed = {t["id"] for t in crawl(sim, "/tags")}
    assert listed == set(co.visible_tag_ids())
    hidden = set(co.landmarks["unattached_tags"]) | set(co.landmarks["archived_only_tags"])
    assert hidden and not hidden & listed
    on_archived = {t["id"] for cid in co.served_card_ids() for t in co.card_list_item(cid)["tags"]}
    assert set(co.landmarks["archived_only_tags"]) <= on_archived


def test_data_formats(sim: KaitenSimulator, co: KaitenCompany) -> None:
    card = get(sim, f"/cards/{co.landmarks['moved_card']}").json()
    assert ISO_MS.match(card["created"]) and ISO_MS.match(card["last_moved_at"])
    assert isinstance(card["sort_order"], float)
    history = get(sim, f"/cards/{card['id']}/location-history").json()
    assert len(history) >= 2 and all(isinstance(row["id"], str) for row in history)
    activity = get(sim, f"/cards/{card['id']}/activity").json()
    assert activity and all(isinstance(row["id"], str) for row in activity)
    me = get(sim, "/users/current").json()
    assert me["avatar_initials_url"].startswith("data:image/png;base64,")
    comments = get(sim, f"/cards/{co.landmarks['html_comments_card']}/comments").json()
    assert {1, 2} <= {c["type"] for c in comments} and any(c["deleted"] for c in comments)
    logs = get(sim, f"/cards/{co.landmarks['time_logs_card']}/time-logs").json()
    assert logs and all(re.match(r"^\d{4}-\d\d-\d\d$", row["for_date"]) for row in logs)


# --- files ----------------------------------------------------------------------------------------
def _private(co: KaitenCompany, key: str) -> dict[str, Any]:
    return next(f for files in co.files.values() for f in files if f["id"] == key)


def test_private_file_redirects_to_signed_url(sim: KaitenSimulator, co: KaitenCompany) -> None:
    record = _private(co, co.landmarks["private_file"])
    sim.request_log.clear()
    redirect = get(sim, record["url"], prefix="")
    assert redirect.status_code == 302
    location = redirect.headers["Location"]
    assert location.startswith(sim.storage_url + "/signed/") and "X-Amz-Signature=" in location
    body = requests.get(location, timeout=10)
    assert body.status_code == 200
    assert hashlib.sha256(body.content).hexdigest() == co.file_sha256(record["id"])
    assert len(body.content) == int(record["size"])
    doubled = requests.get(location, headers={"Authorization": f"Bearer {co.admin_token}"}, timeout=10)
    assert doubled.status_code == 403 and doubled.text.startswith("<?xml")
    as_json = get(sim, record["url"] + "?response_type=json", prefix="")
    assert as_json.status_code == 200 and requests.get(as_json.json()["url"], timeout=10).status_code == 200
    assert get(sim, record["url"] + "?response_type=inline", prefix="").status_code == 302
    assert get(sim, record["url"], None, prefix="").status_code == 401
    storage = [e for e in sim.request_log if e.origin == "storage"]
    assert [e.had_authorization for e in storage if e.status == 200] == [False, False]
    assert all(e.principal in (None, "admin") for e in sim.request_log)


def test_signed_url_expires() -> None:
    co = generate_company("tiny")
    with KaitenSimulator(co, signed_url_ttl=0.3) as short:
        record = _private(co, co.landmarks["private_file"])
        location = get(short, record["url"], prefix="").headers["Location"]
        time.sleep(0.5)
        expired = requests.get(location, timeout=10)
        assert expired.status_code == 403 and b"expired" in expired.content
        tampered = location[:-4] + "0000"
        fresh = get(short, record["url"], prefix="").headers["Location"]
        assert requests.get(fresh[:-4] + "0000", timeout=10).status_code == 403
        assert requests.get(fresh, timeout=10).status_code == 200
        assert short.stats.storage_rejected == 2 and tampered


def test_private_file_errors(sim: KaitenSimulator, co: KaitenCompany) -> None:
    assert get(sim, _private(co, co.landmarks["deleted_private_file"])["url"], prefix="").status_code == 404
    malicious = get(sim, _private(co, co.landmarks["malicious_file"])["url"], prefix="")
    assert malicious.status_code == 422 and "message" in malicious.json()
    hidden_board = co.landmarks["hidden_board"]
    hidden_card = next(cid for cid in co.served_card_ids() if co.cards[cid]["board_id"] == hidden_board)
    assert get(sim, f"/cards/{co.cards[hidden_card]['uid']}/files/{co.landmarks['private_file']}",
               "user").status_code in (403, 404)


def test_legacy_files_are_public(sim: KaitenSimulator, co: KaitenCompany) -> None:
    card = get(sim, f"/cards/{co.landmarks['files_edge_card']}").json()
    files = {f["url"].rsplit("/", 1)[-1].split(".")[0]: f for f in card["files"] if f["type"] in (1, 8)}
    marks = co.landmarks
    for key, record in files.items():
        assert record["url"].startswith(sim.storage_url + "/files/")
        response = requests.get(record["url"], timeout=10)
        if key == marks["deleted_legacy_file"]:
            assert record["deleted"] is True and response.status_code == 404
            continue
        assert response.status_code == 200 and response.content == co.file_bytes(key)
    assert requests.get(files[marks["zero_byte_file"]]["url"], timeout=10).content == b""
    assert files[marks["size_mismatch_file"]]["size"] != co.blobs[marks["size_mismatch_file"]].size
    first, second = marks["shared_bytes_files"]
    assert co.file_sha256(first) == co.file_sha256(second)
    assert len({files[k]["name"] for k in marks["same_name_files"]}) == 1
    large = files[marks["large_legacy_file"]]["url"]
    ranged = requests.get(large, headers={"Range": "bytes=10-19"}, timeout=10)
    assert ranged.status_code == 206 and ranged.content == co.file_bytes(marks["large_legacy_file"])[10:20]
    description = get(sim, f"/cards/{marks['file_links_description_card']}").json()["description"]
    assert "files.kaiten.ru" not in description and sim.storage_url in description


def test_cover_file_is_a_real_png(sim: KaitenSimulator, co: KaitenCompany) -> None:
    card = get(sim, f"/cards/{co.landmarks['cover_image_card']}").json()
    cover = next(f for f in card["files"] if f["card_cover"])
    assert requests.get(cover["url"], timeout=10).content.startswith(b"\x89PNG\r\n\x1a\n")


# --- rate limiting, drift, faults -------------------------------------------------------------------
@pytest.mark.parametrize("retry_after", [True, False])
def test_rate_limit_answers_html_429(co: KaitenCompany, retry_after: bool) -> None:
    with KaitenSimulator(co, rps=3, retry_after=retry_after) as limited:
        with requests.Session() as session:
            session.headers["Authorization"] = f"Bearer {co.admin_token}"
            answers = [session.get(limited.api_url + "/users/current", timeout=5) for _ in range(6)]
            assert [r.status_code for r in answers[:3]] == [200, 200, 200]
            throttled = [r for r in answers if r.status_code == 429]
            assert throttled and limited.stats.rate_limited == len(throttled)
            for response in answers:
                assert set(RATE_HEADERS) <= set(response.headers)
                assert abs(int(response.headers["X-RateLimit-Reset"]) - time.time()) <= 2
            assert throttled[0].headers["Content-Type"].startswith("text/html")
            assert throttled[0].text == TOO_MANY
            assert throttled[0].headers.get("Retry-After") == ("1" if retry_after else None)
            # the user token has its own bucket
            assert requests.get(limited.api_url + "/users/current", timeout=5,
                                headers={"Authorization": f"Bearer {co.user_token}"}).status_code == 200
            time.sleep(1.05)
            assert session.get(limited.api_url + "/users/current", timeout=5).status_code == 200


def test_drift_inserts_cards_between_pages() -> None:
    co = generate_company("tiny")
    board = co.landmarks["boards"][0]
    before = {cid for cid in co.served_card_ids() if co.cards[cid]["board_id"] == board}
    with KaitenSimulator(co, drift=True) as drifting:
        rows = crawl(drifting, f"/cards?board_id={board}&condition=1,2", limit=10)
        ids = [row["id"] for row in rows]
        assert len(ids) > len(set(ids))  # pages repeat an item
        assert before <= set(ids)  # nothing that existed is lost
        inserted = co.landmarks["inserted_cards"]
        assert drifting.stats.drift_inserts == len(inserted) > 0
        assert all(co.cards[cid]["board_id"] == board and cid > max(before) for cid in inserted)


def _fault_trace(co: KaitenCompany, seed: int) -> list[Any]:
    plan = FaultPlan(error_rate=0.3, drop_rate=0.2, seed=seed)
    outcomes: list[Any] = []
    with KaitenSimulator(co, faults=plan) as faulty:
        legacy = co.landmarks["zero_byte_file"]
        for n in range(24):
            storage = n % 4 == 3
            url = f"{faulty.storage_url}/files/{legacy}.txt" if storage else f"{faulty.api_url}/users/current"
            headers = {} if storage else {"Authorization": f"Bearer {co.admin_token}"}
            try:
                response = requests.get(url, headers=headers, timeout=5)
                outcomes.append(response.status_code)
            except requests.ConnectionError:
                outcomes.append("drop")
    return outcomes


def test_fault_plan_injects_5xx_and_drops_deterministically(co: KaitenCompany) -> None:
    first = _fault_trace(co, 11)
    assert {500, 502, 503} & set(first) and "drop" in first and 200 in first
    assert _fault_trace(co, 11) == first


# --- generator ----------------------------------------------------------------------------------------
def test_generator_is_deterministic() -> None:
    assert generate_company("tiny", 3) == generate_company("tiny", 3)
    assert generate_company("tiny", 3) != generate_company("tiny", 4)


def test_small_scale_sizes_and_distribution() -> None:
    start = time.perf_counter()
    co = generate_company("small")
    assert time.perf_counter() - start < 1.0
    served = co.served_card_ids()
    assert 300 <= len(served) <= 400 and len(co.users) > 100 and len(co.visible_tag_ids()) > 100

    def share(predicate: Any) -> float:
        return sum(1 for cid in served if predicate(cid)) / len(served)

    assert 0.18 < share(lambda c: co.cards[c]["comments_total"] > 0) < 0.33
    assert 0.05 < share(lambda c: co.cards[c]["time_spent_sum"] > 0) < 0.16
    assert 0.07 < share(lambda c: co.location_history.get(c)) < 0.19
    assert 0.22 < share(lambda c: co.card_checklists.get(c)) < 0.38
    assert 0.13 < share(lambda c: co.files.get(c)) < 0.28
    for cid in served:  # stated assumption: never moved -> empty history
        assert bool(co.location_history.get(cid)) == (co.cards[cid]["last_moved_at"] is not None)
    assert sum(blob.size >= 1 << 20 for blob in co.blobs.values()) >= 2


def test_large_scale_generation() -> None:
    co = generate_company("large")
    assert len(co.served_card_ids()) >= 5000
    assert not any(hasattr(blob, "data") for blob in co.blobs.values())  # bytes derived on demand


def test_standalone_entry_stops_on_idle_timeout(capsys: pytest.CaptureFixture[str]) -> None:
    result: list[int] = []
    argv = ["--scale", "tiny", "--idle-timeout", "0.5"]
    thread = threading.Thread(target=lambda: result.append(main(argv)))
    thread.start()
    thread.join(timeout=10)
    assert result == [0]
    out = capsys.readouterr().out
    assert "/api/v1" in out and "token admin" in out
