"""Knowing that an import has nothing to do: the record of a complete, clean application.

When a run applies an archive completely (no failure), the ledger keeps what decided its plan:
the archive's verified fingerprint, a digest of the settings (k2p's version, the mapping rules,
the users file, the selection and policies, the importing account and Planka's accounts) and the
ledger's own generation at the end of the run (its row count and newest write,
:meth:`~k2p.planka.ledger.Ledger.generation`). A later run of the same archive with the same
settings, on a ledger nobody wrote to since, would plan every object as unchanged and send no
write; :func:`already_applied` lets it stop after reading the manifest, the company records and
Planka's user list instead of indexing, re-reading and replanning every board (``--recheck``
replans anyway; ``k2p check`` compares Planka with the archive).

Anything else that can change a plan changes one of these inputs: a newer archive (fingerprint),
an edited ``mapping.toml`` or users file, another ``--space``/``--board``/policy, an account
created or renamed in Planka, ``k2p check --repair`` or an interrupted run (ledger generation).
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from k2p import __version__
from k2p.planka.ledger import Ledger

ACCOUNT_FIELDS = ("id", "username", "email", "role", "isDeactivated", "name")


def settings_digest(*, fingerprint: str | None, rules: Any, users_file: bytes | None, options: dict[str, Any],
                    me: dict[str, Any] | None, planka_users: list[dict[str, Any]] | None) -> str:
    """SHA-256 over everything besides the ledger that decides an import's plan and actions."""
    accounts = sorted(([user.get(name) for name in ACCOUNT_FIELDS] for user in planka_users or []),
                      key=lambda row: str(row[0]))
    state = {"k2p": __version__, "fingerprint": fingerprint, "rules": rules.model_dump(mode="json"),
             "users_file": hashlib.sha256(users_file).hexdigest() if users_file is not None else None,
             "options": options, "me": (me or {}).get("id"), "accounts": accounts}
    return hashlib.sha256(orjson.dumps(state, option=orjson.OPT_SORT_KEYS, default=str)).hexdigest()


def already_applied(ledger: Ledger, fingerprint: str | None, digest: str) -> dict[str, Any] | None:
    """The record of the run that applied this archive with these settings, when nothing has
    written to the ledger since (then this run has nothing to do); None otherwise."""
    record = ledger.applied()
    if fingerprint is None or not record or record.get("fingerprint") != fingerprint \
            or record.get("settings") != digest:
        return None
    return record if record.get("generation") == ledger.generation() else None


def record_applied(ledger: Ledger, fingerprint: str | None, digest: str, run: dict[str, Any]) -> None:
    """After a complete run without failures: remember it (with the ledger's generation now)."""
    if fingerprint is None:
        return
    ledger.record_applied({"fingerprint": fingerprint, "settings": digest, "generation": ledger.generation(),
                           "started_at": run.get("started_at"), "finished_at": run.get("finished_at")})
