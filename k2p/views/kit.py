"""Text output of ``k2p kit``."""

from __future__ import annotations

from k2p.console import human_bytes, say
from k2p.kit import KitResult


def show_kit(result: KitResult) -> None:
    say(f"Wrote an offline install kit to {result.path}: {len(result.wheels)} wheel(s), "
        f"{human_bytes(result.bytes)}")
    for target in result.targets:
        say(f"  for {target}")
    say(f"Carry the whole directory; on the other side follow {result.path / 'INSTALL.txt'}")
