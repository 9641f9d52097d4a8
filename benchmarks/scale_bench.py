"""Scale benchmark: peak memory, duration and throughput of every command from 5,000 cards upwards.

    nice -n 19 python benchmarks/scale_bench.py [--sizes 5000,20000] [--latency-ms 0] [--files]
    nice -n 19 python benchmarks/scale_bench.py --sides kaiten --sizes 5000,50000 --rps 100 --workdir W --keep
    nice -n 19 python benchmarks/scale_bench.py --sides planka --archives W --sizes 5000 --latency-ms 20
    nice -n 19 python benchmarks/scale_bench.py --sides planka --archives W --sizes 50000,100000 --steps dry-run
    nice -n 19 python benchmarks/scale_bench.py --sides planka --archives W --sizes 100000 --steps import,rerun

For each size the simulated ``huge`` company is rescaled to that many cards
(``generate_company("huge", cards=N)``: 200 boards, almost every card moved, half commented, 1 %
with threads of 100-400 comments) and served by the Kaiten simulator; a Planka simulator (with
``--latency-ms`` added to every request) receives the import. Each k2p command runs as its own
child process (``python -m k2p.cli``); its peak RSS is the child's own ``VmHWM`` from
``/proc/self/status``, written at exit (not ``ru_maxrss``, which would include this process).

The Kaiten side: export, verify, inspect, cat cards, browse (without files), a second export of the
evolved company with ``--since``, and diff of the two archives. The Planka side (from those
archives, or from ``--archives`` holding ``aN.k2p`` and ``bN.k2p``): import --dry-run, import (the
simulator's write rate is printed every minute), the no-op rerun (it finds the archive applied and
stops early) and the ``--recheck`` rerun (replans every board) with their mutating requests counted
(they must be 0), check, fixup-sql with and without ``--history``, and the re-import of the newer
archive. Prints one table per size and the ratios of the largest size to the smallest. Nothing is
asserted. File bytes are not downloaded unless ``--files`` (the archive would grow by about 40 KB
per card).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from k2p.archive.reader import ArchiveReader
from k2p.testing.kaiten.changes import evolve_company
from k2p.testing.kaiten.company import generate_company
from k2p.testing.kaiten.sim import KaitenSimulator
from k2p.testing.loopback import FaultPlan
from k2p.testing.planka.sim import PlankaSimulator

# Runs the k2p command line and writes the process's own VmHWM (kB) to $K2P_BENCH_HWM at exit.
CHILD = """
import atexit, os, sys
def _hwm():
    line = next(l for l in open('/proc/self/status') if l.startswith('VmHWM'))
    open(os.environ['K2P_BENCH_HWM'], 'w').write(line.split()[1])
