"""The vocabulary of the performance management framework.

Stored in the database as their string values (``VARCHAR``, not native enums) so that a
later release can add a member without a schema migration.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    UPDATER = "updater"
    OWNER = "owner"
    ESCALATION_OWNER = "escalation_owner"
    PERFORMANCE_TEAM = "performance_team"
    REPORT_RECIPIENT = "report_recipient"
    CHIEF_EXECUTIVE = "chief_executive"
    PROJECT_BOARD = "project_board"


#: Roles a register may declare; the rest follow from indicators and projects.
DECLARABLE_ROLES = frozenset(Role)
DERIVED_ROLES = frozenset({Role.UPDATER, Role.OWNER, Role.ESCALATION_OWNER})


class IndicatorType(StrEnum):
    SINGLE_DATA_LIST = "single_data_list"
    EX_BEST_VALUE = "ex_best_value"
    LOCAL = "local"
    STATISTIC = "statistic"


class Frequency(StrEnum):
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    ANNUAL = "annual"


class Polarity(StrEnum):
    HIGHER = "higher"
    LOWER = "lower"
    NEUTRAL = "neutral"


class Aggregation(StrEnum):
    SUM = "sum"
    AVERAGE = "average"
    LAST = "last"


class ToleranceKind(StrEnum):
    ABSOLUTE = "absolute"
    PERCENT = "percent"


class ReportKind(StrEnum):
    OWNER = "owner"
    DEPARTMENT = "department"
    EXCEPTION = "exception"
    QUARTERLY = "quarterly"
    ANNUAL = "annual"
    CUSTOM = "custom"


class ChangeKind(StrEnum):
    """Kinds of change that need approval under the framework's authority table."""

    PROJECT_COMPLETION_DATE = "project_completion_date"
    PROJECT_MILESTONE_DATE = "project_milestone_date"
    PI_TARGET_YEAR_END = "pi_target_year_end"
    PI_TARGET_IN_YEAR = "pi_target_in_year"
    PI_DEFINITION = "pi_definition"
    NEW_INDICATOR = "new_indicator"
    RETIRE_INDICATOR = "retire_indicator"


class ApproverKind(StrEnum):
    CHIEF_EXECUTIVE = "chief_executive"
    PROJECT_BOARD = "project_board"
    HEAD_OF_SERVICE = "head_of_service"
    HEAD_OF_SERVICE_DELEGATE = "head_of_service_delegate"
    OWNER = "owner"
    PERFORMANCE_TEAM = "performance_team"


class MilestoneStatus(StrEnum):
    NOT_STARTED = "not_started"
    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    DELAYED = "delayed"
    COMPLETE = "complete"


class SubmissionState(StrEnum):
    """What became of one submitted value, status or comment."""

    ACCEPTED = "accepted"
    NOT_AVAILABLE = "not_available"
    REJECTED = "rejected"
    SUPERSEDED = "superseded"
    #: Stored but held: implausible against the component's earlier figures, or outside its
    #: allowed range, until the sender confirms it. Never current, so never in a figure.
    UNCONFIRMED = "unconfirmed"
    #: One of two or more differing figures sent by different people for the same
    #: component and period, waiting for the indicator's owner to choose (issue 15, part 9).
    #: Never current, so never in a figure; the chosen one becomes ``accepted`` and current.
    CONFLICTING = "conflicting"


class SubmissionSource(StrEnum):
    EMAIL = "email"
    HISTORY = "history"
    ADMIN = "admin"


class RequestState(StrEnum):
    OPEN = "open"
    COMPLETE = "complete"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


class ChaseKind(StrEnum):
    REMINDER = "reminder"
    ESCALATION_OWNER = "escalation_owner"
    ESCALATION_HEAD = "escalation_head"


class MessageClass(StrEnum):
    HUMAN = "human"
    AUTO_REPLY = "auto-reply"
    BOUNCE = "bounce"
    UNKNOWN = "unknown"


class InboundState(StrEnum):
    RECEIVED = "received"
    PROCESSED = "processed"
    DUPLICATE = "duplicate"
    QUARANTINED = "quarantined"
    FAILED = "failed"
    #: Set aside after running over its time budget (``mailflow.budget``); reprocess takes it.
    DEFERRED = "deferred"


class OutboxState(StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"


class CommentSubject(StrEnum):
    GENERAL = "general"
    INDICATOR = "indicator"
    COMPONENT = "component"
    MILESTONE = "milestone"
    DEPARTMENT = "department"


class SignoffDecision(StrEnum):
    APPROVED = "approved"
    QUERIED = "queried"
