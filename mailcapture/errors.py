"""The one base class for failures a user can cause and fix.

A bad setting, a broken register, a database that was never initialised, a file that is not
an email: each is a :class:`UserError` (or a subclass), which the command line reports as one
line, ``mailcapture: error: reason``, with a non-zero exit status. Anything else that escapes
is a bug and keeps its traceback. This module imports nothing, so the command line can catch
these errors without loading the layers that raise them.
"""

from __future__ import annotations


class UserError(Exception):
    """A one-line reason fit for the person at the terminal, and the exit status to use."""

    exit_code: int = 1

    def __init__(self, reason: str, exit_code: int | None = None) -> None:
        super().__init__(reason)
        if exit_code is not None:
            self.exit_code = exit_code
