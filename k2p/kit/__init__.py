"""The offline install kit: everything needed to install this exact k2p where there is no network.

``k2p kit -o DIR`` (on a machine with access to a package index) builds k2p's own wheel from the
source checkout it runs from (``pip wheel --no-deps``), then asks pip for the wheels of every
runtime dependency (``pip download --only-binary=:all:``): once for this machine's interpreter and
platform, and once per extra target Python version for the extra platform tags (default: CPython
3.10–3.13 on manylinux x86_64). Binary wheels only, so the air-gapped side never needs a compiler.
Then it writes ``INSTALL.txt`` (the exact commands) and ``SHA256SUMS`` over every file, so the kit
can be checked with ``sha256sum -c`` after it crossed.

On the other side: ``python3 -m pip install --no-index --find-links DIR k2p``.

A single-file zipapp is not offered: orjson, zstandard, pydantic-core and pyrage are compiled
extensions, which Python cannot import from inside a zip archive.
"""

from k2p.kit.build import KitResult, build_kit

__all__ = ["KitResult", "build_kit"]
