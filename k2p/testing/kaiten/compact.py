"""Compact storage for per-card tables of a large simulated company (``huge`` scale).

A :class:`PackedRecords` is a mapping that keeps each value (a card record, a card's location
history, files, checklist …) as zstd-compressed orjson bytes — compressed against a dictionary
made of the table's first records, so the field names shared by every record cost almost
nothing — and decodes it on access. Measured on the huge mix, a card record shrinks from about
7 KB of dicts to a few hundred bytes.

Write-back protocol (mutations are never lost):

* ``table[key]`` (and ``get``, ``setdefault``, ``values()``, ``items()`` …) hands out the decoded
  value and **pins** it: the mapping keeps that very object from then on, so a caller may mutate
  it (``table[key]["title"] = …``, ``table.setdefault(key, []).append(…)``) as with a dict;
* ``table[key] = value`` stores the object itself, pinned;
* :meth:`PackedRecords.pack` re-encodes pinned values and forgets the objects. It runs only
  where no caller can hold one: while the generator builds the company (``window``: only the
  oldest pins beyond the most recent ``window`` are packed, the generator never keeps a record
  across that many others) and once at the end of generation (:meth:`seal`, which turns packing
  off, so anything handed out afterwards — to changes.py, to tests — stays pinned for good);
* read-only paths (the simulator's views and routes, ground-truth helpers) use :func:`peek`,
  :func:`read_field` and :func:`peek_items`, which decode without pinning, so serving ``GET /cards``
  pages of a 100,000-card company does not pull every record back into memory.

``hot`` names fields kept unpacked next to the bytes (a card's condition, board, sprint, owner,
update time), so the filters every listing request runs over all cards decode nothing.

The helpers also accept a plain ``dict`` (small companies keep their tables as dicts): the values
are identical whichever storage holds them — tests compare both.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, MutableMapping
from typing import Any

import orjson
import zstandard

_MISSING = object()
DICT_SAMPLES = 16  # records whose JSON forms the compression dictionary (more: no smaller, slower)
# While the generator runs, the most recent PACK_WINDOW pins of a table stay objects and older ones
# are packed (in batches, when twice as many are pinned). The generator holds a record only while
# it touches a handful of others; tests shrink the window to prove no record is packed in use.
PACK_WINDOW = 256


class _Packed:
    __slots__ = ("blob", "hot")

    def __init__(self, blob: bytes, hot: tuple[Any, ...]) -> None:
        self.blob, self.hot = blob, hot


class RecordTable(MutableMapping):
    """A mapping of records that can also be read without pinning (:class:`PackedRecords`, and the
    lazily generated tables of :mod:`k2p.testing.kaiten.lazy`)."""

    def peek(self, key: Any, default: Any = None) -> Any:
        """The value (read-only: do not mutate it) or ``default``."""
        raise NotImplementedError

    def field(self, key: Any, name: str) -> Any:
        """``self[key][name]`` without pinning."""
        raise NotImplementedError

    def peek_items(self) -> Iterator[tuple[Any, Any]]:
        for key in list(self):
            value = self.peek(key, _MISSING)
            if value is not _MISSING:
                yield key, value

    def cheap_keys_first(self) -> Iterator[Any]:
        """Every key, those whose values cost nothing to read first (default: plain order)."""
        return iter(self)


class PackedRecords(RecordTable):
    """A mapping of JSON-shaped values stored compressed; see the module docstring for the protocol."""

    def __init__(self, hot: tuple[str, ...] = (), *, window: int | None = -1) -> None:
        self._data: dict[Any, Any] = {}  # key -> pinned value or _Packed, in insertion order
        self._pinned: dict[Any, None] = {}  # pinned keys, oldest pin first
        self._hot = tuple(hot)
        self._hot_index = {name: n for n, name in enumerate(self._hot)}
        self._window = PACK_WINDOW if window == -1 else window
        self._lock = threading.RLock()
        self._local = threading.local()
        self._compressor: zstandard.ZstdCompressor | None = None
        self._dict: zstandard.ZstdCompressionDict | None = None

    # --- mapping protocol (pinning) --------------------------------------------------------------
    def __getitem__(self, key: Any) -> Any:
        with self._lock:
            value = self._data[key]
            if type(value) is _Packed:
                value = self._decode(value.blob)
                self._data[key] = value
                self._pin(key)
            return value

    def __setitem__(self, key: Any, value: Any) -> None:
        with self._lock:
            self._data[key] = value
            self._pinned.pop(key, None)
            self._pin(key)

    def __delitem__(self, key: Any) -> None:
        with self._lock:
            del self._data[key]
            self._pinned.pop(key, None)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __iter__(self) -> Iterator[Any]:
        return iter(list(self._data))

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"<PackedRecords {len(self._data)} values, {len(self._pinned)} pinned>"

    # --- read-only access (no pinning) -----------------------------------------------------------
    def peek(self, key: Any, default: Any = None) -> Any:
        """The value (decoded, not pinned: do not mutate it) or ``default``."""
        value = self._data.get(key, _MISSING)
        if value is _MISSING:
            return default
        return self._decode(value.blob) if type(value) is _Packed else value

    def field(self, key: Any, name: str) -> Any:
        """``self[key][name]`` without pinning; hot fields decode nothing."""
        value = self._data[key]
        if type(value) is _Packed:
            index = self._hot_index.get(name)
            if index is not None:
                return value.hot[index]
            return self._decode(value.blob)[name]
        return value[name]

    @property
    def pinned(self) -> int:
        """How many values are held as objects (for tests and the benchmark)."""
        return len(self._pinned)

    # --- packing ---------------------------------------------------------------------------------
    def pack(self, keep: int = 0, keys: Any = None) -> None:
        """Re-encode every pinned value except the ``keep`` most recently pinned ones (or, with
        ``keys``, only those of the given keys that are pinned)."""
        with self._lock:
            if keys is not None:
                keys = [key for key in dict.fromkeys(keys) if key in self._pinned]
            else:
                count = len(self._pinned) - keep
                keys = list(self._pinned)[:max(count, 0)]
            if not keys:
                return
            if self._compressor is None:
                self._make_dictionary([self._data[key] for key in keys[:DICT_SAMPLES]])
            compress = self._compressor.compress  # type: ignore[union-attr]
            for key in keys:
                value = self._data[key]
                hot = tuple(value[name] for name in self._hot) if self._hot else ()
                # zstandard returns a bytes object still holding its worst-case-sized buffer: copy it
                self._data[key] = _Packed(bytes(memoryview(compress(orjson.dumps(value)))), hot)
                del self._pinned[key]

    def seal(self) -> None:
        """Pack everything and stop packing: values handed out from now on stay pinned."""
        with self._lock:
            self.pack()
            self._window = None

    def _pin(self, key: Any) -> None:
        self._pinned[key] = None
        if self._window is not None and len(self._pinned) > 2 * self._window:
            self.pack(keep=self._window)

    def _make_dictionary(self, samples: list[Any]) -> None:
        raw = b"".join(orjson.dumps(value) for value in samples) or b"{}"
        self._dict = zstandard.ZstdCompressionDict(raw, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
        self._dict.precompute_compress(level=3)
        self._compressor = zstandard.ZstdCompressor(level=3, dict_data=self._dict, write_checksum=False,
                                                    write_content_size=True, write_dict_id=False)

    def _decode(self, blob: bytes) -> Any:
        decompressor = getattr(self._local, "decompressor", None)
        if decompressor is None:
            decompressor = zstandard.ZstdDecompressor(dict_data=self._dict)
            self._local.decompressor = decompressor
        return orjson.loads(decompressor.decompress(blob))


# --- helpers that accept a PackedRecords or a plain dict -----------------------------------------
def peek(table: Any, key: Any, default: Any = None) -> Any:
    """``table.get(key, default)`` that never pins (read-only: do not mutate the answer)."""
    if isinstance(table, RecordTable):
        return table.peek(key, default)
    return table.get(key, default)


def read_field(table: Any, key: Any, name: str) -> Any:
    """``table[key][name]`` without pinning."""
    if isinstance(table, RecordTable):
        return table.field(key, name)
    return table[key][name]


def peek_items(table: Any) -> Iterator[tuple[Any, Any]]:
    """``table.items()`` without pinning."""
    if isinstance(table, RecordTable):
        return table.peek_items()
    return iter(list(table.items()))


def pack_tables(co: Any, seal: bool = False) -> None:
    """Pack (and with ``seal`` finish) every :class:`PackedRecords` table of a company (also those
    inside lazily generated tables)."""
    for table in vars(co).values():
        table = getattr(table, "inner", table)
        if isinstance(table, PackedRecords):
            table.seal() if seal else table.pack()
