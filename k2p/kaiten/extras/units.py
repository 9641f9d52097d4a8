"""The hook of :mod:`k2p.kaiten.export`: run the extra units, and what sealing needs of them."""

from __future__ import annotations

from typing import Any, Callable

from k2p.archive.format import CoverageEntry
from k2p.kaiten.context import CrawlContext
from k2p.kaiten.extras import company, coverage, space_settings
from k2p.kaiten.extras.counts import expected_totals
from k2p.kaiten.extras.documents import DocumentExporter
from k2p.kaiten.filehosts import FileHostPolicy
from k2p.kaiten.files import FileFetcher


def run_units(ctx: CrawlContext, runner: Any, progress: Callable[[str, Any], None], carrier: Any = None) -> None:
    """Documents, audit logs, company lists and each space's settings, as resumable units. With the
    ``carrier`` of an incremental export, documents' files PREVIOUS stored are carried over."""
    options = ctx.options
    progress("phase", "documents and settings")
    fetcher = FileFetcher(ctx.client, ctx.writer.blobs, download=options.files, max_size=options.max_file_size,
                          on_bytes=lambda size: progress("bytes", size),
                          policy=FileHostPolicy(ctx.client.endpoint, options.allow_file_hosts))
    if options.full_scope or options.spaces:   # a --board export holds no documents (out_of_scope)
        runner.run("documents", lambda out: DocumentExporter(ctx, fetcher, carrier).run(out))
    runner.run("company_lists", lambda out: company.export_company_lists(ctx, out))
    uids = space_settings.space_uids(ctx)
    for space_id in space_settings.spaces_in_scope(ctx):
        runner.run(f"settings:{space_id}", lambda out, sid=space_id: space_settings.export_space_settings(
            ctx, out, sid, uids.get(str(sid))))


def expected(counters: dict[str, int]) -> dict[str, int]:
    """``expected`` counts the extra units and card counters announced (``expected:<name>``)."""
    return expected_totals(counters)


def collection_coverage(ctx: CrawlContext, expected_counts: dict[str, int]) -> dict[str, CoverageEntry]:
    return coverage.coverage(ctx.writer, ctx.options, expected_counts)
