"""The outcome table and the stage list (issue 14): complete, and the one place to look.

No database: these hold the shape that ``mailflow/README.md`` describes, so that adding an
outcome without its row, a rejection without a notice reason, or an error outside the one
hierarchy fails here rather than at the first message that meets it.
"""

from __future__ import annotations

import ast
import logging
from pathlib import Path
from typing import get_args

from mailcapture.compose.views import RejectionReason
from mailcapture.domain.enums import InboundState
from mailcapture.errors import MailcaptureError, SystemFault, UserError
from mailcapture.mailflow import stages
from mailcapture.mailflow.budget import OverBudget
from mailcapture.mailflow.complaints import COMPLAINT, FEEDBACK_REPORT
from mailcapture.mailflow.outcomes import OUTCOMES, Outcome, treatment
from mailcapture.mailflow.replies import UNWRITABLE_SENDER

MAILFLOW = Path(stages.__file__).resolve().parent


def test_every_outcome_has_its_treatment() -> None:
    assert set(OUTCOMES) == set(Outcome)
    assert treatment("applied") is OUTCOMES[Outcome.APPLIED]


def test_the_stored_strings_are_unchanged() -> None:
    """The values are in the database and in the digest's queries: never renamed."""
    assert {o.value for o in Outcome} == {
        "duplicate", "failed", "deferred", "own-mail", "too-large", "dmarc-fail",
        "auth-unreadable", "bounce", "bounce-temporary", "complaint", "feedback-report",
        "auto-reply", "unknown", "no-sender", "unwritable-sender", "unknown-sender",
        "no-request", "wrong-person", "expired", "applied", "unconfirmed", "rejected",
        "comment-only", "no-answers", "report-answer", "report-refused", "report-no-answers",
        "conflict", "choice-made", "choice-refused", "choice-no-answers",
    }  # fmt: skip
    assert (COMPLAINT, FEEDBACK_REPORT, UNWRITABLE_SENDER) == (
        "complaint",
        "feedback-report",
        "unwritable-sender",
    )
    assert type(COMPLAINT) is str  # compared with and bound in SQL as a plain string


def test_a_rejection_names_a_notice_reason_the_template_knows() -> None:
    reasons = set(get_args(RejectionReason))
    for outcome, treated in OUTCOMES.items():
        if treated.email == "rejection_notice":
            assert treated.reason in reasons and treated.tells_sender, outcome
        else:
            assert treated.reason is None, outcome


def test_held_and_faulty_outcomes_stand_out_in_the_log() -> None:
    for outcome, treated in OUTCOMES.items():
        if treated.state in (InboundState.QUARANTINED, InboundState.DEFERRED):
            assert treated.level == logging.WARNING, outcome
    assert OUTCOMES[Outcome.FAILED].level == logging.ERROR
    assert OUTCOMES[Outcome.APPLIED].level == logging.INFO


def test_the_stages_in_order() -> None:
    assert [s.name for s in stages.STAGES] == [
        "classify",
        "hold",
        "automatic",
        "match",
        "authenticate",
        "parse",
        "apply",
        "confirm",
    ]


def test_one_exception_hierarchy() -> None:
    assert issubclass(UserError, MailcaptureError) and issubclass(SystemFault, MailcaptureError)
    assert not issubclass(UserError, SystemFault) and not issubclass(SystemFault, UserError)
    assert issubclass(OverBudget, SystemFault)


def _finish_strings(tree: ast.AST) -> list[str]:
    """String literals passed as the outcome to ``finish`` or ``reject`` (should be none)."""
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("finish", "reject")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.append(f"line {node.lineno}: {node.args[0].value!r}")
    return found


def test_no_stage_ends_a_run_with_a_bare_string() -> None:
    """An outcome is an :class:`Outcome`, so a misspelling fails mypy, not production."""
    for path in sorted(MAILFLOW.glob("*.py")):
        assert _finish_strings(ast.parse(path.read_text(encoding="utf-8"))) == [], path.name


def test_no_module_imports_another_modules_private_names() -> None:
    """``report_replies`` once imported ``pipeline._Run`` (issue 14)."""
    for path in sorted(MAILFLOW.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("mailcapture"):
                private = [a.name for a in node.names if a.name.startswith("_")]
                assert private == [], f"{path.name} imports {private} from {node.module}"
