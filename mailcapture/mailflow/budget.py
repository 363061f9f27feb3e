"""A time budget per inbound message, so that one slow message cannot stall the next.

Issue 12: a small hostile message once held the processing thread for minutes while a
legitimate reply waited behind it. The parsers are linear now and their work is capped
(:class:`mailcapture.parsing.mime.Limits`), but a message may still be slower than it
should be (a machine under load, a shape nobody measured). Past its budget a message is
set aside as ``deferred``, with the reason, and the next one is processed;
``mailcapture reprocess --deferred`` tries it again.

A Python thread cannot be stopped from outside, so the budget is cooperative: the pipeline
calls :meth:`Budget.at` between its stages and hands :meth:`Budget.check` to the parsers as
their checkpoint (:data:`mailcapture.parsing.quotes.Checkpoint`), which they call every few
hundred lines. The parsers never see a clock, so they stay pure functions of their text. The
time is the process's monotonic clock (``time.monotonic``), never the business clock, which
says what day it is and which tests and ``--now`` move.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from mailcapture.errors import SystemFault

__all__ = ["DEFAULT_BUDGET_SECONDS", "Budget", "OverBudget"]

#: Wall-clock seconds one message may take from its claim to its last parse. A normal reply
#: takes a few hundredths of a second, the worst measured hostile ones under one second
#: (``benchmarks/cost.py``): ten seconds is only reached by a machine in trouble or a message
#: nobody foresaw.
DEFAULT_BUDGET_SECONDS = 10.0


class OverBudget(SystemFault):
    """A message has had its share of time; the pipeline defers it (nothing is applied).

    A :class:`~mailcapture.errors.SystemFault`: not the sender's doing (the machine may be
    busy), so the message is kept, ``deferred``, for ``mailcapture reprocess``. ``stages``
    are the audit-trail entries the run had written before it was stopped, so that the
    deferred message's trail still shows how far it got.
    """

    def __init__(self, reason: str, stages: list[dict[str, Any]]) -> None:
        super().__init__(reason)
        self.stages = stages


class Budget:
    """``seconds`` (None: no limit) from now, measured with ``timer``; ``stages`` is the
    run's audit trail, copied into :class:`OverBudget` when the budget runs out."""

    def __init__(
        self,
        seconds: float | None,
        timer: Callable[[], float] = time.monotonic,
        stages: list[dict[str, Any]] | None = None,
    ) -> None:
        self.seconds = seconds
        self.timer = timer
        self.stages = stages if stages is not None else []
        self.started = timer()
        self.where = "the start"

    def check(self) -> None:
        """Raise :class:`OverBudget` if the time is up; a checkpoint for the parsers."""
        if self.seconds is None:
            return
        spent = self.timer() - self.started
        if spent > self.seconds:
            raise OverBudget(
                f"not read within its budget of {self.seconds:g} s: stopped after "
                f"{spent:.1f} s, at {self.where}; `mailcapture reprocess` tries it again",
                list(self.stages),
            )

    def at(self, where: str) -> None:
        """A checkpoint between stages: ``where`` names the stage now starting."""
        self.where = where
        self.check()
