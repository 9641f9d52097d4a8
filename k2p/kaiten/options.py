"""Configuration of an export (validated once, stored in the journal to guard resumes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ExportOptions(BaseModel):
    """``k2p export`` options. Only :meth:`content_settings` must match when resuming."""

    model_config = ConfigDict(frozen=True)

    kaiten_url: str
    out: Path
    rps: float = Field(4.0, gt=0, le=1000)
    concurrency: int = Field(4, ge=1, le=64)
    spaces: tuple[int, ...] = ()
    boards: tuple[int, ...] = ()
    files: bool = True
    max_file_size: int | None = Field(None, ge=0)
    ca_bundle: str | None = None
    allow_file_hosts: tuple[str, ...] = ()
    batch_size: int = Field(50, ge=1, le=1000)
    # incremental export (k2p.kaiten.delta): PREVIOUS archive, boards to read again, re-read all
    since: Path | None = None
    refresh_boards: tuple[int, ...] = ()
    full: bool = False

    @property
    def lists_company_wide(self) -> bool:
        """A full-scope delta lists every card once, company-wide, instead of board by board."""
        return self.since is not None and self.full_scope
    with_activity: bool = False     # GET /cards/{id}/activity for every card (k2p.kaiten.extras)
    with_baselines: bool = False    # GET /cards/{id}/baselines for every card

    @property
    def full_scope(self) -> bool:
        return not self.spaces and not self.boards

    def content_settings(self, api_base: str) -> dict[str, Any]:
        """The settings that shape the archive's content (rate and concurrency do not)."""
        return {"api_base": api_base, "spaces": sorted(self.spaces), "boards": sorted(self.boards),
                "files": self.files, "max_file_size": self.max_file_size,
                "batch_size": self.batch_size,
                # only when given, so that exports interrupted before the option existed resume
                **({"allow_file_hosts": sorted(self.allow_file_hosts)} if self.allow_file_hosts else {}),
                **({"since": str(self.since), "refresh_boards": sorted(self.refresh_boards), "full": self.full}
                   if self.since is not None else {}),
                **({"with_activity": True} if self.with_activity else {}),
                **({"with_baselines": True} if self.with_baselines else {})}

    def scope(self) -> dict[str, Any]:
        """The scope as recorded in the manifest."""
        return {"spaces": sorted(self.spaces), "boards": sorted(self.boards), "files": self.files,
                "max_file_size": self.max_file_size,
                **({"with_activity": True} if self.with_activity else {}),
                **({"with_baselines": True} if self.with_baselines else {})}
