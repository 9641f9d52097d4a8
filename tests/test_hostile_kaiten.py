"""Hostile Kaiten answers and downloads (issue 8, exporter half): nothing goes where it should not,
every loop and wait is bounded, and one bad answer never stops the export for good.

Hostile answers come from stub servers on 127.0.0.1 (tests/helpers/stubs.py) or the simulator's
fault injection; ``loopback_only`` fails a test on any connection to another address.
"""

from __future__ import annotations

import errno
import hashlib
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import orjson
import pytest
import zstandard
from click.testing import CliRunner

from k2p.archive import writer as writer_module
from k2p.archive.format import WORK_DIR
from k2p.archive.records import RecordFileWriter
from k2p.cli import main
from k2p.errors import ExitCode, LocalIOError, RemoteError
from k2p.fileio import CRASH_AT_ENV
from k2p.kaiten import client as kaiten_client
from k2p.kaiten.client import KaitenClient, retry_after_seconds
from k2p.kaiten.endpoint import parse_kaiten_url
from k2p.kaiten import export as export_module
from k2p.kaiten.export import JOURNAL
from k2p.kaiten.filehosts import FileHostPolicy, HostRefused
from k2p.kaiten.files import SIZE_TOLERANCE
from k2p.testing.kaiten.sim import KaitenSimulator
from k2p.testing.loopback import FaultPlan, SimHandler
from tests.helpers.export import (
    K2P, assert_valid, by_id, cli_env, content, export, export_args, export_into, records, run_cli, sim_fixture,
    token_of,
)
from tests.helpers.stubs import Stub, drip, flood, loopback_only  # noqa: F401 - loopback_only is a fixture

sim = sim_fixture("tiny")
TOKEN = "hostile-test-token-0123456789"


@pytest.fixture(scope="module")
def board(sim: KaitenSimulator) -> int:
    """A small board: scoped exports of it keep every case short."""
    return sim.company.landmarks["boards"][1]


@pytest.fixture()
def legacy_file(sim: KaitenSimulator, board: int) -> Iterator[dict[str, Any]]:
    """A legacy file record of a card on ``board``, restored after the test (edit it freely)."""
    co = sim.company
    record = next(rec for cid in co.served_card_ids() if co.cards[cid]["board_id"] == board
                  for rec in co.files.get(cid, []) if rec["type"] == 1 and not rec["deleted"])
    saved = dict(record)
    yield record
    record.clear()
    record.update(saved)


