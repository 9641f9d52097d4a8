"""Kaiten value formats and deterministic primitives used by the company generator.

Everything here is a pure function of its arguments (no wall clock, no ``uuid4``), so a company
generated twice from the same seed is identical byte for byte.
"""

from __future__ import annotations

import base64
import random
import struct
import uuid
import zlib
from datetime import datetime, timedelta, timezone
from functools import lru_cache

# All generated timestamps are offsets from this fixed instant.
BASE_TIME = datetime(2024, 1, 8, 9, 0, 0, tzinfo=timezone.utc)

# Legacy attachments live on this public origin in real payloads; the simulator rewrites it to its
# own storage origin when it serves a payload (see ``CompanyData.files_origin``).
DEFAULT_FILES_ORIGIN = "https://files.kaiten.ru"


def iso_ms(moment: datetime) -> str:
    """``2024-01-08T09:00:00.000Z``: UTC, milliseconds, ``Z`` — the Kaiten timestamp format."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


_BASE_NAIVE = BASE_TIME.replace(tzinfo=None)


def at(minutes: float) -> str:
    """ISO timestamp ``minutes`` after :data:`BASE_TIME` (the :func:`iso_ms` text, built faster:
    the generator calls this for every timestamp of a 100,000-card company)."""
    return (_BASE_NAIVE + timedelta(minutes=minutes)).isoformat(timespec="milliseconds") + "Z"


def day(minutes: float) -> str:
    """Date-only ``YYYY-MM-DD`` string ``minutes`` after :data:`BASE_TIME`."""
    return (BASE_TIME + timedelta(minutes=minutes)).strftime("%Y-%m-%d")


def parse_iso(text: str) -> datetime | None:
    """Parse an ISO-8601 filter value leniently (``Z`` suffix, date-only); ``None`` if unparsable."""
    try:
        parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def minutes_of(timestamp: str) -> float:
    """Inverse of :func:`at` for generated timestamps."""
    parsed = parse_iso(timestamp)
    assert parsed is not None, timestamp
    return (parsed - BASE_TIME).total_seconds() / 60


def rng_uuid(rng: random.Random) -> str:
    """A version-4-shaped UUID string drawn from ``rng``."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def opaque_segment(rng: random.Random) -> str:
    """A 20-hex-digit path segment like the ones in space ``path`` values."""
    return f"{rng.getrandbits(80):020x}"


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def make_png(width: int, height: int, seed: int) -> bytes:
    """A valid RGB PNG with seeded noise pixels (noise keeps the size predictable)."""
    rng = random.Random(seed)
    rows = b"".join(b"\x00" + rng.randbytes(width * 3) for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
            + _png_chunk(b"IDAT", zlib.compress(rows, 6)) + _png_chunk(b"IEND", b""))


@lru_cache(maxsize=16)
def png_bytes(width: int, height: int, seed: int) -> bytes:
    """Cached :func:`make_png` for images served repeatedly (card covers)."""
    return make_png(width, height, seed)


def png_data_uri(width: int, height: int, seed: int) -> str:
    """``data:image/png;base64,…`` URI, the shape of ``avatar_initials_url``."""
    return "data:image/png;base64," + base64.b64encode(make_png(width, height, seed)).decode("ascii")


def initials(full_name: str) -> str:
    """Up to two upper-case initials of a name."""
    return "".join(part[0] for part in full_name.split()[:2]).upper()
