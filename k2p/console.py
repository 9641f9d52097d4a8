"""Terminal output shared by all commands: tables, progress (TTY only), JSON, one-line errors."""

from __future__ import annotations

import re
import sys
import traceback
from contextlib import contextmanager
from typing import Any, Iterator, Sequence

import orjson
from rich.console import Console
from rich.progress import (
    BarColumn, DownloadColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TaskID, TaskProgressColumn,
    TextColumn, TimeRemainingColumn, TransferSpeedColumn,
)
from rich.text import Text
from rich.table import Table

from k2p.redaction import redact

# Control characters (escape sequences, C1 controls, line breaks) and bidirectional overrides: a
# name from an archive or an API must not move the cursor, recolour a verdict or fake a line.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")

_out = Console(highlight=False, soft_wrap=True)
_err = Console(stderr=True, highlight=False, soft_wrap=True)


def human_bytes(size: float) -> str:
    """1536 → '1.5 KiB'."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"


def printable(text: str) -> str:
    """``text`` for a terminal: every control character shown as an escape (``\\x1b``)."""
    return _UNPRINTABLE.sub(lambda match: match.group().encode("unicode_escape").decode("ascii"), text)


def emit_json(payload: Any) -> None:
    """Print a JSON document to stdout (for ``--json``)."""
    sys.stdout.write(redact(orjson.dumps(payload, option=orjson.OPT_INDENT_2).decode()) + "\n")
    sys.stdout.flush()


def emit_json_line(payload: Any) -> None:
    """Print one compact JSON object as a line of a JSON Lines stream (for streaming ``--json``)."""
    sys.stdout.write(redact(orjson.dumps(payload).decode()) + "\n")


def say(text: str = "") -> None:
    """Print a line of text output to stdout."""
    _out.print(printable(redact(text)), markup=False)


def warn(text: str) -> None:
    _err.print(printable(redact(f"k2p: warning: {text}")), markup=False)


def fail(text: str) -> None:
    """The one-line message of an expected failure."""
    _err.print(printable(redact(f"k2p: error: {text}")), markup=False)


def print_traceback(exc: BaseException) -> None:
    """The traceback of an unexpected error on stderr (``K2P_DEBUG=1``), secrets masked."""
    sys.stderr.write(redact("".join(traceback.format_exception(exc))))
    sys.stderr.flush()


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Print a summary table; numeric columns are right-aligned."""
    grid = Table(title=printable(title), title_justify="left", show_edge=False, pad_edge=False)
    for index, column in enumerate(columns):
        numeric = bool(rows) and all(isinstance(row[index], (int, float)) or row[index] in ("", "-")
                                     for row in rows)
        grid.add_column(column, justify="right" if numeric else "left")
    for row in rows:
        grid.add_row(*(printable(redact(str(cell))) for cell in row))
    _out.print(grid)


def interactive() -> bool:
    """Progress bars only when a human watches (stderr is a terminal)."""
    return _err.is_terminal


class _ByUnit(ProgressColumn):
    """Renders a task with one column for counts and another for bytes (``unit="bytes"``)."""

    def __init__(self, counts: ProgressColumn, size: ProgressColumn) -> None:
        super().__init__()
        self._counts, self._size = counts, size

    def render(self, task: Task) -> Text:
        column = self._size if task.fields.get("unit") == "bytes" else self._counts
        return column.render(task)  # type: ignore[return-value]


class ProgressEvents:
    """Base of the commands' progress listeners: named bars created on first use (TTY only)."""

    def __init__(self, bar: Progress | None) -> None:
        self._bar = bar
        self._tasks: dict[str, TaskID] = {}

    def _task(self, name: str, description: str, total: float | None = None, unit: str = "items") -> TaskID:
        assert self._bar is not None
        if name not in self._tasks:
            self._tasks[name] = self._bar.add_task(description, total=total, unit=unit)
        return self._tasks[name]


@contextmanager
def progress(enabled: bool = True, *, transfer: bool = False) -> Iterator[Progress | None]:
    """A rich progress display on stderr, or ``None`` when not interactive or disabled.

    Tasks added with ``unit="bytes"`` show sizes and a transfer rate; others show counts. With
    ``transfer`` every task is a byte count.
    """
    if not (enabled and interactive()):
        yield None
        return
    if transfer:
        columns: list[Any] = [TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                              TransferSpeedColumn(), TimeRemainingColumn()]
    else:
        columns = [TextColumn("{task.description}"), BarColumn(),
                   _ByUnit(MofNCompleteColumn(), DownloadColumn()),
                   _ByUnit(TaskProgressColumn(), TransferSpeedColumn()), TimeRemainingColumn()]
    with Progress(*columns, console=_err, transient=False) as bar:
        yield bar
