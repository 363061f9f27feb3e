"""What the commands print with: one console, and a progress bar for a person at a terminal.

Rich is imported here, by the commands that print tables or bars, never by
:mod:`mailcapture.cli.main`, so ``--help`` and argument errors do not pay for it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as RichProgress

from mailcapture.progress import NO_PROGRESS, Progress

#: Standard output: results, tables and per-message lines.
console = Console(highlight=False)


class _Bar:
    """:class:`mailcapture.progress.Progress` drawn by rich, one task per stage."""

    def __init__(self, progress: RichProgress) -> None:
        self._progress = progress
        self._task: TaskID | None = None

    def start(self, description: str, total: int | None = None) -> None:
        if self._task is not None:
            self._progress.update(self._task, visible=False)
        self._task = self._progress.add_task(description, total=total)

    def advance(self, steps: int = 1) -> None:
        if self._task is not None:
            self._progress.advance(self._task, steps)


@contextmanager
def progress_bar() -> Iterator[Progress]:
    """A progress bar on the terminal, or silence when output goes to a file or a pipe.

    Lines printed with :data:`console` meanwhile appear above the bar.
    """
    if not console.is_terminal:
        yield NO_PROGRESS
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with RichProgress(*columns, console=console, transient=True) as progress:
        yield _Bar(progress)
