"""Ground truth of the complete-backup collections (documents, settings, company lists, coverage).

Like :mod:`tests.helpers.ground_truth`: each check compares an archive with what the simulator
serves to the token that made the export; :func:`expected_missing` adds the gaps these
collections predict (restricted documents, deleted document images, refused routes).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from k2p.archive.reader import ArchiveReader
from k2p.kaiten.extras.documents import references
from k2p.kaiten.extras.registry import KNOWN
from k2p.testing.kaiten import documents as kaiten_documents
from k2p.testing.kaiten.company import KaitenCompany
from tests.helpers.export import by_id, expected_pages, raws, records

SPACE_ADMIN_ROUTES = ("webhooks", "external_webhooks")


def _documents(co: KaitenCompany, token: str) -> dict[str, Any]:
    info = co.token_info(token)
    return {node["uid"]: co.expected(token, f"/documents/{node['uid']}")
            for node in kaiten_documents.readable_documents(co, info)}


def check_documents(root: Path, co: KaitenCompany, token: str) -> None:
    """Every readable document verbatim (``data`` the very JSON string served), its card links, its
    files stored as blobs with the simulator's bytes; every visible group and tree node."""
    served = _documents(co, token)
    documents = by_id(root, "documents")
    assert {uid: row["raw"] for uid, row in documents.items()} == served
    for uid, row in documents.items():
        assert isinstance(row["raw"]["data"], str)
        assert row["card_ids"] == references(served[uid]["data"])[0]
    assert any(row["card_ids"] for row in documents.values())
    assert raws(root, "document_groups") == {row["uid"]: row for row in
                                             co.expected(token, "/document-groups")}
    assert raws(root, "tree_entities") == {row["uid"]: row for row in
                                           co.expected(token, "/tree-entities", limit=500)}
    blob_keys = kaiten_documents.document_blob_keys(co, co.token_info(token))
    files = records(root, "document_files")
    assert len(files) == sum(len(references(doc["data"])[1]) for doc in served.values())
    for row in files:
        key = next(key for key in blob_keys if key in str(row["raw"].get("src") or row["raw"].get("url")))
        if blob_keys[key]:
            assert (row["status"], row["blob"]) == ("missing", None)
        else:
            assert row["status"] == "stored"
            assert row["blob"] == {"sha256": co.file_sha256(key), "size": co.blobs[key].size}
            blob = root / "blobs" / "sha256" / row["blob"]["sha256"][:2] / row["blob"]["sha256"]
            assert hashlib.sha256(blob.read_bytes()).hexdigest() == row["blob"]["sha256"]


def check_space_settings(root: Path, co: KaitenCompany, token: str) -> None:
    """Automations and template checklists of every visible space; webhooks only for an admin."""
    visible = sorted(co.visible_space_ids(token))
    admin = co.token_info(token).is_admin
    automations, templates, hooks = {}, {}, {}
    for space_id in visible:
        automations.update({row["id"]: row for row in co.expected(token, f"/spaces/{space_id}/automations")})
        uid = co.spaces[space_id]["uid"]
        templates.update({str(row["id"]): row for row in co.expected(token, f"/spaces/{uid}/template-checklists")})
        if admin:
            hooks.update({str(row["id"]): row for row in co.expected(token, f"/spaces/{space_id}/webhooks")})
    assert automations and raws(root, "automations") == automations
    assert raws(root, "template_checklists") == templates
    assert raws(root, "webhooks") == hooks
    assert raws(root, "iterations") == {}


def check_company_lists(root: Path, co: KaitenCompany, token: str) -> None:
    """Audit logs (newest first, as served) and service-desk services for an admin; nothing otherwise."""
    admin = co.token_info(token).is_admin
    audit = [row["raw"] for row in records(root, "audit_logs")]
    assert audit == (co.expected(token, "/audit-logs", limit=500) if admin else [])
    assert raws(root, "service_desk_services") == (
        {str(row["id"]): row for row in expected_pages(co, token, "/service-desk/services")} if admin else {})
    sla = records(root, "sla_measurements")
    visible = set(co.cards_visible_to(token))
    assert {row["ref"]["card_id"] for row in sla} == {str(cid) for cid in co.landmarks["service_desk_cards"]
                                                      if cid in visible}


def check_coverage(root: Path, co: KaitenCompany, token: str) -> None:
    """The manifest names every collection k2p knows, each record file is one of them, and the
    refused ones carry the status the simulator predicts."""
    with ArchiveReader(root) as reader:
        manifest = reader.manifest
    assert manifest.coverage is not None
    assert list(manifest.coverage) == [known.name for known in KNOWN]
    assert set(manifest.collections) <= set(manifest.coverage)
    refused = co.expected_missing(token)["collections"]
    status = {402: "not_on_tariff", 403: "forbidden"}
    for name, entry in manifest.coverage.items():
        if name in refused:
            assert entry.status == status[refused[name]], (name, entry)
        elif not next(known for known in KNOWN if known.name == name).supported:
            assert entry.status == "not_supported"
        elif name in manifest.collections:
            assert entry.status in ("collected", "partial") or (
                name in SPACE_ADMIN_ROUTES and not co.token_info(token).is_admin and entry.status == "forbidden"), \
                (name, entry)
            assert entry.records == manifest.collections[name].records
    assert manifest.collections["documents"].expected == len(
        [node for node in kaiten_documents.visible_nodes(co, co.token_info(token), "document")])


def expected_missing(co: KaitenCompany, token: str) -> set[tuple[str, str, int | None]]:
    info = co.token_info(token)
    out: set[tuple[str, str, int | None]] = set()
    for name, status in co.expected_missing(token)["collections"].items():
        out.add((f"collection:{name}", {402: "not_in_tariff", 403: "forbidden"}[status], status))
    if not info.is_admin:
        for space_id in co.visible_space_ids(token):
            for name in SPACE_ADMIN_ROUTES:
                out.add((f"collection:{name}:{space_id}", "forbidden", 403))
    readable = {node["uid"] for node in kaiten_documents.readable_documents(co, info)}
    for node in kaiten_documents.visible_nodes(co, info, "document"):
        if node["uid"] not in readable:
            out.add((f"document:{node['uid']}", "forbidden", 403))
            continue
        _, files = references(co.expected(token, f"/documents/{node['uid']}")["data"])
        for number, attrs in enumerate(files):
            if any(co.blobs[key].deleted for key in co.blobs if key in str(attrs.get("src") or attrs.get("url"))):
                out.add((f"document_file:{node['uid']}:{number}", "not_found", 404))
    return out


def document_blob_shas(root: Path) -> set[str]:
    return {row["blob"]["sha256"] for row in records(root, "document_files") if row["blob"]}
