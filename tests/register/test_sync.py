"""Loading again updates what changed, never duplicates, and retires instead of deleting."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from mailcapture.db import models as m
from mailcapture.domain.enums import Role, SubmissionSource
from mailcapture.register.loader import load_folder
from tests.conftest import CONFIG_DIR

NOW = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)
LATER = datetime(2026, 4, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def register_dir(tmp_path: Path) -> Path:
    target = tmp_path / "register"
    shutil.copytree(CONFIG_DIR, target)
    return target


def _remove_indicator(path: Path, code: str) -> None:
    """Cut one indicator's block (from its ``- code:`` line to the next one) out of the file."""
    lines = path.read_text().splitlines(keepends=True)
    start = next(i for i, ln in enumerate(lines) if ln.strip() == f"- code: {code}")
    indent = lines[start].index("-")
    end = next(
        (i for i in range(start + 1, len(lines)) if lines[i].startswith(" " * indent + "- code:")),
        len(lines),
    )
    path.write_text("".join(lines[:start] + lines[end:]))


def test_sample_register_contents(sessions: sessionmaker[Session], register_dir: Path) -> None:
    load_folder(register_dir, sessions, NOW)
    with sessions() as s:
        bv8a = s.scalar(select(m.Indicator).where(m.Indicator.code == "BV8a"))
        assert bv8a is not None and bv8a.formula == "100 * BV8a.1 / BV8a.2"
        assert [c.code for c in bv8a.components] == ["BV8a.1", "BV8a.2"]
        assert bv8a.updaters and bv8a.owner is not None and bv8a.escalation_owner is not None
        indicators = s.scalars(select(m.Indicator)).all()
        assert len(indicators) >= 40
        assert {i.type.value for i in indicators} == {
            "single_data_list",
            "ex_best_value",
            "local",
            "statistic",
        }
        assert {i.frequency.value for i in indicators} == {"monthly", "quarterly", "annual"}
        projects = s.scalars(select(m.Project)).all()
        assert len(projects) >= 10
        for project in projects:
            overall = [ms for ms in project.milestones if ms.is_overall]
            assert [ms.code for ms in overall] == [f"{project.code}.M0"]
        assert s.scalar(select(func.count()).select_from(m.Department)) == 4
        assert 18 <= s.scalar(select(func.count()).select_from(m.Person)) <= 25
        assert s.scalar(select(func.count()).select_from(m.Delegation)) >= 1
        team = s.scalars(
            select(m.PersonRole).where(m.PersonRole.role == Role.PERFORMANCE_TEAM)
        ).all()
        assert team and all(r.declared for r in team)
        fy_codes = set(
            s.scalars(select(m.Period.code).join(m.Target, m.Target.period_id == m.Period.id))
        )
        assert {"2025/26", "2026/27"} <= fy_codes
        history = s.scalars(
            select(m.ComponentValue).where(m.ComponentValue.source == SubmissionSource.HISTORY)
        ).all()
        assert len(history) > 200
        assert all(v.is_current and v.value is not None for v in history)


def test_change_retire_and_restore(sessions: sessionmaker[Session], register_dir: Path) -> None:
    load_folder(register_dir, sessions, NOW)
    with sessions() as s:
        counts = {
            t: s.scalar(select(func.count()).select_from(t))
            for t in (m.Indicator, m.Component, m.Target, m.ComponentValue)
        }
        bv8a_history = s.scalar(
            select(func.count())
            .select_from(m.ComponentValue)
            .join(m.Component)
            .where(m.Component.code == "BV8a.1")
        )
    indicators = register_dir / "indicators.yaml"
    text = indicators.read_text()
    indicators.write_text(
        text.replace(
            "Percentage of undisputed invoices paid within 30 days",
            "Undisputed invoices paid within 30 days (%)",
            1,
        )
    )
    result = load_folder(register_dir, sessions, LATER)
    assert result.changes.as_dict() == {"indicators": {"updated": ["BV8a"]}}

    _remove_indicator(indicators, "BV8a")
    history = register_dir / "history-2025-26.yaml"
    history_text = history.read_text()
    history.write_text(
        "".join(
            line
            for line in history_text.splitlines(keepends=True)
            if not line.lstrip().startswith(("BV8a.1:", "BV8a.2:"))
        )
    )
    result = load_folder(register_dir, sessions, LATER)
    assert result.changes.as_dict()["indicators"] == {"retired": ["BV8a"]}
    assert result.changes.as_dict()["components"] == {"retired": ["BV8a.1", "BV8a.2"]}
    with sessions() as s:
        bv8a = s.scalar(select(m.Indicator).where(m.Indicator.code == "BV8a"))
        assert bv8a is not None and bv8a.retired_at == LATER
        # History stays: retiring is not deleting.
        assert (
            s.scalar(
                select(func.count())
                .select_from(m.ComponentValue)
                .join(m.Component)
                .where(m.Component.code == "BV8a.1")
            )
            == bv8a_history
        )
        assert {t: s.scalar(select(func.count()).select_from(t)) for t in counts} == counts

    indicators.write_text(text)
    history.write_text(history_text)
    result = load_folder(register_dir, sessions, LATER)
    assert result.changes.as_dict()["indicators"] == {"restored": ["BV8a"], "updated": ["BV8a"]}
    with sessions() as s:
        assert s.scalar(select(m.Indicator.retired_at).where(m.Indicator.code == "BV8a")) is None
        assert {t: s.scalar(select(func.count()).select_from(t)) for t in counts} == counts


def test_history_change_keeps_the_old_value(
    sessions: sessionmaker[Session], register_dir: Path
) -> None:
    load_folder(register_dir, sessions, NOW)
    with sessions() as s:
        row = s.scalars(
            select(m.ComponentValue)
            .join(m.Component)
            .join(m.Period)
            .where(m.Component.code == "BV8a.1", m.Period.code == "2025-04")
        ).one()
        old_value = row.value
    history = next(
        p
        for p in register_dir.glob("*.yaml")
        if "BV8a.1:" in p.read_text() and "history" in p.read_text()
    )
    lines = history.read_text().splitlines(keepends=True)
    for i, line in enumerate(lines):
        if line.strip().startswith("BV8a.1:"):
            start = i
            break
    # The value for 2025-04 is on the BV8a.1 line (flow style) or the line below it.
    for i in range(start, start + 3):
        if "2025-04" in lines[i]:
            lines[i] = lines[i].replace(f"{old_value}", "1", 1)
            break
    history.write_text("".join(lines))
    result = load_folder(register_dir, sessions, LATER)
    assert result.changes.as_dict() == {"component_values": {"updated": ["BV8a.1 2025-04"]}}
    with sessions() as s:
        rows = s.scalars(
            select(m.ComponentValue)
            .join(m.Component)
            .join(m.Period)
            .where(m.Component.code == "BV8a.1", m.Period.code == "2025-04")
            .order_by(m.ComponentValue.id)
        ).all()
        assert [(r.value, r.is_current, r.state.value) for r in rows] == [
            (old_value, False, "superseded"),
            (Decimal(1), True, "accepted"),
        ]
        assert rows[1].replaces_id == rows[0].id
