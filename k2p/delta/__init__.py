"""Re-importing a newer archive of the same company (the cutover's second pass).

A first import leaves a ledger (:mod:`k2p.planka.ledger`) that says which Planka object stands
for which Kaiten object and what k2p last set on it. When a newer archive is replayed with that
ledger, three things matter beyond creating and updating (which :mod:`k2p.planka.sync` does):

- :mod:`k2p.delta.freshness` — before anything is read from Planka, the archive is compared with
  the archives already applied with this ledger (export time and the manifest's ``chain``); an
  older one is refused (exit 8) unless ``--allow-older``, and the applied archive is recorded.
- :mod:`k2p.delta.conflicts` — while a board is replayed, one ``GET /api/boards/:id`` (a
  :class:`~k2p.delta.snapshot.BoardSnapshot`) shows what Planka holds now; a field the archive
  changes that was also changed in Planka since k2p set it (the ledger keeps a hash of what Planka
  answered) is a conflict: kept as Planka has it (``--on-conflict keep-planka``, default) or
  overwritten (``take-kaiten``), and listed with both values either way.
- :mod:`k2p.delta.deletions` — what the ledger says k2p imported and the newer archive no longer
  has was deleted in Kaiten: cards go to their board's archive list with a ``Deleted in Kaiten``
  label (``--on-deleted archive``, default), to the trash list (``trash``) or stay (``keep``);
  comments, checklists, tasks, files and links are marked, deleted or kept the same way.

Data flow: ``importer`` builds one :class:`~k2p.delta.run.DeltaRun` per import and calls
:meth:`~k2p.delta.run.DeltaRun.prefetch` before it plans a board (the snapshot is read while the
board's records and plan are not in memory); ``replay_board`` calls
:meth:`~k2p.delta.run.DeltaRun.enter_board` before the board (it takes that snapshot) and
:meth:`~k2p.delta.run.DeltaRun.leave_board` after its cards (cards restored in Kaiten come back,
children no longer planned are handled); once every board is replayed,
:meth:`~k2p.delta.run.DeltaRun.finish` handles deleted cards. Every write goes
through the :class:`~k2p.planka.sync.Syncer` with a ledger row of its own (``deleted:<key>``), so a
dry run counts exactly what the real run does and a rerun writes nothing.
"""
