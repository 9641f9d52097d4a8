"""``k2p diff``: what changed between two archives of the same company.

This package owns the comparison of two complete archives record by record, per collection
(entity kind), and nothing else: rendering lives in ``k2p/views/diff.py``, the command line in
``k2p/cli.py``. Data flows through it without any collection ever held whole in memory:

1. :func:`~k2p.diff.compare.diff_archives` opens both archives with
   :class:`~k2p.archive.reader.ArchiveReader` (directory or ``.k2p.tar``; every line checked, every
   record file hashed) and refuses two archives of different companies.
2. Per collection, the OLD side is streamed into a temporary SQLite file: ``id → (hash of the
   canonical record, title)`` (:mod:`k2p.diff.records` computes both).
3. The NEW side is streamed against that index: an unknown id is *created*, a different hash is
   *changed* (its stored line is parked in the SQLite file), an equal hash is *unchanged*.
4. When anything changed, the OLD side is streamed once more to name the changed fields of the
   parked records (:func:`~k2p.diff.records.field_changes`); ids never seen on the NEW side are
   *deleted*.

Every difference is handed to a callback as soon as it is known (``--json`` streams them); the
returned :class:`~k2p.diff.compare.DiffSummary` holds only counts.
"""

from k2p.diff.compare import CollectionTally, Difference, DiffSummary, diff_archives

__all__ = ["CollectionTally", "Difference", "DiffSummary", "diff_archives"]
