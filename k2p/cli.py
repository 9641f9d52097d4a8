"""The ``k2p`` command line: option parsing only; the work happens in the domain packages."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from k2p import __version__
from k2p.archive.inspect import describe_archive
from k2p.archive.pack import pack_archive, unpack_archive
from k2p.archive.reader import ArchiveReader
from k2p.archive.verify import verify_archive
from k2p.console import emit_json, fail, print_traceback, progress
from k2p.credentials import require_secret, secret_from_env
from k2p.errors import ExitCode, K2PError, local_io_error
from k2p.fileio import private_files
from k2p.views.archive import show_inspect, show_packed, show_verify

if TYPE_CHECKING:
    from k2p.planka.client import Credentials

ARCHIVE_ARG = click.Path(path_type=Path)


class K2PGroup(click.Group):
    """Turns expected failures into one-line messages with documented exit codes."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            with private_files():
                return super().invoke(ctx)
        except K2PError as exc:
            fail(exc.message)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            fail("interrupted; run the same command again to resume")
            ctx.exit(ExitCode.INTERRUPTED)
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
            raise
        except OSError as exc:
            if exc.filename is None:  # a socket error that escaped, not a local file: a bug
                return self._internal(ctx, exc)
            error = local_io_error(exc, "", "free disk space or fix permissions, then run the command again")
            fail(error.message)
            ctx.exit(error.exit_code)
        except Exception as exc:  # noqa: BLE001 - last resort: never a raw traceback by default
            return self._internal(ctx, exc)

    @staticmethod
    def _internal(ctx: click.Context, exc: Exception) -> None:
        if os.environ.get("K2P_DEBUG"):
            print_traceback(exc)
        else:
            fail(f"internal error: {type(exc).__name__}: {exc} — this is a k2p bug; rerun with "
                 f"K2P_DEBUG=1 for the traceback and report it")
        ctx.exit(ExitCode.INTERNAL)


@click.group(cls=K2PGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="k2p")
def main() -> None:
    """Move a Kaiten company to Planka through a verifiable archive.

    Exit codes: 0 ok, 1 internal error, 2 usage, 3 archive invalid, 4 archive incomplete,
    5 unsupported version, 6 remote API failure, 7 finished with failures, 8 refused,
    9 local I/O error, 10 archives differ (diff), 130 interrupted.
    """


