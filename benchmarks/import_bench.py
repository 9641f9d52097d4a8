"""Import benchmark: cards per second (with all their content) at several --concurrency values.

    python benchmarks/import_bench.py [--scale small] [--latency-ms 20] [--concurrency 1,4,8,16] [--repeat 1]

Exports a simulated Kaiten company once, then imports it into a fresh Planka simulator that adds
``--latency-ms`` to every request (a LAN-like round trip), once per concurrency value, and prints
cards/s and the speed-up over concurrency 1 (the best of ``--repeat`` runs), and the exact request
counts of one import: requests and writes per card and per created object. When
K2P_LIVE_PLANKA_URL and K2P_LIVE_PLANKA_API_KEY (or K2P_LIVE_PLANKA_USER and
K2P_LIVE_PLANKA_PASSWORD) are set, the same imports also run against that live Planka (each with a
fresh ledger, so each run creates new projects there). Nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

from k2p.kaiten.export import run_export
from k2p.kaiten.options import ExportOptions
from k2p.planka.client import Credentials
from k2p.planka.importer import ImportOptions, run_import
from k2p.testing.kaiten.company import generate_company
from k2p.testing.kaiten.sim import KaitenSimulator
from k2p.testing.loopback import FaultPlan
from k2p.testing.planka.sim import PlankaSimulator


def export_company(scale: str, workdir: Path) -> tuple[Path, int]:
    company = generate_company(scale)
    archive = workdir / f"{scale}.k2p"
    with KaitenSimulator(company) as sim:
        outcome = run_export(ExportOptions(kaiten_url=sim.base_url, out=archive, rps=1000), company.admin_token,
                             restart=True)
    return archive, outcome.report["collections"]["cards"]


def timed_import(url: str, credentials: Credentials, archive: Path, workdir: Path,
                 concurrency: int) -> tuple[float, int]:
    """Seconds and created objects of one import with a fresh ledger."""
    state = workdir / f"ledger-{concurrency}-{time.monotonic_ns()}.sqlite"
    options = ImportOptions(archive=archive, planka_url=url, state=state, concurrency=concurrency,
                            report=state.with_suffix(".json"))
    started = time.perf_counter()
    outcome = run_import(options, credentials)
    seconds = time.perf_counter() - started
    if outcome.tally.failed:
        sys.exit(f"import at concurrency {concurrency} had {outcome.tally.failed} failures")
    return seconds, sum(row["created"] for row in outcome.report["counts"].values())


def best_of(repeat: int, run: Callable[[], tuple[float, int]]) -> tuple[float, int]:
    """The fastest of ``repeat`` runs (the machine may be shared: the minimum is the least disturbed)."""
    return min((run() for _ in range(repeat)), key=lambda result: result[0])


def simulated(archive: Path, workdir: Path, latency_ms: float, level: int) -> tuple[float, int, int, int]:
    """One import into a fresh simulator: seconds, created objects, requests, mutating requests."""
    with PlankaSimulator(require_terms=False, faults=FaultPlan(latency_ms=latency_ms)) as planka:
        key = planka.create_api_key(planka.admin_email)
        planka.request_log.clear()
        seconds, objects = timed_import(planka.url, Credentials(api_key=key), archive, workdir, level)
        return seconds, objects, len(planka.request_log), planka.mutation_count()


def report(label: str, results: dict[int, tuple[float, int]], cards: int) -> None:
    base = cards / results[min(results)][0]
    for concurrency, (seconds, objects) in sorted(results.items()):
        rate = cards / seconds
        print(f"{label} concurrency {concurrency:2d}: {seconds:6.1f} s, {rate:6.1f} cards/s, "
              f"{objects / seconds:6.0f} objects/s, RATIO to concurrency {min(results)} = {rate / base:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="small", choices=("tiny", "small", "large"))
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--concurrency", default="1,4,8,16")
    parser.add_argument("--repeat", type=int, default=1, help="timing runs per concurrency; the best is shown")
    parser.add_argument("--keep", type=Path, help="keep the archive, ledgers and reports in this new directory "
                        "(e.g. to delete the live imports' projects afterwards)")
    args = parser.parse_args()
    levels = [int(level) for level in args.concurrency.split(",")]
    if args.keep is not None:
        args.keep.mkdir(parents=True)
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="k2p-import-bench-"))
    try:
        archive, cards = export_company(args.scale, workdir)
        print(f"machine: {os.cpu_count()} cpu(s), python {sys.version.split()[0]}; "
              f"company {args.scale}: {cards} cards; simulator latency {args.latency_ms:g} ms/request")
        results, counted = {}, None
        for level in levels:
            runs = [simulated(archive, workdir, args.latency_ms, level) for _ in range(max(1, args.repeat))]
            results[level] = min(((run[0], run[1]) for run in runs), key=lambda result: result[0])
            counted = counted or runs[0]
        report("simulator", results, cards)
        assert counted is not None
        _, objects, requests, writes = counted
        print(f"requests of one import (exact): {requests} ({requests / cards:.1f} per card, "
              f"{requests / objects:.2f} per created object), of them {writes} writes "
              f"({writes / cards:.1f} per card, {writes / objects:.2f} per created object); "
              f"{objects} objects created ({objects / cards:.1f} per card)")
        live_url = os.environ.get("K2P_LIVE_PLANKA_URL")
        credentials = Credentials(api_key=os.environ.get("K2P_LIVE_PLANKA_API_KEY"),
                                  username=os.environ.get("K2P_LIVE_PLANKA_USER"),
                                  password=os.environ.get("K2P_LIVE_PLANKA_PASSWORD"))
        if live_url and (credentials.api_key or (credentials.username and credentials.password)):
            live = {level: best_of(max(1, args.repeat),
                                   lambda level=level: timed_import(live_url, credentials, archive, workdir, level))
                    for level in levels}
            report("live Planka", live, cards)
        else:
            print("live Planka: not measured (set K2P_LIVE_PLANKA_URL and K2P_LIVE_PLANKA_API_KEY, "
                  "or K2P_LIVE_PLANKA_USER and K2P_LIVE_PLANKA_PASSWORD)")
    finally:
        if args.keep is None:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
