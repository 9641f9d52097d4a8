"""The Kaiten simulator: a generated company served over loopback HTTP as the Kaiten REST API does.

Data moves in one direction, each module depending only on those before it:

- ``formats`` (ids, timestamps, colours, text shapes) and ``files`` (blob bytes, signed URLs) are
  the leaves; ``compact`` stores a big company's per-card tables (cards, location history, files,
  checklists, time logs) as compressed JSON, pinning what callers take to mutate; read-only paths
  (views, routes, ground truth) go through its ``peek``/``read_field``, which work on plain dicts too;
- ``model`` holds the company as API-shaped records (:class:`~k2p.testing.kaiten.model.CompanyData`:
  records keyed by id, per-card relations, tokens, visibility rules) and imports no behaviour;
- ``generator`` (spaces, boards, users …), ``cards``, ``cards_text`` and ``cards_edges`` fill a
  model deterministically from a scale (``tiny`` … ``huge``, optionally rescaled to a card budget)
  and a seed; ``comment_tail`` generates long comment threads on demand from a seed instead of
  storing them; ``lazy`` lets a big company start from a skeleton and build each board's cards
  when first read (each board from its own random stream and id blocks, so the order of builds
  does not matter); ``changes`` evolves one between two exports;
- ``views`` assembles API payloads from the model; ``api`` is the request/reply and paging
  machinery; ``routes`` and ``card_routes`` map URL templates to views;
- ``documents`` (wiki: document groups and documents with ProseMirror ``data`` as a JSON string,
  both list generations) and ``space_config`` (automations, webhooks, template checklists,
  service desk, SLA measurements, baselines, a long activity feed) each add their data to a
  generated model from their own random stream and register their routes (imported by ``routes``);
- ``company`` is the facade tests use: :class:`~k2p.testing.kaiten.company.KaitenCompany` (the model
  plus ground-truth helpers built on views and routes) and ``generate_company(scale, seed)``;
- ``sim`` serves it: :class:`~k2p.testing.kaiten.sim.KaitenSimulator` (rate limits, faults, the
  file storage origin). Standalone: ``python -m k2p.testing.kaiten.sim --scale small``.
"""
