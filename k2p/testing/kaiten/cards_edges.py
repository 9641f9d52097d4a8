"""The fixed edge cases placed on the first cards of the first board (names in ``EDGE_ROLES``).

Every edge-case record is recorded in ``company.landmarks`` (``"<role>_card"``, file keys …).
"""

from __future__ import annotations

from typing import Any

from k2p.testing.kaiten.cards_text import (
    ARABIC_TITLE, EMOJI_TITLE, HEBREW_TITLE, HTML_COMMENT, huge_description, long_title,
    markdown_description,
)
from k2p.testing.kaiten.files import MB, png_size
from k2p.testing.kaiten.formats import DEFAULT_FILES_ORIGIN, minutes_of, rng_uuid

Record = dict[str, Any]
# The builder is k2p.testing.kaiten.cards.CardBuilder, which calls this module: not imported here,
# so that the two modules do not import each other.
CardBuilder = Any


def apply_edge_roles(b: CardBuilder) -> None:
    """Overlay every deliberate edge case on its card(s)."""
    _titles(b)
    _descriptions(b)
    _comments_with_attachments(b)
    _edge_files(b)
    _private_files(b)
    _properties_and_people(b)
    _structure(b)


def _card(b: CardBuilder, role: str) -> Record:
    return b.co.cards[b.marks[f"{role}_card"]]


def _titles(b: CardBuilder) -> None:
    for role, title in (("emoji_title", EMOJI_TITLE), ("arabic_title", ARABIC_TITLE),
                        ("hebrew_title", HEBREW_TITLE), ("long_title", long_title())):
        _card(b, role)["title"] = title


def _describe(card: Record, text: str) -> None:
    card["description"] = text
    card["description_filled"] = True


def _descriptions(b: CardBuilder) -> None:
    _describe(_card(b, "markdown_description"), markdown_description())
    _describe(_card(b, "huge_description"), huge_description())
    card = _card(b, "file_links_description")
    spec = b.legacy_file(card, b.new_blob("spec.pdf", 18864, mime="application/pdf"))
    shot = b.legacy_file(card, b.new_blob("screenshot.png", 40_000, mime="image/png"))
    orphan = b.new_blob("inline-image.png", 12_345, mime="image/png")
    b.marks["orphan_file_key"] = orphan.key
    b.marks["description_linked_files"] = [_key(spec), _key(shot), orphan.key]
    _describe(card, f"Spec: [spec.pdf]({spec['url']})\n\n![screenshot]({shot['url']})\n\n"
                    f"Inline only: ![]({DEFAULT_FILES_ORIGIN}/{orphan.key}.png)\n")


def _key(record: Record) -> str:
    """Blob key of a legacy file record (the UUID in its URL)."""
    return record["url"].rsplit("/", 1)[-1].split(".", 1)[0]


def _comments_with_attachments(b: CardBuilder) -> None:
    card = _card(b, "html_comments")
    created = minutes_of(card["created"]) + 3 * 60
    markdown = b.add_comment(card, created, "See the attached **log** 📎", kind=1, edited=False)
    html = b.add_comment(card, created + 1, HTML_COMMENT, kind=2, edited=False)
    deleted = b.add_comment(card, created + 2, "This comment was deleted", kind=1, deleted=True)
    edited = b.add_comment(card, created + 3, "Edited *twice*", kind=1, edited=True)
    attachment = b.legacy_file(card, b.new_blob("build.log", 2048, kind="text", mime="text/plain"),
                               ftype=8, comment_id=markdown["id"])
    trace = b.new_blob("trace.txt", 3000, kind="text", mime="text/plain")
    private = b.private_file(card, trace, comment=html)
    b.marks.update(html_comment=html["id"], deleted_comment=deleted["id"], edited_comment=edited["id"],
                   comment_attachment_file=_key(attachment), private_comment_file=private["id"])


