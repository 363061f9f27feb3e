"""All tables, importable from one place (alembic's autogenerate needs them all loaded)."""

from mailcapture.db.models.base import Base
from mailcapture.db.models.framework import (
    ApprovalRule,
    Objective,
    Priority,
    ReportDefinition,
    ReportRecipient,
)
from mailcapture.db.models.inbound import InboundMessage
from mailcapture.db.models.indicators import (
    Component,
    Indicator,
    IndicatorComponent,
    IndicatorReport,
    IndicatorUpdater,
    Period,
    Target,
    TargetChange,
)
from mailcapture.db.models.operations import (
    RegisterLoad,
    ReportRun,
    SchedulerTick,
    ServiceSetting,
)
from mailcapture.db.models.organisation import (
    Delegation,
    Department,
    DepartmentHead,
    Person,
    PersonRole,
    ServiceArea,
)
from mailcapture.db.models.outbox import OutboxMessage
from mailcapture.db.models.projects import Milestone, Project
from mailcapture.db.models.requests import DataRequest, DataRequestItem, RequestChase
from mailcapture.db.models.submissions import (
    Commentary,
    ComponentValue,
    MilestoneUpdate,
    PeriodLock,
    Signoff,
)
from mailcapture.db.models.timetable import BankHoliday, TimetableRule

__all__ = [
    "ApprovalRule",
    "BankHoliday",
    "Base",
    "Commentary",
    "Component",
    "ComponentValue",
    "DataRequest",
    "DataRequestItem",
    "Delegation",
    "Department",
    "DepartmentHead",
    "InboundMessage",
    "Indicator",
    "IndicatorComponent",
    "IndicatorReport",
    "IndicatorUpdater",
    "Milestone",
    "MilestoneUpdate",
    "Objective",
    "OutboxMessage",
    "Period",
    "PeriodLock",
    "Person",
    "PersonRole",
    "Priority",
    "Project",
    "RegisterLoad",
    "ReportDefinition",
    "ReportRecipient",
    "ReportRun",
    "RequestChase",
    "SchedulerTick",
    "ServiceArea",
    "ServiceSetting",
    "Signoff",
    "Target",
    "TargetChange",
    "TimetableRule",
]
