"""People in Planka: accounts for the Kaiten team, and acting as them during an import.

What it owns and how data moves through it:

* ``accounts`` (pure): users.csv rows with ``action = create`` plus the archive's user records and
  the Planka user list → one :class:`~k2p.people.accounts.AccountPlan` per person (e-mail or a
  placeholder, a username that satisfies Planka's rules and is unique, role, language, whether
  the account is deactivated after the import).
* ``provision``: account plans → Planka accounts, as ledger objects (``user:<kaiten id>``): an
  account that already exists with that e-mail or username is adopted, never duplicated; an
  interrupted creation is reconciled on the next run. Generated passwords go to the credentials
  file only (:mod:`k2p.people.credentials`). It also closes the import: personal settings put
  back, deactivations applied.
* ``acting``: per-user API keys of the accounts k2p created, issued lazily when a write must be
  made as that person (true authors, memberships that notify nobody) and revoked when the import
  ends. Keys live in memory only; k2p never touches the key of an account it did not create.

The importer (``k2p.planka.importer``) calls these in order: plan → provision → replay boards
with an :class:`~k2p.people.acting.Actors` registry → finish (revoke keys, deactivate).
"""
