"""Archive benchmark: write/read throughput, verify vs `sha256sum -c`, peak RSS of the writer.

    python benchmarks/archive_bench.py [--records 1000000] [--blob-mb 900] [--workdir bench-work]

Builds an archive of many small records plus some large incompressible blobs (≥ 1 GB on disk with
the defaults), then measures in the same run:
  * write throughput (records/s and MB/s of raw JSON) and read throughput,
  * `k2p verify` (full) time as a ratio to `sha256sum -c SHA256SUMS` on the same archive
    (ratio > 1 means k2p is faster; both measured warm, best of two),
  * peak RSS of a separate process writing N records, for several N (flat means streaming).
Prints one line per measurement; nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from k2p.archive.format import SourceInfo
from k2p.archive.reader import ArchiveReader
from k2p.archive.verify import verify_archive
from k2p.archive.writer import ArchiveWriter

SOURCE = SourceInfo(base_url="https://bench.kaiten.example/api/latest", company_id=1)


def make_record(n: int) -> dict:
    return {"kind": "card", "id": str(n), "ref": {"board_id": str(n % 97)},
            "raw": {"id": n, "title": f"Card number {n} — ünïcödé", "sort_order": n / 7,
                    "description": f"Line {n}\n" * 12, "tags": [{"id": n % 50, "name": f"t{n % 50}"}],
                    "properties": {"id_1": n % 3, "id_2": "text value", "id_3": [n, n + 1]}}}


def write_records(root: Path, count: int, blob_mb: int, blob_size_mb: int = 45) -> tuple[float, int]:
    """Write ``count`` records and ``blob_mb`` MB of random blobs; return (seconds, raw JSON bytes)."""
    from k2p.archive.records import encode_record

    writer = ArchiveWriter(root)
    raw_bytes = 0
    started = time.perf_counter()
    cards = writer.records("cards")
    for n in range(count):
        record = make_record(n)
        cards.write(record)
        if n % 1000 == 0:
            raw_bytes += len(encode_record(record)) * min(1000, count - n)
        if n % 50_000 == 49_999:
            writer.checkpoint()
    remaining = blob_mb
    while remaining > 0:
        size = min(blob_size_mb, remaining)
        with writer.blobs.sink() as sink:
            for _ in range(size):
                sink.write(os.urandom(1 << 20))
        remaining -= size
    writer.finalize(source=SOURCE, exporter_version="bench", created_at="2026-01-01T00:00:00Z")
    return time.perf_counter() - started, raw_bytes


def peak_rss_of_writer(workdir: Path, count: int) -> float:
    """Peak RSS in MiB of a fresh process that writes ``count`` records.

    The child reports its own ``VmHWM``: ``ru_maxrss`` from ``wait4`` would not do, because Linux
    carries the forking parent's high-water mark across ``exec``.
    """
    target = workdir / f"rss-{count}.k2p"
    shutil.rmtree(target, ignore_errors=True)
    code = (f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r});"
            f"from archive_bench import write_records; from pathlib import Path;"
            f"write_records(Path({str(target)!r}), {count}, 0);"
            f"print(next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM:')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    shutil.rmtree(target, ignore_errors=True)
    return int(result.stdout.split()[-1]) / 1024  # VmHWM is in KiB


def dir_size(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def best_of(runs: int, action) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--blob-mb", type=int, default=1000)
    parser.add_argument("--workdir", type=Path, default=Path("bench-work"))
    parser.add_argument("--rss-counts", default="250000,500000,1000000")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    root = args.workdir / "bench.k2p"
    shutil.rmtree(root, ignore_errors=True)

    print(f"machine: {os.cpu_count()} cpu(s), python {sys.version.split()[0]}")
    seconds, raw = write_records(root, args.records, args.blob_mb)
    size = dir_size(root)
    print(f"archive: {args.records} records + {args.blob_mb} MiB blobs = {size / 1e9:.2f} GB on disk")
    print(f"write: {seconds:.1f} s total (records and blobs)")
    record_only = args.workdir / "records-only.k2p"
    shutil.rmtree(record_only, ignore_errors=True)
    rec_seconds, raw = write_records(record_only, args.records, 0)
    print(f"write records: {args.records / rec_seconds:,.0f} records/s, {raw / 1e6 / rec_seconds:.1f} MB/s raw JSON")

    def read_all() -> None:
        with ArchiveReader(root) as reader:
            for _ in reader.iter_records("cards"):
                pass
    read_seconds = best_of(1, read_all)
    print(f"read records: {args.records / read_seconds:,.0f} records/s, {raw / 1e6 / read_seconds:.1f} MB/s raw JSON")

    sha = shutil.which("sha256sum")
    verify_time = best_of(2, lambda: verify_archive(root, level="full"))
    report = verify_archive(root, level="full")
    print(f"k2p verify (full): {verify_time:.2f} s, {size / 1e6 / verify_time:.0f} MB/s, status {report.status}")
    if sha:
        sha_time = best_of(2, lambda: subprocess.run([sha, "-c", "--quiet", "SHA256SUMS"], cwd=root, check=True))
        print(f"sha256sum -c: {sha_time:.2f} s, {size / 1e6 / sha_time:.0f} MB/s")
        print(f"RATIO verify speed / sha256sum speed = {sha_time / verify_time:.2f} (target >= 1.0)")
    for count in [int(c) for c in args.rss_counts.split(",") if c]:
        print(f"peak RSS writing {count:,} records: {peak_rss_of_writer(args.workdir, count):.1f} MiB")
    shutil.rmtree(record_only, ignore_errors=True)


if __name__ == "__main__":
    main()
