"""``k2p.heap.release``: freed pages in the middle of the C heap go back to the operating system."""

from __future__ import annotations

from pathlib import Path

import pytest

from k2p import heap


def _rss_kb() -> int:
    return int(next(line for line in Path("/proc/self/status").read_text().splitlines()
                    if line.startswith("VmRSS")).split()[1])


@pytest.mark.skipif(heap._TRIM is None or not Path("/proc/self/status").exists(),
                    reason="needs glibc's malloc_trim and /proc (Linux)")
def test_freed_memory_held_below_live_objects_is_returned() -> None:
    blocks = [bytes(3000) + bytes([n % 256]) for n in range(40_000)]   # ~120 MB on the C heap
    kept = blocks[9::10]                # every tenth stays: the heap cannot shrink from its top
    del blocks
    before = _rss_kb()
    heap.release()
    after = _rss_kb()
    assert len(kept) == 4000
    assert before - after > 50_000, (before, after)   # most of the ~108 MB freed comes back
