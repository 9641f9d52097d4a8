"""Export benchmark: API requests per card, sustained rate under a limit, peak RSS of the exporter.

    python benchmarks/export_bench.py [--scale large] [--limit 100] [--workdir bench-work]

Serves a simulated company (``large``: about 5,600 cards) and measures in the same run:
  * requests per card of `k2p export` next to a naive crawl (written here) that calls every
    per-card endpoint (card, comments, time-logs, location-history, members, tags, children,
    parents, blockers, external-links, files, checklists);
  * the sustained API request rate of `k2p export --rps L` against a simulator that grants L
    requests per second, as a fraction of L, and the number of 429 answers;
  * peak RSS of the `k2p export` process at two company sizes (flat means streaming);
  * requests per card with and without the opt-in collections (``--with-activity``,
    ``--with-baselines``), and what the complete-backup units (documents, audit logs, space
    settings, service desk) add (``--extras-only`` runs just this part).
Prints one line per measurement; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

from k2p.testing.kaiten.company import generate_company
from k2p.testing.kaiten.sim import KaitenSimulator, SimEvent

K2P = str(Path(sys.executable).with_name("k2p"))
PER_CARD = ("", "/comments", "/time-logs", "/location-history", "/members", "/tags", "/children",
            "/parents", "/blockers", "/external-links", "/files", "/checklists")


class Arrivals:
    """``on_request`` hook: arrival time and path of API requests (the log is written after answering)."""

    def __init__(self) -> None:
        self.events: list[tuple[float, str]] = []
        self._lock = threading.Lock()

    def __call__(self, event: SimEvent) -> None:
        if event.stage == "arrived" and event.origin == "api":
            with self._lock:
                self.events.append((event.time, event.path))


def vm_hwm_mib(pid: int) -> float:
    """Peak resident memory of a running process (``VmHWM``), 0 once it has exited.

    ``ru_maxrss`` from ``wait4`` would not do: Linux carries the forking parent's high-water mark
    across ``exec``, so a child of this (large) benchmark process would report the parent's size.
    """
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    return next((int(line.split()[1]) / 1024 for line in status.splitlines() if line.startswith("VmHWM:")), 0.0)


def run_export(sim: KaitenSimulator, out: Path, rps: float, *extra: str) -> tuple[float, float, dict[str, Any]]:
    """Run `k2p export` in a child process; returns (seconds, peak RSS in MiB, export report)."""
    shutil.rmtree(out, ignore_errors=True)
    env = {**os.environ, "K2P_KAITEN_TOKEN": sim.company.admin_token}
    command = [K2P, "export", "--kaiten-url", sim.base_url, "--out", str(out), "--rps", str(rps), "--json", *extra]
    with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
        started = time.perf_counter()
        child = subprocess.Popen(command, env=env, stdout=stdout, stderr=stderr)
        peak = 0.0
        while child.poll() is None:
            peak = max(peak, vm_hwm_mib(child.pid))
            time.sleep(0.05)
        seconds = time.perf_counter() - started
        stdout.seek(0)
        stderr.seek(0)
        if child.returncode != 0:
            raise SystemExit(f"k2p export failed: {stderr.read().decode(errors='replace')}")
        return seconds, peak, json.loads(stdout.read())


def naive_crawl(sim: KaitenSimulator, workers: int = 8) -> tuple[int, int]:
    """Every card of every board, every per-card endpoint; returns (requests, cards)."""
    base = sim.base_url + "/api/latest"
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {sim.company.admin_token}"
    count = Counter[str]()
    lock = threading.Lock()

    def get(path: str, **params: Any) -> Any:
        with lock:
            count["requests"] += 1
        response = session.get(base + path, params=params, timeout=60)
        return response.json() if response.status_code == 200 else None

    boards: set[int] = set()
    for space in get("/spaces"):
        boards.update(board["id"] for board in get(f"/spaces/{space['id']}/boards"))
    cards: list[int] = []
    for board in sorted(boards):
        for condition in (1, 2):
            offset = 0
            while True:
                page = get("/cards", board_id=board, condition=condition, offset=offset, limit=100)
                cards.extend(card["id"] for card in page)
                offset += len(page)
                if len(page) < 100:
                    break
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda path: get(path), [f"/cards/{card}{suffix}" for card in cards for suffix in PER_CARD]))
    return count["requests"], len(set(cards))


def sustained(times: list[float]) -> tuple[float, float]:
    """(requests per second over the whole run, median of the per-second counts)."""
    times = sorted(times)
    span = times[-1] - times[0]
    seconds = Counter(int(t - times[0]) for t in times)
    busy = sorted(seconds[s] for s in range(int(span)))
    return len(times) / span, busy[len(busy) // 2] if busy else 0.0


# API paths of the complete-backup units, by what they serve (k2p.kaiten.extras)
EXTRA_ROUTES = (("activity", re.compile(r"/cards/\d+/activity$")), ("baselines", re.compile(r"/cards/\d+/baselines$")),
                ("sla", re.compile(r"/cards/\d+/sla-rules-measurements$")),
                ("documents", re.compile(r"/(tree-entities|documents|document-groups)(/|$)")),
                ("space settings", re.compile(r"/spaces/[^/]+/(automations|webhooks|external-webhooks|"
                                              r"template-checklists|iterations)$")),
                ("company lists", re.compile(r"/(audit-logs|company/groups|service-desk/services)$")))


def extras(scale: str, workdir: Path) -> None:
    """(d) requests per card with and without the opt-in collections (unpaced simulator)."""
    runs = {}
    for label, options in (("default", ()), ("--with-activity", ("--with-activity",)),
                           ("--with-activity --with-baselines", ("--with-activity", "--with-baselines"))):
        arrivals = Arrivals()
        with KaitenSimulator(generate_company(scale), on_request=arrivals) as sim:
            _, _, report = run_export(sim, workdir / f"extras-{scale}.k2p", 1000, *options)
        paths = [path.split("/api/latest", 1)[-1] for _, path in arrivals.events]
        cards = report["collections"]["cards"]
        by_kind = Counter(next((kind for kind, pattern in EXTRA_ROUTES if pattern.search(path)), "cards and structure")
                          for path in paths)
        runs[label] = (len(paths), cards)
        detail = ", ".join(f"{kind} {count}" for kind, count in sorted(by_kind.items()))
        print(f"k2p export {label}: {len(paths)} API requests for {cards} cards = {len(paths) / cards:.3f} "
              f"requests/card ({detail})")
    base, _ = runs["default"]
    for label, (total, cards) in runs.items():
        if label != "default":
            print(f"RATIO {label} / default requests = {total / base:.2f} (+{(total - base) / cards:.3f} per card)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="large", choices=("small", "large"))
    parser.add_argument("--limit", type=float, default=100.0, help="simulator requests/s (= --rps)")
    parser.add_argument("--rss-scale", default="small", help="second company size for peak RSS")
    parser.add_argument("--workdir", type=Path, default=Path("bench-work"))
    parser.add_argument("--extras-only", action="store_true", help="only (d): the opt-in collections")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    print(f"machine: {os.cpu_count()} cpu(s), python {sys.version.split()[0]}")
    if args.extras_only:
        extras(args.scale, args.workdir)
        return

    company = generate_company(args.scale)
    cards = len(company.served_card_ids())
    print(f"company: {args.scale}, {cards} cards on {len(company.boards)} boards")

    # (a) requests per card: naive crawl (unpaced simulator)
    with KaitenSimulator(generate_company(args.scale)) as sim:
        started = time.perf_counter()
        naive_requests, naive_cards = naive_crawl(sim)
        naive_seconds = time.perf_counter() - started
    print(f"naive crawl: {naive_requests} API requests for {naive_cards} cards = "
          f"{naive_requests / naive_cards:.2f} requests/card ({naive_seconds:.0f} s unpaced)")

    # (b) + (a) k2p export at the simulator's limit; (c) its peak RSS
    arrivals = Arrivals()
    with KaitenSimulator(company, rps=args.limit, on_request=arrivals) as sim:
        seconds, rss_large, report = run_export(sim, args.workdir / f"export-{args.scale}.k2p", args.limit)
        stats = sim.stats.snapshot()
        log = sim.request_log.snapshot()
    api = len(arrivals.events)
    storage = sum(1 for entry in log if entry.origin == "storage")
    exported = report["collections"]["cards"]
    print(f"k2p export: {api} API requests for {exported} cards = {api / exported:.2f} requests/card "
          f"(+ {storage} file-storage downloads, not rate-limited)")
    print(f"RATIO naive / k2p requests per card = {(naive_requests / naive_cards) / (api / exported):.1f}")
    times = [moment for moment, _ in arrivals.events]
    rate, median = sustained(times)
    print(f"k2p export --rps {args.limit:g} vs limit {args.limit:g}/s: {seconds:.0f} s, sustained "
          f"{rate:.1f} req/s = {rate / args.limit:.0%} of the limit (median second: {median}); "
          f"429s: {stats['rate_limited']} = {stats['rate_limited'] / api:.2%} of API requests; "
          f"exporter final rate {report['rate']['final_rps']}")
    first_card = next(moment for moment, path in arrivals.events if re.search(r"/cards/\d+$", path))
    for phase, part in (("company + structure", [t for t in times if t < first_card]),
                        ("cards + files", [t for t in times if t >= first_card])):
        print(f"  {phase}: {len(part)} requests, {sustained(part)[0]:.1f} req/s")
    print(f"at {args.limit:g} req/s a naive crawl would need {naive_requests / args.limit / 60:.1f} min, "
          f"k2p export needs {api / args.limit / 60:.1f} min of API time")

    with KaitenSimulator(generate_company(args.rss_scale)) as sim:
        _, rss_small, small_report = run_export(sim, args.workdir / f"export-{args.rss_scale}.k2p", 1000)
    for scale, rss, done in ((args.rss_scale, rss_small, small_report), (args.scale, rss_large, report)):
        print(f"peak RSS of k2p export: {rss:.1f} MiB ({scale}, {done['collections']['cards']} cards, "
              f"{done['requests']['file_bytes'] / 2**20:.0f} MiB files)")
    extras(args.scale, args.workdir)


if __name__ == "__main__":
    main()
