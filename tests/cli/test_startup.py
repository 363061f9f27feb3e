"""The command answers at once: what it imports, its help, its version, its progress bars.

``import mailcapture.cli.main`` happens on every invocation, ``--help`` included; the heavy
libraries must load only inside the commands that use them. Checked by importing in a fresh
interpreter and looking at ``sys.modules`` (timings are for ``benchmarks/startup.py``).
"""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from tests.conftest import CORPUS
from tests.snapshots import run_cli

#: Libraries that take tens or hundreds of milliseconds to import, and the commands that
#: may load them.
HEAVY = (
    "matplotlib",
    "weasyprint",
    "aiosmtpd",
    "imapclient",
    "alembic",
    "openpyxl",
    "inscriptis",
    "apscheduler",
    "PIL",
    "numpy",
    "flufl.bounce",
    "charset_normalizer",
    "authres",
    "ruamel.yaml",
    "email_validator",
    "jinja2",
)


def _modules_after(code: str, env: dict[str, str] | None = None) -> set[str]:
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    proc = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        env={**os.environ, **(env or {})},
        check=True,
        timeout=120,
    )
    return set(json.loads(proc.stdout.decode().strip().splitlines()[-1]))


def test_importing_the_cli_loads_no_heavy_library() -> None:
    loaded = _modules_after("import mailcapture.cli.main")
    assert [name for name in HEAVY if name in loaded] == []
    # Not even the database layer or the terminal library: --help needs neither.
    assert "sqlalchemy" not in loaded
    assert "rich" not in loaded


def test_help_loads_no_heavy_library() -> None:
    code = (
        "import sys\nfrom mailcapture.cli.main import run\nsys.argv = ['mailcapture', '--help']\n"
        "try:\n    run()\nexcept SystemExit:\n    pass"
    )
    loaded = _modules_after(code)
    assert [name for name in HEAVY if name in loaded] == []
    assert "sqlalchemy" not in loaded


def test_status_loads_only_the_database_layer(db_url: str) -> None:
    """``status`` reads the database, so SQLAlchemy loads, but no chart, PDF or mail library."""
    run_cli("init", env={"MAILCAPTURE_DATABASE_URL": db_url})
    code = (
        "import sys\nfrom mailcapture.cli.main import run\nsys.argv = ['mailcapture', 'status']\n"
        "try:\n    run()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code"
    )
    loaded = _modules_after(code, {"MAILCAPTURE_DATABASE_URL": db_url})
    assert "sqlalchemy" in loaded  # guards the test: status did run
    assert [name for name in HEAVY if name in loaded] == []


def test_help_shows_what_each_option_takes(tmp_path: Path) -> None:
    tick = run_cli("tick", "--help", env={}, cwd=tmp_path)
    assert tick.code == 0
    assert "--now DATETIME" in tick.stdout
    assert "--send / --no-send" in tick.stdout
    assert "<bool>" not in tick.stdout and "<str>" not in tick.stdout
    export = run_cli("export", "values", "--help", env={}, cwd=tmp_path)
    assert "--period PERIOD" in export.stdout
    assert "--format [csv|json|xlsx]" in export.stdout
    assert "--out FILE" in export.stdout
    top = run_cli("--help", env={}, cwd=tmp_path)
    assert "--version" in top.stdout and "<bool>" not in top.stdout
    for command in ("init", "load", "status", "tick", "ingest", "publish", "serve", "health"):
        assert f"\n  {command} " in top.stdout, command


def test_version(tmp_path: Path) -> None:
    result = run_cli("--version", env={}, cwd=tmp_path)
    assert result.code == 0
    assert result.stdout == f"mailcapture {version('mailcapture')}\n"
    assert list(tmp_path.iterdir()) == []


def _run_in_terminal(args: list[str], env: dict[str, str]) -> str:
    """Run the command with a pseudo-terminal as its output, as a person at a terminal would."""
    controller, terminal = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "mailcapture", *args],
        stdin=subprocess.DEVNULL,
        stdout=terminal,
        stderr=terminal,
        env={**os.environ, **env, "TERM": "xterm", "COLUMNS": "120"},
    )
    os.close(terminal)
    chunks: list[bytes] = []
    while True:
        ready, _, _ = select.select([controller], [], [], 60)
        if not ready:
            proc.kill()
            break
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # the terminal closed: the command has finished
            break
        if not chunk:
            break
        chunks.append(chunk)
    proc.wait(timeout=60)
    os.close(controller)
    assert proc.returncode == 0, b"".join(chunks).decode("utf-8", "replace")
    return b"".join(chunks).decode("utf-8", "replace")


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_ingest_of_a_folder_shows_a_progress_bar_at_a_terminal(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    assert run_cli("init", env=cli_env).code == 0
    folder = tmp_path / "inbox"
    folder.mkdir()
    samples = sorted((CORPUS / "auto").glob("*.eml"))[:4]
    for sample in samples:
        (folder / sample.name).write_bytes(sample.read_bytes())
    shown = _run_in_terminal(["ingest", str(folder)], cli_env)
    assert "capturing" in shown
    assert "4/4" in shown or "0/4" in shown
    # The same command into a pipe: the per-message lines only, no bar.
    piped = run_cli("ingest", str(folder), env=cli_env)
    assert piped.code == 0, piped.stderr
    assert "capturing" not in piped.stdout
    assert len(piped.stdout.strip().splitlines()) == len(samples)
