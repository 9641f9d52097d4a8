"""Downloading card files into blobs: both Kaiten file generations, checked against their size.

* legacy files (absolute public URL): plain GET, never with the token;
* private files (type 11, URL relative to the API): GET with the token → 302 or ``{url}`` →
  fetch the short-lived signed URL at once, never with the token;
* cloud-drive entries (Google Drive, Dropbox, …): kept as links, nothing downloaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import urljoin, urlsplit

import requests

from k2p import jsoncodec
from k2p.archive.blobs import BlobRef, BlobStore
from k2p.kaiten.client import KaitenClient, KaitenHTTPError, TransientError, _safe_target

CLOUD_TYPES = {2, 3, 4, 5, 6}          # Google Drive, Dropbox, Box, OneDrive, Yandex Disk
PRIVATE_TYPE = 11
DOWNLOAD_ATTEMPTS = 4
SIZE_MISMATCH_ATTEMPTS = 2
CHUNK = 1 << 16

@dataclass
class FileOutcome:
    """What happened to one file reference."""

    status: str                                  # stored | external | skipped | missing
    blob: BlobRef | None = None
    reason: str | None = None
    http_status: int | None = None
    detail: str = ""


class _Failed(Exception):
    def __init__(self, reason: str, detail: str, http_status: int | None = None) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.http_status = http_status


def file_key(file: dict[str, Any]) -> str:
    """Stable identity of a file reference (legacy integer id or private UUID)."""
    return f"{file.get('type')}:{file.get('id')}"


def declared_size(file: dict[str, Any]) -> int | None:
    """The size Kaiten announces (an integer for legacy files, a digit string for private ones)."""
    size = file.get("size")
    if isinstance(size, bool):
        return None
    if isinstance(size, int):
        return size
    if isinstance(size, str) and size.isdigit():
        return int(size)
    return None


class FileFetcher:
    """Fetch file bytes into the archive's blob store; thread-safe (one instance per export)."""

    def __init__(self, client: KaitenClient, blobs: BlobStore, *, download: bool = True,
                 max_size: int | None = None, on_bytes: Callable[[int], None] | None = None) -> None:
        self._downloads_enabled = download
        self._client = client
        self._blobs = blobs
        self._max_size = max_size
        self._on_bytes = on_bytes or (lambda size: None)

    def fetch(self, file: dict[str, Any]) -> FileOutcome:
        if file.get("type") in CLOUD_TYPES:
            return FileOutcome("external", detail="cloud-drive link, not downloaded")
        if not self._downloads_enabled:
            return FileOutcome("skipped", detail="--no-files")
        url = file.get("url")
        if not isinstance(url, str) or not url:
            return FileOutcome("missing", reason="no_url", detail="file has no URL")
        size = declared_size(file)
        if self._max_size is not None and size is not None and size > self._max_size:
            return FileOutcome("missing", reason="too_large",
                               detail=f"declared {size} bytes > --max-file-size {self._max_size}")
        last: _Failed | None = None
        attempts = 0
        for attempts in range(1, DOWNLOAD_ATTEMPTS + 1):
            try:
                ref = self._download(file, url, size)
            except _Failed as failure:
                last = failure
                # A second identical size mismatch is the file's real state, not a broken transfer.
                if failure.reason == "size_mismatch" and attempts >= SIZE_MISMATCH_ATTEMPTS:
                    break
                if failure.reason in ("interrupted", "size_mismatch", "link_expired"):
                    continue
                return FileOutcome("missing", reason=failure.reason, detail=failure.detail,
                                   http_status=failure.http_status)
            self._client.stats.download(ref.size)
            return FileOutcome("stored", blob=ref)
        assert last is not None
        reason = "download_failed" if last.reason == "interrupted" else last.reason
        return FileOutcome("missing", reason=reason, http_status=last.http_status,
                           detail=f"{last.detail} (after {attempts} attempts)")

    # --- one attempt -----------------------------------------------------------------------
    def _download(self, file: dict[str, Any], url: str, size: int | None) -> BlobRef:
        target = self._resolve(file, url)
        try:
            response = self._client.get(target, stream=True)
        except KaitenHTTPError as exc:
            if exc.status == 403 and file.get("type") == PRIVATE_TYPE:
                raise _Failed("link_expired", f"signed URL refused (403): {exc.target}", 403) from None
            raise _Failed(exc.reason, str(exc), exc.status) from None
        except TransientError as exc:
            raise _Failed("interrupted", str(exc)) from None
        with response:
            if response.status_code != 200:
                raise _Failed("http_error", f"GET {_safe_target(target)} answered {response.status_code}",
                              response.status_code)
            return self._store(response, size, _safe_target(target))

    def _resolve(self, file: dict[str, Any], url: str) -> str:
        """The URL holding the bytes: the public URL, or the signed URL of a private file."""
        absolute = urljoin(self._client.endpoint.origin + "/", url)
        private = file.get("type") == PRIVATE_TYPE or (
            self._client.endpoint.same_origin(absolute) and urlsplit(absolute).path.startswith("/api/"))
        if not private:
            return absolute
        try:
            response = self._client.get(absolute)
        except KaitenHTTPError as exc:
            raise _Failed(exc.reason, str(exc), exc.status) from None
        except TransientError as exc:
            raise _Failed("interrupted", str(exc)) from None
        location = response.headers.get("Location") if response.is_redirect else None
        if location is None and response.status_code == 200:
            try:
                body = jsoncodec.loads(response.content)
            except ValueError:
                body = None
            location = body.get("url") if isinstance(body, dict) else None
        if not location:
            raise _Failed("http_error", f"GET {_safe_target(absolute)} gave neither a redirect nor a URL",
                          response.status_code)
        signed = urljoin(absolute, location)
        if self._client.endpoint.same_origin(signed) and urlsplit(signed).path.startswith("/api/"):
            raise _Failed("http_error", f"{_safe_target(absolute)} redirected back into the API")
        return signed

    def _store(self, response: requests.Response, size: int | None, target: str) -> BlobRef:
        sink = self._blobs.sink()
        try:
            for chunk in response.iter_content(CHUNK):
                sink.write(chunk)
                self._on_bytes(len(chunk))
                if self._max_size is not None and sink.size > self._max_size:
                    raise _Failed("too_large", f"{target} exceeds --max-file-size {self._max_size}")
        except (requests.ConnectionError, requests.Timeout,
                requests.exceptions.ChunkedEncodingError) as exc:
            sink.abort()
            raise _Failed("interrupted", f"download of {target} broke off ({type(exc).__name__})") from None
        except BaseException:
            sink.abort()
            raise
        if size is not None and sink.size != size:
            sink.abort()
            raise _Failed("size_mismatch", f"{target}: Kaiten declares {size} bytes, received {sink.size}")
        return sink.commit()
