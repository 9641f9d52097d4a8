"""Planka side: HTTP client, replay of an archive, import ledger."""
