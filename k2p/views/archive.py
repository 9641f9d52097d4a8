"""Text output of ``verify``, ``inspect``, ``pack``, ``unpack`` and single-volume checks."""

from __future__ import annotations

from typing import Any

from k2p.archive.pack import PackResult
from k2p.archive.verify import VerifyReport
from k2p.archive.volumes.reader import VolumeCheck
from k2p.console import human_bytes, say, table


def carrier_lines(details: dict[str, Any]) -> list[str]:
    """How the archive travelled: its volume set and its encryption (for every reader command)."""
    lines = []
    volumes = details.get("volumes")
    if volumes:
        lines.append(f"Volumes      {volumes['volumes']} × ≤ {human_bytes(volumes['volume_size'])} of "
                     f"{volumes['archive']} (index {volumes['index']})")
    encryption = details.get("encryption")
    if encryption:
        lines.append(f"Encrypted    {encryption['method']}; ciphertext SHA-256 "
                     f"{encryption['ciphertext_sha256']} ({human_bytes(encryption['ciphertext_bytes'])})")
    return lines


def show_verify(report: VerifyReport) -> None:
    verdict = {"ok": "OK", "problems": f"FAILED — {len(report.problems)} problem(s)",
               "incomplete": "INCOMPLETE", "unsupported": "UNSUPPORTED VERSION"}[report.status]
    say(f"Verified {report.archive} at the {report.level} level: {verdict}")
    if report.level == "fast":
        say("  (fast: presence, sizes and counts only — run without --fast to re-hash every file)")
    say(f"  {report.files_checked} file(s) hashed, {human_bytes(report.bytes_checked)} "
        f"in {report.seconds:.1f} s")
    for problem in report.problems:
        say(f"  PROBLEM {problem}")
    for note in report.notes:
        say(f"  note: {note}")
    for line in carrier_lines(report.details):
        say(line)
    say(f"Fingerprint: {report.fingerprint or 'unavailable (no SHA256SUMS)'}")


def show_inspect(info: dict[str, Any]) -> None:
    source = info["source"]
    say(f"Archive      {info['archive']}")
    say(f"Format       {info['format']} {info['format_version']}  (id {info['archive_id']})")
    company = f"company {source.get('company_id')}"
    if source.get("company_name"):
        company += f" \"{source['company_name']}\""
    say(f"Source       {source.get('system')} {source.get('base_url')} ({company})")
    if source.get("user_id") is not None:
        say(f"Exported by  user {source.get('user_id')} {source.get('user_name') or ''}".rstrip())
    say(f"Written      {info['created_at']} → {info['completed_at']} by "
        f"{info['exporter']['name']} {info['exporter']['version']}")
    scope = info["scope"] or {}
    say("Scope        " + (", ".join(f"{key}: {_scope_value(value)}" for key, value in scope.items())
                           or "everything the token can see"))
    rows = [(name, entry["records"], "-" if entry["expected"] is None else entry["expected"],
             human_bytes(entry["bytes"])) for name, entry in info["collections"].items()]
    table("Collections", ("collection", "records", "expected", "size"), rows)
    _show_coverage(info.get("coverage"))
    say(f"Blobs        {info['blobs']['count']} file(s), {human_bytes(info['blobs']['bytes'])}")
    missing = info["missing"]
    reasons = ", ".join(f"{reason}: {count}" for reason, count in missing["by_reason"].items())
    say(f"Missing      {missing['count']}" + (f" ({reasons})" if reasons else ""))
    if info.get("chain"):
        say(chain_line(info["chain"], "Based on    "))

    for line in carrier_lines(info.get("container") or {}):
        say(line)
    say(f"Fingerprint  {info['fingerprint']}")


def chain_line(chain: dict[str, Any], label: str) -> str:
    """One line naming the archive an incremental export was based on and what it re-read."""
    previous = chain["previous"]
    extra = "; --full" if chain.get("full") else ""
    if chain.get("refreshed_boards"):
        extra += "; refreshed boards " + ", ".join(map(str, chain["refreshed_boards"]))
    return (f"{label} {previous['archive_id']} of {previous['created_at']} (fingerprint "
            f"{previous['fingerprint'][:16]}…): cards carried over "
            f"{chain['carried_over'].get('cards', 0)}, read again {chain['reread'].get('cards', 0)}, "
            f"blobs carried over {chain['carried_over'].get('blobs', 0)}{extra}")


def _show_coverage(coverage: dict[str, Any] | None) -> None:
    """Every collection k2p knows and why those not collected are absent (docs/FORMAT.md §2.1)."""
    if coverage is None:
        say("Coverage     not recorded (archive written before k2p listed every known collection)")
        return
    rows = []
    for name, entry in coverage.items():
        why = entry.get("option") and f"enable with {entry['option']}"
        why = why or " ".join(str(part) for part in (entry.get("reason"), entry.get("http_status")) if part)
        if entry.get("missing"):
            why = f"{why}; {entry['missing']} missing entr{'y' if entry['missing'] == 1 else 'ies'}".lstrip("; ")
        rows.append((name, entry["status"], "-" if entry.get("records") is None else entry["records"],
                     why or entry.get("note") or ""))
    table("Coverage", ("collection", "status", "records", "why"), rows)


def _scope_value(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(map(str, value)) if value else "all"
    if value is None:
        return "none"
    return str(value)


def show_packed(result: PackResult, verb: str) -> None:
    say(f"{verb} {result.files} file(s), {human_bytes(result.bytes)} → {result.path}")
    if result.volumes:
        say(f"Volumes: {len(result.volumes)} ({result.volumes[0].name} … {result.volumes[-1].name}); "
            f"check each with `sha256sum -c {result.path.name}.sha256` or "
            f"`k2p verify {result.volumes[-1].name}`; copy {result.path.name} onto every medium")
    if result.encryption:
        say(f"Encrypted: {result.encryption}; ciphertext SHA-256 {result.ciphertext_sha256}")
    for line in carrier_lines(result.details):
        say(line)
    say(f"Fingerprint: {result.fingerprint}")


def show_volume(check: VolumeCheck) -> None:
    verdict = "OK" if check.ok else "FAILED"
    say(f"{check.path}: volume {check.number} of {check.count} of {check.archive}: {verdict} — "
        f"{check.message}")
    if check.fingerprint:
        say(f"Fingerprint of the archive (from the index): {check.fingerprint}")
