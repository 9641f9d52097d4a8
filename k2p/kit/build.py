"""Building the kit with pip (see the package docstring)."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from k2p import __version__
from k2p.errors import ExitCode, K2PError, Refused, RemoteError
from k2p.fileio import atomic_write_bytes

DEFAULT_PLATFORMS = ("manylinux_2_17_x86_64", "manylinux2014_x86_64")
DEFAULT_PYTHONS = ("3.10", "3.11", "3.12", "3.13")
PIP_TIMEOUT = 1800


@dataclass
class KitResult:
    path: Path
    wheels: list[str] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)
    bytes: int = 0


def source_root() -> Path:
    """The checkout k2p runs from (the directory holding its pyproject.toml)."""
    root = Path(__file__).resolve().parents[2]
    pyproject = root / "pyproject.toml"
    if not pyproject.is_file() or 'name = "k2p"' not in pyproject.read_text(encoding="utf-8"):
        raise K2PError(f"k2p kit builds k2p's wheel from a source checkout, and this k2p was not "
                       f"installed from one ({root}); run it from a checkout (`pip install -e .`)",
                       exit_code=ExitCode.USAGE)
    return root


def _pip(args: list[str], what: str) -> None:
    command = [sys.executable, "-m", "pip", "--disable-pip-version-check", *args]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=PIP_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise RemoteError(f"pip took more than {PIP_TIMEOUT} s to {what}; check the network and "
                          f"run `k2p kit` again") from None
    if done.returncode != 0:
        last = [line for line in (done.stderr or done.stdout).splitlines() if line.strip()]
        raise RemoteError(f"pip could not {what}: {last[-1] if last else f'exit {done.returncode}'}; "
                          f"the kit needs a package index (PyPI or a mirror) — check the network "
                          f"or pip's index settings, then run `k2p kit` again")


def install_text(wheel: str) -> str:
    return f"""k2p {__version__} offline install kit
=============================

This directory holds k2p's wheel ({wheel}) and the wheels of every runtime dependency.
Nothing here needs a network. On the machine without network:

  1. Check that the kit arrived intact (prints one OK per file):

       cd THIS_DIRECTORY && sha256sum -c SHA256SUMS

  2. Install into a fresh virtual environment (Python 3.10 or newer):

       python3 -m venv ~/k2p-venv
       ~/k2p-venv/bin/python -m pip install --no-index --find-links THIS_DIRECTORY k2p

  3. Check it:

       ~/k2p-venv/bin/k2p --version
       ~/k2p-venv/bin/k2p verify ARCHIVE

If pip says that no matching distribution was found, this kit has no wheels for that machine's
Python version or platform: build a kit for it on the internet side with
`k2p kit -o DIR --python X.Y --platform TAG`.
"""


def build_kit(output: Path, *, platforms: tuple[str, ...] = (), pythons: tuple[str, ...] = (),
              only_current: bool = False) -> KitResult:
    """Write the kit into ``output`` (a new or empty directory)."""
    if output.exists() and (not output.is_dir() or any(output.iterdir())):
        raise Refused(f"{output} already exists and is not empty; choose a new -o DIR")
    root = source_root()
    output.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="k2p-kit-") as scratch:
        _pip(["wheel", "--no-deps", "--wheel-dir", scratch, str(root)], "build k2p's wheel")
        built = sorted(Path(scratch).glob("k2p-*.whl"))
        if not built:
            raise K2PError(f"pip built no k2p wheel from {root}", exit_code=ExitCode.INTERNAL)
        wheel = output / built[-1].name
        shutil.copyfile(built[-1], wheel)
    targets = [f"this machine (Python {sys.version_info.major}.{sys.version_info.minor})"]
    _pip(["download", "--only-binary=:all:", "--dest", str(output), str(wheel)],
         "download the dependencies for this machine")
    if not only_current:
        tags = platforms or DEFAULT_PLATFORMS
        for version in pythons or DEFAULT_PYTHONS:
            platform_args = [arg for tag in tags for arg in ("--platform", tag)]
            _pip(["download", "--only-binary=:all:", "--python-version", version,
                  "--implementation", "cp", *platform_args, "--dest", str(output), str(wheel)],
                 f"download the dependencies for CPython {version} on {', '.join(tags)}")
            targets.append(f"CPython {version} on {' / '.join(tags)}")
    atomic_write_bytes(output / "INSTALL.txt", install_text(wheel.name).encode())
    files = sorted(path for path in output.iterdir() if path.is_file() and path.name != "SHA256SUMS")
    lines = [f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {path.name}" for path in files]
    atomic_write_bytes(output / "SHA256SUMS", ("\n".join(lines) + "\n").encode())
    wheels = [path.name for path in files if path.suffix == ".whl"]
    return KitResult(output, wheels, targets, sum(path.stat().st_size for path in files))
