"""``k2p check``: prove against the live Planka that nothing the import carried over was lost.

What it owns: reading an imported company back from Planka (GET requests only, plus the password
login's session), comparing it with what the archive and the ledger say should be there, naming
every difference, and — with ``--repair`` — bringing back what is missing or changed through the
import's own ledger protocol.

How data moves, one board at a time (memory follows the largest board, not the company):

* **expected** — the archive's records → the mapping's pure plan functions
  (:func:`k2p.mapping.projects.plan_projects`, :func:`k2p.mapping.board.plan_board`, with the
  people the ledger recorded) → plan objects with their Kaiten-derived keys; the ledger maps each
  key to its Planka id. The plan already holds what the mapping intends (truncations, Planka
  Markdown, attribution lines), so intended differences are not failures.
* **found** — ``GET /api/projects/:id``, ``GET /api/boards/:id``, the first page of the board's
  archive list, ``GET /api/cards/:id`` for every other card the ledger knows (Planka 2.1.1 cannot
  page archive lists), and attachment downloads (hashed while streamed; all files up to a byte
  budget, ``--sample N`` per board, or ``--all-files``) — :mod:`k2p.check.found`. Each item keeps
  only the attributes the comparison reads; comment pages are read card by card, a few cards at a
  time, and compared as they come.
* **comparison** — :mod:`k2p.check.compare` → :class:`k2p.check.verdict.Verdict`: per kind
  expected / found / differing / missing / duplicate / unexpected, and the named differences.
* **report** — a summary table (``k2p.views.check``), ``--json``, ``--report FILE``; exit 0 when
  everything matches, 11 when something differs.
* **repair** — :mod:`k2p.check.repair`: differences → ledger rows forgotten or made stale → the
  import's replay for the boards concerned → a second check.
"""

from k2p.check.run import CheckOptions, CheckOutcome, run_check

__all__ = ["CheckOptions", "CheckOutcome", "run_check"]
