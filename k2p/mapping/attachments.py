"""Card files and external links → Planka attachments (uploads of archived blobs, or links)."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from k2p.mapping.context import BoardContext
from k2p.mapping.model import AttachmentPlan
from k2p.mapping.properties import PREFIX, property_name
from k2p.mapping.text import NAME_MAX, URL_MAX, clean, js_len

CLOUD_TYPES = {2, 3, 4, 5, 6}          # Google Drive, Dropbox, Box, OneDrive, Yandex Disk
IMAGE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}   # what Planka thumbnails
IMAGE_EXTENSIONS = {"png", "jpg", "jpeg", "gif", "webp"}
MAX_IMAGE_SIZE = 64 * 1024 * 1024      # Planka processes images up to this size only
_FQDN_PART = re.compile(r"^[a-z\u00a1-\uffff0-9-]+$", re.IGNORECASE)


@dataclass
class CardFiles:
    attachments: list[AttachmentPlan] = field(default_factory=list)
    cover_key: str | None = None
    # comment id or uid → (attachment key, name) of the files attached to that comment
    by_comment: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    # links not made clickable (credentials, private hosts): shown as text in the card's details
    held_links: list[str] = field(default_factory=list)


def plan_attachments(ctx: BoardContext, card: dict[str, Any], missing: dict[str, dict[str, Any]]) -> CardFiles:
    """Stored files become uploads, cloud files and external links become links; gaps are noted.

    ``missing`` is the archive's ``missing`` records by id (``file:<id>``), for the reasons.
    """
    card_id = str(card.get("id"))
    entity = f"card:{card_id}"
    result = CardFiles()
    for record in ctx.records.files.get(card_id, []):
        raw = record.get("raw") or {}
        if raw.get("deleted"):
            continue          # deleted in Kaiten, like deleted comments
        file_id = str(record.get("id"))
        key = f"attachment:{card_id}:file:{file_id}"
        name = ctx.name(raw.get("name"), NAME_MAX, entity, "attachment_name", filename=True)
        status, blob = record.get("status"), record.get("blob") or {}
        plan: AttachmentPlan | None = None
        if status == "stored" and blob.get("sha256"):
            plan = AttachmentPlan(key=key, type="file", name=name, sha256=blob["sha256"],
                                  size=blob.get("size"), is_image=_is_image(raw, blob),
                                  author_user_id=ctx.users.get(str(raw.get("author_id")))
                                  if raw.get("author_id") is not None else None)
            if raw.get("card_cover"):
                if plan.is_image:
                    result.cover_key = key
                else:
                    ctx.fidelity.add("lossy", entity, "cover", f"{name}: the cover is not an image Planka shows")
        elif status == "external" or raw.get("type") in CLOUD_TYPES:
            plan = _link(ctx, entity, key, raw.get("url"), raw.get("name"), result)
        else:
            ctx.fidelity.add("missing_file", entity, "attachment", f"{name}: {_reason(status, missing, file_id)}")
        if plan is None:
            continue
        result.attachments.append(plan)
        for owner in {raw.get("comment_id"), raw.get("comment_uid")} - {None}:
            result.by_comment.setdefault(str(owner), []).append((key, name))
    for link in card.get("external_links") or []:
        if isinstance(link, dict):
            key = f"attachment:{card_id}:link:{link.get('id')}"
            plan = _link(ctx, entity, key, link.get("url"), link.get("description"), result)
            if plan is not None:
                result.attachments.append(plan)
    result.attachments.extend(_property_links(ctx, card, result))
    return result


def _property_links(ctx: BoardContext, card: dict[str, Any], result: CardFiles) -> list[AttachmentPlan]:
    """A link attachment per property value that is one URL: Planka shows field values as plain
    text, a link attachment is clickable (named after the property)."""
    properties = card.get("properties")
    if not ctx.rules.custom_fields or not isinstance(properties, dict):
        return []
    links = []
    for key, value in properties.items():
        if str(key).startswith(PREFIX) and isinstance(value, str) and \
                value.strip().startswith(("http://", "https://")) and " " not in value.strip():
            property_id = str(key)[len(PREFIX):]
            plan = _link(ctx, f"card:{card.get('id')}", f"attachment:{card.get('id')}:property:{property_id}",
                         value, property_name(ctx, property_id), result)
            if plan is not None:
                links.append(plan)
    return links


def _link(ctx: BoardContext, entity: str, key: str, url: Any, title: Any,
          result: CardFiles) -> AttachmentPlan | None:
    if not isinstance(url, str) or not is_planka_url(clean(url.strip())):
        shown = url if not isinstance(url, str) or len(url) <= 200 else url[:200] + "…"
        ctx.fidelity.add("dropped", entity, "link", f"not an http(s) URL Planka accepts (≤ {URL_MAX}): {shown!r}")
        return None
    url = clean(url.strip())   # checked as sent
    hazard = link_hazard(url)
    if hazard:
        shown = masked_url(url)
        result.held_links.append(shown)
        ctx.fidelity.add("lossy", entity, "link", f"{shown}: {hazard}; kept as text in the card's details, "
                                                  f"not attached as a link")
        return None
    name_source = title if isinstance(title, str) and title.strip() else urlsplit(url).hostname or url
    return AttachmentPlan(key=key, type="link", name=ctx.name(name_source, NAME_MAX, entity, "attachment_name"),
                          url=url)


def link_hazard(url: str) -> str | None:
    """Why a link must not become a clickable attachment: credentials in it, or a host that means
    the viewer's own machine or network (loopback, private, link-local, reserved). No DNS lookup."""
    parts = urlsplit(url)
    if parts.username is not None or parts.password is not None:
        return "the URL carries credentials"
    host = (parts.hostname or "").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return "the URL points at a loopback host"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if address.is_loopback or address.is_private or address.is_link_local or address.is_reserved \
            or address.is_unspecified or address.is_multicast:
        return "the URL points at a loopback, private or link-local address"
    return None


