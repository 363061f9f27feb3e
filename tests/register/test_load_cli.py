"""`mailcapture init && load && status` on both databases, through the real command line.

A broken register must give ``file:line: reason``, a non-zero exit, and leave the database
exactly as it was; a second load of the same register must change nothing.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import select

from mailcapture.db import models as m
from mailcapture.db.engine import make_engine
from tests.conftest import CONFIG_DIR
from tests.snapshots import run_cli, snapshot


@pytest.fixture
def register_dir(tmp_path: Path) -> Path:
    target = tmp_path / "register"
    shutil.copytree(CONFIG_DIR, target)
    return target


def _line_of(path: Path, needle: str) -> int:
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in {path}")


def _replace_line(path: Path, needle: str, new: str) -> int:
    lines = path.read_text().splitlines(keepends=True)
    number = _line_of(path, needle)
    lines[number - 1] = lines[number - 1].replace(needle, new)
    path.write_text("".join(lines))
    return number


@pytest.fixture
def loaded(cli_env: dict[str, str], register_dir: Path) -> dict[str, str]:
    """A database with the sample register loaded once."""
    assert run_cli("init", env=cli_env).code == 0
    result = run_cli("load", str(register_dir), env=cli_env)
    assert result.code == 0, result.stderr
    return cli_env


def test_init_load_status_then_second_load_changes_nothing(
    cli_env: dict[str, str], register_dir: Path
) -> None:
    init = run_cli("init", env=cli_env)
    assert init.code == 0, init.stderr
    first = run_cli("load", str(register_dir), env=cli_env)
    assert first.code == 0, first.stderr
    assert "indicators: " in first.stdout and "added" in first.stdout

    engine = make_engine(cli_env["MAILCAPTURE_DATABASE_URL"])
    before = snapshot(engine)
    second = run_cli("load", str(register_dir), env=cli_env)
    assert second.code == 0, second.stderr
    assert "no changes" in second.stdout
    assert snapshot(engine) == before

    status = run_cli("status", "--now", "2026-04-20T12:00", env=cli_env)
    assert status.code == 0, status.stderr
    assert re.search(r"indicators\W+5\d\W", status.stdout), status.stdout
    assert "Fri 01 May 2026 09:00 BST" in status.stdout  # April's requests
    with engine.connect() as conn:
        assert conn.scalar(select(m.Indicator.code).where(m.Indicator.code == "BV8a")) == "BV8a"
    engine.dispose()


@pytest.mark.parametrize(
    ("file", "needle", "replacement", "reason"),
    [
        (
            "indicators.yaml",
            "formula: 100 * BV8a.1 / BV8a.2",
            "formula: 100 * BV8a.1 / BV8a.9",
            "unknown component 'BV8a.9'",
        ),
        ("indicators.yaml", "code: BV8a.2", "code: BV8a.1", "duplicate code 'BV8a.1'"),
        ("organisation.yaml", "@ashdown.example", "@@ashdown.example", "invalid email address"),
        (
            "indicators.yaml",
            "formula: 100 * BV8a.1 / BV8a.2",
            "formula: [100 * BV8a.1",
            "YAML syntax",
        ),
    ],
    ids=["unknown-component", "duplicate-code", "bad-email", "broken-yaml"],
)
def test_broken_register_reports_file_line_and_changes_nothing(
    loaded: dict[str, str],
    register_dir: Path,
    file: str,
    needle: str,
    replacement: str,
    reason: str,
) -> None:
    path = register_dir / file
    line = _replace_line(path, needle, replacement)
    engine = make_engine(loaded["MAILCAPTURE_DATABASE_URL"])
    before = snapshot(engine)

    result = run_cli("load", str(register_dir), env=loaded)

    assert result.code != 0
    assert reason in result.stderr, result.stderr
    problem_lines = [ln for ln in result.stderr.splitlines() if reason in ln]
    assert problem_lines[0].startswith(f"{path}:"), result.stderr
    reported = int(problem_lines[0].split(":")[1])
    # A YAML syntax error may be detected on the line after the broken one.
    assert reported in {line, line + 1}, (reported, line, result.stderr)
    assert "Traceback" not in result.stderr
    assert snapshot(engine) == before
    engine.dispose()


def test_every_problem_is_reported_in_one_run(loaded: dict[str, str], register_dir: Path) -> None:
    _replace_line(
        register_dir / "indicators.yaml",
        "formula: 100 * BV8a.1 / BV8a.2",
        "formula: 100 * BV8a.1 / BV8a.3",
    )
    _replace_line(register_dir / "indicators.yaml", "polarity: higher", "polarity: upwards")
    _replace_line(register_dir / "organisation.yaml", "@ashdown.example", "@@ashdown.example")
    result = run_cli("load", str(register_dir), env=loaded)
    assert result.code != 0
    problems = result.stderr.splitlines()[:-1]
    assert any("polarity: Input should be 'higher', 'lower' or 'neutral'" in p for p in problems)
    assert any("invalid email address" in p for p in problems)
    # An indicator whose own shape is broken is reported once, not again by every
    # history line and formula that refers to its components.
    assert not any("history for unknown component" in p for p in problems), problems
    assert "register not loaded: " in result.stderr.splitlines()[-1]


def test_load_before_init_is_a_one_line_error(empty_db_url: str) -> None:
    if empty_db_url.startswith("sqlite:///"):  # an existing file with no schema in it
        sqlite3.connect(empty_db_url.removeprefix("sqlite:///")).close()
    env = {"MAILCAPTURE_DATABASE_URL": empty_db_url}
    result = run_cli("load", str(CONFIG_DIR), env=env)
    assert result.code != 0
    assert result.stderr.strip().splitlines() == [
        "mailcapture: error: the database has no mailcapture schema: run `mailcapture init` first"
    ]


def test_unreachable_database_is_a_one_line_error(tmp_path: Path) -> None:
    env = {"MAILCAPTURE_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none"}
    result = run_cli("status", env=env)
    assert result.code != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mailcapture: error: database unavailable")


def test_bad_database_setting_is_a_one_line_error() -> None:
    result = run_cli("status", env={"MAILCAPTURE_DATABASE_URL": "mailcapture.db"})
    assert result.code != 0
    assert result.stderr.strip().startswith("mailcapture: error: MAILCAPTURE_DATABASE_URL=")
    assert len(result.stderr.strip().splitlines()) == 1
