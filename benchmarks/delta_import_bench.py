"""Delta import benchmark: what the second pass of a cutover costs against the first.

    python benchmarks/delta_import_bench.py [--scale small] [--per-kind 10] [--latency-ms 5]

Exports a simulated Kaiten company and imports it into a Planka simulator (adding ``--latency-ms``
to every request), applies one round of work (``evolve_company``: ``--per-kind`` cards each edited,
commented, moved, checked, filed, time-logged, deleted and created, a new board, a deactivated
user), exports again with ``--since`` and imports that with the same ledger. Prints requests
(reads and writes) and wall time of both imports and their ratios. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from k2p.kaiten.export import run_export
from k2p.kaiten.options import ExportOptions
from k2p.planka.client import Credentials
from k2p.planka.importer import ImportOptions, run_import
from k2p.testing.kaiten.changes import evolve_company
from k2p.testing.kaiten.company import generate_company
from k2p.testing.kaiten.sim import KaitenSimulator
from k2p.testing.loopback import FaultPlan
from k2p.testing.planka.sim import PlankaSimulator


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="small")
    parser.add_argument("--per-kind", type=int, default=10)
    parser.add_argument("--latency-ms", type=float, default=5.0)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="k2p-delta-bench-"))
    company = generate_company(args.scale)
    first, second, ledger = work / "first.k2p", work / "second.k2p", work / "ledger.sqlite"
    with KaitenSimulator(company) as kaiten, \
            PlankaSimulator(require_terms=False, faults=FaultPlan(latency_ms=args.latency_ms)) as planka:
        run_export(ExportOptions(kaiten_url=kaiten.base_url, out=first, rps=1000), company.admin_token, restart=True)
        key = planka.create_api_key(planka.admin_email)
        rows = []
        for label, archive in (("first import", first), ("delta import", second)):
            if archive is second:
                log = evolve_company(company, per_kind=args.per_kind)
                run_export(ExportOptions(kaiten_url=kaiten.base_url, out=second, rps=1000, since=first),
                           company.admin_token, restart=True)
            reads, writes = planka.request_log.count(lambda item: not item.mutating), planka.mutation_count()
            started = time.perf_counter()
            outcome = run_import(ImportOptions(archive=archive, planka_url=planka.url, state=ledger,
                                               report=work / f"{label.replace(' ', '-')}.json"), Credentials(api_key=key))
            seconds = time.perf_counter() - started
            rows.append((label, planka.request_log.count(lambda item: not item.mutating) - reads,
                         planka.mutation_count() - writes, seconds, outcome.tally.failed))
        cards = len(company.cards)
    print(f"scale {args.scale}: {cards} cards, {len(log.changed_cards())} changed, latency {args.latency_ms} ms")
    print(f"{'':14} {'reads':>8} {'writes':>8} {'seconds':>8} {'failed':>7}")
    for label, reads, writes, seconds, failed in rows:
        print(f"{label:14} {reads:8d} {writes:8d} {seconds:8.1f} {failed:7d}")
    (_, r1, w1, s1, _), (_, r2, w2, s2, _) = rows
    print(f"delta / first: requests {(r2 + w2) / (r1 + w1):.1%}, time {s2 / s1:.1%}")


if __name__ == "__main__":
    main()
