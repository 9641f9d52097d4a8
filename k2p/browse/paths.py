"""Where things go in the site: page names built from ids, never from archive text, and the
safe file names that copied files get.

Every page path is ``<dir>/<token>.html`` with a token from :func:`page_token`: lowercase ASCII
letters, digits and ``-`` (ids that are anything else become ``_`` + a hash), so nothing from the
archive can add a path separator, a ``..``, a case-only difference (DVDs and laptops often have
case-insensitive file systems) or a control character. :class:`SiteWriter` refuses any path that
resolves outside the site directory.
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from pathlib import Path
from urllib.parse import quote

from k2p.errors import ArchiveInvalid

_PLAIN_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")
_NAME_UNSAFE = re.compile(r'[\x00-\x1f\x7f-\x9f<>:"/\\|?*\u2028\u2029\u202a-\u202e\u2066-\u2069]')
_WINDOWS_RESERVED = re.compile(r"^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$", re.IGNORECASE)
NAME_MAX_BYTES = 150


def page_token(source_id: object) -> str:
    """A file-name-safe token for a source id: the id itself when it is plain, else a hash."""
    text = str(source_id)
    if _PLAIN_ID.match(text):
        return text
    return "_" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:40]


def card_path(card_id: object) -> str:
    return f"cards/{page_token(card_id)}.html"


def board_path(board_id: object, *, view: str = "board") -> str:
    suffix = "" if view == "board" else f"-{view}"
    return f"boards/{page_token(board_id)}{suffix}.html"


def document_path(document_id: object) -> str:
    return f"documents/{page_token(document_id)}.html"


def safe_file_name(name: object, fallback: str = "file") -> str:
    """An original file name made safe to write: no directories, controls, reserved characters or
    names, no leading dot, at most :data:`NAME_MAX_BYTES` bytes of UTF-8 (the extension kept)."""
    text = unicodedata.normalize("NFC", name if isinstance(name, str) else "")
    text = text.replace("\\", "/").rsplit("/", 1)[-1]
    text = _NAME_UNSAFE.sub("_", text).strip().lstrip(".").strip()
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
    if not text or text in {".", ".."}:
        text = fallback
    if _WINDOWS_RESERVED.match(text):
        text = "_" + text
    if len(text.encode("utf-8")) > NAME_MAX_BYTES:
        stem, dot, ext = text.rpartition(".")
        ext = ext if dot and stem and len(ext.encode("utf-8")) <= 16 else ""
        budget = NAME_MAX_BYTES - len(ext.encode("utf-8")) - (1 if ext else 0)
        stem = (stem if ext else text).encode("utf-8")[:budget].decode("utf-8", "ignore").rstrip(". ")
        text = f"{stem or fallback}.{ext}" if ext else (stem or fallback)
    return text


def href(from_page: str, target: str) -> str:
    """The relative URL from the page at ``from_page`` to the site file ``target`` (both relative
    to the site root), each segment percent-encoded."""
    base = os.path.dirname(from_page)
    rel = os.path.relpath(target, base or ".") if base else target
    return "/".join(quote(part) for part in rel.replace(os.sep, "/").split("/"))


class SiteWriter:
    """Writes files under the site directory only; counts files and bytes written."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.files = 0
        self.bytes = 0

    def target(self, rel: str) -> Path:
        path = (self.root / rel).resolve()
        if path != self.root and self.root not in path.parents:
            raise ArchiveInvalid(f"refusing to write {rel!r}: it would land outside {self.root}")
        return path

    def write(self, rel: str, data: bytes | str) -> None:
        """Write one file (temp file + rename: a reader never sees half a page)."""
        payload = data.encode("utf-8") if isinstance(data, str) else data
        path = self.target(rel)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        with open(tmp, "wb") as handle:
            handle.write(payload)
        os.replace(tmp, path)
        self.files += 1
        self.bytes += len(payload)

    def copy_stream(self, rel: str, source, size_hint: int = 0) -> None:  # type: ignore[no-untyped-def]
        """Copy a binary stream into ``rel`` (temp file + rename)."""
        path = self.target(rel)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        written = 0
        with open(tmp, "wb") as handle:
            while True:
                chunk = source.read(1 << 20)
                if not chunk:
                    break
                handle.write(chunk)
                written += len(chunk)
        os.replace(tmp, path)
        self.files += 1
        self.bytes += written
