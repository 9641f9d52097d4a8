"""Thread-safe request accounting for the export report (requests per endpoint, retries, 429s)."""

from __future__ import annotations

import re
import threading
from collections import Counter
from typing import Any

STORAGE = "(file storage)"  # the endpoint name under which downloads from storage are counted
_ID_SEGMENT = re.compile(r"/(\d+|[0-9a-fA-F]{8}-[0-9a-fA-F-]{27})(?=/|$)")


def endpoint_template(path: str) -> str:
    """``/api/latest/cards/123/comments`` → ``/cards/{id}/comments`` (ids and UUIDs folded)."""
    path = re.sub(r"^/api/(latest|v1)", "", path)
    return _ID_SEGMENT.sub("/{id}", path) or "/"


class RequestStats:
    """Counters that survive a resume: :meth:`load` restores what an earlier run recorded."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: Counter[str] = Counter()
        self.statuses: Counter[str] = Counter()
        self.retries = 0
        self.throttled = 0
        self.api_bytes = 0
        self.file_bytes = 0
        self.file_downloads = 0
        self.waits_capped = 0

    def request(self, template: str, status: int | str, size: int = 0) -> None:
        with self._lock:
            self.requests[template] += 1
            self.statuses[str(status)] += 1
            self.api_bytes += size

    def retry(self) -> None:
        with self._lock:
            self.retries += 1

    def throttle(self) -> None:
        with self._lock:
            self.throttled += 1

    def cap_wait(self) -> None:
        with self._lock:
            self.waits_capped += 1

    def download(self, size: int) -> None:
        with self._lock:
            self.file_downloads += 1
            self.file_bytes += size

    def to_dict(self) -> dict[str, Any]:
        with self._lock:
            return {"requests_total": sum(self.requests.values()),
                    "api_requests": sum(count for template, count in self.requests.items()
                                        if template != STORAGE),
                    "requests_by_endpoint": dict(sorted(self.requests.items())),
                    "responses_by_status": dict(sorted(self.statuses.items())),
                    "retries": self.retries, "rate_limited_429": self.throttled,
                    "waits_capped": self.waits_capped,
                    "api_bytes": self.api_bytes, "file_downloads": self.file_downloads,
                    "file_bytes": self.file_bytes}

    def load(self, data: dict[str, Any]) -> None:
        """Add counters saved by an interrupted run."""
        with self._lock:
            self.requests.update(data.get("requests_by_endpoint", {}))
            self.statuses.update(data.get("responses_by_status", {}))
            self.retries += data.get("retries", 0)
            self.throttled += data.get("rate_limited_429", 0)
            self.waits_capped += data.get("waits_capped", 0)
            self.api_bytes += data.get("api_bytes", 0)
            self.file_downloads += data.get("file_downloads", 0)
            self.file_bytes += data.get("file_bytes", 0)
