"""k2p: export a Kaiten company into a verifiable archive and replay it into Planka."""

__version__ = "0.1.0"
