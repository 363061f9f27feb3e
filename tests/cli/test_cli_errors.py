"""Every mistake a person can make at the command line is one line and a non-zero exit.

Through the real command (``python -m mailcapture`` in a subprocess), as a person would see
it: the exact line on stderr, the exit status, and that nothing was created or stored.
"""

from __future__ import annotations

import importlib.util
import socket
from pathlib import Path

import pytest
from sqlalchemy import func, select

from mailcapture.db import models as m
from mailcapture.db.engine import make_engine
from mailcapture.settings import SettingsError, check_database_url
from tests.conftest import CORPUS
from tests.snapshots import run_cli

#: The start of an Outlook .msg: an OLE2 compound file header (magic, then minor/major
#: version, byte order, sector shifts), padded to its 512-byte header sector with NULs.
OUTLOOK_MSG = (
    bytes.fromhex("d0cf11e0a1b11ae1")
    + bytes(16)
    + bytes.fromhex("3e000300feff0900060000000000000000000000")
).ljust(512, b"\x00") + b"__substg1.0_0037001F".ljust(512, b"\x00")


def _messages_stored(cli_env: dict[str, str]) -> int:
    engine = make_engine(cli_env["MAILCAPTURE_DATABASE_URL"])
    try:
        with engine.connect() as connection:
            return int(connection.scalar(select(func.count()).select_from(m.InboundMessage)) or 0)
    finally:
        engine.dispose()


def _one_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("mailcapture: error: "), stderr
    assert "Traceback" not in stderr
    return lines[0].removeprefix("mailcapture: error: ")


@pytest.mark.parametrize(
    "url",
    ["mysql://x", "mysql+pymysql://u@h/db", "oracle://scott@h/db", "mssql+pyodbc://dsn"],
)
def test_an_unsupported_database_names_the_supported_ones(url: str, tmp_path: Path) -> None:
    result = run_cli("status", env={"MAILCAPTURE_DATABASE_URL": url}, cwd=tmp_path)
    assert result.code == 1
    reason = _one_error_line(result.stderr)
    scheme = url.split("://")[0]
    assert reason == (
        f"MAILCAPTURE_DATABASE_URL: {scheme}:// is not supported "
        "(use sqlite:///PATH or postgresql://USER@HOST/DATABASE)"
    )
    assert list(tmp_path.iterdir()) == []


def test_postgresql_without_its_driver_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The wheel without the ``postgres`` extra: psycopg is missing (simulated here)."""
    real = importlib.util.find_spec
    monkeypatch.setattr(
        "mailcapture.settings.find_spec",
        lambda name: None if name == "psycopg" else real(name),
    )
    with pytest.raises(SettingsError) as caught:
        check_database_url("postgresql+psycopg://u@h/db")
    assert str(caught.value) == (
        "MAILCAPTURE_DATABASE_URL: PostgreSQL needs the psycopg driver: "
        "pip install 'mailcapture[postgres]'"
    )
    check_database_url("sqlite:///x.db")  # SQLite needs nothing more


@pytest.mark.parametrize(
    "command", [["status"], ["load"], ["messages"], ["outbox"], ["send"], ["returns"]]
)
def test_a_command_that_reads_the_database_never_creates_one(
    command: list[str], tmp_path: Path
) -> None:
    result = run_cli(*command, env={"MAILCAPTURE_DATABASE_URL": ""}, cwd=tmp_path)
    assert result.code == 1
    assert _one_error_line(result.stderr) == (
        "no database at mailcapture.db: run `mailcapture init` first "
        "(or set MAILCAPTURE_DATABASE_URL)"
    )
    assert list(tmp_path.iterdir()) == []


def test_init_does_create_the_database(tmp_path: Path) -> None:
    """The guard above is for reading: ``init`` is the command that makes a database."""
    result = run_cli("init", env={"MAILCAPTURE_DATABASE_URL": ""}, cwd=tmp_path)
    assert result.code == 0, result.stderr
    assert (tmp_path / "mailcapture.db").is_file()


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        (
            "reply.msg",
            OUTLOOK_MSG,
            "not an email message: an Outlook .msg file (a binary format): forward the message "
            "as an attachment instead, or save it as .eml",
        ),
        ("random.bin", bytes(range(256)) * 64, "not an email message: a binary file"),
        (
            "return.pdf",
            b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n",
            "not an email message: a PDF file",
        ),
        (
            "body.txt",
            (CORPUS / "replies" / "body_spanish_gmail_escribio.txt").read_bytes(),
            "not an email message: it does not start with headers such as From: and Subject:",
        ),
        ("empty.eml", b"\n\n", "empty"),
    ],
)
def test_ingest_refuses_what_is_not_an_email_and_stores_nothing(
    cli_env: dict[str, str], tmp_path: Path, name: str, content: bytes, reason: str
) -> None:
    assert run_cli("init", env=cli_env).code == 0
    path = tmp_path / name
    path.write_bytes(content)
    result = run_cli("ingest", str(path), env=cli_env)
    assert result.code == 1
    assert _one_error_line(result.stderr) == f"{path}: {reason}; nothing was stored"
    assert result.stdout == ""
    assert _messages_stored(cli_env) == 0


def test_one_bad_file_in_a_folder_stores_none_of_them(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    assert run_cli("init", env=cli_env).code == 0
    folder = tmp_path / "inbox"
    folder.mkdir()
    for sample in sorted((CORPUS / "replies").glob("*.eml"))[:3]:
        (folder / sample.name).write_bytes(sample.read_bytes())
    (folder / "zz-saved-from-outlook.msg").write_bytes(OUTLOOK_MSG)
    result = run_cli("ingest", str(folder), env=cli_env)
    assert result.code == 1
    reason = _one_error_line(result.stderr)
    assert reason.startswith(f"{folder / 'zz-saved-from-outlook.msg'}: not an email message: ")
    assert reason.endswith("; nothing was stored")
    assert _messages_stored(cli_env) == 0


def test_health_reports_a_listener_that_does_not_answer(cli_env: dict[str, str]) -> None:
    assert run_cli("init", env=cli_env).code == 0
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = run_cli("health", env={**cli_env, "MAILCAPTURE_LISTEN": f"127.0.0.1:{port}"})
    assert result.code == 1
    reason = _one_error_line(result.stderr)
    assert reason.startswith(f"listener 127.0.0.1:{port}: not answering: ")
    assert result.stdout.startswith("database: ok (")


def test_health_before_init_names_the_database(tmp_path: Path) -> None:
    result = run_cli(
        "health", env={"MAILCAPTURE_DATABASE_URL": "", "MAILCAPTURE_LISTEN": ""}, cwd=tmp_path
    )
    assert result.code == 1
    assert _one_error_line(result.stderr).startswith("database: no database at mailcapture.db")
    assert list(tmp_path.iterdir()) == []


def test_a_bad_date_time_is_one_line(tmp_path: Path) -> None:
    result = run_cli("status", "--now", "next tuesday", env={}, cwd=tmp_path)
    assert result.code == 2
    assert "'next tuesday' is not an ISO date-time (e.g. 2026-05-01T09:00)" in _one_error_line(
        result.stderr
    )


def test_an_unknown_option_is_one_line(tmp_path: Path) -> None:
    result = run_cli("export", "values", "--format", "pdf", env={}, cwd=tmp_path)
    assert result.code == 2
    assert "'pdf' is not one of 'csv', 'json', 'xlsx'" in _one_error_line(result.stderr)
