"""``k2p fixup-sql``: true authors and original dates in Planka, by a reviewed SQL script.

Planka's API always records the caller as author and the server clock as creation time. This
package owns what the API cannot do: it writes a PostgreSQL script that the Planka admin applies
with ``psql -v ON_ERROR_STOP=1 -1 -f fixup.sql``, and a script that undoes it.

Data flow:

* :mod:`k2p.fixup.source` — the import ledger (read-only: done rows, people, import runs, which
  give the guard's high-water mark) + the archive (spaces, boards, columns, cards with their
  checklists and links, comments, files, location history) → per-table target values
  (:class:`~k2p.fixup.source.Target`) and, with ``--history``, card moves
  (:class:`~k2p.fixup.source.Move`);
* :mod:`k2p.fixup.sql` — targets → the guarded fix-up script (temporary tables filled by multi-row
  INSERTs, one classification pass, previous values saved in ``k2p_fixup_saved``, one
  ``UPDATE … FROM`` per table) and the undo script (reads ``k2p_fixup_saved`` only);
* :mod:`k2p.fixup.write` — :func:`write_fixup`: checks, then both files atomically (mode 0600);
* :mod:`k2p.fixup.check` — :func:`check_fixup` (``--check``): reads a deterministic sample of
  ledger cards and their comments back through the Planka API (GET only) and tells whether the
  fix-up has been applied.

Tables, columns, the guard rule and undo are documented in docs/MAPPING.md, section 11.
"""

from k2p.fixup.check import CheckOutcome, check_fixup
from k2p.fixup.write import FixupOutcome, default_undo_path, write_fixup

__all__ = ["CheckOutcome", "FixupOutcome", "check_fixup", "default_undo_path", "write_fixup"]
