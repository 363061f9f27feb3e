"""A real, throw-away Dovecot IMAP server on loopback for tests (no mocks).

Follows the recipe in the shared RECIPES.md: ``dovecot -F -c DIR/dovecot.conf`` in the
foreground with its own base, state and log directories, a passwd-file with
``capture@example.test`` / ``s3cret``, Maildir storage, a free port on 127.0.0.1, stopped
by its PID. Startup takes well under a second.

Use it as a context manager::

    with dovecot_server() as server:
        server.append(b"Subject: hi\\r\\n\\r\\nhello\\r\\n")
        ...

or make a pytest fixture of it in a test module::

    dovecot = dovecot_fixture()                  # the default server
    dovecot_acl = dovecot_fixture(acl="...")     # with options

The server can be stopped and started again on the same port and mail folder
(:meth:`DovecotServer.restart`), which is how reconnection is tested.

Options that make otherwise hard cases honest:

* ``acl``: lines of a Dovecot global ACL file (``vfile``), e.g.
  ``"* user=capture@example.test lrwsi"`` to deny creating folders and expunging;
* ``capabilities``: the post-login CAPABILITY list Dovecot announces (``imap_capability``),
  e.g. without ``MOVE``/``UIDPLUS``/``IDLE`` to reach a client's fallback paths;
* ``tls``: ``(certfile, keyfile)`` to enable STARTTLS on the plain port and an implicit-TLS
  port (``imaps_port``).

If the ``dovecot`` binary is missing the tests are skipped with the reason, except under
``CI=true`` where that is a failure: CI never passes by skipping. CI installs it with
``apt-get install -y dovecot-imapd`` (Debian/Ubuntu; pulls in ``dovecot-core``).
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from imapclient import IMAPClient

from tests.ports import free_port

__all__ = [
    "PASSWORD",
    "USER",
    "DovecotServer",
    "dovecot_binary",
    "dovecot_fixture",
    "dovecot_server",
    "free_port",
]

USER = "capture@example.test"
PASSWORD = "s3cret"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
START_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0


def dovecot_binary() -> str:
    """The path of ``dovecot``; skips the test (fails it under ``CI=true``) if missing."""
    found = shutil.which("dovecot") or next(
        (p for p in ("/usr/sbin/dovecot", "/usr/local/sbin/dovecot") if os.access(p, os.X_OK)),
        None,
    )
    if found is None:
        reason = "dovecot is not installed (apt-get install -y dovecot-imapd)"
        if IN_CI:
            pytest.fail(f"CI requires Dovecot: {reason}", pytrace=False)
        pytest.skip(reason)
    return found


def _identity() -> dict[str, str]:
    """Who Dovecot runs mail processes as: ``nobody`` as root, else the current user."""
    if os.geteuid() == 0:
        return {"user": "nobody", "group": grp.getgrgid(pwd.getpwnam("nobody").pw_gid).gr_name}
    entry = pwd.getpwuid(os.geteuid())
    return {"user": entry.pw_name, "group": grp.getgrgid(entry.pw_gid).gr_name}


class DovecotServer:
    """One Dovecot instance in its own temporary directory.

    ``host``, ``port``, ``user``, ``password`` and ``maildir`` (the INBOX Maildir of
    ``user``) are what a test needs; :meth:`client` gives a logged-in IMAPClient.
    """

    def __init__(
        self,
        *,
        users: Sequence[tuple[str, str]] = ((USER, PASSWORD),),
        acl: str | None = None,
        capabilities: str | None = None,
        tls: tuple[str, str] | None = None,
        port: int | None = None,
    ) -> None:
        self.binary = dovecot_binary()
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.imaps_port = free_port() if tls else 0
        self.user, self.password = users[0]
        self.users = list(users)
        self.acl = acl
        self.capabilities = capabilities
        self.tls = tls
        # pytest's tmp_path is 0700 under root's tree; the mail processes run as another
        # user, so the server gets a directory of its own that it can traverse.
        self.root = Path(tempfile.mkdtemp(prefix="mailcapture-dovecot-"))
        self.root.chmod(0o755)
        self.mail_root = self.root / "mail"
        self.config = self.root / "dovecot.conf"
        self.log = self.root / "dovecot.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._write_config()

    # ------------------------------------------------------------------ paths and urls
    def maildir_of(self, user: str) -> Path:
        return self.mail_root / user / "Maildir"

    @property
    def maildir(self) -> Path:
        return self.maildir_of(self.user)

    def url(
        self,
        folder: str = "INBOX",
        *,
        user: str | None = None,
        password: str | None = None,
        query: str = "",
        implicit_tls: bool = False,
    ) -> str:
        """An ``imap://`` URL for this server (``imaps://`` on the TLS port if asked)."""
        name = quote(user or self.user, safe="")
        secret = quote(password if password is not None else self._password_of(user), safe="")
        scheme, port = ("imaps", self.imaps_port) if implicit_tls else ("imap", self.port)
        tail = f"?{query}" if query else ""
        return f"{scheme}://{name}:{secret}@{self.host}:{port}/{quote(folder)}{tail}"

    def _password_of(self, user: str | None) -> str:
        return dict(self.users)[user or self.user]

    # ------------------------------------------------------------------------ config
    def _write_config(self) -> None:
        ident = _identity()
        for sub in ("run", "state"):
            (self.root / sub).mkdir()
        self.mail_root.mkdir()
        if os.geteuid() == 0:
            pw = pwd.getpwnam(ident["user"])
            os.chown(self.mail_root, pw.pw_uid, pw.pw_gid)
        (self.root / "users").write_text(
            "".join(f"{user}:{{PLAIN}}{password}::::::\n" for user, password in self.users),
            encoding="utf-8",
        )
        root = self.root
        lines = [
            "protocols = imap",
            "listen = 127.0.0.1",
            f"base_dir = {root}/run",
            f"state_dir = {root}/state",
            f"instance_name = mailcapture-test-{root.name}",
            f"log_path = {self.log}",
            "disable_plaintext_auth = no",
            "auth_mechanisms = plain login",
            f"mail_location = maildir:{self.mail_root}/%u/Maildir",
            f"mail_uid = {ident['user']}",
            f"mail_gid = {ident['group']}",
            "first_valid_uid = 1",
            "first_valid_gid = 0",
        ]
        if os.geteuid() != 0:
            lines += [
                f"default_internal_user = {ident['user']}",
                f"default_internal_group = {ident['group']}",
                f"default_login_user = {ident['user']}",
            ]
        if self.tls:
            cert, key = self.tls
            lines += ["ssl = yes", f"ssl_cert = <{cert}", f"ssl_key = <{key}"]
        else:
            lines.append("ssl = no")
        if self.capabilities is not None:
            lines.append(f"imap_capability = {self.capabilities}")
        if self.acl is not None:
            (root / "acl").write_text(self.acl.strip() + "\n", encoding="utf-8")
            lines += [
                "mail_plugins = acl",
                "protocol imap {",
                "  mail_plugins = $mail_plugins imap_acl",
                "}",
                "plugin {",
                f"  acl = vfile:{root}/acl",
                "}",
            ]
        lines += [
            "service imap-login {",
            "  inet_listener imap {",
            "    address = 127.0.0.1",
            f"    port = {self.port}",
            "  }",
            "  inet_listener imaps {",
            "    address = 127.0.0.1",
            f"    port = {self.imaps_port}",
            "  }",
            "  chroot =",
            "}",
            "service anvil {",
            "  chroot =",
            "}",
            "passdb {",
            "  driver = passwd-file",
            f"  args = scheme=PLAIN username_format=%u {root}/users",
            "}",
            "userdb {",
            "  driver = passwd-file",
            f"  args = username_format=%u {root}/users",
            "}",
            "namespace inbox {",
            "  inbox = yes",
            "  separator = /",
            "}",
        ]
        self.config.write_text("\n".join(lines) + "\n", encoding="utf-8")

    # --------------------------------------------------------------------- lifecycle
    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        if self.running:
            return
        output = (self.root / "stdout.log").open("ab")
        try:
            self.process = subprocess.Popen(
                [self.binary, "-F", "-c", str(self.config)],
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            output.close()
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"dovecot exited with {self.process.returncode}: {self.tail()}")
            if self._greets():
                return
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"dovecot did not answer within {START_TIMEOUT}s: {self.tail()}")
            time.sleep(0.05)

    def _greets(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=1.0) as sock:
                return sock.recv(64).startswith(b"* OK")
        except OSError:
            return False

    def stop(self) -> None:
        """SIGTERM the master by its PID (it takes its children with it); SIGKILL if stuck."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(STOP_TIMEOUT)
        # The login and imap processes are in the master's session; make sure none is left.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)

    def restart(self) -> None:
        self.stop()
        self.start()

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def tail(self, lines: int = 20) -> str:
        text = ""
        for path in (self.log, self.root / "stdout.log"):
            if path.exists():
                text += path.read_text(errors="replace")
        return " | ".join(text.strip().splitlines()[-lines:])

    # -------------------------------------------------------------- talking to it
    def client(self, user: str | None = None) -> IMAPClient:
        client = IMAPClient(self.host, port=self.port, ssl=False, timeout=10)
        client.login(user or self.user, self._password_of(user))
        return client

    @contextmanager
    def session(self, user: str | None = None) -> Iterator[IMAPClient]:
        client = self.client(user)
        try:
            yield client
        finally:
            with contextlib.suppress(Exception):
                client.logout()

    def append(self, raw: bytes, folder: str = "INBOX", flags: Sequence[str] = ()) -> int:
        """APPEND ``raw`` to ``folder``; returns its UID (from APPENDUID)."""
        with self.session() as client:
            answer = client.append(folder, raw, flags=tuple(flags))
        match = re.search(rb"APPENDUID \d+ (\d+)", answer)
        assert match, answer
        return int(match.group(1))

    def messages(self, folder: str = "INBOX") -> dict[int, bytes]:
        """UID -> exact bytes of every message in ``folder`` (without setting \\Seen)."""
        with self.session() as client:
            if not client.folder_exists(folder):
                return {}
            client.select_folder(folder, readonly=True)
            uids = client.search(["ALL"])
            if not uids:
                return {}
            fetched = client.fetch(uids, ["BODY.PEEK[]"])
            return {uid: data[b"BODY[]"] for uid, data in fetched.items()}

    def flags(self, folder: str = "INBOX") -> dict[int, tuple[bytes, ...]]:
        with self.session() as client:
            client.select_folder(folder, readonly=True)
            uids = client.search(["ALL"])
            return dict(client.get_flags(uids)) if uids else {}

    def uidvalidity(self, folder: str = "INBOX") -> int:
        with self.session() as client:
            return int(client.folder_status(folder, ["UIDVALIDITY"])[b"UIDVALIDITY"])

    def renumber(self, user: str | None = None) -> None:
        """Make the server renumber INBOX (new UIDVALIDITY, same message files).

        What happens when an index is rebuilt or a mailbox is restored: Dovecot finds no
        ``dovecot-uidlist`` and assigns every message a new UID under a new UIDVALIDITY.
        Only while the server is stopped.
        """
        assert not self.running, "stop the server first"
        maildir = self.maildir_of(user or self.user)
        for path in maildir.glob("dovecot*"):
            if path.name == "dovecot-uidlist" or path.name.startswith("dovecot.index"):
                path.unlink()


@contextmanager
def dovecot_server(**options: Any) -> Iterator[DovecotServer]:
    """A started :class:`DovecotServer`, stopped and removed afterwards."""
    server = DovecotServer(**options)
    try:
        server.start()
        yield server
    finally:
        server.cleanup()


def dovecot_fixture(**options: Any) -> Callable[[], Iterator[DovecotServer]]:
    """A pytest fixture (function scope) running :func:`dovecot_server` with ``options``."""

    @pytest.fixture
    def _dovecot() -> Iterator[DovecotServer]:
        with dovecot_server(**options) as server:
            yield server

    return _dovecot
