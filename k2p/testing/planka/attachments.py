"""Attachment routes of the Planka simulator: multipart file uploads (sniffed type, image size,
automatic cover), link attachments (no outgoing request), and the downloads outside ``/api``."""

from __future__ import annotations

import mimetypes
import re
import struct
import unicodedata
from typing import Any
from urllib.parse import unquote

import idna

from k2p.testing.planka.access import card_path, require_board_reader, require_editor
from k2p.testing.planka.http import ROUTES, Ctx, Reply, not_found, unprocessable
from k2p.testing.planka.present import present_attachment
from k2p.testing.planka.validation import OPT_NAME_128, REQ_ID, Input, is_url

MAX_SIZE_TO_GET_ENCODING = 8 * 1024 * 1024
MAX_SIZE_TO_PROCESS_AS_IMAGE = 64 * 1024 * 1024
INLINE_MIME_TYPES = frozenset({"application/pdf", "audio/mpeg", "audio/wav", "audio/ogg", "audio/opus",
                               "audio/mp4", "audio/x-aac", "video/mp4", "video/ogg", "video/webm"})
_FILE_NOT_FOUND = "File attachment not found"


# --- links -------------------------------------------------------------------------------------
def url_hostname(url: str) -> str:
    """``new URL(url).hostname`` (WHATWG) for an http(s) URL that passed ``isURL``: lowercased,
    IDNA (UTS #46, non-transitional) for Unicode hosts, IPv6 kept in brackets, and found even
    without the ``//`` (``http:example.com``)."""
    rest = re.sub(r"^[a-z][a-z0-9+\-.]*:[/\\]*", "", url, flags=re.IGNORECASE)
    authority = re.split(r"[/?#\\]", rest, maxsplit=1)[0]
    host = authority.rpartition("@")[2]
    host = host[:host.index("]") + 1] if host.startswith("[") else host.partition(":")[0]
    host = unquote(host).lower()
    if not host.isascii():
        try:
            host = idna.encode(host, uts46=True, transitional=False).decode("ascii")
        except idna.IDNAError:
            pass
    return host


# --- file inspection ---------------------------------------------------------------------------
_FTYP_BRANDS = {b"avif": "image/avif", b"avis": "image/avif", b"heic": "image/heic", b"heix": "image/heic",
                b"hevc": "image/heic-sequence", b"hevx": "image/heic-sequence", b"mif1": "image/heif",
                b"msf1": "image/heif-sequence", b"qt  ": "video/quicktime", b"M4A ": "audio/x-m4a",
                b"M4V ": "video/x-m4v", b"3gp4": "video/3gpp", b"3gp5": "video/3gpp"}


