"""How long-running work reports progress, without knowing who (if anyone) is watching.

Library code (delivery, publishing) takes a :class:`Progress` and calls it as it goes; the
command line passes a progress bar when a person is at a terminal, everything else the
silent :data:`NO_PROGRESS`. The protocol lives here, below every layer, so no layer imports
the terminal library to report on itself.
"""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    def start(self, description: str, total: int | None = None) -> None:
        """A new stage of ``total`` steps (``None``: not known in advance)."""

    def advance(self, steps: int = 1) -> None:
        """``steps`` more of the current stage are done."""


class _Silent:
    def start(self, description: str, total: int | None = None) -> None:
        return None

    def advance(self, steps: int = 1) -> None:
        return None


#: For callers nobody watches: the service, tests, pipes.
NO_PROGRESS: Progress = _Silent()
