"""Write a validated :class:`Register` to the database, idempotently, in one transaction.

Rows are matched by code (people by email). A field is written only when its value
differs, so loading the same register twice changes nothing. Nothing with history is
deleted: a row that disappears from the register is retired, and returns if it reappears.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailcapture.db import models as m
from mailcapture.db.models.base import Retirable
from mailcapture.db.periods import PeriodStore
from mailcapture.domain.enums import Role, SubmissionSource, SubmissionState
from mailcapture.register.mail import COUNCIL_SETTING
from mailcapture.register.model import CaptureSpec, CouncilSpec, Register
from mailcapture.register.validate import roles_of

T = TypeVar("T", bound=m.Base)


class Changes:
    """What a load did, by table: added, updated, retired, restored."""

    def __init__(self) -> None:
        self.by_table: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))

    def note(self, table: str, what: str, key: str) -> None:
        self.by_table[table][what].append(key)

    def as_dict(self) -> dict[str, dict[str, list[str]]]:
        return {
            t: {w: sorted(keys) for w, keys in whats.items()}
            for t, whats in sorted(self.by_table.items())
        }

    @property
    def empty(self) -> bool:
        return not self.by_table

    def summary(self) -> str:
        if self.empty:
            return "no changes"
        parts = []
        for table, whats in self.as_dict().items():
            counts = ", ".join(f"{len(keys)} {what}" for what, keys in whats.items())
            parts.append(f"{table}: {counts}")
        return "; ".join(parts)


def _assign(row: Any, values: dict[str, Any]) -> bool:
    changed = False
    for name, value in values.items():
        if getattr(row, name) != value:
            setattr(row, name, value)
            changed = True
    return changed


class _Sync:
    def __init__(self, session: Session, now: datetime) -> None:
        self.session = session
        self.now = now
        self.changes = Changes()
        self.periods = PeriodStore(session)

    def upsert(
        self,
        model: type[T],
        existing: dict[str, T],
        key: str,
        key_attr: str,
        values: dict[str, Any],
    ) -> T:
        row = existing.get(key.casefold())
        table = model.__tablename__
        if row is None:
            row = model(**{key_attr: key}, **values)
            self.session.add(row)
            existing[key.casefold()] = row
            self.changes.note(table, "added", key)
            return row
        if isinstance(row, Retirable) and row.retired_at is not None:
            row.retired_at = None
            self.changes.note(table, "restored", key)
        if getattr(row, key_attr) != key:
            setattr(row, key_attr, key)
        if _assign(row, values):
            self.changes.note(table, "updated", key)
        return row

    def retire_missing(
        self, model: type[T], existing: dict[str, T], keep: Iterable[str], key_attr: str = "code"
    ) -> None:
        wanted = {k.casefold() for k in keep}
        for key, row in existing.items():
            if key not in wanted and isinstance(row, Retirable) and row.retired_at is None:
                row.retired_at = self.now
                self.changes.note(model.__tablename__, "retired", getattr(row, key_attr))

    def by_code(self, model: type[T], attr: str = "code") -> dict[str, T]:
        return {getattr(r, attr).casefold(): r for r in self.session.scalars(select(model))}

    def sync_links(
        self,
        model: type[T],
        owner_attr: str,
        owner_id: int,
        other_attr: str,
        wanted: set[int],
        label: str,
    ) -> None:
        """Make the association rows for one owner exactly ``wanted``."""
        rows = self.session.scalars(
            select(model).where(getattr(model, owner_attr) == owner_id)
        ).all()
        have = {getattr(r, other_attr): r for r in rows}
        if set(have) == wanted:
            return
        for other_id in wanted - set(have):
            self.session.add(model(**{owner_attr: owner_id, other_attr: other_id}))
        for other_id, row in have.items():
            if other_id not in wanted:
                self.session.delete(row)
        self.changes.note(model.__tablename__, "updated", label)

    # ---- sections --------------------------------------------------------------------
    def run(self, reg: Register) -> Changes:
        s = self.session
        departments = self.by_code(m.Department)
        for d in reg.departments:
            self.upsert(m.Department, departments, d.code, "code", {"name": d.name})
        self.retire_missing(m.Department, departments, [d.code for d in reg.departments])
        s.flush()

        areas = self.by_code(m.ServiceArea)
        for a in reg.service_areas:
            self.upsert(
                m.ServiceArea,
                areas,
                a.code,
                "code",
                {"name": a.name, "department_id": departments[a.department.casefold()].id},
            )
        self.retire_missing(m.ServiceArea, areas, [a.code for a in reg.service_areas])
        s.flush()

        people = self.by_code(m.Person, "email")
        for p in reg.people:
            area_id = areas[p.service_area.casefold()].id if p.service_area else None
            self.upsert(
                m.Person,
                people,
                p.email,
                "email",
                {"name": p.name, "job_title": p.job_title, "service_area_id": area_id},
            )
        self.retire_missing(m.Person, people, [p.email for p in reg.people], "email")
        s.flush()
        self.sync_roles(reg, people)
        self.sync_delegations(reg, people)
        self.sync_heads(reg, departments, people)

        objectives = self.by_code(m.Objective)
        for o in reg.objectives:
            self.upsert(m.Objective, objectives, o.code, "code", {"title": o.title})
        self.retire_missing(m.Objective, objectives, [o.code for o in reg.objectives])
        s.flush()
        priorities = self.by_code(m.Priority)
        for pr in reg.priorities:
            self.upsert(
                m.Priority,
                priorities,
                pr.code,
                "code",
                {"title": pr.title, "objective_id": objectives[pr.objective.casefold()].id},
            )
        self.retire_missing(m.Priority, priorities, [p.code for p in reg.priorities])

        reports = self.by_code(m.ReportDefinition)
        for r in reg.reports:
            self.upsert(
                m.ReportDefinition, reports, r.code, "code", {"title": r.title, "kind": r.kind}
            )
        self.retire_missing(m.ReportDefinition, reports, [r.code for r in reg.reports])
        s.flush()
        for r in reg.reports:
            self.sync_links(
                m.ReportRecipient,
                "report_id",
                reports[r.code.casefold()].id,
                "person_id",
                {people[e].id for e in r.recipients},
                r.code,
            )

        self.sync_indicators(reg, areas, priorities, people, reports)
        self.sync_projects(reg, areas, priorities, people)
        self.sync_authority(reg)
        self.sync_timetable(reg)
        self.sync_history(reg)
        self.sync_settings(reg)
        return self.changes

    def sync_roles(self, reg: Register, people: dict[str, m.Person]) -> None:
        roles = roles_of(reg)
        declared = {p.email: p.roles for p in reg.people}
        for email, wanted in roles.items():
            person = people[email]
            have = {r.role: r for r in person.roles}
            want = {role: role in declared[email] for role in wanted}
            if {k: v.declared for k, v in have.items()} == want:
                continue
            for role, row in list(have.items()):
                if role not in want:
                    person.roles.remove(row)
            for role, is_declared in want.items():
                if role in have:
                    have[role].declared = is_declared
                else:
                    person.roles.append(m.PersonRole(role=Role(role), declared=is_declared))
            self.changes.note("person_roles", "updated", email)

    def sync_delegations(self, reg: Register, people: dict[str, m.Person]) -> None:
        existing = {
            (d.principal_id, d.delegate_id): d for d in self.session.scalars(select(m.Delegation))
        }
        wanted = {
            (people[p.email].id, people[d].id): f"{d} for {p.email}"
            for p in reg.people
            for d in p.delegates
        }
        for pair, label in wanted.items():
            row = existing.get(pair)
            if row is None:
                self.session.add(m.Delegation(principal_id=pair[0], delegate_id=pair[1]))
                self.changes.note("delegations", "added", label)
            elif row.retired_at is not None:
                row.retired_at = None
                self.changes.note("delegations", "restored", label)
        for pair, row in existing.items():
            if pair not in wanted and row.retired_at is None:
                row.retired_at = self.now
                self.changes.note("delegations", "retired", f"{pair[1]} for {pair[0]}")

    def sync_heads(
        self, reg: Register, departments: dict[str, m.Department], people: dict[str, m.Person]
    ) -> None:
        existing = {h.department_id: h for h in self.session.scalars(select(m.DepartmentHead))}
        for d in reg.departments:
            dept_id = departments[d.code.casefold()].id
            row = existing.get(dept_id)
            if d.head is None:
                if row is not None:
                    self.session.delete(row)
                    self.changes.note("department_heads", "removed", d.code)
                continue
            person_id = people[d.head].id
            if row is None:
                self.session.add(m.DepartmentHead(department_id=dept_id, person_id=person_id))
                self.changes.note("department_heads", "added", d.code)
            elif row.person_id != person_id:
                row.person_id = person_id
                self.changes.note("department_heads", "updated", d.code)

    def sync_indicators(
        self,
        reg: Register,
        areas: dict[str, m.ServiceArea],
        priorities: dict[str, m.Priority],
        people: dict[str, m.Person],
        reports: dict[str, m.ReportDefinition],
    ) -> None:
        s = self.session
        indicators = self.by_code(m.Indicator)
        for ind in reg.indicators:
            self.upsert(
                m.Indicator,
                indicators,
                ind.code,
                "code",
                {
                    "title": ind.title,
                    "description": ind.description,
                    "type": ind.type,
                    "frequency": ind.frequency,
                    "polarity": ind.polarity,
                    "cumulative": ind.cumulative,
                    "unit": ind.unit,
                    "decimals": ind.decimals,
                    "formula": ind.formula_text,
                    "service_area_id": areas[ind.service_area.casefold()].id,
                    "priority_id": priorities[ind.priority.casefold()].id if ind.priority else None,
                    "owner_id": people[ind.owner].id,
                    "escalation_owner_id": people[ind.escalation_owner].id,
                    "default_tolerance": ind.tolerance,
                    "default_tolerance_kind": ind.tolerance_kind,
                    "lg_inform_id": ind.lg_inform_id,
                    "sdl_reference": ind.sdl_reference,
                },
            )
        self.retire_missing(m.Indicator, indicators, [i.code for i in reg.indicators])
        s.flush()

        components = self.by_code(m.Component)
        for c in reg.components:
            self.upsert(
                m.Component,
                components,
                c.code,
                "code",
                {
                    "title": c.title,
                    "unit": c.unit,
                    "min_value": c.min_value,
                    "max_value": c.max_value,
                    "aggregation": c.aggregation,
                    "frequency": c.frequency,
                    "declared_by_id": indicators[c.declared_by.casefold()].id,
                },
            )
        self.retire_missing(m.Component, components, [c.code for c in reg.components])
        s.flush()

        targets = {(t.indicator_id, t.period_id): t for t in s.scalars(select(m.Target))}
        # A target changed with `mailcapture target set` rests on an approval; a reload of
        # a register that still has the old figure must not silently undo it.
        approved = {
            (c.indicator_id, c.period_id): c.new_value
            for c in s.scalars(
                select(m.TargetChange)
                .where(m.TargetChange.indicator_id.is_not(None))
                .order_by(m.TargetChange.recorded_at, m.TargetChange.id)
            )
        }
        for ind in reg.indicators:
            row = indicators[ind.code.casefold()]
            self.sync_links(
                m.IndicatorUpdater,
                "indicator_id",
                row.id,
                "person_id",
                {people[u].id for u in ind.updaters},
                ind.code,
            )
            self.sync_links(
                m.IndicatorReport,
                "indicator_id",
                row.id,
                "report_id",
                {reports[r.casefold()].id for r in ind.reports},
                ind.code,
            )
            self.sync_links(
                m.IndicatorComponent,
                "indicator_id",
                row.id,
                "component_id",
                {components[c.casefold()].id for c in ind.formula.codes},
                ind.code,
            )
            for target in ind.targets:
                period = self.periods.get(target.period)
                values = {
                    "value": target.value,
                    "tolerance": target.tolerance,
                    "tolerance_kind": target.tolerance_kind,
                }
                label = f"{ind.code} {target.period.code}"
                existing = targets.get((row.id, period.id))
                if existing is None:
                    s.add(
                        m.Target(
                            indicator_id=row.id, period_id=period.id, updated_at=self.now, **values
                        )
                    )
                    self.changes.note("targets", "added", label)
                elif (
                    approved.get((row.id, period.id)) == existing.value
                    and existing.value != target.value
                ):
                    self.changes.note("targets", "kept (approved change)", label)
                elif _assign(existing, values):
                    existing.updated_at = self.now
                    self.changes.note("targets", "updated", label)

    def sync_projects(
        self,
        reg: Register,
        areas: dict[str, m.ServiceArea],
        priorities: dict[str, m.Priority],
        people: dict[str, m.Person],
    ) -> None:
        projects = self.by_code(m.Project)
        milestones = self.by_code(m.Milestone)
        for p in reg.projects:
            project = self.upsert(
                m.Project,
                projects,
                p.code,
                "code",
                {
                    "title": p.title,
                    "description": p.description,
                    "priority_id": priorities[p.priority.casefold()].id,
                    "service_area_id": areas[p.service_area.casefold()].id,
                    "owner_id": people[p.owner].id,
                    "updater_id": people[p.updater].id,
                    "escalation_owner_id": people[p.escalation_owner].id,
                    "is_key": p.key,
                    "start_date": p.start,
                    "due_date": p.due,
                    "completed_on": p.completed,
                },
            )
            self.session.flush()
            for ms in p.milestones:
                self.upsert(
                    m.Milestone,
                    milestones,
                    ms.code,
                    "code",
                    {
                        "project_id": project.id,
                        "title": ms.title,
                        "is_overall": ms.is_overall,
                        "start_date": ms.start,
                        "due_date": ms.due,
                        "completed_on": ms.completed,
                    },
                )
        self.retire_missing(m.Project, projects, [p.code for p in reg.projects])
        self.retire_missing(
            m.Milestone, milestones, [ms.code for p in reg.projects for ms in p.milestones]
        )

    def sync_authority(self, reg: Register) -> None:
        existing = {
            (r.change_kind, r.approver_kind): r
            for r in self.session.scalars(select(m.ApprovalRule))
        }
        wanted = set(reg.authority)
        for pair in wanted - set(existing):
            self.session.add(m.ApprovalRule(change_kind=pair[0], approver_kind=pair[1]))
            self.changes.note("approval_rules", "added", f"{pair[0].value}:{pair[1].value}")
        for pair, row in existing.items():
            if pair not in wanted:
                self.session.delete(row)
                self.changes.note("approval_rules", "removed", f"{pair[0].value}:{pair[1].value}")

    def sync_timetable(self, reg: Register) -> None:
        s = self.session
        rules = {r.frequency: r for r in s.scalars(select(m.TimetableRule))}
        for t in reg.timetable:
            values = {
                "request_working_day": t.request_working_day,
                "request_time": t.request_time,
                "due_working_day": t.due_working_day,
                "due_time": t.due_time,
                "reminders": list(t.reminders),
                "escalations": [asdict(e) for e in t.escalations],
                "summary_after": t.summary_after,
            }
            rule = rules.get(t.frequency)
            if rule is None:
                s.add(m.TimetableRule(frequency=t.frequency, **values))
                self.changes.note("timetable_rules", "added", t.frequency.value)
            elif _assign(rule, values):
                self.changes.note("timetable_rules", "updated", t.frequency.value)
        self.sync_bank_holidays(reg)

    def sync_bank_holidays(self, reg: Register) -> None:
        s = self.session
        holidays = {h.day: h for h in s.scalars(select(m.BankHoliday))}
        wanted = dict(reg.bank_holidays)
        for day, name in wanted.items():
            holiday = holidays.get(day)
            if holiday is None:
                s.add(m.BankHoliday(day=day, name=name))
                self.changes.note("bank_holidays", "added", day.isoformat())
            elif holiday.name != name:
                holiday.name = name
                self.changes.note("bank_holidays", "updated", day.isoformat())
        for day, holiday in holidays.items():
            if day not in wanted:
                s.delete(holiday)
                self.changes.note("bank_holidays", "removed", day.isoformat())

    def sync_history(self, reg: Register) -> None:
        """Values from before mailcapture; never over a value somebody sent by email."""
        s = self.session
        s.flush()
        components = self.by_code(m.Component)
        current = {
            (v.component_id, v.period_id): v
            for v in s.scalars(select(m.ComponentValue).where(m.ComponentValue.is_current))
        }
        for h in reg.history:
            component = components[h.component.casefold()]
            period = self.periods.get(h.period)
            label = f"{h.component} {h.period.code}"
            row = current.get((component.id, period.id))
            if row is not None and (row.source != SubmissionSource.HISTORY or row.value == h.value):
                continue
            if row is not None:
                row.is_current = False
                row.state = SubmissionState.SUPERSEDED
                s.flush()
            s.add(
                m.ComponentValue(
                    component_id=component.id,
                    period_id=period.id,
                    state=SubmissionState.ACCEPTED,
                    value=h.value,
                    raw_answer=None,
                    source=SubmissionSource.HISTORY,
                    received_at=self.now,
                    is_current=True,
                    replaces_id=row.id if row is not None else None,
                )
            )
            self.changes.note("component_values", "updated" if row else "added", label)

    def sync_settings(self, reg: Register) -> None:
        self.sync_capture(reg)
        self.sync_council(reg)
        if reg.mail is None:
            return
        value = asdict(reg.mail)
        row = self.session.get(m.ServiceSetting, "mail")
        if row is None:
            self.session.add(m.ServiceSetting(key="mail", value=value))
            self.changes.note("service_settings", "added", "mail")
        elif row.value != value:
            row.value = value
            self.changes.note("service_settings", "updated", "mail")

    def sync_capture(self, reg: Register) -> None:
        """The ``capture`` section, stored only when it differs from what is stored (or,
        with nothing stored, from the defaults the readers assume)."""
        value = {"plausibility_factor": str(reg.capture.plausibility_factor)}
        row = self.session.get(m.ServiceSetting, "capture")
        if row is None and reg.capture != CaptureSpec():
            self.session.add(m.ServiceSetting(key="capture", value=value))
            self.changes.note("service_settings", "added", "capture")
        elif row is not None and row.value != value:
            row.value = value
            self.changes.note("service_settings", "updated", "capture")

    def sync_council(self, reg: Register) -> None:
        """The ``council`` section (the ONS area code), stored while the register has one."""
        row = self.session.get(m.ServiceSetting, COUNCIL_SETTING)
        if reg.council == CouncilSpec():
            if row is not None:
                self.session.delete(row)
                self.changes.note("service_settings", "removed", COUNCIL_SETTING)
            return
        value = asdict(reg.council)
        if row is None:
            self.session.add(m.ServiceSetting(key=COUNCIL_SETTING, value=value))
            self.changes.note("service_settings", "added", COUNCIL_SETTING)
        elif row.value != value:
            row.value = value
            self.changes.note("service_settings", "updated", COUNCIL_SETTING)


def sync_register(session: Session, register: Register, now: datetime) -> Changes:
    """Apply ``register`` inside the caller's transaction; return what changed."""
    return _Sync(session, now).run(register)
