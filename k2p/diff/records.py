"""One record's side of a diff: its canonical hash, its title and its field-level changes.

A record is compared whole (``raw`` plus the envelope: ``ref``, ``blob``, ``status``, …); a
change is named by the top-level keys of ``raw`` that differ and, for the envelope, by
``envelope.<key>`` (``envelope.blob`` means the file's bytes changed). Nested lists and objects
(checklists, members, tags, custom property values) also get a short readable summary.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import orjson

TITLE_KEYS = ("title", "name", "full_name", "username", "email", "text", "detail")
TITLE_LENGTH = 80
SUMMARY_ITEMS = 4
_ITEM_KEYS = ("id", "uid", "user_id", "tag_id")
# Envelope fields derived from what ``raw`` already says (the card list digest, docs/FORMAT.md):
# never a difference of their own.
DERIVED_ENVELOPE = frozenset({"list_sha256"})


def _compared(record: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in record.items() if key not in DERIVED_ENVELOPE}


def canonical_hash(record: dict[str, Any]) -> bytes:
    """A 16-byte digest of the record with keys sorted (key order is not data)."""
    record = _compared(record)
    try:
        data = orjson.dumps(record, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:   # integers beyond 64 bits
        data = json.dumps(record, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()
    return hashlib.blake2b(data, digest_size=16).digest()


def title_of(record: dict[str, Any]) -> str:
    """The first of ``title``, ``name``, ``full_name``, … of the raw payload (or the record)."""
    raw = record.get("raw")
    for source in (raw if isinstance(raw, dict) else {}, record):
        for key in TITLE_KEYS:
            value = source.get(key)
            if isinstance(value, str) and value.strip():
                return _shorten(" ".join(value.split()))
    return ""


def _shorten(text: str) -> str:
    return text if len(text) <= TITLE_LENGTH else text[:TITLE_LENGTH - 1] + "…"


def field_changes(old: dict[str, Any], new: dict[str, Any]) -> dict[str, str]:
    """``{field: summary}`` of what differs between two versions of a record, in field order;
    the summary is ``""`` for plain values."""
    changes: dict[str, str] = {}
    old_raw, new_raw = old.get("raw"), new.get("raw")
    if isinstance(old_raw, dict) and isinstance(new_raw, dict):
        changes.update(_differing(old_raw, new_raw))
    elif old_raw != new_raw:
        changes["raw"] = ""
    skipped = {"raw", "id", *DERIVED_ENVELOPE}
    envelope = _differing({k: v for k, v in old.items() if k not in skipped},
                          {k: v for k, v in new.items() if k not in skipped})
    changes.update({f"envelope.{key}": summary for key, summary in envelope.items()})
    return changes


def _differing(old: dict[str, Any], new: dict[str, Any]) -> dict[str, str]:
    keys = list(old) + [key for key in new if key not in old]
    return {key: summarize(old.get(key), new.get(key))
            for key in keys if key not in old or key not in new or old[key] != new[key]}


def summarize(old: Any, new: Any) -> str:
    """A short description of how a nested value changed: ``+Ann, −Bob, ~Checklist``."""
    if old is None or new is None:   # a list or object that appeared or went away
        empty = type(new if old is None else old)
        old, new = (empty() if old is None else old), (empty() if new is None else new)
    if isinstance(old, list) and isinstance(new, list):
        return _join(*_list_changes(old, new)) or "reordered"
    if isinstance(old, dict) and isinstance(new, dict):
        keys = list(old) + [key for key in new if key not in old]
        return _join([key for key in keys if key not in old], [key for key in keys if key not in new],
                     [key for key in keys if key in old and key in new and old[key] != new[key]])
    return ""


def _list_changes(old: list[Any], new: list[Any]) -> tuple[list[str], list[str], list[str]]:
    old_items, new_items = _keyed(old), _keyed(new)
    if old_items is None or new_items is None:   # scalars or items without ids
        added = [_label(item) for item in new if item not in old]
        removed = [_label(item) for item in old if item not in new]
        return added, removed, []
    return ([_label(item) for key, item in new_items.items() if key not in old_items],
            [_label(item) for key, item in old_items.items() if key not in new_items],
            [_label(item) for key, item in new_items.items()
             if key in old_items and old_items[key] != item])


def _keyed(items: list[Any]) -> dict[Any, Any] | None:
    """Items by their id, or ``None`` when they are not objects carrying a unique id."""
    if not all(isinstance(item, dict) for item in items):
        return None
    for key in _ITEM_KEYS:
        ids = [item.get(key) for item in items]
        if all(isinstance(value, (int, str)) for value in ids) and len(set(ids)) == len(ids):
            return dict(zip(ids, items))
    return None


def _label(item: Any) -> str:
    if isinstance(item, dict):
        return title_of({"raw": item}) or str(next((item[k] for k in _ITEM_KEYS if k in item), "item"))
    return _shorten(str(item))


def _join(added: list[str], removed: list[str], changed: list[str]) -> str:
    parts = [f"{sign}{label}" for sign, labels in (("+", added), ("−", removed), ("~", changed))
             for label in labels]
    more = len(parts) - SUMMARY_ITEMS
    return ", ".join(parts[:SUMMARY_ITEMS]) + (f" (+{more} more)" if more > 0 else "")
