"""Run the exporter against the Kaiten simulator (in-process or as ``k2p export``) and read the result."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from k2p.archive.format import MISSING_FILE
from k2p.archive.reader import ArchiveReader
from k2p.archive.verify import verify_archive
from k2p.kaiten.export import ExportOutcome, run_export
from k2p.kaiten.options import ExportOptions
from k2p.testing.kaiten.company import KaitenCompany, generate_company
from k2p.testing.kaiten.sim import KaitenSimulator, SimEvent
from k2p.testing.loopback import LoggedRequest
from tests.helpers.archives import tree_bytes

K2P = str(Path(sys.executable).with_name("k2p"))
API_PREFIX = re.compile(r"^/api/(latest|v1)")
FAST = "1000"  # --rps for runs that do not test pacing


@contextmanager
def simulator(scale: str = "tiny", **kwargs: Any) -> Iterator[KaitenSimulator]:
    """A running simulator of a freshly generated company (stops by itself when forgotten)."""
    kwargs.setdefault("idle_timeout", 300)
    with KaitenSimulator(generate_company(scale), **kwargs) as sim:
        yield sim


def sim_fixture(scale: str) -> Callable[[], Iterator[KaitenSimulator]]:
    """A module-scoped ``sim`` fixture serving a fresh company of ``scale``."""
    @pytest.fixture(scope="module")
    def sim() -> Iterator[KaitenSimulator]:
        with simulator(scale) as running:
            yield running
    return sim


def token_of(sim: KaitenSimulator, kind: str = "admin") -> str:
    return sim.company.token_info(kind).token


def export(sim: KaitenSimulator, out: Path, token: str = "admin", *, restart: bool = False,
           **options: Any) -> ExportOutcome:
    """``run_export`` in this process (fast; the same code path the CLI calls)."""
    options.setdefault("rps", float(FAST))
    settings = ExportOptions(kaiten_url=sim.base_url, out=out, **options)
    return run_export(settings, token_of(sim, token), restart=restart)


def export_into(factory: pytest.TempPathFactory, sim: KaitenSimulator, name: str, **options: Any) -> Path:
    """Export in-process into a fresh temporary ``<name>/acme.k2p`` (for module fixtures)."""
    root = factory.mktemp(name) / "acme.k2p"
    export(sim, root, **options)
    return root


def export_company(factory: pytest.TempPathFactory, scale: str, name: str) -> Path:
    """Export a freshly generated company of ``scale`` into a temporary archive (module fixtures)."""
    with simulator(scale) as sim:
        return export_into(factory, sim, name)


def export_args(sim: KaitenSimulator, out: Path, *extra: str) -> list[str]:
    """Arguments of ``k2p export`` against ``sim`` (unpaced unless ``extra`` sets ``--rps``)."""
    rps = [] if "--rps" in extra else ["--rps", FAST]
    return ["export", "--kaiten-url", sim.base_url, "--out", str(out), *rps, *extra]


def cli_env(token: str | None) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("K2P_")}
    if token is not None:
        env["K2P_KAITEN_TOKEN"] = token
    return env


def run_cli(args: list[str], token: str | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``k2p ARGS`` to completion with the token in ``K2P_KAITEN_TOKEN``."""
    return subprocess.run([K2P, *args], env=cli_env(token), capture_output=True, text=True,
                          timeout=timeout, check=False)


def start_cli(args: list[str], token: str) -> subprocess.Popen[str]:
    """Start ``k2p ARGS`` in the background (output captured)."""
    return subprocess.Popen([K2P, *args], env=cli_env(token), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


# --- reading archives ---------------------------------------------------------------------------
def records(root: Path, collection: str) -> list[dict[str, Any]]:
    with ArchiveReader(root) as reader:
        return list(reader.iter_records(collection))


def by_id(root: Path, collection: str) -> dict[str, dict[str, Any]]:
    """Records keyed by id; fails on a duplicate id."""
    rows = records(root, collection)
    keyed = {row["id"]: row for row in rows}
    assert len(keyed) == len(rows), f"duplicate ids in {collection}"
    return keyed


def raws(root: Path, collection: str) -> dict[str, Any]:
    return {key: row["raw"] for key, row in by_id(root, collection).items()}


def content(root: Path) -> dict[str, bytes]:
    """What must not depend on how the export ran: records, blobs and the missing entries."""
    return {**tree_bytes(root, "records", "blobs"), MISSING_FILE: (root / MISSING_FILE).read_bytes()}


def assert_valid(root: Path) -> None:
    """``k2p verify`` (full) passes and coreutils ``sha256sum -c`` accepts ``SHA256SUMS``."""
    report = verify_archive(root)
    assert report.ok, [str(problem) for problem in report.problems]
    checked = subprocess.run(["sha256sum", "--quiet", "-c", "SHA256SUMS"], cwd=root, capture_output=True,
                             text=True, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr


# --- ground truth -----------------------------------------------------------------------------
def expected_pages(co: KaitenCompany, token: str, path: str, **params: Any) -> list[Any]:
    """Every item of a paged list route as the simulator serves it."""
    items: list[Any] = []
    while True:
        page = co.expected(token, path, **params, offset=len(items), limit=100)
        items.extend(page)
        if len(page) < 100:
            return items


def calls(log: list[LoggedRequest], path_suffix: str, origin: str = "api") -> int:
    """How many logged requests of ``origin`` went to a path ending in ``path_suffix``."""
    return sum(1 for entry in log if entry.origin == origin and entry.path.endswith(path_suffix))


# --- watching requests as they arrive -----------------------------------------------------------
@dataclass
class Recorder:
    """``on_request`` hook keeping every arrival (the request log is written only after answering)."""

    arrivals: list[SimEvent] = field(default_factory=list)

    def __call__(self, event: SimEvent) -> None:
        if event.stage == "arrived":
            self.arrivals.append(event)


def api_path(event: SimEvent) -> str | None:
    """The API path without its ``/api/<version>`` prefix; ``None`` for storage requests."""
    return API_PREFIX.sub("", event.path) if event.origin == "api" else None
