"""The workers' status file that ``serve`` publishes, and what ``mailcapture health`` makes of it.

``health`` runs in another process (the container's HEALTHCHECK), so the service writes its
workers' state to a file and ``health`` reads it: a worker backing off, or a file that a live
process has stopped updating, is a failed check of its own line; no file is no service.
The last tests run the real ``mailcapture health`` command against a real database.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from mailcapture.service.config import ServiceConfig, state_dir
from mailcapture.service.health import check_workers
from mailcapture.service.status import (
    STALE_AFTER_SECONDS,
    ServiceStatus,
    StatusFile,
    Unreadable,
    host_name,
    read_services,
)
from mailcapture.service.supervisor import BACKING_OFF, RUNNING, WorkerStatus
from mailcapture.settings import Settings
from tests.ports import free_port
from tests.snapshots import run_cli

NOW = datetime.now(UTC).replace(microsecond=0)


def _backing_off(name: str = "pipeline", now: datetime = NOW) -> WorkerStatus:
    return WorkerStatus(
        name,
        BACKING_OFF,
        now - timedelta(seconds=30),
        failures=5,
        last_error="OperationalError: connection refused",
        next_attempt=now + timedelta(seconds=16),
    )


def _published(folder: Path, *workers: WorkerStatus, at: datetime = NOW) -> StatusFile:
    status = StatusFile(folder, clock=lambda: at)
    for worker in workers:
        status.update(worker)
    return status


def _dead_pid() -> int:
    """The id of a process that has ended (and been reaped)."""
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(child.stdout)


def test_the_status_file_is_replaced_whole_and_read_back(tmp_path: Path) -> None:
    folder = tmp_path / "state"  # made on the first write
    status = _published(folder, WorkerStatus("send", RUNNING, NOW), _backing_off())
    try:
        assert [p.name for p in folder.iterdir()] == [f"serve-{host_name()}-{os.getpid()}.json"]
        data = json.loads(status.path.read_text())
        assert (data["pid"], data["host"]) == (os.getpid(), host_name())
        assert data["workers"]["pipeline"] == {
            "name": "pipeline",
            "state": "backing-off",
            "since": (NOW - timedelta(seconds=30)).isoformat(),
            "failures": 5,
            "last_error": "OperationalError: connection refused",
            "next_attempt": (NOW + timedelta(seconds=16)).isoformat(),
        }
        [read] = read_services(folder)
        assert isinstance(read, ServiceStatus)
        assert (read.pid, read.updated_at) == (os.getpid(), NOW)
        assert {w.name: w for w in read.workers} == {
            "send": WorkerStatus("send", RUNNING, NOW),
            "pipeline": _backing_off(),
        }
        # A second service in the same process (tests run several) gets a file of its own.
        other = StatusFile(folder)
        assert other.path != status.path
        other.remove()
    finally:
        status.remove()
    assert list(folder.iterdir()) == []


def test_health_names_each_worker_backing_off_on_a_line_of_its_own(tmp_path: Path) -> None:
    status = _published(
        tmp_path, WorkerStatus("send", RUNNING, NOW), _backing_off(), _backing_off("sweep")
    )
    try:
        checks = check_workers(tmp_path, now=NOW)
    finally:
        status.remove()
    assert [(c.name, c.ok) for c in checks] == [("worker pipeline", False), ("worker sweep", False)]
    since = (NOW - timedelta(seconds=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert checks[0].detail == (
        f"backing off since {since} (5 failure(s), next attempt in 16 s): "
        "OperationalError: connection refused"
    )


def test_health_is_content_with_every_worker_running(tmp_path: Path) -> None:
    status = _published(
        tmp_path, WorkerStatus("pipeline", RUNNING, NOW), WorkerStatus("send", RUNNING, NOW)
    )
    try:
        [check] = check_workers(tmp_path, now=NOW + timedelta(seconds=5))
    finally:
        status.remove()
    assert (check.name, check.ok) == ("workers", True)
    assert check.detail == f"pid {os.getpid()}: 2 running (pipeline, send)"


def test_a_live_process_that_stopped_writing_its_status_is_unhealthy(tmp_path: Path) -> None:
    """The workers may all say "running", but nobody has said so for two minutes."""
    stale = NOW - timedelta(seconds=STALE_AFTER_SECONDS + 60)
    status = _published(tmp_path, WorkerStatus("pipeline", RUNNING, stale), at=stale)
    try:
        [check] = check_workers(tmp_path, now=NOW)
    finally:
        status.remove()
    assert (check.name, check.ok) == (f"service pid {os.getpid()}", False)
    assert check.detail.startswith(f"status not updated for {STALE_AFTER_SECONDS + 60:.0f} s")


def test_the_file_of_a_process_that_is_gone_says_nothing_about_now(tmp_path: Path) -> None:
    """A service killed with -9 leaves its file behind; ``health`` passes over it, and the
    next service to start removes it."""
    leftover = tmp_path / f"serve-{host_name()}-{_dead_pid()}.json"
    leftover.write_text(
        json.dumps(
            {
                "pid": int(leftover.stem.rsplit("-", 1)[1]),
                "host": host_name(),
                "started_at": NOW.isoformat(),
                "updated_at": NOW.isoformat(),
                "workers": {"pipeline": _backing_off().as_dict()},
            }
        )
    )
    [check] = check_workers(tmp_path, now=NOW)
    assert (check.name, check.ok) == ("workers", True)
    assert check.detail == f"no service running here: no status file in {tmp_path}"
    status = StatusFile(tmp_path)
    try:
        assert status.remove_leftovers() == [leftover]
    finally:
        status.remove()
    assert list(tmp_path.iterdir()) == []


def test_no_folder_is_no_service_and_an_unreadable_file_is_a_failure(tmp_path: Path) -> None:
    [check] = check_workers(tmp_path / "nothing-here", now=NOW)
    assert check.ok and check.detail.startswith("no service running here")
    broken = tmp_path / f"serve-{host_name()}-1.json"
    broken.write_text('{"pid": ')
    [read] = read_services(tmp_path)
    assert isinstance(read, Unreadable) and read.path == broken
    [check] = check_workers(tmp_path, now=NOW)
    assert not check.ok and check.detail.startswith(f"{broken}: unreadable: ")


def test_the_state_folder_is_beside_the_mail_folder_unless_set() -> None:
    assert state_dir({}) == Settings.from_environment({}).mail_dir.parent == Path("mail")
    assert state_dir({"MAILCAPTURE_MAIL_DIR": "/data/mail/outbox"}) == Path("/data/mail")
    assert state_dir({"MAILCAPTURE_STATE_DIR": "/run/mc", "MAILCAPTURE_MAIL_DIR": "/x/y"}) == (
        Path("/run/mc")
    )
    config = ServiceConfig.from_environment({"MAILCAPTURE_STATE_DIR": "/run/mc"})
    assert config.state_dir == Path("/run/mc")
    assert ServiceConfig.from_environment({}).state_dir is None  # beside the mail folder


def test_the_health_command_reports_a_worker_backing_off(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    """The real command, in its own process, as the HEALTHCHECK runs it: the database is
    fine and no listener is configured, but the service's pipeline is waiting for the
    database: exit 1, and the error line names the worker and why."""
    assert run_cli("init", env=cli_env).code == 0
    folder = tmp_path / "state"
    env = {**cli_env, "MAILCAPTURE_LISTEN": "", "MAILCAPTURE_STATE_DIR": str(folder)}
    now = datetime.now(UTC)  # the command compares the file's times with its own clock
    status = StatusFile(folder)
    status.update(WorkerStatus("send", RUNNING, now))
    status.update(_backing_off(now=now))
    try:
        troubled = run_cli("health", env=env)
        status.update(WorkerStatus("pipeline", RUNNING, now))
        healthy = run_cli("health", env=env)
    finally:
        status.remove()
    assert troubled.code == 1
    assert troubled.stdout.startswith("database: ok (")
    lines = troubled.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in troubled.stderr, troubled.stderr
    assert lines[0].startswith("mailcapture: error: worker pipeline: backing off since ")
    assert lines[0].endswith("): OperationalError: connection refused")
    assert healthy.code == 0, healthy.stderr
    assert healthy.stdout.splitlines()[1:] == [
        f"workers: ok (pid {os.getpid()}: 2 running (pipeline, send))"
    ]


def test_serve_refuses_to_start_when_it_cannot_publish_its_status(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    """A service that ``health`` cannot see would pass for healthy while its workers back
    off: ``serve`` stops at once with one line instead (here the state folder is a file)."""
    assert run_cli("init", env=cli_env).code == 0
    not_a_folder = tmp_path / "state"
    not_a_folder.write_text("a file where the folder should be\n")
    port = free_port()
    result = run_cli(
        "serve",
        env={
            **cli_env,
            "MAILCAPTURE_LISTEN": f"127.0.0.1:{port}",
            "MAILCAPTURE_STATE_DIR": str(not_a_folder),
        },
    )
    assert result.code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert lines[0].startswith(
        f"mailcapture: error: cannot write the service's status in {not_a_folder} "
        "(MAILCAPTURE_STATE_DIR): "
    )
