"""The offline install kit: built with a package index, installed with every index disabled."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from k2p import __version__
from k2p.kit.build import install_text

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_exports" / "acme-tiny.k2p"


def _index_reachable() -> str | None:
    """Why the kit cannot be built here (no route to PyPI), or ``None``."""
    if any(os.environ.get(name) for name in ("HTTPS_PROXY", "https_proxy")):
        return None
    try:
        socket.create_connection(("pypi.org", 443), timeout=5).close()
        return None
    except OSError as exc:
        return f"building the kit needs PyPI and pypi.org:443 is unreachable ({exc})"


def offline_env() -> dict[str, str]:
    """The environment of the air-gapped side: no index, no cache, no pip configuration at all."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("PIP_", "PYTHON", "VIRTUAL_ENV"))}
    env.update(PIP_NO_INDEX="1", PIP_NO_CACHE_DIR="1", PIP_CONFIG_FILE=os.devnull,
               PIP_DISABLE_PIP_VERSION_CHECK="1")
    return env


def k2p_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "k2p.cli", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=1800)


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    reason = _index_reachable()
    if reason:
        pytest.skip(reason)
    out = tmp_path_factory.mktemp("kit") / "k2p-kit"
    done = k2p_cli("kit", "-o", str(out), "--only-current", cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    return out


@pytest.mark.slow
def test_kit_installs_and_runs_without_any_index(kit: Path, tmp_path: Path) -> None:
    names = sorted(path.name for path in kit.iterdir())
    assert f"k2p-{__version__}-py3-none-any.whl" in names and "INSTALL.txt" in names
    for package in ("orjson", "zstandard", "pydantic_core", "pyrage", "click", "rich", "requests"):
        assert any(name.startswith(package + "-") for name in names), (package, names)
    check = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=kit, capture_output=True, text=True)
    assert check.returncode == 0 and check.stdout.count(": OK") == len(names) - 1
    assert "--no-index --find-links" in (kit / "INSTALL.txt").read_text()

    env = offline_env()
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, env=env, cwd=tmp_path)
    python, k2p = venv / "bin" / "python", venv / "bin" / "k2p"
    install = subprocess.run([str(python), "-m", "pip", "install", "--no-index", "--no-cache-dir",
                              "--find-links", str(kit), "k2p"], capture_output=True, text=True, env=env,
                             cwd=tmp_path, timeout=600)
    assert install.returncode == 0, install.stdout + install.stderr
    where = subprocess.run([str(python), "-c", "import k2p, pyrage; print(k2p.__file__)"],
                           capture_output=True, text=True, env=env, cwd=tmp_path)
    assert where.stdout.startswith(str(venv)), where.stdout + where.stderr   # not the checkout
    version = subprocess.run([str(k2p), "--version"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert version.returncode == 0 and version.stdout.strip() == f"k2p, version {__version__}"
    verify = subprocess.run([str(k2p), "verify", str(SAMPLE)], capture_output=True, text=True, env=env,
                            cwd=tmp_path)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "at the full level: OK" in verify.stdout
    # The installed k2p also reads an encrypted volume set (pyrage's wheel came in the kit).
    key = tmp_path / "key.txt"
    subprocess.run([str(python), "-c", "from pyrage import x25519; i = x25519.Identity.generate(); "
                    f"open({str(key)!r}, 'w').write(str(i) + '\\n'); print(i.to_public())"],
                   check=True, capture_output=True, text=True, env=env, cwd=tmp_path)
    key.chmod(0o600)
    recipient = subprocess.run([str(python), "-c", "from pyrage import x25519; import sys; "
                                f"print(x25519.Identity.from_str(open({str(key)!r}).read().strip()).to_public())"],
                               capture_output=True, text=True, env=env, cwd=tmp_path).stdout.strip()
    packed = subprocess.run([str(k2p), "pack", str(SAMPLE), "-o", str(tmp_path / "s.k2p.tar.age"),
                             "--volume-size", "1M", "--encrypt-to", recipient],
                            capture_output=True, text=True, env=env, cwd=tmp_path)
    assert packed.returncode == 0, packed.stdout + packed.stderr
    sealed = subprocess.run([str(k2p), "verify", str(tmp_path / "s.k2p.tar.age.001"), "--identity", str(key)],
                            capture_output=True, text=True, env=env, cwd=tmp_path)
    assert sealed.returncode == 0 and "at the full level: OK" in sealed.stdout, sealed.stdout + sealed.stderr


@pytest.mark.slow
def test_kit_resolves_wheels_for_another_python(tmp_path: Path) -> None:
    """The multi-platform part, cheaply: one extra target (CPython 3.13, manylinux x86_64)."""
    reason = _index_reachable()
    if reason:
        pytest.skip(reason)
    out = tmp_path / "kit"
    done = k2p_cli("kit", "-o", str(out), "--python", "3.13", cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "CPython 3.13 on manylinux_2_17_x86_64" in done.stdout
    names = [path.name for path in out.iterdir()]
    for package in ("orjson", "zstandard", "pydantic_core"):
        assert any(name.startswith(package + "-") and "-cp313-" in name and "manylinux" in name
                   for name in names), (package, names)
    assert any(name.startswith("pyrage-") and "abi3" in name for name in names)


def test_install_text_names_the_offline_command() -> None:
    text = install_text("k2p-0.1.0-py3-none-any.whl")
    assert "pip install --no-index --find-links THIS_DIRECTORY k2p" in text and "sha256sum -c" in text


def test_kit_refuses_a_non_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "x").write_text("x")
    done = k2p_cli("kit", "-o", str(tmp_path), "--only-current", cwd=ROOT)
    assert done.returncode == 8 and "not empty" in done.stderr