def sniff_mime_type(data: bytes) -> str | None:
    """Magic-byte detection of common formats, like the ``file-type`` package Planka uses (which
    finds nothing for plain text, SVG, JSON or HTML)."""
    signatures = (
        (b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"), (b"GIF87a", "image/gif"),
        (b"GIF89a", "image/gif"), (b"%PDF-", "application/pdf"), (b"BM", "image/bmp"),
        (b"\x1f\x8b", "application/gzip"), (b"PK\x03\x04", "application/zip"),
        (b"II*\x00", "image/tiff"), (b"MM\x00*", "image/tiff"), (b"7z\xbc\xaf\x27\x1c", "application/x-7z-compressed"),
        (b"Rar!\x1a\x07", "application/x-rar-compressed"), (b"OggS", "application/ogg"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "application/x-cfb"), (b"8BPS", "image/vnd.adobe.photoshop"),
        (b"\x00\x00\x01\x00", "image/x-icon"), (b"MZ", "application/x-msdownload"), (b"<?xml ", "application/xml"),
    )
    if data[:4] == b"RIFF" and data[8:12] in (b"WEBP", b"WAVE", b"AVI "):
        return {b"WEBP": "image/webp", b"WAVE": "audio/wav", b"AVI ": "video/vnd.avi"}[data[8:12]]
    if data[4:8] == b"ftyp" and len(data) >= 12:
        return _FTYP_BRANDS.get(data[8:12], "video/mp4")
    if data[:4] == b"\x1aE\xdf\xa3":
        return "video/webm" if b"webm" in data[:64] else "video/x-matroska"
    if data[257:262] == b"ustar":
        return "application/x-tar"
    if data[:2] == b"PK" and data[30:38] == b"mimetype":
        declared = data[38:38 + 80].split(b"PK", 1)[0]
        if declared.startswith(b"application/vnd.oasis.opendocument."):
            return declared.decode("ascii", "replace")
    for magic, mime in signatures:
        if data.startswith(magic):
            return mime
    return None


def image_size(data: bytes, mime: str) -> tuple[int, int] | None:
    """(width, height) of the images sharp reads (PNG, GIF, JPEG, WebP, TIFF, AVIF), as Planka
    stores them (EXIF orientations 5–8 swap the sides); ``None`` when unreadable."""
    try:
        if mime == "image/png" and data[12:16] == b"IHDR":
            return struct.unpack(">II", data[16:24])
        if mime == "image/gif":
            return struct.unpack("<HH", data[6:10])
        if mime == "image/jpeg":
            size = _jpeg_size(data)
            return size[::-1] if size and _jpeg_orientation(data) > 4 else size
        if mime == "image/webp":
            return _webp_size(data)
        if mime == "image/tiff":
            return _tiff_size(data)
        if mime == "image/avif":
            found = data.find(b"ispe")
            return struct.unpack(">II", data[found + 8:found + 16]) if found > 0 else None
    except struct.error:
        return None
    return None


def thumbnails_extension(mime: str) -> str:
    """sharp's ``metadata.format`` as Planka names thumbnails (``jpeg`` → ``jpg``, AVIF is ``heif``)."""
    return {"image/jpeg": "jpg", "image/avif": "heif"}.get(mime, mime.split("/", 1)[1])


def _tiff_entries(data: bytes, offset: int) -> dict[int, int]:
    order = "<" if data[:2] == b"II" else ">"
    count = struct.unpack(order + "H", data[offset:offset + 2])[0]
    entries = {}
    for index in range(count):
        start = offset + 2 + 12 * index
        tag, kind = struct.unpack(order + "HH", data[start:start + 4])
        value = data[start + 8:start + 12]
        entries[tag] = struct.unpack(order + ("H" if kind == 3 else "I"), value[:2] if kind == 3 else value)[0]
    return entries


def _tiff_size(data: bytes) -> tuple[int, int] | None:
    order = "<" if data[:2] == b"II" else ">"
    entries = _tiff_entries(data, struct.unpack(order + "I", data[4:8])[0])
    return (entries[256], entries[257]) if 256 in entries and 257 in entries else None


def _jpeg_orientation(data: bytes) -> int:
    """The EXIF orientation tag of a JPEG's APP1 segment (1 when absent)."""
    index = 2
    while index + 4 < len(data) and data[index] == 0xFF:
        marker, length = data[index + 1], struct.unpack(">H", data[index + 2:index + 4])[0]
        if marker == 0xE1 and data[index + 4:index + 10] == b"Exif\x00\x00":
            tiff = data[index + 10:index + 2 + length]
            try:
                order = "<" if tiff[:2] == b"II" else ">"
                return _tiff_entries(tiff, struct.unpack(order + "I", tiff[4:8])[0]).get(0x0112, 1)
            except struct.error:
                return 1
        if marker == 0xDA:
            break
        index += 2 + length
    return 1


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    index = 2
    while index + 9 < len(data):
        if data[index] != 0xFF:
            index += 1
            continue
        marker = data[index + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            index += 2
            continue
        length = struct.unpack(">H", data[index + 2:index + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[index + 5:index + 9])
            return width, height
        index += 2 + length
    return None


def _webp_size(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8 ":
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L":
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X":
        return int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
    return None


def text_encoding(data: bytes) -> str:
    """istextorbinary 9.5 ``getEncoding``: 'utf8' unless one of three 24-byte samples (start,
    middle, end; widened to whole UTF-8 characters) decodes to U+FFFD or a code ≤ 8."""
    length = 24
    begins = [0]
    for begin in (max(0, len(data) // 2 - length), max(0, len(data) - length)):
        begins.append(begin)
    for begin in begins:
        if _sample_encoding(data, begin, length) == "binary":
            return "binary"
    return "utf8"


def _sample_encoding(data: bytes, begin: int, length: int) -> str:
    begin = _chunk_begin(data, begin)
    if begin == -1:
        return "binary"
    end = _chunk_end(data, min(len(data), begin + length))
    if end > len(data):
        return "binary"
    text = data[begin:end].decode("utf-8", "replace")
    return "binary" if any(char == "\ufffd" or ord(char) <= 8 for char in text) else "utf8"


def _lead(byte: int) -> int:
    """Length of the UTF-8 character a byte starts (0 for anything else)."""
    return 4 if byte >> 3 == 30 else 3 if byte >> 4 == 14 else 2 if byte >> 5 == 6 else 0


def _chunk_begin(data: bytes, begin: int) -> int:
    if begin == 0 or data[begin] >> 6 != 2:
        return begin
    for back, widths in ((3, (4,)), (2, (4, 3)), (1, (4, 3, 2))):
        if begin - back >= 0 and _lead(data[begin - back]) in widths:
            return begin - back
    return -1


def _chunk_end(data: bytes, end: int) -> int:
    if end == len(data):
        return end
    for back in (3, 2, 1):
        if end - back >= 0 and _lead(data[end - back]) > back:
            return end + _lead(data[end - back]) - back
    return end


def filenamify(name: str) -> str:
    """Planka's ``filenamify``: reserved characters become ``!``, at most 100 characters."""
    reserved = r'[<>:"/\\|?*\x00-\x1f]'
    name = re.sub(r"(" + reserved + r"){2,}", r"\1", name)
    name = unicodedata.normalize("NFD", name)
    name = re.sub(r"^\.+(\\|/)|^\.+$", "!", name)
    name = re.sub(reserved, "!", name)
    name = re.sub(r"[\x00-\x1f\x80-\x9f]", "!", name)
    name = re.sub(r"\.+$", "", name)
    if name.endswith("."):
        name += "!"
    if re.match(r"^(con|prn|aux|nul|com\d|lpt\d)$", name, re.IGNORECASE):
        name += "!"
    if len(name) > 100:
        dot = name.rfind(".")
        if dot == -1:
            name = name[:100]
        else:
            stem, ext = name[:dot], name[dot:]
            name = stem[:max(1, 100 - len(ext))] + ext
    return name


def file_data(filename: str, data: bytes) -> dict[str, Any]:
    """``attachments.processUploadedFile``: what Planka stores in ``attachment.data``."""
    mime = sniff_mime_type(data)
    size = len(data)
    stored: dict[str, Any] = {"filename": filenamify(filename), "mimeType": mime, "size": size,
                              "encoding": text_encoding(data) if size <= MAX_SIZE_TO_GET_ENCODING else None,
                              "image": None}
    if mime and mime.startswith("image/") and size <= MAX_SIZE_TO_PROCESS_AS_IMAGE:
        dims = image_size(data, mime)
        if dims:
            stored["image"] = {"width": dims[0], "height": dims[1], "thumbnailsExtension": thumbnails_extension(mime)}
    return stored


# --- routes ----------------------------------------------------------------------------------------
@ROUTES.add("POST", "/api/cards/{cardId}/attachments", {
    "cardId": REQ_ID, "type": Input(required=True, is_in=("file", "link")),
    "url": Input(max_length=2048, custom=is_url), "name": Input(required=True, max_length=128),
    "requestId": Input(not_empty=True, max_length=128)})
def create(ctx: Ctx) -> Any:
    store, me = ctx.store, ctx.user
    card, _lst, board, _project = card_path(store, ctx.get("cardId"))
    require_editor(store, me, board, "Card not found")
    blob = None
    if ctx.get("type") == "file":
        uploads = [u for u in ctx.files if u.field == "file"]
        limit = ctx.sim.max_upload_size
        for upload in uploads:
            if limit is not None and len(upload.data) > limit:
                raise unprocessable(f"Upload limit of {limit} bytes exceeded ({len(upload.data)} bytes written)")
        if not uploads:
            raise unprocessable("No file was uploaded")
        blob = uploads[-1].data
        data = file_data(uploads[-1].filename, blob)
    else:
        if not ctx.get("url"):
            raise unprocessable("Url must be present")
        data = {"hostname": url_hostname(ctx.get("url")), "url": ctx.get("url")}
    attachment = store.insert("attachments", {"cardId": card["id"], "creatorUserId": me["id"],
                                              "type": ctx.get("type"), "name": ctx.get("name"), "data": data})
    if blob is not None:
        store.files[attachment["id"]] = blob
    if not card["coverAttachmentId"] and data.get("image"):
        store.update("cards", card["id"], {"coverAttachmentId": attachment["id"],
                                           "isDueCompleted": card["isDueCompleted"] if card["dueDate"] else None})
    return {"item": present_attachment(attachment, ctx.base_url)}


def _editable_attachment(ctx: Ctx) -> tuple[dict[str, Any], dict[str, Any]]:
    attachment = ctx.store.get("attachments", ctx.get("id"))
    if not attachment:
        raise not_found("Attachment not found")
    card, _lst, board, _project = card_path(ctx.store, attachment["cardId"], "Attachment not found")
    require_editor(ctx.store, ctx.user, board, "Attachment not found")
    return attachment, card


@ROUTES.add("PATCH", "/api/attachments/{id}", {"id": REQ_ID, "name": OPT_NAME_128})
def update(ctx: Ctx) -> Any:
    attachment, _card = _editable_attachment(ctx)
    values = {"name": ctx.get("name")} if ctx.has("name") else {}
    return {"item": present_attachment(ctx.store.update("attachments", attachment["id"], values), ctx.base_url)}


@ROUTES.add("DELETE", "/api/attachments/{id}", {"id": REQ_ID})
def delete(ctx: Ctx) -> Any:
    store = ctx.store
    attachment, card = _editable_attachment(ctx)
    if card["coverAttachmentId"] == attachment["id"]:
        store.update("cards", card["id"], {"coverAttachmentId": None,
                                           "isDueCompleted": card["isDueCompleted"] if card["dueDate"] else None})
    store.files.pop(attachment["id"], None)
    return {"item": present_attachment(store.delete("attachments", attachment["id"]), ctx.base_url)}


def _readable_file(ctx: Ctx) -> dict[str, Any]:
    attachment = ctx.store.get("attachments", ctx.get("id"))
    if not attachment or attachment["type"] != "file":
        raise not_found(_FILE_NOT_FOUND)
    _card, _lst, board, project = card_path(ctx.store, attachment["cardId"], _FILE_NOT_FOUND)
    require_board_reader(ctx.store, ctx.user, project, board["id"], _FILE_NOT_FOUND)
    return attachment


@ROUTES.add("GET", "/attachments/{id}/download/{filename}", {"id": REQ_ID}, access="download")
def download(ctx: Ctx) -> Any:
    """Authenticated by the ``accessToken`` cookie or ``X-Api-Key``; a Bearer header is ignored."""
    attachment = _readable_file(ctx)
    data = attachment["data"]
    mime = data["mimeType"] or mimetypes.guess_type(data["filename"])[0] or "application/octet-stream"
    if re.match(r"text/|application/(javascript|json)", mime):
        mime += "; charset=utf-8"      # Express's res.set() adds the charset to textual types
    headers = {"Cache-Control": "private, max-age=86400, no-transform"}
    if data["mimeType"] not in INLINE_MIME_TYPES and not data["image"]:
        headers["Content-Disposition"] = "attachment"
    return Reply(200, raw=ctx.store.files.get(attachment["id"], b""), content_type=mime, headers=headers)


@ROUTES.add("GET", "/attachments/{id}/download/thumbnails/{fileName}.{fileExtension}", {
    "id": REQ_ID, "fileName": Input(required=True, is_in=("outside-360", "outside-720")),
    "fileExtension": Input(required=True, max_length=128)}, access="download")
def download_thumbnail(ctx: Ctx) -> Any:
    """Serves the original image bytes (the simulator does not resize)."""
    attachment = _readable_file(ctx)
    image = attachment["data"]["image"]
    if not image or ctx.get("fileExtension") != image["thumbnailsExtension"]:
        raise not_found(_FILE_NOT_FOUND)
    return Reply(200, raw=ctx.store.files.get(attachment["id"], b""),
                 content_type=attachment["data"]["mimeType"] or "application/octet-stream")
