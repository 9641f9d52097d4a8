"""API simulators of Kaiten and Planka, shipped for tests, ``k2p demo`` and rehearsals.

``kaiten/`` serves a generated Kaiten company as the Kaiten REST API does and ``planka/``
imitates a Planka 2.1.1 server; each package's docstring lists its layers. What both use lives
here: ``loopback`` (the threaded loopback HTTP server, request log and fault plans) and ``demo``
(both simulators started together for ``k2p demo``).
"""