def _edge_files(b: CardBuilder) -> None:
    card = _card(b, "files_edge")
    marks = b.marks
    zero = b.legacy_file(card, b.new_blob("empty.txt", 0, kind="text", mime="text/plain"))
    twins = [b.legacy_file(card, b.new_blob("report.pdf", size, mime="application/pdf"))
             for size in (7000, 9000)]
    gone = b.legacy_file(card, b.new_blob("old-contract.docx", 5000, deleted=True))
    mismatch = b.legacy_file(card, b.new_blob("scan.pdf", 9000, mime="application/pdf"), declared=10_000)
    seed = b.rng.getrandbits(32)
    shared = [b.legacy_file(card, b.new_blob("diagram.png", 50_000, seed=seed, mime="image/png")),
              b.legacy_file(_card(b, "shared_bytes_copy"),
                            b.new_blob("diagram (copy).png", 50_000, seed=seed, mime="image/png"))]
    cover_seed = b.rng.getrandbits(32)
    cover_blob = b.new_blob("cover.png", png_size(cover_seed), kind="png", seed=cover_seed, mime="image/png")
    cover = b.legacy_file(_card(b, "cover_image"), cover_blob, cover=True)
    large = b.legacy_file(card, b.new_blob("dump.sql", MB + 200_000, kind="text", mime="application/sql"))
    b.large_left -= 1
    marks.update(zero_byte_file=_key(zero), same_name_files=[_key(r) for r in twins],
                 deleted_legacy_file=_key(gone), size_mismatch_file=_key(mismatch),
                 shared_bytes_files=[_key(r) for r in shared], cover_file=_key(cover),
                 large_legacy_file=_key(large))


def _private_files(b: CardBuilder) -> None:
    card = _card(b, "private_files")
    ok = b.private_file(card, b.new_blob("report.xlsx", 58818))
    bad = b.private_file(card, b.new_blob("invoice.pdf.exe", 4000, malicious=True))
    gone = b.private_file(card, b.new_blob("draft.pdf", 6000, deleted=True, mime="application/pdf"))
    large = b.private_file(card, b.new_blob("demo.mp4", MB + 500_000, mime="video/mp4"))
    b.large_left -= 1
    cloud = {
        "id": b.ids.next("file"), "url": "https://drive.google.com/file/d/1AbCdEfGhIjK/view",
        "name": "Roadmap (Google Docs)", "type": 2, "size": None, "mime_type": None, "deleted": False,
        "card_id": card["id"], "external": True, "author_id": card["owner_id"], "comment_id": None,
        "sort_order": 5.5, "card_cover": False, "created": card["created"], "updated": card["created"],
        "uid": rng_uuid(b.rng),
        "custom_property_id": None, "thumbnail_url": None}
    b.co.files[card["id"]].append(cloud)
    b.marks.update(private_file=ok["id"], malicious_file=bad["id"], deleted_private_file=gone["id"],
                   large_private_file=large["id"], cloud_file=cloud["id"])


def _properties_and_people(b: CardBuilder) -> None:
    card = _card(b, "all_properties")
    b.add_properties(card, every=True)
    prop_id = b.marks["property_by_type"]["attachment"]
    record = b.legacy_file(card, b.new_blob("specs.pdf", 30_000, mime="application/pdf"), property_id=prop_id)
    card["properties"][f"id_{prop_id}"] = [record["id"]]
    b.marks["attachment_property_file"] = _key(record)
    b.add_members(b.marks["members_card"], 3, responsible=True)


def _structure(b: CardBuilder) -> None:
    marks = b.marks
    blocked, blocker = marks["blocked_card"], marks["blocker_card"]
    b.add_blocker(blocked, blocker, "Needs the API first")
    b.add_blocker(blocked, None, "Waiting for legal")
    b.link_parent(marks["parent_card"], marks["child_card"])
    logged = _card(b, "time_logs")
    b.add_time_logs(logged, 2, minutes_of(logged["created"]))
    owner, sharer = _card(b, "shared_checklist_owner"), _card(b, "shared_checklist_sharer")
    checklist_id = b.add_checklist(owner, "Shared QA ✅", 3, minutes_of(owner["created"]), deleted_item=True)
    b.attach_checklist(sharer, checklist_id)
    sharer["parent_checklist_ids"] = [checklist_id]
    marks["shared_checklist"] = checklist_id
    card = _card(b, "external_links")
    b.add_link(card, "https://example.org/issue/1?q=" + "x" * 300, "A long link")
    b.add_link(card, "https://github.com/example/repo/pull/42", "PR #42")
