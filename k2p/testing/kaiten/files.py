"""File contents and signed storage URLs of the Kaiten simulator.

File bytes are never kept in memory: a :class:`FileBlob` declares a kind, a size and a content
seed, and its bytes are derived block by block on demand. Two blobs with the same
``(kind, size, content_seed)`` have identical bytes, which is how the generator models the same
file attached to two cards.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import random
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterator
from urllib.parse import quote, urlencode

from k2p.testing.kaiten.formats import png_bytes

BLOCK = 1 << 16
MB = 1 << 20
COVER_PNG_SHAPE = (320, 200)

_WORDS = ("kanban board card column lane sprint release review deploy backlog task "
          "задача доска колонка релиз проверка данные отчёт план").split()


@dataclass(frozen=True)
class FileBlob:
    """Content description of one stored object on the storage origin.

    ``key`` is the storage key (the UUID in a legacy URL, or a private file's id); ``size`` is the
    number of bytes the storage actually serves, which may differ from the ``size`` declared in the
    file's API payload (the generator creates one such mismatch on purpose).
    """

    key: str
    name: str
    mime_type: str | None
    size: int
    content_seed: int
    kind: str = "bin"  # "bin" | "text" | "png"
    deleted: bool = False
    malicious: bool = False
    public: bool = True  # legacy objects are reachable without a signature; private ones are not

    def chunks(self, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Yield the bytes ``[start, end)`` in blocks of at most :data:`BLOCK` bytes."""
        stop = self.size if end is None else min(end, self.size)
        if self.kind == "png":
            yield png_bytes(*COVER_PNG_SHAPE, self.content_seed)[start:stop]
            return
        position = start
        while position < stop:
            index, offset = divmod(position, BLOCK)
            block = _block(self.kind, self.content_seed, index)
            piece = block[offset:min(BLOCK, offset + stop - position)]
            yield piece
            position += len(piece)

    def read(self) -> bytes:
        return b"".join(self.chunks())

    def sha256(self) -> str:
        digest = hashlib.sha256()
        for piece in self.chunks():
            digest.update(piece)
        return digest.hexdigest()


@dataclass(frozen=True)
class FileRef:
    """Where one file payload lives and what downloading it must give.

    ``route`` is ``"legacy"`` (public storage URL, no auth), ``"private"`` (API route with the token,
    then a signed URL) or ``"external"`` (cloud-drive link, never downloadable). ``expected_status``
    is the status of the first request a correct exporter makes (200 also covers the 302 path).
    """

    card_id: int
    file_id: int | str
    key: str | None
    route: str
    expected_status: int | None
    reason: str = ""


def png_size(seed: int) -> int:
    """Byte length of the cover PNG derived from ``seed``."""
    return len(png_bytes(*COVER_PNG_SHAPE, seed))


def _block(kind: str, seed: int, index: int) -> bytes:
    rng = random.Random(seed * 1_000_003 + index)
    if kind == "text":
        text = " ".join(rng.choices(_WORDS, k=BLOCK // 4)) + "\n"
        return (text.encode("utf-8") * 2)[:BLOCK]
    return rng.randbytes(BLOCK)


def s3_error(code: str, message: str, key: str) -> bytes:
    """An S3-style XML error document."""
    return ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            f"<Error><Code>{code}</Code><Message>{message}</Message><Key>{key}</Key>"
            "<RequestId>k2p-sim</RequestId></Error>").encode("utf-8")


class UrlSigner:
    """Issues and checks short-lived S3-style presigned URLs.

    Issued signatures are remembered with a monotonic expiry, so TTLs below one second work in
    tests even though ``X-Amz-Expires`` is whole seconds.
    """

    def __init__(self, ttl: float, secret: bytes = b"k2p-simulated-storage") -> None:
        self.ttl = ttl
        self._secret = secret
        self._issued: dict[str, tuple[str, float]] = {}
        self._counter = 0
        self._lock = threading.Lock()

    def sign(self, key: str, filename: str, disposition: str) -> str:
        """Return ``/signed/<key>?X-Amz-…`` (path and query, no origin)."""
        with self._lock:
            self._counter += 1
            counter = self._counter
        signature = hmac.new(self._secret, f"{key}|{counter}".encode(), hashlib.sha256).hexdigest()
        with self._lock:
            self._issued[signature] = (key, time.monotonic() + self.ttl)
        now = datetime.now(timezone.utc)
        query = {
            "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
            "X-Amz-Credential": f"K2PSIM/{now:%Y%m%d}/ru-central1/s3/aws4_request",
            "X-Amz-Date": f"{now:%Y%m%dT%H%M%SZ}",
            "X-Amz-Expires": str(max(1, math.ceil(self.ttl))),
            "X-Amz-SignedHeaders": "host",
            "response-content-disposition": f"{disposition}; filename*=UTF-8''{quote(filename)}",
            "X-Amz-Signature": signature,
        }
        return f"/signed/{key}?{urlencode(query)}"

    def check(self, key: str, params: dict[str, list[str]],
              has_authorization: bool) -> tuple[str, str] | None:
        """``None`` if the request may be served, else an S3 ``(code, message)`` error."""
        if has_authorization:
            return ("InvalidArgument", "Only one auth mechanism allowed; only the X-Amz-Algorithm "
                    "query parameter, Signature query string parameter or the Authorization header "
                    "should be specified")
        signature = (params.get("X-Amz-Signature") or [""])[0]
        with self._lock:
            issued = self._issued.get(signature)
        if issued is None or issued[0] != key:
            return ("SignatureDoesNotMatch", "The request signature we calculated does not match "
                    "the signature you provided.")
        if time.monotonic() > issued[1]:
            return ("AccessDenied", "Request has expired")
        return None
