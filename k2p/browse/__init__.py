"""``k2p browse``: a static, offline site that lets a person read an archive without Planka.

What it owns: turning a complete archive (directory or ``.k2p.tar``) into HTML pages, the site's
own CSS and JavaScript, copies of (or links to) the stored files, and a client-side search index —
a site that works from ``file://`` with no server, no network and no external asset.

How data moves:

    ArchiveReader ──► ArchiveIndex (company records in memory; cards and their comments, files,
         │            time logs and location history streamed once into SQLite in
         │            SITE_DIR/.k2p-work, then loaded one board at a time)
         ▼
    per board (site.py): board.layout (columns × lanes) ─► cards.tile / cards.card_page
         │            (markup.py sanitises every text) ─► render.Renderer (Jinja2, autoescape)
         │            ─► paths.SiteWriter (only ever inside SITE_DIR)
         │            and every card, comment and file ─► search.SearchIndex (SQLite)
         ▼
    documents (when the archive holds them), home (company.py), missing and search pages
         ▼
    SearchIndex.finish ─► search/t-<n>.js (word shards) + search/d-<n>.js (entries) ─► k2p-site.json

Memory is bounded by the largest board, not by the number of cards. Archive content is hostile
input: see :mod:`k2p.browse.markup` (texts), :mod:`k2p.browse.paths` (file names) and the
Content-Security-Policy in :mod:`k2p.browse.render`.
"""

from k2p.browse.site import BrowseOptions, BrowseSummary, build_site

__all__ = ["BrowseOptions", "BrowseSummary", "build_site"]
