"""``k2p demo``: the whole migration on loopback, with both simulators.

Export a simulated Kaiten company, verify the archive, map a few people to existing accounts and
create accounts for the others, import into a simulated Planka (SMTP configured: it counts the
e-mails Planka would send), import again to show that nothing changes, write the SQL fix-up,
print the summaries and the fingerprint, and stop everything.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from k2p.archive.verify import verify_archive
from k2p.console import progress, say
from k2p.errors import K2PError
from k2p.fixup import write_fixup
from k2p.fixup.source import read_ledger
from k2p.kaiten.export import run_export
from k2p.kaiten.options import ExportOptions
from k2p.planka.client import Credentials
from k2p.planka.importer import ImportOptions, run_import
from k2p.planka.users_template import write_users_template
from k2p.testing.kaiten.company import generate_company
from k2p.testing.kaiten.sim import KaitenSimulator
from k2p.testing.planka.sim import PlankaSimulator
from k2p.views.archive import show_verify
from k2p.views.export import ExportProgress, show_export
from k2p.views.fixup import show_fixup
from k2p.views.importing import ImportProgress, show_import

DEMO_USERS = 5   # Kaiten users given a Planka account in the demo (matched by e-mail)


def _seed_planka_users(planka: PlankaSimulator, company: object, count: int) -> None:
    users = sorted(getattr(company, "users").values(), key=lambda user: user["id"])
    for user in [user for user in users if user.get("activated") and user.get("email")][:count]:
        planka.add_user(email=user["email"], name=user.get("full_name") or user["email"],
                        password="Demo-Password-2026!")


def run_demo(workdir: Path | None, *, scale: str = "small") -> None:
    """Run the demo; artefacts stay in ``workdir`` when given, else in a removed temp dir."""
    base = workdir or Path(tempfile.mkdtemp(prefix="k2p-demo-"))
    base.mkdir(parents=True, exist_ok=True)
    try:
        _demo(base, scale)
    finally:
        if workdir is None:
            shutil.rmtree(base, ignore_errors=True)
            say("(The demo's archive, ledger and reports were in a temporary directory, now removed; "
                "run `k2p demo --workdir DIR` to keep them.)")


def _demo(base: Path, scale: str) -> None:
    company = generate_company(scale)
    archive = base / "acme.k2p"
    for stale in base.glob("ledger.sqlite*"):   # a workdir's earlier demo: other simulators, other ports
        stale.unlink()
    with KaitenSimulator(company, idle_timeout=600) as kaiten, \
            PlankaSimulator(require_terms=True, idle_timeout=600, smtp=True) as planka:
        say(f"Kaiten simulator: {kaiten.base_url}   Planka simulator: {planka.url}")
        say()
        say("== 1. Export the simulated Kaiten company ==")
        options = ExportOptions(kaiten_url=kaiten.base_url, out=archive, rps=200, concurrency=4)
        with progress() as bar:
            exported = run_export(options, company.admin_token, restart=True, on_progress=ExportProgress(bar))
        show_export(exported)

        say()
        say("== 2. Verify the archive ==")
        report = verify_archive(archive)
        show_verify(report)
        if not report.ok:
            raise K2PError("the demo archive failed verification", exit_code=report.exit_code)

        say()
        say("== 3. People: map existing accounts, create the others, import into the simulated Planka ==")
        _seed_planka_users(planka, company, DEMO_USERS)
        credentials = Credentials(api_key=planka.create_api_key(planka.admin_email))
        users_csv = base / "users.csv"
        template = write_users_template(archive, users_csv, planka_url=planka.url,
                                        credentials=credentials, force=True)
        say(f"users.csv: {template.users} Kaiten users, {template.matched} matched to Planka accounts, "
            f"the others to be created where they appear in the archive")
        (base / "new-accounts.csv").unlink(missing_ok=True)
        import_options = ImportOptions(archive=archive, planka_url=planka.url, users=users_csv,
                                       state=base / "ledger.sqlite", report=base / "import-report.json",
                                       create_users=True, credentials_out=base / "new-accounts.csv")
        with progress() as bar:
            first = run_import(import_options, credentials, on_progress=ImportProgress(bar))
        show_import(first)
        view = read_ledger(base / "ledger.sqlite", strict=False)
        view.close()   # only the people are needed, not the per-key object lookups
        new_accounts = {str(user_id) for user_id in view.created_people}
        to_them = [mail for mail in planka.outbox if mail.user_id in new_accounts]
        say(f"E-mails Planka would have sent: {len(planka.outbox)} in all, {len(to_them)} to the "
            f"{len(new_accounts)} people whose accounts k2p created")

        say()
        say("== 4. Import again: the ledger makes it a no-op ==")
        before = planka.mutation_count()
        second = run_import(import_options.model_copy(update={"report": base / "import-report-2.json"}),
                            credentials)
        show_import(second)
        say(f"Mutating requests sent by the second import: {planka.mutation_count() - before}")

        say()
        say("== 5. The SQL fix-up for original dates and authors (for the Planka admin to apply) ==")
        show_fixup(write_fixup(archive, base / "ledger.sqlite", base / "fixup.sql", history=True, force=True))
        say()
        say(f"Archive fingerprint: {exported.sealed.fingerprint}")
