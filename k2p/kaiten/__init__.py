"""Kaiten side: HTTP client, rate limiting and the export crawl."""
