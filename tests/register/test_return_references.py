"""The register's references for government returns (issue 16, part 4): each indicator's
``lg_inform_id`` and ``sdl_reference``, and the council's ONS area code; their checks, their
load into the database and the migration that stores them."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.orm import Session, sessionmaker

from mailcapture.db import migrate
from mailcapture.db import models as m
from mailcapture.db.engine import make_engine
from mailcapture.register.loader import load_folder
from mailcapture.register.mail import council_settings
from mailcapture.register.source import RegisterInvalid
from mailcapture.register.validate import load_register
from tests.conftest import CONFIG_DIR

NOW = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)
LATER = datetime(2026, 4, 2, 9, 0, tzinfo=UTC)

NI192_REFERENCES = "    lg_inform_id: 46   # % household waste"
NI192_SDL = '(annual)\n    sdl_reference: "082-00"   # WasteDataFlow (DEFRA)'
NI191_SDL = 'NI191.1 / HH.1\n    sdl_reference: "082-00"   # WasteDataFlow (DEFRA)'
ONS_LINE = "  ons_area_code: E07999999"


@pytest.fixture
def register_dir(tmp_path: Path) -> Path:
    target = tmp_path / "register"
    shutil.copytree(CONFIG_DIR, target)
    return target


def _edit(path: Path, old: str, new: str) -> None:
    content = path.read_text()
    assert content.count(old) == 1, f"{old!r} is not once in {path.name}"
    path.write_text(content.replace(old, new))


def _line_of(path: Path, fragment: str) -> int:
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if fragment in line:
            return number
    raise AssertionError(f"{fragment!r} not in {path.name}")


def _problems(folder: Path) -> list[str]:
    with pytest.raises(RegisterInvalid) as caught:
        load_register(folder)
    return [str(p) for p in caught.value.problems]


# ------------------------------------------------------------------------ the sample


def test_the_sample_carries_the_confirmed_references_and_a_fictional_area_code() -> None:
    register = load_register(CONFIG_DIR)
    given = {
        i.code: (i.lg_inform_id, i.sdl_reference)
        for i in register.indicators
        if i.lg_inform_id is not None or i.sdl_reference is not None
    }
    assert given == {"NI191": (None, "082-00"), "NI192": (46, "082-00")}
    assert register.council.ons_area_code == "E07999999"


# ------------------------------------------------------------------------ the checks


@pytest.mark.parametrize(
    ("written", "reason"),
    [
        ("lg_inform_id: 46.5", "46.5 is not an LG Inform metric id: a whole number such as 46"),
        ("lg_inform_id: 0", "0 is not an LG Inform metric id"),
        ("lg_inform_id: -46", "-46 is not an LG Inform metric id"),
        ("lg_inform_id: true", "True is not an LG Inform metric id"),
        ("lg_inform_id: metric 46", "'metric 46' is not an LG Inform metric id"),
        ("lg_inform_id: 99999999999", "lg_inform_id: Input should be less than or equal to"),
    ],
    ids=["fraction", "zero", "negative", "boolean", "words", "too-large"],
)
def test_a_bad_lg_inform_id_names_the_file_line_and_field(
    register_dir: Path, written: str, reason: str
) -> None:
    indicators = register_dir / "indicators.yaml"
    _edit(indicators, "lg_inform_id: 46", written)
    line = _line_of(indicators, written)
    problems = _problems(register_dir)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{indicators}:{line}: lg_inform_id: ")
    assert reason in problems[0]


def test_an_lg_inform_id_typed_as_text_is_read_as_the_number(register_dir: Path) -> None:
    _edit(register_dir / "indicators.yaml", "lg_inform_id: 46", 'lg_inform_id: "46"')
    register = load_register(register_dir)
    assert {i.code: i.lg_inform_id for i in register.indicators}["NI192"] == 46


@pytest.mark.parametrize(
    "written",
    ['"82-00"', '"082-0"', '"082/00"', "82", '"SDL 082-00"', '"082-00a"'],
)
def test_a_bad_sdl_reference_names_the_file_line_and_field(
    register_dir: Path, written: str
) -> None:
    indicators = register_dir / "indicators.yaml"
    _edit(indicators, NI192_SDL, f"(annual)\n    sdl_reference: {written}")
    line = _line_of(indicators, f"sdl_reference: {written}")
    problems = _problems(register_dir)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{indicators}:{line}: sdl_reference: ")
    assert (
        "is not a Single Data List reference: three digits, a hyphen and two digits, "
        "e.g. 082-00" in problems[0]
    )


@pytest.mark.parametrize(
    "written", ["X07000223", "e07000223", "E0700022", "E070002231", "K04000001", "E07 000 223"]
)
def test_a_bad_ons_area_code_names_the_file_line_and_field(
    register_dir: Path, written: str
) -> None:
    organisation = register_dir / "organisation.yaml"
    _edit(organisation, ONS_LINE, f"  ons_area_code: {written}")
    line = _line_of(organisation, f"ons_area_code: {written}")
    problems = _problems(register_dir)
    assert problems == [
        f"{organisation}:{line}: ons_area_code: Value error, {written!r} is not an ONS "
        "area code: E, W, S or N and eight digits, e.g. E07000223"
    ]


def test_the_council_section_refuses_unknown_keys_and_may_appear_once(register_dir: Path) -> None:
    organisation = register_dir / "organisation.yaml"
    _edit(organisation, f"council:\n{ONS_LINE}\n", "")
    council = register_dir / "council.yaml"
    council.write_text("council:\n  ons_area_code: W06000015\n  ons_code: W06000015\n")
    assert _problems(register_dir) == [f"{council}:3: ons_code: unknown key (misspelt?)"]
    council.write_text("council:\n  ons_area_code: W06000015\n")
    assert load_register(register_dir).council.ons_area_code == "W06000015"
    _edit(organisation, "departments:", f"council:\n{ONS_LINE}\n\ndepartments:")
    problems = _problems(register_dir)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{organisation}:")
    assert f"section 'council' appears twice; first at {council}:1" in problems[0]


def test_two_indicators_cannot_share_an_lg_inform_metric(register_dir: Path) -> None:
    indicators = register_dir / "indicators.yaml"
    _edit(indicators, NI191_SDL, f"{NI191_SDL}\n    lg_inform_id: 46")
    first = _line_of(indicators, NI192_REFERENCES)
    problems = _problems(register_dir)
    assert len(problems) == 1, problems
    # NI191 comes first in the file, so NI192's id is the one reported.
    assert f"lg_inform_id 46 is also NI191's ({indicators}:" in problems[0]
    assert problems[0].startswith(f"{indicators}:{first}: ")
    assert "each LG Inform metric is one indicator" in problems[0]


def test_an_sdl_reference_may_be_shared_and_both_may_be_left_out(register_dir: Path) -> None:
    """A reference names a data collection: WasteDataFlow carries NI191 and NI192 alike."""
    organisation = register_dir / "organisation.yaml"
    _edit(organisation, f"council:\n{ONS_LINE}\n", "")
    register = load_register(register_dir)
    assert register.council.ons_area_code is None
    shared = [i.code for i in register.indicators if i.sdl_reference == "082-00"]
    assert shared == ["NI191", "NI192"]


# ------------------------------------------------------------------------ the load


def _stored(sessions: sessionmaker[Session]) -> dict[str, tuple[int | None, str | None]]:
    with sessions() as s:
        rows = s.execute(
            select(m.Indicator.code, m.Indicator.lg_inform_id, m.Indicator.sdl_reference).where(
                m.Indicator.lg_inform_id.is_not(None) | m.Indicator.sdl_reference.is_not(None)
            )
        ).all()
    return {code: (metric, sdl) for code, metric, sdl in rows}


def test_references_and_the_area_code_are_loaded_changed_and_removed(
    sessions: sessionmaker[Session], register_dir: Path
) -> None:
    result = load_folder(register_dir, sessions, NOW)
    assert "council" in result.changes.as_dict()["service_settings"]["added"]
    assert _stored(sessions) == {"NI191": (None, "082-00"), "NI192": (46, "082-00")}
    with sessions() as s:
        assert council_settings(s).ons_area_code == "E07999999"
    assert load_folder(register_dir, sessions, LATER).changes.empty  # idempotent

    indicators = register_dir / "indicators.yaml"
    _edit(indicators, NI192_REFERENCES, "    lg_inform_id: 4600   # % household waste")
    _edit(indicators, NI191_SDL, "NI191.1 / HH.1")
    _edit(register_dir / "organisation.yaml", ONS_LINE, "  ons_area_code: W06000015")
    changes = load_folder(register_dir, sessions, LATER).changes.as_dict()
    assert changes["indicators"] == {"updated": ["NI191", "NI192"]}
    assert changes["service_settings"] == {"updated": ["council"]}
    assert _stored(sessions) == {"NI192": (4600, "082-00")}
    with sessions() as s:
        assert council_settings(s).ons_area_code == "W06000015"

    _edit(register_dir / "organisation.yaml", "council:\n  ons_area_code: W06000015\n", "")
    changes = load_folder(register_dir, sessions, LATER).changes.as_dict()
    assert changes == {"service_settings": {"removed": ["council"]}}
    with sessions() as s:
        assert council_settings(s).ons_area_code is None
        assert s.get(m.ServiceSetting, "council") is None


# ------------------------------------------------------------------------ the migration


def _columns(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return {c["name"] for c in inspect(engine).get_columns("indicators")}
    finally:
        engine.dispose()


def test_the_migration_adds_both_columns_and_its_downgrade_keeps_the_rest(
    empty_db_url: str,
) -> None:
    migrate.upgrade(empty_db_url, "0003")
    assert not {"lg_inform_id", "sdl_reference"} & _columns(empty_db_url)
    migrate.upgrade(empty_db_url, "0004")
    assert {"lg_inform_id", "sdl_reference"} <= _columns(empty_db_url)
    migrate.downgrade(empty_db_url, "0003")
    assert not {"lg_inform_id", "sdl_reference"} & _columns(empty_db_url)
    engine = make_engine(empty_db_url)
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                query = "SELECT name FROM sqlite_master WHERE type = 'index'"
            else:
                query = "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"
            indexes = {name for (name,) in conn.execute(text(query))}
    finally:
        engine.dispose()
    # SQLite copies a table to drop a column in batch mode, and the copy would lose this
    # expression index of 0003 (which 0003's own downgrade then fails to drop).
    assert "ix_indicators_code_lower" in indexes
    migrate.downgrade(empty_db_url, "base")
