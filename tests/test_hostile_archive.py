"""Hostile archives (issue 8, archive side): every one is built here, refused with a one-line
message naming the file and the documented exit code, within bounded time and memory.

The archive crosses an air gap: whoever can write it controls every byte, including a re-sealed
manifest and SHA256SUMS (``forge_record_file``), so none of these cases can rely on checksums.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from pathlib import Path

import pytest
import zstandard
from click.testing import CliRunner

from k2p.archive import records
from k2p.archive.format import record_header
from k2p.cli import main
from k2p.errors import ExitCode
from tests.helpers.archives import forge_record_file, write_archive

RSS_CEILING_MB = 300          # docs/SECURITY.md: a hostile archive never takes more than this
TIME_CEILING_S = 60
CARDS = "records/cards.jsonl.zst"
CARD_LINE = b'{"kind":"card","id":"1","raw":{"id":1,"title":"bomb"}}\n'


def frame(content: bytes) -> bytes:
    """One zstd frame as the k2p writer makes it (content size declared, checksum)."""
    return zstandard.ZstdCompressor(level=3, write_content_size=True, write_checksum=True).compress(content)


def header_frame(collection: str = "cards") -> bytes:
    return frame(records.encode_record(record_header(collection)) + b"\n")


def bomb(chunk: bytes, total: int) -> bytes:
    """A record file of a few hundred KB whose frames expand to ``total`` bytes of ``chunk``.

    One 16 MiB frame is compressed once and repeated (frames are independent), so nothing near
    ``total`` is ever held or written uncompressed.
    """
    body = chunk * ((16 << 20) // len(chunk))
    one = frame(body)
    return header_frame() + one * (total // len(body))


BOMBS = {
    "one endless line": lambda: bomb(b"x" * 4096, 4 << 30),
    "many valid lines": lambda: bomb(CARD_LINE, 4 << 30),
}


# The child reports its own VmHWM when it exits: ``ru_maxrss`` from ``wait4`` would not do, because
# Linux carries the forking parent's high-water mark (the whole pytest process) across ``exec``.
_MEASURED = """import atexit, sys
def _report(path=sys.argv.pop(1)):
    with open('/proc/self/status') as status, open(path, 'w') as out:
        out.write(next(line.split()[1] for line in status if line.startswith('VmHWM:')))
