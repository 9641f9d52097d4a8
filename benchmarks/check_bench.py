"""`k2p check` benchmark: time, GET requests per object and peak memory on a simulated company.

    python benchmarks/check_bench.py [--scale large] [--latency-ms 20] [--concurrency 1,4,8]

Exports a simulated Kaiten company, imports it into a Planka simulator (no added latency), then
adds ``--latency-ms`` to every request (a LAN-like round trip) and runs `k2p check` once per
concurrency value, counting the requests the simulator served (every one must be a GET). Peak
memory is read in child processes from their own VmHWM: the check of the whole company and the
check of its largest board alone — when memory is flat in the number of cards, they are close.
Nothing is asserted; the figures go to docs/PERFORMANCE.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from k2p.check import CheckOptions, run_check
from k2p.planka.client import Credentials
from k2p.planka.importer import ImportOptions, run_import
from k2p.testing.loopback import FaultPlan
from k2p.testing.planka.sim import PlankaSimulator

sys.path.insert(0, str(Path(__file__).resolve().parent))
from import_bench import export_company  # noqa: E402  (the same export as the import benchmark)

CHILD = """
import sys
from pathlib import Path
from k2p.check import CheckOptions, run_check
from k2p.planka.client import Credentials
boards = tuple(int(board) for board in sys.argv[5:])
outcome = run_check(CheckOptions(archive=Path(sys.argv[1]), planka_url=sys.argv[2], state=Path(sys.argv[3]),
                                 boards=boards), Credentials(api_key=sys.argv[4]))
peak = next(line for line in open("/proc/self/status") if line.startswith("VmHWM")).split()[1]
print(outcome.exit_code, peak)
"""


def peak_memory(archive: Path, url: str, ledger: Path, key: str, boards: list[str]) -> tuple[int, float]:
    """(exit code, peak RSS in MiB) of a check in a child process."""
    answer = subprocess.run([sys.executable, "-c", CHILD, str(archive), url, str(ledger), key, *boards],
                            capture_output=True, text=True, check=True).stdout.split()
    return int(answer[0]), int(answer[1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="large", choices=("tiny", "small", "large"))
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--concurrency", default="1,4,8")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="k2p-check-bench-"))
    try:
        archive, cards = export_company(args.scale, workdir)
        with PlankaSimulator(require_terms=False) as planka:
            key = planka.create_api_key(planka.admin_email)
            ledger = workdir / "ledger.sqlite"
            started = time.perf_counter()
            imported = run_import(ImportOptions(archive=archive, planka_url=planka.url, state=ledger,
                                                report=workdir / "import.json"), Credentials(api_key=key))
            print(f"machine: {os.cpu_count()} cpu(s), python {sys.version.split()[0]}; company {args.scale}: "
                  f"{cards} cards; imported in {time.perf_counter() - started:.1f} s "
                  f"({imported.tally.failed} failures); check latency {args.latency_ms:g} ms/request")
            planka.faults = FaultPlan(latency_ms=args.latency_ms)
            for level in [int(level) for level in args.concurrency.split(",")]:
                seen, writes = len(planka.request_log.snapshot()), planka.mutation_count()
                started = time.perf_counter()
                outcome = run_check(CheckOptions(archive=archive, planka_url=planka.url, state=ledger,
                                                 concurrency=level), Credentials(api_key=key))
                seconds = time.perf_counter() - started
                served = planka.request_log.snapshot()[seen:]
                gets = sum(1 for entry in served if entry.method == "GET")
                objects = sum(row["expected"] for row in outcome.report["counts"].values())
                files = outcome.report["files"]
                print(f"concurrency {level:2d}: {seconds:6.1f} s, exit {outcome.exit_code}, {objects} objects "
                      f"({objects / seconds:,.0f}/s), {len(served)} requests ({gets} GET, "
                      f"{planka.mutation_count() - writes} writes), RATIO requests/object = "
                      f"{len(served) / objects:.3f}, requests/card = {len(served) / cards:.2f}, "
                      f"files hashed {files.get('hashed', 0)} ({files.get('bytes', 0) / 2**20:.1f} MiB)")
            planka.faults = None
            largest = max(_boards(archive), key=lambda pair: pair[1])
            whole = peak_memory(archive, planka.url, ledger, key, [])
            alone = peak_memory(archive, planka.url, ledger, key, [largest[0]])
            print(f"peak RSS: whole company {whole[1]:.1f} MiB (exit {whole[0]}); largest board alone "
                  f"({largest[1]} cards) {alone[1]:.1f} MiB (exit {alone[0]}); RATIO = {whole[1] / alone[1]:.2f}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _boards(archive: Path) -> list[tuple[str, int]]:
    """(board id, cards) of every board of the archive."""
    from k2p.archive.index import ArchiveIndex
    from k2p.archive.reader import ArchiveReader

    with ArchiveReader(archive) as reader, ArchiveIndex(reader) as index:
        return [(board_id, len(index.board(board_id).cards)) for board_id in index.company.boards]


if __name__ == "__main__":
    main()