def masked_url(url: str) -> str:
    """``url`` with any ``user:password@`` replaced by ``***@``."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return parts._replace(netloc="***@" + parts.netloc.rpartition("@")[2]).geturl()


def _is_image(raw: dict[str, Any], blob: dict[str, Any]) -> bool:
    size = blob.get("size")
    if isinstance(size, int) and (size <= 0 or size > MAX_IMAGE_SIZE):
        return False
    mime = str(raw.get("mime_type") or "").lower()
    if mime:
        return mime in IMAGE_TYPES
    return str(raw.get("name") or "").rpartition(".")[2].lower() in IMAGE_EXTENSIONS


def _reason(status: Any, missing: dict[str, dict[str, Any]], file_id: str) -> str:
    entry = missing.get(f"file:{file_id}")
    if entry is not None:
        detail = f" ({entry['detail']})" if entry.get("detail") else ""
        return f"{entry.get('reason') or 'missing'}{detail}"
    if status == "skipped":
        return "not downloaded (exported without files)"
    return f"not in the archive (status {status})"


def is_planka_url(url: str) -> bool:
    """What Planka's ``isUrl`` accepts: validator.js ``isURL`` for http(s), no TLD required, ≤ 2048."""
    # JavaScript's \s also matches U+FEFF; its length counts UTF-16 units.
    if not url or js_len(url) > URL_MAX or re.search("[\\s\ufeff<>]", url):
        return False
    rest = url.split("#", 1)[0].split("?", 1)[0]
    protocol, separator, rest = rest.partition("://")
    if not separator or protocol.lower() not in ("http", "https"):
        return False
    host = rest.split("/", 1)[0]
    if "@" in host:
        auth, _, host = host.partition("@")
        if not auth or auth.count(":") > 1 or auth == ":":
            return False
    wrapped = re.fullmatch(r"\[([^\]]+)\](?::(\d+))?", host)
    if wrapped:
        host, port = wrapped.group(1), wrapped.group(2)
        if not _is_ip(host, 6):
            return False
    else:
        host, _, port = host.partition(":")
    if port and (not port.isdigit() or not 0 < int(port) <= 65535):
        return False
    return bool(wrapped) or _is_ip(host, 4) or _is_fqdn(host)


def _is_ip(host: str, version: int) -> bool:
    try:
        return ipaddress.ip_address(host).version == version
    except ValueError:
        return False


def _is_fqdn(host: str) -> bool:
    parts = host.split(".")
    if parts[-1].isdigit():
        return False
    return all(len(part) <= 63 and _FQDN_PART.match(part) and not re.search(r"[\uff01-\uff5e]", part)
               and not part.startswith("-") and not part.endswith("-") for part in parts)
