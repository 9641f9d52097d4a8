"""Import benchmark: cards per second (with all their content) at several --concurrency values.

    python benchmarks/import_bench.py [--scale small] [--latency-ms 20] [--concurrency 1,4,8,16]

Exports a simulated Kaiten company once, then imports it into a fresh Planka simulator that adds
``--latency-ms`` to every request (a LAN-like round trip), once per concurrency value, and prints
cards/s and the speed-up over concurrency 1. When K2P_LIVE_PLANKA_URL (and K2P_LIVE_PLANKA_API_KEY)
are set, the same imports also run against that live Planka (each with a fresh ledger, so each run
creates new projects there). Nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

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


def timed_import(url: str, key: str, archive: Path, workdir: Path, concurrency: int) -> tuple[float, int]:
    """Seconds and mutating objects of one import with a fresh ledger."""
    state = workdir / f"ledger-{concurrency}-{time.monotonic_ns()}.sqlite"
    options = ImportOptions(archive=archive, planka_url=url, state=state, concurrency=concurrency,
                            report=state.with_suffix(".json"))
    started = time.perf_counter()
    outcome = run_import(options, Credentials(api_key=key))
    seconds = time.perf_counter() - started
    if outcome.tally.failed:
        sys.exit(f"import at concurrency {concurrency} had {outcome.tally.failed} failures")
    return seconds, sum(row["created"] for row in outcome.report["counts"].values())


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
    args = parser.parse_args()
    levels = [int(level) for level in args.concurrency.split(",")]
    workdir = Path(tempfile.mkdtemp(prefix="k2p-import-bench-"))
    try:
        archive, cards = export_company(args.scale, workdir)
        print(f"machine: {os.cpu_count()} cpu(s), python {sys.version.split()[0]}; "
              f"company {args.scale}: {cards} cards; simulator latency {args.latency_ms:g} ms/request")
        results = {}
        for level in levels:
            with PlankaSimulator(require_terms=False, faults=FaultPlan(latency_ms=args.latency_ms)) as planka:
                results[level] = timed_import(planka.url, planka.create_api_key(planka.admin_email), archive,
                                              workdir, level)
        report("simulator", results, cards)
        live_url, live_key = os.environ.get("K2P_LIVE_PLANKA_URL"), os.environ.get("K2P_LIVE_PLANKA_API_KEY")
        if live_url and live_key:
            live = {level: timed_import(live_url, live_key, archive, workdir, level) for level in levels}
            report("live Planka", live, cards)
        else:
            print("live Planka: not measured (set K2P_LIVE_PLANKA_URL and K2P_LIVE_PLANKA_API_KEY)")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
