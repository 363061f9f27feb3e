"""The package's one exception hierarchy: what a person can fix, and what is our fault.

Two kinds of failure, under one base (:class:`MailcaptureError`) so that a caller can tell
an expected failure from a bug without ``except Exception``:

* :class:`UserError`: something a person caused and can fix. A bad setting, a broken
  register, a database that was never initialised, a file that is not an email. It is
  logged at info and explained to the person: the command line reports it as one line,
  ``mailcapture: error: reason``, with a non-zero exit status.
* :class:`SystemFault`: something went wrong on our side that is nobody's input to fix,
  such as a message that ran over its time budget. It is logged at error, and the work it
  stopped is kept to be done again (an inbound message stays in the database for
  ``mailcapture reprocess``).

Anything else that escapes is a bug and keeps its traceback. This module imports nothing,
so the command line can catch these errors without loading the layers that raise them.
"""

from __future__ import annotations


class MailcaptureError(Exception):
    """The base of the failures the package raises on purpose (never raised itself)."""


class UserError(MailcaptureError):
    """A one-line reason fit for the person at the terminal, and the exit status to use."""

    exit_code: int = 1

    def __init__(self, reason: str, exit_code: int | None = None) -> None:
        super().__init__(reason)
        if exit_code is not None:
            self.exit_code = exit_code


class SystemFault(MailcaptureError):
    """A fault of ours, not the input's: logged at error, the work kept to be redone.

    ``reason`` is one line for the log and the record of the work it stopped (an inbound
    message's outcome detail), so that whoever reprocesses it knows why it was stopped.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
