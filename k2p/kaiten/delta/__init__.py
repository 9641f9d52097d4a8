"""Incremental export (``k2p export --since PREVIOUS``): what can be carried over, and what not.

The delta export produces a complete archive, never a patch. It runs the ordinary export units
(:mod:`k2p.kaiten.export`) and plugs in here at four points:

1. :mod:`.previous` opens PREVIOUS through :class:`~k2p.archive.reader.ArchiveReader`, refuses one
   of another company, Kaiten URL or scope, an incomplete or a damaged one, and — in a background
   thread of :mod:`.session`, while the structure units wait on the rate limit — verifies it in
   full and streams it once into a per-card SQLite index in the new archive's scratch directory
   (rebuilt after a crash: it is derived data).
2. :mod:`.signals` reduces each item of the card list (``GET /cards``) to a digest and a few named
   signals; every export stores the digest in the card record (``list_sha256``), the next delta
   compares it.
3. :mod:`.plan` decides per card what must be read again: the single-card payload when any list
   signal differs (or something it embeds changed: a user, the board's structure, a related
   card), each sub-list (comments, time logs, location history) only when its own counters moved,
   everything for new cards, cards of ``--refresh-board`` boards and under ``--full``. The plan is
   committed in the export journal, so a resumed run carries over exactly the same.
4. :mod:`.carry` turns PREVIOUS's records of a card into the same result a fetch would have given
   (files included: blobs are hard-linked from a PREVIOUS directory on the same filesystem and
   copied otherwise), and :func:`.deleted.export_deleted_cards` writes ``deleted_cards`` for cards
   PREVIOUS had and the listing no longer shows.

Data flow: PREVIOUS → index → plan (journal) → card batches (fetch or carry) → new archive, with
the chain (PREVIOUS's id, fingerprint, counts carried over and re-read) in the new manifest.
"""
