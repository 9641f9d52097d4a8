"""Text from an archive that reaches a terminal, a spreadsheet or Planka (issue 8 item 12):
neutralised where it lands."""

from __future__ import annotations

import csv
import unicodedata
from pathlib import Path

from click.testing import CliRunner

from k2p.archive.index import BoardRecords, CompanyRecords
from k2p.cli import main
from k2p.errors import ExitCode
from k2p.mapping.users import parse_user_csv
from tests.helpers.archives import rewrite_manifest, sample_content, write_archive
from tests.test_mapping_plan import B, board, notes_of, plan  # noqa: F401 - board is a fixture

ESCAPES = "\x1b[2J\x1b[32mOK\x1b[0m\x9b1A\r\n\x07\x08\u202e"


def controls(text: str) -> list[str]:
    return [char for char in text if unicodedata.category(char) == "Cc"]


def test_terminal_output_shows_control_characters_as_escapes(tmp_path: Path) -> None:
    root = tmp_path / "a.k2p"
    write_archive(root)
    rewrite_manifest(root, lambda m: m["source"].update(company_name="Acme" + ESCAPES + "Fingerprint: forged"))
    (root / "records" / ("evil" + ESCAPES + ".txt")).write_text("x")
    verified = CliRunner().invoke(main, ["verify", "--fast", str(root)])
    assert verified.exit_code == ExitCode.ARCHIVE_INVALID
    problem = [line for line in verified.output.splitlines() if "evil" in line]
    assert len(problem) == 2 and all(r"evil\x1b[2J\x1b[32mOK\x1b[0m\x9b1A\r\n\x07\x08\u202e.txt" in line for line in problem)
    # inspect refuses nothing here (the stray file is verify's business) but must not be hijacked
    inspected = CliRunner().invoke(main, ["inspect", str(root)])
    for output in (verified.output, inspected.output):
        assert controls(output.replace("\n", "")) == [] and "\u202e" not in output
    assert not any(line.startswith("Fingerprint: forged") for line in inspected.output.splitlines())


def test_users_csv_cells_cannot_run_as_formulas(tmp_path: Path) -> None:
    hostile = ["=HYPERLINK(\"http://evil\")", "+1+1", "-2", "@SUM(A1)", "\tTab", "\rCR"]
    content = sample_content()
    content["records"]["users"] = [
        {"kind": "user", "id": str(n), "raw": {"id": n, "full_name": value, "email": value, "username": value}}
        for n, value in enumerate(hostile, start=1)]
    root = tmp_path / "a.k2p"
    write_archive(root, content)
    result = CliRunner().invoke(main, ["users-template", str(root), "-o", str(tmp_path / "users.csv")])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader((tmp_path / "users.csv").open(newline="")))
    assert len(rows) == len(hostile)
    for row, value in zip(rows, hostile):
        assert row["email"] == row["username"] == "'" + value
        assert not row["name"].startswith(("=", "+", "-", "@", "\t", "\r"))
        assert row["name"] in ("'" + value, value.strip())   # display names are stripped first
    # the quote written for safety is not part of the value read back
    parsed = parse_user_csv("kaiten_id,planka_user\n1,'=admin\n2,'ok\n", source="u.csv")
    assert {kaiten_id: row.planka_user for kaiten_id, row in parsed.items()} == {"1": "=admin", "2": "'ok"}


def test_names_sent_to_planka_have_no_control_characters(board: tuple[CompanyRecords, BoardRecords]) -> None:
    company, records = board
    company.boards[B]["raw"]["title"] = "Board" + ESCAPES
    company.columns[B][0]["raw"]["title"] = "List\tA\x00"
    company.spaces["2"]["raw"]["title"] = "Space\x1b[1m"
    records.cards[0]["title"] = "Card\x1b]0;pwned\x07\r\ntitle"
    records.cards[1]["checklists"][0]["name"] = "Tasks\x85\x1b"
    result, fidelity, cards = plan(board)
    names = [result.name, *(item.name for item in result.lists), *(item.name for item in cards.values()),
             *(task_list.name for item in cards.values() for task_list in item.task_lists)]
    assert all(controls(name) == [] for name in names), names
    assert cards["card:1"].name == "Card]0;pwned title" and "Board[2J[32mOK[0m1A \u202e" == result.name
    assert any(name == "List A" for name in names)
    assert len([note for note in notes_of(fidelity, "renamed") if "control characters removed" in note]) == 4


def test_links_with_credentials_or_private_hosts_are_kept_as_text(board: tuple[CompanyRecords, BoardRecords]) -> None:
    _, records = board
    held = ["https://user:secret@example.org/x", "http://127.0.0.1:8080/admin", "http://10.1.2.3/wiki",
            "http://[::1]/", "http://localhost/x", "http://169.254.169.254/latest/meta-data",
            "http://192.168.0.1/"]
    records.cards[0]["external_links"] = [{"id": 90 + n, "url": url, "description": ""}
                                          for n, url in enumerate([*held, "https://example.org/ok"])]
    _, fidelity, cards = plan(board)
    card = cards["card:1"]
    assert [a.url for a in card.attachments if a.type == "link" and a.key.startswith("attachment:1:link")] == \
        ["https://example.org/ok"]
    shown = {item.name: item.content for item in card.details}["Links kept as text"].split(" ")
    assert shown == ["https://***@example.org/x", *held[1:]]
    assert "secret" not in repr(card) and "secret" not in " ".join(notes_of(fidelity, "lossy"))
    assert len([note for note in notes_of(fidelity, "lossy") if "kept as text" in note]) == len(held)
