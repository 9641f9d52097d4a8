"""Archive writer/reader round trips, determinism, resume at a frame boundary, sha256sum -c."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from k2p.archive.format import CHECKSUMS, MANIFEST
from k2p.archive.reader import ArchiveReader
from k2p.archive.records import FRAME_TARGET_BYTES
from k2p.archive.verify import verify_archive
from k2p.archive.writer import ArchiveWriter
from k2p.errors import ArchiveIncomplete, Refused
from tests.helpers.archives import FIXED_TIME, SOURCE, sample_content, tree_bytes, write_archive


def test_round_trip_records_blobs_missing(tmp_path: Path) -> None:
    content = sample_content()
    sealed = write_archive(tmp_path / "a.k2p", content)
    with ArchiveReader(tmp_path / "a.k2p") as reader:
        assert list(reader.iter_records("cards")) == content["records"]["cards"]
        assert list(reader.iter_records("comments")) == content["records"]["comments"]
        assert list(reader.iter_records("users")) == []
        missing = list(reader.iter_records("missing"))
        assert [m["reason"] for m in missing] == ["not_found"]
        for data in content["blobs"]:
            with reader.open_blob(hashlib.sha256(data).hexdigest()) as handle:
                assert handle.read() == data
        assert reader.fingerprint() == sealed.fingerprint
        manifest = reader.manifest
    assert manifest.collections["cards"].records == 40
    assert manifest.collections["cards"].expected == 40
    assert manifest.collections["files"].records == 4
    assert manifest.blobs.count == 3  # the fourth file shares a blob
    assert manifest.blobs.bytes == sum(len(b) for b in content["blobs"])
    assert manifest.missing.count == 1 and manifest.missing.by_reason == {"not_found": 1}
    assert manifest.source.base_url == SOURCE.base_url
    for level in ("fast", "full"):
        report = verify_archive(tmp_path / "a.k2p", level=level)
        assert report.ok, report.problems
        assert report.fingerprint == sealed.fingerprint


def test_fingerprint_is_sha256_of_checksums(tmp_path: Path) -> None:
    sealed = write_archive(tmp_path / "a.k2p")
    assert sealed.fingerprint == hashlib.sha256((tmp_path / "a.k2p" / CHECKSUMS).read_bytes()).hexdigest()


@pytest.mark.skipif(shutil.which("sha256sum") is None, reason="coreutils sha256sum not installed")
def test_coreutils_sha256sum_accepts_checksums(tmp_path: Path) -> None:
    write_archive(tmp_path / "a.k2p")
    result = subprocess.run(["sha256sum", "--check", "--strict", CHECKSUMS], cwd=tmp_path / "a.k2p",
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    listed = {line.split("  ", 1)[1] for line in (tmp_path / "a.k2p" / CHECKSUMS).read_text().splitlines()}
    on_disk = {p.relative_to(tmp_path / "a.k2p").as_posix() for p in (tmp_path / "a.k2p").rglob("*")
               if p.is_file()}
    assert listed == on_disk - {CHECKSUMS}


def test_same_input_gives_identical_records_and_blobs(tmp_path: Path) -> None:
    write_archive(tmp_path / "one.k2p")
    write_archive(tmp_path / "two.k2p")
    one = tree_bytes(tmp_path / "one.k2p", "records", "blobs")
    assert one and one == tree_bytes(tmp_path / "two.k2p", "records", "blobs")
    assert (tmp_path / "one.k2p/missing.jsonl.zst").read_bytes() == \
        (tmp_path / "two.k2p/missing.jsonl.zst").read_bytes()


def _big_records(count: int) -> list[dict]:
    return [{"kind": "card", "id": str(n), "raw": {"id": n, "text": f"{n:08d}" * 40}} for n in range(count)]


def test_resume_at_checkpoint_is_byte_identical(tmp_path: Path) -> None:
    records = _big_records(6000)  # > 2 MiB of JSON: several frames, checkpoints between frames
    straight = ArchiveWriter(tmp_path / "straight.k2p")
    for index, record in enumerate(records):
        straight.records("cards").write(record)
        if index % 1000 == 999:
            straight.checkpoint()
    straight.finalize(source=SOURCE, exporter_version="t", created_at=FIXED_TIME)

    crashed = ArchiveWriter(tmp_path / "resumed.k2p")
    saved = None
    for index, record in enumerate(records[:4321]):
        crashed.records("cards").write(record)
        if index % 1000 == 999:
            saved = crashed.checkpoint()
    crashed.records("cards").flush_frame()  # a frame past the checkpoint reached the disk
    crashed.records("scratch").write({"kind": "x", "id": "1", "raw": {}})
    crashed.checkpoint()
    del crashed  # simulated crash: the process is gone, files stay as they are
    assert saved is not None and saved["cards"].records == 4000

    resumed = ArchiveWriter(tmp_path / "resumed.k2p", resume=True)
    resumed.restore(saved)
    for index, record in enumerate(records[4000:], start=4000):
        resumed.records("cards").write(record)
        if index % 1000 == 999:
            resumed.checkpoint()
    resumed.finalize(source=SOURCE, exporter_version="t", created_at=FIXED_TIME)

    assert tree_bytes(tmp_path / "straight.k2p", "records") == tree_bytes(tmp_path / "resumed.k2p", "records")
    assert verify_archive(tmp_path / "resumed.k2p").ok
    assert (tmp_path / "straight.k2p/records/cards.jsonl.zst").stat().st_size > 0
    assert FRAME_TARGET_BYTES < sum(len(str(r)) for r in records)


def test_incomplete_archive_is_refused(tmp_path: Path) -> None:
    writer = ArchiveWriter(tmp_path / "a.k2p")
    writer.records("cards").write({"kind": "card", "id": "1", "raw": {}})
    writer.checkpoint()
    with pytest.raises(ArchiveIncomplete, match="incomplete archive .*rerun the same `k2p export`"):
        ArchiveReader(tmp_path / "a.k2p")


def test_writer_refuses_complete_or_foreign_directory(tmp_path: Path) -> None:
    write_archive(tmp_path / "a.k2p")
    with pytest.raises(Refused, match="already a complete archive"):
        ArchiveWriter(tmp_path / "a.k2p", resume=True)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(Refused, match="not empty"):
        ArchiveWriter(tmp_path / "other")


def test_huge_integers_survive_exactly(tmp_path: Path) -> None:
    content = sample_content()
    content["records"]["cards"] = [{"kind": "card", "id": "1", "raw": {"n": 2 ** 70 + 1, "f": 0.1}}]
    write_archive(tmp_path / "a.k2p", content)
    with ArchiveReader(tmp_path / "a.k2p") as reader:
        assert list(reader.iter_records("cards"))[0]["raw"] == {"n": 2 ** 70 + 1, "f": 0.1}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2 ** 80), max_value=2 ** 80)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=20)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payloads=st.lists(st.dictionaries(st.text(), json_values, max_size=6), min_size=0, max_size=25),
       blob_data=st.lists(st.binary(max_size=512), max_size=4))
def test_property_round_trip_arbitrary_unicode(tmp_path_factory: pytest.TempPathFactory,
                                               payloads: list[dict], blob_data: list[bytes]) -> None:
    root = tmp_path_factory.mktemp("prop") / "p.k2p"
    writer = ArchiveWriter(root)
    records = [{"kind": "thing", "id": str(n), "raw": payload} for n, payload in enumerate(payloads)]
    things = writer.records("things")
    for record in records:
        things.write(record)
    refs = [writer.blobs.put_bytes(data) for data in blob_data]
    writer.finalize(source=SOURCE, exporter_version="t", created_at=FIXED_TIME)
    with ArchiveReader(root) as reader:
        assert list(reader.iter_records("things")) == records
        for ref, data in zip(refs, blob_data):
            with reader.open_blob(ref.sha256) as handle:
                assert handle.read() == data
    assert verify_archive(root).ok
    assert (root / MANIFEST).exists()
