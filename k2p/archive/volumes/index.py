"""The volume index ``NAME.k2p.volumes``: model, names, and where to find it."""

from __future__ import annotations

import re
from pathlib import Path

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from k2p.archive.format import SHA256_HEX, check_version
from k2p.errors import ArchiveIncomplete, ArchiveInvalid

INDEX_FORMAT = "k2p-volumes"
INDEX_VERSION = "1.0"
INDEX_SUFFIX = ".volumes"
SUMS_SUFFIX = ".sha256"
MAX_VOLUMES = 999                 # three digits keep `cat NAME.*` in the right order
MAX_INDEX_BYTES = 1 << 20
VOLUME_NAME = re.compile(r"^(?P<base>[^/\\]+)\.(?P<number>[0-9]{3})$")


class VolumeEntry(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str
    size: int = Field(ge=0)
    sha256: str


class VolumeIndex(BaseModel):
    """Everything needed to check each volume alone and the set as a whole."""

    model_config = ConfigDict(extra="ignore")

    format: str = INDEX_FORMAT
    format_version: str = INDEX_VERSION
    archive: str                  # the single file the volumes join into (NAME.k2p.tar[.age])
    encrypted: bool = False
    size: int = Field(ge=0)       # bytes of the joined file
    sha256: str                   # of the joined file (the ciphertext when encrypted)
    fingerprint: str | None = None  # SHA-256 of the archive's SHA256SUMS (the plaintext's)
    volume_size: int = Field(gt=0)
    volumes: list[VolumeEntry]

    def number_of(self, name: str) -> int | None:
        for number, entry in enumerate(self.volumes, start=1):
            if entry.name == name:
                return number
        return None


def volume_name(archive: str, number: int) -> str:
    return f"{archive}.{number:03d}"


def index_path_for(single: Path) -> Path:
    """``acme.k2p.tar`` or ``acme.k2p.tar.age`` → ``acme.k2p.volumes``."""
    name = single.name
    for suffix in (".tar.age", ".tar"):
        if name.endswith(suffix) and len(name) > len(suffix):
            return single.with_name(name[: -len(suffix)] + INDEX_SUFFIX)
    return single.with_name(name + INDEX_SUFFIX)


def sums_path_for(index: Path) -> Path:
    return index.with_name(index.name + SUMS_SUFFIX)


def render_sums(index: VolumeIndex, index_sha256: str, index_name: str) -> bytes:
    """``sha256sum -c`` lines for every volume and the index itself."""
    lines = [f"{entry.sha256}  {entry.name}" for entry in index.volumes]
    lines.append(f"{index_sha256}  {index_name}")
    return ("\n".join(lines) + "\n").encode()


def is_index_path(path: Path) -> bool:
    return path.name.endswith(INDEX_SUFFIX)


def volume_base(path: Path) -> tuple[Path, int] | None:
    """``acme.k2p.tar.003`` → (``acme.k2p.tar``, 3); ``None`` for any other name."""
    match = VOLUME_NAME.match(path.name)
    if not match or int(match.group("number")) == 0:
        return None
    return path.with_name(match.group("base")), int(match.group("number"))


def find_index(path: Path) -> Path:
    """The index of the set ``path`` (an index or a volume) belongs to; exit 4 when absent."""
    if is_index_path(path):
        return path
    base = volume_base(path)
    if base is None:
        raise ArchiveInvalid(f"{path}: not a volume (NAME.001) nor a volume index (NAME.volumes)")
    index = index_path_for(base[0])
    if not index.is_file():
        raise ArchiveIncomplete(f"{path}: the volume index {index.name} is not next to it; copy it "
                                f"from the first medium (every medium should carry it), or join the "
                                f"volumes with `cat {base[0].name}.* > {base[0].name}`")
    return index


def load_index(path: Path) -> VolumeIndex:
    """Read and validate an index (bounded, names checked, sizes consistent)."""
    try:
        if path.is_symlink():
            raise ArchiveInvalid(f"{path} is a symbolic link; give the index's real path")
        size = path.stat().st_size
        if size > MAX_INDEX_BYTES:
            raise ArchiveInvalid(f"{path}: {size} bytes is too large for a volume index")
        raw = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        raise ArchiveIncomplete(f"{path}: no such volume index") from None
    except orjson.JSONDecodeError as exc:
        raise ArchiveInvalid(f"{path}: not valid JSON ({exc}); copy the index again") from None
    if not isinstance(raw, dict) or raw.get("format") != INDEX_FORMAT:
        raise ArchiveInvalid(f"{path}: not a k2p volume index")
    check_version(str(raw.get("format_version", "")), what=str(path))
    try:
        index = VolumeIndex.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ArchiveInvalid(f"{path}: field {'.'.join(map(str, first['loc']))!r}: {first['msg']}") from None
    _validate(index, path)
    return index


def _validate(index: VolumeIndex, path: Path) -> None:
    if "/" in index.archive or "\\" in index.archive or index.archive.startswith(".") or \
            not index.archive or len(index.archive) > 240:
        raise ArchiveInvalid(f"{path}: archive name {index.archive!r} is not a plain file name")
    if not 1 <= len(index.volumes) <= MAX_VOLUMES:
        raise ArchiveInvalid(f"{path}: {len(index.volumes)} volumes (1 to {MAX_VOLUMES} allowed)")
    for number, entry in enumerate(index.volumes, start=1):
        if entry.name != volume_name(index.archive, number):
            raise ArchiveInvalid(f"{path}: volume {number} is named {entry.name!r}, expected "
                                 f"{volume_name(index.archive, number)!r}")
        if not SHA256_HEX.match(entry.sha256) or entry.size > index.volume_size:
            raise ArchiveInvalid(f"{path}: entry of {entry.name} is malformed (hash or size)")
    if sum(entry.size for entry in index.volumes) != index.size or not SHA256_HEX.match(index.sha256):
        raise ArchiveInvalid(f"{path}: volume sizes do not add up to the archive's size")
