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


def _configure_keys(ctx: click.Context, _param: click.Parameter, value: Any) -> Any:
    from k2p.crypt.keys import configure

    ctx.meta.setdefault("k2p_keys", {})[_param.name] = value
    configure(**ctx.meta["k2p_keys"])
    return value


def key_options(command: Any) -> Any:
    """--identity / --passphrase-file for commands that may read an encrypted archive."""
    command = click.option("--passphrase-file", "passphrase_file", type=ARCHIVE_ARG, expose_value=False,
                           callback=_configure_keys, help="File holding the passphrase of a "
                           "passphrase-encrypted archive (else asked on a terminal).")(command)
    return click.option("--identity", "identity_file", type=ARCHIVE_ARG, expose_value=False,
                        callback=_configure_keys, help="age identity file for an encrypted archive "
                        "(default: env K2P_AGE_IDENTITY).")(command)


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

    Exit codes: 0 ok, 1 internal error, 2 usage, 3 archive invalid (also a damaged volume or
    ciphertext, a wrong identity), 4 archive incomplete (also a missing volume),
    5 unsupported version, 6 remote API failure, 7 finished with failures, 8 refused,
    9 local I/O error, 10 archives differ (diff), 130 interrupted.
    """
    from k2p.crypt.keys import configure

    configure()   # keys come only from this command's own options (or the environment)


@main.command()
@click.argument("archive", type=ARCHIVE_ARG)
@click.option("--fast", is_flag=True, help="Check presence, sizes and counts only (no hashing).")
@click.option("--volume-only", is_flag=True, help="Check only the named volume against the volume "
              "index (implied for NAME.002 and later).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@key_options
@click.pass_context
def verify(ctx: click.Context, archive: Path, fast: bool, volume_only: bool, as_json: bool) -> None:
    """Check an archive and list every problem found.

    ARCHIVE is a directory, a .k2p.tar, a volume set (its index NAME.k2p.volumes or first volume
    NAME.k2p.tar.001) or an encrypted .k2p.tar.age. A later volume (NAME.k2p.tar.003) is checked
    on its own against the index: which volume it is and whether it is intact.
    """
    from k2p.archive.volumes.index import volume_base

    named = volume_base(archive)
    if volume_only or (named is not None and named[1] > 1):
        from dataclasses import asdict

        from k2p.archive.volumes.reader import check_volume
        from k2p.views.archive import show_volume

        verdict = check_volume(archive)
        emit_json(asdict(verdict)) if as_json else show_volume(verdict)
        ctx.exit(ExitCode.OK if verdict.ok else ExitCode.ARCHIVE_INVALID)
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
@key_options
def inspect(archive: Path, as_json: bool) -> None:
    """Show what an archive holds: source, scope, counts, blobs, missing items, fingerprint."""
    info = describe_archive(archive)
    emit_json(info) if as_json else show_inspect(info)


@main.command()
@click.argument("archive", type=ARCHIVE_ARG)
@click.argument("collection")
@click.option("--id", "record_id", help="Only the record with this source id.")
@click.option("--raw", is_flag=True, help="Print only the raw source payloads.")
@key_options
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
@click.option("-o", "--output", type=ARCHIVE_ARG, help="Tar file to write (default DIR.tar, or "
              "DIR.tar.age when encrypting; volumes are named FILE.001, FILE.002, …).")
@click.option("--volume-size", metavar="SIZE", help="Split into volumes of at most SIZE bytes "
              "(4G = 4000000000 bytes, fits FAT32; 2GiB = 2147483648) plus an index NAME.k2p.volumes.")
@click.option("--encrypt-to", "recipients", multiple=True, metavar="RECIPIENT",
              help="Encrypt with age to this X25519 recipient (age1…; repeatable).")
@click.option("--passphrase", "ask_passphrase", is_flag=True, help="Encrypt with age and a "
              "passphrase asked on the terminal (archives up to 1 GiB: kept in memory).")
@click.option("--passphrase-file", type=ARCHIVE_ARG, help="Encrypt with age and the passphrase in "
              "this file.")
def pack(directory: Path, output: Path | None, volume_size: str | None, recipients: tuple[str, ...],
         ask_passphrase: bool, passphrase_file: Path | None) -> None:
    """Pack an archive directory into one plain tar (NAME.k2p.tar), volumes of it, or age
    ciphertext (NAME.k2p.tar.age)."""
    from k2p.archive.sinks import Encryption
    from k2p.archive.volumes.writer import parse_size
    from k2p.crypt.keys import parse_recipients, passphrase_for

    if recipients and (ask_passphrase or passphrase_file):
        raise K2PError("use either --encrypt-to or a passphrase, not both", exit_code=ExitCode.USAGE)
    encryption = None
    if recipients:
        encryption = Encryption(recipients=parse_recipients(recipients))
    elif ask_passphrase or passphrase_file:
        encryption = Encryption(passphrase=passphrase_for(str(directory), confirm=True,
                                                          file=passphrase_file))
    size = parse_size(volume_size) if volume_size else None
    show_packed(pack_archive(directory, output, volume_size=size, encryption=encryption), "Packed")


@main.command()
@click.argument("tar_file", type=ARCHIVE_ARG)
@click.option("-o", "--output", type=ARCHIVE_ARG, required=True, help="Directory to create.")
@key_options
def unpack(tar_file: Path, output: Path) -> None:
    """Unpack a .k2p.tar, a volume set or a .k2p.tar.age into a directory, checking every file
    against SHA256SUMS (the only command that writes decrypted data to disk)."""
    show_packed(unpack_archive(tar_file, output), "Unpacked")


@main.command()
@click.option("-o", "--output", type=ARCHIVE_ARG, required=True, help="Directory to create.")
@click.option("--platform", "platforms", multiple=True, metavar="TAG", help="pip platform tag of "
              "an extra target (repeatable; default manylinux_2_17_x86_64 + manylinux2014_x86_64).")
@click.option("--python", "pythons", multiple=True, metavar="X.Y", help="Python version of the extra "
              "targets (repeatable; default 3.10, 3.11, 3.12, 3.13).")
@click.option("--only-current", is_flag=True, help="Only this machine's platform and Python.")
def kit(output: Path, platforms: tuple[str, ...], pythons: tuple[str, ...], only_current: bool) -> None:
    """Write an offline install kit: k2p's wheel and every dependency's, SHA256SUMS, INSTALL.txt."""
    from k2p.kit import build_kit
    from k2p.views.kit import show_kit

    show_kit(build_kit(output, platforms=platforms, pythons=pythons, only_current=only_current))


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
@click.option("--since", type=ARCHIVE_ARG, help="Incremental: carry over from this earlier "
              "archive of the same company and scope what did not change; --out is still complete.")
@click.option("--refresh-board", "refresh_boards", type=int, multiple=True, metavar="ID",
              help="With --since: read every card of this board again (repeatable).")
@click.option("--full", is_flag=True, help="With --since: read every card again (keeps the chain "
              "and the deleted cards).")
@click.option("--with-activity", is_flag=True, help="Also export every card's activity feed "
              "(about one more request per card).")
@click.option("--with-baselines", is_flag=True, help="Also export every card's baselines (one more "
              "request per card).")
@click.option("--restart", is_flag=True, help="Discard an earlier export in --out and start over.")
@click.option("--json", "as_json", is_flag=True, help="Print the export report as JSON.")
def export(kaiten_url: str, out: Path, token_file: Path | None, allow_insecure_token_file: bool,
           rps: float, concurrency: int,
           spaces: tuple[int, ...], boards: tuple[int, ...], no_files: bool, max_file_size: int | None,
           ca_bundle: str | None, allow_file_hosts: tuple[str, ...], since: Path | None,
           refresh_boards: tuple[int, ...], full: bool, with_activity: bool, with_baselines: bool,
           restart: bool, as_json: bool) -> None:
    """Export everything the Kaiten token can see into an archive (resumable: rerun to continue)."""
    from k2p.kaiten.export import run_export
    from k2p.kaiten.options import ExportOptions
    from k2p.views.export import ExportProgress, show_export

    if since is None and (refresh_boards or full):
        raise click.UsageError("--refresh-board and --full need --since PREVIOUS.k2p")
    token = require_secret("K2P_KAITEN_TOKEN", token_file, "Kaiten API token", "--token-file",
                           allow_insecure=allow_insecure_token_file)
    options = ExportOptions(kaiten_url=kaiten_url, out=out, rps=rps, concurrency=concurrency,
                            spaces=spaces, boards=boards, files=not no_files,
                            max_file_size=max_file_size, ca_bundle=ca_bundle,
                            allow_file_hosts=allow_file_hosts, since=since,
                            refresh_boards=refresh_boards, full=full, with_activity=with_activity,
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
@click.option("--on-deleted", type=click.Choice(["archive", "trash", "keep"]), default="archive", show_default=True,
              help="What a re-import does with what was deleted in Kaiten since: archive (archive list and "
              "a 'Deleted in Kaiten' label; children marked), trash (trash list; children deleted) or keep.")
@click.option("--on-conflict", type=click.Choice(["keep-planka", "take-kaiten"]), default="keep-planka",
              show_default=True, help="A field changed both in Planka since the last import and in Kaiten: "
              "keep Planka's value or take the archive's (either way it is listed).")
@click.option("--allow-older", is_flag=True, help="Import an archive older than the last one applied with "
              "this ledger (refused by default: it would revert newer edits).")
@click.option("--recheck", is_flag=True, help="Replan every board even when the ledger shows this archive "
              "applied completely with the same settings (then a rerun stops early: nothing to do).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
def import_(ctx: click.Context, archive: Path, planka_url: str | None, dry_run: bool, state: Path | None,
            users: Path | None, mapping: Path | None, concurrency: int, spaces: tuple[int, ...],
            boards: tuple[int, ...], ca_bundle: str | None, accept_terms: bool, report: Path | None,
            create_users: bool, credentials_out: Path | None, sso: bool, on_deleted: str, on_conflict: str,
            allow_older: bool, recheck: bool, as_json: bool) -> None:
    """Replay an archive into Planka (idempotent and resumable: rerun to continue).

    Credentials come from K2P_PLANKA_API_KEY, or K2P_PLANKA_USER and K2P_PLANKA_PASSWORD.
    """
    from k2p.planka.importer import ImportOptions, run_import
    from k2p.views.importing import ImportProgress, show_import

    options = ImportOptions(archive=archive, planka_url=planka_url, dry_run=dry_run, state=state,
                            users=users, mapping=mapping, concurrency=concurrency, spaces=spaces,
                            boards=boards, ca_bundle=ca_bundle, accept_terms=accept_terms, report=report,
                            create_users=create_users, credentials_out=credentials_out, sso=sso,
                            on_deleted=on_deleted, on_conflict=on_conflict, allow_older=allow_older,
                            recheck=recheck)
    with progress(not as_json) as bar:
        outcome = run_import(options, _planka_credentials(), on_progress=ImportProgress(bar))
    if as_json:
        emit_json({**outcome.report, "report_path": str(outcome.report_path)})
    else:
        show_import(outcome)
    ctx.exit(outcome.exit_code)


@main.command()
@click.argument("archive", type=ARCHIVE_ARG)
@click.option("--planka-url", required=True, help="The Planka 2.x the archive was imported into.")
@click.option("--state", type=ARCHIVE_ARG, help="Ledger of the import (default k2p-ledger-<company>.sqlite).")
@click.option("--mapping", type=ARCHIVE_ARG, help="The mapping.toml the import used.")
@click.option("--board", "boards", type=int, multiple=True, help="Only this Kaiten board (repeatable).")
@click.option("--sample", type=click.IntRange(min=0), help="Hash the bytes of N files per board (a fixed, "
              "deterministic choice); the others are checked by size.")
@click.option("--all-files", is_flag=True, help="Hash every file, without the byte budget.")
@click.option("--byte-budget", type=click.IntRange(min=0), default=2 << 30, show_default=True,
              help="Without --sample/--all-files: bytes downloaded and hashed at most (the rest by size).")
@click.option("--concurrency", type=click.IntRange(1, 64), default=4, show_default=True,
              help="Parallel reads (below the import's default: a check should stay light).")
@click.option("--ca-bundle", type=click.Path(exists=True, dir_okay=False), help="PEM file of CAs to trust.")
@click.option("--accept-terms", is_flag=True, help="Accept Planka's terms on first login.")
@click.option("--repair", is_flag=True, help="Re-create what is missing and fix what differs in fields "
              "k2p owns (through the import's ledger), then check again. Never deletes what others added.")
@click.option("--report", type=ARCHIVE_ARG, help="Also write the full JSON report to this file.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
def check(ctx: click.Context, archive: Path, planka_url: str, state: Path | None, mapping: Path | None,
          boards: tuple[int, ...], sample: int | None, all_files: bool, byte_budget: int, concurrency: int,
          ca_bundle: str | None, accept_terms: bool, repair: bool, report: Path | None, as_json: bool) -> None:
    """Prove against the live Planka that nothing the import carried over was lost.

    Read-only (GET requests) unless --repair. Exit 0 when everything matches, 11 when Planka differs.
    """
    from k2p.check import CheckOptions, run_check
    from k2p.views.check import CheckProgress, show_check

    if sample is not None and all_files:
        raise K2PError("--sample and --all-files exclude each other", exit_code=ExitCode.USAGE)
    options = CheckOptions(archive=archive, planka_url=planka_url, state=state, mapping=mapping, boards=boards,
                           sample=sample, all_files=all_files, byte_budget=byte_budget, concurrency=concurrency,
                           ca_bundle=ca_bundle, accept_terms=accept_terms, repair=repair, report=report)
    with progress(not as_json) as bar:
        outcome = run_check(options, _planka_credentials(), on_progress=CheckProgress(bar))
    if as_json:
        emit_json({**outcome.report, "report_path": str(outcome.report_path) if outcome.report_path else None})
    else:
        show_check(outcome)
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
@click.argument("archive", type=ARCHIVE_ARG)
@click.option("-o", "--output", type=ARCHIVE_ARG, required=True, help="Site directory to write (new, "
              "empty, or a site k2p wrote before).")
@click.option("--board", "boards", multiple=True, help="Only this board (repeatable).")
@click.option("--no-files", is_flag=True, help="Neither link nor copy the stored files.")
@click.option("--copy-files", is_flag=True, help="Copy the files into the site (default: link them "
              "from the archive directory; a .k2p.tar is always copied from).")
@click.option("--open", "open_browser", is_flag=True, help="Open the home page in a browser afterwards.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def browse(archive: Path, output: Path, boards: tuple[str, ...], no_files: bool, copy_files: bool,
           open_browser: bool, as_json: bool) -> None:
    """Write a static, offline site to read ARCHIVE in a browser (no server, no network)."""
    from k2p.browse import BrowseOptions, build_site
    from k2p.views.browse import BrowseProgress, show_browse

    if no_files and copy_files:
        raise K2PError("--no-files and --copy-files exclude each other", exit_code=ExitCode.USAGE)
    options = BrowseOptions(archive=archive, out=output, boards=boards, files=not no_files,
                            copy_files=copy_files)
    with progress(not as_json) as bar:
        summary = build_site(options, on_progress=BrowseProgress(bar))
    emit_json(summary.to_dict()) if as_json else show_browse(summary)
    if open_browser:
        import webbrowser

        webbrowser.open(summary.index.resolve().as_uri())


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
