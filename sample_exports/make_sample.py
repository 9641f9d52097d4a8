"""Regenerate the committed sample archive ``sample_exports/acme-tiny.k2p``.

    python sample_exports/make_sample.py

Serves the simulated ``tiny`` company (seed 0) on loopback, runs ``k2p export`` into
``acme-tiny.k2p`` (the old copy is deleted first), then checks the result with ``k2p verify`` and
``sha256sum -c SHA256SUMS``. Files above ``--max-file-size`` (1 MB) are left out to keep the sample
small; they are listed in ``missing.jsonl.zst`` with reason ``too_large``. The records hold the
simulator's URLs, whose ports are random: every regeneration differs in those bytes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from k2p.testing.kaiten.company import generate_company
from k2p.testing.kaiten.sim import KaitenSimulator

HERE = Path(__file__).resolve().parent
TARGET = HERE / "acme-tiny.k2p"
MAX_FILE_SIZE = 1_000_000
K2P = str(Path(sys.executable).with_name("k2p"))


def k2p(*args: str, token: str | None = None) -> None:
    env = {**os.environ, **({"K2P_KAITEN_TOKEN": token} if token else {})}
    subprocess.run([K2P, *args], env=env, check=True)


def main() -> int:
    shutil.rmtree(TARGET, ignore_errors=True)
    company = generate_company("tiny", seed=0)
    with KaitenSimulator(company, idle_timeout=120) as sim:
        k2p("export", "--kaiten-url", sim.base_url, "--out", str(TARGET), "--rps", "1000",
            "--max-file-size", str(MAX_FILE_SIZE), token=company.admin_token)
    k2p("verify", str(TARGET))
    subprocess.run(["sha256sum", "--quiet", "-c", "SHA256SUMS"], cwd=TARGET, check=True)
    size = sum(path.stat().st_size for path in TARGET.rglob("*") if path.is_file())
    print(f"{TARGET.relative_to(HERE.parent)}: {size / 1e6:.2f} MB, verified")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
