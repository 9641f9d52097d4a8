"""Incremental export benchmark: `k2p export --since` next to a full export of the same moment.

    python benchmarks/export_delta_bench.py [--scale large] [--rps 50] [--changed 0.02]
                                            [--workdir bench-work]

Serves a simulated company (``large``: about 5,600 cards), exports it fully, lets
``k2p.testing.kaiten_changes.evolve_company`` change about ``--changed`` of its cards (edits,
comments, moves, checked items, files, time logs, deletions, new cards; plus a new board and a
deactivated user), then runs, one after the other at the same ``--rps`` against a simulator that
grants that rate:
  * a fresh full export (the cost the delta replaces),
  * `k2p export --since` the first archive.
Prints the API requests, storage downloads and wall time of each, the delta's share of the full
export's (target: at most 5 % of requests and of time), what the delta carried over and re-read,
and whether the two archives hold the same records. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from k2p.archive import collections as C
from k2p.archive.reader import ArchiveReader
from k2p.testing.kaiten_changes import evolve_company, per_kind_for
from k2p.testing.kaiten_company import generate_company
from k2p.testing.kaiten_sim import KaitenSimulator, SimEvent

K2P = str(Path(sys.executable).with_name("k2p"))


class Counts:
    """``on_request`` hook counting arrivals per origin."""

    def __init__(self) -> None:
        self.api = self.storage = 0
        self._lock = threading.Lock()

    def __call__(self, event: SimEvent) -> None:
        if event.stage == "arrived":
            with self._lock:
                if event.origin == "api":
                    self.api += 1
                else:
                    self.storage += 1


def run_export(sim: KaitenSimulator, out: Path, rps: float, *extra: str) -> tuple[float, Counts, dict[str, Any]]:
    """`k2p export` in a child process; returns (seconds, requests, report)."""
    shutil.rmtree(out, ignore_errors=True)
    counts = Counts()
    sim.on_request = counts
    env = {**os.environ, "K2P_KAITEN_TOKEN": sim.company.admin_token}
    command = [K2P, "export", "--kaiten-url", sim.base_url, "--out", str(out), "--rps", str(rps), "--json", *extra]
    try:
        started = time.perf_counter()
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - started
    finally:
        sim.on_request = None
    if done.returncode != 0:
        raise SystemExit(f"k2p export failed: {done.stderr}")
    return seconds, counts, json.loads(done.stdout)


def same_records(first: Path, second: Path) -> bool:
    with ArchiveReader(first) as a, ArchiveReader(second) as b:
        names = [c.name for c in C.ALL if c is not C.DELETED_CARDS] + ["missing"]
        return all(list(a.iter_record_lines(name)) == list(b.iter_record_lines(name))
                   for name in names if a.has_collection(name) or name == "missing")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="large", choices=("tiny", "small", "large"))
    parser.add_argument("--rps", type=float, default=50.0, help="simulator limit and --rps of both exports")
    parser.add_argument("--changed", type=float, default=0.02, help="share of cards changed between exports")
    parser.add_argument("--workdir", type=Path, default=Path("bench-work"))
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    print(f"machine: {os.cpu_count()} cpu(s), python {sys.version.split()[0]}")

    company = generate_company(args.scale)
    with KaitenSimulator(company, idle_timeout=3600) as sim:
        before = args.workdir / "delta-before.k2p"
        seconds, counts, _ = run_export(sim, before, 1000)
        cards = len(company.served_card_ids())
        print(f"company: {args.scale}, {cards} cards; first full export {counts.api} API requests "
              f"(unpaced, {seconds:.1f} s)")
        log = evolve_company(company, per_kind=per_kind_for(company, args.changed))
        changed = len(log.changed_cards()) + len(log.deleted)
        print(f"changes: {changed} cards ({100 * changed / cards:.1f} %): edited {len(log.edited)}, commented "
              f"{len(log.commented)}, moved {len(log.moved)}, checked {len(log.checked)}, files {len(log.filed)}, "
              f"time logs {len(log.time_logged)}, deleted {len(log.deleted)}, new {len(log.created)}, "
              f"new board with {len(log.new_board_cards)}, deactivated user {log.deactivated_user}")

        sim.reconfigure(rps=args.rps)
        full_s, full, _ = run_export(sim, args.workdir / "delta-full.k2p", args.rps)
        delta_s, delta, report = run_export(sim, args.workdir / "delta-since.k2p", args.rps,
                                            "--since", str(before))
    chain = report["chain"]
    print(f"full export   --rps {args.rps:g}: {full.api} API requests, {full.storage} downloads, {full_s:.1f} s")
    print(f"delta export  --rps {args.rps:g}: {delta.api} API requests, {delta.storage} downloads, {delta_s:.1f} s")
    print(f"delta / full: requests {100 * delta.api / full.api:.1f} %, time {100 * delta_s / full_s:.1f} % "
          f"(target <= 5 % each)")
    print(f"re-read: {json.dumps(chain['reread'], sort_keys=True)}")
    print(f"carried over: {json.dumps(chain['carried_over'], sort_keys=True)}")
    print(f"same records as the full export: {same_records(args.workdir / 'delta-full.k2p', args.workdir / 'delta-since.k2p')}")


if __name__ == "__main__":
    main()
