"""The site's search index: an inverted index written as JavaScript shards next to the pages.

Pages opened from ``file://`` may not ``fetch`` JSON (Chromium refuses it), but they may load
``<script>`` files of their own site, so the index is a set of ``search/*.js`` files that assign
data: ``t-<n>.js`` holds the postings of the words whose first two characters hash to shard ``n``
(FNV-1a, the same function in ``search.js``), ``d-<n>.js`` holds 1000 entries (kind, title, page,
where, an excerpt). A query loads only the shards of its words and the entries of its hits, so
a large company answers as fast as a small one.

While the site is generated, entries and their words go to a SQLite file in the work directory
(memory stays flat however many cards there are); :meth:`SearchIndex.finish` streams them out
shard by shard.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import orjson

from k2p.browse.paths import SiteWriter

_WORD = re.compile(r"[^\W_]+")
WORD_MIN, WORD_MAX = 2, 40
TEXT_INDEXED = 100_000         # characters of one entry's text that are indexed
WORDS_MAX = 20_000             # distinct words kept per entry
EXCERPT = 1500                 # characters of text kept for the phrase check and the snippet
DOCS_PER_SHARD = 1000


def words(text: str) -> list[str]:
    """Search words, exactly as ``search.js`` splits a query: lower case, letters and digits."""
    found = []
    for word in _WORD.findall(text.lower()):
        if len(word) >= WORD_MIN:
            found.append(word[:WORD_MAX])
    return found


def shard_of(word: str, shards: int) -> int:
    """FNV-1a over the UTF-16 code units of the word's first two characters."""
    value = 2166136261
    prefix = word[:2].encode("utf-16-le", "surrogatepass")
    for index in range(0, len(prefix), 2):
        value ^= prefix[index] | (prefix[index + 1] << 8)
        value = (value * 16777619) & 0xFFFFFFFF
    return value % shards


def _js(name: str, key: int, payload: object) -> bytes:
    return (b"window.K2P_SEARCH=window.K2P_SEARCH||{t:{},d:{}};K2P_SEARCH." + name.encode()
            + b"[" + str(key).encode() + b"]=" + orjson.dumps(payload).replace(b"</", b"<\\/") + b";\n")


class SearchIndex:
    """Collects entries during generation; :meth:`finish` writes ``search/``."""

    def __init__(self, work: Path) -> None:
        self._db = sqlite3.connect(work / "search.sqlite")
        self._db.execute("PRAGMA journal_mode=OFF")
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute("CREATE TABLE docs (n INTEGER PRIMARY KEY, payload BLOB)")
        self._db.execute("CREATE TABLE words (word TEXT, n INTEGER)")
        self.count = 0
        self.postings = 0
        self.by_kind: dict[str, int] = {}

    def add(self, kind: str, title: str, page: str, where: str, text: str = "") -> None:
        """One searchable entry: a card, comment, file or document, and the page that shows it."""
        number = self.count
        self.count += 1
        self.by_kind[kind] = self.by_kind.get(kind, 0) + 1
        body = text[:TEXT_INDEXED]
        unique = list(dict.fromkeys(words(title + " " + body)))[:WORDS_MAX]
        self._db.executemany("INSERT INTO words VALUES (?, ?)", ((word, number) for word in unique))
        self.postings += len(unique)
        excerpt = " ".join(body.split())[:EXCERPT]
        self._db.execute("INSERT INTO docs VALUES (?, ?)",
                         (number, orjson.dumps([kind, title[:300], page, where[:300], excerpt])))

    def close(self) -> None:
        self._db.close()

    def finish(self, writer: SiteWriter) -> dict[str, int]:
        """Write every shard and ``search/meta.js``; return the shard counts."""
        self._db.commit()
        shards = 16
        while shards < 1024 and self.postings / shards > 20_000:
            shards *= 2
        doc_shards = 0
        batch: list[object] = []
        for number, payload in self._db.execute("SELECT n, payload FROM docs ORDER BY n"):
            batch.append(orjson.loads(payload))
            if len(batch) == DOCS_PER_SHARD:
                writer.write(f"search/d-{doc_shards}.js", _js("d", doc_shards, batch))
                doc_shards, batch = doc_shards + 1, []
        if batch:
            writer.write(f"search/d-{doc_shards}.js", _js("d", doc_shards, batch))
            doc_shards += 1
        self._db.create_function("shard", 1, lambda word: shard_of(word, shards), deterministic=True)
        self._db.execute("CREATE TABLE sharded AS SELECT shard(word) AS s, word, n FROM words")
        self._db.execute("CREATE INDEX sharded_s ON sharded (s, word, n)")
        for shard in range(shards):
            table: dict[str, list[int]] = {}
            last: dict[str, int] = {}
            for word, number in self._db.execute("SELECT word, n FROM sharded WHERE s = ? ORDER BY word, n", (shard,)):
                table.setdefault(word, []).append(number - last.get(word, 0))   # delta-encoded
                last[word] = number
            writer.write(f"search/t-{shard}.js", _js("t", shard, table))
        meta = {"shards": shards, "docShard": DOCS_PER_SHARD, "docs": self.count, "wordMin": WORD_MIN,
                "wordMax": WORD_MAX}
        writer.write("search/meta.js", b"window.K2P_SEARCH_META=" + orjson.dumps(meta) + b";\n")
        return {"entries": self.count, "word_shards": shards, "entry_shards": doc_shards}
