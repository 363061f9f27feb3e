"""``mailcapture import register``: a realistic council workbook, field by field.

The workbook (:mod:`tests.spreadsheets.council`) carries the quirks councils' workbooks
have; the imported folder must load as it is, into the register and into both databases,
with every field as the workbook means it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from mailcapture.db import models as m
from mailcapture.domain.enums import Role, SubmissionSource, ToleranceKind
from mailcapture.register.loader import load_folder
from mailcapture.register.model import Register
from mailcapture.register.validate import load_register
from mailcapture.spreadsheets.register_import import import_register
from tests.spreadsheets import council
from tests.spreadsheets.council import HEAD_OF, INDICATORS, PEOPLE, PROJECTS, email

NOW = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def workbook(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return council.build(tmp_path_factory.mktemp("council") / "council.xlsx")


@pytest.fixture(scope="module")
def imported(workbook: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("register") / "register"
    import_register(workbook, out)
    return out


@pytest.fixture(scope="module")
def register(imported: Path) -> Register:
    return load_register(imported)


def test_the_folder_has_the_sample_registers_layout(imported: Path) -> None:
    assert sorted(p.name for p in imported.iterdir()) == [
        "framework.yaml",
        "history-2025-26.yaml",
        "indicators.yaml",
        "mail.yaml",
        "organisation.yaml",
        "projects.yaml",
        "timetable.yaml",
    ]


def test_every_indicator_field_is_as_the_workbook_says(register: Register) -> None:
    indicators = {i.code: i for i in register.indicators}
    assert list(indicators) == [row.code for row in INDICATORS]  # the workbook's order
    for row in INDICATORS:
        spec = indicators[row.code]
        assert spec.title == row.title
        assert spec.description == row.description  # 212 typed as a number is "212"
        assert spec.type.value == row.type
        assert spec.frequency.value == row.frequency
        assert spec.polarity.value == row.polarity
        assert spec.unit == row.unit
        assert spec.decimals == row.decimals
        assert spec.cumulative is False
        expected_formula = row.formula.replace(" ", "") if row.formula else None
        actual_formula = spec.formula_text.replace(" ", "") if spec.formula_text else None
        assert actual_formula == expected_formula
        assert spec.formula.codes == {c.code for c in row.components}
        assert spec.service_area == row.service_area
        assert spec.priority == row.priority
        assert spec.owner == email(row.owner)
        assert spec.updaters == tuple(email(u) for u in row.updaters)
        assert spec.escalation_owner == email(row.escalation_owner or HEAD_OF[row.service_area])
        assert spec.reports == row.reports
        if row.tolerance is None:
            assert (spec.tolerance, spec.tolerance_kind) == (None, ToleranceKind.ABSOLUTE)
        elif row.tolerance.endswith("%"):
            assert (spec.tolerance, spec.tolerance_kind) == (
                Decimal(row.tolerance[:-1]),
                ToleranceKind.PERCENT,
            )
        else:
            assert (spec.tolerance, spec.tolerance_kind) == (
                Decimal(row.tolerance),
                ToleranceKind.ABSOLUTE,
            )
        assert {t.period.code: t.value for t in spec.targets} == row.targets
        assert all(t.tolerance == spec.tolerance for t in spec.targets)


def test_every_component_and_history_value_is_as_the_workbook_says(register: Register) -> None:
    components = {c.code: c for c in register.components}
    expected = [(ind, comp) for ind in INDICATORS for comp in ind.components]
    assert list(components) == [comp.code for _, comp in expected]
    for ind, comp in expected:
        spec = components[comp.code]
        assert (spec.title, spec.unit, spec.min_value, spec.max_value) == (
            comp.title,
            comp.unit,
            comp.min,
            comp.max,
        )
        assert spec.aggregation.value == comp.aggregation
        assert spec.frequency.value == ind.frequency
        assert spec.declared_by == ind.code
    history = {(h.component, h.period.code): h.value for h in register.history}
    wanted = {
        (code, period): value
        for code, values in council.history().items()
        for period, value in values.items()
    }
    assert history == wanted
    assert len(history) > 200  # twelve months, quarters and years of 66 components


def test_people_organisation_and_framework(register: Register) -> None:
    people = {p.email: p for p in register.people}
    assert list(people) == [p.email for p in PEOPLE]  # "sam.doyle@... " trimmed
    for row in PEOPLE:
        spec = people[row.email]
        assert (spec.name, spec.job_title, spec.service_area) == (
            row.name,
            row.job_title,
            row.service_area,
        )
        assert spec.roles == frozenset(Role(r) for r in row.roles)
        assert spec.delegates == tuple(email(d) for d in row.delegates)
    assert [(d.code, d.name, d.head) for d in register.departments] == [
        (code, name, email(head)) for code, name, head, _ in council.DEPARTMENTS
    ]
    assert [(a.code, a.name, a.department) for a in register.service_areas] == [
        (area, area_name, code)
        for code, _, _, areas in council.DEPARTMENTS
        for area, area_name in areas
    ]
    assert [(o.code, o.title) for o in register.objectives] == [
        (code, title) for code, title, _ in council.OBJECTIVES
    ]
    assert [(p.code, p.title, p.objective) for p in register.priorities] == [
        (p, t, code) for code, _, ps in council.OBJECTIVES for p, t in ps
    ]
    assert [(r.code, r.title, r.kind.value, r.recipients) for r in register.reports] == [
        (code, title, kind, tuple(email(n) for n in names))
        for code, title, kind, names in council.REPORTS
    ]
    assert register.mail is not None
    assert register.mail.council == "Brackenford Borough Council"
    assert register.mail.from_address == "Brackenford Performance <performance@brackenford.example>"
    assert register.mail.reply_domain == "returns.brackenford.example"
    assert register.mail.performance_team == "performance@brackenford.example"
    # No Timetable or Authority sheet: the usual timetable and approval table.
    assert [
        (t.frequency.value, t.request_working_day, t.due_working_day) for t in register.timetable
    ] == [
        ("monthly", 1, 10),
        ("quarterly", 1, 15),
        ("annual", 5, 30),
    ]
    assert register.timetable[0].due_time == time(17, 0)
    assert len(register.authority) == 14


def test_projects_and_milestones(register: Register) -> None:
    projects = {p.code: p for p in register.projects}
    assert list(projects) == [row[0] for row in PROJECTS]
    for code, title, priority, area, owner, updater, key, start, due, done, milestones in PROJECTS:
        spec = projects[code]
        assert (spec.title, spec.priority, spec.service_area) == (title, priority, area)
        assert (spec.owner, spec.updater, spec.escalation_owner) == (
            email(owner),
            email(updater),
            email(HEAD_OF[area]),
        )
        assert (spec.key, spec.start, spec.due, spec.completed) == (key, start, due, done)
        overall, *rest = spec.milestones
        assert overall.code == f"{code}.M0" and overall.is_overall
        assert [(ms.code, ms.title, ms.start, ms.due, ms.completed) for ms in rest] == milestones


def test_the_imported_folder_loads_into_the_database(
    imported: Path, sessions: sessionmaker[Session]
) -> None:
    result = load_folder(imported, sessions, NOW)
    assert not result.changes.empty
    with sessions() as session:
        count = lambda model: session.scalar(select(func.count()).select_from(model))  # noqa: E731
        assert count(m.Indicator) == 40
        assert count(m.Component) == sum(len(i.components) for i in INDICATORS)
        assert count(m.Target) == sum(len(i.targets) for i in INDICATORS)
        assert count(m.Project) == 3
        assert count(m.Milestone) == 3 + sum(len(p[10]) for p in PROJECTS)
        history = session.scalars(
            select(m.ComponentValue).where(m.ComponentValue.source == SubmissionSource.HISTORY)
        ).all()
        assert len(history) == sum(len(v) for v in council.history().values())
        bb04 = session.scalar(select(m.Indicator).where(m.Indicator.code == "BB04"))
        assert bb04 is not None
        assert bb04.owner.email == "nadia.khan@brackenford.example"  # typed "Nadia.Khan@..."
        assert bb04.default_tolerance == Decimal("1.5")
        assert sorted(p.email for p in bb04.updaters) == sorted(
            email(u) for u in INDICATORS[3].updaters
        )
        pj3 = session.scalar(select(m.Project).where(m.Project.code == "PJ3"))
        assert pj3 is not None and pj3.completed_on == date(2026, 3, 20) and pj3.is_key
    again = load_folder(imported, sessions, NOW)
    assert again.changes.empty  # what the import wrote is what is loaded