@main.command()
@click.argument("archive", type=ARCHIVE_ARG)
@click.option("--fast", is_flag=True, help="Check presence, sizes and counts only (no hashing).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
def verify(ctx: click.Context, archive: Path, fast: bool, as_json: bool) -> None:
    """Check an archive (directory or .k2p.tar) and list every problem found."""
    with progress(not as_json, transfer=True) as bar:
        task = bar.add_task("verifying", total=None) if bar else None
        report = verify_archive(archive, level="fast" if fast else "full",
                                on_file=(lambda size: bar.advance(task, size)) if bar else None)
    if as_json:
        emit_json(report.to_dict())
    else:
        show_verify(report)
    ctx.exit(report.exit_code)


@main.command()
@click.argument("archive", type=ARCHIVE_ARG)
@click.option("--json", "as_json", is_flag=True, help="Print the description as JSON.")
def inspect(archive: Path, as_json: bool) -> None:
    """Show what an archive holds: source, scope, counts, blobs, missing items, fingerprint."""
    info = describe_archive(archive)
    emit_json(info) if as_json else show_inspect(info)


@main.command()
@click.argument("archive", type=ARCHIVE_ARG)
@click.argument("collection")
@click.option("--id", "record_id", help="Only the record with this source id.")
@click.option("--raw", is_flag=True, help="Print only the raw source payloads.")
def cat(archive: Path, collection: str, record_id: str | None, raw: bool) -> None:
    """Stream the records of COLLECTION as JSON lines (pipe into jq)."""
    out = sys.stdout.buffer
    try:
        with ArchiveReader(archive) as reader:
            for line in reader.select_lines(collection, record_id=record_id, raw=raw):
                out.write(line + b"\n")
        out.flush()
    except BrokenPipeError:
        # The reader (head, jq -e ...) stopped early; that is not an error.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


@main.command()
@click.argument("old", type=ARCHIVE_ARG)
@click.argument("new", type=ARCHIVE_ARG)
@click.option("--limit", type=click.IntRange(min=0), default=20, show_default=True,
              help="Differences listed per collection (text output).")
@click.option("--json", "as_json", is_flag=True, help="Stream one JSON line per difference, then a "
              "summary line.")
@click.pass_context
def diff(ctx: click.Context, old: Path, new: Path, limit: int, as_json: bool) -> None:
    """What changed from archive OLD to NEW of the same company: created, changed, deleted.

    Exit 0 when identical, 10 when they differ.
    """
    from k2p.diff import diff_archives
    from k2p.views.diff import DiffProgress, FirstDifferences, JsonDifferences

    output = JsonDifferences() if as_json else FirstDifferences(limit)
    with progress(not as_json) as bar:
        summary = diff_archives(old, new, output, on_progress=DiffProgress(bar))
    output.finish(summary)
    ctx.exit(ExitCode.OK if summary.identical else ExitCode.DIFFERENT)


@main.command()
@click.argument("directory", type=ARCHIVE_ARG)
@click.option("-o", "--output", type=ARCHIVE_ARG, help="Tar file to write (default DIR.tar).")
def pack(directory: Path, output: Path | None) -> None:
    """Pack an archive directory into one plain tar file (NAME.k2p.tar)."""
    show_packed(pack_archive(directory, output), "Packed")


@main.command()
@click.argument("tar_file", type=ARCHIVE_ARG)
@click.option("-o", "--output", type=ARCHIVE_ARG, required=True, help="Directory to create.")
def unpack(tar_file: Path, output: Path) -> None:
    """Unpack a .k2p.tar into a directory, checking every file against SHA256SUMS."""
    show_packed(unpack_archive(tar_file, output), "Unpacked")


@main.command()
@click.option("--kaiten-url", required=True, help="Company URL (https://acme.kaiten.ru) or an "
              "/api/latest or /api/v1 base.")
@click.option("--out", "out", type=ARCHIVE_ARG, required=True, help="Archive directory to write.")
@click.option("--token-file", type=ARCHIVE_ARG, help="File holding the API token "
              "(default: env K2P_KAITEN_TOKEN); refused if group or others can read it.")
@click.option("--allow-insecure-token-file", is_flag=True, help="Accept a --token-file that group "
              "or others can read (warns instead of refusing).")
@click.option("--rps", type=click.FloatRange(min=0.1, max=1000), default=4.0, show_default=True,
              help="Requests per second across all workers.")
@click.option("--concurrency", type=click.IntRange(1, 64), default=4, show_default=True)
@click.option("--space", "spaces", type=int, multiple=True, help="Only this space and the spaces "
              "nested in it (repeatable).")
@click.option("--board", "boards", type=int, multiple=True, help="Only this board (repeatable).")
@click.option("--no-files", is_flag=True, help="Keep file metadata but download no file bytes.")
@click.option("--max-file-size", type=click.IntRange(min=0), help="Skip files larger than BYTES "
              "(listed in missing).")
@click.option("--ca-bundle", type=click.Path(exists=True, dir_okay=False), help="PEM file of CAs "
              "to trust for TLS.")
@click.option("--allow-file-host", "allow_file_hosts", multiple=True, metavar="HOST",
              help="Also download files from HOST (your own file storage; repeatable).")
@click.option("--with-activity", is_flag=True, help="Also export every card's activity feed "
              "(about one more request per card).")
@click.option("--with-baselines", is_flag=True, help="Also export every card's baselines (one more "
              "request per card).")
@click.option("--restart", is_flag=True, help="Discard an earlier export in --out and start over.")
@click.option("--json", "as_json", is_flag=True, help="Print the export report as JSON.")
def export(kaiten_url: str, out: Path, token_file: Path | None, allow_insecure_token_file: bool,
           rps: float, concurrency: int,
           spaces: tuple[int, ...], boards: tuple[int, ...], no_files: bool, max_file_size: int | None,
           ca_bundle: str | None, allow_file_hosts: tuple[str, ...], with_activity: bool,
           with_baselines: bool, restart: bool, as_json: bool) -> None:
    """Export everything the Kaiten token can see into an archive (resumable: rerun to continue)."""
    from k2p.kaiten.export import run_export
    from k2p.kaiten.options import ExportOptions
    from k2p.views.export import ExportProgress, show_export

    token = require_secret("K2P_KAITEN_TOKEN", token_file, "Kaiten API token", "--token-file",
                           allow_insecure=allow_insecure_token_file)
    options = ExportOptions(kaiten_url=kaiten_url, out=out, rps=rps, concurrency=concurrency,
                            spaces=spaces, boards=boards, files=not no_files,
                            max_file_size=max_file_size, ca_bundle=ca_bundle,
                            allow_file_hosts=allow_file_hosts, with_activity=with_activity,
                            with_baselines=with_baselines)
    with progress(not as_json) as bar:
        outcome = run_export(options, token, restart=restart, on_progress=ExportProgress(bar))
    if as_json:
        emit_json({**outcome.report, "archive": str(outcome.sealed.root),
                   "fingerprint": outcome.sealed.fingerprint})
    else:
        show_export(outcome)


def _planka_credentials() -> "Credentials":
    from k2p.planka.client import Credentials

    return Credentials(api_key=secret_from_env("K2P_PLANKA_API_KEY"),
                       username=(os.environ.get("K2P_PLANKA_USER") or "").strip() or None,
                       password=secret_from_env("K2P_PLANKA_PASSWORD"))


@main.command(name="import")
@click.argument("archive", type=ARCHIVE_ARG)
@click.option("--planka-url", help="Planka 2.x base URL (optional with --dry-run).")
@click.option("--dry-run", is_flag=True, help="Plan only: print what would change, send no write.")
@click.option("--state", type=ARCHIVE_ARG, help="Ledger file (default k2p-ledger-<company>.sqlite).")
@click.option("--users", type=ARCHIVE_ARG, help="users.csv mapping Kaiten users to Planka accounts.")
@click.option("--mapping", type=ARCHIVE_ARG, help="mapping.toml overriding the mapping policies.")
@click.option("--concurrency", type=click.IntRange(1, 64), default=8, show_default=True,
              help="Cards replayed in parallel within a board.")
@click.option("--space", "spaces", type=int, multiple=True, help="Only this Kaiten space (repeatable).")
@click.option("--board", "boards", type=int, multiple=True, help="Only this Kaiten board (repeatable).")
@click.option("--ca-bundle", type=click.Path(exists=True, dir_okay=False), help="PEM file of CAs to trust.")
@click.option("--accept-terms", is_flag=True, help="Accept Planka's terms of service for the "
              "importing account if Planka asks (first login).")
@click.option("--report", type=ARCHIVE_ARG, help="Where to write the JSON report.")
@click.option("--create-users", is_flag=True, help="Create the Planka accounts of the users.csv rows "
              "with action 'create' (admin account needed).")
@click.option("--credentials-out", type=ARCHIVE_ARG, help="New file (mode 0600) for the passwords of "
              "created accounts; refused if it exists.")
@click.option("--sso", is_flag=True, help="Created accounts log in through single sign-on: no password "
              "is kept; the first OIDC login by e-mail takes the account over.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
def import_(ctx: click.Context, archive: Path, planka_url: str | None, dry_run: bool, state: Path | None,
            users: Path | None, mapping: Path | None, concurrency: int, spaces: tuple[int, ...],
            boards: tuple[int, ...], ca_bundle: str | None, accept_terms: bool, report: Path | None,
            create_users: bool, credentials_out: Path | None, sso: bool, as_json: bool) -> None:
    """Replay an archive into Planka (idempotent and resumable: rerun to continue).

    Credentials come from K2P_PLANKA_API_KEY, or K2P_PLANKA_USER and K2P_PLANKA_PASSWORD.
    """
    from k2p.planka.importer import ImportOptions, run_import
    from k2p.views.importing import ImportProgress, show_import

    options = ImportOptions(archive=archive, planka_url=planka_url, dry_run=dry_run, state=state,
                            users=users, mapping=mapping, concurrency=concurrency, spaces=spaces,
                            boards=boards, ca_bundle=ca_bundle, accept_terms=accept_terms, report=report,
                            create_users=create_users, credentials_out=credentials_out, sso=sso)
    with progress(not as_json) as bar:
        outcome = run_import(options, _planka_credentials(), on_progress=ImportProgress(bar))
    if as_json:
        emit_json({**outcome.report, "report_path": str(outcome.report_path)})
    else:
        show_import(outcome)
    ctx.exit(outcome.exit_code)


@main.command(name="users-template")
@click.argument("archive", type=ARCHIVE_ARG)
@click.option("--planka-url", help="Pre-fill planka_user by matching e-mail, then username.")
@click.option("-o", "--output", type=ARCHIVE_ARG, default=Path("users.csv"), show_default=True)
@click.option("--force", is_flag=True, help="Overwrite an existing output file.")
@click.option("--ca-bundle", type=click.Path(exists=True, dir_okay=False))
@click.option("--accept-terms", is_flag=True, help="Accept Planka's terms on first login.")
def users_template(archive: Path, planka_url: str | None, output: Path, force: bool,
                   ca_bundle: str | None, accept_terms: bool) -> None:
    """Write a CSV of the archive's users with a planka_user column to fill in."""
    from k2p.console import say
    from k2p.planka.users_template import write_users_template

    result = write_users_template(archive, output, planka_url=planka_url,
                                  credentials=_planka_credentials() if planka_url else None,
                                  ca_bundle=ca_bundle, accept_terms=accept_terms, force=force)
    say(f"Wrote {result.users} users to {result.path}"
        + (f"; {result.matched} matched to Planka accounts" if planka_url else
           "; fill in the planka_user column (Planka username, e-mail or id)"))


@main.command(name="fixup-sql")
@click.argument("archive", type=ARCHIVE_ARG)
@click.option("--state", type=ARCHIVE_ARG, required=True, help="The ledger of the import.")
@click.option("-o", "--output", type=ARCHIVE_ARG, help="Fix-up script to write (e.g. fixup.sql).")
@click.option("--undo-output", type=ARCHIVE_ARG, help="Undo script (default: <output>-undo.sql).")
@click.option("--history", is_flag=True, help="Also add Kaiten's location history as moveCard actions.")
@click.option("--force", is_flag=True, help="Replace existing output files.")
@click.option("--slack", type=click.FloatRange(min=0, max=3600), default=10.0, show_default=True,
              help="Seconds after the import's last server time that still count as the import's own.")
@click.option("--check", is_flag=True, help="Instead: tell whether the fix-up has been applied "
              "(reads back through --planka-url, GET only).")
@click.option("--planka-url", help="With --check: the Planka the archive was imported into.")
@click.option("--sample", type=click.IntRange(1, 100_000), default=200, show_default=True,
              help="With --check: cards to read back (with all their comments).")
@click.option("--ca-bundle", type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
@click.pass_context
def fixup_sql(ctx: click.Context, archive: Path, state: Path, output: Path | None, undo_output: Path | None,
              history: bool, force: bool, slack: float, check: bool, planka_url: str | None, sample: int,
              ca_bundle: str | None, as_json: bool) -> None:
    """Write a reviewed SQL script giving imported objects their Kaiten authors and dates.

    Apply it with `psql -v ON_ERROR_STOP=1 -1 -f fixup.sql`; fixup-undo.sql restores every value.
    """
    from dataclasses import asdict

    from k2p.fixup import check_fixup, write_fixup
    from k2p.views.fixup import show_check, show_fixup

    if check:
        if planka_url is None:
            raise K2PError("--check needs --planka-url", exit_code=ExitCode.USAGE)
        verdict = check_fixup(archive, state, planka_url, _planka_credentials(), sample=sample, ca_bundle=ca_bundle)
        emit_json(asdict(verdict)) if as_json else show_check(verdict)
        ctx.exit(verdict.exit_code)
    if output is None:
        raise K2PError("-o/--output FILE is required (or --check)", exit_code=ExitCode.USAGE)
    outcome = write_fixup(archive, state, output, undo_output=undo_output, history=history, force=force,
                          slack_seconds=slack)
    if as_json:
        emit_json({**asdict(outcome), "output": str(outcome.output), "undo_output": str(outcome.undo_output)})
    else:
        show_fixup(outcome)


@main.command()
@click.option("--workdir", type=ARCHIVE_ARG, help="Keep the demo's archive, ledger and reports here "
              "(default: a temporary directory, removed afterwards).")
@click.option("--scale", type=click.Choice(["tiny", "small"]), default="small", show_default=True)
def demo(workdir: Path | None, scale: str) -> None:
    """Export a simulated Kaiten company and import it into a simulated Planka, twice."""
    from k2p.testing.demo import run_demo

    run_demo(workdir, scale=scale)


if __name__ == "__main__":
    main()
