"""The shape of each register section, as pydantic models.

These check one item at a time (types, required keys, allowed words); references between
items (an owner who must exist, a formula's codes) are checked in :mod:`validate`.
Unknown keys are errors: a misspelt ``tolerence:`` must not be silently ignored.
"""

from __future__ import annotations

import re
from datetime import date, time
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from mailcapture.domain.enums import (
    Aggregation,
    ApproverKind,
    ChangeKind,
    Frequency,
    IndicatorType,
    Polarity,
    ReportKind,
    Role,
)

CODE_PATTERN = r"^[A-Za-z][A-Za-z0-9_.\- ]{0,31}$"
#: A Single Data List reference: the collection's three digits, a hyphen and the data
#: topic's two (``082-00`` WasteDataFlow; ``190-03`` a topic within collection 190).
SDL_REFERENCE_PATTERN = r"^\d{3}-\d{2}$"
#: An ONS (GSS) area code: a country letter (England, Wales, Scotland, Northern Ireland)
#: and eight digits, e.g. ``E07000223``; the first three give the kind of area.
ONS_AREA_CODE_PATTERN = r"^[ENSW]\d{8}$"
COMPONENT_CODE_PATTERN = r"^[A-Za-z][A-Za-z0-9_.]{0,31}$"


def to_decimal(value: Any) -> Any:
    """YAML floats become Decimals through their shortest text, never the binary float."""
    if isinstance(value, bool):
        raise ValueError("expected a number, not true/false")
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, str):
        try:
            return Decimal(value.replace(",", "").strip())
        except InvalidOperation:
            raise ValueError(f"{value!r} is not a number") from None
    return value


