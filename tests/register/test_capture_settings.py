"""The register's ``capture`` section: the plausibility factor (issue 13, part 3)."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from mailcapture.register.loader import load_folder
from mailcapture.register.mail import capture_settings
from mailcapture.register.source import RegisterInvalid
from tests.conftest import CONFIG_DIR

NOW = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)
LATER = datetime(2026, 4, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def register_dir(tmp_path: Path) -> Path:
    target = tmp_path / "register"
    shutil.copytree(CONFIG_DIR, target)
    return target


def _set_capture(folder: Path, text: str) -> None:
    (folder / "capture.yaml").write_text(text)


def test_the_default_is_ten_and_is_not_stored(
    sessions: sessionmaker[Session], register_dir: Path
) -> None:
    result = load_folder(register_dir, sessions, NOW)
    assert "capture" not in result.changes.as_dict().get("service_settings", {}).get("added", [])
    with sessions() as s:
        assert capture_settings(s).plausibility_factor == Decimal(10)


def test_a_factor_is_loaded_changed_and_reset(
    sessions: sessionmaker[Session], register_dir: Path
) -> None:
    _set_capture(register_dir, "capture:\n  plausibility_factor: 25\n")
    result = load_folder(register_dir, sessions, NOW)
    assert "capture" in result.changes.as_dict()["service_settings"]["added"]
    with sessions() as s:
        assert capture_settings(s).plausibility_factor == Decimal(25)
    assert load_folder(register_dir, sessions, LATER).changes.empty  # idempotent
    (register_dir / "capture.yaml").unlink()
    result = load_folder(register_dir, sessions, LATER)
    assert result.changes.as_dict()["service_settings"] == {"updated": ["capture"]}
    with sessions() as s:
        assert capture_settings(s).plausibility_factor == Decimal(10)


@pytest.mark.parametrize("bad", ["1", "0", "-3", "ten"])
def test_a_factor_that_would_hold_everything_or_nothing_is_refused(
    sessions: sessionmaker[Session], register_dir: Path, bad: str
) -> None:
    _set_capture(register_dir, f"capture:\n  plausibility_factor: {bad}\n")
    with pytest.raises(RegisterInvalid) as caught:
        load_folder(register_dir, sessions, NOW)
    assert "capture.yaml:2" in str(caught.value)
