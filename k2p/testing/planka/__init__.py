"""The Planka simulator: an in-process imitation of the Planka 2.1.1 REST API on loopback HTTP.

Layers, each depending only on those before it:

- ``positions`` (Planka's position arithmetic) and ``store`` (the in-memory tables, one lock);
- ``validation`` (request schemas and the framework's 400/422 envelopes), ``http`` (request,
  reply, route registry), ``auth`` (logins, terms acceptance, API keys), ``access`` (who may see
  and change what), ``present`` (records as Planka serialises them);
- one module per resource family: ``users``, ``projects``, ``boards``, ``cards``,
  ``card_content`` (tasks, comments, labels on cards, memberships), ``custom_fields``,
  ``attachments``, ``notifications`` (notifications, subscriptions, the SMTP outbox);
- ``routes`` registers them all; ``sim`` serves them:
  :class:`~k2p.testing.planka.sim.PlankaSimulator`. Standalone:
  ``python -m k2p.testing.planka.sim``.
"""
