"""Downloading card files into blobs: both Kaiten file generations, checked against their size.

* legacy files (absolute public URL): plain GET, never with the token;
* private files (type 11, URL relative to the API): GET with the token → 302 or ``{url}`` →
  fetch the short-lived signed URL at once, never with the token;
* cloud-drive entries (Google Drive, Dropbox, …): kept as links, nothing downloaded.

Every URL and redirect hop passes :class:`~k2p.kaiten.filehosts.FileHostPolicy` first, and a body
is cut off as soon as it passes the declared size plus :data:`SIZE_TOLERANCE` (or
``--max-file-size``): such a file is listed in ``missing`` and never downloaded again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import urljoin, urlsplit

import requests

from k2p import jsoncodec
from k2p.archive.blobs import BlobRef, BlobStore
from k2p.kaiten.client import (
    KaitenClient, KaitenHTTPError, RefusedBody, TransientError, _safe_target, iter_body,
)
from k2p.kaiten.filehosts import FileHostPolicy, HostRefused
from k2p.transport import BROKEN_TRANSFER

CLOUD_TYPES = {2, 3, 4, 5, 6}          # Google Drive, Dropbox, Box, OneDrive, Yandex Disk
PRIVATE_TYPE = 11
DOWNLOAD_ATTEMPTS = 4
SIZE_MISMATCH_ATTEMPTS = 2
SIZE_TOLERANCE = 64 << 10   # bytes a body may exceed its declared size before it is cut off
MAX_REDIRECTS = 3           # redirect hops followed per download (each one checked)

@dataclass
class FileOutcome:
    """What happened to one file reference."""

    status: str                                  # stored | external | skipped | missing
    blob: BlobRef | None = None
    reason: str | None = None
    http_status: int | None = None
    detail: str = ""
    carried: bool = False                        # blob taken over from the --since archive


class _Failed(Exception):
    def __init__(self, reason: str, detail: str, http_status: int | None = None) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.http_status = http_status


def _join(base: str, reference: str) -> str:
    try:
        return urljoin(base, reference)
    except ValueError:
        raise HostRefused("not a valid URL") from None


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
                 max_size: int | None = None, on_bytes: Callable[[int], None] | None = None,
                 policy: FileHostPolicy | None = None) -> None:
        self._downloads_enabled = download
        self._policy = policy or FileHostPolicy(client.endpoint)
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
        attempts = mismatches = 0
        for attempts in range(1, DOWNLOAD_ATTEMPTS + 1):
            try:
                ref = self._download(file, url, size)
            except _Failed as failure:
                last = failure
                # A second identical size mismatch is the file's real state, not a broken transfer.
                mismatches += failure.reason == "size_mismatch"
                if mismatches >= SIZE_MISMATCH_ATTEMPTS:
                    break
                if failure.reason in ("interrupted", "size_mismatch", "link_expired"):
                    continue
                return FileOutcome("missing", reason=failure.reason, detail=failure.detail,
                                   http_status=failure.http_status)
            self._client.stats.download(ref.size)
            return FileOutcome("stored", blob=ref)
        assert last is not None
        reason = "download_failed" if last.reason == "interrupted" else last.reason
        # Counted so that the entry does not depend on transfers that merely broke off in between.
        tries = f"{mismatches} downloads" if reason == "size_mismatch" else f"{attempts} attempts"
        return FileOutcome("missing", reason=reason, http_status=last.http_status,
                           detail=f"{last.detail} (after {tries})")

    # --- one attempt -----------------------------------------------------------------------
    def _download(self, file: dict[str, Any], url: str, size: int | None) -> BlobRef:
        try:
            target, trusted = self._resolve(file, url)
            response = self._open(target, trusted)
        except KaitenHTTPError as exc:
            if exc.status == 403 and file.get("type") == PRIVATE_TYPE:
                raise _Failed("link_expired", f"signed URL refused (403): {exc.target}", 403) from None
            raise _Failed(exc.reason, str(exc), exc.status) from None
        except (TransientError, OSError) as exc:
            raise _Failed("interrupted", str(exc)) from None
        except HostRefused as exc:
            raise _Failed("refused_url", f"download refused: {exc}") from None
        except RefusedBody as exc:
            raise _Failed(exc.reason, str(exc)) from None
        with response:
            if response.status_code != 200:
                raise _Failed("http_error", f"GET {_safe_target(response.url)} answered "
                              f"{response.status_code}", response.status_code)
            return self._store(response, size, _safe_target(response.url))

    def _open(self, url: str, trusted: set[str]) -> requests.Response:
        """GET ``url``, following at most :data:`MAX_REDIRECTS` hops, each checked by the policy."""
        for _ in range(MAX_REDIRECTS + 1):
            self._policy.check(url, trusted)
            response = self._client.get(url, stream=True)
            if not response.is_redirect:
                return response
            response.close()
            url = _join(url, response.headers["Location"])
        raise HostRefused(f"more than {MAX_REDIRECTS} redirects")

    def _resolve(self, file: dict[str, Any], url: str) -> tuple[str, set[str]]:
        """The URL holding the bytes (the public URL, or the signed URL of a private file) and the
        hosts the API named for it."""
        absolute = _join(self._client.endpoint.origin + "/", url)
        private = file.get("type") == PRIVATE_TYPE or (
            self._client.endpoint.same_origin(absolute) and urlsplit(absolute).path.startswith("/api/"))
        if not private:
            return absolute, set()
        self._policy.check(absolute)
        response = self._client.get(absolute)
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
        if not isinstance(location, str):
            raise _Failed("http_error", f"GET {_safe_target(absolute)} named no usable URL")
        signed = _join(absolute, location)
        if self._client.endpoint.same_origin(signed) and urlsplit(signed).path.startswith("/api/"):
            raise _Failed("http_error", f"{_safe_target(absolute)} redirected back into the API")
        return signed, {urlsplit(signed).hostname or ""}

    def _limit(self, size: int | None) -> tuple[int | None, str]:
        """The most bytes a body may bring, and how to name that limit."""
        limits = [(self._max_size, f"--max-file-size {self._max_size}")] if self._max_size is not None else []
        if size is not None:
            limits.append((size + SIZE_TOLERANCE, f"the declared {size} bytes + {SIZE_TOLERANCE} "
                                                  f"tolerance"))
        return min(limits, key=lambda item: item[0]) if limits else (None, "")

    def _store(self, response: requests.Response, size: int | None, target: str) -> BlobRef:
        sink = self._blobs.sink()
        limit, limit_text = self._limit(size)
        try:
            for chunk in iter_body(response, target, limit=limit, limit_text=limit_text):
                sink.write(chunk)
                self._on_bytes(len(chunk))
        except RefusedBody as exc:
            sink.abort()
            raise _Failed(exc.reason, str(exc)) from None
        except BROKEN_TRANSFER as exc:
            sink.abort()
            raise _Failed("interrupted", f"download of {target} broke off ({type(exc).__name__})") from None
        except BaseException:
            sink.abort()
            raise
        if size is not None and sink.size != size:
            sink.abort()
            raise _Failed("size_mismatch", f"{target}: Kaiten declares {size} bytes, received {sink.size}")
        return sink.commit()