atexit.register(_report)
sys.argv[0] = 'k2p'
from k2p.cli import main
main()
"""


def run_measured(args: list[str], cwd: Path) -> tuple[int, str, str, float, float]:
    """Run ``k2p ARGS`` in a child process: exit code, stdout, stderr, peak RSS (MB), seconds."""
    started = time.monotonic()
    hwm = cwd / f".hwm-{time.monotonic_ns()}"
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen([sys.executable, "-c", _MEASURED, str(hwm), *args], cwd=cwd, stdout=out,
                                stderr=err, env={**os.environ, "COLUMNS": "250"})
        timer = threading.Timer(TIME_CEILING_S * 2, proc.kill)
        timer.start()
        proc.wait()
        timer.cancel()
        out.seek(0)
        err.seek(0)
        peak = int(hwm.read_text()) / 1024 if hwm.exists() else float("inf")   # VmHWM is in KiB
        hwm.unlink(missing_ok=True)
        return proc.returncode, out.read().decode(), err.read().decode(), peak, time.monotonic() - started


@pytest.fixture()
def bombed(tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    root = tmp_path / "a.k2p"
    write_archive(root)
    forge_record_file(root, CARDS, BOMBS[request.param]())
    assert (root / CARDS).stat().st_size < 1 << 20
    return root


def as_tar(root: Path) -> Path:
    """The archive as a plain tar, made without k2p (``k2p pack`` would refuse it)."""
    target = root.with_name(root.name + ".tar")
    with tarfile.open(target, "w") as tar:
        tar.add(root, arcname=root.name)
    return target


# --- item 1: decompression bombs -------------------------------------------------------------

COMMANDS = {
    "verify": ["verify", "{a}"],
    "verify --fast": ["verify", "--fast", "{a}"],
    "inspect": ["inspect", "{a}"],
    "cat": ["cat", "{a}", "cards"],
    "import --dry-run": ["import", "{a}", "--dry-run", "--state", "{tmp}/ledger.sqlite"],
    "unpack": ["unpack", "{tar}", "-o", "{tmp}/out.k2p"],
}


@pytest.mark.parametrize("bombed", sorted(BOMBS), indirect=True)
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_decompression_bomb_is_refused_in_bounded_memory(bombed: Path, command: str) -> None:
    tmp = bombed.parent
    tar = as_tar(bombed) if command == "unpack" else bombed
    args = [part.format(a=bombed, tmp=tmp, tar=tar) for part in COMMANDS[command]]
    code, out, err, rss, seconds = run_measured(args, tmp)
    assert code == ExitCode.ARCHIVE_INVALID, (out, err)
    assert rss < RSS_CEILING_MB and seconds < TIME_CEILING_S, (rss, seconds)
    message = [line for line in (out + err).splitlines() if "expands beyond" in line]
    assert len(message) == 1 and "cards.jsonl.zst" in message[0], out + err
    if command != "verify" and not command.startswith("verify"):
        assert out.strip() == "" and len(err.strip().splitlines()) == 1, (out, err)
    assert not (tmp / "out.k2p").exists()


def test_streaming_reader_stops_at_the_expansion_limit(tmp_path: Path) -> None:
    """Even without the header walk, decompression stops once the declared sizes pass the limit."""
    data = bomb(CARD_LINE, 1 << 30)
    seen = 0
    with pytest.raises(records.ArchiveInvalid, match="record file x.zst expands beyond"):
        for _ in records.iter_lines(io.BytesIO(data), name="x.zst", compressed_size=len(data)):
            seen += 1
    assert 0 < seen * len(CARD_LINE) <= records.content_limit(len(data))


def test_one_huge_line_is_refused_at_the_line_cap(tmp_path: Path) -> None:
    """A single line longer than MAX_LINE_BYTES (incompressible, so the size check passes)."""
    line = b'{"kind":"card","id":"1","raw":{"title":"' + os.urandom(12 << 20).hex().encode()
    root = tmp_path / "a.k2p"
    write_archive(root)
    forge_record_file(root, CARDS, header_frame() + frame(line[: 8 << 20]) + frame(line[8 << 20:]))
    for args in (["cat", str(root), "cards"], ["verify", str(root)]):
        code, out, err, rss, _ = run_measured(args, tmp_path)
        assert code == ExitCode.ARCHIVE_INVALID and rss < RSS_CEILING_MB, (out, err, rss)
        assert re.search(f"cards.jsonl.zst:? line 2: longer than {records.MAX_LINE_BYTES} bytes", out + err)


@pytest.mark.parametrize("case", ["size not declared", "size understated"])
def test_frame_that_lies_about_its_size_is_refused(tmp_path: Path, case: str) -> None:
    body = CARD_LINE * 20000
    if case == "size not declared":
        lying = zstandard.ZstdCompressor(write_content_size=False).compress(body)
    else:   # the header says 1000 bytes: the decoder must not produce more
        lying = bytearray(frame(body))
        assert lying[4] >> 6 == 2   # a 4-byte Frame_Content_Size field follows the window byte
        lying[6:10] = (1000).to_bytes(4, "little")
    root = tmp_path / "a.k2p"
    write_archive(root)
    forge_record_file(root, CARDS, header_frame() + bytes(lying))
    result = CliRunner().invoke(main, ["cat", str(root), "cards"])
    assert result.exit_code == ExitCode.ARCHIVE_INVALID
    assert "cards.jsonl.zst: corrupt compressed data" in result.output


def test_writer_refuses_a_line_no_reader_would_accept(tmp_path: Path) -> None:
    writer = records.RecordFileWriter(tmp_path / "cards.jsonl.zst", "cards")
    with pytest.raises(records.RecordTooLarge, match="record card 1 is"):
        writer.write({"kind": "card", "id": "1", "raw": "x" * records.MAX_LINE_BYTES})


# --- item 8: full verify parses every line; the importer refuses the same ---------------------

COMMENTS = "records/comments.jsonl.zst"
BIG = b"12345678901234567890"   # a 20-digit integer sends the line down the exact (stdlib) parser
BAD_LINES = {
    "deep nesting": b'{"kind":"comment","id":"x","raw":' + b"[" * 2000 + b"]" * 2000 + b"}",
    "invalid UTF-8": b'{"kind":"comment","id":"x","raw":"\xff\xfe"}',
    "lone surrogate": b'{"kind":"comment","id":"x","raw":{"n":' + BIG + b',"t":"\\ud800"}}',
    "NaN": b'{"kind":"comment","id":"x","raw":{"n":' + BIG + b',"v":NaN}}',
    "not an object": b"[1,2]",
    "kind of another collection": b'{"kind":"card","id":"x","raw":{}}',
    "numeric id": b'{"kind":"comment","id":5,"raw":{}}',
    "no id": b'{"kind":"comment","raw":{}}',
    "raw not an object": b'{"kind":"comment","id":"x","raw":[1]}',
    "ref not an object": b'{"kind":"comment","id":"x","ref":"card","raw":{}}',
    "header names another collection": b"",
}


def forge_comment_line(root: Path, case: str) -> None:
    lines = zstandard.ZstdDecompressor().decompressobj().decompress((root / COMMENTS).read_bytes()).split(b"\n")
    if case == "header names another collection":
        lines[0] = records.encode_record(record_header("cards"))
    else:
        lines[3] = BAD_LINES[case]
    forge_record_file(root, COMMENTS, frame(b"\n".join(lines)))


@pytest.mark.parametrize("case", sorted(BAD_LINES))
def test_full_verify_and_import_refuse_every_unparsable_line(tmp_path: Path, case: str) -> None:
    root = tmp_path / "a.k2p"
    write_archive(root)
    forge_comment_line(root, case)
    line = "line 1" if case.startswith("header") else "line 4"
    full = CliRunner().invoke(main, ["verify", str(root)])
    assert full.exit_code == ExitCode.ARCHIVE_INVALID, full.output
    problems = [text for text in full.output.splitlines() if "PROBLEM" in text]
    assert len(problems) == 1 and f"{COMMENTS}: {line}" in problems[0], full.output
    assert CliRunner().invoke(main, ["verify", "--fast", str(root)]).exit_code == 0  # documented
    for args in (["import", str(root), "--dry-run", "--state", str(tmp_path / "l.sqlite")],
                 ["cat", str(root), "comments"]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == ExitCode.ARCHIVE_INVALID, (args, result.output)
        errors = [text for text in result.output.splitlines() if text.startswith("k2p: error")]
        assert len(errors) == 1 and f"{COMMENTS} {line}" in errors[0], result.output


def test_reader_refuses_a_record_file_that_does_not_match_the_manifest(tmp_path: Path) -> None:
    """What the per-line checks cannot see (a valid line removed) the same-pass hash does."""
    root = tmp_path / "a.k2p"
    write_archive(root)
    lines = zstandard.ZstdDecompressor().decompressobj().decompress((root / COMMENTS).read_bytes()).split(b"\n")
    (root / COMMENTS).write_bytes(frame(b"\n".join(lines[:3] + lines[4:])))
    result = CliRunner().invoke(main, ["cat", str(root), "comments"])
    assert result.exit_code == ExitCode.ARCHIVE_INVALID
    assert f"{COMMENTS}: does not match the manifest" in result.output


# --- item 9: untrusted manifest values never name a path outside the working directory --------

@pytest.mark.parametrize("company_id", ["/../../x", "../x", "..", "a/b", "x\x00y", "c:\\evil", " ", "é" * 100, 42])
def test_default_ledger_name_comes_only_from_a_sanitised_company_id(company_id: object) -> None:
    from k2p.planka.importer import default_ledger_path

    path = default_ledger_path(company_id)
    assert path.parent == Path(".") and re.fullmatch(r"k2p-ledger-[A-Za-z0-9_-]{1,64}\.sqlite", path.name)
    assert default_ledger_path(42) == Path("k2p-ledger-42.sqlite")
