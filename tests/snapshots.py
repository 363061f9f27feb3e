"""Helpers to compare whole databases and run the real command line."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from mailcapture.db.models import Base

COMMAND = [sys.executable, "-m", "mailcapture"]


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in primary-key order: equal snapshots, equal databases."""
    result: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            query = select(table).order_by(*table.primary_key.columns)
            result[table.name] = [tuple(row) for row in conn.execute(query)]
    return result


@dataclass(frozen=True)
class Completed:
    code: int
    stdout: str
    stderr: str


def run_cli(
    *args: str, env: dict[str, str], cwd: Path | None = None, stdin: bytes | None = None
) -> Completed:
    full_env = {**os.environ, **env, "COLUMNS": "200"}
    proc = subprocess.run(
        [*COMMAND, *args],
        env=full_env,
        cwd=cwd,
        capture_output=True,
        input=stdin if stdin is not None else b"",
        timeout=120,
        check=False,
    )
    return Completed(
        proc.returncode,
        proc.stdout.decode("utf-8", "replace"),
        proc.stderr.decode("utf-8", "replace"),
    )
