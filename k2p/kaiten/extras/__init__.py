"""The complete backup beyond boards and cards: documents, activity, audit logs, settings.

What it owns and how data moves through it:

* :mod:`.registry` — every collection k2p knows (the core ones of ``crawl_company``,
  ``crawl_structure`` and ``crawl_cards`` and the ones below), each with its Kaiten route, paging,
  permission behaviour and the option that enables it. Nothing is exported that is not listed
  there, and everything listed there ends up in the manifest's ``coverage``.
* :mod:`.documents` — ``/tree-entities``, ``/document-groups`` and ``/documents`` (both API
  generations), every document fetched singly with ``data`` verbatim; the images and files its
  ProseMirror body refers to are downloaded as blobs (``document_files``) and the cards it links
  are noted on the record.
* :mod:`.company` — audit logs, company groups and service-desk services (company-level lists).
* :mod:`.space_settings` — per space: automations, webhooks, external webhooks, template checklists
  and iterations.
* :mod:`.card_lists` — extra per-card routes that :mod:`k2p.kaiten.crawl_cards` calls next to its
  own sub-lists: activity (``--with-activity``), baselines (``--with-baselines``) and SLA
  measurements of service-desk requests.
* :mod:`.counts` — what cards announce (comment, checklist-item and time counters) against what
  arrived: a shortfall is a ``count_mismatch`` entry; totals become the manifest's ``expected``.
* :mod:`.coverage` — at sealing, one status per known collection (``collected``, ``partial``,
  ``empty``, ``not_requested``, ``forbidden``, ``not_on_tariff``, ``not_supported``, ``failed``)
  computed from the records written, the ``missing`` entries and the options.

:func:`.units.run_units` is the single hook of :mod:`k2p.kaiten.export`: it runs the extra
units through the export's resumable unit runner, after the cards.
"""