atexit.register(_hwm)
from k2p.cli import main
sys.argv[0] = 'k2p'
main()
"""


def own_hwm_mb() -> float:
    line = next(line for line in open("/proc/self/status") if line.startswith("VmHWM"))
    return int(line.split()[1]) / 1024


def run(args: list[str], env: dict[str, str], workdir: Path, ok: tuple[int, ...] = (0,),
        planka: PlankaSimulator | None = None) -> tuple[float, float]:
    """Seconds and peak RSS (MB) of one k2p command in a child process; with ``planka``, the
    simulator's count of mutating requests is printed every minute (the rate as the run goes)."""
    hwm = workdir / "hwm"
    hwm.unlink(missing_ok=True)
    started = time.perf_counter()
    stop = threading.Event()
    if planka is not None:
        threading.Thread(target=_sample_writes, args=(planka, stop, started), daemon=True).start()
    done = subprocess.run([sys.executable, "-c", CHILD, *args], env={**env, "K2P_BENCH_HWM": str(hwm)},
                          cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - started
    stop.set()
    print(f"   k2p {' '.join(args[:2])}: {seconds:.1f} s, peak RSS {int(hwm.read_text()) / 1024 if hwm.exists() else 0:.1f} MB",
          flush=True)
    if done.returncode not in ok:
        sys.exit(f"k2p {args[0]} exited {done.returncode}: {done.stderr.strip()[-2000:]}")
    return seconds, int(hwm.read_text()) / 1024


def _sample_writes(planka: PlankaSimulator, stop: threading.Event, started: float) -> None:
    last, last_at = planka.mutation_count(), started
    while not stop.wait(60):
        now, count = time.perf_counter(), planka.mutation_count()
        print(f"   … {now - started:6.0f} s: {count} writes so far, {(count - last) / (now - last_at):.1f} writes/s "
              f"in the last minute", flush=True)
        last, last_at = count, now


STEPS = ("dry-run", "import", "rerun", "recheck", "check", "fixup", "reimport")


def measure(size: int, args: argparse.Namespace, workdir: Path) -> tuple[int, dict[str, tuple[float, float, int]]]:
    """Rows ``command -> (seconds, peak MB, units)`` for one company size."""
    rows: dict[str, tuple[float, float, int]] = {}
    given = args.archives is not None
    old = (args.archives or workdir) / f"a{size}.k2p"
    new = (args.archives or workdir) / f"b{size}.k2p"
    files = [] if args.files else ["--no-files"]
    sides = set(args.sides.split(","))
    base = dict(os.environ)
    if "kaiten" in sides:
        started = time.perf_counter()
        company = generate_company("huge", seed=0, cards=size)
        generated = time.perf_counter() - started
        cards = len(company.served_card_ids())  # reads without unpacking the compact card table
        print(f"\n== {cards} cards on {len(company.boards)} boards: simulator data generated in {generated:.1f} s "
              f"(benchmark process peak {own_hwm_mb():.0f} MB so far)", flush=True)
        base["K2P_KAITEN_TOKEN"] = company.admin_token
    else:
        with ArchiveReader(old) as reader:
            cards = reader.manifest.collections["cards"].records
        print(f"\n== {cards} cards in {old}", flush=True)
    if "kaiten" in sides:
        with KaitenSimulator(company) as kaiten:
            if given:
                sys.exit("--archives: the Kaiten side writes the archives itself; run it without --archives")
            rows["export"] = (*run(["export", "--kaiten-url", kaiten.base_url, "--out", str(old), "--rps",
                                    str(args.rps), *files], base, workdir), cards)
            rows["verify"] = (*run(["verify", str(old)], base, workdir), cards)
            rows["inspect"] = (*run(["inspect", str(old)], base, workdir), cards)
            rows["cat cards"] = (*run(["cat", str(old), "cards"], base, workdir), cards)
            rows["browse"] = (*run(["browse", str(old), "-o", str(workdir / f"site{size}"), "--no-files"],
                                   base, workdir), cards)
            evolve_company(company, per_kind=max(2, size // 1000), new_board=False)
            rows["export --since"] = (*run(["export", "--kaiten-url", kaiten.base_url, "--out", str(new), "--rps",
                                            str(args.rps), "--since", str(old), *files], base, workdir), cards)
            rows["diff"] = (*run(["diff", str(old), str(new)], base, workdir, ok=(0, 10)), cards)
    steps = set(args.steps.split(",")) if "planka" in sides else set()
    if "planka" in sides:
        with PlankaSimulator(require_terms=False, faults=FaultPlan(latency_ms=args.latency_ms)) as planka:
            env = {**base, "K2P_PLANKA_API_KEY": planka.create_api_key(planka.admin_email)}
            ledger_path = workdir / f"ledger{size}.sqlite"
            ledger = ["--state", str(ledger_path)]
            target = ["--planka-url", planka.url, "--concurrency", str(args.concurrency)]
            if "dry-run" in steps:
                rows["import --dry-run"] = (*run(["import", str(old), "--dry-run", *ledger], env, workdir), cards)
            if "import" in steps:
                rows["import"] = (*run(["import", str(old), *target, *ledger], env, workdir, planka=planka), cards)
                writes = planka.mutation_count()
                if "rerun" in steps:
                    rows["import (no-op rerun)"] = (*run(["import", str(old), *target, *ledger], env, workdir),
                                                    cards)
                if "recheck" in steps:
                    rows["import --recheck (no-op)"] = (*run(["import", str(old), *target, *ledger, "--recheck"],
                                                                 env, workdir), cards)
                rerun_writes = planka.mutation_count() - writes
                if "check" in steps:
                    rows["check"] = (*run(["check", str(old), "--planka-url", planka.url, *ledger], env, workdir,
                                          ok=(0, 11)), cards)
                if "fixup" in steps:
                    script = str(workdir / f"fixup{size}.sql")
                    rows["fixup-sql"] = (*run(["fixup-sql", str(old), *ledger, "-o", script, "--force"], env,
                                              workdir), cards)
                    rows["fixup-sql --history"] = (*run(["fixup-sql", str(old), *ledger, "-o", script, "--force",
                                                         "--history"], env, workdir), cards)
                    for script in (workdir / f"fixup{size}.sql", workdir / f"fixup{size}-undo.sql"):
                        script.unlink(missing_ok=True)
                if "reimport" in steps:
                    rows["re-import (newer archive)"] = (*run(["import", str(new), *target, *ledger], env, workdir),
                                                         cards)
    if "import" in steps:
        print(f"no-op reruns: {rerun_writes} mutating requests (import itself: {writes})")
        ledger_size = ledger_path.stat().st_size
        print(f"ledger: {ledger_size / 1e6:.1f} MB ({ledger_size / cards:.0f} bytes per card, "
              f"{ledger_size / max(1, writes):.0f} bytes per write of the import)")
    print(f"archive: {sum(p.stat().st_size for p in old.rglob('*') if p.is_file()) / 1e6:.1f} MB")
    for name, (seconds, peak, units) in rows.items():
        print(f"{name:27s} {seconds:8.1f} s {units / seconds:9.1f} cards/s   peak RSS {peak:7.1f} MB", flush=True)
    if not given and not args.keep:
        for path in (old, new, workdir / f"site{size}"):
            shutil.rmtree(path, ignore_errors=True)
    return cards, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="5000,20000", help="card budgets, comma-separated")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added to every Planka request")
    parser.add_argument("--rps", type=float, default=1000.0, help="export --rps")
    parser.add_argument("--concurrency", type=int, default=8, help="import --concurrency")
    parser.add_argument("--files", action="store_true", help="also download file bytes")
    parser.add_argument("--workdir", type=Path, help="keep ledgers here (a new directory)")
    parser.add_argument("--sides", default="kaiten,planka",
                        help="kaiten (export … diff), planka (import … re-import), or both")
    parser.add_argument("--archives", type=Path, help="with --sides planka: read aN.k2p / bN.k2p (full and "
                        "--since export of size N) from this directory instead of exporting them")
    parser.add_argument("--keep", action="store_true", help="keep the archives in --workdir")
    parser.add_argument("--steps", default=",".join(STEPS),
                        help=f"with --sides planka: which of {','.join(STEPS)} to run (without import only the "
                        f"dry run runs, for sizes whose real import is too long)")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    if args.workdir is not None:
        args.workdir.mkdir(parents=True)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="k2p-scale-bench-"))
    print(f"machine: {os.cpu_count()} cpu(s), python {sys.version.split()[0]}; Planka latency "
          f"{args.latency_ms:g} ms; export --rps {args.rps:g}; files {'on' if args.files else 'off'}")
    try:
        results = [measure(size, args, workdir) for size in sizes]
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    (small_cards, small), (big_cards, big) = results[0], results[-1]
    if len(results) > 1 and small:
        print(f"\nRATIOS {big_cards} / {small_cards} cards ({big_cards / small_cards:.1f}x the company):")
        for name in (name for name in small if name in big):
            (s_sec, s_peak, s_units), (b_sec, b_peak, b_units) = small[name], big[name]
            print(f"{name:27s} peak RSS x{b_peak / s_peak:5.2f}   throughput x{(b_units / b_sec) / (s_units / s_sec):5.2f}")


if __name__ == "__main__":
    main()
