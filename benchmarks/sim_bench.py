"""Kaiten simulator benchmark: how fast a big simulated company starts, and what it holds.

    python benchmarks/sim_bench.py --sizes 5000,50000,100000

For each size, in a child process of its own (so that peak memory is that size's alone): generate
``generate_company("huge", cards=N)``, start a ``KaitenSimulator`` (with its background warm-up),
and time the first answered request; then list 2,000 cards over 20 ``GET /cards`` pages of one
board after another and fetch 500 of them one by one, wait until the warm-up has built every
board, and read the process's own ``VmHWM``. Companies of 10,000 cards and more build their boards
lazily (:mod:`k2p.testing.kaiten.lazy`); ``--eager`` builds every board before serving instead.
Prints one row per size and the 100,000 / 5,000 ratios.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child(size: int, eager: bool) -> dict[str, float]:
    from k2p.testing.kaiten.company import generate_company
    from k2p.testing.kaiten.sim import KaitenSimulator

    began = time.perf_counter()
    company = generate_company("huge", seed=0, cards=size, lazy=not eager)
    generated = time.perf_counter() - began
    lazy = company.boards_lazy
    built_at_start = len(company.boards) if lazy is None else lazy.built
    with KaitenSimulator(company, idle_timeout=600) as sim:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {company.admin_token}"
        session.get(f"{sim.api_url}/users/current", timeout=600).raise_for_status()
        first = time.perf_counter() - began
        served = time.perf_counter()
        listed: list[int] = []
        for board_id in company.landmarks["boards"]:
            offset = 0
            while len(listed) < 2000:
                page = session.get(f"{sim.api_url}/cards", params={"board_id": board_id, "offset": offset,
                                                                   "limit": 100}, timeout=600).json()
                listed += [card["id"] for card in page]
                offset += len(page)
                if len(page) < 100:
                    break
            if len(listed) >= 2000:
                break
        for card_id in listed[:500]:
            session.get(f"{sim.api_url}/cards/{card_id}", timeout=600).raise_for_status()
        serving = time.perf_counter() - served
        while lazy is not None and lazy.built < len(lazy.state):
            time.sleep(0.2)
        warmed = time.perf_counter() - began
    return {"cards": len(company.served_card_ids()), "generated_s": generated, "first_answer_s": first,
            "serving_s": serving, "all_built_s": warmed, "peak_mb": peak_mb(),
            "boards_built_at_start": built_at_start}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="5000,50000,100000")
    parser.add_argument("--eager", action="store_true", help="build every board before serving")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.eager)))
        return 0
    rows = []
    for size in (int(text) for text in args.sizes.split(",")):
        out = subprocess.run([sys.executable, __file__, "--child", str(size), *(["--eager"] if args.eager else [])],
                             check=True, capture_output=True, text=True).stdout
        row = json.loads(out.strip().splitlines()[-1])
        rows.append(row)
        print(f"{row['cards']:>7} cards: generated {row['generated_s']:6.1f} s, first answer "
              f"{row['first_answer_s']:6.1f} s, 20 pages + 500 cards {row['serving_s']:5.1f} s, every board "
              f"built {row['all_built_s']:6.1f} s ({row['boards_built_at_start']} at start), peak RSS {row['peak_mb']:6.1f} MB", flush=True)
    if len(rows) > 1:
        small, big = rows[0], rows[-1]
        print(f"RATIOS {big['cards']} / {small['cards']} cards: first answer "
              f"{big['first_answer_s'] / small['first_answer_s']:.2f} x, peak RSS {big['peak_mb'] / small['peak_mb']:.2f} x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
