"""Air-gap benchmark: peak memory and throughput of pack / verify / unpack on volume sets, plain
and age-encrypted, for archives of two sizes (flat memory means streaming).

    python benchmarks/volumes_bench.py [--sizes-mb 250 1000] [--volume-size 100M] [--workdir bench-volumes]

Each size builds an archive of incompressible blobs (45 MB each) plus 20 000 card records, then
runs every command as a separate process and reads that process's own peak RSS (VmHWM from
/proc/self/status, printed by the child just before it exits). Prints one line per measurement;
nothing is asserted.
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
from k2p.archive.writer import ArchiveWriter

SOURCE = SourceInfo(base_url="https://bench.kaiten.example/api/latest", company_id=1)
CHILD = """
import sys
from k2p.cli import main
code = 0
try:
    main(sys.argv[1:], standalone_mode=False)
except SystemExit as exc:
    code = exc.code or 0
for line in open("/proc/self/status"):
    if line.startswith("VmHWM:"):
        sys.stderr.write("VMHWM " + line.split()[1] + "\\n")
sys.exit(code)
"""


def build(root: Path, megabytes: int) -> None:
    writer = ArchiveWriter(root)
    cards = writer.records("cards")
    for n in range(20_000):
        cards.write({"kind": "card", "id": str(n), "ref": {"board_id": str(n % 50)},
                     "raw": {"id": n, "title": f"Card {n}", "description": f"Line {n}\n" * 10}})
    blob = 45 << 20
    for _ in range(max(1, (megabytes << 20) // blob)):
        writer.blobs.put_bytes(os.urandom(blob))
    writer.finalize(source=SOURCE, exporter_version="bench", created_at="2026-12-01T00:00:00Z", scope={})


def child(args: list[str], env: dict[str, str]) -> tuple[float, int, int]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", CHILD, *args], capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - started
    peak = next((int(line.split()[1]) for line in done.stderr.splitlines() if line.startswith("VMHWM ")), -1)
    if done.returncode != 0:
        print(f"  FAILED ({done.returncode}): {' '.join(args)}\n{done.stdout}{done.stderr}", file=sys.stderr)
    return seconds, peak // 1024, done.returncode


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes-mb", type=int, nargs="+", default=[250, 1000])
    parser.add_argument("--volume-size", default="100M")
    parser.add_argument("--workdir", type=Path, default=Path("bench-volumes"))
    options = parser.parse_args()
    from pyrage import x25519

    identity = x25519.Identity.generate()
    shutil.rmtree(options.workdir, ignore_errors=True)
    options.workdir.mkdir(parents=True)
    key = options.workdir / "key.txt"
    key.write_text(f"{identity}\n")
    key.chmod(0o600)
    env = {**os.environ}
    print(f"volume size {options.volume_size}; peak RSS is each child's own VmHWM")
    for size in options.sizes_mb:
        work = options.workdir / f"{size}mb"
        work.mkdir()
        root = work / "acme.k2p"
        build(root, size)
        total = sum(path.stat().st_size for path in root.rglob("*") if path.is_file())
        mb = total / 1e6
        steps = [
            ("pack --volume-size", ["pack", str(root), "--volume-size", options.volume_size]),
            ("verify first volume (full)", ["verify", str(work / "acme.k2p.tar.001")]),
            ("pack --volume-size --encrypt-to", ["pack", str(root), "-o", str(work / "e.k2p.tar.age"),
                                                 "--volume-size", options.volume_size,
                                                 "--encrypt-to", str(identity.to_public())]),
            ("verify encrypted volumes (full)", ["verify", str(work / "e.k2p.volumes"), "--identity", str(key)]),
            ("unpack encrypted volumes", ["unpack", str(work / "e.k2p.volumes"), "-o", str(work / "out.k2p"),
                                          "--identity", str(key)]),
        ]
        for name, args in steps:
            seconds, peak_mb, code = child(args, env)
            print(f"{size:>5} MB archive ({mb:.0f} MB on disk)  {name:<34} {seconds:6.1f} s  "
                  f"{mb / seconds:6.0f} MB/s  peak RSS {peak_mb:4d} MB" + ("" if code == 0 else f"  exit {code}"))
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
