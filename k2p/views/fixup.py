"""End-of-run summaries of ``k2p fixup-sql`` (the scripts written, or the ``--check`` verdict)."""

from __future__ import annotations

from k2p.console import say, table
from k2p.fixup import CheckOutcome, FixupOutcome
from k2p.fixup.write import APPLY


def show_fixup(outcome: FixupOutcome) -> None:
    table("Fix-up planned (rows the script may change; it prints what it did)", ("Planka table", "rows"),
          outcome.table())
    say(f"People with a Planka account: {outcome.people} ({outcome.created_accounts} created by k2p)")
    if outcome.without_time:
        say(f"{outcome.without_time} ledger object(s) have no Kaiten time and are left as Planka made them")
    say(f"Wrote {outcome.output} and {outcome.undo_output} (mode 0600). Review, then apply with:")
    say("  " + APPLY.format(script=outcome.output))


def show_check(outcome: CheckOutcome) -> None:
    say(f"Fix-up {outcome.verdict}: {outcome.fixed} of {outcome.checked} sampled objects carry their "
        f"Kaiten date and author ({outcome.not_fixed} do not, {outcome.missing} not found)")
    for difference in outcome.differences:
        say(f"  {difference}")
