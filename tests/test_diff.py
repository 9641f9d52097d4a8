"""``k2p diff``: exact created / changed / deleted sets, exit codes, forms, refusal, bounded memory."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

from click.testing import CliRunner

from k2p.archive.pack import pack_archive
from k2p.cli import main
from k2p.diff.records import field_changes
from k2p.errors import ExitCode
from k2p.testing.kaiten.company import generate_company
from k2p.testing.kaiten.sim import KaitenSimulator
from tests.helpers.archives import rewrite_manifest, sample_content, write_archive
from tests.helpers.export import by_id, export
from tests.helpers.kaiten_changes import add_comment
from tests.test_hostile_archive import run_measured

DIFF_RSS_CEILING_MB = 100   # docs/FORMAT.md §10: peak RSS of a diff, whatever the archive size (measured: 57)


def run(*args: str) -> Any:
    return CliRunner().invoke(main, list(args))


def diff_json(old: Path, new: Path) -> tuple[int, list[dict[str, Any]], dict[str, Any]]:
    """Exit code, the difference lines and the summary line of ``k2p diff --json``."""
    result = run("diff", "--json", str(old), str(new))
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert lines and lines[-1]["type"] == "summary", result.output
    assert all(line["type"] == "difference" for line in lines[:-1])
    return result.exit_code, lines[:-1], lines[-1]


def changes(differences: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """``{collection: {"created": {ids}, "deleted": {ids}, "changed": {id: [fields]}}}``."""
    found: dict[str, dict[str, Any]] = {}
    for item in differences:
        slot = found.setdefault(item["collection"], {"created": set(), "deleted": set(), "changed": {}})
        if item["change"] == "changed":
            slot["changed"][item["id"]] = item["fields"]
        else:
            slot[item["change"]].add(item["id"])
    return found


def test_identical_archives_exit_0_and_directory_equals_its_tar(tmp_path: Path) -> None:
    first = write_archive(tmp_path / "a.k2p").root
    second = write_archive(tmp_path / "b.k2p").root   # another archive id, same data
    tar = pack_archive(first, tmp_path / "a.k2p.tar").path
    for old, new in ((first, second), (first, tar), (tar, first)):
        result = run("diff", str(old), str(new))
        assert result.exit_code == ExitCode.OK, result.output
        assert "identical" in result.output.splitlines()[-1]
    code, differences, summary = diff_json(tar, second)
    assert (code, differences, summary["identical"]) == (ExitCode.OK, [], True)
    assert summary["total"] == {"created": 0, "changed": 0, "deleted": 0, "unchanged": 57}


def test_exact_differences_in_text_and_json(tmp_path: Path) -> None:
    old = write_archive(tmp_path / "old.k2p").root
    content = sample_content()
    cards = content["records"]["cards"]
    cards[3]["raw"]["title"] = "Retitled"
    cards[4]["raw"]["members"] = [{"id": 7, "full_name": "Ann Lee"}]
    cards[6]["raw"] = dict(reversed(cards[6]["raw"].items()))   # key order is not a change
    del cards[5]
    cards.append({"kind": "card", "id": "999", "raw": {"id": 999, "title": "Added"}})
    content["records"]["comments"][0]["ref"] = {"card_id": "104"}
    content["blobs"][1] = b"other bytes\n"
    new = write_archive(tmp_path / "new.k2p", content).root

    code, differences, summary = diff_json(old, new)
    assert code == ExitCode.DIFFERENT == 10
    assert changes(differences) == {
        "cards": {"created": {"999"}, "deleted": {"105"}, "changed": {"103": ["title"], "104": ["members"]}},
        "comments": {"created": set(), "deleted": set(), "changed": {"500": ["envelope.ref"]}},
        "files": {"created": set(), "deleted": set(), "changed": {"1": ["envelope.blob"]}},
    }
    assert next(d for d in differences if d["id"] == "104")["details"] == {"members": "+Ann Lee"}
    assert next(d for d in differences if d["id"] == "105")["title"] == "Card 5 — ünïcödé 🚀"
    assert summary["collections"]["cards"] == {"created": 1, "changed": 2, "deleted": 1, "unchanged": 37}
    assert summary["identical"] is False and summary["new"]["archive"] == str(new)

    result = run("diff", "--limit", "1", str(old), str(new))
    assert result.exit_code == ExitCode.DIFFERENT
    lines = result.output.splitlines()
    assert "cards (first 1 of 4):" in lines and '  + created 999 "Added"' in lines
    assert '  ~ changed 500 "<p>hi &amp; bye</p>": envelope.ref (~card_id)' in lines
    assert lines[-1] == "Archives differ: 1 created, 4 changed, 1 deleted in cards, comments, files; 52 unchanged"


def test_field_summaries_of_nested_lists() -> None:
    old = {"id": "1", "raw": {"title": "A", "tags": [{"id": 1, "name": "red"}, {"id": 2, "name": "blue"}],
                              "checklists": [{"id": 5, "name": "Launch", "items": [{"id": 1, "checked": False}]}],
                              "properties": {"id_1": 3}, "labels": ["x"]}}
    new = {"id": "1", "raw": {"title": "A", "tags": [{"id": 2, "name": "blue"}, {"id": 3, "name": "green"}],
                              "checklists": [{"id": 5, "name": "Launch", "items": [{"id": 1, "checked": True}]}],
                              "properties": {"id_1": 4, "id_2": 1}, "labels": ["x", "y"], "due": None}}
    assert field_changes(old, new) == {"tags": "+green, −red", "checklists": "~Launch",
                                       "properties": "+id_2, ~id_1", "labels": "+y", "due": ""}


def test_other_company_refused_incomplete_and_damaged_archives_fail(tmp_path: Path) -> None:
    first = write_archive(tmp_path / "a.k2p").root
    other = write_archive(tmp_path / "b.k2p").root
    rewrite_manifest(other, lambda manifest: manifest["source"].update(company_id=2))
    result = run("diff", str(first), str(other))
    assert result.exit_code == ExitCode.REFUSED
    assert "company 1" in result.output and "company 2" in result.output and "same company" in result.output
    incomplete = tmp_path / "c.k2p"
    write_archive(incomplete)
    (incomplete / "k2p-archive.json").unlink()
    assert run("diff", str(first), str(incomplete)).exit_code == ExitCode.ARCHIVE_INCOMPLETE
    damaged = write_archive(tmp_path / "d.k2p").root
    cards = damaged / "records/cards.jsonl.zst"
    data = bytearray(cards.read_bytes())
    data[-5] ^= 0xFF
    cards.write_bytes(bytes(data))
    result = run("diff", str(damaged), str(first))
    assert result.exit_code == ExitCode.ARCHIVE_INVALID and "cards.jsonl.zst" in result.output


def test_export_twice_with_changes_in_between(tmp_path: Path) -> None:
    company = generate_company("tiny")
    first, second = tmp_path / "week1.k2p", tmp_path / "week2.k2p"
    with KaitenSimulator(company, idle_timeout=300) as kaiten:
        export(kaiten, first)
        live = [card_id for card_id in company.cards_visible_to("admin")
                if company.cards[card_id]["condition"] == 1]
        with_comments = [card_id for card_id in live if company.comments.get(card_id)]
        deleted, commented = with_comments[0], with_comments[1]
        renamed = next(card_id for card_id in live if card_id not in (deleted, commented))
        company.cards[renamed]["title"] = "Renamed between the exports ✏️"
        comment = add_comment(company, commented, "A comment written between the exports")
        company.cards[deleted]["condition"] = 3   # deleted in Kaiten: no longer served
        added = company.add_card(company.cards[renamed]["board_id"], like=renamed, title="Brand-new card")
        export(kaiten, second)

    code, differences, summary = diff_json(first, second)
    assert code == ExitCode.DIFFERENT
    found = changes(differences)
    assert found["cards"] == {"created": {str(added)}, "deleted": {str(deleted)},
                              "changed": {str(renamed): ["title"], str(commented): ["comments_total"]}}
    assert str(comment) in found["comments"]["created"]
    gone_comments = {key for key, row in by_id(first, "comments").items()
                     if row["ref"]["card_id"] == str(deleted)}
    assert gone_comments and found["comments"]["deleted"] == gone_comments
    # Every collection against an in-memory oracle (the tiny company fits in memory).
    for collection, tally in summary["collections"].items():
        if collection == "missing":
            continue
        before, after = by_id(first, collection), by_id(second, collection)
        expected = {"created": set(after) - set(before), "deleted": set(before) - set(after),
                    "changed": {key for key in set(before) & set(after) if before[key] != after[key]}}
        got = found.get(collection, {"created": set(), "deleted": set(), "changed": {}})
        assert {**got, "changed": set(got["changed"])} == expected, collection
        assert tally["unchanged"] == len(set(before) & set(after)) - len(expected["changed"])
    text = run("diff", str(first), str(second))
    assert f'~ changed {renamed} "Renamed between the exports ✏️": title' in text.output


def _big_archive(root: Path, changed: int) -> Path:
    """200k small records (two collections); the first ``changed`` cards have another title."""
    def cards() -> Iterator[dict[str, Any]]:
        for n in range(150_000):
            title = f"Changed {n}" if n < changed else f"Card {n} with a title of some length"
            yield {"kind": "card", "id": str(n), "ref": {"board_id": str(n % 50)},
                   "raw": {"id": n, "title": title, "description": "d" * 200, "sort_order": n}}
    comments = ({"kind": "comment", "id": str(n), "ref": {"card_id": str(n)},
                 "raw": {"id": n, "text": "t" * 150}} for n in range(50_000))
    content = {**sample_content(), "records": {"cards": cards(), "comments": comments}}
    return write_archive(root, content).root


def test_memory_stays_bounded_on_200k_records(tmp_path: Path) -> None:
    old, new = _big_archive(tmp_path / "old.k2p", 0), _big_archive(tmp_path / "new.k2p", 30_000)
    code, out, err, rss, _ = run_measured(["diff", "--json", str(old), str(new)], tmp_path)
    assert code == ExitCode.DIFFERENT, err
    summary = json.loads(out.splitlines()[-1])
    assert summary["collections"]["cards"] == {"created": 0, "changed": 30_000, "deleted": 0,
                                               "unchanged": 120_000}
    assert len(out.splitlines()) == 30_001
    assert rss < DIFF_RSS_CEILING_MB, rss
