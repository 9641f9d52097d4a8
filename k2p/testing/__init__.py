"""API simulators of Kaiten and Planka, shipped for tests, `k2p demo` and rehearsals."""
