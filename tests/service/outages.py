"""Real database outages for the service tests.

* :class:`DatabaseOutage`: the test database refuses work for a while (PostgreSQL: the
  database stops accepting connections and every backend on it is ended; SQLite: another
  connection holds the write lock, so every writer times out).
* :class:`PostgresCluster`: a throw-away PostgreSQL cluster that the test itself creates,
  starts, stops (``pg_ctl stop -m fast``, as an administrator or a crash-restart would) and
  starts again on the same port, so the service meets a server that is really gone.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from sqlalchemy import Connection, create_engine, text
from sqlalchemy.engine import make_url

from mailcapture.db.engine import make_engine
from tests.ports import free_port


class DatabaseOutage:
    """Makes the test database refuse work for a while, the way a real outage would."""

    def __init__(self, db_url: str) -> None:
        self.url = make_url(db_url)
        self.blocker: Connection | None = None

    def start(self) -> None:
        if self.url.get_backend_name() == "sqlite":
            # Another process holds the write lock: every writer times out.
            self.blocker = make_engine(self.url.render_as_string(False)).connect()
            self.blocker.exec_driver_sql("COMMIT")  # leave the BEGIN IMMEDIATE of the pool
            self.blocker.exec_driver_sql("BEGIN EXCLUSIVE")
            return
        admin = create_engine(self.url.set(database="test"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{self.url.database}" ALLOW_CONNECTIONS false'))
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :db AND pid <> pg_backend_pid()"
                ),
                {"db": self.url.database},
            )
        admin.dispose()

    def end(self) -> None:
        if self.blocker is not None:
            self.blocker.exec_driver_sql("ROLLBACK")
            self.blocker.close()
            self.blocker = None
            return
        admin = create_engine(self.url.set(database="test"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{self.url.database}" ALLOW_CONNECTIONS true'))
        admin.dispose()


class ClusterUnavailable(Exception):
    """No PostgreSQL server binaries here, or the cluster would not start (with why)."""


def postgres_bindir() -> Path:
    """The folder with ``initdb`` and ``pg_ctl``: ``pg_config --bindir``, else Debian's."""
    candidates: list[Path] = []
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        out = subprocess.run(
            ["pg_config", "--bindir"], capture_output=True, text=True, check=True, timeout=10
        )
        candidates.append(Path(out.stdout.strip()))
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    candidates.extend(versions)
    for folder in candidates:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    raise ClusterUnavailable(
        "no PostgreSQL server binaries (initdb, pg_ctl) in pg_config --bindir "
        "or /usr/lib/postgresql/*/bin"
    )


class PostgresCluster:
    """A PostgreSQL cluster in a temporary folder, on a loopback port of this test worker.

    ``initdb`` refuses to run as root, so as root the cluster belongs to the ``postgres``
    user and every server command runs as that user (``runuser``). The data folder and the
    socket live in a folder of their own under the system's temporary directory (pytest's
    own is private to root). Trust authentication, loopback only; fsync off, as for a
    test database whose contents need not survive a power cut.
    """

    def __init__(self) -> None:
        self.bindir = postgres_bindir()
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="mc-pg-"))
        self.data = self.folder / "data"
        self.log = self.folder / "server.log"
        self.owner: str | None = None
        self.running = False
        if os.geteuid() == 0:
            try:
                user = pwd.getpwnam("postgres")
            except KeyError:
                self.destroy()
                raise ClusterUnavailable(
                    "running as root and no postgres user to run initdb as"
                ) from None
            os.chown(self.folder, user.pw_uid, user.pw_gid)
            self.owner = "postgres"
        self._run("initdb", "-D", str(self.data), "--auth=trust", "-U", "postgres", "-E", "UTF8")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c full_page_writes=off -c max_connections=60"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")
        self.running = True

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")
        self.running = False

    def create_database(self, name: str) -> str:
        admin = create_engine(self.url(), isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        finally:
            admin.dispose()
        return self.url(name)

    def destroy(self) -> None:
        if self.running:
            with contextlib.suppress(ClusterUnavailable):
                self.stop("immediate")
        shutil.rmtree(self.folder, ignore_errors=True)

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bindir / program), *args]
        if self.owner is not None:
            command = ["runuser", "-u", self.owner, "--", *command]
        try:
            subprocess.run(command, capture_output=True, text=True, check=True, timeout=60)
        except (OSError, subprocess.SubprocessError) as exc:
            detail = getattr(exc, "stderr", None) or getattr(exc, "stdout", None) or exc
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise ClusterUnavailable(f"{program} failed: {str(detail).strip()}\n{log}") from exc
