"""Validate a register folder into a :class:`Register`, or every problem with its line.

Checking happens in two passes: each item against its section's shape
(:mod:`schema`), then the references between items. All problems are collected, so a
performance officer fixes a broken register in one round, not one error per run.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Generic, TypeVar

from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel, ValidationError

from mailcapture.domain.enums import Frequency, Polarity, Role, ToleranceKind
from mailcapture.domain.formulas import FormulaError, parse_formula, single_component, suggest
from mailcapture.domain.frequency import COLLECTED_KIND
from mailcapture.domain.periods import PeriodError, PeriodKind, parse_period
from mailcapture.register import schema
from mailcapture.register.model import (
    CaptureSpec,
    ComponentSpec,
    CouncilSpec,
    DepartmentSpec,
    EscalationStep,
    HistoryValue,
    IndicatorSpec,
    MailSpec,
    MilestoneSpec,
    ObjectiveSpec,
    PersonSpec,
    PrioritySpec,
    ProjectSpec,
    Register,
    ReportSpec,
    ServiceAreaSpec,
    TargetSpec,
    TimetableSpec,
)
from mailcapture.register.source import (
    Document,
    Problem,
    RegisterInvalid,
    Where,
    iter_items,
    read_documents,
)

LIST_SECTIONS = {
    "departments": schema.DepartmentDoc,
    "people": schema.PersonDoc,
    "objectives": schema.ObjectiveDoc,
    "reports": schema.ReportDoc,
    "indicators": schema.IndicatorDoc,
    "projects": schema.ProjectDoc,
    "authority": schema.AuthorityDoc,
    "bank_holidays": schema.BankHolidayDoc,
}
SINGLE_SECTIONS = {"timetable", "mail", "capture", "council"}
MAPPING_SECTIONS = {"history"}

#: Which period kinds may carry a target or history value, by collection frequency.
PERIOD_KINDS_FOR = {
    Frequency.MONTHLY: {PeriodKind.MONTH, PeriodKind.QUARTER, PeriodKind.YEAR},
    Frequency.QUARTERLY: {PeriodKind.QUARTER, PeriodKind.YEAR},
    Frequency.ANNUAL: {PeriodKind.YEAR},
}

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Item(Generic[M]):
    doc: M
    where: Where


def load_register(folder: Path) -> Register:
    """Read and validate ``folder``; raise :class:`RegisterInvalid` listing every problem."""
    documents, problems = read_documents(folder)
    checker = _Checker(documents, problems)
    register = checker.run()
    if checker.problems:
        raise RegisterInvalid(checker.problems)
    return register


class _Checker:
    def __init__(self, documents: list[Document], problems: list[Problem]) -> None:
        self.documents = documents
        self.problems = problems
        self.codes: dict[str, Where] = {}
        self.emails: dict[str, Where] = {}
        #: Codes inside items that failed their shape check: references to them are not
        #: reported again, so one mistake gives one problem, not a cascade.
        self.broken_codes: set[str] = set()

    # ---- helpers ---------------------------------------------------------------------
    def problem(self, where: Where, reason: str, *path: str | int) -> None:
        self.problems.append(where.problem(reason, *path))

    def claim_code(self, code: str, kind: str, where: Where) -> None:
        """Codes are unique across the whole register, case-insensitively."""
        key = code.casefold()
        first = self.codes.get(key)
        if first is not None:
            self.problem(
                where, f"duplicate code {code!r} ({kind}); first used at {first.file}:{first.line}"
            )
        else:
            self.codes[key] = where

    def email(self, value: str | None, where: Where, *path: str | int) -> str | None:
        if value is None:
            return None
        try:
            normalised = validate_email(value, check_deliverability=False).normalized
        except EmailNotValidError as exc:
            self.problem(where, f"invalid email address {value!r}: {exc}", *path)
            return None
        return normalised.lower()

    def person(self, value: str | None, where: Where, *path: str | int) -> str | None:
        """A reference to someone who must be listed under ``people``."""
        email = self.email(value, where, *path)
        if email is not None and email not in self.emails:
            self.problem(where, f"{email} is not listed under people", *path)
            return None
        return email

    def escalation_owner(
        self,
        given: str | None,
        area: ServiceAreaSpec | None,
        heads: dict[str, str | None],
        where: Where,
    ) -> str | None:
        """The escalation owner named, or by default the head of the department."""
        if given is not None:
            return self.person(given, where, "escalation_owner")
        if area is None:
            return None
        head = heads.get(area.department)
        if head is None:
            self.problem(
                where,
                f"no escalation_owner, and department {area.department} has no head to default to",
                "code",
            )
        return head

    def validate_items(self, section: str, model: type[M]) -> list[Item[M]]:
        items: list[Item[M]] = []
        for document in self.documents:
            if section not in document.root:
                continue
            content = document.root[section]
            where = document.where.at(section)
            if not isinstance(content, list):
                self.problem(where, f"section {section!r} must be a list")
                continue
            for raw, item_where in iter_items(content, where):
                parsed = self.validate_one(model, raw, item_where)
                if parsed is not None:
                    items.append(Item(parsed, item_where))
        return items

    def validate_one(self, model: type[M], raw: Any, where: Where) -> M | None:
        try:
            return model.model_validate(_plain(raw))
        except ValidationError as exc:
            self.broken_codes |= _codes_in(raw)
            for error in exc.errors():
                loc = tuple(error["loc"])
                path = loc if error["type"] != "missing" else loc[:-1]
                field = ".".join(str(p) for p in loc) or "item"
                message = error["msg"]
                if error["type"] == "extra_forbidden":
                    message = "unknown key (misspelt?)"
                elif error["type"] == "missing":
                    message = "required"
                self.problem(where, f"{field}: {message}", *path)
            return None

    # ---- the passes ------------------------------------------------------------------
    def run(self) -> Register:
        self.check_section_names()
        register = Register()
        departments = self.validate_items("departments", schema.DepartmentDoc)
        people = self.validate_items("people", schema.PersonDoc)
        objectives = self.validate_items("objectives", schema.ObjectiveDoc)
        reports = self.validate_items("reports", schema.ReportDoc)
        indicators = self.validate_items("indicators", schema.IndicatorDoc)
        projects = self.validate_items("projects", schema.ProjectDoc)
        authority = self.validate_items("authority", schema.AuthorityDoc)
        holidays = self.validate_items("bank_holidays", schema.BankHolidayDoc)

        self.collect_people(people, register)
        self.collect_departments(departments, register)
        self.check_people_refs(people, register)
        self.collect_objectives(objectives, register)
        self.collect_reports(reports, register)
        self.collect_indicators(indicators, register)
        self.collect_projects(projects, register)
        register.authority = sorted(
            {(item.doc.change, a) for item in authority for a in item.doc.approvers}
        )
        self.collect_holidays(holidays, register)
        self.collect_timetable(register)
        self.collect_mail(register)
        self.collect_capture(register)
        self.collect_council(register)
        self.collect_history(register)
        return register

    def check_section_names(self) -> None:
        known = set(LIST_SECTIONS) | SINGLE_SECTIONS | MAPPING_SECTIONS
        seen: dict[str, Where] = {}
        for document in self.documents:
            for key in document.root:
                where = document.where.at(key)
                if key not in known:
                    self.problem(
                        where,
                        f"unknown section {key!r} (expected one of: {', '.join(sorted(known))})",
                    )
                elif key in SINGLE_SECTIONS:
                    if key in seen:
                        self.problem(
                            where,
                            f"section {key!r} appears twice; first at "
                            f"{seen[key].file}:{seen[key].line}",
                        )
                    seen[key] = where

    def collect_people(self, people: list[Item[schema.PersonDoc]], reg: Register) -> None:
        for item in people:
            email = self.email(item.doc.email, item.where, "email")
            if email is None:
                continue
            if email in self.emails:
                first = self.emails[email]
                self.problem(
                    item.where,
                    f"{email} is listed twice; first at {first.file}:{first.line}",
                    "email",
                )
                continue
            self.emails[email] = item.where

    def check_people_refs(self, people: list[Item[schema.PersonDoc]], reg: Register) -> None:
        area_codes = {a.code for a in reg.service_areas}
        seen: set[str] = set()
        for item in people:
            doc, where = item.doc, item.where
            email = self.email(doc.email, where, "email")
            if email is None or email in seen:
                continue
            seen.add(email)
            if doc.service_area is not None and doc.service_area not in area_codes:
                self.problem(where, f"unknown service area {doc.service_area!r}", "service_area")
            delegates = []
            for index, delegate in enumerate(doc.delegates):
                ref = self.person(delegate, where, "delegates", index)
                if ref == email:
                    self.problem(where, "a person cannot be their own delegate", "delegates", index)
                elif ref is not None:
                    delegates.append(ref)
            reg.people.append(
                PersonSpec(
                    email,
                    doc.name,
                    doc.job_title,
                    doc.service_area,
                    frozenset(doc.roles),
                    tuple(delegates),
                )
            )

    def collect_departments(self, items: list[Item[schema.DepartmentDoc]], reg: Register) -> None:
        for item in items:
            doc, where = item.doc, item.where
            self.claim_code(doc.code, "department", where.at("code"))
            head = self.person(doc.head, where, "head")
            reg.departments.append(DepartmentSpec(doc.code, doc.name, head))
            for index, area in enumerate(doc.service_areas):
                self.claim_code(area.code, "service area", where.at("service_areas", index))
                reg.service_areas.append(ServiceAreaSpec(area.code, area.name, doc.code))

    def collect_objectives(self, items: list[Item[schema.ObjectiveDoc]], reg: Register) -> None:
        for item in items:
            doc, where = item.doc, item.where
            self.claim_code(doc.code, "objective", where.at("code"))
            reg.objectives.append(ObjectiveSpec(doc.code, doc.title))
            for index, priority in enumerate(doc.priorities):
                self.claim_code(priority.code, "key priority", where.at("priorities", index))
                reg.priorities.append(PrioritySpec(priority.code, priority.title, doc.code))

    def collect_reports(self, items: list[Item[schema.ReportDoc]], reg: Register) -> None:
        for item in items:
            doc, where = item.doc, item.where
            self.claim_code(doc.code, "report", where.at("code"))
            recipients = [
                self.person(r, where, "recipients", i) for i, r in enumerate(doc.recipients)
            ]
            reg.reports.append(
                ReportSpec(doc.code, doc.title, doc.kind, tuple(r for r in recipients if r))
            )

    def collect_indicators(self, items: list[Item[schema.IndicatorDoc]], reg: Register) -> None:
        areas = {a.code: a for a in reg.service_areas}
        heads = {d.code: d.head for d in reg.departments}
        priorities = {p.code for p in reg.priorities}
        reports = {r.code for r in reg.reports}
        components: dict[str, ComponentSpec] = {}
        for item in items:
            doc, where = item.doc, item.where
            self.claim_code(doc.code, "indicator", where.at("code"))
            for index, comp in enumerate(doc.components):
                comp_where = where.at("components", index)
                self.claim_code(comp.code, "component", comp_where.at("code"))
                if comp.min is not None and comp.max is not None and comp.min > comp.max:
                    self.problem(
                        comp_where, f"min {comp.min} is greater than max {comp.max}", "min"
                    )
                components.setdefault(
                    comp.code,
                    ComponentSpec(
                        comp.code,
                        comp.title,
                        comp.unit,
                        comp.min,
                        comp.max,
                        comp.aggregation,
                        doc.frequency,
                        doc.code,
                    ),
                )
        reg.components = list(components.values())
        metrics: dict[int, Item[schema.IndicatorDoc]] = {}
        for item in items:
            metric = item.doc.lg_inform_id
            if metric is not None:
                first = metrics.setdefault(metric, item)
                if first is not item:
                    self.problem(
                        item.where,
                        f"lg_inform_id {metric} is also {first.doc.code}'s "
                        f"({first.where.file}:{first.where.at('lg_inform_id').line}): "
                        "each LG Inform metric is one indicator",
                        "lg_inform_id",
                    )
            spec = self.indicator(item, areas, heads, priorities, reports, components)
            if spec is not None:
                reg.indicators.append(spec)

    def indicator(
        self,
        item: Item[schema.IndicatorDoc],
        areas: dict[str, ServiceAreaSpec],
        heads: dict[str, str | None],
        priorities: set[str],
        reports: set[str],
        components: dict[str, ComponentSpec],
    ) -> IndicatorSpec | None:
        doc, where = item.doc, item.where
        area = areas.get(doc.service_area)
        if area is None:
            self.problem(where, f"unknown service area {doc.service_area!r}", "service_area")
        if doc.priority is not None and doc.priority not in priorities:
            self.problem(where, f"unknown key priority {doc.priority!r}", "priority")
        for index, report in enumerate(doc.reports):
            if report not in reports:
                self.problem(where, f"unknown report {report!r}", "reports", index)
        owner = self.person(doc.owner, where, "owner")
        updaters = [self.person(u, where, "updaters", i) for i, u in enumerate(doc.updaters)]
        escalation = self.escalation_owner(doc.escalation_owner, area, heads, where)
        formula = self.formula(doc, where, components)
        if doc.polarity is Polarity.NEUTRAL and doc.type.value != "statistic" and doc.targets:
            self.problem(
                where, "an indicator with targets needs polarity higher or lower", "polarity"
            )
        tolerance, tolerance_kind = _tolerance(doc.tolerance)
        targets = self.targets(doc, where, tolerance, tolerance_kind)
        if None in updaters or owner is None or escalation is None or formula is None:
            return None
        return IndicatorSpec(
            code=doc.code,
            title=doc.title,
            description=doc.description,
            type=doc.type,
            frequency=doc.frequency,
            polarity=doc.polarity,
            unit=doc.unit,
            decimals=doc.decimals,
            formula=formula,
            formula_text=doc.formula,
            service_area=doc.service_area,
            priority=doc.priority,
            owner=owner,
            updaters=tuple(u for u in updaters if u),
            escalation_owner=escalation,
            reports=tuple(doc.reports),
            tolerance=tolerance,
            tolerance_kind=tolerance_kind,
            targets=targets,
            cumulative=doc.cumulative,
            lg_inform_id=doc.lg_inform_id,
            sdl_reference=doc.sdl_reference,
        )

    def formula(
        self, doc: schema.IndicatorDoc, where: Where, components: dict[str, ComponentSpec]
    ) -> Any:
        if doc.formula is None:
            if len(doc.components) != 1:
                self.problem(
                    where,
                    "an indicator without a formula must declare exactly one "
                    f"component (it declares {len(doc.components)})",
                    "code",
                )
                return None
            return single_component(doc.components[0].code)
        try:
            formula = parse_formula(doc.formula)
        except FormulaError as exc:
            self.problem(where, f"formula {doc.formula!r}: {exc}", "formula")
            return None
        unknown = [c for c in formula.check_codes(components) if c not in self.broken_codes]
        for code in unknown:
            hint = suggest(code, components)
            extra = f" (did you mean {hint}?)" if hint else ""
            self.problem(where, f"formula uses unknown component {code!r}{extra}", "formula")
        for code in formula.codes & components.keys():
            declared = components[code].frequency
            if _rank(declared) > _rank(doc.frequency):
                self.problem(
                    where,
                    f"formula uses {code}, collected {declared.value}, which is "
                    f"less often than this {doc.frequency.value} indicator",
                    "formula",
                )
        return None if unknown or not formula.codes <= components.keys() else formula

    def targets(
        self, doc: schema.IndicatorDoc, where: Where, tolerance: Decimal | None, kind: ToleranceKind
    ) -> tuple[TargetSpec, ...]:
        targets = []
        if doc.type.value == "statistic" and doc.targets:
            self.problem(where, "statistics have no targets", "targets")
        for key, target in doc.targets.items():
            try:
                period = parse_period(key)
            except PeriodError as exc:
                self.problem(where, f"target period: {exc}", "targets", key)
                continue
            if period.kind not in PERIOD_KINDS_FOR[doc.frequency]:
                self.problem(
                    where,
                    f"a {doc.frequency.value} indicator cannot have a "
                    f"{period.kind.value} target ({period.code})",
                    "targets",
                    key,
                )
                continue
            own_tolerance, own_kind = _tolerance(target.tolerance)
            if own_tolerance is None:
                own_tolerance, own_kind = tolerance, kind
            targets.append(TargetSpec(period, target.value, own_tolerance, own_kind))
        return tuple(targets)

    def collect_projects(self, items: list[Item[schema.ProjectDoc]], reg: Register) -> None:
        areas = {a.code: a for a in reg.service_areas}
        heads = {d.code: d.head for d in reg.departments}
        priorities = {p.code for p in reg.priorities}
        for item in items:
            doc, where = item.doc, item.where
            self.claim_code(doc.code, "project", where.at("code"))
            overall_code = f"{doc.code}.M0"
            self.claim_code(overall_code, "milestone", where.at("code"))
            if doc.priority not in priorities:
                self.problem(where, f"unknown key priority {doc.priority!r}", "priority")
            area = areas.get(doc.service_area)
            if area is None:
                self.problem(where, f"unknown service area {doc.service_area!r}", "service_area")
            owner = self.person(doc.owner, where, "owner")
            updater = self.person(doc.updater, where, "updater")
            escalation = self.escalation_owner(doc.escalation_owner, area, heads, where)
            _check_dates(self, where, doc.start, doc.due)
            milestones = [
                MilestoneSpec(
                    overall_code,
                    f"{doc.title} - overall progress",
                    True,
                    doc.start,
                    doc.due,
                    doc.completed,
                )
            ]
            for index, ms in enumerate(doc.milestones):
                ms_where = where.at("milestones", index)
                self.claim_code(ms.code, "milestone", ms_where.at("code"))
                _check_dates(self, ms_where, ms.start, ms.due)
                milestones.append(
                    MilestoneSpec(ms.code, ms.title, False, ms.start, ms.due, ms.completed)
                )
            if owner and updater and escalation:
                reg.projects.append(
                    ProjectSpec(
                        doc.code,
                        doc.title,
                        doc.description,
                        doc.priority,
                        doc.service_area,
                        owner,
                        updater,
                        escalation,
                        doc.key,
                        doc.start,
                        doc.due,
                        doc.completed,
                        tuple(milestones),
                    )
                )

    def collect_holidays(self, items: list[Item[schema.BankHolidayDoc]], reg: Register) -> None:
        seen: dict[Any, Where] = {}
        for item in items:
            if item.doc.date in seen:
                self.problem(item.where, f"bank holiday {item.doc.date} is listed twice", "date")
                continue
            seen[item.doc.date] = item.where
            reg.bank_holidays.append((item.doc.date, item.doc.name))
        reg.bank_holidays.sort()

    def single(self, section: str) -> tuple[Any, Where] | None:
        for document in self.documents:
            if section in document.root:
                return document.root[section], document.where.at(section)
        return None

    def collect_timetable(self, reg: Register) -> None:
        found = self.single("timetable")
        used = {i.frequency for i in reg.indicators} | (
            {Frequency.MONTHLY} if reg.projects else set()
        )
        if found is None:
            if used:
                self.problems.append(Problem("(register)", 0, "no timetable section"))
            return
        content, where = found
        if not isinstance(content, dict):
            self.problem(where, "timetable must map frequencies to their dates")
            return
        for key, raw in content.items():
            entry_where = where.at(key)
            try:
                frequency = Frequency(str(key))
            except ValueError:
                self.problem(entry_where, f"unknown frequency {key!r} (monthly, quarterly, annual)")
                continue
            doc = self.validate_one(schema.TimetableEntryDoc, raw, entry_where)
            if doc is None:
                continue
            if doc.due.working_day <= doc.request.working_day:
                self.problem(entry_where, "due must be later than request", "due")
            for index, offset in enumerate(doc.reminders):
                if doc.due.working_day + offset <= doc.request.working_day:
                    self.problem(
                        entry_where,
                        f"reminder {offset} falls before the request goes out",
                        "reminders",
                        index,
                    )
            afters = [step.after for step in doc.escalations]
            if afters != sorted(afters):
                self.problem(entry_where, "escalation steps must be in order", "escalations")
            reg.timetable.append(
                TimetableSpec(
                    frequency,
                    doc.request.working_day,
                    doc.request.time,
                    doc.due.working_day,
                    doc.due.time,
                    tuple(sorted(doc.reminders)),
                    tuple(EscalationStep(s.to, s.after) for s in doc.escalations),
                    doc.returns_summary.after,
                )
            )
        missing = used - {t.frequency for t in reg.timetable}
        for frequency in sorted(missing):
            self.problem(where, f"no timetable for {frequency.value} returns")

    def collect_mail(self, reg: Register) -> None:
        found = self.single("mail")
        if found is None:
            return
        raw, where = found
        doc = self.validate_one(schema.MailDoc, raw, where)
        if doc is None:
            return
        team = self.email(doc.performance_team, where, "performance_team")
        if team is not None:
            reg.mail = MailSpec(
                doc.council,
                doc.from_,
                doc.reply_domain.lower(),
                doc.reply_local,
                doc.separator,
                team,
                doc.authserv_id,
                doc.request_workbook,
            )

    def collect_capture(self, reg: Register) -> None:
        found = self.single("capture")
        if found is None:
            return
        raw, where = found
        doc = self.validate_one(schema.CaptureDoc, raw, where)
        if doc is not None:
            reg.capture = CaptureSpec(doc.plausibility_factor)

    def collect_council(self, reg: Register) -> None:
        found = self.single("council")
        if found is None:
            return
        raw, where = found
        doc = self.validate_one(schema.CouncilDoc, raw, where)
        if doc is not None:
            reg.council = CouncilSpec(doc.ons_area_code)

    def collect_history(self, reg: Register) -> None:
        components = {c.code: c for c in reg.components}
        for document in self.documents:
            if "history" not in document.root:
                continue
            content, where = document.root["history"], document.where.at("history")
            if not isinstance(content, dict):
                self.problem(where, "history must map component codes to values by period")
                continue
            for code, values in content.items():
                self.history_for(str(code), values, where.at(code), components, reg)

    def history_for(
        self,
        code: str,
        values: Any,
        where: Where,
        components: dict[str, ComponentSpec],
        reg: Register,
    ) -> None:
        component = components.get(code)
        if component is None and code in self.broken_codes:
            return
        if component is None:
            hint = suggest(code, components)
            self.problem(
                where,
                f"history for unknown component {code!r}"
                + (f" (did you mean {hint}?)" if hint else ""),
            )
            return
        if not isinstance(values, dict):
            self.problem(where, "expected a mapping of period to value")
            return
        for key, raw in values.items():
            try:
                period = parse_period(str(key))
            except PeriodError as exc:
                self.problem(where, f"period: {exc}", key)
                continue
            if period.kind is not COLLECTED_KIND[component.frequency]:
                self.problem(
                    where,
                    f"{code} is collected {component.frequency.value}; "
                    f"{period.code} is a {period.kind.value}",
                    key,
                )
                continue
            try:
                value = schema.to_decimal(raw)
            except ValueError as exc:
                self.problem(where, str(exc), key)
                continue
            if not isinstance(value, Decimal):
                self.problem(where, f"{raw!r} is not a number", key)
                continue
            if not _within(value, component):
                self.problem(where, f"{value} is outside {code}'s allowed range", key)
                continue
            reg.history.append(HistoryValue(code, period, value))


def _within(value: Decimal, component: ComponentSpec) -> bool:
    low, high = component.min_value, component.max_value
    return (low is None or value >= low) and (high is None or value <= high)


def _rank(frequency: Frequency) -> int:
    return [Frequency.MONTHLY, Frequency.QUARTERLY, Frequency.ANNUAL].index(frequency)


def _tolerance(text: str | None) -> tuple[Decimal | None, ToleranceKind]:
    if text is None:
        return None, ToleranceKind.ABSOLUTE
    text = text.strip()
    if text.endswith("%"):
        return Decimal(text[:-1].strip()), ToleranceKind.PERCENT
    return Decimal(text), ToleranceKind.ABSOLUTE


def _check_dates(checker: _Checker, where: Where, start: Any, due: Any) -> None:
    if start is not None and due is not None and start > due:
        checker.problem(where, f"start {start} is after due {due}", "due")


def _codes_in(raw: Any) -> set[str]:
    """Every ``code:`` value anywhere inside a raw item."""
    if isinstance(raw, dict):
        found = {str(raw["code"])} if "code" in raw else set()
        for value in raw.values():
            found |= _codes_in(value)
        return found
    if isinstance(raw, list):
        return set().union(*(_codes_in(v) for v in raw)) if raw else set()
    return set()


def _plain(value: Any) -> Any:
    """ruamel's commented containers to plain dicts and lists for pydantic."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def roles_of(register: Register) -> dict[str, frozenset[Role]]:
    """Declared and derived roles for every person."""
    derived = register.derived_roles()
    return {p.email: frozenset(p.roles | derived.get(p.email, set())) for p in register.people}


def problems_text(problems: Iterable[Problem]) -> str:
    return "\n".join(str(p) for p in problems)