def file_outcome(root: Path, file_id: Any) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The ``files`` record of ``file_id`` and its ``missing`` entry (if any)."""
    missing = {row["id"]: row for row in records(root, "missing")}
    return by_id(root, "files")[str(file_id)], missing.get(f"file:{file_id}")


def json_answer(payload: Any, status: int = 200) -> Any:
    return lambda handler: handler.send_json(status, payload)


def stub_client(stub: Stub, **kwargs: Any) -> KaitenClient:
    return KaitenClient(parse_kaiten_url(stub.url), TOKEN, rps=1000, **kwargs)


def in_thread(call: Any, bound: float) -> Any:
    """Run ``call`` and return its result or exception; fail if it takes longer than ``bound`` s."""
    outcome: list[Any] = []
    thread = threading.Thread(target=lambda: outcome.append(_capture(call)), daemon=True)
    thread.start()
    thread.join(bound)
    assert not thread.is_alive(), f"still running after {bound} s"
    return outcome[0]


def _capture(call: Any) -> Any:
    try:
        return call()
    except Exception as exc:  # noqa: BLE001 - handed to the test to assert on
        return exc


# --- 2. SSRF: downloads only from Kaiten, its file hosts and what the API names -------------------
HOSTILE_URLS = {
    "metadata": "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
    "private": "http://10.0.0.1/internal.pdf",
    "file-scheme": "file:///etc/passwd",
    "ftp-scheme": "ftp://files.kaiten.ru/x.pdf",
    "gopher": "gopher://127.0.0.1:70/_x",
    "other-host": "https://evil.example/x.pdf",
    "lookalike": "https://kaiten.ru.evil.example/files.kaiten.ru/x.pdf",
    "broken": "http://[::1/x",
    "credentials": "http://user:secret@127.0.0.1:1/x",
}


@pytest.mark.parametrize("url", HOSTILE_URLS.values(), ids=HOSTILE_URLS.keys())
def test_file_urls_outside_kaiten_are_refused_before_connecting(sim: KaitenSimulator, board: int,
                                                                 legacy_file: dict[str, Any], tmp_path: Path,
                                                                 loopback_only: list[Any], url: str) -> None:
    legacy_file["url"] = url
    export(sim, tmp_path / "acme.k2p", boards=(board,))
    row, missing = file_outcome(tmp_path / "acme.k2p", legacy_file["id"])
    assert row["status"] == "missing" and row.get("blob") is None
    assert missing is not None and missing["reason"] == "refused_url", missing
    assert "secret" not in missing["detail"]


def test_own_storage_needs_allow_file_host(sim: KaitenSimulator, board: int, legacy_file: dict[str, Any],
                                          tmp_path: Path, loopback_only: list[Any]) -> None:
    body = b"own storage " * 100
    legacy_file["size"] = len(body)
    with Stub(lambda handler: handler.send_bytes(200, body, "application/pdf")) as storage:
        legacy_file["url"] = f"http://localhost:{storage.port}/bucket/x.pdf"
        export(sim, tmp_path / "refused", boards=(board,))
        assert storage.paths == []
        assert file_outcome(tmp_path / "refused", legacy_file["id"])[1]["reason"] == "refused_url"
        export(sim, tmp_path / "allowed", boards=(board,), allow_file_hosts=("LOCALHOST",))
        assert storage.paths == ["/bucket/x.pdf"]
    row, missing = file_outcome(tmp_path / "allowed", legacy_file["id"])
    assert missing is None and row["blob"]["sha256"] == hashlib.sha256(body).hexdigest()


@pytest.mark.parametrize("location", ["http://169.254.169.254/latest/meta-data/", "http://localhost:{port}/y",
                                      "file:///etc/shadow"])
def test_every_redirect_hop_is_checked(sim: KaitenSimulator, board: int, legacy_file: dict[str, Any],
                                       tmp_path: Path, loopback_only: list[Any], location: str) -> None:
    with Stub(lambda handler: handler.send_bytes(200, b"second hop", "text/plain")) as second:
        target = location.format(port=second.port)
        with Stub(lambda handler: handler.send_bytes(302, b"", None, {"Location": target})) as first:
            legacy_file["url"] = f"{first.url}/redirect"
            export(sim, tmp_path / "acme.k2p", boards=(board,))
            assert first.paths == ["/redirect"] and second.paths == []
    missing = file_outcome(tmp_path / "acme.k2p", legacy_file["id"])[1]
    assert missing is not None and missing["reason"] == "refused_url", missing


def test_private_addresses_only_for_a_private_api() -> None:
    """With the API on a public address, a Kaiten file host resolving to a private one is refused;
    the signed-URL host the API names is trusted for that file only (no network: a fake resolver)."""
    addresses = {"acme.kaiten.ru": ["93.184.216.34"], "files.kaiten.ru": ["10.1.2.3"],
                 "storage.acme.example": ["93.184.216.35"], "s3.signed.example": ["52.95.1.1"]}
    policy = FileHostPolicy(parse_kaiten_url("https://acme.kaiten.ru"), ["storage.acme.example"],
                            resolver=lambda host: addresses[host])
    for url, trusted, refusal in [
        ("https://files.kaiten.ru/x", (), "private, loopback or link-local"),
        ("http://storage.acme.example/x", (), "scheme 'http' refused"),
        ("https://s3.signed.example/x?X-Amz-Signature=1", (), "is neither"),
        ("https://files.kaiten.ru.evil.example/x", (), "is neither"),
    ]:
        with pytest.raises(HostRefused, match=refusal):
            policy.check(url, trusted)
    policy.check("https://storage.acme.example/x")
    policy.check("https://s3.signed.example/x?X-Amz-Signature=1", {"s3.signed.example"})
    policy.check("https://acme.kaiten.ru/api/latest/cards/1/files/2")


# --- 3. Unbounded loops and waits -----------------------------------------------------------------
def test_a_list_repeating_the_same_page_fails_instead_of_looping() -> None:
    page = [{"id": index} for index in range(100)]
    with Stub(json_answer(page)) as stub:
        error = in_thread(lambda: list(stub_client(stub).paginate("/users")), 30)
    assert isinstance(error, RemoteError) and "brought no new item" in error.message
    assert len(stub.paths) == 2


def test_a_list_that_never_ends_stops_at_the_page_ceiling() -> None:
    def endless(handler: SimHandler) -> None:
        offset = int(handler.query_params()["offset"][0])
        handler.send_json(200, [{"id": offset + index} for index in range(100)])

    with Stub(endless) as stub:
        error = in_thread(lambda: list(stub_client(stub, max_pages=7).paginate("/cards")), 30)
    assert isinstance(error, RemoteError) and "more than 7 pages" in error.message
    assert len(stub.paths) == 7


@pytest.mark.parametrize(("retry_after", "capped"), [
    ("99999", 1), ("Wed, 01 Jan 2099 00:00:00 GMT", 1), ("9" * 400, 1), ("-5", 0), ("soon", 0),
    ("Thu, 99 Foo 2099 99:99:99 GMT", 0), ("", 0), ("²", 0),
])
def test_every_retry_after_wait_is_capped(monkeypatch: pytest.MonkeyPatch, retry_after: str, capped: int) -> None:
    monkeypatch.setattr(kaiten_client, "MAX_RETRY_WAIT", 0.2)
    answered: list[int] = []

    def throttle_once(handler: SimHandler) -> None:
        if not answered:
            answered.append(429)
            return handler.send_text(429, "Too many requests", "text/html", {"Retry-After": retry_after})
        handler.send_json(200, {"id": 1})

    assert isinstance(retry_after_seconds({"Retry-After": retry_after}), (float, type(None)))
    with Stub(throttle_once) as stub:
        client = stub_client(stub)
        assert in_thread(lambda: client.get_json("/users/current"), 20) == {"id": 1}
    assert client.stats.to_dict()["waits_capped"] == capped


def test_a_body_dripping_slowly_hits_the_request_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kaiten_client, "REQUEST_GRACE", 1.0)
    with Stub(lambda handler: drip(handler, b'{"id": 1, "name": "' + b"x" * 200 + b'"}', 0.05)) as stub:
        started = time.monotonic()
        error = in_thread(lambda: stub_client(stub).get_json("/users/current"), 20)
    assert isinstance(error, RemoteError) and "did not finish within 1 s" in error.message
    assert time.monotonic() - started < 8


@pytest.mark.parametrize("length", ["3000000000", None], ids=["declared", "undeclared"])
def test_an_oversized_json_answer_is_refused(monkeypatch: pytest.MonkeyPatch, length: str | None) -> None:
    monkeypatch.setattr(kaiten_client, "MAX_JSON_BYTES", 1 << 20)
    with Stub(lambda handler: flood(handler, b"1," * (1 << 15), 128, "application/json", length=length)) as stub:
        error = in_thread(lambda: stub_client(stub).get_json("/cards/1"), 30)
    assert isinstance(error, RemoteError) and "answer limit" in error.message
    assert len(stub.paths) == 1  # refused, not retried


# --- 4. A body cut short is retried like a dropped connection ---------------------------------------
def test_a_truncated_answer_is_retried() -> None:
    served: list[int] = []

    def truncate_first(handler: SimHandler) -> None:
        served.append(1)
        body = orjson.dumps({"id": 7, "name": "x" * 5000})
        if len(served) == 1:
            return handler.send_truncated(200, body, {"Content-Type": "application/json"})
        handler.send_bytes(200, body, "application/json")

    with Stub(truncate_first) as stub:
        client = stub_client(stub)
        assert in_thread(lambda: client.get_json("/users/current"), 30)["id"] == 7
    assert client.stats.retries == 1 and len(served) == 2


def test_truncated_bodies_leave_the_archive_unchanged(sim: KaitenSimulator, tmp_path: Path,
                                                      tmp_path_factory: pytest.TempPathFactory) -> None:
    reference = content(export_into(tmp_path_factory, sim, "clean"))
    before = sim.stats.truncated
    sim.reconfigure(faults=FaultPlan(truncate_rate=0.08, seed=3))
    try:
        outcome = export(sim, tmp_path / "acme.k2p")
    finally:
        sim.reconfigure()
    assert sim.stats.truncated - before >= 5
    assert outcome.report["requests"]["retries"] >= 5
    assert content(tmp_path / "acme.k2p") == reference


# --- 6. One bad value costs one record, not the export -----------------------------------------------
@pytest.mark.parametrize(("fragment", "kept"), [
    (b"[NaN, 123456789012345678901234567890]", False),
    (b"[Infinity]", False),
    (b"[1.5e999]", False),
    (b"1" + b"0" * 5000, False),
    (b"[" * 5000 + b"]" * 5000, False),
    (b"1" + b"0" * 1000, True),
], ids=["nan-bigint", "infinity", "float-overflow", "5000-digits", "deep", "1000-digits"])
def test_one_unusable_card_is_missing_and_the_export_goes_on(sim: KaitenSimulator, board: int, tmp_path: Path,
                                                             fragment: bytes, kept: bool) -> None:
    """The value sits in a checklist item, which only the single-card payload carries."""
    co = sim.company
    card_id = next(cid for cid in co.served_card_ids() if co.cards[cid]["board_id"] == board
                   and co.card_checklists.get(cid))
    item = co.checklists[co.card_checklists[card_id][0]]["items"][0]
    item["hostile"] = orjson.Fragment(fragment)
    try:
        export(sim, tmp_path / "acme.k2p", boards=(board,))
    finally:
        del item["hostile"]
    cards = by_id(tmp_path / "acme.k2p", "cards")
    missing = {row["id"]: row for row in records(tmp_path / "acme.k2p", "missing")}
    if kept:
        assert cards[str(card_id)]["raw"]["checklists"][0]["items"][0]["hostile"] == int(fragment)
        return
    assert str(card_id) not in cards and len(cards) >= 2
    assert missing[f"card:{card_id}"]["reason"] == "invalid_payload"


# --- 11. Declared sizes are enforced while streaming -------------------------------------------------
@pytest.mark.parametrize(("declared", "max_size", "length"), [
    (100, None, "10000000000"), (100, None, None), (None, 5000, None), (1000, 1500, None),
], ids=["declared-10GB-length", "declared-100-endless", "max-file-size-endless", "max-within-tolerance"])
def test_a_download_stops_once_past_its_declared_size(sim: KaitenSimulator, board: int,
                                                      legacy_file: dict[str, Any], tmp_path: Path,
                                                      declared: int | None, max_size: int | None,
                                                      length: str | None) -> None:
    sent: list[int] = []
    legacy_file["size"] = declared
    with Stub(lambda handler: flood(handler, b"\0" * (1 << 16), 800, "application/octet-stream",  # 50 MiB
                                    length=length, sent=sent)) as storage:
        legacy_file["url"] = f"{storage.url}/big.bin"
        export(sim, tmp_path / "acme.k2p", boards=(board,), max_file_size=max_size)
        assert storage.paths == ["/big.bin"]  # never downloaded twice
    row, missing = file_outcome(tmp_path / "acme.k2p", legacy_file["id"])
    assert row["status"] == "missing" and missing is not None and missing["reason"] == "too_large"
    assert sum(sent) < 40 << 20  # stopped long before the stub ran out
    by_option = max_size is not None and (declared is None or max_size < declared + SIZE_TOLERANCE)
    assert (f"--max-file-size {max_size}" if by_option else f"declared {declared} bytes") in missing["detail"]


# --- 5. A seal interrupted at any step resumes -------------------------------------------------------
@pytest.fixture(scope="module")
def board_reference(sim: KaitenSimulator, board: int, tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    return content(export_into(tmp_path_factory, sim, "board", boards=(board,)))


@pytest.mark.parametrize("step", ["seal:start", "seal:checksums", "seal:manifest", "seal:cleanup"])
def test_a_kill_at_each_seal_step_resumes(sim: KaitenSimulator, board: int, board_reference: dict[str, bytes],
                                          tmp_path: Path, step: str) -> None:
    out = tmp_path / "acme.k2p"
    args = [K2P, *export_args(sim, out, "--board", str(board))]
    killed = subprocess.run(args, env={**cli_env(token_of(sim)), CRASH_AT_ENV: step}, capture_output=True,
                            text=True, timeout=120, check=False)
    assert killed.returncode == 70, killed.stderr
    assert (out / WORK_DIR / JOURNAL).exists()
    resumed = run_cli(export_args(sim, out, "--board", str(board)), token_of(sim))
    assert resumed.returncode == 0, resumed.stderr
    assert not (out / WORK_DIR).exists()
    assert content(out) == board_reference
    assert_valid(out)


# --- 7. Expected failures get their documented exit codes ---------------------------------------------
def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _export_cli(url: str, out: Path) -> subprocess.CompletedProcess[str]:
    return run_cli(["export", "--kaiten-url", url, "--out", str(out), "--rps", "1000"], TOKEN, timeout=90)


def test_an_unreachable_kaiten_is_a_remote_failure(tmp_path: Path) -> None:
    result = _export_cli(f"http://127.0.0.1:{_closed_port()}", tmp_path / "acme.k2p")
    assert result.returncode == ExitCode.REMOTE, result.stderr
    assert result.stderr.count("\n") == 1 and "ConnectionError (after 3 attempts)" in result.stderr
    assert "internal error" not in result.stderr and not (tmp_path / "acme.k2p").exists()


def test_a_server_answering_html_is_a_remote_failure(tmp_path: Path) -> None:
    with Stub(lambda handler: handler.send_text(200, "<html>Sign in to the Wi-Fi</html>", "text/html")) as stub:
        result = _export_cli(stub.url, tmp_path / "acme.k2p")
    assert result.returncode == ExitCode.REMOTE, result.stderr
    assert result.stderr.count("\n") == 1 and "not JSON (text/html)" in result.stderr
    assert len(stub.paths) == 3


def _disk_full(*args: Any, **kwargs: Any) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


@pytest.mark.parametrize("where", ["checksums", "records"])
def test_a_full_disk_names_the_path_and_stays_resumable(sim: KaitenSimulator, board: int,
                                                        board_reference: dict[str, bytes], tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    out = tmp_path / "acme.k2p"
    with monkeypatch.context() as patch:
        if where == "checksums":
            patch.setattr(writer_module, "atomic_write_bytes", _full_at(writer_module.atomic_write_bytes,
                                                                        "SHA256SUMS"))
        else:
            patch.setattr(RecordFileWriter, "checkpoint", _disk_full)
        with pytest.raises(LocalIOError) as caught:
            export(sim, out, boards=(board,))
    assert caught.value.exit_code == ExitCode.LOCAL_IO == 9
    named = str(out / "SHA256SUMS") if where == "checksums" else str(out)
    assert f"cannot write or read {named}: No space left on device" in caught.value.message
    assert "rerun the same command to resume" in caught.value.message
    export(sim, out, boards=(board,))
    assert content(out) == board_reference


def _full_at(original: Any, name: str) -> Any:
    def write(target: Path, data: bytes) -> None:
        if target.name == name:
            raise OSError(errno.ENOSPC, "No space left on device", str(target))
        original(target, data)
    return write


# --- 10. Secrets never reach a file or a traceback -----------------------------------------------------
def test_a_token_quoted_by_an_answer_is_masked_in_the_archive(sim: KaitenSimulator, board: int,
                                                               legacy_file: dict[str, Any], tmp_path: Path) -> None:
    token = token_of(sim)
    with Stub(lambda handler: handler.send_json(404, {"message": f"no such file for {token}"})) as storage:
        legacy_file["url"] = f"{storage.url}/files/{token}/x.pdf"
        export(sim, tmp_path / "acme.k2p", boards=(board,))
    missing = file_outcome(tmp_path / "acme.k2p", legacy_file["id"])[1]
    assert missing is not None and "/files/***/x.pdf" in missing["detail"]
    cat = run_cli(["cat", str(tmp_path / "acme.k2p"), "missing"])
    assert cat.returncode == 0 and "/files/***/x.pdf" in cat.stdout and token not in cat.stdout
    for path in (tmp_path / "acme.k2p").rglob("*"):
        if path.is_file() and path.suffix in (".zst", ".json"):
            data = path.read_bytes()
            text = zstandard.ZstdDecompressor().decompressobj().decompress(data) if path.suffix == ".zst" else data
            assert token.encode() not in text, path


def test_debug_tracebacks_mask_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError(f"unexpected answer quoting {TOKEN}")

    monkeypatch.setattr(export_module, "run_export", broken)
    result = CliRunner().invoke(main, ["export", "--kaiten-url", "http://127.0.0.1:9", "--out", "x"],
                                env={"K2P_KAITEN_TOKEN": TOKEN, "K2P_DEBUG": "1"})
    assert result.exit_code == ExitCode.INTERNAL
    assert "Traceback" in result.output and "unexpected answer quoting ***" in result.output
    assert TOKEN not in result.output


@pytest.mark.parametrize("where", ["tag", "space", "card"])
def test_one_unusable_list_item_is_missing_and_the_listing_goes_on(sim: KaitenSimulator, board: int,
                                                                   tmp_path: Path, where: str) -> None:
    """A bad value in a list: that item is missing, every other item of the list is kept (a tag
    then survives as seen on its cards)."""
    co = sim.company
    if where == "tag":
        ident = co.visible_tag_ids()[0]
        target, collection = co.tags[ident], "tags"
    elif where == "space":
        ident = next(sid for sid in sorted(co.spaces) if sid not in co.board_space_ids(board))
        target, collection = co.spaces[ident], "spaces"
    else:
        ident = next(cid for cid in co.served_card_ids() if co.cards[cid]["board_id"] == board)
        target, collection = co.cards[ident], "cards"
    target["hostile"] = orjson.Fragment(b"[NaN, 123456789012345678901234567890]")
    try:
        export(sim, tmp_path / "acme.k2p", boards=() if where == "space" else (board,))
    finally:
        del target["hostile"]
    kept = by_id(tmp_path / "acme.k2p", collection)
    missing = {row["id"]: row for row in records(tmp_path / "acme.k2p", "missing")}
    assert len(kept) >= 2 and (str(ident) not in kept or kept[str(ident)].get("seen_via") == "card")
    assert missing[f"{collection[:-1]}:{ident}"]["reason"] == "invalid_payload"