def _to_text(value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


Number = Annotated[Decimal, BeforeValidator(to_decimal)]
Text = Annotated[str, BeforeValidator(_to_text), Field(min_length=1)]
Code = Annotated[str, BeforeValidator(_to_text), Field(pattern=CODE_PATTERN)]
ComponentCode = Annotated[str, BeforeValidator(_to_text), Field(pattern=COMPONENT_CODE_PATTERN)]
Email = Annotated[str, Field(min_length=3, max_length=320)]


def _lg_inform_id(value: Any) -> Any:
    """A whole number such as 46 (``"46"`` too); not true/false, 46.0 or "metric 46"."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{value!r} is not an LG Inform metric id: a whole number such as 46")
    return value


def _matching(pattern: str, what: str) -> Any:
    def check(value: Any) -> Any:
        text = value.strip() if isinstance(value, str) else None
        if text is None or not re.fullmatch(pattern, text):
            raise ValueError(f"{value!r} is not {what}")
        return text

    return check


LgInformId = Annotated[int, BeforeValidator(_lg_inform_id), Field(le=2_147_483_647)]
SdlReference = Annotated[
    str,
    BeforeValidator(
        _matching(
            SDL_REFERENCE_PATTERN,
            "a Single Data List reference: three digits, a hyphen and two digits, e.g. 082-00",
        )
    ),
]
OnsAreaCode = Annotated[
    str,
    BeforeValidator(
        _matching(
            ONS_AREA_CODE_PATTERN,
            "an ONS area code: E, W, S or N and eight digits, e.g. E07000223",
        )
    ),
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)


class ServiceAreaDoc(Strict):
    code: Code
    name: Text


class DepartmentDoc(Strict):
    code: Code
    name: Text
    head: Email | None = None
    service_areas: list[ServiceAreaDoc] = Field(min_length=1)


class PersonDoc(Strict):
    email: Email
    name: Text
    job_title: Text | None = None
    service_area: Code | None = None
    roles: list[Role] = []
    delegates: list[Email] = []


class PriorityDoc(Strict):
    code: Code
    title: Text


class ObjectiveDoc(Strict):
    code: Code
    title: Text
    priorities: list[PriorityDoc] = []


class ReportDoc(Strict):
    code: Code
    title: Text
    kind: ReportKind
    recipients: list[Email] = []


class ComponentDoc(Strict):
    code: ComponentCode
    title: Text
    unit: Text
    min: Number | None = None
    max: Number | None = None
    aggregation: Aggregation


class TargetDoc(Strict):
    value: Number
    tolerance: Annotated[str, BeforeValidator(_to_text)] | None = None


def _target(value: Any) -> Any:
    if isinstance(value, dict):
        return value
    return {"value": value}


Tolerance = Annotated[str, BeforeValidator(_to_text), Field(pattern=r"^\s*\d+(\.\d+)?\s*%?\s*$")]


class IndicatorDoc(Strict):
    code: Code
    title: Text
    description: Text | None = None
    type: IndicatorType
    frequency: Frequency
    polarity: Polarity
    #: A year-to-date figure (a cumulative collection rate): compared with the same period
    #: last year, never with the previous period.
    cumulative: bool = False
    unit: Text
    decimals: int = Field(default=0, ge=0, le=6)
    formula: Text | None = None
    service_area: Code
    priority: Code | None = None
    owner: Email
    updaters: list[Email] = Field(min_length=1)
    escalation_owner: Email | None = None
    reports: list[Code] = []
    tolerance: Tolerance | None = None
    components: list[ComponentDoc] = []
    targets: dict[Text, Annotated[TargetDoc, BeforeValidator(_target)]] = {}
    #: The LG Inform metric (``id.esd.org.uk/metricType/<id>``) this indicator is, for the
    #: benchmarking export (``export returns --format lginform``).
    lg_inform_id: LgInformId | None = None
    #: The Single Data List collection it is returned in (``export returns --format sdl``).
    sdl_reference: SdlReference | None = None

    @field_validator("targets", mode="before")
    @classmethod
    def _targets_mapping(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {str(k): v for k, v in value.items()}
        return value


class CouncilDoc(Strict):
    """The council itself (the ``council`` section): what government returns identify it by."""

    #: The ONS (GSS) code of the council's area, the first column of the LG Inform export.
    ons_area_code: OnsAreaCode | None = None


class MilestoneDoc(Strict):
    code: Code
    title: Text
    start: date | None = None
    due: date | None = None
    completed: date | None = None


class ProjectDoc(Strict):
    code: Code
    title: Text
    description: Text | None = None
    priority: Code
    service_area: Code
    owner: Email
    updater: Email
    escalation_owner: Email | None = None
    key: bool = False
    start: date | None = None
    due: date | None = None
    completed: date | None = None
    milestones: list[MilestoneDoc] = []


class AuthorityDoc(Strict):
    change: ChangeKind
    approvers: list[ApproverKind] = Field(min_length=1)


def _clock_time(value: Any) -> Any:
    if isinstance(value, int):  # YAML 1.1 sexagesimal: 09:00 read as 540
        return time(value // 60, value % 60)
    if isinstance(value, str) and re.fullmatch(r"\d{1,2}:\d{2}", value.strip()):
        hours, minutes = value.strip().split(":")
        return time(int(hours), int(minutes))
    return value


ClockTime = Annotated[time, BeforeValidator(_clock_time)]


class WhenDoc(Strict):
    working_day: int = Field(ge=1, le=60)
    time: ClockTime


class EscalationDoc(Strict):
    to: Annotated[str, Field(pattern="^(owner|escalation_owner)$")]
    after: int = Field(ge=0, le=60)


class AfterDoc(Strict):
    after: int = Field(ge=0, le=60)


class TimetableEntryDoc(Strict):
    request: WhenDoc
    due: WhenDoc
    reminders: list[Annotated[int, Field(ge=-60, le=60)]] = []
    escalations: list[EscalationDoc] = []
    returns_summary: AfterDoc


class BankHolidayDoc(Strict):
    date: date
    name: Text


class CaptureDoc(Strict):
    """How replies are checked before their figures count (the ``capture`` section)."""

    #: A figure more than this many times larger or smaller than both the component's last
    #: value and its value a year before is held until the sender confirms it.
    plausibility_factor: Number = Field(default=Decimal(10), gt=1, le=1_000_000)


class MailDoc(Strict):
    council: Text = "the council"
    from_: Text = Field(alias="from")
    reply_domain: Text
    reply_local: Text = "returns"
    separator: Annotated[str, Field(min_length=1, max_length=1)] = "+"
    performance_team: Email
    authserv_id: Text | None = None
    #: Attach the spreadsheet form (``return-<period>-<person>.xlsx``) to every data request.
    request_workbook: bool = True

    model_config = ConfigDict(
        extra="forbid", str_strip_whitespace=True, frozen=True, populate_by_name=True
    )
